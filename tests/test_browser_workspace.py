"""An analyst's first errand in real headless Chromium under the strict CSP: sign in, search,
open the dossier of a broker a partner also holds records on, and ask for them."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from audit.models import AuditEvent
from graph import jobs
from graph.models import AnalyticsResult
from sharing.models import DisclosureRequest
from tests.auth_helpers import browser_sign_in
from tests.test_headers import RECORD_VIOLATIONS
from tests.workspace_scene import HIDDEN_FROM_CUS, build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Screenshots of the run, for a person to look at (var/ is not committed).
SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"


def test_analyst_searches_opens_a_dossier_and_requests_disclosure(browser, live_server, tmp_path):
    scene = build(tmp_path)
    scene.cus.analyst.set_password("analyst pass phrase")
    scene.cus.analyst.save()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.add_init_script(RECORD_VIOLATIONS)
    console = []
    page.on("console", lambda message: console.append(message.text))

    password = "analyst pass phrase"
    browser_sign_in(page, live_server.url, scene.cus.analyst, password, "/accounts/login/?next=/")
    page.wait_for_url(live_server.url + "/")
    assert "WS-3" in page.locator("#recent").inner_text()
    page.screenshot(path=SCREENSHOTS / "workspace-home.png", full_page=True)

    page.fill("#home-q", "quay")
    page.press("#home-q", "Enter")
    page.wait_for_url("**/search/?q=quay")
    headings = page.locator("section.group h2").all_inner_texts()
    assert [h.split()[0] for h in headings] == ["Company", "Address"]
    page.screenshot(path=SCREENSHOTS / "workspace-search.png", full_page=True)

    page.get_by_role("link", name="Quay Brokers BV").click()
    page.wait_for_url(f"{live_server.url}/entities/{scene.broker.public_id}/")
    assert page.locator("h1").inner_text() == "Quay Brokers BV"
    assert (
        "POL (pol) holds 1 record on this entity that you cannot see." in page.locator("#hits").inner_text()
    )
    content = page.content()
    assert not [hidden for hidden in HIDDEN_FROM_CUS if hidden in content]

    page.get_by_text("Request disclosure from pol").click()
    page.select_option("#purpose-pol", "investigation")
    page.select_option("#urgency-pol", "urgent")
    page.fill("#justification-pol", "the broker of our under-declared fish")
    page.screenshot(path=SCREENSHOTS / "workspace-dossier.png", full_page=True)
    page.get_by_role("button", name="Request disclosure").click()
    page.wait_for_url(f"{live_server.url}/entities/{scene.broker.public_id}/")
    assert "sent to pol" in page.locator(".messages").inner_text()

    request = DisclosureRequest.objects.get()
    assert (request.owner_id, request.purpose, request.urgency) == (
        scene.pol.agency.pk,
        "investigation",
        "urgent",
    )
    assert request.justification == "the broker of our under-declared fish"
    page.goto(live_server.url + "/")
    assert request.reference in page.locator("#filed").inner_text()

    assert page.evaluate("window.__cspViolations") == []
    assert not [text for text in console if "Content Security Policy" in text], console


def test_a_dossier_follows_its_analysis_by_its_state_and_reads_itself_once_done(
    browser, live_server, without_session_worker, tmp_path
):
    """No worker takes the job: the analysis stays pending until the test runs it."""
    scene = build(tmp_path)
    scene.cus.analyst.set_password("analyst pass phrase")
    scene.cus.analyst.save()
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.add_init_script(RECORD_VIOLATIONS)
    dossier = f"{live_server.url}/entities/{scene.broker.public_id}/"
    browser_sign_in(
        page, live_server.url, scene.cus.analyst, "analyst pass phrase", "/accounts/login/?next=/"
    )
    page.wait_for_url(live_server.url + "/")
    page.goto(dossier)
    page.locator("#risk").get_by_role("button", name="Compute").click()
    page.wait_for_url(dossier + "#risk")  # back at the analysis asked for
    assert "Being computed" in page.locator("#risk").inner_text()

    loads = []
    page.on("framenavigated", lambda frame: loads.append(frame.url) if frame == page.main_frame else None)
    reads = AuditEvent.objects.filter(action="record.read").count()
    for _ in range(2):
        with page.expect_response(lambda response: response.url.endswith("/analyses/")) as asked:
            pass
        assert asked.value.status == 200
    # Asked twice how far it has come, the dossier was not read again, nor audited.
    assert loads == []
    assert AuditEvent.objects.filter(action="record.read").count() == reads

    AnalyticsResult.objects.filter(operation="network_risk").update(progress=60)
    expect(page.locator('[data-progress-text="network_risk"]')).to_have_text("60", timeout=15_000)
    assert page.locator('progress[data-progress="network_risk"]').get_attribute("value") == "60"
    jobs.run_analysis(AnalyticsResult.objects.get(operation="network_risk").pk)
    page.wait_for_selector("#risk >> text=Ranked", timeout=30_000)
    assert loads == [dossier]  # read again once, when done
    assert page.evaluate("window.__cspViolations") == []
