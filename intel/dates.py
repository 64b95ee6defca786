"""The dates a record may carry: one check for the import, the API and every other writer.

A year typed wrong (0026 for 2026, 2062 for 2026) parses as a date and would sort the record
first or last in every list, export and analysis window; the bounds refuse it instead.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from core.inputs import quoted

# Nothing an agency holds is older; earlier years are typing slips.
EARLIEST = date(1900, 1, 1)
# A declaration may be lodged before its goods arrive (the Union Customs Code allows 30 days),
# so a record's date may lie a little ahead of today, not years.
RECORD_DATE_LEAD = timedelta(days=31)


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(text: str) -> date:
    """A date written YYYY-MM-DD, the one form the import format takes; ValueError for any
    other (Python also reads 20260105, and an integer such as 19800314 arrived as that)."""
    if not ISO_DAY.fullmatch(text):
        raise ValueError(f"not YYYY-MM-DD: {text!r}")
    return date.fromisoformat(text)


def occurred_on_problem(day: date, *, today: date | None = None) -> str | None:
    """Why `day` cannot be a record's date, or None when it can."""
    latest = (today or date.today()) + RECORD_DATE_LEAD
    if day < EARLIEST:
        return f"{quoted(day.isoformat())} is before {EARLIEST.isoformat()}"
    if day > latest:
        return f"{quoted(day.isoformat())} is more than {RECORD_DATE_LEAD.days} days ahead of today"
    return None


def birth_date_problem(day: date, *, today: date | None = None) -> str | None:
    """Why `day` cannot be a person's date of birth, or None when it can."""
    if day < EARLIEST:
        return f"date of birth {quoted(day.isoformat())} is before {EARLIEST.isoformat()}"
    if day > (today or date.today()):
        return f"date of birth {quoted(day.isoformat())} is in the future"
    return None
