// The link chart (templates/linkchart/chart.html): Cytoscape.js drawing what the graph API
// (/api/graph/) answers for the signed-in analyst and the purpose chosen. Every name, link and
// record shown comes from an API answer, which the server has confirmed against the visibility
// rule; this script decides nothing about visibility. No inline code or style: the strict CSP
// allows none, so data arrives through json_script and the DOM is written with textContent.
//
// window.InterlinkChart.serialise() gives the chart's state as JSON-ready data (entities by
// public id, positions, filters, layout, timeline: never a name), and .load(state) reopens it
// by asking the API again, so a reopened chart follows the visibility rule of that moment.

// `cytoscape` and `cytoscapeFcose` are the globals of the libraries' scripts, loaded first.

const config = JSON.parse(document.getElementById("chart-config").textContent);
const byId = (id) => document.getElementById(id);
const csrfToken = document.querySelector("#chart-toolbar [name=csrfmiddlewaretoken]").value;

const STATE_VERSION = 1;
const NEIGHBOURHOOD_LIMIT = 100;
const POLL_MS = 1500;
const POLL_ATTEMPTS = 400;
const HISTORY_DEPTH = 50;
const TYPE_STYLE = {
  company: ["#0b5fa5", "round-rectangle"],
  person: ["#7a3e9d", "ellipse"],
  vessel: ["#00796b", "diamond"],
  container: ["#8d6e00", "rectangle"],
  address: ["#5d4037", "hexagon"],
  phone: ["#c2185b", "triangle"],
  email: ["#ad1457", "vee"],
  shipment: ["#546e7a", "barrel"],
};
// Colour-blind-safe first (Okabe-Ito), then further distinct hues; later communities share grey.
const COMMUNITY_COLOURS = [
  "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7",
  "#332288", "#88ccee", "#44aa99", "#117733", "#999933", "#ddcc77", "#cc6677", "#882255", "#aa4499",
];

// --- talking to the API ---------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function describeRefusal(status, body) {
  if (status === 404) return "not found, or not visible to your agency";
  if (body && typeof body === "object") {
    if (body.detail) return String(body.detail);
    const parts = Object.entries(body).map(([field, messages]) => {
      const text = Array.isArray(messages) ? messages.join(" ") : JSON.stringify(messages);
      return `${field}: ${text}`;
    });
    if (parts.length) return parts.join("; ");
  }
  return `the server answered ${status}`;
}

async function api(path, { method = "GET", params = {}, body } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== "" && one !== null && one !== undefined) url.searchParams.append(name, one);
    }
  }
  const headers = { Accept: "application/json" };
  if (chart.purpose) headers["X-Interlink-Purpose"] = chart.purpose;
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    headers["X-CSRFToken"] = csrfToken;
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(`the server could not be reached (${error.message})`, 0);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(describeRefusal(response.status, data), response.status);
  return { status: response.status, data };
}

// --- status and errors ----------------------------------------------------------------------

const statusLine = byId("chart-status");
const errorLine = byId("chart-error");
let busyCount = 0;

function say(text) {
  statusLine.textContent = text;
}

function showError(text) {
  errorLine.textContent = text;
  errorLine.hidden = false;
}

function clearError() {
  errorLine.textContent = "";
  errorLine.hidden = true;
}

// Runs a long action with its state on the status line; an API refusal is shown, not swallowed.
async function working(text, action) {
  busyCount += 1;
  statusLine.classList.add("busy");
  say(`${text}…`);
  clearError();
  try {
    const outcome = await action();
    return outcome;
  } catch (error) {
    showError(`${text} failed: ${error.message}`);
    say("");
    return undefined;
  } finally {
    busyCount -= 1;
    if (busyCount === 0) statusLine.classList.remove("busy");
  }
}

// --- the chart's state ----------------------------------------------------------------------

const chart = {
  purpose: config.purpose || "",
  layout: "fcose",
  filters: { entity_types: [], link_types: [], date_from: "", date_to: "", owner: "" },
  timeline: null, // {from, to} as ISO dates, or null for every date
  anchors: new Set(), // opened on purpose: never removed by a collapse
  expanded: new Set(),
  bringers: new Map(), // node id -> ids of the nodes (or "path:a|b") whose answers brought it
  paths: [], // [source, target] pairs asked for
  selection: [], // selected node ids, in the order selected
  communities: null, // Map entity id -> community id, while shown
  risk: null, // {scores: Map id -> {score, paths}, seeds: Set, top}
  crowded: false, // too many links to label each (the side panel names the selected one)
  holdings: null, // Map entity id -> partners holding records on it that the viewer cannot see
  checkedAt: null, // when the holdings were last asked for (disclosures since are new)
  disclosed: new Set(), // nodes a refresh brought that a granted disclosure names
};
const CROWDED_EDGES = 300;
const LAYOUTS = ["fcose", "concentric", "breadthfirst", "grid"];
const HOLDINGS_CHUNK = 200; // the holdings API's most entities per question
// Reopening asks each saved entity's neighbourhood (the API's largest), a few at a time.
const REOPEN_LIMIT = 500;
const REOPEN_CONCURRENCY = 4;
const LARGE_CHART = 500;

cytoscape.use(cytoscapeFcose);

const cy = cytoscape({
  container: byId("chart-canvas"),
  minZoom: 0.05,
  maxZoom: 4,
  // Panning and zooming move a snapshot of the drawing, which keeps a chart of thousands of
  // nodes responsive; it is drawn afresh when the movement stops.
  textureOnViewport: true,
  style: [
    {
      selector: "node",
      style: {
        label: (node) => badged(node),
        "font-size": 11,
        "min-zoomed-font-size": 7,
        "text-wrap": "wrap",
        "text-max-width": 140,
        "text-valign": "bottom",
        "text-margin-y": 4,
        "background-color": (node) => nodeColour(node),
        shape: (node) => (TYPE_STYLE[node.data("type")] || ["#777", "ellipse"])[1],
        width: (node) => nodeSize(node),
        height: (node) => nodeSize(node),
        "border-width": 1,
        "border-color": "#1d2733",
      },
    },
    { selector: "node.frontier", style: { "border-style": "dashed", "border-width": 2 } },
    { selector: "node.seed", style: { "border-color": "#c62828", "border-width": 4 } },
    { selector: "node:selected", style: { "overlay-color": "#0b5fa5", "overlay-opacity": 0.25 } },
    { selector: "node.isolated", style: { opacity: 0.35 } },
    { selector: "node.held", style: { "border-color": "#e65100", "border-width": 4, "border-style": "double" } },
    { selector: "node.disclosed", style: { "border-color": "#2e7d32", "border-width": 5, "border-style": "solid" } },
    {
      selector: "edge",
      style: {
        width: (edge) => Math.min(1 + Math.log2(edge.data("record_count") || 1), 8),
        "line-color": "#9aa8b6",
        "target-arrow-color": "#9aa8b6",
        "target-arrow-shape": "triangle",
        "curve-style": "bezier",
        label: (edge) => (chart.crowded ? "" : edge.data("type")),
        "font-size": 8,
        "min-zoomed-font-size": 7,
        color: "#5b6b7c",
        "text-rotation": "autorotate",
      },
    },
    { selector: "edge:selected", style: { "line-color": "#0b5fa5", "target-arrow-color": "#0b5fa5" } },
    { selector: ".path", style: { "line-color": "#c62828", "target-arrow-color": "#c62828", "border-color": "#c62828", "border-width": 3 } },
    { selector: "edge.outside", style: { display: "none" } },
  ],
});

