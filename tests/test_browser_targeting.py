"""An analyst works the targeting queue in real headless Chromium under the strict CSP: open
the queue, open the top declaration's explanation, decide to inspect it, and find the
decision in the queue."""

import pytest

from targeting import profiles
from targeting.models import Decision, ScoringRun
from tests.auth_helpers import browser_sign_in
from tests.targeting_scene import build
from tests.test_browser_workspace import SCREENSHOTS
from tests.test_headers import RECORD_VIOLATIONS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_analyst_opens_an_explanation_and_decides_to_inspect(browser, live_server, tmp_path):
    scene = build(tmp_path)
    # Half of the two declarations: the line falls under the first.
    changed = profiles.change_profile(scene.cus.admin, reason="a busy week", budget=0.5)
    password = "analyst pass phrase"
    scene.cus.analyst.set_password(password)
    scene.cus.analyst.save()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.add_init_script(RECORD_VIOLATIONS)

    browser_sign_in(page, live_server.url, scene.cus.analyst, password, "/accounts/login/?next=/targeting/")
    page.wait_for_url(live_server.url + "/targeting/")
    rows = page.locator("#queue tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").nth(0).inner_text() == "CQ-1"
    assert "undecided" in rows.nth(0).locator("td.decision").inner_text()
    assert rows.nth(0).get_attribute("class") == "in-budget budget-line"
    assert rows.nth(1).get_attribute("class") == ""
    # The profile changed since the scores were computed: opening the queue asked for them afresh.
    run = ScoringRun.objects.get(agency=scene.cus.agency)
    assert run.status in ("pending", "running", "done") and run.requested_at > changed.created_at
    page.screenshot(path=SCREENSHOTS / "targeting-queue.png", full_page=True)

    page.get_by_role("link", name="CQ-1").click()
    declaration = scene.record("CQ-1")
    page.wait_for_url(f"{live_server.url}/targeting/{declaration.public_id}/")
    assert page.locator("h1").inner_text() == "Declaration CQ-1"
    assert page.locator("#parts meter").count() >= 3
    assert "PZ-2" in page.locator("#parts").inner_text()
    assert "TX-1" not in page.content()
    page.screenshot(path=SCREENSHOTS / "targeting-explanation.png", full_page=True)

    page.select_option("#decision-action", "inspect")
    page.fill("#decision-reason", "watched route; pol's record disagrees on the goods")
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_url(f"{live_server.url}/targeting/{declaration.public_id}/")
    assert "Decision recorded." in page.locator(".messages").inner_text()
    assert page.locator("#outcome-form").is_visible()

    page.get_by_role("link", name="← Queue").click()
    page.wait_for_url(live_server.url + "/targeting/")
    assert page.locator("#queue tbody tr").nth(0).locator("td.decision").inner_text() == "inspect"
    decision = Decision.objects.get()
    assert (decision.record_id, decision.action, decision.decided_by) == (
        declaration.pk,
        "inspect",
        scene.cus.analyst,
    )
    assert page.evaluate("window.__cspViolations") == []
