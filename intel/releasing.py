"""The seam through which an import releases the records it writes, and never decides a
release itself.

A row may say to whom its record is released (`releasability`, and for `named` the
agreements, by reference). `intel` knows no agreement: the release service named by
`settings.RELEASE_SERVICE` (sharing's, `sharing.releases.ImportReleases`, the same code the
API's bulk release runs) says who may release, which references name agreements the agency
may release under, and writes the releases, audited, in the import's transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class ReleaseService(Protocol):
    def refusal(self, *, user: Any, agency_id: int) -> str | None:
        """Why `user` may not release the agency's records, or None when they may."""

    def agreement_ids(self, *, agency_id: int, references: Collection[str]) -> dict[str, int]:
        """Of `references`, those naming agreements the agency may release its records under
        now, with their ids. Any other reference is absent, whether or not it exists."""

    def release(
        self, *, user: Any, agency_id: int, record_ids: list[int], mode: str, agreement_ids: list[int]
    ) -> None:
        """Releases the agency's records (to no one, to every covering agreement, or to the
        agreements named), checking as for any bulk release, audited, in the caller's transaction."""


@cache
def release_service() -> ReleaseService:
    return import_string(settings.RELEASE_SERVICE)()