function nodeColour(node) {
  if (chart.communities) {
    const community = chart.communities.get(node.id());
    if (community === undefined) return "#c8d0d8";
    return COMMUNITY_COLOURS[community] || "#8a959f";
  }
  return (TYPE_STYLE[node.data("type")] || ["#777"])[0];
}

function nodeSize(node) {
  if (chart.risk && chart.risk.top > 0) {
    if (chart.risk.seeds.has(node.id())) return 60; // where the risk starts: in a seizure
    const scored = chart.risk.scores.get(node.id());
    return scored ? 20 + 40 * Math.sqrt(scored.score / chart.risk.top) : 16;
  }
  return 30;
}

// The server's label: the names the viewer's records give, else the identifier they state
// (an address, a number), else the key; not the key first, which read as an internal code.
function nodeLabel(entity) {
  return entity.label || (entity.names && entity.names[0]) || entity.key || entity.type;
}

// An answer counts a node's left-out neighbours up to a cap, and says when there are more.
function leftOutText(data) {
  return data.left_out_capped ? `${data.left_out}+` : `${data.left_out}`;
}

function display(data) {
  if (!(data.left_out > 0)) return data.label;
  return data.left_out_capped ? `${data.label}\n${leftOutText(data)} more` : `${data.label}\n+${data.left_out} more`;
}

function edgeId(relationship) {
  return `${relationship.source}>${relationship.type}>${relationship.target}`;
}

// --- undo and redo: a stack of chart states -------------------------------------------------

const history = { past: [], future: [] };

function snapshot() {
  return {
    elements: cy.elements().jsons().map((element) => ({
      group: element.group,
      data: element.data,
      position: element.position,
      classes: element.classes,
    })),
    anchors: [...chart.anchors],
    expanded: [...chart.expanded],
    bringers: [...chart.bringers].map(([id, set]) => [id, [...set]]),
    paths: chart.paths.map((pair) => [...pair]),
  };
}

function restore(saved) {
  cy.batch(() => {
    cy.elements().remove();
    cy.add(saved.elements);
  });
  chart.anchors = new Set(saved.anchors);
  chart.expanded = new Set(saved.expanded);
  chart.bringers = new Map(saved.bringers.map(([id, list]) => [id, new Set(list)]));
  chart.paths = saved.paths.map((pair) => [...pair]);
  chart.selection = [];
  changed();
}

function remember() {
  history.past.push(snapshot());
  if (history.past.length > HISTORY_DEPTH) history.past.shift();
  history.future = [];
  updateHistoryButtons();
}

function undo() {
  if (!history.past.length) return;
  history.future.push(snapshot());
  restore(history.past.pop());
  updateHistoryButtons();
  say("Undone.");
}

function redo() {
  if (!history.future.length) return;
  history.past.push(snapshot());
  restore(history.future.pop());
  updateHistoryButtons();
  say("Redone.");
}

function updateHistoryButtons() {
  byId("chart-undo").disabled = history.past.length === 0;
  byId("chart-redo").disabled = history.future.length === 0;
}

// --- adding answers to the chart ------------------------------------------------------------

function near(bringer) {
  const from = bringer && cy.getElementById(bringer);
  const centre = from && from.nonempty() ? from.position() : { x: cy.width() / 2, y: cy.height() / 2 };
  const angle = Math.random() * 2 * Math.PI;
  return { x: centre.x + 120 * Math.cos(angle), y: centre.y + 120 * Math.sin(angle) };
}

function addEntity(entity, bringer) {
  const existing = cy.getElementById(entity.id);
  const data = {
    id: entity.id,
    type: entity.type,
    names: entity.names || [],
    key: entity.key,
    label: nodeLabel(entity),
  };
  // Each answer counts the neighbours it leaves out; the chart holds every answer's nodes, so
  // the fewest any answer left out is the closest bound on what the chart leaves out.
  // A count at the cap with more beyond it is more than the same count without.
  if (entity.left_out !== undefined) {
    const given = { left_out: entity.left_out, left_out_capped: Boolean(entity.left_out_capped) };
    const before = existing.nonempty() ? existing.data() : {};
    const fewer =
      before.left_out === undefined ||
      given.left_out < before.left_out ||
      (given.left_out === before.left_out && !given.left_out_capped);
    if (fewer) Object.assign(data, given);
  }
  if (existing.nonempty()) {
    const merged = { ...existing.data(), ...data };
    merged.display = display(merged);
    existing.data(merged);
  } else {
    data.display = display(data);
    cy.add({ group: "nodes", data, position: near(bringer) });
  }
  if (bringer && bringer !== entity.id) {
    if (!chart.bringers.has(entity.id)) chart.bringers.set(entity.id, new Set());
    chart.bringers.get(entity.id).add(bringer);
  }
}

function addRelationship(relationship) {
  const id = edgeId(relationship);
  const data = {
    id,
    source: relationship.source,
    target: relationship.target,
    type: relationship.type,
    records: relationship.records,
    record_count: relationship.record_count,
    first_date: relationship.first_date,
    last_date: relationship.last_date,
  };
  const existing = cy.getElementById(id);
  if (existing.nonempty()) existing.data(data);
  else cy.add({ group: "edges", data });
}

function neighbourhoodParams() {
  return { hops: 1, limit: NEIGHBOURHOOD_LIMIT, ...chart.filters };
}

async function fetchNeighbourhood(id) {
  const { data } = await api(`/api/graph/entities/${encodeURIComponent(id)}/neighbourhood/`, {
    params: neighbourhoodParams(),
  });
  return data;
}

function addSubgraph(answer, bringer) {
  cy.batch(() => {
    for (const node of answer.nodes) addEntity(node, node.id === bringer ? null : bringer);
    for (const relationship of answer.relationships) addRelationship(relationship);
  });
}

