"""The query parameters an API request may carry, and a refusal of any other, naming it: a
misspelt filter (`categroy=seizure`) was ignored, and the list or the export answered as if
unfiltered, every record the reader may see."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from django.http import QueryDict
from rest_framework.exceptions import ValidationError
from rest_framework.metadata import SimpleMetadata
from rest_framework.settings import api_settings

if TYPE_CHECKING:
    # DRF's views import this module, through its settings, as they load.
    from rest_framework.request import Request
    from rest_framework.views import APIView

# Read on every request: the purpose stated (intel.selectors.Reader.from_request) and DRF's
# choice of format.
EVERY_REQUEST = ("purpose", api_settings.URL_FORMAT_OVERRIDE)


def refuse_unknown(query: QueryDict, known: Iterable[str], *, repeatable: Iterable[str] = ()) -> None:
    """Raises a 400 naming each parameter of `query` that is neither `known` nor read on
    every request, and each given more than once that is not `repeatable`: a filter reads
    its last value, and `category=seizure&category=` listed everything."""
    unknown = sorted(set(query) - set(known) - set(EVERY_REQUEST))
    if unknown:
        raise ValidationError({name: ["not a parameter of this request"] for name in unknown})
    repeatable = set(repeatable)
    repeated = sorted(name for name, values in query.lists() if len(values) > 1 and name not in repeatable)
    if repeated:
        raise ValidationError({name: ["given more than once"] for name in repeated})


# The check of the purposes a request states (the query string's, the header's), set by the
# app that keeps their vocabulary (`check_purposes_with`): core knows none of it.
_purpose_check: Callable[[Request], object] | None = None


def check_purposes_with(check: Callable[[Request], object]) -> None:
    """Sets the check `refuse_forged_purpose` asks: it raises for a purpose not of the
    vocabulary (intel's `Reader.from_request`, from its AppConfig.ready)."""
    global _purpose_check
    _purpose_check = check


def refuse_forged_purpose(request: Request) -> None:
    """A purpose stated that is none refused, wherever the request goes: a view that reads
    none (discovery, targeting's status, OPTIONS) answered 200 to `?purpose=bogus`, where a
    reading view answers 400."""
    if _purpose_check is not None:
        _purpose_check(request)


def reads_no_query(view: Callable) -> Callable:
    """For a function view of the API (below its `api_view`) that reads nothing of the query
    string: any parameter but those read on every request is refused. A release posted with
    `?category=seizure` would otherwise have released every record the body's filters
    named, and none narrowed it. OPTIONS never calls the function: `RefusingMetadata`
    refuses there."""

    @functools.wraps(view)
    def refusing(request, *args, **kwargs):
        refuse_unknown(request.query_params, ())
        refuse_forged_purpose(request)
        return view(request, *args, **kwargs)

    return refusing


class RefusingMetadata(SimpleMetadata):
    """The answer to OPTIONS (settings' DEFAULT_METADATA_CLASS), which reads nothing of the
    query string either. DRF answers OPTIONS from the view class without its handlers, so a
    refusal in a function view's body or a graph view's `get` never ran, and such a view
    answered 200 to a parameter the viewsets, refusing in `initial`, answered 400."""

    def determine_metadata(self, request: Request, view: APIView) -> dict:
        refuse_unknown(request.query_params, ())
        refuse_forged_purpose(request)
        return super().determine_metadata(request, view)
