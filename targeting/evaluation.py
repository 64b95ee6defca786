"""Measuring targeting on a scenario whose violations are known. Pure: scores and truth in,
figures, a table and a plot out, no database (`targeting.evaluations` stores a run).

For each scenario seed, each method's scores rank the declarations; an inspection budget b
(a share of the declarations) pays for the top k = floor(b * n) of them (a budget buys no
part of an inspection). At each budget, for each method:

- capture: the violations among the top k over all violations;
- precision: the violations among the top k over k (precision at k);
- lift: precision over the base rate (violations over declarations), so random is 1;
- compliant stopped: the compliant declarations among the top k, as a count and as a share
  of all compliant ones (the cost to legitimate trade).

Ties in score are broken by the SHA-256 of the declaration's id, then by the id: a run is
reproducible, and the order among equal scores owes nothing to the order in which a
scenario numbered its declarations (which often puts the planted ones first or last).
Many declarations share a score of 0, so this matters.

Random selection appears twice: `random`, its expected value (E[caught] = k * V / n, so
capture = k / n, precision = the base rate, lift = 1), and `random_draw`, one seeded
shuffle, what an agency drawing at random would actually have got.

Over several seeds each figure is given as its mean and a 95 % t-interval
(mean ± t(0.975, seeds - 1) · s / √seeds, with `scipy.stats.t`): the seeds are independent
scenarios and the figures roughly normal over them; with one seed there is no interval."""

from __future__ import annotations

import hashlib
import io
import math
import random as random_module
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy import stats

RANDOM = "random"
# What the other methods' captures are compared with: the scoring without the network.
BASELINE = "rules"
NONE = {"mean": None, "low": None, "high": None}
RANDOM_DRAW = "random_draw"
DEFAULT_BUDGETS = (0.01, 0.02, 0.05, 0.10)
# The plot's inspection rates: every half percent from 0 to 20 %.
CURVE_RATES = tuple(step / 200 for step in range(41))
CONFIDENCE = 0.95
METRICS = ("k", "caught", "capture", "precision", "lift", "compliant_stopped", "compliant_stopped_share")
LABELS = {
    RANDOM: "Random (expected)",
    RANDOM_DRAW: "Random (one draw)",
    "rules": "Rules only",
    "rules_network": "Rules + network",
}


@dataclass(frozen=True)
class Case:
    """One scenario seed: each declaration's truth (violating or not) by its stable id, and
    each method's score of every declaration by the same id."""

    seed: int
    truth: Mapping[str, bool]
    scores: Mapping[str, Mapping[str, float]]


def tie_key(declaration: str) -> tuple[str, str]:
    return hashlib.sha256(declaration.encode()).hexdigest(), declaration


def ranking(scores: Mapping[str, float]) -> list[str]:
    """The declarations, highest score first, ties broken as the module says."""
    return sorted(scores, key=lambda d: (-scores[d], *tie_key(d)))


def drawn(declarations: Sequence[str], seed: int) -> list[str]:
    """A random order of the declarations, the same for the same seed and set."""
    order = sorted(declarations, key=tie_key)
    random_module.Random(seed).shuffle(order)  # noqa: S311 - reproducible, not secret
    return order


def budget_count(n: int, budget: float) -> int:
    # Rounded first so that 0.07 * 100 (7.000000000000001) and 0.29 * 100
    # (28.999999999999996) buy 7 and 29.
    return math.floor(round(budget * n, 9))


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def figures(order: Sequence[str], truth: Mapping[str, bool], k: int) -> dict[str, float | None]:
    """The figures of inspecting the first k of `order`."""
    n = len(truth)
    violations = sum(1 for v in truth.values() if v)
    caught = sum(1 for d in order[:k] if truth[d])
    return _figures(n, violations, k, caught)


def expected_random(truth: Mapping[str, bool], k: int) -> dict[str, float | None]:
    n = len(truth)
    violations = sum(1 for v in truth.values() if v)
    return _figures(n, violations, k, k * violations / n if n else 0.0)


def _figures(n: int, violations: int, k: int, caught: float) -> dict[str, float | None]:
    precision = _ratio(caught, k)
    base_rate = _ratio(violations, n)
    return {
        "k": k,
        "caught": caught,
        "capture": _ratio(caught, violations),
        "precision": precision,
        "lift": None if precision is None or not base_rate else precision / base_rate,
        "compliant_stopped": k - caught,
        "compliant_stopped_share": _ratio(k - caught, n - violations),
    }


