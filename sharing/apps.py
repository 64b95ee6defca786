from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "sharing"
    verbose_name = "Sharing"

    def ready(self) -> None:
        # Connects the receivers that audit sign-ins, failures and lock-outs.
        from sharing import auth_audit  # noqa: F401
