"""Analysts confirm (merge), undo and reject near-duplicate candidates through the API."""

import pytest
from rest_framework.test import APIClient

from agencies.models import Agency, User
from audit.models import AuditEvent
from intel.models import Entity, EntityMerge, Link, LinkType, Mention, Record, ResolutionCandidate


@pytest.fixture
def scene(db):
    customs = Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
    police = Agency.objects.create(code="pol", name="Police", country="NL", kind="police")
    entities = []
    for i, (owner, name) in enumerate(
        [(customs, "Acme Trading Ltd"), (customs, "Acme Tradng Ltd"), (police, "Acme Trade")]
    ):
        record = Record.objects.create(owner=owner, external_ref=f"R{i}", category="shipment")
        entity = Entity.objects.create(type="company", key=f"NL:name:{name.lower()}", block="NL:acme")
        Mention.objects.create(
            record=record,
            entity=entity,
            role="importer",
            properties={"name": name},
            resolved_key=entity.key,
            search_text=name.lower(),
        )
        entities.append(entity)
    visible = ResolutionCandidate.objects.create(entity_a=entities[0], entity_b=entities[1], score=93.0)
    hidden = ResolutionCandidate.objects.create(entity_a=entities[1], entity_b=entities[2], score=88.0)
    api = APIClient()
    api.force_authenticate(User.objects.create(username="ana", agency=customs, role="analyst"))
    return api, entities, visible, hidden


def test_merge_then_undo_through_the_api(scene):
    api, entities, visible, hidden = scene
    listed = api.get("/api/candidates/").json()["results"]
    assert [row["id"] for row in listed] == [str(visible.public_id)]
    # Every object the answers name is named by its public id; the sides in their order.
    first, second = sorted(entities[:2], key=lambda entity: str(entity.public_id))
    assert (listed[0]["entity_a"]["id"], listed[0]["entity_b"]["id"]) == (
        str(first.public_id),
        str(second.public_id),
    )
    assert api.get(f"/api/candidates/{hidden.public_id}/").status_code == 404
    assert api.post(f"/api/candidates/{hidden.public_id}/merge/").status_code == 404

    response = api.post(f"/api/candidates/{visible.public_id}/merge/", {"survivor": "a"}, format="json")
    assert response.status_code == 201, response.content
    merge_id = response.json()["id"]
    merge = EntityMerge.objects.get()
    assert {key: response.json()[key] for key in ("id", "survivor", "merged", "candidate")} == {
        "id": str(merge.public_id),
        "survivor": str(first.public_id),
        "merged": str(second.public_id),
        "candidate": str(visible.public_id),
    }
    assert api.get(f"/api/entities/{second.public_id}/").status_code == 404
    survivor = api.get(f"/api/entities/{first.public_id}/").json()
    assert set(survivor["names"]) == {"Acme Trading Ltd", "Acme Tradng Ltd"}

    # The merged entity has no mentions left, so the pair is no longer one the analyst can see.
    assert api.post(f"/api/candidates/{visible.public_id}/merge/").status_code == 404

    assert api.post(f"/api/merges/{merge_id}/undo/").status_code == 200
    assert api.get(f"/api/entities/{second.public_id}/").status_code == 200
    undo_again = api.post(f"/api/merges/{merge_id}/undo/")
    assert undo_again.status_code == 400
    assert "already undone" in " ".join(undo_again.json()["detail"])
    assert api.get(f"/api/candidates/{visible.public_id}/").json()["status"] == "open"
    assert set(AuditEvent.objects.values_list("action", flat=True)) >= {"entity.merge", "entity.merge_undone"}


def test_reject_through_the_api(scene):
    api, _, visible, _ = scene
    response = api.post(f"/api/candidates/{visible.public_id}/reject/")
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert api.post(f"/api/candidates/{visible.public_id}/reject/").status_code == 400
    assert AuditEvent.objects.filter(action="entity.candidate_rejected").count() == 1


def test_a_candidate_shows_the_evidence_of_the_callers_own_records(scene):
    api, entities, visible, _ = scene
    customs_records = {entity.pk: entity.mentions.get().record for entity in entities[:2]}
    phone = Entity.objects.create(type="phone", key="+31105550101")
    for entity in entities[:2]:
        record = customs_records[entity.pk]
        Mention.objects.create(
            record=record,
            entity=phone,
            role="phone",
            properties={"number": phone.key},
            resolved_key=phone.key,
        )
        Link.objects.create(record=record, source=entity, target=phone, type=LinkType.CONTACT)
    # The police hold an address for the second company: customs may not see it, nor that it differs.
    police_record = Record.objects.get(external_ref="R2")
    address = Entity.objects.create(type="address", key="NL:1012AB:kerkstraat 1")
    Mention.objects.create(
        record=police_record, entity=entities[1], role="importer", properties={"name": "Acme"}
    )
    Mention.objects.create(record=police_record, entity=address, role="address", properties={"text": "x"})
    Link.objects.create(record=police_record, source=entities[1], target=address, type=LinkType.REGISTERED_AT)
    visible.evidence = {"names": ["stored", "stored"], "shared": {"address": ["NL:1012AB:kerkstraat 1"]}}
    visible.save()

    shown = api.get(f"/api/candidates/{visible.public_id}/").json()
    # The closest names, side a's first: the sides go by public id.
    names = {entities[0].pk: "acme ltd trading", entities[1].pk: "acme ltd tradng"}
    sides = sorted(entities[:2], key=lambda entity: str(entity.public_id))
    assert shown["evidence"] == {
        "names": [names[entity.pk] for entity in sides],
        # "acme trading" against "acme tradng" once the legal form's word is dropped.
        "score_parts": {"name": shown["score"], "name_without_legal_forms": 95.7},
        "shared": {"phone": [str(phone.public_id)]},
        "differ": [],
    }
    assert api.get("/api/candidates/").json()["results"][0]["evidence"] == shown["evidence"]
