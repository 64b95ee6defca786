"""Evaluates risk-based targeting on the scenario whose violations are known (issue 16).

    manage.py evaluate_targeting --budget 0.05 [--seeds 1,2,3] [--shipments 3000]
        [--plot docs/targeting-evaluation.png] [--no-store]

Each seed's scenario is loaded, customs' test window scored by rules only and by rules plus
network (`demo.targeting_evaluation`), and everything rolled back; the figures (capture,
precision at k, lift, compliant declarations stopped, with 95 % intervals over the seeds)
are printed as a table, plotted to a PNG and kept as an `Evaluation` for the evaluation page."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from demo.targeting_evaluation import score_seed
from targeting import evaluation
from targeting.evaluations import store_evaluation

DEFAULT_PLOT = Path(settings.BASE_DIR) / "docs" / "targeting-evaluation.png"
SHIPMENTS_MAX = 200_000
SEEDS_MAX = 20


def seeds_of(value: str) -> list[int]:
    try:
        seeds = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError as error:
        raise CommandError(f"--seeds: {value!r} is not a comma-separated list of integers") from error
    if not 1 <= len(seeds) <= SEEDS_MAX:
        raise CommandError(f"--seeds: from 1 to {SEEDS_MAX} seeds")
    return seeds


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--budget", type=float, default=0.05, help="the inspection budget marked (share)")
        parser.add_argument("--seeds", default="1,2,3", help="scenario seeds, comma-separated")
        parser.add_argument("--shipments", type=int, default=3000, help="declarations in the test window")
        parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="where the PNG is written")
        parser.add_argument("--no-store", action="store_true", help="do not keep it for the page")

    def handle(self, *args, budget: float, seeds: str, shipments: int, plot: Path, no_store: bool, **options):
        if not 0 < budget <= 0.2:
            raise CommandError("--budget: a share above 0 and at most 0.2 (the plot's range)")
        if not 100 <= shipments <= SHIPMENTS_MAX:
            raise CommandError(f"--shipments: from 100 to {SHIPMENTS_MAX:,}")
        chosen = seeds_of(seeds)
        started = time.monotonic()
        cases = []
        with tqdm(total=len(chosen) * 2, unit="step", desc="evaluation", file=self.stderr) as bar:
            for seed in chosen:

                def progress(message: str) -> None:
                    bar.set_postfix_str(message)
                    if message.endswith("scoring"):
                        bar.update(1)

                scored = score_seed(seed, shipments=shipments, progress=progress)
                bar.update(1)
                cases.append(
                    evaluation.Case(
                        seed=seed,
                        truth=dict(zip(scored.refs, scored.violating, strict=True)),
                        scores={
                            method: dict(zip(scored.refs, values, strict=True))
                            for method, values in scored.scores.items()
                        },
                    )
                )
        budgets = tuple(sorted({*evaluation.DEFAULT_BUDGETS, budget}))
        results = evaluation.evaluate(cases, budgets=budgets)
        png = evaluation.plot(results, budget=budget)
        plot.parent.mkdir(parents=True, exist_ok=True)
        plot.write_bytes(png)
        parameters = {"budget": budget, "seeds": chosen, "shipments": shipments}
        if not no_store:
            store_evaluation(parameters=parameters, results=results, plot=png)
        self.stdout.write(evaluation.markdown_table(results))
        key = evaluation.budget_key(budget)
        network = results["summary"]["rules_network"][key]["capture"]["mean"]
        rules = results["summary"]["rules"][key]["capture"]["mean"]
        ratio = f"{network / rules:.1f} times" if rules else "rules alone caught none"
        self.stdout.write(
            f"\nAt {budget:.0%}: rules plus network capture {network:.1%}, rules alone {rules:.1%} "
            f"({ratio}); plot {plot}; {time.monotonic() - started:.0f} s"
        )
