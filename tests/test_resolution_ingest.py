"""Resolution on ingest neither splits nor fuses: files imported through the real import
path, the entities their rows land on, the automatic folds (recorded, audited, undoable)
and the candidates with their evidence."""

import csv
from pathlib import Path

import pytest

from agencies.models import User
from audit.log import verify_chain
from audit.models import AuditEvent
from intel.candidates import find_candidates
from intel.import_validation import RowPlan
from intel.import_writing import ImportResult, import_file, write_chunk
from intel.merging import undo_merge
from intel.models import Category, Entity, EntityMerge, Mention, ResolutionCandidate, Role
from intel.resolution import resolve_person, resolve_shipment
from intel.rights import owner_right_ids

pytestmark = pytest.mark.django_db

COLUMNS = [
    "external_ref",
    "category",
    "occurred_on",
    "importer_name",
    "importer_country",
    "importer_reg_no",
    "importer_address",
    "importer_postcode",
    "importer_phone",
]


def import_rows(tmp_path: Path, agency, *rows: dict, user=None, name: str = "batch.csv") -> None:
    path = tmp_path / name
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, COLUMNS)
        writer.writeheader()
        for values in rows:
            writer.writerow({"category": "shipment", "occurred_on": "2026-03-01", **values})
    import_file(path, agency, user=user)


def importer(ref: str, agency=None) -> Entity:
    """The entity the importer of the record `ref` is mentioned as, now."""
    mentions = Mention.objects.filter(record__external_ref=ref, role="importer")
    if agency is not None:
        mentions = mentions.filter(record__owner=agency)
    return mentions.select_related("entity").get().entity


def candidates_of(entity: Entity) -> set[int]:
    pairs = ResolutionCandidate.objects.filter(status="open").values_list("entity_a_id", "entity_b_id")
    return {b if a == entity.pk else a for a, b in pairs if entity.pk in (a, b)}


@pytest.fixture
def admin(db) -> User:
    return User.objects.create_superuser(username="root", password="x")


# --- companies never split -----------------------------------------------------------


def test_a_company_named_without_its_number_joins_the_one_registered_company(tmp_path, cus, pol):
    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "C-1",
            "importer_name": "Haven Logistik GmbH",
            "importer_country": "DE",
            "importer_reg_no": "HRB 12345",
        },
    )
    # Another agency's file, the legal form spelled out and transliterated, no number.
    import_rows(
        tmp_path,
        pol.agency,
        {
            "external_ref": "P-1",
            "importer_name": "HAVEN LOGISTIK Gesellschaft mit beschraenkter Haftung",
            "importer_country": "DE",
        },
        user=pol.analyst,
    )
    registered = Entity.objects.get(type="company", key="DE:reg:HRB12345")
    assert importer("C-1") == registered
    assert importer("P-1") == registered
    # The police mention resolves to the name alone: it does not show the number as its key.
    assert (
        Mention.objects.get(record__external_ref="P-1", role="importer").resolved_key
        == "DE:name:gmbh haven logistik"
    )

    fold = EntityMerge.objects.get()
    assert (fold.survivor, fold.merged.key, fold.automatic, fold.merged_by) == (
        registered,
        "DE:name:gmbh haven logistik",
        True,
        None,
    )
    assert fold.agency_id == pol.agency.pk
    event = AuditEvent.objects.get(action="entity.merge")
    # No person decided the fold: no actor; the import that led to it is named.
    assert (event.actor_id, event.agency_id) == (None, pol.agency.pk)
    assert event.details["automatic"] is True
    assert event.details["imported_by"] == pol.analyst.pk
    assert event.details["identity"] == "company:DE:gmbh haven logistik"
    assert not list(verify_chain())


