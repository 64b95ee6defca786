"""The owner staff's rights on their records: guardian permissions given to the owner
agency's group on each record, so a later change of owner rights is a data change."""

from collections.abc import Iterable

from django.contrib.auth.models import Permission

from intel.bulk import insert_rows
from intel.models import Record, RecordGroupObjectPermission

OWNER_RIGHTS = ("change_record", "delete_record")


def owner_right_ids() -> list[int]:
    return list(
        Permission.objects.filter(content_type__app_label="intel", codename__in=OWNER_RIGHTS).values_list(
            "id", flat=True
        )
    )


def grant_owner_rights(records: Iterable[Record], right_ids: list[int] | None = None) -> None:
    """Gives each record's owner group the change and delete rights on it."""
    grant_rights(((record.pk, record.owner.group_id) for record in records), right_ids)


def grant_rights(held: Iterable[tuple[int, int]], right_ids: list[int] | None = None) -> None:
    """The owner rights for (record id, owner's group id) pairs: records known by their ids
    (an import's) need no instance each."""
    right_ids = right_ids if right_ids is not None else owner_right_ids()
    insert_rows(
        RecordGroupObjectPermission,
        ["content_object_id", "group_id", "permission_id"],
        ((record_id, group_id, right) for record_id, group_id in held for right in right_ids),
    )
