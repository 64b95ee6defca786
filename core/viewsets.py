"""The one base of every API viewset. Its queryset is what a selector gives the viewer
(NetBox applies its restricted queryset the same way, in one base viewset): a viewset names
its selector (`selector`, or one per action in `selector_by_action`) and may only `narrow`
what that selector gave, so no action reaches a row another way, and the API, the pages
and the services read through the same functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from rest_framework import routers, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings

from core.query_parameters import refuse_forged_purpose, refuse_unknown

# For a request whose body is JSON alone (the project's bounded parser, not forms).
JSON_ONLY = [parser for parser in api_settings.DEFAULT_PARSER_CLASSES if issubclass(parser, JSONParser)]


class RestrictedViewSet(viewsets.GenericViewSet):
    selector: Callable[[Any], QuerySet]
    selector_by_action: dict[str, Callable[[Any], QuerySet]] = {}
    # What a viewset reads of the query string besides its filters and a list's pagination.
    query_parameters: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        # A write reads its body, never the query: filters there would narrow nothing.
        reading = request.method in ("GET", "HEAD")
        refuse_unknown(request.query_params, self.known_query_parameters() if reading else ())
        refuse_forged_purpose(request)

    def known_query_parameters(self) -> set[str]:
        """The filters (`filterset_class`, `filterset_fields`), a list's pagination, and
        `query_parameters`."""
        known = set(self.query_parameters) | set(getattr(self, "filterset_fields", None) or ())
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None:
            known |= set(filterset_class.base_filters)
        if self.action == "list" and self.paginator is not None:
            paginator = self.paginator
            known |= {
                name
                for name in (
                    paginator.page_query_param,
                    getattr(paginator, "page_size_query_param", None),
                    getattr(paginator, "after_query_param", None),
                )
                if name
            }
        return known

    def viewer(self) -> Any:
        """What the selectors are given: who asks (an app's base may add for what)."""
        return self.request.user

    def get_queryset(self) -> QuerySet:
        select = self.selector_by_action.get(self.action) or type(self).selector
        return self.narrow(select(self.viewer()))

    def narrow(self, queryset: QuerySet) -> QuerySet:
        """Orders, joins or filters what the selector gave; never widens it."""
        return queryset


class RootView(routers.APIRootView):
    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        refuse_unknown(request.query_params, ())
        refuse_forged_purpose(request)


class Router(routers.DefaultRouter):
    """An app's router: its root view, listing the app's endpoints, refuses query
    parameters as every other view of the API does; and no address takes a format suffix
    (`records/export.json`): the API answers JSON (the export CSV) whatever is asked, and
    the custom actions, which take no `format`, answered such an address with a 500."""

    APIRootView = RootView
    include_format_suffixes = False
