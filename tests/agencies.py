"""Agencies with their staff, built through the real services, as fixtures shared by the
sharing tests (registered in conftest.py)."""

import pytest

from tests.sharing_helpers import Staff, staff


@pytest.fixture
def cus(db) -> Staff:
    return staff("cus")


@pytest.fixture
def pol(db) -> Staff:
    return staff("pol", kind="police")


@pytest.fixture
def tax(db) -> Staff:
    return staff("tax", kind="tax")


@pytest.fixture
def port(db) -> Staff:
    return staff("port", kind="port_authority")
