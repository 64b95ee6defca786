"""The keys a request's body may carry, and a refusal of any other, naming it: a misspelt key
was dropped and the request done without it (`{"filter": {...}}` on a bulk release released
every record the agency owns; `{"dryrun": true}` released for real)."""

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ValidationError

# Sent by a browser's form along with its fields; never a field itself.
FORM_KEYS = ("csrfmiddlewaretoken",)


class RefusesUnknownKeys:
    """First among the bases of a serializer that reads a request's body (and of any nested
    in one): a key that names none of its writable fields is a 400 naming it (a read-only
    one too: `"status": "active"` on a new agreement was dropped as silently)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable - set(FORM_KEYS))
            if unknown:
                raise ValidationError({name: ["not a field of this request"] for name in unknown})
        return super().to_internal_value(data)


def refuse_any_body(data: Any) -> None:
    """For a write that reads no body (a sign-out, a rescoring): each key sent is a 400
    naming it, as a serializer's unknown key is; it was taken and ignored."""
    if isinstance(data, Mapping):
        sent = sorted(set(data) - set(FORM_KEYS))
        if sent:
            raise ValidationError({name: ["not a field of this request"] for name in sent})
    elif data:
        raise ValidationError({"detail": ["this request takes no body"]})
