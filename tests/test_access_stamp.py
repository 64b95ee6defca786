"""The tests of tests/fast/test_access_stamp.py on PostgreSQL (statement triggers), and a
TRUNCATE, as a transactional test's flush empties the tables."""

import pytest
from django.db import connection

from sharing.models import AccessStamp
from tests.fast.test_access_stamp import *  # noqa: F403 (the same tests, on PostgreSQL)
from tests.fast.test_access_stamp import stamp

pytestmark = pytest.mark.django_db


def test_a_truncate_of_the_agreements_changes_the_stamp():
    before = stamp()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE sharing_agreement CASCADE")
    assert stamp() not in (None, before)
    assert AccessStamp.objects.count() == 1
