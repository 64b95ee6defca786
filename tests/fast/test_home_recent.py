"""The home page's latest records of the agency, newest first by the date each states (they
were listed as entered, with their dates beside them in no order)."""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from intel.import_writing import import_file
from tests.sharing_helpers import staff

pytestmark = pytest.mark.django_db


def test_the_home_lists_the_agencys_latest_records_by_their_dates(tmp_path):
    cus, pol = staff("cus"), staff("pol", kind="police")
    # Entered in this order; their dates say another.
    for owner, refs_and_dates in (
        (cus, [("C-MID", "2026-03-01"), ("C-OLD", "2025-11-30"), ("C-NEW", "2026-06-15")]),
        (pol, [("P-NEWEST", "2026-07-01")]),
    ):
        upload = tmp_path / f"{owner.agency.code}.jsonl"
        rows = [
            {"external_ref": ref, "category": "shipment", "occurred_on": day} for ref, day in refs_and_dates
        ]
        upload.write_text("".join(json.dumps(row) + "\n" for row in rows))
        import_file(upload, owner.agency)
    client = Client()
    client.force_login(cus.analyst)

    page = client.get("/").content.decode()

    recent = page[page.index('id="recent"') :]
    recent = recent[: recent.index("</section>")]
    assert re.findall(r">([CP]-\w+)</a>", recent) == ["C-NEW", "C-MID", "C-OLD"]


def test_a_date_stays_on_one_line_and_a_browser_asking_for_favicon_ico_gets_the_icon(tmp_path):
    """A new user saw dates broken as 2025-12-/31, and a 404 logged for /favicon.ico on every
    page that names no icon (the admin's, the API's)."""
    cus = staff("cus")
    upload = tmp_path / "one.jsonl"
    upload.write_text(
        json.dumps({"external_ref": "C-1", "category": "shipment", "occurred_on": "2025-12-31"})
    )
    import_file(upload, cus.agency)
    client = Client()
    client.force_login(cus.analyst)
    assert '<span class="muted date">2025-12-31</span>' in client.get("/").content.decode()
    css = (Path(settings.BASE_DIR) / "static" / "interlink.css").read_text()
    assert ".date, .ref { white-space: nowrap; }" in css
    icon = Client().get("/favicon.ico")
    assert (icon.status_code, icon["Location"]) == (302, "/static/favicon.svg")
    assert (Path(settings.BASE_DIR) / "static" / "favicon.svg").is_file()


def test_each_analysis_the_dossier_offers_has_its_section_to_return_to():
    """Compute returns to the analysis's section: one offered without a section answered a
    500 after it had been computed and audited."""
    from workspace import pages, selectors

    assert set(pages.ANALYSIS_SECTIONS) == set(selectors.PROFILE_ANALYSES)
