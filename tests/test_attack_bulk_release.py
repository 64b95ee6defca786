"""The API's bulk release (POST /api/records/release/) attacked as a hostile agency or user
would: bodies of every odd shape, records of others named by filters, records held onward
under an agreement, agreements out of reach in every state, callers of no agency, and two
releases racing. Expectations are written by hand: which records each agency holds, and
what a release must and must not do."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from intel.models import Record
from sharing import agreements, releases
from sharing.models import Agreement, RecordRelease
from tests.sharing_helpers import in_force, platform_admin
from tests.test_bulk_release import (  # noqa: F401 (fixtures)
    BULK,
    POLICE_MOU,
    TAX_MOU,
    bulk,
    listed,
    mous,
    nothing_released,
    records,
)

HOSTILE_BODIES = [
    [],
    "covering",
    None,
    {"filters": [], "releasability": "covering"},
    {"filters": "category=seizure", "releasability": "covering"},
    {"filters": {"category": ["seizure"]}, "releasability": "covering"},
    {"filters": {"category": {"in": ["seizure"]}}, "releasability": "covering"},
    {"filters": {"owner": "c\x00us"}, "releasability": "covering"},
    {"filters": {"external_ref\x00": "C-2"}, "releasability": "covering"},
    {"filters": {"page": "2"}, "releasability": "covering"},
    {"filters": {"page_size": "1"}, "releasability": "covering"},
    {"filters": {"ordering": "-pk"}, "releasability": "covering"},
    {"filters": {"owner__code__in": "cus,pol"}, "releasability": "covering"},
    {"filters": {"classification": "99999999999999999999999"}, "releasability": "covering"},
    {"filters": {"occurred_after": "9999-99-99"}, "releasability": "covering"},
    {"filters": {"occurred_after": "-2026-01-01"}, "releasability": "covering"},
    {"filters": {"category": 7}, "releasability": "covering"},
    {"filters": {}, "releasability": None},
    {"filters": {}, "releasability": ["covering"]},
    {"filters": {}, "releasability": "COVERING"},
    {"filters": {}, "releasability": "covering", "dry_run": "maybe"},
    {"filters": {}, "releasability": "covering", "dry_run": [True]},
    {"filters": {}, "releasability": "named", "agreements": POLICE_MOU},
    {"filters": {}, "releasability": "named", "agreements": [{"reference": POLICE_MOU}]},
    {"filters": {}, "releasability": "named", "agreements": [1]},
    {"filters": {}, "releasability": "named", "agreements": [None]},
    {"filters": {}, "releasability": "named", "agreements": ["AGR\x00"]},
    {"filters": {}, "releasability": "named", "agreements": ["A" * 100_000]},
    {"filters": {}, "releasability": "named", "agreements": [POLICE_MOU, "AGR-00000-00000"]},
    {"filters": {}, "releasability": "none", "agreements": [POLICE_MOU]},
]


@pytest.mark.django_db
@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_a_hostile_body_is_a_400_and_releases_nothing(cus, records, body):  # noqa: F811
    response = cus.client("liaison").post(BULK, body, format="json")
    assert response.status_code == 400, response.content
    assert nothing_released(cus)


@pytest.mark.django_db
def test_a_hostile_filter_value_is_read_as_a_value(cus, records):  # noqa: F811
    """Values a filter takes as text match nothing; they are never a 5xx or a wider set."""
    for filters in (
        {"external_ref": "x" * 100_000},
        {"external_ref": "C-2' OR '1'='1"},
        {"owner": "%"},
        {"owner": "cus%"},
        {"external_ref": "C-%"},
    ):
        response = bulk(cus, filters=filters, releasability="covering", dry_run=True)
        assert response.status_code == 200, (filters, response.content)
        assert response.json()["count"] == 0, filters
    assert nothing_released(cus)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "form",
    [
        {"releasability": "covering", "filters": "x"},
        {"releasability": "covering", "filters[category]": "inspection"},
        {"releasability": "covering", "filters.category": "inspection"},
    ],
)
@pytest.mark.parametrize("encoding", ["multipart", "urlencoded"])
def test_a_form_body_is_refused_rather_than_read_without_its_filters(cus, records, form, encoding):  # noqa: F811
    """A form's flat fields were read as no filter at all: every record was released."""
    client = cus.client("liaison")
    if encoding == "multipart":
        response = client.post(BULK, form)
    else:
        from urllib.parse import urlencode

        response = client.post(BULK, urlencode(form), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415, response.content
    assert nothing_released(cus)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/api/agreements/", "/api/agreements/{id}/amend/"],
)
def test_an_agreement_drafted_or_amended_as_a_form_is_refused_rather_than_left_unredacted(cus, pol, path):
    """`redacted_fields[]=summary`, a form's way of naming a list, was read as no redaction:
    a draft (or an amendment) then hid nothing while its author believed it hid the summary."""
    from sharing.models import Agreement

    mou = in_force((cus, True, False), (pol, False, True), reference="AGR-FORMS-00001")
    start = timezone.now() + timedelta(days=1)
    form = {
        "title": "Form",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=9)).isoformat(),
        "categories": "shipment",
        "classification_ceiling": "1",
        "purposes": "investigation",
        "parties[0]agency": "cus",
        "parties[0]provides": "true",
        "parties[1]agency": "pol",
        "parties[1]receives": "true",
        "redacted_fields[]": "summary",
    }
    before = Agreement.objects.count()
    response = cus.client("admin").post(path.format(id=mou.public_id), form)
    assert response.status_code == 415, response.content
    assert Agreement.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("dry_run", ["true", "1", "yes", True])