def test_a_name_keyed_company_folds_into_the_registered_one_when_it_meets_its_number(tmp_path, cus, admin):
    first = [
        {"external_ref": "N-1", "importer_name": "Rotterdam Reefer B.V.", "importer_country": "NL"},
        {"external_ref": "N-2", "importer_name": "ROTTERDAM REEFER BV", "importer_country": "NL"},
    ]
    import_rows(tmp_path, cus.agency, *first, name="first.csv")
    by_name = importer("N-1")
    assert importer("N-2") == by_name and by_name.key == "NL:name:bv reefer rotterdam"

    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "R-1",
            "importer_name": "Rotterdam Reefer besloten vennootschap",
            "importer_country": "NL",
            "importer_reg_no": "KvK 24412345",
        },
        name="second.csv",
    )
    registered = Entity.objects.get(type="company", key="NL:reg:KVK24412345")
    assert {importer("N-1"), importer("N-2"), importer("R-1")} == {registered}
    fold = EntityMerge.objects.get(automatic=True)
    assert (fold.survivor_id, fold.merged_id, fold.undone_at) == (registered.pk, by_name.pk, None)
    by_name.refresh_from_db()
    assert by_name.merged_into_id == registered.pk

    # Importing the first file again lands on the registered company, and changes nothing.
    import_rows(tmp_path, cus.agency, *first, name="first.csv")
    assert {importer("N-1"), importer("N-2")} == {registered}
    assert EntityMerge.objects.count() == 1

    # The fold is a merge like any other: undone, the name-keyed company stands again.
    undo_merge(fold, admin)
    assert {importer("N-1"), importer("N-2")} == {by_name}
    assert importer("R-1") == registered
    assert Entity.objects.get(pk=by_name.pk).merged_into_id is None
    assert AuditEvent.objects.get(action="entity.merge_undone").actor_id == admin.pk
    assert not list(verify_chain())

    # A person said they are not one: later rows do not fold them again.
    import_rows(
        tmp_path,
        cus.agency,
        {"external_ref": "N-3", "importer_name": "Rotterdam Reefer B.V.", "importer_country": "NL"},
        name="third.csv",
    )
    assert importer("N-3") == by_name
    assert EntityMerge.objects.count() == 1


def test_a_fold_never_joins_what_the_agencys_own_records_do_not(tmp_path, cus, tax):
    # TAX's records give the company 555 the name "Bravo Shiping"; CUS's own call it
    # "Bravo Shipping". CUS's "Bravo Shiping" without a number is not joined to 555: that
    # would show CUS two of its records as one company on TAX's word.
    import_rows(
        tmp_path,
        tax.agency,
        {
            "external_ref": "T-1",
            "importer_name": "Bravo Shiping",
            "importer_country": "NL",
            "importer_reg_no": "555",
        },
    )
    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "C-1",
            "importer_name": "Bravo Shipping",
            "importer_country": "NL",
            "importer_reg_no": "555",
        },
        {"external_ref": "C-2", "importer_name": "Bravo Shiping", "importer_country": "NL"},
    )
    registered = importer("C-1")
    assert importer("T-1") == registered
    named = importer("C-2")
    assert named.key == "NL:name:bravo shiping"
    assert candidates_of(named) == {registered.pk}
    assert not EntityMerge.objects.exists()


def test_a_fold_on_another_agencys_word_ends_when_the_agency_names_the_company_otherwise(tmp_path, cus, pol):
    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "C-1",
            "importer_name": "Delta Freight B.V.",
            "importer_country": "NL",
            "importer_reg_no": "KvK 55556666",
        },
    )
    import_rows(
        tmp_path,
        pol.agency,
        {"external_ref": "P-1", "importer_name": "Delta Freight BV", "importer_country": "NL"},
        name="first.csv",
    )
    registered = importer("C-1")
    assert importer("P-1") == registered
    # POL's own records now give the number under another name: its name-only mention no
    # longer rests on its own records, and the fold is undone.
    import_rows(
        tmp_path,
        pol.agency,
        {
            "external_ref": "P-2",
            "importer_name": "Delta Freight Rotterdam",
            "importer_country": "NL",
            "importer_reg_no": "KvK 55556666",
        },
        name="second.csv",
    )
    assert importer("P-2") == registered
    assert importer("P-1").key == "NL:name:bv delta freight"
    assert EntityMerge.objects.get().undone_at is not None


