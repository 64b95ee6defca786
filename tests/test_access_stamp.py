"""The agreements' stamp and the terms in force each process keeps against it, on
PostgreSQL (statement triggers; the same cases as tests/fast/test_access_stamp.py), and
emptied by a TRUNCATE as a transactional test's flush empties it."""

import pytest
from django.db import connection

from sharing.models import AccessStamp
from tests import access_stamp_cases as cases

pytestmark = pytest.mark.django_db


def test_every_write_of_agreements_or_parties_changes_the_stamp():
    cases.every_write_changes_the_stamp()


def test_the_kept_terms_follow_each_signature_suspension_resumption_and_termination():
    cases.the_kept_terms_follow_each_change()


def test_a_start_or_end_date_passing_changes_the_kept_terms_with_nobody_writing(monkeypatch):
    cases.an_end_date_passing_ends_the_kept_terms_with_nobody_writing(monkeypatch)


def test_with_no_stamp_nothing_is_kept():
    cases.an_emptied_stamp_keeps_nothing()


def test_a_rolled_back_write_leaves_no_copy_a_later_write_could_match():
    cases.a_rolled_back_write_leaves_no_copy_a_later_write_could_match()


def test_a_truncate_of_the_agreements_changes_the_stamp():
    before = cases.stamp()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE sharing_agreement CASCADE")
    assert cases.stamp() not in (None, before)
    assert AccessStamp.objects.count() == 1
