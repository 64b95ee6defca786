"""An analyst imports a file of the agency's records in Chromium, on the full stack: the
upload goes to a real Celery worker, the import's page follows it (status, then rows
processed of rows total) and ends with what it wrote; a file with a bad row ends failed,
naming it, with nothing written."""

import pytest

from intel.models import Record
from tests.auth_helpers import browser_sign_in
from tests.sharing_helpers import staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "analyst pass phrase"
ROWS = 3000


def rows_file(path, count: int, *, prefix: str = "R", bad_row: int | None = None):
    lines = ["external_ref,category,occurred_on,summary,importer_name,importer_country"]
    for number in range(1, count + 1):
        category = "parcel" if number == bad_row else "shipment"
        trader = f"Trader {number % 97} BV"
        lines.append(f"{prefix}-{number},{category},2026-01-05,declaration {number},{trader},NL")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_analyst_uploads_a_file_and_its_page_follows_the_worker_to_the_end(
    browser, live_server, celery_worker, tmp_path
):
    cus = staff("cus")
    cus.analyst.set_password(PASSWORD)
    cus.analyst.save()
    page = browser.new_page()
    browser_sign_in(page, live_server.url, cus.analyst, PASSWORD, "/accounts/login/?next=/imports/")
    page.wait_for_url("**/imports/")

    page.set_input_files("#id_file", str(rows_file(tmp_path / "declarations.csv", ROWS)))
    page.click("#upload button[type=submit]")
    page.wait_for_url("**/imports/*-*/")

    # Followed while the worker runs: the page reloads itself until the import ends.
    assert page.locator("#state strong").inner_text() in ("Pending", "Running")
    page.wait_for_selector("#counts", timeout=120_000)
    assert page.locator("#counts").inner_text() == f"{ROWS} created, 0 updated, 0 unchanged"
    assert Record.objects.filter(owner=cus.agency).count() == ROWS

    page.goto(live_server.url + "/imports/")
    first = page.locator("#imports tbody tr").first.inner_text()
    assert "declarations.csv" in first and "Succeeded" in first

    page.set_input_files("#id_file", str(rows_file(tmp_path / "mended.csv", 5, prefix="M", bad_row=4)))
    page.click("#upload button[type=submit]")
    page.wait_for_url("**/imports/*-*/")
    page.wait_for_selector("#problems", timeout=120_000)
    assert page.locator("#state strong").inner_text() == "Failed"
    problem = page.locator("#problems tbody tr").first.inner_text().split("\t")
    assert problem[:2] == ["5", "category"]  # the header is row 1
    assert not Record.objects.filter(external_ref__startswith="M-").exists()