async function expand(ids) {
  const wanted = ids.filter((id) => cy.getElementById(id).nonempty());
  if (!wanted.length) return;
  remember();
  const names = wanted.map((id) => cy.getElementById(id).data("label")).join(", ");
  const before = cy.nodes().length;
  let truncated = false;
  const done = await working(`Expanding ${names}`, async () => {
    for (const id of wanted) {
      const answer = await fetchNeighbourhood(id);
      addSubgraph(answer, id);
      chart.expanded.add(id);
      truncated = truncated || answer.truncated;
    }
    return true;
  });
  const added = cy.nodes().length - before;
  if (!done && added === 0) {
    history.past.pop();
    updateHistoryButtons();
    return;
  }
  changed();
  runLayout();
  if (done) {
    const more = truncated ? ` More than ${NEIGHBOURHOOD_LIMIT} neighbours were in reach: the nearest are shown.` : "";
    say(`${added} node(s) added; ${cy.nodes().length} on the chart.${more}`);
  }
}

// Removes what `by` brought and nothing else brought, then what those had brought, and so on.
function collapseFrom(by, removed) {
  chart.expanded.delete(by);
  for (const [id, set] of chart.bringers) {
    if (set.delete(by) && set.size === 0 && !chart.anchors.has(id) && !removed.has(id)) {
      removed.add(id);
      collapseFrom(id, removed);
    }
  }
}

function collapse(ids) {
  if (!ids.length) return;
  remember();
  const removed = new Set();
  for (const id of ids) collapseFrom(id, removed);
  dropNodes(removed);
  say(`${removed.size} node(s) collapsed.`);
  changed();
}

function removeNodes(ids) {
  if (!ids.length) return;
  remember();
  for (const id of ids) {
    chart.anchors.delete(id);
    chart.expanded.delete(id);
    for (const set of chart.bringers.values()) set.delete(id);
  }
  dropNodes(new Set(ids));
  say(`${ids.length} node(s) removed.`);
  changed();
}

function dropNodes(ids) {
  cy.batch(() => {
    for (const id of ids) {
      cy.getElementById(id).remove();
      chart.bringers.delete(id);
    }
  });
  chart.selection = chart.selection.filter((id) => !ids.has(id));
}

async function findPaths() {
  const [source, target] = chart.selection.slice(-2);
  if (!source || !target) {
    showError("Select two nodes (click one, shift-click the other) to find the paths between them.");
    return;
  }
  remember();
  const answer = await working("Finding paths", async () => {
    const { data } = await api("/api/graph/paths/", { params: { source, target } });
    return data;
  });
  if (!answer) {
    history.past.pop();
    updateHistoryButtons();
    return;
  }
  cy.elements().removeClass("path");
  if (!answer.paths.length) {
    history.past.pop();
    updateHistoryButtons();
    say(
      answer.search_complete
        ? "No path of at most 6 steps joins them through what your agency may see."
        : "No path found before the search reached its limit: there may be one. Start from a less connected entity.",
    );
    return;
  }
  const bringer = `path:${source}|${target}`;
  chart.paths.push([source, target]);
  cy.batch(() => {
    for (const path of answer.paths) {
      for (const node of path.nodes) addEntity(node, bringer);
      for (const step of path.steps) for (const relationship of step) addRelationship(relationship);
    }
  });
  markPaths(answer);
  changed();
  runLayout();
  say(
    answer.more_paths
      ? `${answer.paths.length} shortest path(s) of ${answer.length} step(s) shown, the first by their entities' ids: there are more.`
      : `${answer.paths.length} shortest path(s) of ${answer.length} step(s).`,
  );
}

function markPaths(answer) {
  for (const path of answer.paths) {
    for (const node of path.nodes) cy.getElementById(node.id).addClass("path");
    for (const step of path.steps) for (const relationship of step) cy.getElementById(edgeId(relationship)).addClass("path");
  }
}

// Rebuilds the chart from its anchors and expanded nodes with the filters now chosen; nodes
// already placed keep their place.
async function rebuild() {
  remember();
  const positions = new Map(cy.nodes().map((node) => [node.id(), { ...node.position() }]));
  const order = [...new Set([...chart.anchors, ...chart.expanded])];
  const pairs = chart.paths;
  const done = await working("Applying the filters", async () => {
    const answers = [];
    for (const id of order) answers.push([id, await fetchNeighbourhood(id)]);
    const pathAnswers = [];
    for (const [source, target] of pairs) {
      pathAnswers.push([source, target, (await api("/api/graph/paths/", { params: { source, target } })).data]);
    }
    return { answers, pathAnswers };
  });
  if (!done) {
    history.past.pop();
    updateHistoryButtons();
    return;
  }
  cy.elements().remove();
  chart.bringers = new Map();
  for (const [id, answer] of done.answers) addSubgraph(answer, id);
  for (const [source, target, answer] of done.pathAnswers) {
    for (const path of answer.paths) {
      for (const node of path.nodes) addEntity(node, `path:${source}|${target}`);
      for (const step of path.steps) for (const relationship of step) addRelationship(relationship);
    }
  }
  for (const node of cy.nodes()) if (positions.has(node.id())) node.position(positions.get(node.id()));
  changed();
  runLayout();
  say(`Filters applied: ${cy.nodes().length} node(s).`);
}

// --- layout, timeline, legend ---------------------------------------------------------------

function runLayout() {
  if (!cy.nodes().length) return;
  const options = { name: chart.layout, animate: false, fit: true, padding: 30 };
  // fcose's draft quality (which starts from scratch) lays out thousands of nodes in a fraction
  // of the time; smaller charts are refined from where their nodes are.
  const large = cy.nodes().length > LARGE_CHART;
  if (chart.layout === "fcose") Object.assign(options, { randomize: large, quality: large ? "draft" : "default", nodeRepulsion: 6000, idealEdgeLength: 90 });
  if (chart.layout === "breadthfirst") {
    const roots = cy.collection([...chart.anchors].map((id) => cy.getElementById(id)));
    Object.assign(options, { directed: false, spacingFactor: 1.1, roots: roots.nonempty() ? roots : undefined });
  }
  if (chart.layout === "concentric") Object.assign(options, { concentric: (node) => node.degree(), levelWidth: () => 2, minNodeSpacing: 30 });
  if (chart.layout === "grid") Object.assign(options, { avoidOverlap: true, condense: false });
  cy.layout(options).run();
}

function isoDay(offset, start) {
  return new Date(start + offset * 86400000).toISOString().slice(0, 10);
}

function dayOf(iso) {
  return Date.parse(`${iso}T00:00:00Z`);
}

