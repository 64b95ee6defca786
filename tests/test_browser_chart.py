"""The link chart in real headless Chromium on the full stack: the graph API answers from
Neo4j (synced by the real worker) and is confirmed against PostgreSQL's choke point.

The network, written from the rows below (labels are what the chart shows: a company's name,
a shipment's reference as its record states it):

    customs S-1 (shipment): Alpha imports, Broker brokers
    customs S-2 (shipment): Beta imports, Broker brokers
    police  Z-1 (seizure of Alpha's goods): released to customs under an agreement in force
    police  Z-2 (seizure: Alpha imports from Gamma): released to no one
    police  Z-3 (shipment: Alpha imports from Delta): released to every covering agreement,
            but the agreement covers seizures only: a discovery hit on Alpha, until disclosed

Customs, reading for investigation, sees S-1, S-2 and Z-1: never Z-2 nor Gamma, nor Z-3 and
Delta unless the police disclose Z-3. Names are drawn
per run, and entity ids far from other runs', so the shared Neo4j holds no stranger's node of
the same key (as tests/test_graph_jobs.py does; nothing here empties the graph)."""

from __future__ import annotations

import json
import random
import uuid
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from django.db import connection

from cases.models import Case
from intel.import_writing import import_file
from intel.models import Entity, Record
from sharing import agreements, releases, requests
from sharing.models import DisclosureRequest
from tests.auth_helpers import browser_sign_in
from tests.chart_responsiveness import node_on_screen
from tests.sharing_helpers import in_force, platform_admin, staff
from tests.test_graph_jobs import synced
from tests.test_headers import RECORD_VIOLATIONS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = (
    "external_ref,category,occurred_on,summary,importer_name,importer_country,"
    "broker_name,broker_country,exporter_name,exporter_country,goods_description"
)
PASSWORD = "chart pass phrase"
ARTIFACTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"


@pytest.fixture
def network(tmp_path: Path) -> dict:
    tag = uuid.uuid4().hex[:6]
    scatter_entity_ids()
    cus, pol = staff(f"cus-{tag}"), staff(f"pol-{tag}", kind="police")

    def load(owner, rows: list[str]) -> None:
        path = tmp_path / f"{owner.agency.code}.csv"
        path.write_text("\n".join([HEADER, *rows]) + "\n")
        import_file(path, owner.agency)

    names = {who: f"{who} {tag} Trading" for who in ("Alpha", "Beta", "Broker", "Gamma", "Delta")}
    load(
        cus,
        [
            f"S-1,shipment,2026-03-02,one,{names['Alpha']},NL,{names['Broker']},NL,,,",
            f"S-2,shipment,2026-03-03,two,{names['Beta']},NL,{names['Broker']},NL,,,",
        ],
    )
    load(
        pol,
        [
            f"Z-1,seizure,2026-03-04,seized,{names['Alpha']},NL,,,,,cocaine",
            f"Z-2,seizure,2026-03-05,unshared,{names['Alpha']},NL,,,{names['Gamma']},NL,cocaine",
            f"Z-3,shipment,2026-03-06,held,{names['Alpha']},NL,,,{names['Delta']},NL,",
        ],
    )
    for ref in ("Z-1", "Z-3"):
        record = Record.objects.get(owner=pol.agency, external_ref=ref)
        releases.set_releasability(record, pol.analyst, "covering")
    agreement = in_force(
        (pol, True, False),
        (cus, False, True),
        categories=("seizure",),
        reference=f"MOU-{tag}",
        discovery_allowed=True,
    )
    cus.analyst.set_password(PASSWORD)
    cus.analyst.save()

    def company(name: str) -> Entity:
        return Entity.objects.filter(type="company", mentions__properties__name=name).distinct().get()

    def shipment(owner, ref: str) -> Entity:
        found = Entity.objects.filter(
            type="shipment", mentions__record__owner=owner.agency, mentions__record__external_ref=ref
        )
        return found.distinct().get()

    entities = {who: company(name) for who, name in names.items()}
    shipments = ((cus, "S-1"), (cus, "S-2"), (pol, "Z-1"), (pol, "Z-2"), (pol, "Z-3"))
    for owner, ref in shipments:
        entities[ref] = shipment(owner, ref)
    labels = {
        **names,
        **{ref: ref for _, ref in shipments},
    }
    return {"cus": cus, "pol": pol, "entities": entities, "labels": labels, "agreement": agreement}