# --- companies never fused -------------------------------------------------------------


def test_same_named_companies_with_different_numbers_stay_apart_and_a_name_alone_joins_neither(tmp_path, cus):
    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "A-1",
            "importer_name": "Nordwind Handel GmbH",
            "importer_country": "DE",
            "importer_reg_no": "HRB 1001",
        },
        {
            "external_ref": "B-1",
            "importer_name": "Nordwind Handel GmbH",
            "importer_country": "DE",
            "importer_reg_no": "HRB 2002",
        },
        {
            "external_ref": "X-1",
            "importer_name": "Nordwind Handel Gesellschaft mit beschränkter Haftung",
            "importer_country": "DE",
        },
    )
    first, second, unknown = importer("A-1"), importer("B-1"), importer("X-1")
    assert len({first.pk, second.pk, unknown.pk}) == 3
    assert unknown.key == "DE:name:gmbh handel nordwind"
    assert not EntityMerge.objects.exists()
    # The name-only company is offered as possibly each of them, with what scored it.
    assert candidates_of(unknown) == {first.pk, second.pk}
    assert first.pk not in candidates_of(second), "two registration numbers are two companies"
    for candidate in ResolutionCandidate.objects.all():
        assert candidate.score == 100
        assert candidate.evidence["names"] == ["gmbh handel nordwind", "gmbh handel nordwind"]
        assert candidate.evidence["score_parts"] == {"name": 100.0, "name_without_legal_forms": 100.0}
        assert candidate.evidence["reason"] == "the identity does not say which entity"


def test_a_fold_is_undone_when_a_second_registered_company_of_the_name_appears(tmp_path, cus):
    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "A-1",
            "importer_name": "Baltic Star Logistics B.V.",
            "importer_country": "NL",
            "importer_reg_no": "KvK 11112222",
        },
        {"external_ref": "X-1", "importer_name": "Baltic Star Logistics BV", "importer_country": "NL"},
        name="first.csv",
    )
    first = importer("A-1")
    assert importer("X-1") == first

    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "B-1",
            "importer_name": "Baltic Star Logistics B.V.",
            "importer_country": "NL",
            "importer_reg_no": "KvK 33334444",
        },
        name="second.csv",
    )
    second, unknown = importer("B-1"), importer("X-1")
    assert len({first.pk, second.pk, unknown.pk}) == 3
    assert unknown.key == "NL:name:baltic bv logistics star"
    assert Mention.objects.filter(entity=first).count() == 1
    fold = EntityMerge.objects.get()
    assert fold.automatic and fold.undone_at is not None and fold.undone_by is None
    assert AuditEvent.objects.get(action="entity.merge_undone").actor_id is None
    assert candidates_of(unknown) == {first.pk, second.pk}


def test_same_named_companies_at_different_addresses_are_not_fused_without_numbers(tmp_path, cus):
    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "Z-1",
            "importer_name": "Zuidhaven Trading B.V.",
            "importer_country": "NL",
            "importer_address": "Havenstraat 1, Rotterdam",
            "importer_postcode": "3011 AA",
            "importer_phone": "010 555 0101",
        },
        {
            "external_ref": "Z-2",
            "importer_name": "Zuidhaven Trading BV",
            "importer_country": "NL",
            "importer_address": "Kerkweg 99, Groningen",
            "importer_postcode": "9711 ZZ",
        },
        {
            "external_ref": "Z-3",
            "importer_name": "ZUIDHAVEN TRADING B.V.",
            "importer_country": "NL",
            "importer_address": "havenstr. 1 rotterdam",
            "importer_postcode": "3011AA",
        },
        # Named alone: two companies of the name are known, so it joins neither.
        {"external_ref": "Z-4", "importer_name": "Zuidhaven Trading B.V.", "importer_country": "NL"},
    )
    rotterdam, groningen, unknown = importer("Z-1"), importer("Z-2"), importer("Z-4")
    assert importer("Z-3") == rotterdam, "one address, spelled two ways"
    assert len({rotterdam.pk, groningen.pk, unknown.pk}) == 3
    assert candidates_of(unknown) == {rotterdam.pk, groningen.pk}
    pair = ResolutionCandidate.objects.get(
        entity_a_id=min(rotterdam.pk, groningen.pk), entity_b_id=max(rotterdam.pk, groningen.pk)
    )
    assert pair.evidence["differ"] == ["address"]
    assert pair.evidence["shared"] == {}
    assert pair.evidence["reason"] == "similar names"