function timelineBounds() {
  let first = null;
  let last = null;
  for (const edge of cy.edges()) {
    const { first_date: from, last_date: to } = edge.data();
    if (from && (!first || from < first)) first = from;
    if (to && (!last || to > last)) last = to;
  }
  return first ? { first, last } : null;
}

function updateTimeline() {
  const bounds = timelineBounds();
  const from = byId("chart-timeline-from");
  const to = byId("chart-timeline-to");
  const label = byId("chart-timeline-label");
  if (!bounds) {
    from.disabled = to.disabled = true;
    label.textContent = "no dated records";
    applyTimeline();
    return;
  }
  const start = dayOf(bounds.first);
  const span = Math.round((dayOf(bounds.last) - start) / 86400000);
  from.disabled = to.disabled = span === 0;
  from.max = to.max = String(span);
  const shown = chart.timeline || { from: bounds.first, to: bounds.last };
  from.value = String(Math.max(0, Math.round((dayOf(shown.from) - start) / 86400000)));
  to.value = String(Math.min(span, Math.round((dayOf(shown.to) - start) / 86400000)));
  from.dataset.start = String(start);
  applyTimeline();
}

function timelineMoved() {
  const from = byId("chart-timeline-from");
  const to = byId("chart-timeline-to");
  const start = Number(from.dataset.start);
  let low = Number(from.value);
  let high = Number(to.value);
  if (low > high) [low, high] = [high, low];
  const whole = low === 0 && high === Number(to.max);
  chart.timeline = whole ? null : { from: isoDay(low, start), to: isoDay(high, start) };
  applyTimeline();
}

// An edge is hidden when every record behind it falls before the window or every one after it.
function applyTimeline() {
  const span = chart.timeline;
  const label = byId("chart-timeline-label");
  cy.batch(() => {
    for (const edge of cy.edges()) {
      const { first_date: first, last_date: last } = edge.data();
      edge.toggleClass("outside", Boolean(span && first && (last < span.from || first > span.to)));
    }
    for (const node of cy.nodes()) {
      const edges = node.connectedEdges();
      node.toggleClass("isolated", edges.nonempty() && edges.every((edge) => edge.hasClass("outside")));
    }
  });
  if (span) label.textContent = `${span.from} to ${span.to}`;
  else if (!byId("chart-timeline-from").disabled) label.textContent = "all dates";
}

function legendRow(list, colour, shape, text) {
  const item = document.createElement("li");
  const swatch = document.createElement("span");
  swatch.className = `swatch swatch-${shape}`;
  item.append(swatch, document.createTextNode(text));
  list.append(item);
  // A CSSOM property, not a style attribute: the CSP allows the former.
  swatch.style.backgroundColor = colour;
}

function updateLegend() {
  const legend = byId("chart-legend");
  legend.replaceChildren();
  const heading = document.createElement("h2");
  const list = document.createElement("ul");
  if (chart.communities) {
    heading.textContent = "Colour: community";
    const counts = new Map();
    for (const node of cy.nodes()) {
      const community = chart.communities.get(node.id());
      counts.set(community, (counts.get(community) || 0) + 1);
    }
    for (const [community, count] of [...counts].sort((a, b) => (a[0] ?? 1e9) - (b[0] ?? 1e9))) {
      if (community === undefined) legendRow(list, "#c8d0d8", "round", `in no community (${count})`);
      else legendRow(list, COMMUNITY_COLOURS[community] || "#8a959f", "round", `community ${community} (${count} charted)`);
    }
  } else {
    heading.textContent = "Colour and shape: type";
    const types = new Set(cy.nodes().map((node) => node.data("type")));
    for (const type of Object.keys(TYPE_STYLE)) {
      if (types.has(type)) legendRow(list, TYPE_STYLE[type][0], TYPE_STYLE[type][1], type);
    }
  }
  legend.append(heading, list);
  const notes = document.createElement("p");
  notes.className = "muted";
  const parts = ["dashed border: neighbours left out (+N)", "red: a path found"];
  if (chart.risk) parts.unshift("size: network risk", "thick red border: named in a seizure you may see");
  if (chart.holdings) parts.push("◆ orange border: partners hold records you may not see (agency, count)", "green border, new: disclosed to you since");
  notes.textContent = parts.join(" · ");
  legend.append(notes);
}

function markFrontier() {
  cy.batch(() => {
    for (const node of cy.nodes()) {
      node.toggleClass("frontier", (node.data("left_out") || 0) > 0);
      node.toggleClass("seed", Boolean(chart.risk && chart.risk.seeds.has(node.id())));
      node.toggleClass("held", partnersOf(node.id()).length > 0);
      node.toggleClass("disclosed", chart.disclosed.has(node.id()));
    }
  });
}

// --- what partners hold: agency and count, never more ---------------------------------------

function partnersOf(id) {
  return (chart.holdings && chart.holdings.get(id)) || [];
}

function badged(node) {
  const partners = partnersOf(node.id());
  const lines = [chart.disclosed.has(node.id()) ? `new: ${node.data("display")}` : node.data("display")];
  if (partners.length) lines.push(`◆ ${partners.map((partner) => `${partner.agency} ${partner.count}`).join(" · ")}`);
  return lines.join("\n");
}

async function fetchHoldings(since) {
  const ids = cy.nodes().map((node) => node.id());
  const holdings = new Map();
  const disclosures = [];
  let checkedAt = null;
  for (let start = 0; start < ids.length; start += HOLDINGS_CHUNK) {
    const body = { entities: ids.slice(start, start + HOLDINGS_CHUNK) };
    if (since) body.disclosed_since = since;
    const { data } = await api("/api/discovery/holdings/", { method: "POST", body });
    for (const row of data.holdings) holdings.set(row.entity, row.partners);
    disclosures.push(...data.disclosures);
    checkedAt = checkedAt || data.checked_at;
  }
  return { holdings, disclosures, checkedAt };
}

async function togglePartners() {
  const toggle = byId("chart-partners");
  if (chart.holdings) {
    chart.holdings = null;
    toggle.setAttribute("aria-pressed", "false");
    changed();
    return;
  }
  const answer = await working("Asking what partners hold", () => fetchHoldings(null));
  if (!answer) return;
  chart.holdings = answer.holdings;
  chart.checkedAt = answer.checkedAt;
  toggle.setAttribute("aria-pressed", "true");
  changed();
  const held = cy.nodes().filter((node) => partnersOf(node.id()).length > 0).length;
  say(`${held} charted entit${held === 1 ? "y has" : "ies have"} records partners hold that you may not see: select one to ask for disclosure.`);
}

