"""A liaison officer works the request queue in the browser; the requester is notified."""

import pytest

from agencies.mfa import mfa_required
from agencies.models import User
from intel.import_writing import import_file
from intel.models import Entity, Record
from sharing import requests
from tests.auth_helpers import browser_sign_in, totp_device
from tests.sharing_helpers import NO_SEIZURES, in_force, seizures_beyond_scope, staff
from tests.test_import import EXAMPLES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base: str, user: User, path: str) -> None:
    user.set_password("liaison pass phrase")
    user.save()
    if mfa_required(user):
        totp_device(user)
    browser_sign_in(page, base, user, "liaison pass phrase", path)


def test_liaison_approves_a_disclosure_from_the_queue(browser, live_server):
    cus, pol = staff("cus"), staff("pol", kind="police")
    import_file(EXAMPLES / "shipments.csv", cus.agency)
    seizures_beyond_scope(pol)
    in_force((cus, True, True), (pol, True, True), discovery_allowed=True, categories=NO_SEIZURES)
    importer = Record.objects.get(external_ref="SHP-0001").mentions.get(role="importer").entity_id
    request = requests.request_disclosure(
        cus.analyst,
        entity_id=importer,
        owner=pol.agency,
        purpose="investigation",
        justification="same importer as our under-valued fish",
        urgency="urgent",
    )
    page = browser.new_page()
    sign_in(page, live_server.url, pol.liaison, "/liaison/requests/")
    page.wait_for_url("**/liaison/requests/")
    row = page.locator("table.results tbody tr").first
    assert "Urgent" in row.inner_text() and "cus" in row.inner_text()
    row.locator("a").click()
    page.wait_for_url(f"{live_server.url}/liaison/requests/{request.public_id}/")
    assert "same importer as our under-valued fish" in page.content()
    assert "SZ-0001" in page.content()
    # Named as pol's own seizure names it (cus's declarations spell it otherwise).
    assert page.locator("#about").inner_text() == (
        "About the company ACME Trading Ltd, named in the records below."
    )
    page.fill("#grant_days", "3")
    page.click("button[value=approve]")
    page.wait_for_url("**/liaison/requests/")
    assert "approved" in page.locator(".messages").inner_text()
    request.refresh_from_db()
    assert request.status == "approved"

    requester = browser.new_page()
    sign_in(requester, live_server.url, cus.analyst, "/requests/")
    requester.wait_for_url("**/requests/")
    assert "pol approved your request" in requester.locator(".notification").inner_text()
    # The request names what it was about: the importer's dossier.
    about = requester.locator("table.results tbody tr").first.locator("a")
    assert about.inner_text() == "the company"
    assert about.get_attribute("href") == f"/entities/{Entity.objects.get(pk=importer).public_id}/"

    page.goto(live_server.url + "/liaison/access/")
    assert page.locator("table.results tbody tr").count() == 1
    seizure = Record.objects.get(owner=pol.agency)
    requester.goto(f"{live_server.url}/records/{seizure.public_id}/")
    assert requester.locator("h1").inner_text() == "SZ-0001"
    page.goto(live_server.url + "/liaison/access/")
    assert "cus" in page.locator("table.results tbody tr").first.inner_text()