def test_a_company_named_alone_joins_the_one_company_of_its_name_known_with_an_address(tmp_path, cus):
    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "K-1",
            "importer_name": "Kustlijn Shipping B.V.",
            "importer_country": "NL",
            "importer_address": "Dijkweg 5, Vlissingen",
            "importer_postcode": "4381 AB",
        },
        {"external_ref": "K-2", "importer_name": "Kustlijn Shipping BV", "importer_country": "NL"},
    )
    assert importer("K-2") == importer("K-1")
    assert EntityMerge.objects.get().automatic


@pytest.mark.parametrize("later", ["cus", "pol"])
def test_a_fold_its_address_settles_stands_when_a_later_file_names_only_the_shared_name(
    tmp_path, cus, pol, later
):
    """Two registered companies share a name; a third row names it at the first's address
    and no number, which makes it the first. A later file, of the same agency or another,
    naming only the name (which says neither) leaves that fold standing: each file is one
    chunk here, so a judgement made on the chunk's identities alone undid it."""
    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "L-1",
            "importer_name": "Lekstroom Motors B.V.",
            "importer_country": "NL",
            "importer_reg_no": "KvK 11112222",
            "importer_address": "Dijkweg 5, Vlissingen",
            "importer_postcode": "4381 AB",
        },
        {
            "external_ref": "L-2",
            "importer_name": "Lekstroom Motors B.V.",
            "importer_country": "NL",
            "importer_reg_no": "KvK 33334444",
            "importer_address": "Kerkweg 99, Groningen",
            "importer_postcode": "9711 ZZ",
        },
        {
            "external_ref": "L-3",
            "importer_name": "LEKSTROOM MOTORS BV",
            "importer_country": "NL",
            "importer_address": "dijkweg 5 vlissingen",
            "importer_postcode": "4381AB",
        },
        name="first.csv",
    )
    first, second = importer("L-1"), importer("L-2")
    assert first != second
    assert importer("L-3") == first, "its name at the first's address is the first"

    agency = {"cus": cus, "pol": pol}[later].agency
    import_rows(
        tmp_path,
        agency,
        {"external_ref": "L-9", "importer_name": "Lekstroom Motors BV", "importer_country": "NL"},
        name="later.csv",
    )
    alone = importer("L-9", agency)
    assert alone not in (first, second)
    assert candidates_of(alone) >= {first.pk, second.pk}
    assert importer("L-3", cus.agency) == first, "the fold stands"
    assert not EntityMerge.objects.filter(undone_at__isnull=False).exists()


# --- candidates the candidate search must not miss ------------------------------------