def budget_key(budget: float) -> str:
    """A budget as a results key (JSON keys are text): 0.05 -> "0.05"."""
    return f"{budget:g}"


def evaluate_case(case: Case, *, budgets: Sequence[float], rates: Sequence[float]) -> dict:
    """One seed's figures at each budget and its capture at each of the plot's rates."""
    truth = case.truth
    for method, scores in case.scores.items():
        if set(scores) != set(truth):
            raise ValueError(f"{method}: scores and truth name different declarations")
    orders = {RANDOM_DRAW: drawn(list(truth), case.seed)}
    orders.update({method: ranking(scores) for method, scores in case.scores.items()})
    n = len(truth)

    def at(method: str, share: float) -> dict[str, float | None]:
        k = budget_count(n, share)
        return expected_random(truth, k) if method == RANDOM else figures(orders[method], truth, k)

    methods = [RANDOM, *orders]
    return {
        "seed": case.seed,
        "declarations": n,
        "violations": sum(1 for v in truth.values() if v),
        "figures": {m: {budget_key(b): at(m, b) for b in budgets} for m in methods},
        "curve": {m: [at(m, r)["capture"] for r in rates] for m in methods},
    }


SHARES = frozenset({"capture", "precision", "compliant_stopped_share"})


def interval(values: Sequence[float | None], *, share: bool = False) -> dict[str, float | None]:
    """Mean and 95 % t-interval over the seeds with a value (a figure can be undefined for a
    seed, e.g. capture with no violation). The interval is cut to what the figure can be
    (from 0, and to 1 for a share): a symmetric interval around a capture near 100 % would
    otherwise promise more than every violation."""
    known = [float(v) for v in values if v is not None]
    if not known:
        return {"mean": None, "low": None, "high": None, "seeds": 0}
    mean = sum(known) / len(known)
    if len(known) < 2:
        return {"mean": mean, "low": None, "high": None, "seeds": len(known)}
    sd = math.sqrt(sum((v - mean) ** 2 for v in known) / (len(known) - 1))
    half = float(stats.t.ppf((1 + CONFIDENCE) / 2, len(known) - 1)) * sd / math.sqrt(len(known))
    high = mean + half if not share else min(1.0, mean + half)
    return {"mean": mean, "low": max(0.0, mean - half), "high": high, "seeds": len(known)}


def evaluate(
    cases: Sequence[Case],
    *,
    budgets: Sequence[float] = DEFAULT_BUDGETS,
    rates: Sequence[float] = CURVE_RATES,
) -> dict:
    """The results of an evaluation over the seeds' cases, JSON-ready:

    - `budgets`, `rates`, `seeds`, `methods` (random, random_draw, then the cases' methods
      in their order), `interval` (how the intervals were made);
    - `per_seed`: each seed's `declarations`, `violations`, `figures` (method -> budget key ->
      the METRICS) and `curve` (method -> capture at each rate);
    - `summary`: method -> budget key -> metric -> {mean, low, high, seeds};
    - `versus`: each method beyond rules only -> budget key -> its capture over the capture
      of rules only, seed by seed, as {mean, low, high, seeds} (a seed where rules only
      caught nothing has no ratio);
    - `curve`: method -> {mean, low, high}, each a list over `rates`.
    """
    if not cases:
        raise ValueError("no scenario to evaluate")
    per_seed = [evaluate_case(case, budgets=budgets, rates=rates) for case in cases]
    methods = list(per_seed[0]["figures"])
    if any(list(seed["figures"]) != methods for seed in per_seed):
        raise ValueError("every seed must be scored by the same methods")
    summary = {
        m: {
            budget_key(b): {
                metric: interval(
                    [seed["figures"][m][budget_key(b)][metric] for seed in per_seed], share=metric in SHARES
                )
                for metric in METRICS
            }
            for b in budgets
        }
        for m in methods
    }
    versus = {
        m: {
            budget_key(b): interval(
                [
                    _ratio(
                        seed["figures"][m][budget_key(b)]["capture"],
                        seed["figures"][BASELINE][budget_key(b)]["capture"],
                    )
                    for seed in per_seed
                ]
            )
            for b in budgets
        }
        for m in methods
        if BASELINE in methods and m not in (RANDOM, RANDOM_DRAW, BASELINE)
    }
    curve = {}
    for m in methods:
        points = [interval([seed["curve"][m][i] for seed in per_seed], share=True) for i in range(len(rates))]
        curve[m] = {bound: [p[bound] for p in points] for bound in ("mean", "low", "high")}
    return {
        "budgets": list(budgets),
        "rates": list(rates),
        "seeds": [case.seed for case in cases],
        "methods": methods,
        "interval": f"{CONFIDENCE:.0%} t-interval over seeds (scipy.stats.t)",
        "per_seed": per_seed,
        "summary": summary,
        "versus": versus,
        "curve": curve,
    }


