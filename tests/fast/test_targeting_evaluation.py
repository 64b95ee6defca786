"""targeting.evaluation: figures computed by hand on ten declarations, ties, random, the
intervals over seeds, the table and the plot."""

import hashlib

import pytest

from targeting import evaluation
from targeting.evaluation import Case

IDS = "abcdefghij"
VIOLATING = {"b", "e", "h"}
TRUTH = {d: d in VIOLATING for d in IDS}
# a scores 9, b 8, ... j 0: the ranking is a, b, c, ...
RULES = {d: float(9 - i) for i, d in enumerate(IDS)}


def one_seed(truth=TRUTH, rules=RULES, seed=1) -> dict:
    return evaluation.evaluate([Case(seed, truth, {"rules": rules})], budgets=(0.2, 0.5), rates=(0.0, 0.2))


def test_figures_at_a_budget_as_computed_by_hand() -> None:
    results = one_seed()
    at_20 = results["per_seed"][0]["figures"]["rules"]["0.2"]
    # The top 2 are a and b: one of the three violations, one of the seven compliant.
    assert at_20["k"] == 2
    assert at_20["caught"] == 1
    assert at_20["capture"] == pytest.approx(1 / 3)
    assert at_20["precision"] == pytest.approx(1 / 2)
    assert at_20["lift"] == pytest.approx((1 / 2) / (3 / 10))
    assert at_20["compliant_stopped"] == 1
    assert at_20["compliant_stopped_share"] == pytest.approx(1 / 7)
    at_50 = results["per_seed"][0]["figures"]["rules"]["0.5"]
    # a to e: b and e.
    assert (at_50["k"], at_50["caught"], at_50["compliant_stopped"]) == (5, 2, 3)
    assert at_50["capture"] == pytest.approx(2 / 3)
    assert at_50["precision"] == pytest.approx(0.4)
    assert at_50["compliant_stopped_share"] == pytest.approx(3 / 7)


def test_random_expected_value() -> None:
    at_20 = one_seed()["per_seed"][0]["figures"]["random"]["0.2"]
    assert at_20["capture"] == pytest.approx(0.2)
    assert at_20["precision"] == pytest.approx(0.3)
    assert at_20["lift"] == pytest.approx(1.0)
    assert at_20["compliant_stopped"] == pytest.approx(2 - 0.6)
    assert at_20["compliant_stopped_share"] == pytest.approx(0.2)


def test_random_draw_is_seeded() -> None:
    declarations = [f"d{i}" for i in range(50)]
    first = evaluation.drawn(declarations, 7)
    assert sorted(first) == sorted(declarations)
    assert evaluation.drawn(list(reversed(declarations)), 7) == first
    assert evaluation.drawn(declarations, 8) != first
    assert set(one_seed()["per_seed"][0]["figures"]) == {"random", "random_draw", "rules"}


def test_ties_are_broken_by_the_hash_of_the_id_whatever_the_order_given() -> None:
    ids = ["s-001", "s-002", "s-003", "s-004"]
    by_hash = sorted(ids, key=lambda d: hashlib.sha256(d.encode()).hexdigest())
    assert evaluation.ranking(dict.fromkeys(ids, 0.0)) == by_hash
    assert evaluation.ranking(dict.fromkeys(reversed(ids), 0.0)) == by_hash
    assert evaluation.ranking({"s-004": 1.0, **dict.fromkeys(ids[:3], 0.0)})[0] == "s-004"


@pytest.mark.parametrize(
    ("n", "budget", "k"), [(100, 0.07, 7), (100, 0.29, 29), (150, 0.01, 1), (10, 0.05, 0)]
)
def test_a_budget_buys_whole_inspections(n: int, budget: float, k: int) -> None:
    assert evaluation.budget_count(n, budget) == k


