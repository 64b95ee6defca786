"""Agencies with their staff, built through the real services, as fixtures shared by the
sharing tests; and a bare agency for the import tests (registered in conftest.py)."""

import pytest

from agencies.models import Agency
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


@pytest.fixture
def customs(db) -> Agency:
    """An agency with no staff: what an import needs."""
    return Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
