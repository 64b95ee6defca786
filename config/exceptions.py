"""The API's exception handler: DRF's, plus bad input refused below the views (a purpose
outside the vocabulary, a search text no search takes) answered as 400 naming the field,
never as a 500."""

from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from intel.selectors import BadInput, InvalidPurpose


def exception_handler(exc, context):
    if isinstance(exc, InvalidPurpose):
        exc = ValidationError({exc.field: [str(exc)], "allowed_purposes": exc.allowed})
    elif isinstance(exc, BadInput):
        exc = ValidationError({exc.field: [str(exc)]})
    return drf_exception_handler(exc, context)
