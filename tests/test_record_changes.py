"""Change and delete rights on records are guardian permissions held by the owner's group."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from agencies.models import Agency, User
from audit.models import AuditEvent
from intel.import_writing import import_file
from intel.models import Record, RecordGroupObjectPermission
from tests.test_import import EXAMPLES


@pytest.fixture
def scene(db):
    customs = Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
    police = Agency.objects.create(code="pol", name="Police", country="NL", kind="police")
    tax = Agency.objects.create(code="tax", name="Tax", country="NL", kind="tax")
    import_file(EXAMPLES / "shipments.csv", customs)
    record = Record.objects.get(external_ref="SHP-0001")
    view = Permission.objects.get(codename="view_record", content_type__app_label="intel")
    RecordGroupObjectPermission.objects.create(content_object=record, group=police.group, permission=view)
    clients = {}
    for agency in (customs, police, tax):
        client = APIClient()
        client.force_authenticate(
            User.objects.create(username=f"{agency.code}-a", agency=agency, role="analyst")
        )
        clients[agency.code] = client
    return record, clients


def test_the_owner_changes_a_record_and_the_change_is_audited(scene):
    record, clients = scene
    response = clients["cus"].patch(
        f"/api/records/{record.public_id}/",
        {"summary": "Re-assessed", "caveats": ["no_onward_sharing"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["summary"] == "Re-assessed"
    record.refresh_from_db()
    assert record.caveats == ["no_onward_sharing"]
    assert AuditEvent.objects.filter(action="record.update", object_id=str(record.pk)).exists()


def test_a_partner_that_may_read_may_not_change_and_a_stranger_learns_nothing(scene):
    record, clients = scene
    url = f"/api/records/{record.public_id}/"
    assert clients["pol"].get(url).status_code == 200
    assert clients["pol"].patch(url, {"summary": "x"}, format="json").status_code == 403
    assert clients["pol"].delete(url).status_code == 403
    assert clients["tax"].patch(url, {"summary": "x"}, format="json").status_code == 404
    assert clients["tax"].delete(url).status_code == 404
    record.refresh_from_db()
    assert record.summary != "x"


def test_bad_changes_name_the_field(scene):
    record, clients = scene
    url = f"/api/records/{record.public_id}/"
    response = clients["cus"].patch(url, {"caveats": ["whatever"]}, format="json")
    assert response.status_code == 400
    assert "caveats" in response.json()


def test_the_owner_deletes_a_record_with_its_mentions_and_links(scene):
    record, clients = scene
    assert clients["cus"].delete(f"/api/records/{record.public_id}/").status_code == 204
    assert not Record.objects.filter(pk=record.pk).exists()
    assert AuditEvent.objects.filter(action="record.delete", object_id=str(record.pk)).exists()
