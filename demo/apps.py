from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo scenario (`seed_demo`, `demo_admin`) and the benchmarks' data: on top of
    every other app, and no production app imports it."""

    name = "demo"
    verbose_name = "Demo scenario"
