"""manage.py score_declarations [--agency CODE ...]: scores the declarations each customs
agency (or each agency named) may see, as opening its targeting queue would, unless its
scores are current. `make demo` runs it so that the first visit to the queue does not wait
for the scoring."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from agencies.models import Agency
from targeting import scoring
from targeting.models import ScoringRun


class Command(BaseCommand):
    help = "Score the declarations of customs agencies (or of those named) unless their scores are current."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--agency", action="append", default=[], help="an agency's code (repeatable)")

    def handle(self, *args, agency: list[str], **options) -> None:
        if agency:
            agencies = list(Agency.objects.filter(code__in=agency).order_by("code"))
            missing = sorted(set(agency) - {found.code for found in agencies})
            if missing:
                raise CommandError(f"--agency: no agency {', '.join(map(repr, missing))}")
        else:
            agencies = list(Agency.objects.filter(kind=Agency.Kind.CUSTOMS).order_by("code"))
        for scored in agencies:
            with tqdm(total=100, desc=f"scoring {scored.code}", unit="%", disable=None) as bar:
                status = scoring.score_now(
                    agency_id=scored.pk, progress=lambda percent: bar.update(percent - bar.n)
                )
            if status == ScoringRun.Status.FAILED:
                raise CommandError(f"{scored.code}: the scoring failed (the log says why)")
            self.stdout.write(f"{scored.code}: {status}")