def test_an_entity_unfolded_is_compared_with_what_came_while_it_was_folded(tmp_path, cus):
    # The name at an address folds into the one registered company of the name.
    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "R-1",
            "importer_name": "Baltic Star Logistics B.V.",
            "importer_country": "NL",
            "importer_reg_no": "KvK 11112222",
        },
        {
            "external_ref": "Y-1",
            "importer_name": "Baltic Star Logistics BV",
            "importer_country": "NL",
            "importer_address": "Havenstraat 1, Rotterdam",
        },
        name="first.csv",
    )
    registered, at_address = importer("R-1"), Entity.objects.get(key__startswith="NL:name:")
    assert at_address.merged_into == registered
    # A near spelling (another identity, never folded) meets only what stands: the registered one.
    import_rows(
        tmp_path,
        cus.agency,
        {"external_ref": "N-1", "importer_name": "Baltic Star Logistic BV", "importer_country": "NL"},
        name="second.csv",
    )
    near = importer("N-1")
    assert candidates_of(near) == {registered.pk}
    # A second registered company of the name: the fold is undone, and the entity standing
    # again is compared with the near spelling too, not only offered to the two registered.
    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "B-1",
            "importer_name": "Baltic Star Logistics B.V.",
            "importer_country": "NL",
            "importer_reg_no": "KvK 33334444",
        },
        name="third.csv",
    )
    second = importer("B-1")
    at_address.refresh_from_db()
    assert at_address.merged_into is None and importer("Y-1") == at_address
    assert candidates_of(at_address) == {registered.pk, second.pk, near.pk}
    assert candidates_of(near) == {registered.pk, second.pk, at_address.pk}
    evidence = ResolutionCandidate.objects.get(
        entity_a=min(near.pk, at_address.pk), entity_b=max(near.pk, at_address.pk)
    ).evidence
    assert evidence["reason"] == "similar names"
    assert sorted(evidence["names"]) == ["baltic bv logistic star", "baltic bv logistics star"]


def test_registered_companies_a_fold_chose_between_are_offered(tmp_path, cus, tax):
    # Customs know one registered Nordwind Handel GmbH, and name it without its number too.
    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "A-1",
            "importer_name": "Nordwind Handel GmbH",
            "importer_country": "DE",
            "importer_reg_no": "HRB 11111",
        },
        {"external_ref": "X-1", "importer_name": "NORDWIND HANDEL G.m.b.H.", "importer_country": "DE"},
    )
    first = importer("A-1")
    assert importer("X-1") == first
    # The tax administration registers another of the name: customs' records still name only
    # the first, so the fold stands; those mentions may be either's, and the two are offered.
    import_rows(
        tmp_path,
        tax.agency,
        {
            "external_ref": "B-1",
            "importer_name": "Nordwind Handel Gesellschaft mit beschraenkter Haftung",
            "importer_country": "DE",
            "importer_reg_no": "HRB 22222",
        },
    )
    second = importer("B-1")
    assert importer("X-1", cus.agency) == first != second
    assert candidates_of(first) == {second.pk}
    candidate = ResolutionCandidate.objects.get()
    assert candidate.evidence["reason"] == "a name folded into one registered company is another's too"
    assert candidate.evidence["shared"] == {}
    assert candidate.evidence["differ"] == ["registration_number"]


def test_registered_companies_of_one_name_without_a_fold_stay_apart(tmp_path, cus, tax):
    for agency, ref, number in ((cus, "A-1", "HRB 11111"), (tax, "B-1", "HRB 22222")):
        import_rows(
            tmp_path,
            agency.agency,
            {
                "external_ref": ref,
                "importer_name": "Nordwind Handel GmbH",
                "importer_country": "DE",
                "importer_reg_no": number,
            },
        )
    assert importer("A-1") != importer("B-1")
    assert not ResolutionCandidate.objects.exists()


# --- persons --------------------------------------------------------------------------


def write_persons(agency, *people: tuple[str, str, str | None, tuple[str, ...]]) -> None:
    """Writes one investigation record per person (ref, name, date of birth, documents)
    through the import's writer, then its candidate search, as an import does."""
    plans = []
    for number, (ref, name, dob, documents) in enumerate(people, start=1):
        plan = RowPlan(
            number=number,
            external_ref=ref,
            content_hash=ref,
            record_fields={
                "category": Category.INVESTIGATION,
                "classification": 1,
                "caveats": [],
                "summary": "",
                "occurred_on": None,
                "details": {},
            },
        )
        shipment = plan.mention(resolve_shipment(agency.code, ref), Role.SHIPMENT)
        subject = plan.mention(resolve_person(name, "NL", dob, documents=documents), Role.SUBJECT)
        plan.link(shipment, subject, "CONTACT")
        plans.append(plan)
    find_candidates(write_chunk(plans, agency, None, None, ImportResult(), owner_right_ids()))


