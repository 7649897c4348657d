// The dashboard: live venues, charts, book depth, features (the server's next to the page's own,
// computed by mdc's Python in WebAssembly on the events the page receives), predictions, offline
// files, chaos and load reports, cost. Every data request carries the API key; no CDN is used.

import { python, newDashboard } from "/ui/static/wasm.js";
import { renderChaosReport, renderLoadReport, reportKind } from "/ui/static/reports.js";
import { renderCost } from "/ui/static/cost.js";

const KEY = "mdc.api_key";
const TICK_MS = 1000;
const CHUNK_LINES = 5000;       // lines fed to Python per step: the page stays responsive
const MAX_QUEUE = 200000;       // received events not yet fed (bounded: beyond it, we stop)
const PENDING_MAX_MS = 15000;   // a server vector not reached in the stream by then is dropped
const DEPTH_LEVELS = 20;
const $ = (id) => document.getElementById(id);

const live = {
  board: null, socket: null, queue: [], head: 0, pending: null, venue: "", symbol: "", fedTo: 0n,
  compared: 0, equal: 0, differ: 0, received: 0, charts: {}, generation: 0,
};

// -- the key and the API ------------------------------------------------------------------------

const apiKey = () => sessionStorage.getItem(KEY);

class ApiError extends Error {
  constructor(path, status, message) {
    super(`${path}: ${message}`);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const headers = { "X-API-Key": apiKey() || "", ...(options.headers || {}) };
  const reply = await fetch(path, { ...options, headers });
  const text = await reply.text();
  if (!reply.ok) {
    let message = text;
    try { message = JSON.parse(text).error || text; } catch { /* not JSON: keep the text */ }
    throw new ApiError(path, reply.status, message);
  }
  return text;
}

const refused = (e) => e instanceof ApiError && (e.status === 401 || e.status === 403);

function showLogin(message) {
  $("login").hidden = false;
  $("app").hidden = true;
  $("tabs").hidden = true;
  $("logout").hidden = true;
  $("login-error").textContent = message || "";
  stopLive();
}

async function openWithKey() {
  let instruments;
  try {
    instruments = JSON.parse(await api("/v1/features")).instruments;
  } catch (e) {
    sessionStorage.removeItem(KEY);
    showLogin(refused(e) ? "API key not accepted" : e.message);
    return;
  }
  $("login").hidden = true;
  $("app").hidden = false;
  $("tabs").hidden = false;
  $("logout").hidden = false;
  fillSelect($("instrument"), instruments);
  await refreshVenues();
  if (instruments.length) followSelected();
  else $("stream-status").textContent = "the server has no instruments yet";
}

function fillSelect(select, instruments) {
  select.replaceChildren(...instruments.map(([venue, symbol]) => {
    const option = document.createElement("option");
    option.value = `${venue}|${symbol}`;
    option.textContent = `${venue} ${symbol}`;
    return option;
  }));
}

// -- small DOM helpers ---------------------------------------------------------------------------

function cell(tag, text, attrs = {}) {
  const el = document.createElement(tag);
  el.textContent = text;
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  return el;
}

function table(headers, rows) {
  const t = document.createElement("table");
  t.append(cell("thead", ""));
  t.tHead.append(document.createElement("tr"));
  t.tHead.rows[0].append(...headers.map((h) => cell("th", h)));
  const body = document.createElement("tbody");
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.append(...row.map((v) => (v instanceof Node ? v : cell("td", v ?? "—"))));
    body.append(tr);
  }
  t.append(body);
  return t;
}

const shown = (v) => (v === null || v === undefined ? "—" : String(v));

function chart(holder, opts, data) {
  if (!holder.chart) {
    holder.chart = new uPlot({ width: 560, height: 240, ...opts }, data, holder.el);
  } else {
    holder.chart.setData(data);
  }
  if (data[0].length && !document.body.dataset.firstChart) {
    document.body.dataset.firstChart = String(Math.round(performance.now()));
  }
  holder.el.dataset.points = String(data[0].length);
}

// -- live: venues panel, stream, features, charts, predictions ----------------------------------

const HIDDEN_STATUS = new Set(["state", "restarts", "pid", "node", "started_ns"]);

