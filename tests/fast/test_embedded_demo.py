"""`make demo`'s path on the embedded default, in process: the test database is built by the
migrations `migrate` applies, on SQLite; `seed_demo` seeds a small scenario and prints the
credentials; an analyst signs in through the sign-in page with the printed password (and
the second factor, where the agency asks analysts for one), and reads the home page and
the record list. platform/check-demo walks the same path over HTTP on a fresh clone."""

import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from agencies.models import Agency, User
from intel.models import Record
from tests.auth_helpers import next_code, totp_device
from tests.fast.test_seed_demo import seed_demo

pytestmark = pytest.mark.django_db

# The rows of the printed table: username, agency, role, password.
CREDENTIAL = re.compile(
    r"^\s+(?P<username>[a-z0-9-]+)\s+(?P<agency>[a-z-]+)\s+(?P<role>[a-z_]+)\s+(?P<password>\S+)$"
)


@pytest.fixture
def printed(fast_password_hashing) -> str:
    return seed_demo()


def signed_in_with_password(username: str, password: str) -> Client:
    """Through the pages a person uses: the password form, then the second factor when the
    account is asked for one."""
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": password, "next": "/"})
    assert response.status_code == 302, response.content.decode()[:500]
    device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
    if device is not None:
        assert client.get("/").url.startswith("/accounts/mfa/")
        response = client.post("/accounts/mfa/", {"code": next_code(device), "next": "/"})
        assert response.status_code == 302, response.content.decode()[:500]
    assert response.url == "/"
    return client


def test_the_test_database_is_the_embedded_default_fully_migrated():
    assert connection.vendor == "sqlite"
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == [], "a migration is not applied"


@pytest.mark.parametrize("second_factor", [False, True], ids=["as seeded", "agency asks analysts for MFA"])
def test_an_analyst_of_the_seeded_demo_signs_in_and_reads_a_page_and_the_record_list(printed, second_factor):
    analysts = [
        match.groupdict()
        for match in map(CREDENTIAL.match, printed.splitlines())
        if match and match["role"] == "analyst"
    ]
    assert len(analysts) == 4, printed
    analyst = analysts[0]
    if second_factor:
        Agency.objects.filter(code=analyst["agency"]).update(mfa_for_analysts=True)
        totp_device(User.objects.get(username=analyst["username"]))
    client = signed_in_with_password(analyst["username"], analyst["password"])

    home = client.get("/")
    assert home.status_code == 200
    assert f"Signed in as <strong>{analyst['username']}</strong>" in home.content.decode()

    listing = client.get("/api/records/", HTTP_ACCEPT="application/json")
    assert listing.status_code == 200, listing.content.decode()[:500]
    body = listing.json()
    # An agency always reads its own records: at least those are listed.
    own = Record.objects.filter(owner__code=analyst["agency"]).count()
    assert body["count"] >= own > 0
    assert body["results"] and all(record["external_ref"] for record in body["results"])