def subject(ref: str) -> Entity:
    return Mention.objects.select_related("entity").get(record__external_ref=ref, role="subject").entity


def test_persons_by_document_name_and_date_of_birth(cus):
    write_persons(
        cus.agency,
        ("P-1", "Jan de Vries", "1980-02-01", ("NX12 34567",)),
        ("P-2", "DE VRIES, Jan", None, ("nx1234567",)),
    )
    person = subject("P-1")
    assert person.key == "NL:doc:NX1234567"
    assert subject("P-2") == person, "one document, spelled two ways"

    write_persons(
        cus.agency,
        # Name and date of birth: joins the one person with documents of that name and date.
        ("P-3", "De Vries, Jan", "1980-02-01", ()),
        # The same name without a date of birth is a candidate, never a join.
        ("P-4", "Jan de Vries", None, ()),
        # Another date of birth: another person, not even a candidate.
        ("P-5", "Jan de Vries", "1991-07-12", ()),
    )
    assert subject("P-3") == person
    undated, other = subject("P-4"), subject("P-5")
    assert len({person.pk, undated.pk, other.pk}) == 3
    assert person.pk in candidates_of(undated)
    assert other.pk not in candidates_of(person)

    # A second person with documents of that name and date: the name and date no longer
    # say which, so the person stated by them alone stands apart, a candidate of each.
    write_persons(cus.agency, ("P-6", "Jan de Vries", "1980-02-01", ("XK9999999",)))
    second = subject("P-6")
    dated = subject("P-3")

    assert len({person.pk, second.pk, dated.pk}) == 3
    assert dated.key == "NL:jan vries:1980-02-01"
    assert {person.pk, second.pk} <= candidates_of(dated)


def test_persons_of_different_first_documents_are_candidates_not_one(cus):
    write_persons(
        cus.agency,
        ("D-1", "Maria Jansen", None, ("PB7654321",)),
        ("D-2", "Maria Jansen", "1975-05-05", ("PB7654321", "IA1112223")),
    )
    alone, both = subject("D-1"), subject("D-2")
    assert (alone.key, both.key) == ("NL:doc:PB7654321", "NL:doc:IA1112223")
    assert candidates_of(alone) == {both.pk}
    assert not EntityMerge.objects.exists()


def test_another_agencys_import_neither_undoes_a_fold_nor_follows_it_on_others_word(tmp_path, cus, tax):
    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "C-1",
            "importer_name": "Echo Cargo B.V.",
            "importer_country": "NL",
            "importer_reg_no": "KvK 77778888",
        },
        {"external_ref": "C-2", "importer_name": "Echo Cargo BV", "importer_country": "NL"},
    )
    registered = importer("C-1")
    assert importer("C-2") == registered
    # TAX knows the company 77778888 as "Echo Cargo Holding", and names an "Echo Cargo BV"
    # without a number: its own records do not say that is the same company.
    import_rows(
        tmp_path,
        tax.agency,
        {
            "external_ref": "T-1",
            "importer_name": "Echo Cargo Holding",
            "importer_country": "NL",
            "importer_reg_no": "KvK 77778888",
        },
        {"external_ref": "T-2", "importer_name": "Echo Cargo BV", "importer_country": "NL"},
    )
    assert importer("T-1") == registered
    assert importer("C-2") == registered, "CUS's fold stands"
    named = importer("T-2")
    assert named.key == "NL:name:bv cargo echo" and named != registered
    assert EntityMerge.objects.get().undone_at is None


