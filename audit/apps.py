from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The hash-chained audit log: the bottom layer, written to by every other app."""

    name = "audit"
    verbose_name = "Audit"

    def ready(self) -> None:
        from django.contrib import admin

        from audit.admin import audit_every_other_admin

        # Here, not in audit/admin.py: the admin has discovered every app's admin module by
        # now, including those of apps listed after this one (axes, django-otp).
        audit_every_other_admin(admin.site)
