"""Bounds of the numbers users send, shared by the API and the pages. A number past them is
refused or clipped before any query, never passed on to the database (PostgreSQL refuses
integers past 64 bits with an error, which would be a 500)."""

from django.conf import settings


def page_number(raw: str | None) -> int:
    """The page asked for, clipped to 1..PAGINATION_MAX_PAGE: past the last page is an empty
    answer either way, and a huge number must not reach the SQL that counts rows."""
    try:
        asked = int(raw) if raw not in (None, "") else 1
    except (TypeError, ValueError):
        return 1
    return min(max(asked, 1), settings.PAGINATION_MAX_PAGE)