class Watched:
    """What a page logged and received: console errors (a CSP refusal among them), uncaught
    errors, and the API's answers, whose bodies are read afterwards."""

    def __init__(self, page) -> None:
        page.add_init_script(RECORD_VIOLATIONS)
        self.page = page
        self.errors: list[str] = []
        self.responses = []
        page.on("console", self.console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("response", lambda response: "/api/" in response.url and self.responses.append(response))

    def console(self, message) -> None:
        where = message.location.get("url", "")
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({where})")

    def csp_violations(self) -> list[str]:
        return self.page.evaluate("window.__cspViolations")

    def bodies(self) -> str:
        return "\n".join(response.text() for response in self.responses)


def open_chart(browser, live_server, user, query: str):
    page = browser.new_page(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    watched = Watched(page)
    browser_sign_in(page, live_server.url, user, PASSWORD, f"/chart/?{query}")
    page.wait_for_url("**/chart/**")
    page.evaluate("() => InterlinkChart.ready")
    return page, watched


def labels_on(page) -> set[str]:
    return set(page.evaluate("() => InterlinkChart.cy.nodes().map((node) => node.data('label'))"))


def on_screen(page, entity: Entity) -> tuple[float, float]:
    """Where the entity's node is drawn, in the page's coordinates."""
    return node_on_screen(page, str(entity.public_id))


def scatter_entity_ids() -> None:
    """Entity ids far from other runs' (the graph is shared between runs): a node left by
    another run never shares an id with this run's entities."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('intel_entity', 'id'), %s)",
            [random.randrange(10**12, 10**15)],
        )


def double_click(page, entity: Entity) -> None:
    page.mouse.dblclick(*on_screen(page, entity))


def click(page, entity: Entity, *, adding: bool = False) -> None:
    """A click on the node; with `adding`, shift-click, which adds it to the selection."""
    if adding:
        page.keyboard.down("Shift")
    page.mouse.click(*on_screen(page, entity))
    if adding:
        page.keyboard.up("Shift")


def wait_for_nodes(page, count: int) -> None:
    page.wait_for_function("(count) => InterlinkChart.cy.nodes().length === count", arg=count)


def select_only(page, element_id: str) -> None:
    """Selects one node or link of the chart, as a click would. The script returns nothing:
    returned, Cytoscape's collection had Playwright serialise its whole object graph, which
    took seconds."""
    page.evaluate(
        "(id) => { InterlinkChart.cy.elements().unselect(); InterlinkChart.cy.getElementById(id).select(); }",
        element_id,
    )


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png")


def test_an_analyst_charts_expands_finds_a_path_undoes_and_exports(
    browser, live_server, celery_worker, network
):
    cus, entities, labels = network["cus"], network["entities"], network["labels"]
    synced()

    alpha = entities["Alpha"].public_id
    page, watched = open_chart(browser, live_server, cus.analyst, f"entity={alpha}&purpose=investigation")
    # Alpha's neighbours customs may see: its own shipment and the police seizure released to it.
    assert labels_on(page) == {labels["Alpha"], labels["S-1"], labels["Z-1"]}
    assert page.locator("#chart-error").is_hidden()

    double_click(page, entities["S-1"])
    wait_for_nodes(page, 4)
    assert labels_on(page) == {labels["Alpha"], labels["S-1"], labels["Z-1"], labels["Broker"]}
    double_click(page, entities["Broker"])
    wait_for_nodes(page, 5)
    expanded = {labels["Alpha"], labels["S-1"], labels["Z-1"], labels["Broker"], labels["S-2"]}
    assert labels_on(page) == expanded
    screenshot(page, "chart-expanded")

    # Undo takes the last expansion back, redo brings it again.
    page.click("#chart-undo")
    wait_for_nodes(page, 4)
    assert labels_on(page) == expanded - {labels["S-2"]}
    page.click("#chart-redo")
    wait_for_nodes(page, 5)
    assert labels_on(page) == expanded

    # The timeline narrowed to the first day (S-1's) hides the links of the later records.
    def links_shown(count: int) -> set[tuple[str, str, str]]:
        # Cytoscape computes what is drawn on its next frame.
        page.wait_for_function("(count) => InterlinkChart.cy.edges(':visible').length === count", arg=count)
        shown = page.evaluate(
            """() => InterlinkChart.cy.edges(':visible').map((edge) =>
                [edge.source().data('label'), edge.data('type'), edge.target().data('label')])"""
        )
        return {tuple(link) for link in shown}

    every_link = {
        (labels["S-1"], "IMPORTED_BY", labels["Alpha"]),
        (labels["S-1"], "BROKERED_BY", labels["Broker"]),
        (labels["Z-1"], "IMPORTED_BY", labels["Alpha"]),
        (labels["S-2"], "BROKERED_BY", labels["Broker"]),
    }
    assert links_shown(4) == every_link
    page.locator("#chart-timeline-to").fill("0")
    assert page.locator("#chart-timeline-label").inner_text() == "2026-03-02 to 2026-03-02"
    assert links_shown(2) == {
        (labels["S-1"], "IMPORTED_BY", labels["Alpha"]),
        (labels["S-1"], "BROKERED_BY", labels["Broker"]),
    }
    page.locator("#chart-timeline-to").fill("2")
    assert links_shown(4) == every_link

    # The side panel lists the records behind a relationship, read through the records API.
    select_only(page, f"{entities['Z-1'].public_id}>IMPORTED_BY>{alpha}")
    page.wait_for_selector("#chart-panel-records li")
    assert "Z-1" in page.locator("#chart-panel-records").inner_text()

    # Network risk starts at what customs' visible seizure names: Alpha and the seizure's shipment.
    page.click("#chart-risk")
    page.wait_for_selector("#chart-risk[aria-pressed=true]", timeout=120_000)
    seeds = page.evaluate("() => InterlinkChart.cy.nodes('.seed').map((node) => node.data('label'))")
    assert set(seeds) == {labels["Alpha"], labels["Z-1"]}
    assert "size: network risk" in page.locator("#chart-legend").inner_text()

    # Collapsing the broker takes away what only its expansion brought: S-2.
    select_only(page, str(entities["Broker"].public_id))
    page.click("#chart-collapse")
    wait_for_nodes(page, 4)
    assert labels_on(page) == expanded - {labels["S-2"]}

    # Nothing of the police's unshared seizure reached the page: not in its DOM, not in the
    # JSON it received.
    hidden = {
        text
        for who in ("Gamma", "Z-2", "Delta", "Z-3")
        for text in (labels[who], str(entities[who].public_id))
    }
    content, received = page.content(), watched.bodies()
    assert labels["Z-1"] in received and labels["Alpha"] in content
    assert not any(text in content or text in received for text in hidden)
    assert watched.csp_violations() == []
    # Cytoscape found the page's stylesheet under its id and added no <style> of its own.
    assert page.evaluate("() => document.querySelectorAll('style').length") == 0
    assert watched.errors == []

    # Saved, then reopened once the agreement is suspended: the police seizure is gone, and
    # the chart says one saved node was removed.
    saved = page.evaluate("() => InterlinkChart.serialise()")
    assert set(saved["nodes"]) == {str(entities[who].public_id) for who in ("Alpha", "S-1", "Z-1", "Broker")}
    agreements.suspend(network["agreement"], platform_admin(), reason="the test suspends it")
    reopened = page.evaluate("(state) => InterlinkChart.load(state)", saved)
    assert reopened == {"nodes": 3, "removed": 1}
    assert labels_on(page) == {labels["Alpha"], labels["S-1"], labels["Broker"]}
    assert "1 no longer visible to you were removed" in page.locator("#chart-status").inner_text()
    page.close()
    # The one error: the seizure's shipment, asked for again, answered as a missing one.
    z1 = str(entities["Z-1"].public_id)
    assert len(watched.errors) == 1 and f"/api/graph/entities/{z1}/neighbourhood/" in watched.errors[0]


def open_alpha_and_beta(browser, live_server, network):
    """The chart opened by customs' analyst on Alpha and Beta, once the graph is synced."""
    entities = network["entities"]
    synced()
    return open_chart(
        browser,
        live_server,
        network["cus"].analyst,
        f"entity={entities['Alpha'].public_id}&entity={entities['Beta'].public_id}&purpose=investigation",
    )


def test_a_path_between_two_opened_entities_with_undo_and_exports(
    browser, live_server, celery_worker, network
):
    cus, entities, labels = network["cus"], network["entities"], network["labels"]
    alpha, beta = entities["Alpha"], entities["Beta"]
    page, watched = open_alpha_and_beta(browser, live_server, network)
    opened = {labels["Alpha"], labels["S-1"], labels["Z-1"], labels["Beta"], labels["S-2"]}
    assert labels_on(page) == opened

    click(page, alpha)
    click(page, beta, adding=True)
    page.click("#chart-paths")
    wait_for_nodes(page, 6)
    path = {labels["Alpha"], labels["S-1"], labels["Broker"], labels["S-2"], labels["Beta"]}
    assert labels_on(page) == opened | {labels["Broker"]}
    on_path = page.evaluate("() => InterlinkChart.cy.nodes('.path').map((node) => node.data('label'))")
    assert set(on_path) == path
    screenshot(page, "chart-path")

    page.click("#chart-undo")
    wait_for_nodes(page, 5)
    assert labels_on(page) == opened
    page.click("#chart-redo")
    wait_for_nodes(page, 6)

    with page.expect_download() as download:
        page.click("#chart-export-json")
    exported = json.loads(Path(download.value.path()).read_text())
    assert {node["label"] for node in exported["nodes"]} == opened | {labels["Broker"]}
    assert set(exported["state"]["nodes"]) == {
        str(entities[who].public_id) for who in ("Alpha", "S-1", "Z-1", "Beta", "S-2", "Broker")
    }
    assert ("IMPORTED_BY", str(entities["S-1"].public_id), str(alpha.public_id)) in {
        (edge["type"], edge["source"], edge["target"]) for edge in exported["edges"]
    }

    with page.expect_download() as download:
        page.click("#chart-export-graphml")
    exported_graph = ElementTree.parse(download.value.path())  # noqa: S314 - the page's own export
    graph = exported_graph.getroot().find(f"{GRAPHML}graph")
    shown = {
        data.text
        for node in graph.findall(f"{GRAPHML}node")
        for data in node.findall(f"{GRAPHML}data")
        if data.get("key") == "n_label"
    }
    assert shown == opened | {labels["Broker"]}
    assert len(graph.findall(f"{GRAPHML}edge")) == len(exported["edges"])

    with page.expect_download() as download:
        page.click("#chart-export-png")
    assert Path(download.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # From the keyboard: the arrows select nodes in the order of their labels.
    page.focus("#chart-canvas")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => InterlinkChart.cy.nodes(':selected').length === 1")
    assert page.locator("#chart-panel h2").inner_text() == labels["Alpha"]

    # Saved and reopened, the chart holds the same entities, and the links among them, at the
    # same places.
    state = page.evaluate("() => InterlinkChart.serialise()")
    assert set(state) == {"nodes", "positions", "filters", "layout"}
    assert set(state["positions"]) == set(state["nodes"])
    links = page.evaluate("() => InterlinkChart.cy.edges().map((edge) => edge.id()).sort()")
    reopened = page.evaluate("(state) => InterlinkChart.load(state)", state)
    assert reopened == {"nodes": 6, "removed": 0}
    assert labels_on(page) == opened | {labels["Broker"]}
    assert page.evaluate("() => InterlinkChart.cy.edges().map((edge) => edge.id()).sort()") == links
    placed = page.evaluate("() => InterlinkChart.serialise().positions")
    assert placed == state["positions"]

    # Saved as a case (the cases API) and opened from it in another page: the same chart.
    page.once("dialog", lambda dialog: dialog.accept("Alpha and Beta"))
    page.click("#chart-save-new-case")
    page.wait_for_url("**/chart/?case=*")
    case = Case.objects.get(name="Alpha and Beta")
    assert set(case.chart["nodes"]) == set(state["nodes"])
    assert page.locator("#chart-case").inner_text() == "Case: Alpha and Beta"

    assert watched.csp_violations() == []
    page.close()
    assert watched.errors == []

    again, watched = open_chart(browser, live_server, cus.analyst, f"case={case.public_id}")
    assert labels_on(again) == opened | {labels["Broker"]}
    assert "Case reopened: 6 node(s)." in again.locator("#chart-status").inner_text()
    again.close()
    assert watched.errors == []


def test_an_entity_the_analyst_may_not_see_opens_as_a_missing_one(
    browser, live_server, celery_worker, network
):
    cus, entities = network["cus"], network["entities"]
    synced()
    for unknown in (entities["Gamma"].public_id, uuid.uuid4()):
        page, _ = open_chart(browser, live_server, cus.analyst, f"entity={unknown}&purpose=investigation")
        assert labels_on(page) == set()
        assert "not found, or not visible to your agency" in page.locator("#chart-error").inner_text()
        screenshot(page, "chart-not-found")
        page.close()


def test_a_partners_badge_asks_for_disclosure_and_a_refresh_shows_what_was_disclosed(
    browser, live_server, celery_worker, network
):
    cus, pol, entities, labels = network["cus"], network["pol"], network["entities"], network["labels"]
    synced()
    alpha = str(entities["Alpha"].public_id)
    page, watched = open_chart(browser, live_server, cus.analyst, f"entity={alpha}&purpose=investigation")
    page.click("#chart-partners")
    page.wait_for_selector("#chart-partners[aria-pressed=true]")
    # Only Alpha is named by a record the police made releasable and customs may not see (Z-3):
    # the badge says the partner and the count, nothing else.
    assert page.evaluate("() => InterlinkChart.cy.nodes('.held').map((node) => node.id())") == [alpha]
    badge = page.evaluate("(id) => InterlinkChart.cy.getElementById(id).style('label')", alpha)
    assert badge.splitlines() == [labels["Alpha"], f"◆ {pol.agency.code} 1"]
    hidden = {
        labels["Delta"],
        labels["Z-3"],
        str(entities["Z-3"].public_id),
        str(entities["Delta"].public_id),
    }
    assert not any(text in watched.bodies() or text in page.content() for text in hidden)

    select_only(page, alpha)
    page.click("#chart-panel .partners button")
    # The purposes the discovery agreement permits (the default two), and no other.
    offered = page.eval_on_selector_all(
        f"#disclose-{pol.agency.code}-purpose option", "(options) => options.map((o) => o.value)"
    )
    assert sorted(offered) == ["investigation", "risk_assessment"]
    page.fill(f"#disclose-{pol.agency.code}-justification", "the same importer as our seizure")
    page.click(f"text=Ask {pol.agency.code} for disclosure")
    page.wait_for_selector("#chart-panel .filed")
    request = DisclosureRequest.objects.get(requesting_agency=cus.agency)
    assert (request.entity_id, request.owner_id, request.purpose, request.status) == (
        entities["Alpha"].pk,
        pol.agency.pk,
        "investigation",
        "pending",
    )
    screenshot(page, "chart-partners")

    # The police liaison approves; once synced, a refresh brings Z-3, marked as disclosed.
    requests.approve(request, pol.liaison)
    synced()
    page.click("#chart-refresh")
    page.wait_for_function(
        "() => document.getElementById('chart-status').textContent.startsWith('Refreshed')"
    )
    assert labels_on(page) == {labels["Alpha"], labels["S-1"], labels["Z-1"], labels["Z-3"]}
    disclosed = page.evaluate("() => InterlinkChart.cy.nodes('.disclosed').map((node) => node.data('label'))")
    assert disclosed == [labels["Z-3"]]
    screenshot(page, "chart-disclosed")
    assert watched.csp_violations() == []
    page.close()
    assert watched.errors == []


def test_left_out_neighbours_past_the_cap_show_as_more_than_the_count(
    browser, live_server, celery_worker, network
):
    cus, entities = network["cus"], network["entities"]
    synced()
    page, watched = open_chart(
        browser, live_server, cus.analyst, f"entity={entities['Alpha'].public_id}&purpose=investigation"
    )
    # Answers in the API's shape, as a walk from a hub gives them: 100 counted, and more.
    hub = {"id": "hub", "type": "company", "key": None, "names": ["Hub"], "distance": 1}
    add = "(node) => InterlinkChart.add({ nodes: [node], relationships: [] })"
    shown = "() => InterlinkChart.cy.getElementById('hub').data('display')"
    page.evaluate(add, {**hub, "left_out": 100, "left_out_capped": True})
    assert page.evaluate(shown) == "Hub\n100+ more"
    # An answer that counted all of them, 100 exactly, is the closer bound; a capped one
    # again does not undo it.
    page.evaluate(add, {**hub, "left_out": 100, "left_out_capped": False})
    assert page.evaluate(shown) == "Hub\n+100 more"
    page.evaluate(add, {**hub, "left_out": 100, "left_out_capped": True})
    assert page.evaluate(shown) == "Hub\n+100 more"
    assert watched.errors == []
    page.close()


def test_a_path_search_stopped_at_its_budget_says_a_path_may_exist(
    browser, live_server, celery_worker, network, monkeypatch
):
    from graph import selectors

    alpha, beta = network["entities"]["Alpha"], network["entities"]["Beta"]
    page, watched = open_alpha_and_beta(browser, live_server, network)
    status = page.locator("#chart-status")
    click(page, alpha)
    click(page, beta, adding=True)
    # Alpha's first step alone reads more than one relationship: the search stops unfinished.
    monkeypatch.setattr(selectors, "PATH_SEARCH_BUDGET", 1)
    page.click("#chart-paths")
    page.wait_for_function("() => document.getElementById('chart-status').textContent.startsWith('No path')")
    assert "there may be one" in status.inner_text()
    assert page.evaluate("() => InterlinkChart.cy.nodes('.path').length") == 0
    # With the budget back, the same question finds the path through the broker.
    monkeypatch.undo()
    page.click("#chart-paths")
    wait_for_nodes(page, 6)
    assert "shortest path(s) of 4 step(s)" in status.inner_text()
    assert watched.errors == []
    page.close()