def test_a_dry_run_stated_as_text_still_writes_nothing(cus, records, dry_run):  # noqa: F811
    response = cus.client("liaison").post(
        BULK, {"filters": {}, "releasability": "covering", "dry_run": dry_run}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["dry_run"] is True
    # C-1 to C-6: CUS's six records.
    assert response.json()["count"] == 6
    assert nothing_released(cus)


@pytest.mark.django_db
def test_callers_of_no_agency_release_nothing(cus, records):  # noqa: F811
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(platform_admin())
    response = client.post(BULK, {"filters": {}, "releasability": "covering"}, format="json")
    assert response.status_code == 403
    anonymous = APIClient().post(BULK, {"filters": {}, "releasability": "covering"}, format="json")
    assert anonymous.status_code in (401, 403)
    assert nothing_released(cus)


@pytest.fixture
def onward(cus, pol, tax):
    """CUS provides to POL under an agreement that allows onward sharing; POL provides to
    TAX under one of its own. C-2 (a seizure) is released by CUS to POL by name."""
    upstream = in_force(
        (cus, True, False), (pol, False, True), reference="AGR-ONWRD-00001", onward_sharing_allowed=True
    )
    in_force((pol, True, False), (tax, False, True), reference="AGR-POLTX-00001")
    record = Record.objects.create(owner=cus.agency, external_ref="C-2", category="seizure", classification=1)
    releases.set_releasability(record, cus.liaison, "named", [upstream])
    own = Record.objects.create(owner=pol.agency, external_ref="P-1", category="seizure", classification=1)
    return record, own


@pytest.mark.django_db
def test_a_recipient_never_releases_in_bulk_what_it_only_holds(cus, pol, tax, onward):
    record, _ = onward
    assert listed(pol) == {"C-2", "P-1"}
    assert listed(tax) == set()
    for filters in ({}, {"external_ref": "C-2"}, {"owner": "cus"}, {"category": "seizure"}):
        for mode, named in (("covering", []), ("named", ["AGR-POLTX-00001"])):
            response = bulk(pol, filters=filters, releasability=mode, agreements=named)
            assert response.status_code == 200, response.content
            # Only P-1, POL's own, ever matches.
            assert response.json()["count"] == (
                0 if filters.get("owner") == "cus" or "external_ref" in filters else 1
            )
    # The upstream agreement names CUS as provider and POL as recipient: POL may not release under it.
    refused = bulk(pol, filters={}, releasability="named", agreements=["AGR-ONWRD-00001"])
    assert refused.status_code == 400
    assert listed(tax) == {"P-1"}
    record.refresh_from_db()
    assert record.releasability == "named"
    assert list(RecordRelease.objects.filter(record=record).values_list("released_by__code", flat=True)) == [
        "cus"
    ]
    assert not AuditEvent.objects.filter(
        action="record.release", object_id=str(record.pk), agency_id=pol.agency.pk
    ).exists()


@pytest.mark.django_db
def test_agreements_out_of_force_are_refused_as_missing(cus, pol, records):  # noqa: F811
    """Suspended, terminated, expired, not yet started and superseded agreements of CUS's,
    each named once: one answer, as for a reference no agreement has."""
    admin = platform_admin()
    suspended = in_force((cus, True, False), (pol, False, True), reference="AGR-SUSPD-00001")
    agreements.suspend(suspended, admin, reason="attack")
    terminated = in_force((cus, True, False), (pol, False, True), reference="AGR-TERMN-00001")
    agreements.terminate(terminated, admin, reason="attack")
    later = in_force(
        (cus, True, False),
        (pol, False, True),
        reference="AGR-LATER-00001",
        starts_at=timezone.now() + timedelta(days=3),
    )
    amended = in_force((cus, True, False), (pol, False, True), reference="AGR-AMEND-00001")
    amendment = agreements.amend(amended, cus.admin, title="v2")
    agreements.propose(amendment, cus.admin)
    for party in (cus, pol):
        amendment = agreements.sign(amendment, party.admin)
    answers = set()
    for reference in (
        "AGR-00000-00000",
        suspended.reference,
        terminated.reference,
        later.reference,
        amended.reference,
    ):
        response = bulk(cus, filters={}, releasability="named", agreements=[reference])
        assert response.status_code == 400, (reference, response.content)
        answers.add(response.content.decode().replace(reference, "REF"))
    assert len(answers) == 1, answers
    assert nothing_released(cus)


@pytest.mark.django_db
def test_every_record_released_is_audited_once_with_what_it_was_released_to_before(cus, pol, records):  # noqa: F811
    first = bulk(cus, filters={"category": "seizure"}, releasability="named", agreements=[POLICE_MOU])
    assert first.json()["count"] == 3
    second = bulk(cus, filters={"category": "seizure"}, releasability="named", agreements=[TAX_MOU])
    assert second.json()["count"] == 3
    events = AuditEvent.objects.filter(action="record.release").order_by("id")
    assert events.count() == 6
    police_id = Agreement.objects.get(reference=POLICE_MOU).pk
    later = list(events)[3:]
    assert {e.details["before"][0] for e in later} == {police_id}
    assert {tuple(e.details["agreements"]) for e in later} == {(TAX_MOU,)}
    assert {e.object_id for e in later} == {str(records[ref].pk) for ref in ("C-2", "C-3", "C-4")}


# --- two releases at once ---------------------------------------------------------


def go_once_waiting(go: threading.Event) -> None:
    """Lets the holder commit once the other request waits for its lock (or after 15 s)."""
    for _ in range(300):
        if waiting_for_a_lock():
            break
        time.sleep(0.05)
    go.set()


def waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_release_that_waited_for_another_audits_what_that_one_released(cus, pol, tax):
    """A bulk release that starts while another is writing the same records waits for it, and
    then its audit event says what the records were released to when it wrote (the first
    release's agreement), not what they were before the first one committed."""
    police = in_force((cus, True, False), (pol, False, True), reference=POLICE_MOU)
    taxes = in_force((cus, True, False), (tax, False, True), reference=TAX_MOU)
    record = Record.objects.create(owner=cus.agency, external_ref="C-1", category="seizure", classification=1)
    written, release = threading.Event(), threading.Event()

    def first_release() -> None:
        from django.db import transaction

        try:
            with transaction.atomic():
                releases.release_records(
                    user=cus.liaison,
                    owner_id=cus.agency.pk,
                    record_ids=[record.pk],
                    mode="named",
                    agreements=[police],
                    via="bulk",
                )
                written.set()
                release.wait(30)
        finally:
            connection.close()

    answers = []

    def second_release() -> None:
        try:
            answers.append(bulk(cus, filters={}, releasability="named", agreements=[TAX_MOU]))
        finally:
            connection.close()

    first = threading.Thread(target=first_release)
    first.start()
    assert written.wait(30)
    second = threading.Thread(target=second_release)
    second.start()
    go_once_waiting(release)
    first.join(30)
    second.join(30)
    assert answers and answers[0].status_code == 200, answers
    events = AuditEvent.objects.filter(action="record.release", object_id=str(record.pk)).order_by("id")
    assert [e.details["agreements"] for e in events] == [[POLICE_MOU], [TAX_MOU]]
    assert events[1].details["before"] == [police.pk]
    assert list(RecordRelease.objects.filter(record=record).values_list("agreement_id", flat=True)) == [
        taxes.pk
    ]


@pytest.mark.django_db
def test_an_agreement_named_twice_is_released_to_and_audited_once(cus, pol, records):  # noqa: F811
    response = bulk(
        cus, filters={"external_ref": "C-2"}, releasability="named", agreements=[POLICE_MOU, POLICE_MOU]
    )
    assert response.status_code == 200, response.content
    assert response.json()["agreements"] == [POLICE_MOU]
    event = AuditEvent.objects.get(action="record.release")
    assert event.details["agreements"] == [POLICE_MOU]
    assert RecordRelease.objects.filter(record=records["C-2"]).count() == 1


def while_holding(record: Record, then, started: threading.Event, go: threading.Event, errors: list) -> None:
    """In a transaction of its own: locks the record's row, as a release writing it does,
    waits for `go`, then runs `then` (which appends to the audit log) and commits."""
    from django.db import transaction

    try:
        with transaction.atomic():
            list(Record.objects.select_for_update().filter(pk=record.pk))
            started.set()
            go.wait(30)
            then()
    except Exception as error:  # noqa: BLE001 (reported to the test, which asserts there is none)
        errors.append(error)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["delete", "patch"])
