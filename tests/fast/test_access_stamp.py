"""The agreements' stamp and the terms in force each process keeps against it
(`sharing.access.terms_in_force`), on the embedded default's SQLite; the same cases run on
PostgreSQL in tests/test_access_stamp.py."""

import pytest

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
