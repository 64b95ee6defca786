"""Headers and exposure: a strict Content Security Policy on every page and API answer,
nothing authenticated kept in a cache, Swagger UI from the project's own static files,
schema and docs behind login (`check --deploy` under production settings is in
tests/fast/test_settings.py)."""

import re
import uuid
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from agencies.tokens import issue_token
from intel.import_writing import import_file
from intel.models import Record
from sharing import requests
from tests.auth_helpers import next_code, totp_device
from tests.sharing_helpers import NO_SEIZURES, in_force, platform_admin, seizures_beyond_scope, staff
from tests.test_import import EXAMPLES

ROOT = Path(__file__).resolve().parent.parent
# A well-formed public id that names no record.
MISSING = uuid.uuid4()
UNSAFE_SOURCES = {
    "'unsafe-inline'",
    "'unsafe-eval'",
    "'unsafe-hashes'",
    "'strict-dynamic'",
    "*",
    "http:",
    "https:",
}


def parse_csp(header: str) -> dict[str, list[str]]:
    """Directive name -> its sources, as a browser reads the header (CSP 3, section 2.2)."""
    policy: dict[str, list[str]] = {}
    for part in header.split(";"):
        tokens = part.split()
        if tokens and tokens[0].lower() not in policy:
            policy[tokens[0].lower()] = tokens[1:]
    return policy


def assert_strict_csp(response, where: str) -> None:
    header = response.get("Content-Security-Policy")
    assert header, f"{where}: no Content-Security-Policy header"
    assert not response.get("Content-Security-Policy-Report-Only"), f"{where}: report-only is not enforcement"
    policy = parse_csp(header)
    assert policy.get("default-src") == ["'self'"], f"{where}: {header}"
    for directive in ("script-src", "style-src"):
        # A directive left out falls back to default-src, which is 'self' alone.
        assert policy.get(directive, ["'self'"]) == ["'self'"], f"{where}: {directive} in {header}"
    assert policy.get("object-src") == ["'none'"], f"{where}: {header}"
    assert policy.get("frame-ancestors") == ["'none'"], f"{where}: {header}"
    assert "base-uri" in policy, f"{where}: {header}"
    for directive, sources in policy.items():
        unsafe = UNSAFE_SOURCES & {source.lower() for source in sources}
        assert not unsafe, f"{where}: {directive} allows {unsafe}"
        assert not any(source.startswith(("'nonce-", "'sha")) for source in sources), f"{where}: {directive}"


def assert_no_store(response, where: str) -> None:
    directives = {part.strip().lower() for part in response.get("Cache-Control", "").split(",")}
    assert "no-store" in directives, f"{where}: Cache-Control is {response.get('Cache-Control')!r}"


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def world(db, sign_in):
    """Two agencies sharing under an agreement, a pending disclosure request, and a user of
    each kind signed in through a session."""
    cus, pol = staff("cus"), staff("pol", kind="police")
    import_file(EXAMPLES / "shipments.csv", cus.agency)
    seizures_beyond_scope(pol)
    in_force((cus, True, True), (pol, True, True), discovery_allowed=True, categories=NO_SEIZURES)
    record = Record.objects.filter(owner=cus.agency).order_by("external_ref").first()
    importer = record.mentions.get(role="importer").entity
    disclosure = requests.request_disclosure(
        cus.analyst,
        entity_id=importer.pk,
        owner=pol.agency,
        purpose="investigation",
        justification="same importer",
        urgency="routine",
    )
    clients = {}
    for name, user in (("analyst", cus.analyst), ("liaison", pol.liaison), ("admin", platform_admin())):
        clients[name] = sign_in(Client(), user)
    return {"record": record, "entity": importer, "disclosure": disclosure, "clients": clients, "cus": cus}