// Reads the chart again (what a granted disclosure lets the viewer see now appears) and marks
// the nodes it brought that a disclosure granted since the last look names.
async function refresh() {
  const before = new Set(cy.nodes().map((node) => node.id()));
  await rebuild();
  if (!chart.holdings) return;
  const answer = await working("Asking what partners hold and disclosed", () => fetchHoldings(chart.checkedAt));
  if (!answer) return;
  chart.holdings = answer.holdings;
  chart.checkedAt = answer.checkedAt;
  const named = new Set(answer.disclosures.flatMap((disclosure) => disclosure.entities));
  const fresh = cy.nodes().filter((node) => named.has(node.id()) && !before.has(node.id()));
  for (const node of fresh) chart.disclosed.add(node.id());
  changed();
  say(`Refreshed: ${fresh.length} newly disclosed node(s).`);
}

// One form per partner: the button that opened it stays hidden.
function disclosureForm(entity, partner, into, opener) {
  opener.hidden = true;
  const form = element("form", undefined, "disclosure");
  const id = `disclose-${partner.agency}`;
  const purpose = element("select");
  purpose.id = `${id}-purpose`;
  // The purposes the discovery agreements with this partner permit, and no other.
  const permitted = config.purposes.filter((choice) => partner.purposes.includes(choice.value));
  fillSelect(purpose, permitted);
  const stated = permitted.find((choice) => choice.value === chart.purpose) || permitted[0];
  if (stated) purpose.value = stated.value;
  const justification = element("textarea");
  justification.id = `${id}-justification`;
  justification.required = true;
  justification.rows = 3;
  const urgency = element("select");
  urgency.id = `${id}-urgency`;
  fillSelect(urgency, [{ value: "routine", label: "routine" }, { value: "urgent", label: "urgent" }]);
  const label = (control, text) => {
    const made = element("label", text);
    made.htmlFor = control.id;
    return made;
  };
  const submit = element("button", `Ask ${partner.agency} for disclosure`);
  submit.type = "submit";
  form.append(label(purpose, "Purpose"), purpose, label(justification, "Why"), justification, label(urgency, "Urgency"), urgency, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { entity, owner: partner.agency, purpose: purpose.value, justification: justification.value, urgency: urgency.value };
    const filed = await working(`Asking ${partner.agency} for disclosure`, () => api("/api/requests/", { method: "POST", body }));
    if (!filed) return;
    form.replaceWith(element("p", `Request filed with ${partner.agency_name}; its state is on your Requests page.`, "filed"));
    say(`Disclosure request filed with ${partner.agency}.`);
  });
  into.append(form);
  justification.focus();
}

function changed() {
  chart.crowded = cy.edges().length > CROWDED_EDGES;
  markFrontier();
  updateTimeline();
  updateLegend();
  cy.style().update();
  updatePanel();
}

// --- communities and network risk -----------------------------------------------------------

