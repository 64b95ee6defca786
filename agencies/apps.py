from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    name = "agencies"
    verbose_name = "Agencies and users"

    def ready(self) -> None:
        # Connects the receivers that audit sign-ins, failures and lock-outs.
        from agencies import auth_audit  # noqa: F401
