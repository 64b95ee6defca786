"""Admin for records and entities: read-only. Records, mentions, links and entities are for
platform admins (superusers) only, and every record whose content a page shows is audited
as a read, as the API's reads are; agency staff use the pages and the API, which apply
redaction. Imports, merges and candidate decisions are written by their services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.http import HttpRequest, HttpResponse

from audit.admin import ReadOnlyAdmin
from audit.log import record_event
from intel.models import Entity, EntityMerge, ImportBatch, Link, Mention, Record, ResolutionCandidate
from intel.selectors import Reader, audit_reads


class PlatformOnlyAdmin(ReadOnlyAdmin):
    """Shown to platform admins only: what agency staff may see of these is redacted, and
    the pages and the API are where that happens."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)


class ReadAuditedAdmin(PlatformOnlyAdmin):
    """Pages that show record content: each record shown (a list page's rows, a detail page)
    is logged as a `record.read` by the platform admin, via the admin."""

    def owners(self, objs: list[Any]) -> dict[int, int]:
        """Record id -> owner id of the records whose content these rows show."""
        return {obj.record_id: obj.record.owner_id for obj in objs}

    def audit(self, request: HttpRequest, objs: list[Any]) -> None:
        audit_reads(Reader(request.user, None), self.owners(objs), via="admin")

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:
            self.audit(request, list(changelist.result_list))
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        obj = self.get_object(request, unquote(object_id))
        if response.status_code == 200 and obj is not None:
            self.audit(request, [obj])
        return response


class MentionInline(admin.TabularInline):
    model = Mention
    extra = 0
    fields = ("entity", "role", "properties")
    raw_id_fields = ("entity",)


class LinkInline(admin.TabularInline):
    model = Link
    extra = 0
    fields = ("source", "type", "target")
    raw_id_fields = ("source", "target")


@admin.register(Record)
class RecordAdmin(ReadAuditedAdmin):
    list_display = ("external_ref", "owner", "category", "classification", "occurred_on")
    list_filter = ("category", "classification", "owner")
    search_fields = ("external_ref", "summary")
    date_hierarchy = "occurred_on"
    raw_id_fields = ("created_by", "import_batch")
    inlines = [MentionInline, LinkInline]
    list_select_related = ("owner",)

    def owners(self, objs: list[Record]) -> dict[int, int]:
        return {record.pk: record.owner_id for record in objs}


@admin.register(Mention)
class MentionAdmin(ReadAuditedAdmin):
    list_display = ("record", "entity", "role")
    list_filter = ("role",)
    raw_id_fields = ("record", "entity")
    list_select_related = ("record",)


@admin.register(Link)
class LinkAdmin(ReadAuditedAdmin):
    list_display = ("record", "source", "type", "target")
    list_filter = ("type",)
    raw_id_fields = ("record", "source", "target")
    list_select_related = ("record",)


@admin.register(Entity)
class EntityAdmin(PlatformOnlyAdmin):
    """Type and merge state only: an entity's key and names come from records, read through
    the API, which audits them."""

    list_display = ("id", "type", "merged_into", "created_at")
    list_filter = ("type",)
    fields = ("type", "merged_into", "created_at")


@admin.register(ResolutionCandidate)
class ResolutionCandidateAdmin(PlatformOnlyAdmin):
    list_display = ("entity_a", "entity_b", "score", "status", "decided_by", "decided_at")
    list_filter = ("status",)


@admin.register(EntityMerge)
class EntityMergeAdmin(PlatformOnlyAdmin):
    list_display = ("survivor", "merged", "merged_by", "merged_at", "undone_at")


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    """Imports are started by `intel.services` and written by `intel.import_writing`; an
    agency's staff see their own. A platform admin's reading of another agency's batch (its
    errors quote the file's rows) is audited, as reads of its records are."""

    list_display = ("original_name", "agency", "status", "rows_total", "created_count", "created_at")
    list_filter = ("status", "agency")

    def get_queryset(self, request: HttpRequest):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(agency_id=request.user.agency_id)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        batch = self.get_object(request, unquote(object_id))
        if response.status_code == 200 and batch is not None and batch.agency_id != request.user.agency_id:
            record_event(
                "import.read",
                actor=request.user,
                obj=batch,
                agency_id=batch.agency_id,
                details={"via": "admin"},
            )
        return response
