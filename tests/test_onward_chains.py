"""Onward sharing never widens and never outlives its basis; discovery speaks only for
owners that provide to the asker.

Each expectation below is written out by hand from the rule in DESIGN.md (what an agency
receives onward is at most what the releasing agency received: lowest ceiling, purposes
intersected, redactions united, the owner's handling codes carried; it stops the instant
its upstream basis stops), never computed by the code under test.
"""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from intel.import_writing import import_file
from intel.models import Mention, Record, RecordGroupObjectPermission
from sharing import agreements, releases, requests
from sharing.models import Agreement
from tests.sharing_helpers import in_force, platform_admin, staff
from tests.test_import import EXAMPLES

pytestmark = pytest.mark.django_db


@pytest.fixture
def record(cus):
    """SHP-0001: restricted, no handling code, with a phone and an e-mail, released by its
    owner to every covering agreement."""
    import_file(EXAMPLES / "shipments.csv", cus.agency)
    record = Record.objects.get(owner=cus.agency, external_ref="SHP-0001")
    releases.set_releasability(record, cus.analyst, "covering")
    return Record.objects.get(pk=record.pk)


def status(member, record, purpose="investigation") -> int:
    return member.client(purpose=purpose).get(f"/api/records/{record.public_id}/").status_code


def body(member, record, purpose="investigation") -> dict:
    response = member.client(purpose=purpose).get(f"/api/records/{record.public_id}/")
    assert response.status_code == 200, response.content
    return response.json()


def listed(member, purpose="investigation") -> set[str]:
    rows = member.client(purpose=purpose).get("/api/records/", {"page_size": 100}).json()["results"]
    return {row["external_ref"] for row in rows}


def chain(cus, pol, tax, first_terms=None, second_terms=None) -> tuple[Agreement, Agreement]:
    """cus -> pol under MOU-A (onward allowed), pol -> tax under MOU-B."""
    first = in_force(
        (cus, True, False),
        (pol, False, True),
        reference="MOU-A",
        onward_sharing_allowed=True,
        **(first_terms or {}),
    )
    second = in_force((pol, True, False), (tax, False, True), reference="MOU-B", **(second_terms or {}))
    return first, second


def test_an_onward_release_is_at_most_what_the_releasing_agency_received(cus, pol, tax, record):
    chain(
        cus,
        pol,
        tax,
        first_terms={
            "purposes": ("investigation", "risk_assessment"),
            "redacted_fields": ["summary", "phone", "details.declared_value"],
        },
        second_terms={"purposes": ("investigation", "prosecution"), "ceiling": 3},
    )
    releases.release_onward(record, pol.liaison, Agreement.objects.get(reference="MOU-B"))
    shown = body(tax, record)
    # Redactions are united: MOU-B redacts nothing, yet what MOU-A hid from pol stays hidden.
    assert "summary" not in shown
    assert "declared_value" not in shown["details"] and shown["details"]["currency"] == "EUR"
    mention_types = {m["entity_type"] for m in shown["mentions"]}
    assert "phone" not in mention_types and "email" in mention_types and "company" in mention_types
    phones = tax.client(purpose="investigation").get("/api/search/", {"q": "+31105550101"}).json()
    assert phones["count"] == 0
    # Purposes are intersected: only investigation is permitted by both agreements.
    assert status(tax, record, "prosecution") == 403
    assert status(tax, record, "risk_assessment") == 403
    assert listed(tax, "prosecution") == set()
    # The graph's visibility lists follow the same chain: tax sees the record and the
    # company, never the phone.
    seen = Mention.objects.filter(record=record).viewer_agencies()
    for mention in Mention.objects.filter(record=record).select_related("entity"):
        expected = (
            {cus.agency.pk}
            if mention.entity.type == "phone"
            else {cus.agency.pk, pol.agency.pk, tax.agency.pk}
        )
        assert seen[mention.pk] == expected, (mention.entity.type, seen[mention.pk])


