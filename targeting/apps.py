from django.apps import AppConfig


class TargetingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "targeting"
    verbose_name = "Risk-based targeting"