// The terminal panel's rows: one per actor, its state, restarts and its own counters.
async function refreshVenues() {
  try {
    const status = JSON.parse(await api("/v1/status"));
    const rows = Object.entries(status.rows).map(([name, row]) => {
      const details = Object.entries(row).filter(([k, v]) => !HIDDEN_STATUS.has(k) &&
        v !== "" && (typeof v !== "object" || v === null)).map(([k, v]) => `${k} ${v}`);
      return [name, shown(row.state), shown(row.restarts), details.join(" · ")];
    });
    $("venues").replaceChildren(table(["actor", "state", "restarts", "details"], rows));
    $("status-age").textContent = `collector status ${status.age_s} s old`;
    const starts = Object.values(status.rows).map((r) => r.started_ns).filter(Boolean);
    if ($("from").value === "run" && starts.length) {
      $("from").value = String(starts.reduce((a, b) => (BigInt(a) < BigInt(b) ? a : b)));
    }
  } catch (e) {
    if (refused(e)) return showLogin("API key not accepted");
    $("status-age").textContent = e.message;
  }
}

function stopLive() {
  live.generation += 1;
  if (live.socket) live.socket.close();
  live.socket = null;
  live.board = null;
}

async function followSelected() {
  stopLive();
  const generation = live.generation;
  const [venue, symbol] = $("instrument").value.split("|");
  Object.assign(live, { venue, symbol, queue: [], head: 0, pending: null, received: 0, fedTo: 0n,
    compared: 0, equal: 0, differ: 0 });
  $("features").tBodies[0].replaceChildren();
  $("stream-status").textContent = "waiting for Python (WebAssembly)…";
  const board = await newDashboard();
  if (generation !== live.generation) return;
  live.board = board;
  const url = new URL("/v1/stream", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.search = new URLSearchParams({ type: "events", venues: venue, symbols: symbol,
    from: $("from").value === "run" ? "0" : $("from").value || "0" }).toString();
  const socket = new WebSocket(url);
  live.socket = socket;
  socket.onopen = () => socket.send(JSON.stringify({ api_key: apiKey() }));
  socket.onmessage = (message) => {
    if (live.queue.length - live.head >= MAX_QUEUE) {
      socket.close(1000, "page too far behind");
      $("stream-status").textContent = "the page fell too far behind the stream: stopped";
      return;
    }
    live.queue.push(message.data);
    live.received += 1;
  };
  socket.onclose = (event) => {
    if (socket !== live.socket) return;
    if (event.code === 1008) return showLogin("API key not accepted");
    $("stream-status").textContent = `stream closed (${event.code}) ${event.reason}`;
  };
}

const tsRecv = (line) => {
  const found = /"ts_recv":(\d+)/.exec(line);
  return found ? BigInt(found[1]) : 0n;
};

async function fetchServerVector() {
  const path = `/v1/features/${encodeURIComponent(live.venue)}/${encodeURIComponent(live.symbol)}`;
  const text = await api(path);
  const vector = JSON.parse(text);
  // nanosecond stamps exceed a JavaScript number: read their exact text
  vector.t_ns = (/"t_ns":(\d+)/.exec(text) || [])[1] ?? null;
  vector.ts_recv = (/"ts_recv":(\d+)/.exec(text) || [])[1] ?? null;
  vector.fetched = Date.now();
  return vector;
}

// Feeds the page's Python the received events up to the pending server vector's receive time.
// When an event after it has arrived, the page has seen exactly what the server had: compare.
function pump() {
  const limit = live.pending && live.pending.ts_recv !== null ? BigInt(live.pending.ts_recv) : null;
  const batch = [];
  while (live.head < live.queue.length && batch.length < CHUNK_LINES) {
    if (limit !== null && tsRecv(live.queue[live.head]) > limit) break;
    batch.push(live.queue[live.head]);
    live.head += 1;
  }
  if (live.head > 10000) {
    live.queue = live.queue.slice(live.head);
    live.head = 0;
  }
  if (batch.length) {
    live.board.feed(batch.join("\n"));
    live.fedTo = tsRecv(batch[batch.length - 1]);
  }
  const after = live.head < live.queue.length && tsRecv(live.queue[live.head]) > limit;
  if (limit !== null && live.fedTo > limit) {
    live.pending = null; // the page was already past it (fed while no vector was pending)
  } else if (limit !== null && after) {
    compare(live.pending);
    live.pending = null;
  } else if (live.pending && Date.now() - live.pending.fetched > PENDING_MAX_MS) {
    live.pending = null;
  }
}

function featureCell(source, name, value) {
  return cell("td", shown(value), {
    "data-feature": name, "data-venue": live.venue, "data-symbol": live.symbol,
    "data-source": source, "data-value": JSON.stringify(value ?? null),
  });
}

function compare(server) {
  const mine = JSON.parse(live.board.vector(live.venue, live.symbol));
  if (mine === null) return;
  const rows = [];
  let same = mine.t_ns === server.t_ns;
  for (const [name, value] of Object.entries(server.features)) {
    const ours = mine.features[name] ?? null;
    const equal = (value ?? null) === ours;
    same = same && equal;
    const tr = document.createElement("tr");
    tr.append(cell("td", name), featureCell("server", name, value), featureCell("wasm", name, ours),
      cell("td", equal ? "=" : "≠", { class: equal ? "equal" : "differ" }));
    rows.push(tr);
  }
  $("features").tBodies[0].replaceChildren(...rows);
  live.compared += 1;
  live[same ? "equal" : "differ"] += 1;
  const status = $("compare-status");
  Object.assign(status.dataset, { compared: live.compared, equal: live.equal, differ: live.differ,
    tNs: server.t_ns });
  status.textContent = `${live.compared} comparisons at the server's instants: ${live.equal} ` +
    `equal, ${live.differ} different (last at t_ns ${server.t_ns})`;
}

function drawLive() {
  const prices = JSON.parse(live.board.series(live.venue, live.symbol));
  live.charts.price ||= { el: $("price-chart") };
  chart(live.charts.price, { series: [{}, { label: "price", stroke: "#2a6fdb" }] }, prices);
  const depth = JSON.parse(live.board.depth(live.venue, live.symbol, DEPTH_LEVELS));
  if (depth) {
    live.charts.depth ||= { el: $("depth-chart") };
    chart(live.charts.depth, {
      scales: { x: { time: false } },
      series: [{ label: "price" }, { label: "bids", stroke: "#18794e" },
        { label: "asks", stroke: "#c62828" }],
    }, depthSeries(depth));
  }
  const stats = JSON.parse(live.board.stats());
  $("stream-status").textContent = `${live.received} events received, ${stats.events} computed ` +
    `in the page` + (stats.bad_lines ? `, ${stats.bad_lines} unreadable` : "") +
    (depth && !depth.in_sync ? "; the book is not in sync" : "");
}

// Cumulative size from the best price outwards, on one ascending price axis.
function depthSeries(depth) {
  const side = (levels) => {
    let total = 0;
    return levels.map(([price, size]) => [Number(price), (total += Number(size))]);
  };
  const bids = side(depth.bids).reverse();
  const asks = side(depth.asks);
  const x = [...bids.map((b) => b[0]), ...asks.map((a) => a[0])];
  return [x, [...bids.map((b) => b[1]), ...asks.map(() => null)],
    [...bids.map(() => null), ...asks.map((a) => a[1])]];
}

async function refreshPredictions() {
  const parts = [];
  try {
    const body = JSON.stringify({ venue: live.venue, symbol: live.symbol });
    const made = JSON.parse(await api("/v1/predict", { method: "POST", body,
      headers: { "Content-Type": "application/json" } }));
    parts.push(table(["field", "value"], Object.entries(made).map(([k, v]) =>
      [k, typeof v === "object" && v !== null ? JSON.stringify(v) : shown(v)])));
  } catch (e) {
    parts.push(cell("p", `prediction: ${e.message}`));
  }
  try {
    const { ab } = JSON.parse(await api("/v1/models"));
    parts.push(cell("h3", "A/B split"), table(["variant", "model", "version", "weight",
      "requests", "p50 ms", "p99 ms"], Object.entries(ab).map(([variant, s]) =>
      [variant, s.model, s.version, s.weight, s.requests, shown(s.p50_ms), shown(s.p99_ms)])));
  } catch (e) {
    parts.push(cell("p", `models: ${e.message}`));
  }
  $("predictions").replaceChildren(...parts);
}

async function tick() {
  if (!live.board || $("live").hidden) return;
  try {
    if (!live.pending) live.pending = await fetchServerVector();
  } catch (e) {
    if (refused(e)) return showLogin("API key not accepted");
    $("compare-status").textContent = e.message;
  }
  if (live.board) {
    pump();
    drawLive();
  }
}

// -- offline file ---------------------------------------------------------------------------------

const offline = { board: null, chart: null };

async function openOffline(file) {
  const status = $("offline-status");
  status.textContent = `reading ${file.name}…`;
  const lines = (await file.text()).split("\n");
  const board = await newDashboard();
  for (let i = 0; i < lines.length; i += CHUNK_LINES) {
    board.feed(lines.slice(i, i + CHUNK_LINES).join("\n"));
    status.textContent = `${file.name}: ${Math.min(i + CHUNK_LINES, lines.length)} of ` +
      `${lines.length} lines`;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  offline.board = board;
  const stats = JSON.parse(board.stats());
  status.textContent = `${file.name}: ${stats.events} events` + (stats.bad_lines
    ? `, ${stats.bad_lines} lines that are not mdc events (last: ${stats.last_error})` : "");
  status.dataset.events = String(stats.events);
  status.dataset.badLines = String(stats.bad_lines);
  fillSelect($("offline-instrument"), JSON.parse(board.instruments()));
  showOffline();
}

function showOffline() {
  if (!offline.board || !$("offline-instrument").value) return;
  const [venue, symbol] = $("offline-instrument").value.split("|");
  offline.chart ||= { el: $("offline-chart") };
  chart(offline.chart, { series: [{}, { label: "price", stroke: "#2a6fdb" }] },
    JSON.parse(offline.board.series(venue, symbol)));
  const vector = JSON.parse(offline.board.vector(venue, symbol));
  $("offline-features").tBodies[0].replaceChildren(...Object.entries(vector.features).map(
    ([name, value]) => {
      const tr = document.createElement("tr");
      tr.append(cell("td", name), cell("td", shown(value), { "data-feature": name,
        "data-venue": venue, "data-symbol": symbol, "data-source": "wasm",
        "data-value": JSON.stringify(value) }));
      return tr;
    }));
}

// -- reports and cost -------------------------------------------------------------------------------

async function openReport(file) {
  const status = $("report-status");
  const view = $("report-view");
  view.replaceChildren();
  let report;
  try {
    report = JSON.parse(await file.text());
  } catch (e) {
    status.textContent = `${file.name} is not JSON: ${e.message}`;
    return;
  }
  const kind = reportKind(report);
  if (kind === null) {
    status.textContent = `${file.name} is neither a chaos nor a load report`;
    return;
  }
  status.textContent = "";
  view.dataset.kind = kind;
  (kind === "chaos" ? renderChaosReport : renderLoadReport)(view, report);
}

async function loadCost(prices = {}) {
  const query = new URLSearchParams(prices).toString();
  try {
    const report = JSON.parse(await api(`/v1/cost${query ? `?${query}` : ""}`));
    $("cost-status").textContent = "";
    renderCost($("cost-view"), report, loadCost);
  } catch (e) {
    if (refused(e)) return showLogin("API key not accepted");
    $("cost-status").textContent = e.message;
  }
}

// -- wiring -------------------------------------------------------------------------------------------

function showTab(name) {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.tab === name);
  }
  for (const panel of document.querySelectorAll(".panel")) panel.hidden = panel.id !== name;
  if (name === "cost") loadCost();
}

function wire() {
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, new FormData(event.target).get("api_key"));
    openWithKey();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    showLogin("");
  });
  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  $("live-form").addEventListener("submit", (event) => {
    event.preventDefault();
    followSelected();
  });
  $("offline-file").addEventListener("change", (e) => e.target.files[0] && openOffline(e.target.files[0]));
  $("offline-instrument").addEventListener("change", showOffline);
  $("report-file").addEventListener("change", (e) => e.target.files[0] && openReport(e.target.files[0]));
  setInterval(tick, TICK_MS);
  setInterval(() => !$("app").hidden && !$("live").hidden && refreshVenues(), 2000);
  setInterval(() => live.board && !$("live").hidden && refreshPredictions(), 3000);
}

wire();
python().then(
  () => {
    $("python-status").textContent = "Python (WebAssembly): ready";
    document.body.dataset.python = "ready";
    document.body.dataset.pythonMs = String(Math.round(performance.now()));
  },
  (e) => {
    $("python-status").textContent = `Python (WebAssembly) failed: ${e.message}`;
    document.body.dataset.python = "failed";
  },
);
if (apiKey()) openWithKey();
else showLogin("");
