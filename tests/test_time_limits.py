"""Statements given a time limit, on PostgreSQL (tests/time_limit_checks.py)."""

import pytest
from django.db import connection

from tests import time_limit_checks as checks

# In the transaction each test runs in: the block is a savepoint of it.
pytestmark = pytest.mark.django_db


def test_on_postgresql():
    assert connection.vendor == "postgresql"


def test_a_slow_statement_is_stopped_and_the_block_undone():
    checks.a_slow_statement_is_stopped_and_the_block_undone()


def test_quick_statements_pass_and_the_block_commits():
    checks.quick_statements_pass_and_the_block_commits()


def test_other_database_errors_pass_through():
    checks.other_database_errors_pass_through()


def test_after_the_block_statements_are_not_limited():
    checks.after_the_block_statements_are_not_limited()
