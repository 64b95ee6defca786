"""The entity's dossier on the embedded default (SQLite, tasks run in the caller, no Neo4j):
the neighbours ranked in the database and the analyses a page asks for, as `make demo`
serves them."""

import re

import pytest
from django.db import connection
from django.test import Client

from tests.auth_helpers import signed_in
from tests.workspace_scene import build

pytestmark = pytest.mark.django_db


def test_the_dossier_on_the_embedded_default(tmp_path, django_capture_on_commit_callbacks):
    assert connection.vendor == "sqlite"
    scene = build(tmp_path)
    client = signed_in(Client(), scene.cus.analyst)
    url = f"/entities/{scene.broker.public_id}/"
    html = client.get(url).content.decode()
    assert "<h1>Quay Brokers BV</h1>" in html
    assert re.findall(r"<h3>(.*?) <span", html) == ["← brokered by", "contact →"]
    assert "POL (pol) holds" in re.sub(r"<[^>]+>", "", html)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url + "analyse/", {"operation": "network_risk"}).status_code == 302
    html = client.get(url).content.decode()
    risk = html[html.index('id="risk"') :]
    assert "Ranked <strong>" in risk and "Harbour Fish BV" in risk


def test_the_dossier_reads_what_the_agency_may_see_once_for_both_analyses(
    tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    """Without the sync, whether a stored analysis is current is judged on a digest of all the
    agency may see: the dossier shows two, and read it once for both."""
    from graph import jobs

    scene = build(tmp_path)
    client = signed_in(Client(), scene.cus.analyst)
    url = f"/entities/{scene.broker.public_id}/"
    for operation in ("communities", "network_risk"):
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(url + "analyse/", {"operation": operation}).status_code == 302
    digests = []
    digest = jobs.seen_digest
    monkeypatch.setattr(jobs, "seen_digest", lambda **asked: digests.append(asked) or digest(**asked))
    html = client.get(url).content.decode()
    assert len(digests) == 1
    assert 'id="risk"' in html and "Ranked <strong>" in html[html.index('id="risk"') :]
    assert "computed before the latest changes" not in html
