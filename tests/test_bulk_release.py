"""Releasing many records at once: an imported file's `releasability` and `release_to`
columns, and the API's bulk release of a filtered set (POST /api/records/release/). After
each, what every partner reads through the API equals an oracle computed here, in plain
Python, from the agreements' terms and what each record was stated to be released to; it
never asks the choke point or the release service.
"""

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from audit.models import AuditEvent
from intel.import_reading import ImportFailed
from intel.import_writing import import_file
from intel.models import Record
from sharing.models import RecordRelease
from tests.sharing_helpers import Staff, draft, in_force
from tests.test_import import EXAMPLES

pytestmark = pytest.mark.django_db

POLICE_MOU = "AGR-7Q2MX-40K1P"
TAX_MOU = "AGR-9D3RT-8VW2C"
READ_PURPOSE = "investigation"
NORTHWIND = "Northwind Imports B.V.,NL"


@dataclass(frozen=True)
class Terms:
    """An agreement in force, as the oracle knows it."""

    reference: str
    provider: str
    receivers: frozenset[str]
    categories: frozenset[str]
    ceiling: int


@dataclass(frozen=True)
class Stated:
    """A record as the test stated it: its owner, scope and to whom it is released."""

    ref: str
    owner: str
    category: str
    classification: int
    releasability: str = "none"
    named: frozenset[str] = field(default_factory=frozenset)


TERMS = [
    Terms(POLICE_MOU, "cus", frozenset({"pol"}), frozenset({"shipment", "seizure", "inspection"}), 2),
    Terms(TAX_MOU, "cus", frozenset({"tax"}), frozenset({"seizure", "inspection"}), 2),
]


def oracle(agency: str, records: list[Stated], terms: list[Terms] = TERMS) -> set[str]:
    """The owner's records; another's when released to every agreement covering it, or to
    this one by name, under an agreement in which its owner provides and the agency receives
    whose categories and ceiling cover it."""
    seen = set()
    for record in records:
        if record.owner == agency:
            seen.add(record.ref)
            continue
        for mou in terms:
            covers = record.category in mou.categories and record.classification <= mou.ceiling
            released = record.releasability == "covering" or (
                record.releasability == "named" and mou.reference in record.named
            )
            if mou.provider == record.owner and agency in mou.receivers and covers and released:
                seen.add(record.ref)
    return seen


def listed(member: Staff) -> set[str]:
    response = member.client("analyst", purpose=READ_PURPOSE).get("/api/records/", {"page_size": 1000})
    assert response.status_code == 200, response.content
    assert response.json()["next"] is None
    return {row["external_ref"] for row in response.json()["results"]}


@pytest.fixture
def mous(cus, pol, tax):
    """CUS provides to POL (shipments, seizures, inspections) and to TAX (seizures and
    inspections), both up to confidential."""
    return (
        in_force((cus, True, False), (pol, False, True), reference=POLICE_MOU),
        in_force(
            (cus, True, False), (tax, False, True), reference=TAX_MOU, categories=("seizure", "inspection")
        ),
    )


def nothing_released(owner: Staff) -> bool:
    return (
        not Record.objects.filter(owner=owner.agency).exclude(releasability="none").exists()
        and not RecordRelease.objects.exists()
        and not AuditEvent.objects.filter(action="record.release").exists()
    )


# --- importing --------------------------------------------------------------------

# What docs/examples/releases.csv states, written out here rather than read from the import.
EXAMPLE = [
    Stated("REL-0001", "cus", "shipment", 1, "none"),
    Stated("REL-0002", "cus", "shipment", 1, "named", frozenset({POLICE_MOU})),
    Stated("REL-0003", "cus", "seizure", 1, "covering"),
    Stated("REL-0004", "cus", "shipment", 3, "covering"),
    Stated("REL-0005", "cus", "inspection", 2, "named", frozenset({POLICE_MOU, TAX_MOU})),
    Stated("REL-0006", "cus", "shipment", 1),
]


