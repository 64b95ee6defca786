"""The API's one exception handler: DRF's, plus what the layers below the views raise,
answered the same wherever it comes from. Bad input refused below the views (a purpose
outside the vocabulary, a search text no search takes) and a service's refusal (Django's
ValidationError) are 400 naming the field; a service's PermissionDenied is DRF's 403,
Http404 its 404, and an agency's fill of queued analyses (TooManyAnalyses) a 429. A request
Django refuses to read (a body past DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields or files) is
a 400 naming the limit, as DRF's own parse errors (a malformed body) are: uncaught, Django
answered it with its HTML page. Views call services directly and translate nothing
themselves."""

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ParseError, PermissionDenied, Throttled, ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from graph.jobs import TooManyAnalyses
from intel.selectors import BadInput, InvalidPurpose


def exception_handler(exc, context):
    if isinstance(exc, InvalidPurpose):
        exc = ValidationError({exc.field: [str(exc)], "allowed_purposes": exc.allowed})
    elif isinstance(exc, BadInput):
        exc = ValidationError({exc.field: [str(exc)]})
    elif isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
    elif isinstance(exc, DjangoPermissionDenied) and str(exc):
        # DRF's own translation drops the service's reason.
        exc = PermissionDenied(str(exc))
    elif isinstance(exc, TooManyAnalyses):
        exc = Throttled(detail=str(exc))
    elif isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        exc = ParseError(unread_request(exc))
    return drf_exception_handler(exc, context)


def unread_request(exc: RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent) -> str:
    """Why Django would not read the request, with the setting that sets the limit."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return f"Request body too large - more than {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)"
    if isinstance(exc, TooManyFieldsSent):
        # Django counts the query string's parameters so too.
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return f"Too many parameters - more than {limit} fields (DATA_UPLOAD_MAX_NUMBER_FIELDS)"
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
    return f"Too many files - more than {limit} (DATA_UPLOAD_MAX_NUMBER_FILES)"
