"""The seam through which `intel` asks who may see what, and never answers it itself.

`intel` holds records, the entities they mention and the links they assert; it knows no
agreement, release or grant. Every read goes through `visible_to(user, purpose)` on the
record, mention, link and entity querysets (`intel/querysets.py`), which ask the access
policy named by `settings.ACCESS_POLICY` (the way Django's auth asks its backends): the
policy says which rows an agency may see for a purpose, how each record is held (for the
redaction and the audit), which agencies may see given rows (for the graph), and why a
record is refused for a purpose. Sharing's agreement rule (`sharing/access.py`) is the
platform's policy; a test may name another.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from django.conf import settings
from django.db import models
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class AnyPurpose:
    """The internal "may see, for some purpose" that the graph sync and the admin ask.
    An object rather than a string, so that no value parsed from a request can equal it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ANY_PURPOSE"


ANY_PURPOSE = AnyPurpose()
PurposeAsked = str | AnyPurpose | None


class StatedRow(NamedTuple):
    """A row as the policy judges it: its id, its record's id, and the types of the entities
    it names (a record names none of its own)."""

    pk: int
    record_id: int
    entity_types: tuple[str, ...]


def viewer_agency_id(user: AbstractBaseUser | AnonymousUser) -> int | None:
    return getattr(user, "agency_id", None) if user.is_authenticated else None


def sees_everything(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Platform admins (superusers) operate the platform and see every record."""
    return bool(user.is_authenticated and user.is_superuser)


class Access(Protocol):
    """What one agency may see for one purpose, as the policy worked it out once per read."""

    def allowed_purposes(self) -> list[str]:
        """The purposes for which the agency reads anything shared with it."""

    def redacted_for(self, record: models.Model) -> list[str]:
        """The fields and entity types hidden from the agency in a record annotated by
        `AccessPolicy.annotate_holding`."""

    def shared_under(self, record: models.Model) -> dict | None:
        """How the agency holds a record of another agency (annotated as above), as shown to
        it: None for its own."""


class AccessPolicy(Protocol):
    def access(self, *, agency_id: int, purpose: PurposeAsked) -> Access:
        """The agency's access for the purpose stated (None: no purpose was stated)."""

    def no_access(self) -> Access:
        """The access of someone in no agency."""

    def condition(
        self, *, agency_id: int, access: Access, record_field: str, entity_fields: tuple[str, ...]
    ) -> models.Q:
        """Rows (records, or rows naming their record by `record_field` and entities by
        `entity_fields`) the agency may see."""

    def annotate_holding(self, records: models.QuerySet, *, agency_id: int | None, access: Access) -> Any:
        """The records, each annotated with how the agency holds it (for the redaction, the
        purpose check and the audit log): at least `via_owner` and `via_agreement`."""

    def viewer_agencies(self, rows: Iterable[StatedRow], *, context: Any) -> dict[int, set[int]]:
        """For each row, the agencies that may see it now, for some purpose."""

    def viewers_context(self) -> Any:
        """What `viewer_agencies` calls over the same moment may share (their answers about
        every agency)."""

    def purposes_for(self, *, agency_id: int, records: models.QuerySet) -> list[str]:
        """The purposes for which the agency may read these records (visible to it)."""

    def use_refused(self, *, agency_id: int, record: models.Model, purpose: str | None) -> str | None:
        """Why the agency may not use a record it reads for `purpose` (a handling code of the
        owner's, not lifted for it), or None."""


@cache
def access_policy() -> AccessPolicy:
    return import_string(settings.ACCESS_POLICY)()
