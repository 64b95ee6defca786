"""manage.py fit_risk_weights --agency CODE [--C 1.0] [--min-outcomes 50]: proposes risk
weights re-fitted from the agency's inspection outcomes (see targeting/fitting.py), with
their validation on the random picks, for an agency admin to accept or reject."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from agencies.models import Agency
from targeting import fitting, profiles


class Command(BaseCommand):
    help = "Propose risk weights re-fitted from the agency's inspection outcomes."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--agency", required=True, help="the agency's code")
        parser.add_argument(
            "--C", type=float, default=fitting.DEFAULT_C, help="inverse regularization strength"
        )
        parser.add_argument(
            "--min-outcomes",
            type=int,
            default=fitting.DEFAULT_MIN_OUTCOMES,
            help="the fewest random-pick outcomes to fit from",
        )

    def handle(self, *args, agency: str, C: float, min_outcomes: int, **options) -> None:
        found = Agency.objects.filter(code=agency).first()
        if found is None:
            raise CommandError(f"--agency: no agency {agency!r}")

        def progress(folds):
            return tqdm(folds, desc="validating on the random picks", unit="fold", disable=None)

        try:
            proposal, fit = fitting.refit_agency(
                agency_id=found.pk, C=C, min_outcomes=min_outcomes, progress=progress
            )
        except fitting.FitRefused as refused:
            raise CommandError(str(refused)) from refused
        checked = fit.validation
        out = self.stdout.write
        out(f"Proposed version {proposal.version} of {found.code}'s weights ({proposal.public_id}):")
        current = profiles.active_profile(agency_id=found.pk).weights
        for name in fitting.NAMES:
            out(f"  {name:<20} {current.get(name, 0.0):>8.2f} -> {proposal.weights[name]:>8.2f}")
        out(
            f"From {checked['outcomes']} outcomes ({checked['violations']} violations), "
            f"validated on {checked['random_picks']} random picks "
            f"({checked['random_pick_violations']} violations, {checked['folds']}-fold):"
        )
        for label, figures in (("proposed", checked["fitted"]), ("current", checked["current"])):
            out(
                f"  {label:<9} AUC {_shown(figures['auc'], '.3f')}, "
                f"capture at the {checked['budget']:.0%} budget {_shown(figures['capture'], '.1%')}"
            )
        if fit.clipped:
            out(f"Clipped to 0 (went with fewer violations): {', '.join(fit.clipped)}")
        if fit.kept:
            out(f"Kept at the current weight (never fired): {', '.join(fit.kept)}")
        out("An agency admin accepts or rejects the proposal.")


def _shown(value: float | None, form: str) -> str:
    return "undefined" if value is None else format(value, form)
