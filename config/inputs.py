"""Bounds of the numbers users send, shared by the API and the pages: ids in URLs and
filters, page numbers. A number past them is refused as bad input (404 for an id in a
path, 400 for a parameter) before any query, never passed on to the database (PostgreSQL
refuses integers past 64 bits with an error, which would be a 500)."""

from django.conf import settings

# Ids are PostgreSQL bigints; 18 digits always fit, and no row has come near that.
ID_DIGITS = 18
ID_PATTERN = rf"[0-9]{{1,{ID_DIGITS}}}"
ID_MAX = 10**ID_DIGITS - 1


class IdConverter:
    """`<id:pk>` in page URLs: a whole number that fits an id, else the URL does not match (404)."""

    regex = ID_PATTERN

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


def page_number(raw: str | None) -> int:
    """The page asked for, clipped to 1..PAGINATION_MAX_PAGE: past the last page is an empty
    answer either way, and a huge number must not reach the SQL that counts rows."""
    try:
        asked = int(raw) if raw not in (None, "") else 1
    except (TypeError, ValueError):
        return 1
    return min(max(asked, 1), settings.PAGINATION_MAX_PAGE)
