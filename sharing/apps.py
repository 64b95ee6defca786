from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "sharing"
    verbose_name = "Sharing"

    def ready(self) -> None:
        # Connects the receivers that audit sign-ins, failures and lock-outs.
        from django.contrib import admin

        from sharing import auth_audit  # noqa: F401
        from sharing.admin import audit_every_other_admin

        # Here, not in sharing/admin.py: the admin has discovered every app's admin module by
        # now, including those of apps listed after this one (axes, django-otp).
        audit_every_other_admin(admin.site)
