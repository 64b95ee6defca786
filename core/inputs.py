"""Bounds of the numbers and text users send, shared by the API and the pages. What is past
them is refused or clipped before any query, never passed on to the database (PostgreSQL
refuses integers past 64 bits, and text holding a NUL, with an error, which would be a 500)."""

import sys

from django.conf import settings
from django.core.exceptions import ValidationError


def page_number(raw: str | None) -> int:
    """The page asked for, clipped to 1..PAGINATION_MAX_PAGE: past the last page is an empty
    answer either way, and a huge number must not reach the SQL that counts rows."""
    try:
        asked = int(raw) if raw not in (None, "") else 1
    except (TypeError, ValueError):
        return 1
    return min(max(asked, 1), settings.PAGINATION_MAX_PAGE)


def storable_text(field: str, value: object, *, limit: int, when_empty: str | None = "is required") -> str:
    """Text a user typed, stripped, or a ValidationError naming `field`: not text, empty (with
    `when_empty` as the message; None allows it), over `limit` characters, or holding what
    PostgreSQL cannot store (a NUL; a lone UTF-16 surrogate, which a JSON body can escape),
    which would otherwise fail the write with a 500."""
    if not isinstance(value, str):
        raise ValidationError({field: "text is required"})
    value = value.strip()
    if not value and when_empty is not None:
        raise ValidationError({field: when_empty})
    if len(value) > limit:
        raise ValidationError({field: f"at most {limit} characters"})
    if "\x00" in value:
        raise ValidationError({field: "may not hold a NUL character"})
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError({field: "holds a character that is not text (a lone surrogate)"}) from None
    return value


# How much of a value a message quotes: enough to find it in the file.
QUOTED_CHARACTERS = 60


def quoted(value: object) -> str:
    """A value as a message quotes it: its repr, of its first QUOTED_CHARACTERS characters,
    saying how long it was when cut. An import reports up to a thousand problems, each kept
    with the batch and listed with it: quoting whole fields of 32 KB (four times as long in a
    repr of control characters) made one failed file hold over a hundred megabytes."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= QUOTED_CHARACTERS:
        return repr(text) if isinstance(value, str) else repr(value)
    return f"{text[:QUOTED_CHARACTERS]!r}... ({len(text)} characters)"


def json_problem(error: ValueError) -> str:
    """What is wrong with a JSON text that json.loads refused, in the sender's words: an
    integer too long for Python to convert is named as such, not with the interpreter's
    advice to raise its limit."""
    if "integer string conversion" in str(error):
        return f"a number has more than {sys.get_int_max_str_digits()} digits"
    return str(error)
