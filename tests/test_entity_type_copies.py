"""Every mention and link keeps a copy of its entities' types, which the visibility rule
tests in place of a join to the entities: whichever path wrote the row (an import, its
re-import with other parties, a merge and its undo, the ORM's create and bulk_create), the
copy equals the entity's type. And every link lies in a record that mentions both its ends
with the link's copies of their types: a record names what it links. The oracles read the
tables by SQL; the types a row's parties have are written by hand."""

import json
from pathlib import Path

import pytest
from django.db import connection

from agencies.models import Agency, User
from intel.import_writing import import_file
from intel.merging import merge_entities, undo_merge
from intel.models import Entity, Link, LinkType, Mention, Record
from intel.services import delete_record
from sharing import releases
from tests.sharing_helpers import in_force, staff

pytestmark = pytest.mark.django_db

ROW = {
    "external_ref": "CUS-1",
    "category": "shipment",
    "occurred_on": "2026-06-01",
    "importer": {
        "name": "Harbourline Fresh B.V.",
        "country": "NL",
        "phone": "+31 10 555 0199",
        "email": "ops@harbourline.example",
        "address": "Waalhaven 12",
    },
    "exporter": {"name": "Andes Produce S.A.", "country": "EC"},
    "subject": [{"name": "Jan de Vries", "nationality": "NL", "date_of_birth": "1980-03-14"}],
    "vessel_imo": "IMO 9074729",
    "container_numbers": ["CSQU3054383"],
}


def copies_that_differ() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT 'mention', m.id FROM intel_mention m JOIN intel_entity e ON e.id = m.entity_id
            WHERE m.entity_type <> e.type
            UNION ALL
            SELECT 'link', l.id FROM intel_link l
            JOIN intel_entity s ON s.id = l.source_id JOIN intel_entity t ON t.id = l.target_id
            WHERE l.source_type <> s.type OR l.target_type <> t.type
            """
        )
        return cursor.fetchall()


def links_with_an_end_unmentioned() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT l.id, l.source_id, l.target_id FROM intel_link l
            WHERE NOT EXISTS (SELECT 1 FROM intel_mention m WHERE m.record_id = l.record_id
                              AND m.entity_id = l.source_id AND m.entity_type = l.source_type)
               OR NOT EXISTS (SELECT 1 FROM intel_mention m WHERE m.record_id = l.record_id
                              AND m.entity_id = l.target_id AND m.entity_type = l.target_type)
            """
        )
        return cursor.fetchall()


