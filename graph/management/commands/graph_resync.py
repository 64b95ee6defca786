from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from graph.outbox import sync_enabled
from graph.resync import DEFAULT_WORKERS, resync


class Command(BaseCommand):
    help = (
        "Rebuilds the Neo4j graph from PostgreSQL in batches, with a progress bar. Safe while the "
        "application serves and the sync runs."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--record-batch", type=int, default=2000, help="records per batch")
        parser.add_argument("--entity-batch", type=int, default=5000, help="entity ids per batch")
        parser.add_argument(
            "--workers",
            type=int,
            default=DEFAULT_WORKERS,
            help="processes sharing the ranges (1: this process alone)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(
        self, *args, record_batch: int, entity_batch: int, workers: int, no_progress: bool, **options
    ) -> None:
        if not sync_enabled():
            raise CommandError("the graph sync needs PostgreSQL and NEO4J_URI")
        bars: dict[str, tqdm] = {}

        def progress(phase: str, done: int, total: int) -> None:
            bar = bars.get(phase)
            if bar is None:
                for other in bars.values():
                    other.close()
                unit = "records" if phase == "records" else "ranges"
                bar = bars[phase] = tqdm(total=total, desc=phase, unit=unit, disable=no_progress)
            bar.update(done - bar.n)

        result = resync(
            record_batch=record_batch, entity_batch=entity_batch, workers=workers, progress=progress
        )
        for bar in bars.values():
            bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"resynced {result.records} records: {result.nodes} nodes and {result.relationships} "
                f"relationships in {result.seconds:.1f} s ({result.elements_per_second:,.0f} elements/s)"
            )
        )
