"""The pages a newcomer meets first, in real headless Chromium."""

import pytest

from tests.auth_helpers import totp_for_secret

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_page_and_admin_login_render_and_sign_in(browser, live_server, django_user_model):
    django_user_model.objects.create_superuser("platform-admin", password="correct horse battery")
    page = browser.new_page()
    page.goto(live_server.url + "/")
    assert page.locator("h1").inner_text() == "Interlink"

    page.goto(live_server.url + "/admin/")
    assert "Log in" in page.title()
    page.fill("#id_username", "platform-admin")
    page.fill("#id_password", "wrong password")
    page.click("input[type=submit]")
    assert page.locator(".errornote").is_visible()

    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    # A platform admin's first sign-in enrols a second factor before anything else.
    page.wait_for_url("**/accounts/mfa/setup/**")
    assert page.goto(live_server.url + "/admin/").url.startswith(live_server.url + "/accounts/mfa/setup/")
    secret = page.locator("#totp-secret").inner_text()
    page.fill("#id_code", totp_for_secret(secret))
    page.click("#mfa-submit")
    assert page.locator("ul.recovery-codes li").count() == 10
    page.click("text=Continue")
    page.wait_for_url(live_server.url + "/admin/")
    assert "Site administration" in page.title()


def test_analyst_searches_and_sees_only_what_their_agency_may_see(browser, live_server, django_user_model):
    from agencies.models import Agency
    from intel.import_writing import import_file
    from tests.test_import import EXAMPLES

    customs = Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
    police = Agency.objects.create(code="pol", name="Police", country="NL", kind="police")
    import_file(EXAMPLES / "shipments.csv", customs)
    import_file(EXAMPLES / "seizures.jsonl", police)
    django_user_model.objects.create_user(
        "cus-analyst", password="pass phrase 1", agency=customs, role="analyst"
    )

    page = browser.new_page()
    page.goto(live_server.url + "/search/?q=acme+trading")
    page.fill("#id_username", "cus-analyst")
    page.fill("#id_password", "pass phrase 1")
    page.click("button[type=submit]")
    page.wait_for_url("**/search/?q=acme+trading")
    assert page.locator("table.results tbody tr").count() == 1
    page.click("table.results a")
    # Pages link to an entity by its public id, never by the database's key.
    importer = customs.records.get(external_ref="SHP-0001").mentions.get(role="importer").entity
    page.wait_for_url(f"{live_server.url}/entities/{importer.public_id}/")
    heading = page.locator("h1").inner_text()
    assert "ACME Trading Ltd." in heading and "Acme Trading Limited" in heading
    # The police seizure mentions the same company, but customs may not see it.
    assert "SZ-0001" not in page.content()
    assert page.locator("table.results tbody tr").count() == 2

    police_record = police.records.get()
    response = page.goto(f"{live_server.url}/records/{police_record.public_id}/")
    assert response.status == 404