def write(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def agency():
    return Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")


def test_an_import_and_its_reimport_copy_every_type(tmp_path, agency):
    import_file(write(tmp_path, [ROW, {**ROW, "external_ref": "CUS-2"}]), agency)
    record = Record.objects.get(external_ref="CUS-1")
    by_role = dict(Mention.objects.filter(record=record).values_list("role", "entity_type"))
    assert by_role == {
        "importer": "company",
        "exporter": "company",
        "subject": "person",
        "phone": "phone",
        "email": "email",
        "address": "address",
        "vessel": "vessel",
        "container": "container",
        "shipment": "shipment",
    }
    contact = {
        (source, target)
        for source, target in Link.objects.filter(record=record, type=LinkType.CONTACT).values_list(
            "source_type", "target_type"
        )
    }
    assert contact == {("company", "phone"), ("company", "email")}
    assert copies_that_differ() == []

    # The same record re-imported with other parties: its rows are written again.
    changed = {
        **ROW,
        "importer": {
            "name": "Jan de Vries",
            "type": "person",
            "nationality": "NL",
            "date_of_birth": "1980-03-14",
            "phone": "+31 10 555 0100",
        },
    }
    import_file(write(tmp_path, [changed]), agency)
    importer = Mention.objects.get(record=record, role="importer")
    assert importer.entity_type == "person"
    assert copies_that_differ() == []
    assert links_with_an_end_unmentioned() == []
    assert Mention.objects.filter(entity_type="").count() == Link.objects.filter(source_type="").count() == 0


def test_a_merge_and_its_undo_keep_the_copies(tmp_path, agency):
    analyst = User.objects.create_user(username="ana", password="x", agency=agency, role=User.Role.ANALYST)
    typo = {**ROW, "external_ref": "CUS-3", "importer": {**ROW["importer"], "name": "Harbourline Frsh B.V."}}
    both = {**ROW, "external_ref": "CUS-4", "consignee": {"name": "Harbourline Frsh B.V.", "country": "NL"}}
    import_file(write(tmp_path, [ROW, typo, both]), agency)
    survivor, merged = (
        Mention.objects.get(record__external_ref=ref, role="importer").entity for ref in ("CUS-1", "CUS-3")
    )
    assert survivor != merged
    assert links_with_an_end_unmentioned() == []
    merge = merge_entities(survivor, merged, analyst)
    assert copies_that_differ() == []
    assert links_with_an_end_unmentioned() == []
    undo_merge(merge, analyst)
    assert copies_that_differ() == []
    assert links_with_an_end_unmentioned() == []
    assert set(Mention.objects.filter(entity=merged).values_list("entity_type", flat=True)) == {"company"}


def test_a_fold_on_import_and_a_record_deleted_leave_every_link_in_a_record_naming_its_ends(tmp_path, agency):
    named = {**ROW, "external_ref": "CUS-5", "importer": {**ROW["importer"], "reg_no": "NL853746333B01"}}
    import_file(write(tmp_path, [ROW]), agency)
    by_name = Mention.objects.get(record__external_ref="CUS-1", role="importer").entity
    # The name-keyed company meets its registration number and folds into the registered one.
    import_file(write(tmp_path, [named]), agency)
    assert Entity.objects.get(pk=by_name.pk).merged_into_id is not None
    assert Link.objects.filter(record__external_ref="CUS-1", source_type="company").exists()
    assert links_with_an_end_unmentioned() == []
    analyst = User.objects.create_user(username="ana", password="x", agency=agency, role=User.Role.ANALYST)
    delete_record(Record.objects.get(external_ref="CUS-5"), analyst)
    assert not Record.objects.filter(external_ref="CUS-5").exists()
    assert links_with_an_end_unmentioned() == []


def test_the_orm_paths_fill_the_copies(agency):
    record = Record.objects.create(owner=agency, external_ref="R-1", category="shipment")
    vessel = Entity.objects.create(type="vessel", key="imo:9074729")
    company = Entity.objects.create(type="company", key="NL:name:acme")
    phone = Entity.objects.create(type="phone", key="+31105550199")
    Mention.objects.create(record=record, entity=vessel, role="vessel", resolved_key=vessel.key)
    Mention.objects.bulk_create(
        [
            Mention(record=record, entity=company, role="importer", resolved_key=company.key),
            Mention(record=record, entity=phone, role="phone", resolved_key=phone.key),
        ]
    )
    Link.objects.create(record=record, source=company, target=vessel, type=LinkType.OWNS)
    Link.objects.bulk_create([Link(record=record, source=company, target=phone, type=LinkType.CONTACT)])
    assert dict(Mention.objects.values_list("role", "entity_type")) == {
        "vessel": "vessel",
        "importer": "company",
        "phone": "phone",
    }
    assert set(Link.objects.values_list("type", "source_type", "target_type")) == {
        ("OWNS", "company", "vessel"),
        ("CONTACT", "company", "phone"),
    }
    assert copies_that_differ() == []


def test_a_copy_that_is_no_type_is_seen_by_no_one(tmp_path):
    """The rule names the types it admits, not those it redacts: a copy left blank (no
    writer does so; a raw update could) hides the row from the partner whose agreement
    redacts phones, and from its owner too, rather than showing it to everyone."""
    cus, pol = staff("cus"), staff("pol", kind="police")
    import_file(write(tmp_path, [ROW]), cus.agency)
    record = Record.objects.get(external_ref="CUS-1")
    releases.set_releasability(record, cus.analyst, "covering")
    in_force((cus, True, False), (pol, False, True), redacted_fields=["phone"])
    phone_mention = Mention.objects.get(record=record, role="phone")
    phone_link = Link.objects.get(record=record, target_type="phone")
    company_mention = Mention.objects.get(record=record, role="importer")

    def seen(user) -> set[tuple[str, int]]:
        """Each row seen, by either way of asking the rule, named by its model."""
        return {
            (model.__name__, pk)
            for model in (Mention, Link)
            for asked in (
                model.objects.visible_to(user, "investigation").values_list("pk", flat=True),
                model.objects.all().visible_ids(user, "investigation"),
            )
            for pk in asked
        }

    phone, link, company = (
        ("Mention", phone_mention.pk),
        ("Link", phone_link.pk),
        ("Mention", company_mention.pk),
    )
    assert phone not in seen(pol.analyst) and company in seen(pol.analyst)
    assert {phone, link} <= seen(cus.analyst)
    Mention.objects.filter(pk=phone_mention.pk).update(entity_type="")
    Link.objects.filter(pk=phone_link.pk).update(target_type="")
    for user in (pol.analyst, cus.analyst):
        assert phone not in seen(user) and link not in seen(user)
        assert company in seen(user)
