import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from demo import scenario as demo
from intel.import_reading import ImportFailed


def positive_scale(value: str) -> float:
    scale = float(value)
    if not scale > 0:
        raise ValueError(value)
    return scale


class Command(BaseCommand):
    help = (
        "Builds the deterministic demo scenario: four agencies, a user of each role in each "
        "(credentials printed), and records with planted smuggling networks, imported through "
        "the real import pipeline. The same seed and scale always give the same data; re-running "
        "changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=1, help="scenario seed (default 1)")
        parser.add_argument(
            "--scale",
            type=positive_scale,
            default=1.0,
            help="multiplies the record count; 1 is about 3,000 records (default 1)",
        )

    def handle(self, *args, seed: int, scale: float, **options) -> None:
        if settings.PRODUCTION:
            # The demo passwords follow from the seed, so anyone could log in as these users.
            raise CommandError("seed_demo creates users with predictable passwords; refused in production")
        scenario = demo.Scenario(seed, scale)
        started = time.monotonic()
        with tqdm(
            total=scenario.total(), unit="rows", desc="demo records", file=self.stderr, dynamic_ncols=True
        ) as bar:

            def progress(rows: int) -> None:
                bar.update(rows - bar.n)

            try:
                result = demo.seed(scenario, progress=progress)
            except ImportFailed as failure:
                bar.close()
                for error in failure.errors[:20]:
                    self.stderr.write(f"row {error['row']}, field {error['field']}: {error['message']}")
                raise CommandError(f"the generated scenario did not import: {failure}") from failure
        self.summary(scenario, result, time.monotonic() - started)

    def summary(self, scenario: demo.Scenario, result: demo.SeedResult, seconds: float) -> None:
        write, heading = self.stdout.write, self.style.MIGRATE_HEADING
        counts = demo.database_counts()
        write(heading(f"Demo scenario: seed {scenario.seed}, scale {scenario.scale:g} ({seconds:.1f} s)"))

        write(heading("Agencies and records"))
        write(f"  {'agency':<8} {'name':<30} {'shipment':>9} {'seizure':>8} {'inspection':>11}   this run")
        for spec in demo.AGENCIES:
            by_category = counts.records.get(spec.code, {})
            run = result.imports[spec.code]
            write(
                f"  {spec.code:<8} {spec.name:<30} {by_category.get('shipment', 0):>9}"
                f" {by_category.get('seizure', 0):>8} {by_category.get('inspection', 0):>11}"
                f"   {run.created} created, {run.updated} updated, {run.unchanged} unchanged"
            )

        write(heading("Users (log in at /accounts/login/)"))
        write(f"  {'username':<20} {'agency':<8} {'role':<13} password")
        for user in result.credentials:
            write(f"  {user.username:<20} {user.agency:<8} {user.role:<13} {user.password}")

        write(heading("Entities in the database"))
        write("  " + ", ".join(f"{entity_type} {n}" for entity_type, n in counts.entities.items()))
        write(heading("Resolution candidates"))
        write("  " + (", ".join(f"{status} {n}" for status, n in counts.candidates.items()) or "none"))

        write(heading("Planted networks"))
        for line in demo.describe_networks():
            write(f"  {line}")
