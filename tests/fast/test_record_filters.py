"""The record list's classification filter takes a level by its number, as records are
listed, or by its name, as files are imported (`?classification=secret` was a 400)."""

import json

import pytest

from intel.import_writing import import_file
from tests.sharing_helpers import staff

pytestmark = pytest.mark.django_db

LEVELS = {"C-0": "unclassified", "C-1": "restricted", "C-2": "confidential", "C-3": "secret", "C-4": "secret"}


@pytest.fixture
def client(tmp_path):
    cus = staff("cus")
    upload = tmp_path / "levels.jsonl"
    rows = (
        {"external_ref": ref, "category": "shipment", "occurred_on": "2026-01-05", "classification": level}
        for ref, level in LEVELS.items()
    )
    upload.write_text("".join(json.dumps(row) + "\n" for row in rows))
    import_file(upload, cus.agency)
    return cus.client(purpose="risk_assessment")


@pytest.mark.parametrize(
    ("asked", "refs"),
    [
        ("secret", {"C-3", "C-4"}),
        ("Secret", {"C-3", "C-4"}),
        ("CONFIDENTIAL", {"C-2"}),
        ("3", {"C-3", "C-4"}),
        ("confidential", {"C-2"}),
        ("2", {"C-2"}),
        ("unclassified", {"C-0"}),
        ("0", {"C-0"}),
    ],
)
def test_a_level_is_asked_by_name_or_by_number(client, asked, refs):
    for path in ("/api/records/", "/api/records/export/"):
        answer = client.get(path, {"classification": asked})
        assert answer.status_code == 200, (path, answer.content[:300])
    listed = client.get("/api/records/", {"classification": asked}).json()["results"]
    assert {record["external_ref"] for record in listed} == refs


@pytest.mark.parametrize("asked", ["top-secret", "4", "-1", "Secret "])
def test_a_level_that_is_none_is_refused_naming_the_filter(client, asked):
    refused = client.get("/api/records/", {"classification": asked})
    assert refused.status_code == 400
    assert list(refused.json()) == ["classification"]


def test_an_empty_level_asks_for_no_filter_as_every_filter_of_the_list_takes_it(client):
    assert len(client.get("/api/records/", {"classification": ""}).json()["results"]) == len(LEVELS)
