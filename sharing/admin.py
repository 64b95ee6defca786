from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from sharing.models import Agency, AuditEvent, User


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "country", "kind")
    list_filter = ("kind", "country")
    search_fields = ("code", "name")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "agency", "role", "is_active", "is_superuser")
    list_filter = ("agency", "role", "is_active", "is_superuser")
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Agency", {"fields": ("agency", "role")}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("Agency", {"fields": ("agency", "role")}))

    def get_queryset(self, request):
        # An agency admin manages the users of their own agency only.
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(agency_id=request.user.agency_id)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("id", "at", "actor_username", "agency", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("actor_username", "object_id")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_module_permission(self, request):
        return request.user.is_superuser