async function analysis(operation, parameters, title) {
  let attempts = 0;
  for (;;) {
    const { status, data } = await api(`/api/graph/analytics/${operation}/`, { method: "POST", body: { parameters } });
    if (status === 200) return data.result;
    if (data.status === "failed") throw new ApiError(data.error || "the computation failed", 202);
    attempts += 1;
    if (attempts > POLL_ATTEMPTS) throw new ApiError("still computing; ask again later", 202);
    say(`${title}: ${data.status}, ${data.progress} %…`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function toggleCommunities() {
  const button = byId("chart-communities");
  if (chart.communities) {
    chart.communities = null;
    button.setAttribute("aria-pressed", "false");
    changed();
    return;
  }
  const result = await working("Computing communities", () => analysis("communities", {}, "Communities"));
  if (!result) return;
  chart.communities = new Map();
  for (const community of result.communities) {
    for (const member of community.members) chart.communities.set(member.id, community.id);
  }
  button.setAttribute("aria-pressed", "true");
  changed();
  say(`${result.communities.length} communities in what your agency may see.`);
}

async function toggleRisk() {
  const button = byId("chart-risk");
  if (chart.risk) {
    chart.risk = null;
    button.setAttribute("aria-pressed", "false");
    changed();
    runLayout();
    return;
  }
  const result = await working("Computing network risk", () => analysis("network_risk", { limit: 1000, paths: 3 }, "Network risk"));
  if (!result) return;
  const scores = new Map(result.ranking.map((row) => [row.entity.id, { score: row.score, paths: row.paths }]));
  const top = Math.max(0, ...result.ranking.map((row) => row.score));
  chart.risk = { scores, seeds: new Set(result.seeds.map((seed) => seed.id)), top };
  button.setAttribute("aria-pressed", "true");
  changed();
  runLayout(); // sizes changed: make room
  say(`Network risk: ${result.ranking.length} entities scored from ${result.seeds.length} in seizures.`);
}

// --- the side panel -------------------------------------------------------------------------

const panel = byId("chart-panel");
let panelFor = null;

function element(tag, text, className) {
  const made = document.createElement(tag);
  if (text !== undefined) made.textContent = text;
  if (className) made.className = className;
  return made;
}

function definition(list, term, value) {
  list.append(element("dt", term), element("dd", value));
}

function link(href, text) {
  const anchor = element("a", text);
  anchor.href = href;
  return anchor;
}

function button(text, handler) {
  const made = element("button", text);
  made.type = "button";
  made.addEventListener("click", handler);
  return made;
}

function updatePanel() {
  const selected = cy.elements(":selected");
  const key = selected.length === 1 ? selected[0].id() : null;
  if (key === panelFor && key !== null) {
    showSummary(selected[0]);
    return;
  }
  panelFor = key;
  if (!key) {
    panel.replaceChildren(element("p", selected.length ? `${selected.length} elements selected.` : "Select a node or a link to see the records behind it.", "muted"));
    return;
  }
  panel.replaceChildren();
  showSummary(selected[0]);
  const records = element("section", undefined, "records");
  records.id = "chart-panel-records";
  panel.append(records);
  if (selected[0].isNode()) loadEntityRecords(selected[0].id(), records);
  else loadEdgeRecords(selected[0].data(), records);
}

function showSummary(selected) {
  const records = byId("chart-panel-records");
  const summary = element("section", undefined, "summary");
  const data = selected.data();
  const facts = element("dl");
  if (selected.isNode()) {
    summary.append(element("h2", data.label));
    definition(facts, "type", data.type);
    if (data.key) definition(facts, "key", data.key);
    if (data.names.length > 1) definition(facts, "also named", data.names.slice(1).join("; "));
    if (data.left_out > 0) definition(facts, "not charted", `${leftOutText(data)} neighbour(s)`);
    if (chart.communities) definition(facts, "community", String(chart.communities.get(data.id) ?? "none"));
    const scored = chart.risk && chart.risk.scores.get(data.id);
    if (chart.risk) definition(facts, "network risk", scored ? scored.score.toFixed(4) : chart.risk.seeds.has(data.id) ? "named in a seizure" : "not ranked");
    summary.append(facts);
    if (scored && scored.paths.length) {
      summary.append(element("h3", "What drives it"));
      const list = element("ol");
      for (const path of scored.paths) list.append(element("li", path.entities.map((entity) => nodeLabel(entity)).join(" → ")));
      summary.append(list);
    }
    const actions = element("p", undefined, "actions");
    actions.append(
      button("Expand", () => expand([data.id])),
      button("Collapse", () => collapse([data.id])),
      button("Remove", () => removeNodes([data.id])),
      link(`/entities/${encodeURIComponent(data.id)}/${chart.purpose ? `?purpose=${encodeURIComponent(chart.purpose)}` : ""}`, "Profile"),
    );
    summary.append(actions);
    const partners = partnersOf(data.id);
    if (partners.length) {
      summary.append(element("h3", "Partners hold records on it that you may not see"));
      const list = element("ul", undefined, "partners");
      for (const partner of partners) {
        const item = element("li", `${partner.agency_name} (${partner.agency}): ${partner.count} record(s) `);
        item.append(button("Request disclosure", (event) => disclosureForm(data.id, partner, item, event.currentTarget)));
        list.append(item);
      }
      summary.append(list);
    }
  } else {
    const source = cy.getElementById(data.source).data("label");
    const target = cy.getElementById(data.target).data("label");
    summary.append(element("h2", `${source} ${data.type} ${target}`));
    definition(facts, "records", String(data.record_count));
    if (data.first_date) definition(facts, "dates", data.first_date === data.last_date ? data.first_date : `${data.first_date} to ${data.last_date}`);
    summary.append(facts);
  }
  panel.replaceChildren(summary);
  if (records) panel.append(records);
}

function recordLine(record) {
  const item = element("li");
  item.append(link(`/records/${encodeURIComponent(record.id)}/`, record.external_ref || record.id));
  const parts = [record.category, record.occurred_on, record.owner].filter(Boolean);
  if (record.shared_under) parts.push(`shared under ${record.shared_under}`);
  item.append(element("span", ` · ${parts.join(" · ")}`, "muted"));
  if (record.summary) item.append(element("div", record.summary));
  return item;
}

async function loadEntityRecords(id, into) {
  into.replaceChildren(element("p", "Loading the records that name it…", "muted busy"));
  try {
    const { data } = await api(`/api/entities/${encodeURIComponent(id)}/`);
    if (panelFor !== id) return;
    const list = element("ul");
    for (const mention of data.mentions) {
      const item = element("li");
      item.append(link(`/records/${encodeURIComponent(mention.record)}/`, mention.record_ref));
      item.append(element("span", ` · ${mention.owner} · ${mention.role}`, "muted"));
      list.append(item);
    }
    const count = data.mention_count_exact ? data.mention_count : `${data.mention_count}+`;
    into.replaceChildren(element("h3", `Records that name it (${count})`), list);
  } catch (error) {
    if (panelFor === id) into.replaceChildren(element("p", `The records could not be read: ${error.message}`, "error"));
  }
}

async function loadEdgeRecords(data, into) {
  into.replaceChildren(element("p", "Loading the records behind it…", "muted busy"));
  const list = element("ul");
  const heading = element("h3", `Records behind it (${data.records.length} of ${data.record_count} listed)`);
  const answers = await Promise.all(
    data.records.map((id) => api(`/api/records/${encodeURIComponent(id)}/`).then((answer) => answer.data, (error) => ({ id, error }))),
  );
  if (panelFor !== data.id) return;
  for (const record of answers) {
    if (record.error) list.append(element("li", `${record.id}: ${record.error.message}`, "error"));
    else list.append(recordLine(record));
  }
  into.replaceChildren(heading, list);
}

// --- export ---------------------------------------------------------------------------------

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = name;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Characters XML 1.0 cannot hold are dropped; the five special ones are escaped.
function xml(value) {
  return String(value ?? "")
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

function exportedNodes() {
  return cy.nodes().map((node) => {
    const data = node.data();
    const scored = chart.risk && chart.risk.scores.get(data.id);
    return {
      id: data.id,
      type: data.type,
      label: data.label,
      names: data.names,
      key: data.key,
      left_out: data.left_out ?? null,
      left_out_capped: data.left_out_capped ?? null,
      community: chart.communities ? chart.communities.get(data.id) ?? null : null,
      risk: scored ? scored.score : null,
      x: node.position("x"),
      y: node.position("y"),
    };
  });
}

function exportedEdges() {
  return cy.edges().map((edge) => {
    const { source, target, type, records, record_count: recordCount, first_date: first, last_date: last } = edge.data();
    return { source, target, type, records, record_count: recordCount, first_date: first, last_date: last };
  });
}

function exportJson() {
  const body = {
    format: "interlink-link-chart",
    exported_at: new Date().toISOString(),
    state: serialise(),
    nodes: exportedNodes(),
    edges: exportedEdges(),
  };
  download(new Blob([JSON.stringify(body, null, 2)], { type: "application/json" }), "link-chart.json");
}

function exportGraphml() {
  const nodeKeys = [["label", "string"], ["type", "string"], ["names", "string"], ["key", "string"], ["community", "int"], ["risk", "double"], ["x", "double"], ["y", "double"]];
  const edgeKeys = [["type", "string"], ["record_count", "int"], ["records", "string"], ["first_date", "string"], ["last_date", "string"]];
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
    ...nodeKeys.map(([name, type]) => `  <key id="n_${name}" for="node" attr.name="${name}" attr.type="${type}"/>`),
    ...edgeKeys.map(([name, type]) => `  <key id="e_${name}" for="edge" attr.name="${name}" attr.type="${type}"/>`),
    '  <graph id="link-chart" edgedefault="directed">',
  ];
  const value = (prefix, name, datum) => (datum === null || datum === undefined || datum === "" ? "" : `<data key="${prefix}_${name}">${xml(datum)}</data>`);
  for (const node of exportedNodes()) {
    const values = { ...node, names: node.names.join("; ") };
    lines.push(`    <node id="${xml(node.id)}">${nodeKeys.map(([name]) => value("n", name, values[name])).join("")}</node>`);
  }
  exportedEdges().forEach((edge, index) => {
    const values = { ...edge, records: edge.records.join(" ") };
    lines.push(`    <edge id="e${index}" source="${xml(edge.source)}" target="${xml(edge.target)}">${edgeKeys.map(([name]) => value("e", name, values[name])).join("")}</edge>`);
  });
  lines.push("  </graph>", "</graphml>", "");
  download(new Blob([lines.join("\n")], { type: "application/graphml+xml" }), "link-chart.graphml");
}

function exportPng() {
  download(cy.png({ output: "blob", full: true, scale: 2, bg: "#ffffff" }), "link-chart.png");
}

// --- saving and reopening -------------------------------------------------------------------

// The chart as a case stores it (cases/charts.py): the entities by public id, a position
// each, and the page's settings, which name no entity (a case takes out whole the nodes its
// reader may no longer see, and nothing else may remember them).
function serialise() {
  return {
    nodes: cy.nodes().map((node) => node.id()),
    positions: Object.fromEntries(cy.nodes().map((node) => [node.id(), { x: node.position("x"), y: node.position("y") }])),
    filters: { ...chart.filters, entity_types: [...chart.filters.entity_types], link_types: [...chart.filters.link_types], purpose: chart.purpose },
    layout: { name: chart.layout, timeline: chart.timeline ? { ...chart.timeline } : null, communities: Boolean(chart.communities), risk: Boolean(chart.risk) },
  };
}

function strings(value) {
  return Array.isArray(value) ? value.filter((item) => typeof item === "string") : [];
}

function text(value) {
  return typeof value === "string" ? value : "";
}

// Runs `task` over `items`, a few at a time, reporting how far it got.
async function eachLimited(items, task, progress) {
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next];
      next += 1;
      await task(item);
      done += 1;
      progress(done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(REOPEN_CONCURRENCY, items.length) }, worker));
}

