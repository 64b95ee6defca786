"""Admin for records and entities. Non-superusers see only what the visibility choke
point lets their agency see; superusers (platform admins) see everything."""

from django.contrib import admin

from intel.models import Entity, EntityMerge, ImportBatch, Link, Mention, Record, ResolutionCandidate


class VisibleOnlyAdmin(admin.ModelAdmin):
    def get_queryset(self, request):
        return self.model.objects.visible_to(request.user)


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
class RecordAdmin(VisibleOnlyAdmin):
    list_display = ("external_ref", "owner", "category", "classification", "occurred_on")
    list_filter = ("category", "classification", "owner")
    search_fields = ("external_ref", "summary")
    date_hierarchy = "occurred_on"
    raw_id_fields = ("created_by", "import_batch")
    inlines = [MentionInline, LinkInline]
    list_select_related = ("owner",)


@admin.register(Entity)
class EntityAdmin(VisibleOnlyAdmin):
    list_display = ("id", "type", "merged_into", "created_at")
    list_filter = ("type",)
    raw_id_fields = ("merged_into",)

    def get_fields(self, request, obj=None):
        # The key may come from a record the viewer may not see.
        fields = ["type", "merged_into", "block"]
        return ["key", *fields] if request.user.is_superuser else fields


@admin.register(Mention)
class MentionAdmin(VisibleOnlyAdmin):
    list_display = ("record", "entity", "role")
    list_filter = ("role",)
    raw_id_fields = ("record", "entity")


@admin.register(Link)
class LinkAdmin(VisibleOnlyAdmin):
    list_display = ("record", "source", "type", "target")
    list_filter = ("type",)
    raw_id_fields = ("record", "source", "target")


@admin.register(ResolutionCandidate)
class ResolutionCandidateAdmin(admin.ModelAdmin):
    list_display = ("entity_a", "entity_b", "score", "status", "decided_by", "decided_at")
    list_filter = ("status",)
    raw_id_fields = ("entity_a", "entity_b", "decided_by")

    def has_module_permission(self, request):
        return request.user.is_superuser


@admin.register(EntityMerge)
class EntityMergeAdmin(admin.ModelAdmin):
    list_display = ("survivor", "merged", "merged_by", "merged_at", "undone_at")
    raw_id_fields = ("survivor", "merged", "candidate", "merged_by", "undone_by")

    def has_module_permission(self, request):
        return request.user.is_superuser


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ("original_name", "agency", "status", "rows_total", "created_count", "created_at")
    list_filter = ("status", "agency")
    readonly_fields = ("errors",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(agency_id=request.user.agency_id)