def test_two_names_of_an_agency_are_not_joined_on_another_agencys_word(tmp_path, cus, tax):
    # Only TAX's records say that "Foxtrot Metals" and "Foxtrot Trading" are company 9999.
    import_rows(
        tmp_path,
        tax.agency,
        {
            "external_ref": "T-1",
            "importer_name": "Foxtrot Metals",
            "importer_country": "NL",
            "importer_reg_no": "9999",
        },
        {
            "external_ref": "T-2",
            "importer_name": "Foxtrot Trading",
            "importer_country": "NL",
            "importer_reg_no": "9999",
        },
    )
    import_rows(
        tmp_path,
        cus.agency,
        {"external_ref": "C-1", "importer_name": "Foxtrot Metals", "importer_country": "NL"},
        name="first.csv",
    )
    registered = importer("T-1")
    assert importer("C-1") == registered, "CUS names the company no other way"
    import_rows(
        tmp_path,
        cus.agency,
        {"external_ref": "C-2", "importer_name": "Foxtrot Trading", "importer_country": "NL"},
        name="second.csv",
    )
    assert importer("C-1") != importer("C-2"), "CUS's two names stay two companies"
    assert registered.pk in candidates_of(importer("C-2"))


def test_of_registered_companies_sharing_a_name_the_one_at_the_stated_address_is_joined(tmp_path, cus):
    import_rows(
        tmp_path,
        cus.agency,
        {
            "external_ref": "A-1",
            "importer_name": "Golf Motors B.V.",
            "importer_country": "NL",
            "importer_reg_no": "KvK 12121212",
            "importer_address": "Stationsweg 1, Breda",
            "importer_postcode": "4811 AA",
        },
        {
            "external_ref": "B-1",
            "importer_name": "Golf Motors B.V.",
            "importer_country": "NL",
            "importer_reg_no": "KvK 34343434",
            "importer_address": "Dorpsstraat 8, Zwolle",
            "importer_postcode": "8011 BB",
        },
        {
            "external_ref": "X-1",
            "importer_name": "GOLF MOTORS BV",
            "importer_country": "NL",
            "importer_address": "stationsweg 1 breda",
            "importer_postcode": "4811AA",
        },
        {"external_ref": "X-2", "importer_name": "Golf Motors BV", "importer_country": "NL"},
    )
    breda, zwolle = importer("A-1"), importer("B-1")
    assert breda != zwolle
    assert importer("X-1") == breda
    named = importer("X-2")
    assert named.key == "NL:name:bv golf motors"
    assert candidates_of(named) == {breda.pk, zwolle.pk}


@pytest.mark.parametrize(
    ("country", "spellings", "bare", "alike_as_written"),
    [
        # The tables fold neither "S.L." nor "Sociedad Limitada" into the other, nor "Pvt."
        # into "Private": different keys. The Spanish names are too short beside their
        # legal forms for the ratio as written; the Indian ones are alike as written, but
        # "pvt" and "private" sorted first put them in two blocks. Without the legal forms'
        # words they are one name (bare: 2 * 21 / (24 + 21), 2 * 19 / (23 + 19), 2 * 23 / (26 + 23)).
        ("ES", ("Zaan Summit Wholesale S.L.", "Zaan Summit Wholesale Sociedad Limitada"), 93.3, False),
        ("IN", ("Veluwe Vista Supply Pvt. Ltd.", "Veluwe Vista Supply Private Limited"), 90.5, True),
        ("ES", ("Eem Evergreen Interiors Sociedad Limitada", "Eem Evergreen Interiors S.L."), 93.9, False),
    ],
)
def test_spellings_of_a_legal_form_the_tables_miss_are_offered(
    tmp_path, cus, tax, country, spellings, bare, alike_as_written
):
    first, second = spellings
    import_rows(
        tmp_path, cus.agency, {"external_ref": "S-1", "importer_name": first, "importer_country": country}
    )
    import_rows(
        tmp_path, tax.agency, {"external_ref": "S-2", "importer_name": second, "importer_country": country}
    )
    a, b = importer("S-1"), importer("S-2")
    assert a != b
    assert candidates_of(a) == {b.pk}
    candidate = ResolutionCandidate.objects.get()
    assert candidate.evidence["reason"] == "similar names"
    parts = candidate.evidence["score_parts"]
    assert parts["name_without_legal_forms"] == bare
    assert (parts["name"] >= 85) == alike_as_written
    assert candidate.score == max(parts.values())