// Reopens a serialised chart by asking the API again, with its filters, for each entity's
// neighbourhood, and keeps the saved entities and the links among them: what the viewer may no
// longer see is not shown, and the answer says how many saved entities that removed.
async function load(saved) {
  if (!saved || typeof saved !== "object" || !Array.isArray(saved.nodes)) {
    throw new Error("not a saved link chart");
  }
  const filters = saved.filters && typeof saved.filters === "object" ? saved.filters : {};
  const layout = typeof saved.layout === "string" ? { name: saved.layout } : saved.layout || {};
  chart.purpose = text(filters.purpose);
  chart.layout = LAYOUTS.includes(layout.name) ? layout.name : "fcose";
  chart.filters = {
    entity_types: strings(filters.entity_types),
    link_types: strings(filters.link_types),
    date_from: text(filters.date_from),
    date_to: text(filters.date_to),
    owner: text(filters.owner),
  };
  const timeline = layout.timeline;
  chart.timeline = timeline && typeof timeline.from === "string" && typeof timeline.to === "string" ? { from: timeline.from, to: timeline.to } : null;
  showControls();
  const wanted = [...new Set(strings(saved.nodes))];
  const wantedSet = new Set(wanted);
  const positions = saved.positions && typeof saved.positions === "object" ? saved.positions : {};
  const outcome = await working("Reopening the chart", async () => {
    const answers = new Map();
    await eachLimited(
      wanted,
      async (id) => {
        try {
          const { data } = await api(`/api/graph/entities/${encodeURIComponent(id)}/neighbourhood/`, {
            params: { ...neighbourhoodParams(), limit: REOPEN_LIMIT },
          });
          answers.set(id, data);
        } catch (error) {
          if (error.status !== 404) throw error; // 404: no longer visible, counted as removed
        }
      },
      (done, all) => say(`Reopening the chart: ${done} of ${all} entities…`),
    );
    cy.elements().remove();
    chart.anchors = new Set(answers.keys());
    chart.expanded = new Set();
    chart.bringers = new Map();
    chart.paths = [];
    cy.batch(() => {
      for (const [id, answer] of answers) {
        const own = answer.nodes.find((node) => node.id === id);
        // What this chart leaves out of the entity's neighbours: those the answer left out,
        // and those it gave that the saved chart does not hold.
        const uncharted = answer.nodes.filter((node) => node.distance === 1 && !wantedSet.has(node.id)).length;
        addEntity({ ...own, left_out: own.left_out + uncharted }, null);
        const place = positions[id];
        if (place && Number.isFinite(place.x) && Number.isFinite(place.y)) cy.getElementById(id).position({ x: place.x, y: place.y });
      }
      for (const answer of answers.values()) {
        for (const relationship of answer.relationships) {
          if (answers.has(relationship.source) && answers.has(relationship.target)) addRelationship(relationship);
        }
      }
    });
    return { nodes: cy.nodes().length, removed: wanted.length - cy.nodes().length };
  });
  history.past = [];
  history.future = [];
  updateHistoryButtons();
  changed();
  cy.fit(undefined, 30);
  if (outcome) say(outcome.removed ? `Reopened: ${outcome.nodes} node(s); ${outcome.removed} no longer visible to you were removed.` : `Reopened: ${outcome.nodes} node(s).`);
  if (!outcome) throw new Error(errorLine.textContent);
  // The overlays are asked for afresh (stored per agency, confirmed now), not awaited.
  if (Boolean(layout.communities) !== Boolean(chart.communities)) toggleCommunities();
  if (Boolean(layout.risk) !== Boolean(chart.risk)) toggleRisk();
  return outcome;
}

// --- cases ----------------------------------------------------------------------------------

let openCase = null; // {id, name} of the case this chart was opened from or saved as

function showCase() {
  const line = byId("chart-case");
  line.replaceChildren();
  byId("chart-save-case").hidden = !openCase;
  if (!openCase) return;
  line.append(document.createTextNode("Case: "), link(`/cases/${encodeURIComponent(openCase.id)}/`, openCase.name));
}

async function openFromCase(id) {
  const answer = await working("Opening the case", async () => (await api(`/api/cases/${encodeURIComponent(id)}/`)).data);
  if (!answer) return;
  openCase = { id: answer.id, name: answer.name };
  showCase();
  const outcome = await load(answer.chart).catch(() => null);
  if (!outcome) return;
  const removed = answer.removed + outcome.removed;
  say(removed ? `Case reopened: ${outcome.nodes} node(s); ${removed} your agency may no longer see were removed.` : `Case reopened: ${outcome.nodes} node(s).`);
}

async function saveToCase() {
  if (!openCase) return;
  const saved = await working("Saving the chart to the case", () => api(`/api/cases/${encodeURIComponent(openCase.id)}/`, { method: "PATCH", body: { chart: serialise() } }));
  if (saved) say(`Saved to the case “${openCase.name}”.`);
}

