"""A candidate list judges the newest CANDIDATES_JUDGED candidates for its reader, not every
one: each is scored again from its entities' visible names, and an attack helper's file of
numbered variants of one name made 571,000 candidates, whose list ran for over ten minutes."""

import json

import pytest

from intel import views
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