def test_names_alike_only_in_their_legal_forms_are_not_offered(tmp_path, cus):
    import_rows(
        tmp_path,
        cus.agency,
        {"external_ref": "D-1", "importer_name": "Zaan Summit Wholesale S.L.", "importer_country": "ES"},
        {
            "external_ref": "D-2",
            "importer_name": "Zaan Harvest Toys Sociedad Limitada",
            "importer_country": "ES",
        },
        {"external_ref": "D-3", "importer_name": "Veluwe Vista Supply Pvt. Ltd.", "importer_country": "IN"},
        {
            "external_ref": "D-4",
            "importer_name": "Veluwe Lotus Motors Private Limited",
            "importer_country": "IN",
        },
    )
    assert len({importer(ref).pk for ref in ("D-1", "D-2", "D-3", "D-4")}) == 4
    assert not ResolutionCandidate.objects.exists()


def test_companies_written_before_their_blocks_changed_get_the_new_blocks(db):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("intel.migrations.0014_numbered_company_blocks")
    old = {
        "IN:name:ltd pvt supply veluwe vista": ("IN:pvt", ["ltd pvt supply veluwe vista"], "IN:supply"),
        "ES:name:sl summit wholesale zaan@0123456789abcdef": (
            "ES:sl",
            ["sl summit wholesale zaan"],
            "ES:summit",
        ),
        "ES:reg:B12708467": ("ES:ltd", ["ltd sociedad mosa ocean"], "ES:mosa"),
        "NL:name:bv krimpen toys": ("NL:krimpen", ["bv krimpen toys"], "NL:krimpen"),
        # Blocked by their number before 0014.
        "NL:name:2 bv motors northstar salland": (
            "NL:2",
            ["2 bv motors northstar salland"],
            "NL:motors:2",
        ),
        "DE:reg:HRB98765": ("DE:3", ["3 gmbh linden logistik"], "DE:linden:3"),
    }
    for key, (block, names, _) in old.items():
        Entity.objects.create(type="company", key=key, block=block, name_fingerprints=names)
    person = Entity.objects.create(
        type="person", key="NL:jan vries", block="NL:jan", name_fingerprints=["jan vries"]
    )
    migration.recompute_company_blocks(apps, None)
    assert {entity.key: entity.block for entity in Entity.objects.filter(type="company")} == {
        key: new for key, (_, _, new) in old.items()
    }
    person.refresh_from_db()
    assert person.block == "NL:jan"


def test_a_person_unfolded_is_compared_with_what_came_while_they_were_folded(cus):
    write_persons(cus.agency, ("P-1", "Mohamed El Amrani", "1980-01-01", ("AB123456",)))
    write_persons(cus.agency, ("P-2", "El Amrani, Mohamed", "1980-01-01", ()))
    documented, named = subject("P-1"), Entity.objects.get(key="NL:amrani el mohamed:1980-01-01")
    assert subject("P-2") == documented and named.merged_into == documented
    # Another transliteration, born the same day: another identity, never folded.
    write_persons(cus.agency, ("P-3", "Mohammed El Amrani", "1980-01-01", ()))
    near = subject("P-3")
    assert candidates_of(near) == {documented.pk}
    # A second documented person of that name and date: the fold is undone, and the person
    # standing again meets the other transliteration too.
    write_persons(cus.agency, ("P-4", "Mohamed El Amrani", "1980-01-01", ("CD654321",)))
    second = subject("P-4")
    named.refresh_from_db()
    assert named.merged_into is None
    assert candidates_of(named) == {documented.pk, second.pk, near.pk}
