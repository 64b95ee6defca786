"""The analyst's errand of issue 15 end to end in real headless Chromium on the full stack
(the graph API answers from Neo4j, synced by the real worker), what another agency's analyst
is shown of the same entity, and the chart's usability at a laptop's size and at 200 % zoom.

The scene, written from the rows below (a shipment's label is its record's reference):

    customs C-1 (shipment, January):  the front company imports, the broker brokers
    customs C-2 (shipment, April):    the front company imports, carried by the vessel
    customs C-3 (shipment, October):  a shell company imports, the broker brokers
    police  SZ  (seizure, July):      the vessel seized with a supplier's cocaine

The police release the seizure to customs (an agreement covering seizures); customs release
their shipments to tax (an agreement covering shipments). Customs see all four records; tax,
with fewer agreements, never the seizure nor the supplier only it names. Names, references and
the vessel's IMO number are drawn per run, entity ids far from other runs' (the shared Neo4j
holds other runs' nodes; nothing here empties it)."""

from __future__ import annotations

import random
import struct
import uuid
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from cases.models import Case
from intel.import_writing import import_file
from intel.models import Entity, Record
from sharing import releases
from tests import chart_responsiveness
from tests.auth_helpers import browser_sign_in
from tests.sharing_helpers import in_force, staff
from tests.test_browser_chart import (
    ARTIFACTS,
    GRAPHML,
    Watched,
    labels_on,
    on_screen,
    open_chart,
    scatter_entity_ids,
    screenshot,
    wait_for_nodes,
)
from tests.test_graph_jobs import synced

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = (
    "external_ref,category,occurred_on,summary,importer_name,importer_country,broker_name,"
    "broker_country,exporter_name,exporter_country,vessel_imo,vessel_name,goods_description"
)
PASSWORD = "chart pass phrase"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def random_imo() -> str:
    """A valid IMO number: the seventh digit is the sum of the first six weighted 7 to 2, mod 10."""
    digits = [random.randrange(1, 10)] + [random.randrange(10) for _ in range(5)]
    check = sum(digit * weight for digit, weight in zip(digits, range(7, 1, -1), strict=True)) % 10
    return "".join(map(str, [*digits, check]))


@pytest.fixture
def scene(tmp_path: Path) -> dict:
    tag = uuid.uuid4().hex[:6]
    scatter_entity_ids()
    cus, pol, tax = staff(f"cus-{tag}"), staff(f"pol-{tag}", kind="police"), staff(f"tax-{tag}", kind="tax")
    names = {who: f"{who} {tag} Holdings" for who in ("Front", "Broker", "Shell", "Supplier")}
    names["Vessel"] = f"MV Seized {tag}"
    imo = random_imo()
    seizure_ref = f"SZ-{tag}"

    def load(owner, rows: list[str]) -> None:
        path = tmp_path / f"{owner.agency.code}.csv"
        path.write_text("\n".join([HEADER, *rows]) + "\n")
        import_file(path, owner.agency)
        for record in Record.objects.filter(owner=owner.agency):
            releases.set_releasability(record, owner.analyst, "covering")

    load(
        cus,
        [
            f"C-1,shipment,2026-01-12,first,{names['Front']},NL,{names['Broker']},NL,,,,,",
            f"C-2,shipment,2026-04-08,second,{names['Front']},NL,,,,,{imo},{names['Vessel']},",
            f"C-3,shipment,2026-10-05,third,{names['Shell']},NL,{names['Broker']},NL,,,,,",
        ],
    )
    load(
        pol,
        [
            f"{seizure_ref},seizure,2026-07-03,boarded,,,,,{names['Supplier']},CO,{imo},{names['Vessel']},cocaine"
        ],
    )
    in_force((pol, True, False), (cus, False, True), categories=("seizure",), reference=f"MOU-P-{tag}")
    in_force((cus, True, False), (tax, False, True), categories=("shipment",), reference=f"MOU-T-{tag}")
    for member in (cus, tax):
        member.analyst.set_password(PASSWORD)
        member.analyst.save()

    def company(name: str) -> Entity:
        return Entity.objects.filter(mentions__properties__name=name).distinct().get()

    def shipment(owner, ref: str) -> Entity:
        found = Entity.objects.filter(
            type="shipment", mentions__record__owner=owner.agency, mentions__record__external_ref=ref
        )
        return found.distinct().get()

    entities = {who: company(name) for who, name in names.items() if who != "Vessel"}
    entities["Vessel"] = (
        Entity.objects.filter(type="vessel", mentions__record__owner=pol.agency).distinct().get()
    )
    records = {"C-1": cus, "C-2": cus, "C-3": cus, "SZ": pol}
    for ref, owner in records.items():
        entities[ref] = shipment(owner, seizure_ref if ref == "SZ" else ref)
    labels = {
        **names,
        **{ref: seizure_ref if ref == "SZ" else ref for ref in records},
    }
    seizure = Record.objects.get(owner=pol.agency)
    return {"cus": cus, "tax": tax, "entities": entities, "labels": labels, "seizure": seizure}


