"""The agreements' stamp and the terms in force each process keeps against it
(`sharing.access.terms_in_force`), on the embedded default's SQLite; tests/test_access_stamp.py
runs these on PostgreSQL too. The expectations are the agreements each test signs, ends or
changes, written by hand."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from sharing import access, agreements
from sharing.models import AccessStamp, Agreement, AgreementParty
from tests.sharing_helpers import draft, in_force, platform_admin, staff

pytestmark = pytest.mark.django_db


def stamp() -> str | None:
    return AccessStamp.objects.filter(pk=1).values_list("stamp", flat=True).first()


def received_by(agency_id: int) -> set[str]:
    """The references of the agreements in force the agency receives under, as kept."""
    terms, received = access.terms_in_force()
    return {terms[pk].reference for pk in received.get(agency_id, ())}


def test_every_write_of_agreements_or_parties_changes_the_stamp() -> None:
    cus, pol = staff("cus"), staff("pol", kind="police")
    seen = [stamp()]

    def changed() -> None:
        now = stamp()
        assert now is not None and now not in seen, seen
        seen.append(now)

    drafted = draft((cus, True, True), (pol, True, True), reference="MOU-D")  # inserts
    changed()
    Agreement.objects.filter(pk=drafted.pk).update(title="retitled")
    changed()
    AgreementParty.objects.filter(agreement=drafted, agency=pol.agency).update(provides=False)
    changed()
    with connection.cursor() as cursor:  # raw SQL too
        cursor.execute("UPDATE sharing_agreement SET title = 'by hand' WHERE id = %s", [drafted.pk])
    changed()
    AgreementParty.objects.filter(agreement=drafted, agency=pol.agency).delete()
    changed()
    Agreement.objects.filter(pk=drafted.pk).delete()
    changed()


def test_the_kept_terms_follow_each_signature_suspension_resumption_and_termination(
    django_assert_num_queries,
) -> None:
    cus, pol, tax = staff("cus"), staff("pol", kind="police"), staff("tax", kind="tax")
    assert received_by(pol.agency.pk) == set()
    mou = in_force((cus, True, False), (pol, False, True), reference="MOU-CP")
    assert received_by(pol.agency.pk) == {"MOU-CP"}
    with django_assert_num_queries(1):  # kept: the stamp alone is read
        assert received_by(pol.agency.pk) == {"MOU-CP"}
    assert received_by(cus.agency.pk) == set()  # cus provides only
    in_force((tax, True, False), (pol, False, True), reference="MOU-TP")
    assert received_by(pol.agency.pk) == {"MOU-CP", "MOU-TP"}
    admin = platform_admin()
    agreements.suspend(mou, admin, "under review")
    assert received_by(pol.agency.pk) == {"MOU-TP"}
    agreements.resume(Agreement.objects.get(pk=mou.pk), admin, "reviewed")
    assert received_by(pol.agency.pk) == {"MOU-CP", "MOU-TP"}
    agreements.terminate(Agreement.objects.get(pk=mou.pk), admin, "ended")
    assert received_by(pol.agency.pk) == {"MOU-TP"}
    # The access built from them, as every read asks it.
    assert set(access.AgreementAccess.for_agency(pol.agency.pk).agreements) == {
        Agreement.objects.get(reference="MOU-TP").pk
    }


def test_a_start_or_end_date_passing_changes_the_kept_terms_with_nobody_writing(monkeypatch) -> None:
    cus, pol = staff("cus"), staff("pol", kind="police")
    starts = timezone.now() - timedelta(minutes=1)
    in_force((cus, True, False), (pol, False, True), reference="MOU-END", starts_at=starts, days=1)
    later = in_force(
        (cus, True, False), (pol, False, True), reference="MOU-LATER", starts_at=starts + timedelta(hours=5)
    )
    assert later.starts_at > timezone.now()
    assert received_by(pol.agency.pk) == {"MOU-END"}
    written = stamp()
    for hours, expected in ((4, {"MOU-END"}), (6, {"MOU-END", "MOU-LATER"}), (25, {"MOU-LATER"})):
        moment = starts + timedelta(hours=hours)
        monkeypatch.setattr(timezone, "now", lambda moment=moment: moment)
        assert received_by(pol.agency.pk) == expected, hours
    assert stamp() == written  # the clock alone
    # A clock set back (an NTP correction) is before the later start it had passed.
    back = starts + timedelta(hours=4)
    monkeypatch.setattr(timezone, "now", lambda: back)
    assert received_by(pol.agency.pk) == {"MOU-END"}


def test_with_no_stamp_nothing_is_kept() -> None:
    cus, pol = staff("cus"), staff("pol", kind="police")
    AccessStamp.objects.all().delete()
    assert received_by(pol.agency.pk) == set()
    # A write made with no stamp row makes one; until then no copy was kept to serve it.
    in_force((cus, True, False), (pol, False, True), reference="MOU-1")
    assert stamp() is not None
    assert received_by(pol.agency.pk) == {"MOU-1"}


def test_a_rolled_back_write_leaves_no_copy_a_later_write_could_match() -> None:
    """The copy kept inside a transaction that then rolls back is under a stamp no one else
    ever reads; the next write's stamp is another, not the same count raised again."""
    cus, pol = staff("cus"), staff("pol", kind="police")
    before = stamp()
    try:
        with transaction.atomic():
            in_force((cus, True, False), (pol, False, True), reference="MOU-GONE")
            assert received_by(pol.agency.pk) == {"MOU-GONE"}  # kept, under the uncommitted stamp
            rolled_back = stamp()
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert stamp() == before
    assert received_by(pol.agency.pk) == set()
    in_force((cus, True, False), (pol, False, True), reference="MOU-KEPT")
    assert stamp() not in (before, rolled_back)
    assert received_by(pol.agency.pk) == {"MOU-KEPT"}
