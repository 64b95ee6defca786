"""The one base of every API viewset. Its queryset is what a selector gives the viewer
(NetBox applies its restricted queryset the same way, in one base viewset): a viewset names
its selector (`selector`, or one per action in `selector_by_action`) and may only `narrow`
what that selector gave, so no action reaches a row another way, and the API, the pages
and the services read through the same functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from rest_framework import viewsets


class RestrictedViewSet(viewsets.GenericViewSet):
    selector: Callable[[Any], QuerySet]
    selector_by_action: dict[str, Callable[[Any], QuerySet]] = {}

    def viewer(self) -> Any:
        """What the selectors are given: who asks (an app's base may add for what)."""
        return self.request.user

    def get_queryset(self) -> QuerySet:
        select = self.selector_by_action.get(self.action) or type(self).selector
        return self.narrow(select(self.viewer()))

    def narrow(self, queryset: QuerySet) -> QuerySet:
        """Orders, joins or filters what the selector gave; never widens it."""
        return queryset
