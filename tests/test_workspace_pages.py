"""The analyst's workspace pages (home, search, the entity's dossier) on real PostgreSQL,
checked against the scene's own rows (tests/workspace_scene.py), not against the selectors:
what each agency's records state, who holds what, which names no page may show."""

import re
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from cases.services import create_case
from graph import jobs
from graph.models import AnalyticsResult, OutboxEntry
from intel import selectors as intel_selectors
from intel.import_writing import import_file
from intel.models import Entity, Mention, Record
from sharing import requests
from sharing.access import terms_in_force
from sharing.models import DisclosureRequest
from tests.auth_helpers import signed_in
from tests.sharing_helpers import platform_admin
from tests.workspace_scene import HIDDEN_FROM_CUS, build
from workspace import selectors as workspace_selectors

pytestmark = pytest.mark.django_db

ENTITY_LINK = re.compile(r'href="/entities/([0-9a-f-]{36})/[^"]*"')


@pytest.fixture
def scene(tmp_path):
    return build(tmp_path)


def client_of(user, purpose: str | None = None) -> Client:
    client = signed_in(Client(), user)
    if purpose:
        session = client.session
        session["purpose"] = purpose
        session.save()
    return client


def page(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return response.content.decode()


def section(html: str, name: str) -> str:
    """The part of a page inside the element with id `name`, up to its section's end."""
    start = html.index(f'id="{name}"')
    return html[start : html.index("</section>", start)]


def groups_of(html: str) -> dict[str, str]:
    """The connection groups of a dossier by heading (`brokered by` arrows and all)."""
    found = {}
    for part in section(html, "neighbours").split('<div class="neighbour-group">')[1:]:
        heading = re.search(r"<h3>(.*?) <span", part, re.S).group(1).strip()
        found[heading.replace("&larr;", "←")] = part
    return found


def profile_of(client, entity) -> str:
    return page(client, f"/entities/{entity.public_id}/")


# --- the dossier --------------------------------------------------------------------------


def test_the_dossier_states_what_each_viewers_records_say(scene):
    cus = profile_of(client_of(scene.cus.analyst), scene.broker)
    assert "<h1>Quay Brokers BV</h1>" in cus
    statements = section(cus, "statements")
    assert re.findall(r">(WS-\d|PZ-\d|TX-\d)</a>", statements) == ["WS-2", "WS-1"]
    assert "2026-03-02" in statements and "2026-03-09" in statements
    assert statements.count("<td>cus</td>") == 2

    pol = profile_of(client_of(scene.pol.analyst, "investigation"), scene.broker)
    assert sorted(re.findall(r">(WS-\d|PZ-\d|TX-\d)</a>", section(pol, "statements"))) == [
        "PZ-1",
        "WS-1",
        "WS-2",
    ]
    tax = profile_of(client_of(scene.tax.analyst), scene.broker)
    assert re.findall(r">(WS-\d|PZ-\d|TX-\d)</a>", section(tax, "statements")) == ["TX-1"]


def test_neighbours_are_named_grouped_and_counted_per_viewer(scene):
    html = profile_of(client_of(scene.cus.analyst), scene.broker)
    groups = groups_of(html)
    assert set(groups) == {"← brokered by", "contact →"}
    shipments = {str(scene.entity(ref, "shipment").public_id) for ref in ("WS-1", "WS-2")}
    assert set(ENTITY_LINK.findall(groups["← brokered by"])) == shipments
    assert groups["← brokered by"].count("1 record<") == 2
    phone = scene.entity("WS-1", "phone")
    (item,) = re.findall(r"<li>.*?</li>", groups["contact →"], re.S)
    assert ENTITY_LINK.findall(item) == [str(phone.public_id)]
    assert "+31105550199" in item and "2 records" in item
    assert not re.search(r"#\d+", html), "no inner ids"

    pol = groups_of(profile_of(client_of(scene.pol.analyst, "investigation"), scene.broker))
    assert '<span class="count">3</span>' in section(
        profile_of(client_of(scene.pol.analyst, "investigation"), scene.broker), "neighbours"
    )
    assert len(ENTITY_LINK.findall(pol["← brokered by"])) == 3
    tax = groups_of(profile_of(client_of(scene.tax.analyst), scene.broker))
    assert set(tax) == {"← brokered by"} and len(ENTITY_LINK.findall(tax["← brokered by"])) == 1

    importer = groups_of(profile_of(client_of(scene.cus.analyst), scene.importer))
    assert "Quay Brokers" not in "".join(importer.values()), "a neighbour's neighbour is not a neighbour"
    assert set(importer) == {"← imported by", "registered at →"}
    assert len(ENTITY_LINK.findall(importer["← imported by"])) == 3


def test_hidden_entities_are_the_same_404_as_missing_ones(scene):
    client = client_of(scene.cus.analyst)
    missing = client.get(f"/entities/{uuid.uuid4()}/")
    for hidden in (scene.front, scene.entity("TX-1", "importer")):
        for suffix, method in (
            ("", "get"),
            ("analyse/", "post"),
            ("disclosure/", "post"),
            ("analyses/", "get"),
        ):
            response = getattr(client, method)(
                f"/entities/{hidden.public_id}/{suffix}", {"operation": "communities"}
            )
            again = getattr(client, method)(
                f"/entities/{uuid.uuid4()}/{suffix}", {"operation": "communities"}
            )
            assert response.status_code == again.status_code == 404
            assert response.content == again.content == missing.content
    assert DisclosureRequest.objects.count() == 0
    assert AnalyticsResult.objects.count() == 0


def test_no_page_shows_cus_what_only_hidden_records_state(scene):
    client = client_of(scene.cus.analyst, "investigation")
    seen = {
        str(pk)
        for pk in Mention.objects.filter(record__owner=scene.cus.agency).values_list(
            "entity__public_id", flat=True
        )
    }
    pages = ["/", "/search/?q=bv", "/search/?q=quay", *(f"/entities/{pk}/" for pk in seen)]
    for path in pages:
        html = page(client, path)
        for hidden in HIDDEN_FROM_CUS:
            assert hidden not in html, (path, hidden)
        assert set(ENTITY_LINK.findall(html)) <= seen, path


def test_hit_no_hit_names_the_partner_and_count_only(scene):
    html = profile_of(client_of(scene.cus.analyst), scene.broker)
    hits = section(html, "hits")
    assert (
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", hits.split("<details")[0]))
        .strip()
        .endswith("POL (pol) holds 1 record on this entity that you cannot see.")
    )
    assert "TAX" not in html and "(tax)" not in html, "no agreement with tax: no notice"
    # The partner sees a hit the other way: cus's seizure names the importer pol sees.
    pol = profile_of(client_of(scene.pol.analyst, "investigation"), scene.importer)
    assert "CUS</strong> (cus) holds <strong>1</strong> record" in pol
    assert "WS-3" not in pol and "caught" not in pol
    assert 'id="hits"' not in profile_of(client_of(scene.pol.analyst, "investigation"), scene.broker)


def test_a_disclosure_request_is_filed_from_the_dossier_with_a_purpose(scene):
    client = client_of(scene.cus.analyst)
    url = f"/entities/{scene.broker.public_id}/disclosure/"
    body = {"owner": "pol", "urgency": "urgent", "justification": "same broker as our fish"}
    refused = client.post(url, {**body, "purpose": ""})
    assert refused.status_code == 400 and "purpose" in refused.content.decode()
    for change, field in (
        ({"urgency": "soon"}, "urgency"),
        ({"owner": "tax"}, "owner"),
        ({"owner": "x"}, "owner"),
    ):
        response = client.post(url, {**body, "purpose": "investigation", **change})
        assert response.status_code == 400 and f"{field}: " in response.content.decode(), change
    assert DisclosureRequest.objects.count() == 0

    made = client.post(url, {**body, "purpose": "investigation"})
    assert made.status_code == 302 and made.url == f"/entities/{scene.broker.public_id}/"
    request = DisclosureRequest.objects.get()
    assert (request.owner, request.purpose, request.urgency) == (scene.pol.agency, "investigation", "urgent")
    assert list(request.records.values_list("external_ref", flat=True)) == ["PZ-1"]


def test_the_dossier_offers_only_the_purposes_the_discovery_agreements_permit(scene):
    """MOU-1 allows discovery for risk assessment and investigation; MOU-2 allows none. The
    form offered every purpose, and prosecution was refused only once sent, by its code."""
    client = client_of(scene.cus.analyst)
    html = profile_of(client, scene.broker)
    form = html[html.index('id="purpose-pol"') :]
    offered = re.findall(r'<option value="([^"]*)"', form[: form.index("</select>")])
    assert offered == ["", "investigation", "risk_assessment"]
    url = f"/entities/{scene.broker.public_id}/disclosure/"
    body = {"owner": "pol", "urgency": "routine", "justification": "same broker", "purpose": "prosecution"}
    refused = client.post(url, body)
    assert refused.status_code == 400
    assert (
        "the agreements with pol that allow discovery permit only Investigation (investigation), "
        "Risk assessment (risk_assessment)"
    ) in refused.content.decode()
    assert DisclosureRequest.objects.count() == 0


def test_analyses_are_offered_then_shown_with_the_paths_that_drive_the_risk(scene, monkeypatch):
    client = client_of(scene.cus.analyst)
    html = profile_of(client, scene.broker)
    assert "not computed yet" in section(html, "community") and "not computed yet" in section(html, "risk")
    assert section(html, "risk").count("data-busy=") == 1  # the button says it is at work once sent
    url = f"/entities/{scene.broker.public_id}/analyse/"
    assert client.post(url, {"operation": "betweenness"}).status_code == 400
    for operation in ("network_risk", "communities"):
        asked = client.post(url, {"operation": operation})
        shown_in = "risk" if operation == "network_risk" else "community"
        # Back at the analysis asked for, not at the top of a long page.
        assert asked.status_code == 302
        assert asked["Location"] == f"/entities/{scene.broker.public_id}/#{shown_in}"
        row = AnalyticsResult.objects.get(operation=operation)
        assert row.agency == scene.cus.agency
        computing = section(profile_of(client, scene.broker), shown_in)
        assert "Being computed" in computing and 'data-refresh="3"' in computing
        state_url = f"/entities/{scene.broker.public_id}/analyses/"
        assert f'data-refresh-state="{state_url}"' in computing
        # Followed by its state, which reads no record: no audited read however often asked.
        audited = AuditEvent.objects.count()
        assert client.get(state_url).json() == {"following": True, "progress": {operation: 0}}
        assert client.get(state_url).json()["following"] is True
        assert AuditEvent.objects.count() == audited
        AnalyticsResult.objects.filter(pk=row.pk).update(progress=40)
        assert client.get(state_url).json()["progress"] == {operation: 40}
        jobs.run_analysis(row.pk)
        assert client.get(state_url).json() == {"following": False, "progress": {}}

    html = profile_of(client, scene.broker)
    risk = section(html, "risk")
    assert "Ranked <strong>" in risk
    # Harbour Fish BV is in cus's seizure WS-3: every path to the broker starts there and
    # reaches it through one of the two shipments both are named in.
    shipments = {str(scene.entity(ref, "shipment").public_id) for ref in ("WS-1", "WS-2")}
    paths = re.findall(r"<li>(.*?)</li>", risk.split('class="paths"')[1], re.S)
    assert paths
    for path in paths:
        ids = ENTITY_LINK.findall(path)
        assert ids[0] == str(scene.importer.public_id) and ids[-1] == str(scene.broker.public_id)
        assert set(ids[1:-1]) <= shipments and len(ids) == 3
    assert "Named in a seizure record" in section(profile_of(client, scene.importer), "risk")

    community = section(html, "community")
    seen = {
        str(pk)
        for pk in Mention.objects.filter(record__owner=scene.cus.agency).values_list(
            "entity__public_id", flat=True
        )
    }
    members = set(ENTITY_LINK.findall(community))
    assert members and members <= seen - {str(scene.broker.public_id)}
    size = int(re.search(r"Community \d+: (\d+) entit", community).group(1))
    assert len(members) < size <= len(seen)
    assert 'id="community-more"' not in community  # all shown
    # Shown one at a time, the panel says how many more there are (it listed some, silently).
    monkeypatch.setattr(workspace_selectors, "COMMUNITY_MEMBERS_SHOWN", 1)
    one = section(profile_of(client, scene.broker), "community")
    assert len(ENTITY_LINK.findall(one)) == 1
    assert f"The first 1 shown, and {size - 2} more" in one
    # Another agency's results are its own: pol has asked for nothing.
    pol = profile_of(client_of(scene.pol.analyst, "investigation"), scene.broker)
    assert "not computed yet" in section(pol, "risk") and "not computed yet" in section(pol, "community")
    # Each ask is a graph query in the audit log, as the API's are.
    asked = AuditEvent.objects.filter(action="graph.query", object_id__startswith="analysis.")
    assert [(e.object_id, e.details["entities"], e.details["outcome"]) for e in asked.order_by("id")] == [
        (f"analysis.{operation}", [str(scene.broker.public_id)], "pending")
        for operation in ("network_risk", "communities")
    ]


# --- search -------------------------------------------------------------------------------


def test_search_groups_by_type_by_name_identifier_phone_and_address(scene):
    client = client_of(scene.cus.analyst)

    def grouped(query: str) -> dict[str, set[str]]:
        html = page(client, f"/search/?q={query}")
        groups = {}
        for part in html.split('<section class="group">')[1:]:
            heading = re.search(r"<h2>(\w+) <span", part).group(1)
            groups[heading] = set(ENTITY_LINK.findall(part))
        return groups

    public = lambda ref, role: str(scene.entity(ref, role).public_id)  # noqa: E731
    assert grouped("quay") == {"Company": {public("WS-1", "broker")}, "Address": {public("WS-1", "address")}}
    assert grouped("555+0199") == {"Phone": {public("WS-1", "phone")}}
    assert grouped("9074729") == {"Vessel": {public("WS-1", "vessel")}}
    assert grouped("secret+front") == {}
    assert "Open in link chart" in page(client, "/search/?q=quay")
    assert f'href="/chart/?entity={public("WS-1", "broker")}"' in page(client, "/search/?q=quay")
    # A text too short to search is said under the box, which keeps it (the page was a bare 400).
    short = client.get("/search/?q=x")
    assert short.status_code == 400
    assert 'id="refused">give at least' in short.content.decode()
    assert 'name="q" value="x"' in short.content.decode()


def test_the_search_page_counts_to_the_limit_and_says_where_it_stopped(scene, settings):
    client = client_of(scene.cus.analyst)

    def counted(html: str) -> list[tuple[str, str]]:
        return re.findall(r'<h2>(\w+) <span class="count">([^<]+)</span>', html)

    html = page(client, "/search/?q=quay")
    assert counted(html) == [("Company", "1"), ("Address", "1")]
    assert "At least" not in html and "The search stopped" not in html
    settings.ENTITY_COUNT_LIMIT = 1
    first = min((scene.broker, scene.entity("WS-1", "address")), key=lambda entity: str(entity.public_id))
    html = page(client, "/search/?q=quay")
    assert counted(html) == [({"company": "Company", "address": "Address"}[first.type], "1+")]
    assert set(ENTITY_LINK.findall(html)) == {str(first.public_id)}
    assert "At least 1; the first 1 are shown" in html
    # The type past the limit is not listed: the page says others may match.
    assert "The search stopped after the first 1 entities it found" in html


def test_a_search_past_its_time_limit_is_refused_naming_q_and_keeps_no_audit(scene, settings, monkeypatch):
    client = client_of(scene.pol.analyst, "investigation")
    events = AuditEvent.objects.count()
    assert client.get("/api/search/?q=quay").json()["count"] == 2
    # The control: pol's search shows cus's records, and their reads are audited.
    assert AuditEvent.objects.count() > events
    events = AuditEvent.objects.count()

    settings.SEARCH_STATEMENT_SECONDS = 0.05
    searched = intel_selectors.search_entities

    def slow(reader, query):
        return searched(reader, query).extra(where=["(SELECT true FROM pg_sleep(0.5))"])

    monkeypatch.setattr(intel_selectors, "search_entities", slow)
    api = client.get("/api/search/?q=quay")
    assert api.status_code == 400 and "too long" in api.json()["q"][0]
    html = page(client, "/search/?q=quay", status=400)
    assert "too long" in html and "Quay Brokers" not in html
    assert AuditEvent.objects.count() == events


def test_a_text_only_hidden_records_contain_is_searched_as_one_none_contains(scene):
    """The same statements, so that time does not tell "held by an agency the reader may
    not see" from "held by none"; and the same answer."""
    client = client_of(scene.cus.analyst)

    def statements(path: str) -> tuple[int, list[str]]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        # The texts, ids and savepoint names a statement was given differ; its shape must not.
        shapes = [re.sub(r"'[^']*'", "?", query["sql"]) for query in captured]
        return response.status_code, [re.sub(r'"s\d+_x\d+"', "savepoint", shape) for shape in shapes]

    for path in ("/api/search/?q={}", "/search/?q={}"):
        hidden = statements(path.format("secret+front"))
        absent = statements(path.format("nowhere+at+all"))
        assert hidden == absent
        assert hidden[0] == 200 and len(hidden[1]) > 3


# --- home ---------------------------------------------------------------------------------


def test_home_shows_each_role_its_work(scene):
    disclosure = requests.request_disclosure(
        scene.cus.analyst,
        entity_id=scene.broker.pk,
        owner=scene.pol.agency,
        purpose="investigation",
        justification="same broker",
        urgency="urgent",
    )
    create_case(scene.cus.analyst, name="Broker ring")
    create_case(scene.cus.admin, name="Admin's own, not shared")
    analyst = page(client_of(scene.cus.analyst), "/")
    assert re.findall(r'/cases/[0-9a-f-]+/">([^<]+)</a>', section(analyst, "cases")) == ["Broker ring"]
    assert re.findall(r">(WS-\d|PZ-\d|TX-\d)</a>", section(analyst, "recent")) == ["WS-3", "WS-2", "WS-1"]
    filed = section(analyst, "filed")
    assert disclosure.reference in filed and "Pending" in filed and "pol" in filed
    assert 'id="incoming"' not in analyst and 'id="expiring"' not in analyst
    assert "waiting" not in section(analyst, "sync")

    liaison = page(client_of(scene.pol.liaison), "/")
    incoming = section(liaison, "incoming")
    assert disclosure.reference in incoming and "cus" in incoming
    assert f"due {disclosure.due_at:%Y-%m-%d}" in incoming
    assert re.findall(r">(WS-\d|PZ-\d|TX-\d)</a>", section(liaison, "recent")) == ["PZ-1"]

    admin = section(page(client_of(scene.cus.admin), "/"), "expiring")
    assert "MOU-1" in admin and "MOU-2" not in admin

    platform = page(client_of(platform_admin()), "/")
    waiting = OutboxEntry.objects.count()
    assert waiting > 0 and f"{waiting} changes waiting" in section(platform, "sync")
    assert "MOU-1" in section(platform, "expiring")


def test_signed_out_home_invites_to_sign_in(scene):
    html = page(Client(), "/")
    assert 'href="/accounts/login/"' in html and "WS-1" not in html


# --- query counts -------------------------------------------------------------------------


def queries(client, path: str) -> int:
    # Counted as a served process answers: with the terms in force it keeps already read
    # (the first request after an agreement changes reads them again, whatever it lists).
    terms_in_force()
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def more_shipments(scene, tmp_path, first: int, count: int) -> None:
    from intel.import_writing import import_file
    from sharing import releases
    from tests.workspace_scene import HEADER

    rows = "".join(
        f"WQ-{n},shipment,restricted,2026-05-{1 + n % 27:02d},more,Importer {n} BV,NL,,,"
        f"Quay Brokers BV,NL,+31 10 555 0199,9074729,MV Northern Star,\n"
        for n in range(first, first + count)
    )
    path = tmp_path / f"more-{first}.csv"
    path.write_text(HEADER + rows)
    import_file(path, scene.cus.agency)
    for record in Record.objects.filter(owner=scene.cus.agency, external_ref__startswith="WQ-"):
        releases.set_releasability(record, scene.cus.analyst, "covering")


def test_home_and_dossier_cost_the_same_queries_for_few_rows_as_for_many(scene, tmp_path):
    owner, partner = client_of(scene.cus.analyst), client_of(scene.pol.analyst, "investigation")
    liaison = client_of(scene.pol.liaison)
    paths = ["/", f"/entities/{scene.broker.public_id}/", "/search/?q=bv"]

    def counts() -> list[int]:
        return [queries(client, path) for client in (owner, partner) for path in paths] + [
            queries(liaison, "/")
        ]

    more_shipments(scene, tmp_path, 0, 2)
    few = counts()
    more_shipments(scene, tmp_path, 2, 12)
    for n in range(3):
        requests.request_disclosure(
            scene.pol.analyst,
            entity_id=scene.importer.pk,
            owner=scene.cus.agency,
            purpose="investigation",
            justification=f"asked {n}",
            urgency="routine",
        )
    assert counts() == few


def test_a_reference_typed_whole_is_listed_first_among_the_longer_ones_that_contain_it(
    scene, settings, tmp_path
):
    """SHP-0001 is in SHP-00010 ... SHP-00019 and SHP-0001A too: the one typed whole comes first
    with its mark, though its public id, the order of the rest, is the last of them and past
    the count's limit."""
    header = "external_ref,category,occurred_on,importer_name,importer_country\n"
    rows = [f"SHP-0001{n},shipment,2026-03-0{1 + n % 9},Importer {n} BV,NL" for n in range(10)]
    rows.append("SHP-0001,shipment,2026-03-05,Exact Importer BV,NL")
    path = tmp_path / "references.csv"
    path.write_text(header + "\n".join(rows) + "\n")
    import_file(path, scene.cus.agency, user=scene.cus.analyst)
    exact = Mention.objects.get(record__external_ref="SHP-0001", entity_type="shipment").entity
    Entity.objects.filter(pk=exact.pk).update(public_id=uuid.UUID("ffffffff-ffff-4fff-bfff-ffffffffffff"))
    settings.ENTITY_COUNT_LIMIT = 5
    client = client_of(scene.cus.analyst)

    html = page(client, "/search/?q=shp-0001")
    listed = ENTITY_LINK.findall(section_of_group(html, "Shipment"))
    assert listed[0] == "ffffffff-ffff-4fff-bfff-ffffffffffff"
    assert len(listed) == 6  # the exact one and the first five the walk counted
    assert html.count("exact match") == 1
    # Typed in capitals too; a reference only records hidden from tax state is no match of tax's.
    assert (
        ENTITY_LINK.findall(section_of_group(page(client, "/search/?q=SHP-0001"), "Shipment"))[0] == listed[0]
    )
    assert "exact match" not in page(client_of(scene.tax.analyst), "/search/?q=shp-0001")
    # A word of a name is no reference: nothing is marked.
    assert "exact match" not in page(client, "/search/?q=importer")


def section_of_group(html: str, heading: str) -> str:
    start = html.index(f"<h2>{heading} <span")
    return html[start : html.index("</section>", start)]


def test_what_hidden_records_hold_changes_nothing_of_the_exact_match(scene, settings, monkeypatch, tmp_path):
    """An attack helper made a reference common (the search's narrowing counts every
    agency's mentions) with another agency's records, and the mark and the order came and
    went: they are the reader's visible mentions' alone."""
    header = "external_ref,category,occurred_on,importer_name,importer_country\n"

    def load(staff_of, refs):
        path = tmp_path / f"{staff_of.agency.code}-{len(list(tmp_path.iterdir()))}.csv"
        path.write_text(header + "".join(f"{ref},shipment,2026-03-05,Importer BV,NL\n" for ref in refs))
        import_file(path, staff_of.agency, user=staff_of.analyst)

    load(scene.cus, ["ZQ7", "ZQ7-1", "ZQ7-2"])
    monkeypatch.setattr(intel_selectors, "SEARCH_NARROWING_MENTIONS", 3)
    client = client_of(scene.cus.analyst)

    def seen() -> list:
        html = page(client, "/search/?q=zq7")
        shipments = section_of_group(html, "Shipment")
        return [
            ENTITY_LINK.findall(shipments),
            shipments.count("exact match"),
            re.findall(r"Shipment <span[^<]*", html),
        ]

    before = seen()
    assert before[1] == 1
    load(scene.pol, ["ZQ7", *(f"ZQ7-9{n}" for n in range(8))])  # hidden from cus
    assert seen() == before