def test_an_imported_file_releases_as_its_rows_say_and_partners_see_what_the_oracle_allows(
    cus, pol, tax, mous
):
    import_file(EXAMPLES / "releases.csv", cus.agency, user=cus.liaison)
    for partner in (pol, tax):
        assert listed(partner) == oracle(partner.agency.code, EXAMPLE)
    # The oracle itself, by hand: REL-0004 is above every ceiling, the tax MOU covers no shipments.
    assert listed(pol) == {"REL-0002", "REL-0003", "REL-0005"}
    assert listed(tax) == {"REL-0003", "REL-0005"}
    events = AuditEvent.objects.filter(action="record.release")
    released = {Record.objects.get(pk=int(e.object_id)).external_ref: e for e in events}
    # A new record stating `none`, or nothing, was released to no one already: no release.
    assert set(released) == {"REL-0002", "REL-0003", "REL-0004", "REL-0005"}
    assert {e.actor_id for e in events} == {cus.liaison.pk}
    assert {e.details["via"] for e in events} == {"import"}
    assert released["REL-0005"].details["mode"] == "named"
    assert sorted(released["REL-0005"].details["agreements"]) == sorted([POLICE_MOU, TAX_MOU])

    import_file(EXAMPLES / "releases.csv", cus.agency, user=cus.liaison)
    assert events.count() == 4, "an unchanged file releases nothing again"


def write_csv(tmp_path: Path, rows: list[str], header: str | None = None) -> Path:
    header = header or (EXAMPLES / "releases.csv").read_text().splitlines()[0]
    path = tmp_path / "releases.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_a_reimport_changes_releases_only_where_its_rows_state_them(tmp_path, cus, pol, tax, mous):
    import_file(EXAMPLES / "releases.csv", cus.agency, user=cus.liaison)
    changed = write_csv(
        tmp_path,
        [
            f"REL-0002,shipment,restricted,2026-04-02,Withdrawn,,,{NORTHWIND},none,",
            f"REL-0003,seizure,restricted,2026-04-03,To tax only,Cigarettes,,{NORTHWIND},named,{TAX_MOU}",
        ],
    )
    import_file(changed, cus.agency, user=cus.liaison)
    now = [
        EXAMPLE[0],
        Stated("REL-0002", "cus", "shipment", 1, "none"),
        Stated("REL-0003", "cus", "seizure", 1, "named", frozenset({TAX_MOU})),
        *EXAMPLE[3:],
    ]
    for partner in (pol, tax):
        assert listed(partner) == oracle(partner.agency.code, now)
    assert listed(pol) == {"REL-0005"}

    # Without the columns a changed row keeps the releases its record has.
    without = write_csv(
        tmp_path,
        [f"REL-0005,inspection,confidential,2026-04-05,Summary corrected,discrepancy,{NORTHWIND}"],
        header="external_ref,category,classification,occurred_on,summary,inspection_result,importer_name,importer_country",
    )
    import_file(without, cus.agency, user=cus.analyst)
    assert Record.objects.get(external_ref="REL-0005").summary == "Summary corrected"
    for partner in (pol, tax):
        assert listed(partner) == oracle(partner.agency.code, now)


@pytest.mark.parametrize("importer", ["analyst", None])
def test_only_a_liaison_or_agency_admin_imports_releases(cus, mous, importer):
    user = getattr(cus, importer) if importer else None
    with pytest.raises(ImportFailed) as failure:
        import_file(EXAMPLES / "releases.csv", cus.agency, user=user)
    refusals = [e for e in failure.value.errors if e["field"] == "releasability"]
    # Told once, at the first row stating a releasability (row 2: the header is row 1).
    assert [e["row"] for e in refusals] == [2]
    assert "liaison" in refusals[0]["message"]
    assert not Record.objects.exists()
    assert nothing_released(cus)


def test_an_agency_admin_imports_releases(cus, pol, mous):
    import_file(EXAMPLES / "releases.csv", cus.agency, user=cus.admin)
    assert listed(pol) == oracle("pol", EXAMPLE)


@pytest.fixture
def out_of_reach(cus, pol, tax):
    """References CUS may not release under, each for another reason: none has it; CUS is
    no party (hidden from CUS); CUS only receives; the agreement is a draft, not in force."""
    in_force((pol, True, False), (tax, False, True), reference="AGR-HIDDN-00001")
    in_force((pol, True, False), (cus, False, True), reference="AGR-RECVS-00001")
    draft((cus, True, False), (pol, False, True), reference="AGR-DRAFT-00001")
    return ["AGR-00000-00000", "AGR-HIDDN-00001", "AGR-RECVS-00001", "AGR-DRAFT-00001"]


