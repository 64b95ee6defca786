from django.core.management.base import BaseCommand, CommandError

from graph.driver import get_driver, graph_enabled
from graph.schema import ensure_schema


class Command(BaseCommand):
    help = "Creates the Neo4j constraints and indexes the graph sync relies on (idempotent)."

    def handle(self, *args, **options) -> None:
        if not graph_enabled():
            raise CommandError("NEO4J_URI is not set: there is no Neo4j graph to give a schema")
        for statement in ensure_schema(get_driver()):
            self.stdout.write(statement)
        self.stdout.write(self.style.SUCCESS("graph schema in place"))
