"""Resolution quality on a small fixed-seed instance of the resolution scenario, imported end
to end (five agencies' files through the import every agency uses) and scored against its
truth (bench/resolution.py). Asserted: the goals of issue 13 that the code meets; the others
are reported as a warning with their figures, so the run shows how far each still is."""

import json
import warnings

import pytest

from bench.resolution import import_scenario, resolve_truth
from demo.resolution_scenario import ResolutionScenario, truth_rows

SEED, ROWS = 1, 800

# Issue 13's goals, per entity type and measure.
GOALS = {
    ("company", "precision"): 0.99,
    ("company", "recall"): 0.97,
    ("company", "remaining_offered"): 0.995,
    ("address", "precision"): 0.99,
    ("address", "recall"): 0.99,
    ("phone", "precision"): 0.99,
    ("phone", "recall"): 0.99,
    ("vessel", "precision"): 0.99,
    ("vessel", "recall"): 0.99,
}
# Those the code meets on this instance; a change that loses one fails here. The others
# (company recall and candidates, address recall) are reported below.
MET = (
    ("company", "precision"),
    ("address", "precision"),
    ("phone", "precision"),
    ("phone", "recall"),
    ("vessel", "precision"),
    ("vessel", "recall"),
)


@pytest.fixture
def resolution(db, tmp_path):
    paths = ResolutionScenario(SEED, ROWS).write(tmp_path, file_format="csv")
    assert sum(import_scenario(paths).values()) == ROWS
    return resolve_truth(truth_rows(tmp_path / "truth.jsonl")), tmp_path / "truth.jsonl"


def test_resolution_quality_against_the_issues_goals(resolution):
    found, truth_path = resolution
    # Every mention the truth names was found in the database, once.
    stated = [json.loads(line)["entities"] for line in truth_path.read_text().splitlines()]
    assert sum(len(entities) for entities in stated) == sum(
        len(items) for items in found.assignments.values()
    )
    assert not found.unmatched and not found.ambiguous
    scores = found.scores()
    assert set(scores) == {"company", "address", "phone", "vessel", "email"}

    for entity_type, measure in MET:
        assert getattr(scores[entity_type], measure) >= GOALS[(entity_type, measure)], (entity_type, measure)
    # None: nothing to measure (no pair left unjoined to offer, say), so nothing missed.
    values = {key: getattr(scores[key[0]], key[1]) for key in GOALS if key not in MET}
    short = {key: value for key, value in values.items() if value is not None and value < GOALS[key]}
    if short:
        warnings.warn(
            f"issue 13 goals not met yet (seed {SEED}, {ROWS} rows): "
            + "; ".join(
                f"{entity_type} {measure} {value:.4f} < {GOALS[(entity_type, measure)]}"
                for (entity_type, measure), value in short.items()
            ),
            stacklevel=1,
        )