def test_nothing_inspected_has_no_precision() -> None:
    at_5 = evaluation.evaluate([Case(1, TRUTH, {"rules": RULES})], budgets=(0.05,), rates=())
    figures = at_5["per_seed"][0]["figures"]["rules"]["0.05"]
    assert figures["k"] == 0 and figures["capture"] == 0
    assert figures["precision"] is None and figures["lift"] is None


def test_scores_must_name_the_declarations_of_the_truth() -> None:
    with pytest.raises(ValueError, match="rules"):
        one_seed(rules={**RULES, "z": 1.0})


def test_mean_and_t_interval_over_seeds() -> None:
    # Seed 2 flips which declarations violate: a, b and h, so the top 2 catch both.
    second = {d: d in {"a", "b", "h"} for d in IDS}
    results = evaluation.evaluate(
        [Case(1, TRUTH, {"rules": RULES}), Case(2, second, {"rules": RULES})], budgets=(0.2,), rates=(0.2,)
    )
    capture = results["summary"]["rules"]["0.2"]["capture"]
    assert capture["mean"] == pytest.approx(0.5)
    # Captures 1/3 and 2/3: s / sqrt(2) = 1/6, t(0.975, 1) = 12.706, so 0.5 ± 2.1, cut to [0, 1].
    assert capture["seeds"] == 2
    assert capture["low"] == 0.0 and capture["high"] == 1.0
    assert results["curve"]["rules"]["mean"] == [pytest.approx(0.5)]
    three = evaluation.interval([0.2, 0.4, 0.6], share=True)
    # sd 0.2; t(0.975, 2) = 4.303 from the tables: 0.4 ± 0.4968, cut at 0.
    assert three["mean"] == pytest.approx(0.4)
    assert three["low"] == 0.0
    assert three["high"] == pytest.approx(0.4 + 4.303 * 0.2 / 3**0.5, abs=1e-3)
    lift = evaluation.interval([2.0, 3.0, 4.0])
    assert (lift["low"], lift["high"]) == (
        pytest.approx(3 - 4.303 / 3**0.5, abs=1e-3),
        pytest.approx(3 + 4.303 / 3**0.5, abs=1e-3),
    )
    assert evaluation.interval([0.5])["low"] is None
    assert evaluation.interval([None, None])["mean"] is None


def test_the_same_cases_give_the_same_results_and_plot() -> None:
    cases = [Case(seed, TRUTH, {"rules": RULES, "rules_network": {**RULES, "h": 10.0}}) for seed in (1, 2)]
    first, second = evaluation.evaluate(cases), evaluation.evaluate(cases)
    assert first == second
    png = evaluation.plot(first)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert evaluation.plot(second) == png


def test_markdown_table() -> None:
    table = evaluation.markdown_table(one_seed())
    lines = table.splitlines()
    assert lines[0] == (
        "| Method | Budget | Capture | Precision at k | Lift | Capture over rules only | Compliant stopped |"
    )
    assert "| Rules only | 20 % | 33.3% | 50.0% | 1.67 | - | 1.0 (14.3%) |" in lines
    assert "| Random (expected) | 50 % | 50.0% | 30.0% | 1.00 | - | 3.5 (50.0%) |" in lines
    assert lines[-1] == "One seed."


def test_capture_over_rules_only_seed_by_seed() -> None:
    # Network scores put b, e and h first: all three violations in the top 5 where rules
    # only catch two (b and e).
    network = {d: (20.0 if d in VIOLATING else 0.0) + RULES[d] for d in IDS}
    cases = [Case(seed, TRUTH, {"rules": RULES, "rules_network": network}) for seed in (1, 2)]
    results = evaluation.evaluate(cases, budgets=(0.5,), rates=(0.0,))
    over = results["versus"]["rules_network"]["0.5"]
    assert over["mean"] == pytest.approx((3 / 3) / (2 / 3))
    assert set(results["versus"]) == {"rules_network"}
    row = next(r for r in evaluation.table_rows(results) if r[0] == "Rules + network")
    assert row[5].startswith("1.50")