def test_the_lowest_ceiling_along_the_chain_applies(cus, pol, tax):
    import_file(EXAMPLES / "shipments.csv", cus.agency)
    confidential = Record.objects.get(owner=cus.agency, external_ref="SHP-0002")  # level 2
    confidential.caveats = []
    confidential.save()
    releases.set_releasability(confidential, cus.analyst, "covering")
    chain(cus, pol, tax, first_terms={"ceiling": 2}, second_terms={"ceiling": 1})
    # pol holds it; MOU-B does not cover level 2, so the release shows tax nothing.
    releases.release_onward(confidential, pol.liaison, Agreement.objects.get(reference="MOU-B"))
    assert status(pol, confidential) == 200
    assert status(tax, confidential) == 404
    # A second agreement wide enough carries it; a first one too narrow cuts it.
    wide = in_force((pol, True, False), (tax, False, True), reference="MOU-WIDE", ceiling=3)
    releases.release_onward(confidential, pol.liaison, wide)
    assert status(tax, confidential) == 200
    narrow_first = in_force(
        (cus, True, False),
        (port := staff("port"), False, True),
        reference="MOU-N",
        onward_sharing_allowed=True,
        ceiling=1,
    )
    onward_from_port = in_force((port, True, False), (tax, False, True), reference="MOU-P", ceiling=3)
    agreements.terminate(Agreement.objects.get(reference="MOU-A"), platform_admin(), "ended")
    assert status(tax, confidential) == 404
    with pytest.raises(ValidationError, match="does not hold this record"):
        releases.release_onward(confidential, port.liaison, onward_from_port)
    assert narrow_first.classification_ceiling == 1


@pytest.mark.parametrize(
    "upstream_stops",
    [
        "owner releases to no one",
        "owner adds no onward sharing",
        "first agreement terminated",
        "first agreement suspended",
        "first agreement expires",
        "owner names another agreement",
    ],
)
def test_an_onward_release_stops_the_instant_its_basis_stops(cus, pol, tax, record, upstream_stops):
    first, second = chain(cus, pol, tax)
    releases.release_onward(record, pol.liaison, second)
    assert status(tax, record) == 200
    assert listed(tax) == {"SHP-0001"}
    admin = platform_admin()
    if upstream_stops == "owner releases to no one":
        releases.set_releasability(record, cus.analyst, "none")
    elif upstream_stops == "owner adds no onward sharing":
        from intel.services import update_record

        update_record(record, cus.analyst, caveats=["no_onward_sharing"])
    elif upstream_stops == "first agreement terminated":
        agreements.terminate(first, admin, "ended")
    elif upstream_stops == "first agreement suspended":
        agreements.suspend(first, admin, "paused")
    elif upstream_stops == "owner names another agreement":
        other = in_force((cus, True, False), (port_agency := staff("port2"), False, True), reference="MOU-X")
        releases.set_releasability(record, cus.analyst, "named", [other])
        assert status(port_agency, record) == 200
    if upstream_stops == "first agreement expires":
        with time_machine.travel(first.ends_at + timedelta(seconds=1), tick=False):
            assert status(pol, record) == 404
            assert status(tax, record) == 404
            assert listed(tax) == set()
        return
    assert status(tax, record) == 404
    assert listed(tax) == set()
    assert tax.agency.pk not in Record.objects.filter(pk=record.pk).viewer_agencies()[record.pk]


def test_a_suspended_basis_that_resumes_carries_the_onward_release_again(cus, pol, tax, record):
    first, second = chain(cus, pol, tax)
    releases.release_onward(record, pol.liaison, second)
    agreements.suspend(first, platform_admin(), "paused")
    assert status(tax, record) == 404
    agreements.resume(first, platform_admin(), "resumed")
    assert status(tax, record) == 200


def test_chains_of_three_hops_follow_every_link(cus, pol, tax, port, record):
    first, second = chain(cus, pol, tax, second_terms={"onward_sharing_allowed": True})
    third = in_force((tax, True, False), (port, False, True), reference="MOU-C")
    # tax cannot pass on what it does not yet hold.
    with pytest.raises(ValidationError, match="does not hold this record"):
        releases.release_onward(record, tax.liaison, third)
    releases.release_onward(record, pol.liaison, second)
    releases.release_onward(record, tax.liaison, third)
    assert status(port, record) == 200
    # Cutting the middle link cuts everything after it.
    agreements.suspend(second, platform_admin(), "paused")
    assert status(tax, record) == 404
    assert status(port, record) == 404
    agreements.resume(second, platform_admin(), "resumed")
    assert status(port, record) == 200
    # Cutting the first link does too.
    agreements.terminate(first, platform_admin(), "ended")
    assert (status(pol, record), status(tax, record), status(port, record)) == (404, 404, 404)


def test_an_onward_release_needs_an_agreement_that_allows_it_at_every_link(cus, pol, tax, port, record):
    chain(cus, pol, tax)  # MOU-B does not allow onward sharing
    third = in_force((tax, True, False), (port, False, True), reference="MOU-C")
    releases.release_onward(record, pol.liaison, Agreement.objects.get(reference="MOU-B"))
    with pytest.raises(ValidationError, match="allows onward sharing"):
        releases.release_onward(record, tax.liaison, third)
    assert status(port, record) == 404