async function saveAsCase() {
  const name = window.prompt("Name of the new case");
  if (!name || !name.trim()) return;
  const answer = await working("Saving the chart as a case", async () => (await api("/api/cases/", { method: "POST", body: { name: name.trim(), notes: "", chart: serialise() } })).data);
  if (!answer) return;
  openCase = { id: answer.id, name: answer.name };
  showCase();
  window.history.replaceState(null, "", `/chart/?case=${encodeURIComponent(answer.id)}`);
  say(`Saved as the case “${answer.name}”.`);
}

// --- controls -------------------------------------------------------------------------------

function fillSelect(select, choices) {
  for (const choice of choices) {
    const option = element("option", choice.label);
    option.value = choice.value;
    select.append(option);
  }
}

function fillChecks(fieldset, name, choices) {
  for (const choice of choices) {
    const label = element("label", undefined, "check");
    const input = element("input");
    input.type = "checkbox";
    input.name = name;
    input.value = choice.value;
    label.append(input, document.createTextNode(` ${choice.label}`));
    fieldset.append(label);
  }
}

function showControls() {
  byId("chart-purpose").value = chart.purpose;
  byId("chart-layout").value = chart.layout;
  byId("chart-date-from").value = chart.filters.date_from;
  byId("chart-date-to").value = chart.filters.date_to;
  byId("chart-owner").value = chart.filters.owner;
  for (const input of document.querySelectorAll("#chart-entity-types input")) input.checked = chart.filters.entity_types.includes(input.value);
  for (const input of document.querySelectorAll("#chart-link-types input")) input.checked = chart.filters.link_types.includes(input.value);
}

function readFilters() {
  const checked = (selector) => [...document.querySelectorAll(`${selector} input:checked`)].map((input) => input.value);
  chart.filters = {
    entity_types: checked("#chart-entity-types"),
    link_types: checked("#chart-link-types"),
    date_from: byId("chart-date-from").value,
    date_to: byId("chart-date-to").value,
    owner: byId("chart-owner").value,
  };
}

// The keyboard's way through the chart: the arrows select the next or previous node by label
// (with shift, adding it to the selection, as a shift-click does).
function step(by, adding) {
  const nodes = cy.nodes().sort((a, b) => a.data("label").localeCompare(b.data("label")));
  if (!nodes.length) return;
  const current = chart.selection.length ? nodes.toArray().findIndex((node) => node.id() === chart.selection[chart.selection.length - 1]) : -1;
  const next = nodes[(current + by + nodes.length) % nodes.length];
  if (!adding) cy.elements().unselect();
  next.select();
  say(`Selected ${next.data("label")} (${next.data("type")}).`);
}

function selectedNodeIds() {
  return cy.nodes(":selected").map((node) => node.id());
}

function wire() {
  fillSelect(byId("chart-purpose"), config.purposes);
  fillSelect(byId("chart-owner"), config.owners);
  fillChecks(byId("chart-entity-types"), "entity_types", config.entity_types);
  fillChecks(byId("chart-link-types"), "link_types", config.link_types);
  showControls();
  byId("chart-toolbar").addEventListener("submit", (event) => event.preventDefault());
  byId("chart-purpose").addEventListener("change", (event) => {
    chart.purpose = event.target.value;
    say("Purpose changed: what you expand from now is read for it; “Apply to the chart” reads the whole chart again.");
  });
  byId("chart-layout").addEventListener("change", (event) => {
    chart.layout = event.target.value;
    runLayout();
  });
  byId("chart-relayout").addEventListener("click", runLayout);
  byId("chart-expand").addEventListener("click", () => expand(selectedNodeIds()));
  byId("chart-collapse").addEventListener("click", () => collapse(selectedNodeIds()));
  byId("chart-remove").addEventListener("click", () => removeNodes(selectedNodeIds()));
  byId("chart-paths").addEventListener("click", findPaths);
  byId("chart-communities").addEventListener("click", toggleCommunities);
  byId("chart-risk").addEventListener("click", toggleRisk);
  byId("chart-partners").addEventListener("click", togglePartners);
  byId("chart-refresh").addEventListener("click", refresh);
  byId("chart-undo").addEventListener("click", undo);
  byId("chart-redo").addEventListener("click", redo);
  byId("chart-export-png").addEventListener("click", exportPng);
  byId("chart-export-graphml").addEventListener("click", exportGraphml);
  byId("chart-export-json").addEventListener("click", exportJson);
  byId("chart-save-case").addEventListener("click", saveToCase);
  byId("chart-save-new-case").addEventListener("click", saveAsCase);
  byId("chart-apply-filters").addEventListener("click", () => {
    readFilters();
    rebuild();
  });
  byId("chart-timeline-from").addEventListener("input", timelineMoved);
  byId("chart-timeline-to").addEventListener("input", timelineMoved);
  byId("chart-canvas").addEventListener("keydown", (event) => {
    const ids = selectedNodeIds();
    if (event.key === "Enter") expand(ids);
    else if (event.key === "Delete" || event.key === "Backspace") removeNodes(ids);
    else if (event.key === "c") collapse(ids);
    else if (["ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp"].includes(event.key)) step(event.key === "ArrowRight" || event.key === "ArrowDown" ? 1 : -1, event.shiftKey);
    else if ((event.ctrlKey || event.metaKey) && event.key === "z") (event.shiftKey ? redo : undo)();
    else return;
    event.preventDefault();
  });
  cy.on("dbltap", "node", (event) => expand([event.target.id()]));
  cy.on("select", "node", (event) => {
    chart.selection = chart.selection.filter((id) => id !== event.target.id()).concat(event.target.id());
  });
  cy.on("unselect", "node", (event) => {
    chart.selection = chart.selection.filter((id) => id !== event.target.id());
  });
  cy.on("select unselect", () => updatePanel());
}

async function open() {
  if (config.case) {
    await openFromCase(config.case);
    return;
  }
  if (!config.entities.length) {
    say("Open a chart from an entity's page or a search result.");
    changed();
    return;
  }
  const refused = [];
  await working("Opening the chart", async () => {
    for (const id of config.entities) {
      try {
        addSubgraph(await fetchNeighbourhood(id), id);
      } catch (error) {
        refused.push(`${id}: ${error.message}`);
        continue;
      }
      chart.anchors.add(id);
      chart.expanded.add(id);
    }
  });
  changed();
  runLayout();
  if (refused.length) showError(`Could not open ${refused.join("; ")}`);
  say(`${cy.nodes().length} node(s). Double-click a node to expand it.`);
}

// Adds an answer in the graph API's shape ({nodes, relationships}) as one undoable step.
function add(answer) {
  remember();
  addSubgraph(answer, null);
  changed();
  runLayout();
  say(`${cy.nodes().length} node(s) on the chart.`);
  return cy.nodes().length;
}

wire();
window.InterlinkChart = { cy, serialise, load, add, undo, redo, ready: open() };
