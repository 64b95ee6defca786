from django.core.management.base import BaseCommand, CommandError

from graph.outbox import sync_enabled, sync_state
from graph.verify import verify


class Command(BaseCommand):
    help = (
        "Compares Neo4j with PostgreSQL: counts and checksums (keys and visible_to) per label and "
        "relationship type, and every element that differs. Exits non-zero on any difference."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=5000, help="records and entity ids per batch")

    def handle(self, *args, batch_size: int, **options) -> None:
        if not sync_enabled():
            raise CommandError("the graph sync needs PostgreSQL and NEO4J_URI")
        state = sync_state()
        if state.backlog:
            self.stderr.write(
                f"note: {state.backlog} change(s) still in the outbox (oldest {state.lag_seconds:.1f} s); "
                "they show as differences until synced"
            )
        result = verify(batch_size=batch_size)
        for line in result.summary:
            self.stdout.write(line)
        for line in result.differences:
            self.stdout.write(line)
        if not result.clean:
            raise CommandError(f"{len(result.differences)} difference(s) between PostgreSQL and Neo4j")
        self.stdout.write(self.style.SUCCESS("Neo4j matches PostgreSQL"))