def test_an_agreement_out_of_reach_is_refused_in_an_import_as_one_that_does_not_exist(
    tmp_path, cus, mous, out_of_reach
):
    rows = [
        f"X-{i},shipment,restricted,2026-04-0{i + 1},,,,{NORTHWIND},named,{POLICE_MOU};{reference}"
        for i, reference in enumerate(out_of_reach)
    ]
    with pytest.raises(ImportFailed) as failure:
        import_file(write_csv(tmp_path, rows), cus.agency, user=cus.liaison)
    errors = failure.value.errors
    assert [(e["row"], e["field"]) for e in errors] == [
        (2, "release_to"),
        (3, "release_to"),
        (4, "release_to"),
        (5, "release_to"),
    ]
    answers = {
        e["message"].replace(reference, "REF") for e, reference in zip(errors, out_of_reach, strict=True)
    }
    assert len(answers) == 1, answers
    assert not Record.objects.exists()
    assert nothing_released(cus)


# --- the API's bulk release -------------------------------------------------------

BULK = "/api/records/release/"
# CUS's records, and one of POL's: (reference, category, classification, occurred on).
RECORDS = [
    ("C-1", "shipment", 1, date(2026, 2, 1)),
    ("C-2", "seizure", 1, date(2026, 3, 5)),
    ("C-3", "seizure", 2, date(2026, 3, 20)),
    ("C-4", "seizure", 1, date(2026, 1, 15)),
    ("C-5", "inspection", 1, date(2026, 3, 10)),
    ("C-6", "shipment", 3, date(2026, 3, 11)),
]


@pytest.fixture
def records(cus, pol, mous) -> dict[str, Record]:
    made = {
        ref: Record.objects.create(
            owner=cus.agency, external_ref=ref, category=category, classification=level, occurred_on=on
        )
        for ref, category, level, on in RECORDS
    }
    made["P-1"] = Record.objects.create(
        owner=pol.agency,
        external_ref="P-1",
        category="seizure",
        classification=1,
        occurred_on=date(2026, 3, 6),
    )
    return made


def stated(releases: dict[str, tuple[str, frozenset[str]]]) -> list[Stated]:
    """Every record of the fixture, released as `releases` says (the rest to no one)."""
    return [
        Stated(ref, "cus", category, level, *releases.get(ref, ("none", frozenset())))
        for ref, category, level, _ in RECORDS
    ] + [Stated("P-1", "pol", "seizure", 1)]


def bulk(member: Staff, role: str = "liaison", **body):
    return member.client(role).post(BULK, body, format="json")


def test_a_bulk_release_of_a_filtered_set_shows_partners_what_the_oracle_allows(cus, pol, tax, records):
    named = bulk(
        cus,
        filters={"category": "seizure", "occurred_after": "2026-03-01"},
        releasability="named",
        agreements=[POLICE_MOU],
    )
    assert named.status_code == 200, named.content
    assert named.json() == {
        "count": 2,
        "dry_run": False,
        "releasability": "named",
        "agreements": [POLICE_MOU],
    }
    covering = bulk(cus, filters={"category": "inspection"}, releasability="covering")
    assert covering.json()["count"] == 1
    now = stated(
        {
            "C-2": ("named", frozenset({POLICE_MOU})),
            "C-3": ("named", frozenset({POLICE_MOU})),
            "C-5": ("covering", frozenset()),
        }
    )
    for partner in (pol, tax):
        assert listed(partner) == oracle(partner.agency.code, now)
    # By hand: the police MOU names C-2 and C-3, C-5 is covered by both; TAX is under no named release.
    assert listed(pol) == {"C-2", "C-3", "C-5", "P-1"}
    assert listed(tax) == {"C-5"}

    events = AuditEvent.objects.filter(action="record.release")
    assert sorted((e.object_id, e.details["mode"]) for e in events) == sorted(
        [
            (str(records["C-2"].pk), "named"),
            (str(records["C-3"].pk), "named"),
            (str(records["C-5"].pk), "covering"),
        ]
    )
    assert {(e.actor_id, e.details["via"]) for e in events} == {(cus.liaison.pk, "bulk")}
    assert events.get(object_id=str(records["C-2"].pk)).details["agreements"] == [POLICE_MOU]

    # Withdrawn in bulk: the partners see no more than before the first release.
    withdrawn = bulk(cus, filters={}, releasability="none")
    assert withdrawn.json()["count"] == len(RECORDS)
    for partner in (pol, tax):
        assert listed(partner) == oracle(partner.agency.code, stated({}))


