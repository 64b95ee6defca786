"""The admin's audit: every admin that writes rows itself leaves an audit event per add,
change and delete (`AuditedAdmin`, given by `audit_every_other_admin` to the admins other
installed apps register); read-only and delete-only bases for the rest; and the log itself,
for platform admins, read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from audit.log import record_event
from audit.models import AuditEvent

# Values the audit log never holds: a password hash, a token key.
SECRET_FIELDS = {"password", "key"}


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The stored values of a row's fields and many-to-many relations, as the audit log keeps them."""
    key = obj._meta.pk.attname  # not `pk`: a proxy (API tokens) may map `pk` to another column
    stored = type(obj)._default_manager.get(**{key: getattr(obj, key)})
    values = {f.name: f.value_from_object(stored) for f in obj._meta.concrete_fields}
    values |= {f.name: sorted(o.pk for o in f.value_from_object(stored)) for f in obj._meta.many_to_many}
    return values


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    changed = {}
    for name, value in after.items():
        if before.get(name) != value:
            secret = name in SECRET_FIELDS
            changed[name] = "changed" if secret else {"old": before.get(name), "new": value}
    return changed


def audit(request: HttpRequest, action: str, obj: models.Model, details: dict[str, Any]) -> None:
    details = {"via": "admin", **details}
    if obj._meta.pk.name in SECRET_FIELDS:
        # An API token's primary key is its secret: name the row by its model only.
        record_event(action, actor=request.user, details={"model": obj._meta.label_lower, **details})
    else:
        record_event(action, actor=request.user, obj=obj, details=details)


class AuditedAdmin(admin.ModelAdmin):
    """An admin that saves rows itself: every add, change and delete leaves an audit event
    naming the fields changed with their old and new values, in the admin's transaction."""

    def save_model(self, request: HttpRequest, obj: models.Model, form: Any, change: bool) -> None:
        obj._audit_before = snapshot(obj) if change else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        changes = differences(getattr(obj, "_audit_before", {}), snapshot(obj))
        audit(request, "admin.change" if change else "admin.add", obj, {"changes": changes})

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        self.audit_deletion(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        self.audit_deletion(request, list(queryset))
        super().delete_queryset(request, queryset)

    def audit_deletion(self, request: HttpRequest, objs: list[models.Model]) -> None:
        for obj in objs:
            values = {k: v for k, v in snapshot(obj).items() if k not in SECRET_FIELDS}
            audit(request, "admin.delete", obj, {"values": values})


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "at", "actor_username", "agency_id", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("actor_username", "object_id")
    date_hierarchy = "at"

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser


class DeleteOnlyAdmin:
    """Second-factor devices and lock-out records: an admin resets a lost device or lifts a
    lock-out by deleting the row; adding or changing one (a device key of the admin's choosing)
    would let the admin pass another person's second factor."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


DELETE_ONLY = {
    "otp_totp.totpdevice",
    "otp_static.staticdevice",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
}


def is_project_app(app_config: AppConfig) -> bool:
    """The project's own apps, whose admins write through services or audit themselves."""
    path = Path(app_config.path).resolve()
    return path.is_relative_to(settings.BASE_DIR) and "site-packages" not in path.parts


def audit_every_other_admin(site: admin.AdminSite) -> None:
    """Admins registered by installed apps (groups, devices, lock-outs) write rows themselves:
    give each the audit of `AuditedAdmin`, so no admin write goes unrecorded."""
    for model, model_admin in list(site._registry.items()):
        if is_project_app(model._meta.app_config) or isinstance(model_admin, AuditedAdmin):
            continue
        site.unregister(model)
        bases = (DeleteOnlyAdmin,) if model._meta.label_lower in DELETE_ONLY else ()
        audited = type(f"Audited{type(model_admin).__name__}", (*bases, AuditedAdmin, type(model_admin)), {})
        site.register(model, audited)
