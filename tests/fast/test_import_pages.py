"""The agency's imports in the browser, on the embedded default: the upload form, a file
imported whole (the import runs as the request waits, without a worker), a file with bad
rows failed with every problem named and nothing written, and the same refusals as the API
(format, size, CSRF). Another agency's upload is missing, as one that does not exist. The
page with a real worker and Chromium is tests/test_browser_imports.py."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from intel.models import ImportBatch, Record
from tests.sharing_helpers import staff
from tests.test_import import EXAMPLES

pytestmark = pytest.mark.django_db

MADE_UP = "6f1c2e0a-58d4-4b53-9b7e-2d0c9a4e7b31"
HEADER = "external_ref,category,occurred_on,summary"


def signed_in(user, *, csrf_checks: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf_checks)
    client.force_login(user)
    return client


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    """Posts a file on the form; the import queued on commit runs then (the test's
    transaction never commits), as it does at once on the embedded default."""

    def posting(client: Client, name: str, content: bytes, **fields):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/imports/", {"file": SimpleUploadedFile(name, content), **fields})

    return posting


def test_a_file_uploaded_is_imported_and_its_page_says_what_it_wrote(upload):
    cus = staff("cus")
    client = signed_in(cus.analyst)
    form = client.get("/imports/")
    assert form.status_code == 200
    assert 'type="file"' in form.content.decode() and "Nothing uploaded yet" in form.content.decode()

    sent = upload(client, "shipments.csv", (EXAMPLES / "shipments.csv").read_bytes())

    assert sent.status_code == 302
    batch = ImportBatch.objects.get(agency=cus.agency)
    assert sent["Location"] == f"/imports/{batch.public_id}/"
    page = client.get(sent["Location"]).content.decode()
    assert "Succeeded" in page and "2 created, 0 updated, 0 unchanged" in page
    assert set(Record.objects.filter(owner=cus.agency).values_list("external_ref", flat=True)) == {
        "SHP-0001",
        "SHP-0002",
    }
    listed = client.get("/imports/").content.decode()
    assert "shipments.csv" in listed and "Succeeded" in listed


def test_a_file_with_bad_rows_fails_naming_each_row_and_field_and_writes_nothing(upload):
    cus = staff("cus")
    client = signed_in(cus.analyst)
    rows = [
        HEADER,
        "R-1,shipment,2026-01-05,fine",
        "R-2,parcel,2026-01-05,bad category",
        "R-3,shipment,0026-01-05,typo",
    ]

    sent = upload(client, "bad.csv", "\n".join(rows).encode())

    page = client.get(sent["Location"]).content.decode()
    assert "Failed" in page and "Nothing of the file was written" in page
    problems = re.findall(r"<tr><td>(\d+)</td><td>(\w+)</td>", page)
    assert problems == [("3", "category"), ("4", "occurred_on")]
    assert not Record.objects.exists()


def test_unknown_columns_are_refused_or_with_the_box_ticked_listed_as_warnings(upload):
    cus = staff("cus")
    client = signed_in(cus.analyst)
    content = f"{HEADER},colour\nR-1,shipment,2026-01-05,fine,blue\n".encode()

    refused = client.get(upload(client, "a.csv", content)["Location"]).content.decode()
    allowed = upload(client, "b.csv", content, allow_unknown_columns="on")
    taken = client.get(allowed["Location"]).content.decode()

    assert "Failed" in refused and "colour" in refused
    assert "Succeeded" in taken and "colour: unknown column, ignored" in taken
    assert Record.objects.filter(owner=cus.agency).count() == 1


@pytest.mark.parametrize(
    ("name", "content", "status", "says"),
    [
        ("records.txt", b"R-1", 400, "format"),
        ("records.csv", b"x" * 2048, 413, "larger than 1024 bytes"),
    ],
)
def test_a_file_of_no_known_format_or_over_the_limit_is_refused_on_the_form(
    upload, settings, name, content, status, says
):
    settings.IMPORT_MAX_FILE_BYTES = 1024
    client = signed_in(staff("cus").analyst)
    refused = upload(client, name, content)
    assert refused.status_code == status
    assert says in re.search(r'<p class="error" id="refused">([^<]*)</p>', refused.content.decode()).group(1)
    assert not ImportBatch.objects.exists()


def test_an_upload_without_the_csrf_token_is_refused(upload):
    client = signed_in(staff("cus").analyst, csrf_checks=True)
    assert upload(client, "shipments.csv", (EXAMPLES / "shipments.csv").read_bytes()).status_code == 403
    assert not ImportBatch.objects.exists()


def test_another_agencys_upload_is_missing_as_one_that_does_not_exist(upload):
    cus, pol = staff("cus"), staff("pol", kind="police")
    theirs = upload(signed_in(pol.analyst), "shipments.csv", (EXAMPLES / "shipments.csv").read_bytes())
    client = signed_in(cus.analyst)

    hidden = client.get(theirs["Location"])
    made_up = client.get(f"/imports/{MADE_UP}/")

    assert hidden.status_code == made_up.status_code == 404
    assert hidden.content == made_up.content
    assert "shipments.csv" not in client.get("/imports/").content.decode()


def test_imports_are_for_members_of_an_agency(upload):
    from agencies.models import User

    assert Client().get("/imports/").status_code == 302  # to the sign-in page
    outsider = User.objects.create(username="outsider")
    assert signed_in(outsider).get("/imports/").status_code == 403
    assert upload(signed_in(outsider), "s.csv", (EXAMPLES / "shipments.csv").read_bytes()).status_code == 403
    assert not ImportBatch.objects.exists()


def test_an_upload_on_the_embedded_database_has_at_most_its_rows_limit(upload, settings):
    """The import holds the embedded database's only write lock for the whole file, and the
    server's audited reads wait for it: an upload is kept to IMPORT_EMBEDDED_MAX_ROWS, and
    the refusal says why and what to do."""
    settings.IMPORT_EMBEDDED_MAX_ROWS = 3
    client = signed_in(staff("cus").analyst)
    rows = [f"R-{number},shipment,2026-01-05,row {number}" for number in range(1, 5)]

    refused = client.get(upload(client, "four.csv", "\n".join([HEADER, *rows]).encode())["Location"])
    taken = client.get(upload(client, "three.csv", "\n".join([HEADER, *rows[:3]]).encode())["Location"])

    page = refused.content.decode()
    assert "Failed" in page
    assert "more than 3 rows (IMPORT_EMBEDDED_MAX_ROWS" in page and "split the file" in page
    assert "Here a file has at most 3 rows" in client.get("/imports/").content.decode()
    assert "3 created" in taken.content.decode()
    assert Record.objects.count() == 3


def test_an_uploads_rows_are_counted_before_its_import_so_its_page_shows_them_of_a_total(upload, monkeypatch):
    """The total was known only at the end: a running upload showed rows read of nothing."""
    from intel import import_writing, services

    seen = []
    importing = import_writing.import_file

    def watched(path, agency, *, batch=None, **options):
        seen.append(ImportBatch.objects.get(pk=batch.pk).rows_total)
        return importing(path, agency, batch=batch, **options)

    monkeypatch.setattr(services, "import_file", watched)
    client = signed_in(staff("cus").analyst)
    upload(client, "shipments.csv", (EXAMPLES / "shipments.csv").read_bytes())
    assert seen == [2]  # stored before the import began


def test_a_refused_or_missing_page_is_a_page_of_the_site_saying_why(upload):
    """They were Django's bare 403 and 404 pages, without the menu or a way back."""
    client = signed_in(staff("cus").analyst)
    refused = client.get("/liaison/requests/")
    assert refused.status_code == 403
    assert (
        "For liaison officers." in refused.content.decode()
        and "Back to your work" in refused.content.decode()
    )
    missing = client.get(f"/imports/{MADE_UP}/")
    assert missing.status_code == 404
    assert "There is nothing here that you may see." in missing.content.decode()


@pytest.mark.parametrize("stored_name", ["records.txt", ""])
def test_a_batch_whose_file_cannot_be_read_ends_failed_not_running(stored_name):
    """What the worker finds wrong before reading (a name of no known format, no file) failed
    nothing: the batch stayed running, and its page reloaded itself for ever."""
    from intel.services import run_import_batch

    cus = staff("cus")
    batch = ImportBatch.objects.create(
        agency=cus.agency, uploaded_by=cus.analyst, original_name=stored_name or "x.csv"
    )
    if stored_name:
        batch.file.save("records.csv", SimpleUploadedFile("records.csv", b"external_ref\n"), save=True)
    finished = run_import_batch(batch.pk)
    assert finished.status == "failed" and finished.errors