def test_a_bulk_release_never_touches_another_agencys_records(cus, pol, records):
    def count(**filters):
        response = bulk(pol, filters=filters, releasability="covering", dry_run=True)
        assert response.status_code == 200, response.content
        return response.json()

    # Another agency's records answer as records that do not exist: none match.
    assert (
        count(owner="cus") == count(owner="nobody") == count(external_ref="C-2") == count(external_ref="C-99")
    )
    assert count(owner="cus")["count"] == 0
    assert bulk(pol, filters={"external_ref": "C-2"}, releasability="covering").json()["count"] == 0
    assert bulk(pol, filters={}, releasability="covering").json()["count"] == 1
    assert set(Record.objects.exclude(releasability="none").values_list("external_ref", flat=True)) == {"P-1"}
    assert not AuditEvent.objects.filter(
        action="record.release",
        object_id__in=[str(r.pk) for r in records.values() if r.owner_id == cus.agency.pk],
    ).exists()


@pytest.mark.parametrize("dry_run", [False, True])
def test_analysts_may_not_release_in_bulk(cus, records, dry_run):
    response = bulk(cus, "analyst", filters={}, releasability="covering", dry_run=dry_run)
    assert response.status_code == 403
    assert "liaison" in response.json()["detail"]
    assert nothing_released(cus)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"filters": {"category": "bogus"}, "releasability": "covering"}, ("filters", "category")),
        ({"filters": {"categroy": "seizure"}, "releasability": "covering"}, ("filters", "categroy")),
        (
            {"filters": {"occurred_after": "March"}, "releasability": "covering"},
            ("filters", "occurred_after"),
        ),
        ({"filters": {"classification": "7"}, "releasability": "covering"}, ("filters", "classification")),
        ({"filters": {}, "releasability": "everyone"}, ("releasability",)),
        ({"filters": {}, "releasability": "named"}, ("agreements",)),
        ({"filters": {}, "releasability": "covering", "agreements": [POLICE_MOU]}, ("agreements",)),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(cus, records, body, where):
    response = cus.client("liaison").post(BULK, body, format="json")
    assert response.status_code == 400, response.content
    answer = response.json()
    for key in where:
        assert key in answer, answer
        answer = answer[key]
    assert nothing_released(cus)


def test_an_agreement_out_of_reach_is_refused_in_bulk_as_one_that_does_not_exist(cus, records, out_of_reach):
    answers = set()
    for reference in out_of_reach:
        response = bulk(cus, filters={}, releasability="named", agreements=[reference])
        assert response.status_code == 400
        answers.add(response.content.decode().replace(reference, "REF"))
    assert len(answers) == 1, answers
    assert "agreements" in answers.pop()
    assert nothing_released(cus)


def test_the_maximum_is_enforced(settings, cus, records):
    settings.RELEASE_BULK_MAX_RECORDS = 2
    for dry_run in (True, False):
        response = bulk(cus, filters={"category": "seizure"}, releasability="covering", dry_run=dry_run)
        assert response.status_code == 400
        assert "RELEASE_BULK_MAX_RECORDS" in response.json()["filters"][0]
    assert nothing_released(cus)
    narrower = bulk(
        cus, filters={"category": "seizure", "occurred_after": "2026-03-01"}, releasability="covering"
    )
    assert narrower.json()["count"] == 2


def test_a_dry_run_counts_and_writes_nothing(cus, pol, records):
    before = AuditEvent.objects.count()
    response = bulk(
        cus, filters={"category": "seizure"}, releasability="named", agreements=[POLICE_MOU], dry_run=True
    )
    assert response.json() == {
        "count": 3,
        "dry_run": True,
        "releasability": "named",
        "agreements": [POLICE_MOU],
    }
    assert AuditEvent.objects.count() == before
    assert nothing_released(cus)
    assert listed(pol) == oracle("pol", stated({})) == {"P-1"}


def test_the_bulk_release_is_in_the_api_schema(cus):
    schema = cus.client("liaison").get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/records/release/"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("BulkRelease")
    assert "200" in operation["responses"]