def test_a_record_changed_while_a_release_holds_it_waits_and_neither_fails(cus, pol, change):
    """A release holds the record's row and then appends to the audit log; a deletion of the
    record in between took the log's lock first and waited for the row: one of the two was
    killed as a deadlock (a 500). A change waits for the row, and audits as `before` what it
    replaced, not what the record held when the request read it."""
    police = in_force((cus, True, False), (pol, False, True), reference=POLICE_MOU)
    record = Record.objects.create(owner=cus.agency, external_ref="C-1", category="seizure", classification=1)
    from intel.rights import grant_owner_rights, owner_right_ids

    grant_owner_rights([record], owner_right_ids())
    started, go, errors, answers = threading.Event(), threading.Event(), [], []

    def release() -> None:
        Record.objects.filter(pk=record.pk).update(summary="held")
        releases.release_records(
            user=cus.liaison,
            owner_id=cus.agency.pk,
            record_ids=[record.pk],
            mode="named",
            agreements=[police],
            via="bulk",
        )

    holder = threading.Thread(target=while_holding, args=(record, release, started, go, errors))
    holder.start()
    assert started.wait(30)

    def changing() -> None:
        try:
            client = cus.client("analyst")
            url = f"/api/records/{record.public_id}/"
            answers.append(
                client.delete(url)
                if change == "delete"
                else client.patch(url, {"summary": "x"}, format="json")
            )
        finally:
            connection.close()

    changer = threading.Thread(target=changing)
    changer.start()
    go_once_waiting(go)
    holder.join(30)
    changer.join(30)
    assert errors == []
    assert [answer.status_code for answer in answers] == [204 if change == "delete" else 200]
    assert AuditEvent.objects.filter(action="record.release", object_id=str(record.pk)).count() == 1
    if change == "patch":
        # What the change replaced: the summary the holder wrote while the change waited.
        assert AuditEvent.objects.get(action="record.update").details["before"] == {"summary": "held"}


