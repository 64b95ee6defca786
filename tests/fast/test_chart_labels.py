"""A graph answer labels each entity as the dossier does, from what the viewer's own visible
records state: its names, else the identifier they state (an address and postcode, a
number), else its key. The link chart showed unnamed entities by their internal keys."""

import json

import pytest

from intel.import_writing import import_file
from intel.models import Record
from tests.sharing_helpers import staff

pytestmark = pytest.mark.django_db


def imported(tmp_path, owner, rows: list[dict]) -> None:
    upload = tmp_path / f"{owner.agency.code}.jsonl"
    upload.write_text("".join(json.dumps(row) + "\n" for row in rows))
    import_file(upload, owner.agency)


def test_unnamed_entities_are_labelled_by_what_the_viewers_records_state(tmp_path):
    cus, pol = staff("cus"), staff("pol", kind="police")
    importer = {"name": "Harbour Fish BV", "country": "NL", "phone": "+31 10 555 0101"}
    address = {"address": "12 Harbour Street", "postcode": "3011 AB"}
    imported(
        tmp_path,
        cus,
        [
            {
                "external_ref": "C-1",
                "category": "shipment",
                "occurred_on": "2026-01-05",
                "importer": {**importer, **address},
            }
        ],
    )
    # pol states the same phone; cus may not see pol's record.
    imported(
        tmp_path,
        pol,
        [
            {
                "external_ref": "P-1",
                "category": "shipment",
                "occurred_on": "2026-01-06",
                "importer": {"name": "Harbour Fish B.V.", "country": "NL", "phone": "0105550101"},
            }
        ],
    )
    company = Record.objects.get(external_ref="C-1").mentions.get(role="importer").entity

    answer = cus.client(purpose="risk_assessment").get(
        f"/api/graph/entities/{company.public_id}/neighbourhood/", {"hops": "1"}
    )

    assert answer.status_code == 200, answer.content[:300]
    labels = {node["type"]: node["label"] for node in answer.json()["nodes"]}
    assert labels["company"] == "Harbour Fish BV"  # not pol's "Harbour Fish B.V."
    assert labels["phone"] == "+31105550101"
    assert labels["address"] == "12 Harbour Street 3011AB"  # the postcode as stored, compacted
    assert labels["shipment"] == "C-1"