def ids(entities: dict, *who: str) -> set[str]:
    return {str(entities[name].public_id) for name in who}


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, which follows the signature."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_an_analyst_signs_in_searches_charts_expands_finds_the_vessel_filters_exports_and_saves_a_case(
    browser, live_server, celery_worker, scene
):
    cus, entities, labels = scene["cus"], scene["entities"], scene["labels"]
    synced()
    page = browser.new_page(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    watched = Watched(page)

    # Signed in through the login page, then a search from the home page.
    browser_sign_in(page, live_server.url, cus.analyst, PASSWORD, "/accounts/login/?next=/")
    page.wait_for_url(live_server.url + "/")
    page.fill("#home-q", labels["Front"])
    page.press("#home-q", "Enter")
    page.wait_for_url("**/search/?q=*")
    row = page.locator("table.results tbody tr", has_text=labels["Front"])
    assert row.count() == 1
    screenshot(page, "errand-search")
    row.get_by_role("link", name="Open in link chart").click()
    page.wait_for_url(f"**/chart/?entity={entities['Front'].public_id}")
    page.evaluate("() => InterlinkChart.ready")
    # The front company's own records: C-1 and C-2.
    assert labels_on(page) == {labels["Front"], labels["C-1"], labels["C-2"]}

    # The police seizure is read for a purpose the agreement names.
    page.select_option("#chart-purpose", "investigation")
    page.mouse.dblclick(*on_screen(page, entities["C-2"]))
    wait_for_nodes(page, 4)
    assert labels_on(page) == {labels["Front"], labels["C-1"], labels["C-2"], labels["Vessel"]}
    page.mouse.dblclick(*on_screen(page, entities["Vessel"]))
    wait_for_nodes(page, 5)
    expanded = {labels["Front"], labels["C-1"], labels["C-2"], labels["Vessel"], labels["SZ"]}
    assert labels_on(page) == expanded
    screenshot(page, "errand-expanded")

    # The path from the front company to the seized vessel: through the April shipment.
    page.evaluate(
        """(ids) => {
            const cy = InterlinkChart.cy;
            cy.elements().unselect();
            for (const id of ids) cy.getElementById(id).select();
        }""",
        [str(entities["Front"].public_id), str(entities["Vessel"].public_id)],
    )
    page.click("#chart-paths")
    page.wait_for_function("() => InterlinkChart.cy.nodes('.path').length > 0")
    on_path = page.evaluate("() => InterlinkChart.cy.nodes('.path').map((node) => node.data('label'))")
    assert set(on_path) == {labels["Front"], labels["C-2"], labels["Vessel"]}
    assert "1 shortest path(s) of 2 step(s)." in page.locator("#chart-status").inner_text()
    screenshot(page, "errand-path")

    # Records from January to May only: the July seizure goes, the rest stays.
    page.click("#chart-filters summary")
    page.fill("#chart-date-from", "2026-01-01")
    page.fill("#chart-date-to", "2026-05-31")
    page.click("#chart-apply-filters")
    page.wait_for_function(
        "() => document.getElementById('chart-status').textContent.startsWith('Filters applied')"
    )
    kept = {labels["Front"], labels["C-1"], labels["C-2"], labels["Vessel"]}
    assert labels_on(page) == kept
    page.click("#chart-filters summary")
    screenshot(page, "errand-filtered")

    with page.expect_download() as download:
        page.click("#chart-export-png")
    width, height = png_size(Path(download.value.path()).read_bytes())
    assert width > 100 and height > 100
    with page.expect_download() as download:
        page.click("#chart-export-graphml")
    graph = ElementTree.parse(download.value.path()).getroot().find(f"{GRAPHML}graph")  # noqa: S314
    exported = {
        node.get("id"): next(
            data.text for data in node.findall(f"{GRAPHML}data") if data.get("key") == "n_label"
        )
        for node in graph.findall(f"{GRAPHML}node")
    }
    assert exported == {
        str(entities[who].public_id): labels[who] for who in ("Front", "C-1", "C-2", "Vessel")
    }
    links = {(edge.get("source"), edge.get("target")) for edge in graph.findall(f"{GRAPHML}edge")}
    front, vessel = (str(entities[who].public_id) for who in ("Front", "Vessel"))
    c1, c2 = (str(entities[ref].public_id) for ref in ("C-1", "C-2"))
    assert links == {(c1, front), (c2, front), (c2, vessel)}

    # Saved as a case, then reopened from the cases page.
    page.once("dialog", lambda dialog: dialog.accept("Front and the seized vessel"))
    page.click("#chart-save-new-case")
    page.wait_for_url("**/chart/?case=*")
    case = Case.objects.get(name="Front and the seized vessel")
    assert set(case.chart["nodes"]) == ids(entities, "Front", "C-1", "C-2", "Vessel")
    assert watched.csp_violations() == []
    assert watched.errors == []

    page.goto(live_server.url + "/cases/")
    page.get_by_role("link", name="Front and the seized vessel").click()
    page.wait_for_url(f"**/cases/{case.public_id}/")
    screenshot(page, "errand-case")
    page.get_by_role("link", name="Open the chart").click()
    page.wait_for_url(f"**/chart/?case={case.public_id}")
    page.evaluate("() => InterlinkChart.ready")
    assert labels_on(page) == kept
    assert "Case reopened: 4 node(s)." in page.locator("#chart-status").inner_text()
    assert page.locator("#chart-case").inner_text() == "Case: Front and the seized vessel"
    screenshot(page, "errand-reopened")
    assert watched.csp_violations() == []
    page.close()
    assert watched.errors == []


def test_an_analyst_of_an_agency_with_fewer_agreements_sees_less_and_nothing_hidden(
    browser, live_server, celery_worker, scene
):
    cus, tax, entities, labels = scene["cus"], scene["tax"], scene["entities"], scene["labels"]
    synced()
    front = entities["Front"].public_id

    def charted(user, counts: tuple[int, int]):
        page, watched = open_chart(browser, live_server, user, f"entity={front}&purpose=investigation")
        for who, count in zip(("C-2", "Vessel"), counts, strict=True):
            before = page.locator("#chart-status").inner_text()
            page.mouse.dblclick(*on_screen(page, entities[who]))
            page.wait_for_function(
                """([before, count]) => {
                    const status = document.getElementById('chart-status').textContent;
                    return status !== before && status.includes(' added; ')
                        && InterlinkChart.cy.nodes().length === count;
                }""",
                arg=[before, count],
            )
        return page, watched

    page, _ = charted(cus.analyst, (4, 5))
    every = labels_on(page)
    page.close()
    assert every == {labels["Front"], labels["C-1"], labels["C-2"], labels["Vessel"], labels["SZ"]}

    # Tax's expansion of the vessel adds nothing: the seizure is not theirs to see.
    page, watched = charted(tax.analyst, (4, 4))
    assert "0 node(s) added" in page.locator("#chart-status").inner_text()
    assert labels_on(page) == {labels["Front"], labels["C-1"], labels["C-2"], labels["Vessel"]}
    # Not even as a count of neighbours left out: the vessel's one neighbour tax sees is shown.
    vessel = str(entities["Vessel"].public_id)
    assert page.evaluate("(id) => InterlinkChart.cy.getElementById(id).data('left_out')", vessel) == 0
    screenshot(page, "errand-fewer-agreements")
    chart_content, received = page.content(), watched.bodies()

    # The entity page of the vessel, read by tax in the same browser.
    page.goto(f"{live_server.url}/entities/{entities['Vessel'].public_id}/?purpose=investigation")
    assert labels["Vessel"] in page.locator("h1").inner_text()
    seizure = scene["seizure"]
    hidden = {
        labels["SZ"],
        seizure.external_ref,
        str(seizure.public_id),
        labels["Supplier"],
        str(entities["SZ"].public_id),
        str(entities["Supplier"].public_id),
        "cocaine",
    }
    pages = chart_content + page.content()
    assert labels["C-2"] in received and labels["Vessel"] in pages
    assert {text for text in hidden if text in pages or text in received} == set()
    assert watched.csp_violations() == []
    page.close()
    assert watched.errors == []


# A control's key: its id, or its tag, name and value (a filter's checkbox).
KEY = """const key = (element) => element.id || [
  element.tagName.toLowerCase(), element.name || "", element.value || element.textContent.trim(),
].join(":");"""
# Every control of the chart's toolbar and its canvas (the filters opened), and the main
# controls of an entity's page: where each is drawn, its accessible name, and whether the page
# scrolls sideways. A name is what a screen reader announces: aria-label, a <label>, or the text.
CONTROLS = (
    """(selector) => {"""
    + KEY
    + """

  const name = (element) => (element.getAttribute("aria-label")
    || [...(element.labels || [])].map((label) => label.textContent).join(" ")
    || element.textContent || element.getAttribute("title") || "").trim();
  const root = document.documentElement;
  const controls = [...document.querySelectorAll(selector)]
    .filter((element) => !element.disabled && element.getClientRects().length > 0)
    .map((element) => {
      const box = element.getBoundingClientRect();
      return {
        key: key(element),
        name: name(element),
        left: box.left + scrollX,
        right: box.right + scrollX,
        top: box.top + scrollY,
        bottom: box.bottom + scrollY,
      };
    });
  const { clientWidth: width, scrollWidth, scrollHeight } = root;
  return { controls, width, scrollWidth, scrollHeight };
}"""
)
CHART_CONTROLS = ", ".join(
    [*(f"#chart-toolbar {tag}" for tag in ("button", "select", "input", "summary")), "#chart-canvas"]
)
ENTITY_CONTROLS = "main a, main button, main select, main input, main textarea, main summary"
# Where the focus is, named as CONTROLS names a control.
FOCUSED = "() => { " + KEY + " return key(document.activeElement); }"


def laid_out(page, selector: str) -> list[dict]:
    """The controls, checked: none outside the page's width or below its end, none over another,
    each with a name, and no sideways scrolling of the page."""
    found = page.evaluate(CONTROLS, selector)
    assert found["scrollWidth"] <= found["width"], "the page scrolls sideways"
    controls = found["controls"]
    outside = [
        c["key"] for c in controls if c["left"] < 0 or c["right"] > found["width"] + 0.5 or c["top"] < 0
    ]
    assert outside == []
    assert [c["key"] for c in controls if c["bottom"] > found["scrollHeight"] + 0.5] == []
    assert [c["key"] for c in controls if not c["name"]] == []

    def over(a: dict, b: dict) -> bool:
        # Half a pixel of rounding is not an overlap.
        return min(a["right"], b["right"]) - max(a["left"], b["left"]) > 0.5 and (
            min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0.5
        )

    overlapping = [
        (a["key"], b["key"]) for i, a in enumerate(controls) for b in controls[i + 1 :] if over(a, b)
    ]
    assert overlapping == []
    return controls


@pytest.mark.parametrize(
    ("size", "scale"),
    [({"width": 1366, "height": 768}, 1), ({"width": 683, "height": 384}, 2)],
    ids=["laptop", "zoom-200"],
)
def test_chart_and_entity_page_fit_a_laptop_and_200_percent_zoom_and_tab_reaches_each_control(
    browser, live_server, celery_worker, scene, size, scale
):
    """200 % zoom of a 1366 x 768 screen is a CSS viewport of 683 x 384 drawn at two device pixels
    per CSS pixel: what the browser's zoom does to the page's layout."""
    cus, entities = scene["cus"], scene["entities"]
    synced()
    name = "laptop" if scale == 1 else "zoom-200"
    page = browser.new_page(viewport=size, device_scale_factor=scale)
    watched = Watched(page)
    front = entities["Front"].public_id
    browser_sign_in(
        page, live_server.url, cus.analyst, PASSWORD, f"/chart/?entity={front}&purpose=investigation"
    )
    page.wait_for_url("**/chart/**")
    page.evaluate("() => InterlinkChart.ready")
    assert page.evaluate("() => InterlinkChart.cy.nodes().length") == 3
    canvas = page.locator("#chart-canvas").bounding_box()
    assert canvas["width"] > size["width"] / 2 and canvas["height"] > 150
    page.click("#chart-filters summary")
    controls = laid_out(page, CHART_CONTROLS)
    screenshot(page, f"usability-chart-{name}")

    # Tab from the top of the page reaches every control of the chart, in order of the page.
    page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
    reached = []
    for _ in range(len(controls) + 40):
        page.keyboard.press("Tab")
        reached.append(page.evaluate(FOCUSED))
    assert {control["key"] for control in controls} - set(reached) == set()
    # Tab starts where the filters were opened by a click; the order, taken as a cycle from
    # the first control, is the page's.
    order = [key for key in dict.fromkeys(reached) if key in {control["key"] for control in controls}]
    first = order.index(controls[0]["key"])
    assert order[first:] + order[:first] == [control["key"] for control in controls]

    page.goto(f"{live_server.url}/entities/{front}/?purpose=investigation")
    assert scene["labels"]["Front"] in page.locator("h1").inner_text()
    laid_out(page, ENTITY_CONTROLS)
    # A record's date reads on one line, not broken at its hyphens.
    lines = page.evaluate(
        """() => [...document.querySelectorAll('td.date')].map((cell) => {
            const range = document.createRange();
            range.selectNodeContents(cell);
            return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
        })"""
    )
    assert lines == [1, 1]
    page.screenshot(path=ARTIFACTS / f"usability-entity-{name}.png", full_page=True)
    assert watched.csp_violations() == []
    page.close()
    assert watched.errors == []


def test_a_chart_of_2000_nodes_stays_responsive_and_its_frame_times_are_recorded(browser, live_server):
    analyst = staff("cus").analyst
    analyst.set_password(PASSWORD)
    analyst.save()
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    browser_sign_in(page, live_server.url, analyst, PASSWORD, "/chart/")
    page.wait_for_url("**/chart/")
    page.evaluate("() => InterlinkChart.ready")
    measured = chart_responsiveness.measure(page)
    assert (measured["shown"], measured["placed"]) == (2000, 2000)
    assert (measured["pan"]["frames"], measured["zoom"]["frames"]) == (60, 60)
    # The click selected the node under the pointer: the panel names it.
    assert page.locator("#chart-panel h2").inner_text() == "node 1"
    chart_responsiveness.record(measured)
    print(f"2,000-node chart: {measured}")
    screenshot(page, "chart-2000-nodes")
