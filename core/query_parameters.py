"""The query parameters an API request may carry, and a refusal of any other, naming it: a
misspelt filter (`categroy=seizure`) was ignored, and the list or the export answered as if
unfiltered, every record the reader may see."""

import functools
from collections.abc import Callable, Iterable

from django.http import QueryDict
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings

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


def reads_no_query(view: Callable) -> Callable:
    """For a function view of the API (below its `api_view`) that reads nothing of the query
    string: any parameter but those read on every request is refused. A release posted with
    `?category=seizure` would otherwise have released every record the body's filters
    named, and none narrowed it."""

    @functools.wraps(view)
    def refusing(request, *args, **kwargs):
        refuse_unknown(request.query_params, ())
        return view(request, *args, **kwargs)

    return refusing
