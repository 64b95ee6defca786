"""A record's page shows its details as a person reads them (labels, codes joined) and calls
each entity what the record states of it, not the index's lower-cased words."""

import json

import pytest
from django.test import Client

from intel.import_writing import import_file
from intel.models import Record
from tests.sharing_helpers import staff

pytestmark = pytest.mark.django_db


def test_details_read_as_labels_and_text_and_entities_by_what_the_record_states(tmp_path):
    cus = staff("cus")
    row = {
        "external_ref": "SHP-0001",
        "category": "shipment",
        "occurred_on": "2026-01-05",
        "importer": {"name": "Harbour Fish BV", "country": "NL", "phone": "010 555 0199"},
        "port_of_loading": "ECGYE",
        "hs_codes": "0803.90;080310",
        "declared_value": "18400",
        "currency": "EUR",
        "container_numbers": "MSKU1234565",
    }
    upload = tmp_path / "one.jsonl"
    upload.write_text(json.dumps(row) + "\n")
    import_file(upload, cus.agency)
    record = Record.objects.get(external_ref="SHP-0001")
    client = Client()
    client.force_login(cus.analyst)

    page = client.get(f"/records/{record.public_id}/").content.decode()

    assert "<dt>Port of loading</dt><dd>ECGYE</dd>" in page
    assert "<dt>HS codes</dt><dd>080390, 080310</dd>" in page
    assert "<dt>Declared value</dt><dd>18400</dd>" in page
    assert "port_of_loading" not in page and "[&#x27;" not in page
    assert ">Harbour Fish BV</a>" in page
    assert ">MSKU1234565</a>" in page and ">msku1234565<" not in page
    assert ">+31105550199</a>" in page
