"""The owner's staff release a record on its page (it took the API): to no one, to every
covering agreement, or to agreements named, through the API's service and checks; what a
partner then reads follows the rule. Another agency's record, visible or not, is missing
there, as one that does not exist."""

import json
import re

import pytest
from django.test import Client

from intel.import_writing import import_file
from intel.models import Record
from sharing.models import RecordRelease
from tests.sharing_helpers import in_force, staff

pytestmark = pytest.mark.django_db

MADE_UP = "6f1c2e0a-58d4-4b53-9b7e-2d0c9a4e7b31"


@pytest.fixture
def scene(tmp_path):
    cus, pol, tax = staff("cus"), staff("pol", kind="police"), staff("tax", kind="tax")
    upload = tmp_path / "cus.jsonl"
    upload.write_text(
        json.dumps({"external_ref": "C-1", "category": "shipment", "occurred_on": "2026-01-05"}) + "\n"
    )
    import_file(upload, cus.agency)
    in_force((cus, True, True), (pol, True, True), reference="MOU-CP")
    in_force((pol, True, True), (tax, True, True), reference="MOU-PT")
    return cus, pol, tax, Record.objects.get(external_ref="C-1")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def partner_reads(pol, record) -> bool:
    answer = pol.client(purpose="risk_assessment").get(f"/api/records/{record.public_id}/")
    return answer.status_code == 200


def messages_of(response) -> str:
    return " ".join(re.findall(r'<li class="[^"]*">([^<]*)</li>', response.content.decode()))


def test_the_owner_releases_a_record_on_its_page_and_the_partner_reads_it(scene):
    cus, pol, _, record = scene
    client = signed_in(cus.analyst)
    assert (
        f"/records/{record.public_id}/release/"
        in client.get(f"/records/{record.public_id}/").content.decode()
    )
    page = client.get(f"/records/{record.public_id}/release/").content.decode()
    assert re.findall(r'name="agreements" value="([^"]+)"', page) == ["MOU-CP"]  # not pol and tax's
    assert 'id="current">to no one<' in page
    assert not partner_reads(pol, record)

    released = client.post(f"/records/{record.public_id}/release/", {"releasability": "covering"})

    assert released.status_code == 302 and released.url == f"/records/{record.public_id}/"
    record.refresh_from_db()
    assert record.releasability == "covering" and partner_reads(pol, record)

    named = client.post(
        f"/records/{record.public_id}/release/", {"releasability": "named", "agreements": "MOU-CP"}
    )
    assert named.status_code == 302
    assert list(
        RecordRelease.objects.filter(record=record).values_list("agreement__reference", flat=True)
    ) == ["MOU-CP"]
    assert 'value="MOU-CP" checked' in client.get(f"/records/{record.public_id}/release/").content.decode()

    # As a browser sends it: the box named before stays ticked whatever the mode chosen.
    withdrawn = client.post(
        f"/records/{record.public_id}/release/", {"releasability": "none", "agreements": "MOU-CP"}
    )
    assert withdrawn.status_code == 302 and not partner_reads(pol, record)
    assert not RecordRelease.objects.filter(record=record).exists()  # kept before, onward ones with it


def test_agreements_are_named_with_a_named_release_alone(scene):
    cus, _, _, record = scene
    for mode in ("none", "covering"):
        refused = cus.client().post(
            f"/api/records/{record.public_id}/release/",
            {"releasability": mode, "agreements": ["MOU-CP"]},
            format="json",
        )
        assert refused.status_code == 400 and "agreements" in refused.json()
    record.refresh_from_db()
    assert record.releasability == "none" and not RecordRelease.objects.exists()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"releasability": "named"}, "agreements: name at least one agreement to release to"),
        ({"releasability": "named", "agreements": "MOU-PT"}, "agreements: "),  # not cus's to know
        ({"releasability": "named", "agreements": "MOU-NONE"}, "agreements: "),
        ({"releasability": "everyone"}, "releasability: "),
    ],
)
def test_a_release_refused_says_why_and_changes_nothing(scene, body, says):
    cus, _, _, record = scene
    refused = signed_in(cus.analyst).post(f"/records/{record.public_id}/release/", body)
    assert refused.status_code == 400
    assert says in messages_of(refused)
    record.refresh_from_db()
    assert record.releasability == "none" and not RecordRelease.objects.exists()


def test_a_reference_hidden_from_the_owner_is_refused_as_one_that_does_not_exist(scene):
    cus, _, _, record = scene
    client = signed_in(cus.analyst)
    hidden = client.post(
        f"/records/{record.public_id}/release/", {"releasability": "named", "agreements": "MOU-PT"}
    )
    missing = client.post(
        f"/records/{record.public_id}/release/", {"releasability": "named", "agreements": "MOU-NONE"}
    )
    assert messages_of(hidden).replace("MOU-PT", "X") == messages_of(missing).replace("MOU-NONE", "X")


def test_another_agencys_record_is_missing_on_the_release_page_even_when_it_may_read_it(scene):
    cus, pol, _, record = scene
    signed_in(cus.analyst).post(f"/records/{record.public_id}/release/", {"releasability": "covering"})
    assert partner_reads(pol, record)
    client = signed_in(pol.analyst)
    for method in ("get", "post"):
        theirs = getattr(client, method)(f"/records/{record.public_id}/release/")
        made_up = getattr(client, method)(f"/records/{MADE_UP}/release/")
        assert theirs.status_code == made_up.status_code == 404
        assert theirs.content == made_up.content
    assert "/release/" not in client.get(f"/records/{record.public_id}/").content.decode()
    record.refresh_from_db()
    assert record.releasability == "covering"