def _shown(summary: Mapping, share: bool = True) -> str:
    mean, low, high = summary["mean"], summary["low"], summary["high"]
    if mean is None:
        return "-"

    def one(value: float) -> str:
        return f"{value:.1%}" if share else f"{value:.2f}"

    return one(mean) if low is None else f"{one(mean)} [{one(low)}, {one(high)}]"


TABLE_HEADER = (
    "Method",
    "Budget",
    "Capture",
    "Precision at k",
    "Lift",
    "Capture over rules only",
    "Compliant stopped",
)


def table_rows(results: Mapping) -> list[tuple[str, ...]]:
    """The table of the figures: one row per method and budget, each figure its mean with
    its interval in brackets; compliant stopped as the mean count and the share of the
    compliant declarations."""
    rows = []
    for method in results["methods"]:
        for budget in results["budgets"]:
            found = results["summary"][method][budget_key(budget)]
            stopped = found["compliant_stopped"]["mean"]
            rows.append(
                (
                    LABELS.get(method, method),
                    f"{budget * 100:g} %",
                    _shown(found["capture"]),
                    _shown(found["precision"]),
                    _shown(found["lift"], share=False),
                    _shown(
                        results.get("versus", {}).get(method, {}).get(budget_key(budget), NONE), share=False
                    ),
                    "-" if stopped is None else f"{stopped:.1f} ({_shown(found['compliant_stopped_share'])})",
                )
            )
    return rows


def markdown_table(results: Mapping) -> str:
    """The figures as a Markdown table, with a line saying what the brackets are."""
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + " --- |" * len(TABLE_HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    seeds = len(results["seeds"])
    note = f"Mean over {seeds} seeds, {results['interval']} in brackets." if seeds > 1 else "One seed."
    return "\n".join(lines) + f"\n\n{note}\n"


def plot(results: Mapping, *, budget: float = 0.05, methods: Sequence[str] | None = None) -> bytes:
    """A PNG of capture against inspection rate (0 to 20 %) for random (expected), rules only
    and rules + network (or `methods`), each with its interval band where there are several
    seeds, and the budget marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    shown = [m for m in (methods or (RANDOM, "rules", "rules_network")) if m in results["curve"]]
    rates = [100 * r for r in results["rates"]]
    figure = Figure(figsize=(7, 4.5), dpi=100)
    axes = figure.subplots()
    for method in shown:
        curve = results["curve"][method]
        mean = [math.nan if v is None else 100 * v for v in curve["mean"]]
        style = {"linestyle": "--", "color": "grey"} if method == RANDOM else {}
        axes.plot(rates, mean, label=LABELS.get(method, method), **style)
        if all(v is not None for v in curve["low"]) and method != RANDOM:
            axes.fill_between(
                rates, [100 * v for v in curve["low"]], [100 * v for v in curve["high"]], alpha=0.2
            )
    axes.axvline(100 * budget, color="black", linewidth=0.8, linestyle=":")
    axes.annotate(f"{budget:.0%} budget", (100 * budget, 2), xytext=(4, 0), textcoords="offset points")
    axes.set_xlim(0, 20)
    axes.set_ylim(0, 100)
    axes.set_xlabel("Inspection rate (% of declarations)")
    axes.set_ylabel("Capture rate (% of violations)")
    seeds = len(results["seeds"])
    axes.set_title(
        "Violations captured by inspection rate"
        + (f" (mean of {seeds} seeds, {CONFIDENCE:.0%} band)" if seeds > 1 else "")
    )
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right")
    out = io.BytesIO()
    # No date or software version in the file: the same results draw the same bytes.
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
