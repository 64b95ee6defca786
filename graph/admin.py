from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from graph.models import OutboxEntry, RecordProjection
from graph.outbox import sync_state


class ReadOnlyAdmin(admin.ModelAdmin):
    """The sync writes these rows; changing them by hand would desynchronize the graph."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "object_id", "created_at")
    list_filter = ("kind",)
    ordering = ("id",)
    show_full_result_count = False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        state = sync_state()
        title = f"Graph sync: backlog {state.backlog} change(s), lag {state.lag_seconds:.1f} s"
        return super().changelist_view(request, {**(extra_context or {}), "title": title})


@admin.register(RecordProjection)
class RecordProjectionAdmin(ReadOnlyAdmin):
    list_display = ("record_id", "agencies", "synced_at")
    search_fields = ("=record_id",)
    show_full_result_count = False
