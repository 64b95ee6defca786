"""How responsive the link chart stays with 2,000 nodes, measured in the page: a chart in the
graph API's shape is fed to it as an answer would be, then the frames while it is panned and
zoomed (requestAnimationFrame) and the time from a real mouse click on a node to the first
frame after the selection. Used by the browser test and by bench/chart_responsiveness.py;
the figures are recorded, never asserted on."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEASUREMENTS = ROOT / "var" / "browser-measurements.json"

ADD_LARGE_CHART = """(count) => {
  const types = ["company", "person", "vessel", "shipment", "address", "phone"];
  const nodes = [];
  const relationships = [];
  for (let i = 0; i < count; i++) {
    const type = types[i % types.length];
    nodes.push({ id: `n${i}`, type, key: null, names: [`node ${i}`], left_out: i % 7 });
  }
  for (let i = 1; i < count; i++) {
    relationships.push({ source: `n${i}`, target: `n${Math.floor(i / 3)}`, type: "IMPORTED_BY", records: [],
      record_count: 1 + (i % 5), first_date: "2026-01-01", last_date: "2026-02-01" });
  }
  const started = performance.now();
  const shown = InterlinkChart.add({ nodes, relationships });
  const cy = InterlinkChart.cy;
  return {
    shown,
    placed: cy.nodes().filter((node) => Object.values(node.position()).every(Number.isFinite)).length,
    add_and_layout_ms: Math.round(performance.now() - started),
  };
}"""

# Sixty frames of each move; each frame's time is the gap since the one before.
FRAMES = """async (frames) => {
  const cy = InterlinkChart.cy;
  const centre = { x: cy.width() / 2, y: cy.height() / 2 };
  const moves = {
    pan: () => cy.panBy({ x: 3, y: 2 }),
    zoom: (i) => cy.zoom({ level: cy.zoom() * (i < frames / 2 ? 1.02 : 0.98), renderedPosition: centre }),
  };
  const summary = (gaps) => {
    const sorted = [...gaps].sort((a, b) => a - b);
    return { frames: gaps.length, median_ms: sorted[Math.floor(sorted.length / 2)],
      p95_ms: sorted[Math.floor(sorted.length * 0.95)], max_ms: sorted[sorted.length - 1] };
  };
  const measured = {};
  for (const [name, move] of Object.entries(moves)) {
    const gaps = [];
    await new Promise((resolve) => {
      let last = null;
      const tick = (now) => {
        if (last !== null) gaps.push(now - last);
        last = now;
        if (gaps.length >= frames) return resolve();
        move(gaps.length);
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    measured[name] = summary(gaps);
  }
  return measured;
}"""

# The click's time is taken when the pointer goes down; the frame's, in the first animation
# frame after Cytoscape selected the node.
WATCH_SELECTION = """() => {
  window.__selection = {};
  const now = (what) => () => { window.__selection[what] = performance.now(); };
  document.addEventListener("pointerdown", now("down"), { capture: true, once: true });
  InterlinkChart.cy.one("select", "node", () => requestAnimationFrame(now("frame")));
}"""


def node_on_screen(page, node_id: str) -> tuple[float, float]:
    return page.evaluate(
        """(id) => {
            const cy = InterlinkChart.cy;
            const at = cy.getElementById(id).renderedPosition();
            const box = cy.container().getBoundingClientRect();
            return [box.left + at.x, box.top + at.y];
        }""",
        node_id,
    )


def measure(page, count: int = 2000) -> dict:
    """Adds `count` nodes to the chart open in `page` and measures it."""
    measured = {"nodes": count, **page.evaluate(ADD_LARGE_CHART, count)}
    measured.update(page.evaluate(FRAMES, 60))
    # The layout is random: another node may be placed over n1. Drawn on top, n1 is the node
    # under the pointer, as it would be for an analyst who clicks what they see.
    page.evaluate(
        """() => {
            const cy = InterlinkChart.cy;
            cy.elements().unselect();
            cy.getElementById("n1").style("z-index", 9999);
            cy.fit("#n1", 200);
        }"""
    )
    page.evaluate(WATCH_SELECTION)
    page.mouse.click(*node_on_screen(page, "n1"))
    page.wait_for_function("() => window.__selection.frame !== undefined")
    measured["click_to_frame_ms"] = round(
        page.evaluate("() => window.__selection.frame - window.__selection.down"), 1
    )
    measured["viewport"] = page.evaluate("() => [innerWidth, innerHeight, devicePixelRatio]")
    measured["browser"] = page.context.browser.version
    return measured


def record(measured: dict) -> None:
    MEASUREMENTS.parent.mkdir(parents=True, exist_ok=True)
    MEASUREMENTS.write_text(json.dumps({"chart_2000_nodes": measured}, indent=2) + "\n")
