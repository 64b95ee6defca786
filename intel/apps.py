from django.apps import AppConfig


class IntelConfig(AppConfig):
    name = "intel"
    verbose_name = "Intelligence records"

    def ready(self) -> None:
        from core import lookups  # noqa: F401  (registers `__any_of`)
        from core.query_parameters import check_purposes_with
        from intel.selectors import Reader

        check_purposes_with(Reader.from_request)
