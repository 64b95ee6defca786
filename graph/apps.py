from django.apps import AppConfig


class GraphConfig(AppConfig):
    name = "graph"
    verbose_name = "Graph"

    def ready(self) -> None:
        from graph.receivers import on_entities_changed, on_records_changed
        from intel.signals import entities_changed, records_changed

        records_changed.connect(on_records_changed, dispatch_uid="graph.outbox.records")
        entities_changed.connect(on_entities_changed, dispatch_uid="graph.outbox.entities")