def authenticated_answers(world) -> list[tuple[str, str]]:
    """(who, path): every kind of page and API answer the platform gives a signed-in user."""
    # Pages and the API name objects by their public ids; the admin by the database's key.
    record, entity = world["record"].public_id, world["entity"].public_id
    return [
        ("analyst", "/"),
        ("analyst", reverse("workspace:search") + "?q=acme"),
        ("analyst", reverse("intel:record", args=[record])),
        ("analyst", reverse("workspace:entity", args=[entity])),
        ("analyst", reverse("sharing:my-requests")),
        ("liaison", reverse("sharing:request-queue")),
        ("liaison", reverse("sharing:request-detail", args=[world["disclosure"].public_id])),
        ("liaison", reverse("sharing:shared")),
        ("liaison", reverse("sharing:access")),
        ("admin", reverse("admin:index")),
        ("admin", reverse("admin:intel_record_changelist")),
        ("admin", reverse("admin:intel_record_change", args=[world["record"].pk])),
        ("analyst", "/api/records/"),
        ("analyst", f"/api/records/{record}/"),
        ("analyst", f"/api/entities/{entity}/"),
        ("analyst", "/api/records/export/"),
        ("liaison", "/api/requests/?box=incoming"),
        ("analyst", "/api/schema/"),
        ("analyst", "/api/docs/"),
        ("analyst", "/api/docs/?script="),
        # Refusals are answers too: a hidden record, a missing page.
        ("analyst", f"/api/records/{MISSING}/"),
        ("analyst", "/no-such-page/"),
    ]


def test_every_authenticated_answer_has_a_strict_csp_and_is_not_stored(world):
    for who, path in authenticated_answers(world):
        response = world["clients"][who].get(path)
        where = f"{who} GET {path} ({response.status_code})"
        if path not in (f"/api/records/{MISSING}/", "/no-such-page/"):
            assert response.status_code == 200, where
            assert body_of(response), where
        assert_strict_csp(response, where)
        assert_no_store(response, where)


