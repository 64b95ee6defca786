"""The link chart's page and the static files it loads: the libraries are found in
node_modules by the finder (never copied into the repository), the page names only static
files that resolve, and the manifest storage used without DEBUG hashes them; the page refuses
what is no entity id, naming the field."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client

from tests.sharing_helpers import staff

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = [
    "npm/cytoscape/dist/cytoscape.min.js",
    "npm/layout-base/layout-base.js",
    "npm/cose-base/cose-base.js",
    "npm/cytoscape-fcose/cytoscape-fcose.js",
]


@pytest.mark.parametrize("name", LIBRARIES)
def test_the_finder_serves_each_library_from_node_modules(name):
    found = Path(finders.find(name))
    package = name.split("/")[1]
    assert found.is_relative_to(ROOT / "node_modules" / package)
    assert found.stat().st_size > 10_000


def test_the_finder_serves_nothing_else_of_the_packages():
    assert finders.find("npm/cytoscape/package.json") in (None, [])
    assert finders.find("npm/cytoscape-fcose/src/index.js") in (None, [])
    collected = {path for finder in finders.get_finders() for path, _ in finder.list([]) if path}
    assert not any(path.startswith("src/") for path in collected if "cytoscape" in path)


def analyst_client(sign_in) -> Client:
    client = Client()
    sign_in(client, staff("cus").analyst)
    return client


def test_the_page_loads_only_static_files_that_resolve(sign_in):
    entity = uuid.uuid4()
    response = analyst_client(sign_in).get("/chart/", {"entity": str(entity), "purpose": "investigation"})
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="/static/([^"]+)"', html)
    assert set(LIBRARIES) <= set(assets) and "linkchart/chart.js" in assets
    assert all(finders.find(asset) for asset in assets)
    # No inline script or style (the CSP refuses them): only the JSON the script reads.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [
        '<script id="chart-config" type="application/json">'
    ]
    assert "<style" not in html and " style=" not in html
    assert str(entity) in html and '"purpose": "investigation"' in html


def test_the_manifest_storage_collects_and_hashes_the_libraries(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    from django.contrib.staticfiles.storage import staticfiles_storage

    for name in [*LIBRARIES, "linkchart/chart.js", "linkchart/chart.css"]:
        hashed = staticfiles_storage.stored_name(name)
        assert hashed != name and (tmp_path / hashed).is_file()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"entity": "not-a-uuid"}, "entity"),
        ({"entity": [str(uuid.uuid4()) for _ in range(21)]}, "entity"),
        ({"purpose": "gossip"}, "purpose"),
        ({"case": "42"}, "case"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(sign_in, query, field):
    response = analyst_client(sign_in).get("/chart/", query)
    assert response.status_code == 400
    assert field in response.content.decode()


def test_the_page_needs_a_signed_in_user():
    response = Client().get("/chart/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