def test_a_record_held_by_grant_is_never_released_onward(cus, pol, tax, record):
    releases.set_releasability(record, cus.analyst, "none")
    second = in_force((pol, True, False), (tax, False, True), reference="MOU-B")
    RecordGroupObjectPermission.objects.create(
        content_object=record,
        group=pol.agency.group,
        permission=Permission.objects.get(codename="view_record", content_type__app_label="intel"),
        expires_at=timezone.now() + timedelta(days=1),
    )
    assert status(pol, record) == 200
    with pytest.raises(ValidationError, match="does not hold this record"):
        releases.release_onward(record, pol.liaison, second)
    assert status(tax, record) == 404


def test_the_owners_consent_revives_an_onward_release_the_code_stopped_and_tells_the_graph(
    cus, pol, tax, record
):
    from graph.models import OutboxEntry
    from intel.services import update_record

    _, second = chain(cus, pol, tax)
    releases.release_onward(record, pol.liaison, second)
    update_record(record, cus.analyst, caveats=["no_onward_sharing"])
    assert status(tax, record) == 404
    consent = requests.request_consent(
        pol.analyst,
        record=record,
        caveat="no_onward_sharing",
        purpose="investigation",
        justification="tax angle",
        urgency="routine",
    )
    OutboxEntry.objects.all().delete()
    requests.approve(consent, cus.liaison)
    assert status(tax, record) == 200
    assert OutboxEntry.objects.filter(kind="record", object_id=record.pk).exists()


def amended(agreement: Agreement, parties, **changes) -> Agreement:
    amendment = agreements.amend(agreement, parties[0].admin, **changes)
    agreements.propose(amendment, parties[0].admin)
    for party in parties:
        amendment = agreements.sign(amendment, party.admin)
    return Agreement.objects.get(pk=amendment.pk)


def test_an_amendment_upstream_carries_the_chain_over_with_its_new_terms(cus, pol, tax, record):
    first, second = chain(cus, pol, tax)
    releases.release_onward(record, pol.liaison, second)
    assert "summary" in body(tax, record)
    amended(first, [cus, pol], redacted_fields=["summary"])
    # The chain now runs through the amendment, and what it redacts reaches tax too.
    shown = body(tax, record)
    assert "summary" not in shown and shown["external_ref"] == "SHP-0001"
    assert "summary" in body(cus, record)


def test_an_amendment_that_stops_onward_sharing_stops_the_chain(cus, pol, tax, record):
    first, second = chain(cus, pol, tax)
    releases.release_onward(record, pol.liaison, second)
    amended(first, [cus, pol], onward_sharing_allowed=False)
    assert status(pol, record) == 200
    assert status(tax, record) == 404


def test_an_amendment_of_the_onward_agreement_keeps_its_releases(cus, pol, tax, record):
    _, second = chain(cus, pol, tax)
    releases.release_onward(record, pol.liaison, second)
    amended(second, [pol, tax], redacted_fields=["summary"])
    shown = body(tax, record)
    assert "summary" not in shown and shown["external_ref"] == "SHP-0001"
    # Its new purposes still meet the first agreement's: intelligence was never permitted there.
    amended(Agreement.objects.get(amends=second), [pol, tax], purposes=("investigation", "intelligence"))
    assert status(tax, record, "intelligence") == 403
    assert status(tax, record, "investigation") == 200


def test_onward_releases_withdrawn_with_the_owners_release_are_audited(cus, pol, tax, port, record):
    """The owner narrows its release: the recipients' onward releases built on it go with it
    (the basis's cascade), and the owner's audit event says which, agency and agreement,
    where it named only the owner's own agreements before."""
    first, second = chain(cus, pol, tax, second_terms={"onward_sharing_allowed": True})
    third = in_force((tax, True, False), (port, False, True), reference="MOU-C")
    releases.set_releasability(record, cus.liaison, "named", [first])
    releases.release_onward(record, pol.liaison, second)
    releases.release_onward(record, tax.liaison, third)
    assert status(port, record) == 200

    releases.set_releasability(record, cus.liaison, "none")
    assert (status(pol, record), status(tax, record), status(port, record)) == (404, 404, 404)
    event = AuditEvent.objects.filter(action="record.release", object_id=str(record.pk)).latest("id")
    assert event.details["before"] == [first.pk]
    assert event.details["onward_withdrawn"] == [
        {"agency": pol.agency.pk, "agreement": second.pk},
        {"agency": tax.agency.pk, "agreement": third.pk},
    ]