def test_token_authenticated_api_answers_are_not_stored(world):
    _, raw = issue_token(user=world["cus"].analyst, mfa_verified=False, where={})
    client = Client(HTTP_AUTHORIZATION=f"Token {raw}")
    for path in ("/api/records/", f"/api/records/{world['record'].public_id}/", "/api/records/export/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_no_store(response, f"token GET {path}")
        assert_strict_csp(response, f"token GET {path}")
    # A refused token is still a request that carried credentials.
    refused = Client(HTTP_AUTHORIZATION="Token " + "0" * 40).get("/api/records/")
    assert refused.status_code in (401, 403)
    assert_no_store(refused, "bad token")


@pytest.mark.shared_services
def test_anonymous_pages_carry_the_policy_too(db):
    for path in ("/", reverse("login"), "/health/"):
        response = Client().get(path)
        assert_strict_csp(response, f"anonymous GET {path}")


@pytest.mark.parametrize("path", ["/api/schema/", "/api/schema/?format=json"])
def test_the_schema_is_refused_to_anonymous_callers(db, path):
    response = Client().get(path)
    assert response.status_code in (401, 403)
    assert b"openapi" not in response.content


def test_the_api_docs_send_anonymous_visitors_to_sign_in(db):
    for path in ("/api/docs/", "/api/docs/?script="):
        response = Client().get(path)
        assert response.status_code == 302, path
        assert urlsplit(response["Location"]).path == reverse("login")
        assert b"SwaggerUIBundle" not in response.content


class Sources(HTMLParser):
    """Every URL a page makes the browser load or follow, and any inline code or style."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ("src", "href", "action", "data", "poster"):
            if attributes.get(name):
                self.urls.append(attributes[name])
        if "style" in attributes or any(name.startswith("on") for name in attributes):
            self.inline.append(f"<{tag} {attrs}>")
        executable = tag == "script" and attributes.get("type", "text/javascript") in (
            "text/javascript",
            "module",
        )
        self._in = tag if tag == "style" or (executable and "src" not in attributes) else None

    def handle_data(self, data):
        if self._in and data.strip():
            self.inline.append(f"<{self._in}>{data.strip()[:80]}")

    def handle_endtag(self, tag):
        self._in = None


def test_swagger_ui_is_served_from_our_own_static_files(world):
    client = world["clients"]["analyst"]
    page = client.get("/api/docs/")
    assert page.status_code == 200
    sources = Sources()
    sources.feed(page.content.decode())
    assert not sources.inline, sources.inline
    assert len(sources.urls) >= 4, sources.urls  # icon, two style sheets, three scripts
    for url in sources.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"the docs page loads {url} from elsewhere"
        if parts.path.startswith("/static/"):
            assert finders.find(parts.path.removeprefix("/static/")), f"{url} is not among the static files"
    script_urls = [url for url in sources.urls if "script" in urlsplit(url).query]
    assert len(script_urls) == 1
    script = client.get(script_urls[0])
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content
    assert not re.findall(rb"https?://", script.content), "the start-up script names another host"


def test_no_template_loads_anything_from_another_host():
    """Every template of the project, not only the pages the tests visit."""
    templates = [p for p in ROOT.glob("**/templates/**/*.html") if ".venv" not in p.parts]
    assert len(templates) > 10
    for template in templates:
        sources = Sources()
        sources.feed(template.read_text())
        assert not sources.inline, f"{template}: {sources.inline}"
        for url in sources.urls:
            assert not urlsplit(url).netloc and not url.startswith("//"), f"{template} loads {url}"
            assert not url.strip().lower().startswith("javascript:"), f"{template}: {url}"


# Playwright injects this before any page script, outside the page's CSP.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${where}`);
});
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_pages_and_swagger_ui_work_under_the_policy_in_a_browser(browser, live_server):
    cus = staff("cus")
    import_file(EXAMPLES / "shipments.csv", cus.agency)
    record = Record.objects.filter(owner=cus.agency).order_by("external_ref").first()
    admin = platform_admin()
    for user in (cus.analyst, admin):
        user.set_password("a pass phrase")
        user.save()
    totp_device(admin)

    def signed_in(user, login: str, button: str):
        page = browser.new_page()
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda message: console.append(message.text))
        page.goto(live_server.url + login)
        page.fill("#id_username", user.username)
        page.fill("#id_password", "a pass phrase")
        page.click(button)
        page.wait_for_load_state()
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is not None:
            # The second factor's page is under the same policy.
            page.wait_for_url("**/accounts/mfa/**")
            page.fill("#id_code", next_code(device))
            page.click("#mfa-submit")
            page.wait_for_load_state()
        return page

    console = []
    page = signed_in(cus.analyst, "/accounts/login/?next=/", "button[type=submit]")
    page.wait_for_url(live_server.url + "/")

    # The listener hears a violation when there is one: an inline style is refused.
    page.evaluate("document.head.appendChild(document.createElement('style')).textContent = 'body{}'")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert "style-src" in page.evaluate("window.__cspViolations[0]")
    page.evaluate("window.__cspViolations = []")
    console.clear()

    for path in ("/", reverse("intel:record", args=[record.public_id]), "/api/docs/"):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        if path == "/api/docs/":
            page.wait_for_selector(".swagger-ui .opblock")
            assert "Interlink API" in page.locator(".swagger-ui .info .title").inner_text()
            assert page.locator(".swagger-ui .opblock").count() > 10
        else:
            assert page.locator("h1").inner_text()
        assert page.evaluate("window.__cspViolations") == [], path
        assert not [text for text in console if "Content Security Policy" in text], (path, console)

    # The admin's own scripts and styles (the change form's widgets, the list's filters).
    page = signed_in(admin, "/admin/login/?next=/admin/", "input[type=submit]")
    page.wait_for_url(live_server.url + "/admin/")
    for path in (
        "/admin/",
        reverse("admin:intel_record_changelist"),
        reverse("admin:intel_record_change", args=[record.pk]),
        reverse("admin:sharing_agreement_add"),
    ):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        assert page.locator("#content h1").inner_text(), path
        assert page.evaluate("window.__cspViolations") == [], path
        assert not [text for text in console if "Content Security Policy" in text], (path, console)
