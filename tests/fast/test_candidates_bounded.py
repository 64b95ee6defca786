"""A candidate list judges the newest CANDIDATES_JUDGED candidates for its reader, not every
one: each is scored again from its entities' visible names, and an attack helper's file of
numbered variants of one name made 571,000 candidates, whose list ran for over ten minutes."""

import json

import pytest

from intel import candidates, import_writing, views
from intel.import_writing import import_file
from intel.models import ResolutionCandidate
from tests.sharing_helpers import staff

pytestmark = pytest.mark.django_db

PAIRS = [
    ("Amber Fruit Trading", "Amber Fruit Tradng"),
    ("Coral Fish Import", "Coral Fish Imprt"),
    ("Delta Nut Export", "Delta Nut Exprt"),
]


def test_the_list_judges_the_newest_candidates_alone(tmp_path, monkeypatch):
    cus = staff("cus")
    for number, (name, variant) in enumerate(PAIRS):
        upload = tmp_path / f"{number}.jsonl"
        rows = [
            {
                "external_ref": f"R-{number}-{n}",
                "category": "shipment",
                "occurred_on": "2026-01-05",
                "importer": {"name": written, "country": "NL"},
            }
            for n, written in enumerate((name, variant))
        ]
        upload.write_text("".join(json.dumps(row) + "\n" for row in rows))
        import_file(upload, cus.agency)  # one file at a time: the later pairs are the newer
    assert ResolutionCandidate.objects.count() == 3
    client = cus.client(purpose="risk_assessment")

    def listed() -> set[str]:
        answer = client.get("/api/candidates/")
        assert answer.status_code == 200, answer.content[:300]
        return {
            side["names"][0].split()[0]
            for row in answer.json()["results"]
            for side in (row["entity_a"], row["entity_b"])
        }

    assert listed() == {"Amber", "Coral", "Delta"}
    monkeypatch.setattr(views, "CANDIDATES_JUDGED", 2)
    assert listed() == {"Coral", "Delta"}


ALIKE = [
    ("Amber Fruit Trading", "Amber Fruit Tradng"),
    ("Coral Fish Import", "Coral Fish Imprt"),
    ("Delta Nut Export", "Delta Nut Exprt"),
    ("Granite Stone Works", "Granite Stone Wrks"),
    # Three letters apart: the least alike of the five pairs.
    ("Harbor Light Marine", "Harbor Light Mar"),
]


def alike_file(path):
    rows = [
        {
            "external_ref": f"A-{number}-{side}",
            "category": "shipment",
            "occurred_on": "2026-01-05",
            "importer": {"name": name, "country": "NL"},
        }
        for number, pair in enumerate(ALIKE)
        for side, name in enumerate(pair)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def candidate_names() -> set[frozenset[str]]:
    pairs = ResolutionCandidate.objects.values_list("entity_a__key", "entity_b__key")
    return {frozenset(key.split(":")[-1].split()[0] for key in pair) for pair in pairs}


def test_an_import_makes_at_most_its_budget_of_candidates_the_most_alike_first(tmp_path, monkeypatch):
    """A file naming thousands of parties all alike made hundreds of candidates per row, for
    minutes: an import makes at most CANDIDATES_AT_LEAST and CANDIDATES_PER_ROW per row, and
    says where it stopped."""
    cus = staff("cus")
    monkeypatch.setattr(import_writing, "CANDIDATES_AT_LEAST", 4)
    monkeypatch.setattr(import_writing, "CANDIDATES_PER_ROW", 0)
    monkeypatch.setattr(candidates, "PAIRS_PER_JUDGING", 1)

    result = import_file(alike_file(tmp_path / "alike.jsonl"), cus.agency)

    assert result.created == 10  # every record, whatever the candidates
    assert ResolutionCandidate.objects.count() == 4
    assert not any("harbor" in names for names in candidate_names())
    (warning,) = result.warnings
    assert warning["message"].startswith("the search for near-duplicates stopped after 4 candidates")


def test_within_its_budget_an_import_makes_every_candidate_and_says_nothing(tmp_path):
    cus = staff("cus")
    result = import_file(alike_file(tmp_path / "alike.jsonl"), cus.agency)
    assert ResolutionCandidate.objects.count() == 5
    assert result.warnings == []


def test_an_import_scores_at_most_its_budget_of_name_pairs_block_by_block(tmp_path, monkeypatch):
    """A file of thousands of parties in one block scored each against every other, for
    minutes, whatever the candidates' budget: the pairs of names scored are bounded too. The
    five pairs sit in five blocks of two names (each name scored against both), in order."""
    cus = staff("cus")
    monkeypatch.setattr(import_writing, "SCORES_AT_LEAST", 10)
    monkeypatch.setattr(import_writing, "SCORES_PER_ROW", 0)

    result = import_file(alike_file(tmp_path / "alike.jsonl"), cus.agency)

    assert result.created == 10
    # Eight scored in the first two blocks; the third has room for one of its names, which
    # finds its pair in the block; the fourth and fifth are not scored.
    assert candidate_names() == {frozenset({"amber"}), frozenset({"coral"}), frozenset({"delta"})}
    (warning,) = result.warnings
    assert warning["message"].startswith("the search for near-duplicates stopped after 3 candidates")