@pytest.mark.django_db(transaction=True)
def test_an_amendments_last_signature_while_a_release_holds_its_rows_waits_and_neither_fails(cus, pol, tax):
    """A release withdrawing a record from the version being amended holds that release's
    row, then appends to the audit log; the amendment's last signature took the log's lock
    first (`agreement.signed`) and then waited for the row to carry it over: a deadlock."""
    version = in_force((cus, True, False), (pol, False, True), reference=POLICE_MOU)
    other = in_force((cus, True, False), (tax, False, True), reference=TAX_MOU)
    record = Record.objects.create(owner=cus.agency, external_ref="C-1", category="seizure", classification=1)
    releases.set_releasability(record, cus.liaison, "named", [version, other])
    amendment = agreements.amend(version, cus.admin, title="v2")
    agreements.propose(amendment, cus.admin)
    agreements.sign(amendment, cus.admin)
    started, go, errors, answers = threading.Event(), threading.Event(), [], []

    def withdraw() -> None:
        releases.release_records(
            user=cus.liaison,
            owner_id=cus.agency.pk,
            record_ids=[record.pk],
            mode="named",
            agreements=[other],
            via="bulk",
        )

    def holding() -> None:
        from django.db import transaction

        try:
            with transaction.atomic():
                list(RecordRelease.objects.select_for_update().filter(record=record, agreement=version))
                started.set()
                go.wait(30)
                withdraw()
        except Exception as error:  # noqa: BLE001 (reported to the test, which asserts there is none)
            errors.append(error)
        finally:
            connection.close()

    holder = threading.Thread(target=holding)
    holder.start()
    assert started.wait(30)

    def signing() -> None:
        try:
            answers.append(pol.client("admin").post(f"/api/agreements/{amendment.public_id}/sign/"))
        finally:
            connection.close()

    signer = threading.Thread(target=signing)
    signer.start()
    go_once_waiting(go)
    holder.join(30)
    signer.join(30)
    assert errors == []
    assert [answer.status_code for answer in answers] == [200]
    assert Agreement.objects.get(pk=version.pk).status == "superseded"
    # The withdrawal came first: the record is released under TAX's agreement only.
    assert list(RecordRelease.objects.filter(record=record).values_list("agreement_id", flat=True)) == [
        other.pk
    ]
