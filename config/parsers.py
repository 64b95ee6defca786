"""The API's JSON parser: DRF's, after a check of the body's nesting depth. Python's json
module recurses once per level, so a body of a few thousand brackets ends in RecursionError
(a 500, before any view runs, on every endpoint, the unauthenticated token one included);
the check scans the bytes without recursing and refuses past API_MAX_JSON_DEPTH with a 400."""

import io

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.inputs import json_problem
from intel.import_reading import nested_deeper_than


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read() if stream is not None else b""
        limit = settings.API_MAX_JSON_DEPTH
        if nested_deeper_than(body, limit):
            raise ParseError(
                f"JSON parse error - values are nested deeper than {limit} levels (API_MAX_JSON_DEPTH)"
            )
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except ParseError as refused:
            # DRF words the ValueError it caught (its context) with the interpreter's message.
            cause = refused.__context__
            if isinstance(cause, ValueError):
                raise ParseError(f"JSON parse error - {json_problem(cause)}") from None
            raise
