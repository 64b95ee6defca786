from django.apps import AppConfig


class LinkchartConfig(AppConfig):
    name = "linkchart"
    verbose_name = "Link chart"
