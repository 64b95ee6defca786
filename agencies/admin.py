"""Agencies and users in the admin: platform admins create agencies; agency admins manage
the users of their own agency. Every write is audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from agencies.models import Agency, User
from audit.admin import AuditedAdmin, audit


def is_agency_admin(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.agency_id and user.role == User.Role.AGENCY_ADMIN)


class AgencyAdminAccess:
    """For the models agency admins manage for their own agency (users, agreements): open to
    them and to platform admins by role, not by model permissions; nothing is ever deleted."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or is_agency_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Agency)
class AgencyAdmin(AuditedAdmin):
    """Platform admins create and edit agencies (audited); an agency is never deleted: the
    audit log and its records name it."""

    list_display = ("code", "name", "country", "kind")
    list_filter = ("kind", "country")
    search_fields = ("code", "name")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(AgencyAdminAccess, AuditedAdmin, DjangoUserAdmin):
    """Platform admins manage every user; an agency admin the users of their agency (roles,
    deactivation, passwords), never staff or superuser flags or permissions. Users are
    deactivated, never deleted: the audit log names them."""

    list_display = ("username", "agency", "role", "is_active", "is_superuser")
    list_filter = ("agency", "role", "is_active", "is_superuser")
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Agency", {"fields": ("agency", "role")}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("Agency", {"fields": ("agency", "role")}))
    agency_fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        ("Agency", {"fields": ("role", "is_active")}),
    )
    agency_add_fieldsets = (
        (None, {"fields": ("username", "usable_password", "password1", "password2")}),
        ("Agency", {"fields": ("role",)}),
    )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(agency_id=request.user.agency_id, is_superuser=False)

    def get_list_filter(self, request):
        return self.list_filter if request.user.is_superuser else ("role", "is_active")

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return self.agency_add_fieldsets if obj is None else self.agency_fieldsets

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if request.user.is_superuser:
            return form
        agency_id = request.user.agency_id

        class OwnAgencyForm(form):
            def _post_clean(self) -> None:
                # Validated as a member of the agency admin's own agency, which it will be.
                self.instance.agency_id = agency_id
                super()._post_clean()

        return OwnAgencyForm

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            # The fields an agency admin sees do not include these: keep them so.
            obj.agency_id = request.user.agency_id
            obj.is_superuser = False
            if not change:
                obj.is_staff = False
        if not obj.is_superuser and (obj.agency_id is None or not obj.role):
            raise PermissionDenied("every user but a platform admin belongs to an agency with a role")
        super().save_model(request, obj, form, change)

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = self.get_object(request, id)
            audit(request, "admin.password_change", user, {})
        return response
