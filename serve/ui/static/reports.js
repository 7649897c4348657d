// Browser renderers for the chaos and load reports on the /ui dashboard: the parsed JSON of
// chaos-report.json or of a load run's report.json in, DOM out (tables, PASS/FAIL verdicts, uPlot
// charts). The same content as the standalone report pages that `mdc chaos run` and `mdc load`
// write, so a report looks alike wherever it is opened.
//
// Report strings only ever reach the page as text nodes or attribute values (never innerHTML),
// so a hostile scenario name or error detail cannot inject markup. A missing field shows "n/a".
// Charts use the global `uPlot` (/ui/vendor/uplot/uPlot.iife.min.js, loaded by the page); each
// chart's wrapper carries `data-chart="<name>"`.

const NA = "n/a";
const FAULT_COLOR = "#e4572e";
const RECOVERED_COLOR = "#2a9d3a";
const NEVER_COLOR = "#8a1111";
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#17becf"];
const LOAD_LATENCIES = [
  ["p50", "p50_ms"],
  ["p90", "p90_ms"],
  ["p95", "p95_ms"],
  ["p99", "p99_ms"],
  ["max", "max_ms"],
];
const RUN_LATENCIES = LOAD_LATENCIES.filter(([p]) => p !== "p90" && p !== "max");
const NO_SERIES =
  "This report holds no time series for the scenario: besides the timeline, the charts show " +
  "what it has, namely recovery time per fault.";

/** A y scale from 0 to a little above the largest value. */
const FROM_ZERO = { range: (u, lo, hi) => [0, niceMax(hi)] };

/** uPlot instances per container, destroyed when the container is rendered again. */
const chartsOf = new WeakMap();

/**
 * Which report a parsed JSON object is: "chaos" (chaos-report.json: a `scenarios` list), "load"
 * (a load run's report.json: `endpoints` and `requests`), or null for anything else.
 * @param {unknown} obj
 * @returns {"chaos" | "load" | null}
 */
export function reportKind(obj) {
  if (!isObject(obj)) return null;
  if (Array.isArray(obj.scenarios)) return "chaos";
  if (Array.isArray(obj.endpoints) && "requests" in obj) return "load";
  return null;
}

/**
 * Render chaos-report.json into `container` (its previous content is replaced).
 * @param {HTMLElement} container
 * @param {object} report the parsed chaos-report.json
 * @returns {HTMLElement} the report's root element
 */
export function renderChaosReport(container, report) {
  const root = reset(container, "report report-chaos");
  const scenarios = records(isObject(report) ? report.scenarios : null);
  root.append(el("h2", {}, "Chaos report"));
  const summary = section(root, 3, "Summary");
  if (!scenarios.length) {
    summary.append(note("This report holds no scenarios: nothing was run."));
    return root;
  }
  const ids = scenarios.map((s, i) => `chaos-scenario-${i + 1}-${slug(s.scenario)}`);
  const rows = scenarios.map((s, i) => {
    const checks = records(s.invariants);
    return [
      el("a", { href: `#${ids[i]}` }, text(s.scenario)),
      text(s.seed),
      verdict(s.ok),
      fmt(s.wall_s, 1),
      String(records(s.timeline).length),
      `${checks.filter((c) => c.ok === true).length} of ${checks.length}`,
    ];
  });
  summary.append(
    table(
      ["scenario", "seed", "verdict", "wall (s)", "faults", "guarantees held"],
      rows,
      [1, 3, 4],
    ),
  );
  scenarios.forEach((s, i) => renderScenario(container, root, s, ids[i]));
  return root;
}

/**
 * Render a load run's report.json into `container` (its previous content is replaced).
 * @param {HTMLElement} container
 * @param {object} report the parsed report.json of `mdc load`
 * @returns {HTMLElement} the report's root element
 */
export function renderLoadReport(container, report) {
  const root = reset(container, "report report-load");
  const r = isObject(report) ? report : {};
  const total = isObject(r.total) ? r.total : {};
  root.append(el("h2", {}, text(r.title || "Load report")));

  const totals = section(root, 3, "Totals");
  const latencies = LOAD_LATENCIES.map(([, key]) => fmt(key in r ? r[key] : total[key], 0));
  totals.append(
    table(
      ["requests", "failures", "error rate", "req/s", ...LOAD_LATENCIES.map(([p]) => `${p} ms`)],
      [[fmt(r.requests, 0), fmt(r.failures, 0), pct(r.error_rate), fmt(r.rps, 1), ...latencies]],
      [0, 1, 2, 3, 4, 5, 6, 7, 8],
    ),
  );
  if (!num(r.requests)) {
    totals.append(note("No request completed in this run, so there are no latencies."));
  }
  renderPercentiles(container, section(root, 3, "Latency percentiles"), loadRows(r));
  renderThroughput(container, section(root, 3, "Throughput over time"), records(r.history));
  renderErrors(section(root, 3, "Errors by cause"), records(r.errors));
  return root;
}

// ---- chaos ---------------------------------------------------------------------------------

function renderScenario(container, root, s, id) {
  const box = el("section", { id, class: "scenario" });
  box.append(el("h3", {}, text(s.scenario), " ", verdict(s.ok)));
  root.append(box);
  if (s.error) box.append(el("p", { class: "error" }, `Error: ${text(s.error)}`));
  box.append(
    list([
      `seed ${text(s.seed)}, fault phase ${fmt(s.duration_s)} s, wall time ${fmt(s.wall_s, 1)} s`,
      `recovery after the last heal: ${fmt(s.final_recovery_s, 1)} s`,
    ]),
  );
  renderGuarantees(section(box, 4, "Guarantees"), s);
  const steps = records(s.timeline);
  const clock = timelineClock(s, steps);
  const lanes = steps.map((step, i) => lane(step, i, clock.origin));
  renderTimeline(container, section(box, 4, "Timeline"), s, steps, lanes, clock.label);
  box.append(note(NO_SERIES));
  renderRecovery(container, section(box, 4, "Recovery per fault"), s, steps, lanes);
  renderChaosLoad(section(box, 4, "Load on the prediction API"), s.load);
  renderPairs(section(box, 4, "Peak memory"), s.peak_rss_mb, ["actor", "peak RSS (MB)"], 1);
  renderPairs(section(box, 4, "Writer (last incarnation)"), s.writer, ["counter", "value"]);
}

function renderGuarantees(box, s) {
  const checks = records(s.invariants);
  if (!checks.length) {
    box.append(note("No guarantee was checked: the run stopped before its checks."));
  } else {
    const rows = checks.map((c) => [text(c.name), verdict(c.ok), text(c.detail)]);
    box.append(table(["guarantee", "verdict", "detail"], rows));
  }
  const lines = Array.isArray(s.verify) ? s.verify.filter((l) => typeof l === "string") : [];
  if (lines.length) {
    box.append(el("h5", {}, "Checker against the simulator's ground truth"), list(lines));
  }
}

/** The timeline's clock: the scenario's start, else (older reports) the first injection. */
function timelineClock(s, steps) {
  const started = num(s.started_ns);
  if (started !== null) return { origin: started, label: "seconds since the scenario started (s)" };
  const injected = steps.map((step) => num(step.injected_at_ns)).filter((t) => t !== null);
  return {
    origin: injected.length ? Math.min(...injected) : null,
    label: "seconds since the first fault (s)",
  };
}

function lane(step, i, origin) {
  const since = (ns) => (num(ns) === null || origin === null ? null : (num(ns) - origin) / 1e9);
  const start = since(step.injected_at_ns);
  const end = since(step.healed_at_ns);
  const recovery = num(step.recovery_s);
  const back = end !== null && recovery !== null ? end + recovery : null;
  const target = step.target ? ` @ ${text(step.target)}` : "";
  return { label: `${i + 1}. ${text(step.fault)}${target}`, start, end, back };
}

function renderTimeline(container, box, s, steps, lanes, clockLabel) {
  box.append(
    note(
      `Injected and healed: ${clockLabel}. Planned at: seconds into the fault phase. ` +
        "Recovered: seconds from the heal until events were stored again.",
    ),
  );
  if (steps.length) {
    const rows = steps.map((step, i) => [
      String(i + 1),
      fmt(step.at_s, 1),
      text(step.fault),
      step.target ? text(step.target) : "-",
      pairs(step.params),
      fmt(step.hold_s),
      fmt(lanes[i].start, 1),
      fmt(lanes[i].end, 1),
      fmt(step.recovery_s, 1),
      step.error ? text(step.error) : "",
    ]);
    const headers = ["#", "planned at (s)", "fault", "target", "params", "hold (s)"];
    headers.push("injected (s)", "healed (s)", "recovered after heal (s)", "error");
    box.append(table(headers, rows, [0, 1, 5, 6, 7, 8]));
  } else {
    box.append(note("No fault steps."));
  }
  const wrap = chartBox(box, `chaos-timeline-${text(s.scenario)}`);
  const drawn = lanes.filter((l) => l.start !== null);
  if (!drawn.length) return noChart(wrap, "No fault was injected.");
  const times = drawn.flatMap((l) => [l.start, l.end, l.back]).filter((v) => v !== null);
  const xmax = Math.max(...times);
  const n = lanes.length;
  const opts = {
    title: `${text(s.scenario)}: faults`,
    width: chartWidth(container),
    height: Math.max(160, 70 + 34 * n),
    legend: { live: false },
    cursor: { show: false },
    scales: { x: { time: false, range: [0, xmax * 1.05 || 1] }, y: { range: [0.4, n + 0.6] } },
    axes: [
      { label: clockLabel },
      {
        size: labelWidth(lanes.map((l) => l.label)),
        splits: () => lanes.map((_, k) => n - k),
        values: (u, splits) => splits.map((v) => (lanes[n - v] ? lanes[n - v].label : "")),
      },
    ],
    series: [
      {},
      { label: "fault held", stroke: FAULT_COLOR, fill: FAULT_COLOR, width: 8 },
      markerSeries("recovered", RECOVERED_COLOR),
      markerSeries("never recovered", NEVER_COLOR),
    ],
    hooks: { draw: [(u) => drawLanes(u, lanes)] },
  };
  plot(container, wrap, opts, [[0, xmax], [null, null], [null, null], [null, null]]);
}

/** A series drawn by `drawLanes`, present for its legend entry only. */
function markerSeries(label, color) {
  return { label, stroke: color, paths: () => null, points: { show: true, size: 8, fill: color } };
}

/** Faults as bars from injection to heal, a dot where the system was back, a cross if never. */
function drawLanes(u, lanes) {
  const ctx = u.ctx;
  const ratio = typeof uPlot.pxRatio === "number" ? uPlot.pxRatio : 1;
  const half = Math.max(3, Math.abs(u.valToPos(0.3, "y", true) - u.valToPos(0, "y", true)));
  ctx.save();
  lanes.forEach((l, k) => {
    if (l.start === null) return;
    const y = u.valToPos(lanes.length - k, "y", true);
    const x0 = u.valToPos(l.start, "x", true);
    const x1 = u.valToPos(l.end === null ? l.start : l.end, "x", true);
    ctx.fillStyle = FAULT_COLOR;
    ctx.fillRect(x0, y - half, Math.max(x1 - x0, 2 * ratio), 2 * half);
    const r = 5 * ratio;
    if (l.back !== null) {
      const x = u.valToPos(l.back, "x", true);
      ctx.fillStyle = RECOVERED_COLOR;
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      ctx.strokeStyle = NEVER_COLOR;
      ctx.lineWidth = 2 * ratio;
      ctx.beginPath();
      ctx.moveTo(x1 - r, y - r);
      ctx.lineTo(x1 + r, y + r);
      ctx.moveTo(x1 + r, y - r);
      ctx.lineTo(x1 - r, y + r);
      ctx.stroke();
    }
  });
  ctx.restore();
}

function renderRecovery(container, box, s, steps, lanes) {
  const injected = steps.map((step, i) => [step, lanes[i]]).filter(([step]) => step.injected_at_ns);
  const wrap = chartBox(box, `chaos-recovery-${text(s.scenario)}`);
  if (!injected.length) return noChart(wrap, "No fault was injected.");
  const labels = injected.map(([, l]) => l.label);
  barChart(container, wrap, {
    title: `${text(s.scenario)}: recovery after each heal`,
    yLabel: "time to recover (s)",
    categories: labels,
    groups: [["recovery (s)", injected.map(([step]) => num(step.recovery_s))]],
  });
  box.append(note("Seconds from each heal until events were stored again (n/a: never recovered)."));
}

function renderChaosLoad(box, load) {
  const l = isObject(load) ? load : {};
  if (!num(l.requests)) return box.append(note("No prediction request completed."));
  box.append(
    table(
      ["requests", "failures", "error rate", "req/s", "p50 ms", "p99 ms"],
      [
        [
          fmt(l.requests, 0),
          fmt(l.failures, 0),
          pct(l.error_rate),
          fmt(l.rps, 1),
          fmt(l.p50_ms, 0),
          fmt(l.p99_ms, 0),
        ],
      ],
      [0, 1, 2, 3, 4, 5],
    ),
  );
  const runs = records(l.runs);
  if (!runs.length) return undefined;
  const rows = runs.map((r, i) => [
    `run ${i + 1}`,
    fmt(r.requests, 0),
    fmt(r.failures, 0),
    fmt(r.rps, 1),
    ...RUN_LATENCIES.map(([, key]) => fmt(r[key], 0)),
  ]);
  const headers = ["Locust run", "requests", "failures", "req/s"];
  headers.push(...RUN_LATENCIES.map(([p]) => `${p} ms`));
  box.append(table(headers, rows, [1, 2, 3, 4, 5, 6]));
  return undefined;
}

// ---- load ----------------------------------------------------------------------------------

/** The endpoints, then the aggregate row when the report has one. */
function loadRows(r) {
  return [...records(r.endpoints), ...records(isObject(r.total) ? [r.total] : [])];
}

function renderPercentiles(container, box, rows) {
  if (!rows.length) {
    box.append(note("The report lists no endpoints."));
  } else {
    const body = rows.map((row) => [
      endpointLabel(row),
      fmt(row.requests, 0),
      fmt(row.failures, 0),
      pct(row.error_rate),
      fmt(row.rps, 1),
      fmt(row.avg_ms, 1),
      ...LOAD_LATENCIES.map(([, key]) => fmt(row[key], 0)),
    ]);
    const headers = ["endpoint", "requests", "failures", "error rate", "req/s", "avg ms"];
    headers.push(...LOAD_LATENCIES.map(([p]) => `${p} ms`));
    box.append(table(headers, body, headers.map((_, i) => i).slice(1)));
  }
  const wrap = chartBox(box, "load-percentiles");
  const measured = rows.filter((row) => num(row.requests));
  if (!measured.length) return noChart(wrap, "No endpoint completed a request.");
  const xs = LOAD_LATENCIES.map((_, i) => i + 1);
  const series = measured.map((row, i) => ({
    label: endpointLabel(row),
    stroke: COLORS[i % COLORS.length],
    width: 2,
    points: { show: true, size: 7, fill: COLORS[i % COLORS.length] },
  }));
  const data = [xs, ...measured.map((row) => LOAD_LATENCIES.map(([, key]) => num(row[key])))];
  plot(container, wrap, {
    title: "Latency percentiles per endpoint",
    width: chartWidth(container),
    height: 300,
    scales: { x: { time: false, range: [0.7, xs.length + 0.3] }, y: FROM_ZERO },
    axes: [
      { label: "percentile", splits: () => xs, values: (u, splits) => splits.map(percentileName) },
      { label: "latency (ms)" },
    ],
    series: [{ label: "percentile", value: (u, v) => percentileName(v) || "-" }, ...series],
  }, data);
  return undefined;
}

/** "p50" for 1, "p90" for 2, ... (the percentile chart's x positions); "" off the scale. */
function percentileName(position) {
  const entry = LOAD_LATENCIES[position - 1];
  return entry ? entry[0] : "";
}

function renderThroughput(container, box, history) {
  const wrap = chartBox(box, "load-throughput");
  const points = history.filter((b) => num(b.t_s) !== null);
  if (!points.length) {
    return noChart(wrap, "This report has no per-second history, so there is no throughput chart.");
  }
  plot(container, wrap, {
    title: "Throughput over time",
    width: chartWidth(container),
    height: 280,
    scales: { x: { time: false }, y: FROM_ZERO },
    axes: [{ label: "time since the load started (s)" }, { label: "requests per second (1/s)" }],
    series: [
      { label: "t (s)" },
      { label: "requests/s", stroke: COLORS[0], width: 2 },
      { label: "failures/s", stroke: COLORS[3], width: 2 },
    ],
  }, [
    points.map((b) => num(b.t_s)),
    points.map((b) => num(b.rps)),
    points.map((b) => num(b.failures_per_s)),
  ]);
  box.append(note("Requests and failures completed per second, from Locust's stats history."));
  return undefined;
}

function renderErrors(box, errors) {
  if (!errors.length) return box.append(note("No request failed."));
  const rows = errors.map((e) => [endpointLabel(e), text(e.error), fmt(e.occurrences, 0)]);
  return box.append(table(["request", "error", "occurrences"], rows, [2]));
}

function endpointLabel(row) {
  return `${row.method ? text(row.method) : ""} ${row.name == null ? "?" : text(row.name)}`.trim();
}

// ---- charts --------------------------------------------------------------------------------

function chartBox(parent, name) {
  const wrap = el("div", { class: "report-chart", "data-chart": name });
  parent.append(wrap);
  return wrap;
}

function noChart(wrap, message) {
  wrap.append(note(message));
  return undefined;
}

/** Grouped bars over categories 1..n, one series per group, a gap where a value is missing. */
function barChart(container, wrap, { title, yLabel, categories, groups }) {
  const xs = categories.map((_, i) => i + 1);
  const bars = hasBars() ? uPlot.paths.bars({ size: [0.6 / groups.length, 80] }) : undefined;
  const series = groups.map(([label], i) => ({
    label,
    stroke: COLORS[i % COLORS.length],
    fill: COLORS[i % COLORS.length] + "cc",
    paths: bars,
    points: { show: !bars },
  }));
  const short = (v) => {
    const label = categories[v - 1];
    return label === undefined ? "" : label.length > 22 ? `${label.slice(0, 21)}…` : label;
  };
  plot(container, wrap, {
    title,
    width: chartWidth(container),
    height: 280,
    scales: { x: { time: false, range: [0.5, xs.length + 0.5] }, y: FROM_ZERO },
    axes: [{ splits: () => xs, values: (u, splits) => splits.map(short) }, { label: yLabel }],
    series: [{ label: "#", value: (u, v) => categories[v - 1] ?? "-" }, ...series],
  }, [xs, ...groups.map(([, values]) => values)]);
}

function hasBars() {
  return typeof uPlot !== "undefined" && uPlot.paths && typeof uPlot.paths.bars === "function";
}

/** A uPlot chart in `wrap`, remembered so the next render of `container` destroys it. */
function plot(container, wrap, opts, data) {
  if (typeof uPlot === "undefined") {
    return noChart(wrap, "Charts need uPlot (/ui/vendor/uplot/uPlot.iife.min.js), not loaded.");
  }
  const chart = new uPlot(opts, data, wrap);
  chartsOf.get(container)?.push(chart);
  return chart;
}

function chartWidth(container) {
  const width = container && container.clientWidth ? container.clientWidth - 24 : 760;
  return Math.max(320, Math.min(960, width));
}

/** Room for the longest lane label on the y axis (uPlot clips what does not fit). */
function labelWidth(labels) {
  const longest = Math.max(0, ...labels.map((label) => label.length));
  return Math.min(360, 24 + Math.ceil(longest * 7.2));
}

function niceMax(hi) {
  return hi > 0 && Number.isFinite(hi) ? hi * 1.1 : 1;
}

// ---- DOM -----------------------------------------------------------------------------------

/** Destroy the charts of the previous render, empty the container, add a fresh root. */
function reset(container, className) {
  for (const chart of chartsOf.get(container) || []) chart.destroy();
  chartsOf.set(container, []);
  const root = el("div", { class: className });
  container.replaceChildren(root);
  return root;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function section(parent, level, title) {
  const box = el("section", {}, el(`h${level}`, {}, title));
  parent.append(box);
  return box;
}

function note(message) {
  return el("p", { class: "note" }, message);
}

function list(items) {
  return el("ul", {}, ...items.map((item) => el("li", {}, item)));
}

function verdict(ok) {
  if (ok === true) return el("span", { class: "verdict pass" }, "PASS");
  if (ok === false) return el("span", { class: "verdict fail" }, "FAIL");
  return el("span", { class: "verdict unknown" }, NA);
}

function table(headers, rows, numeric = []) {
  const right = new Set(numeric);
  const cell = (tag, value, i) => el(tag, right.has(i) ? { class: "num" } : {}, value);
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, ...headers.map((h, i) => cell("th", h, i)))),
    el("tbody", {}, ...rows.map((row) => el("tr", {}, ...row.map((v, i) => cell("td", v, i))))),
  );
}

function renderPairs(box, value, headers, digits = null) {
  const entries = isObject(value) ? Object.entries(value) : [];
  if (!entries.length) return box.append(note("Not in this report."));
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const shown = (v) => (digits === null ? pairs(v, text(v)) : fmt(v, digits));
  const rows = entries.map(([key, v]) => [key, shown(v)]);
  return box.append(table(headers, rows, digits === null ? [] : [1]));
}

// ---- values --------------------------------------------------------------------------------

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function records(value) {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

/** A finite number, or null for anything else (missing, null, text, booleans). */
function num(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function fmt(value, digits = null) {
  const n = num(value);
  if (n === null) return NA;
  return digits === null ? String(n) : n.toFixed(digits);
}

function pct(value) {
  const n = num(value);
  return n === null ? NA : `${(n * 100).toFixed(2)}%`;
}

function text(value) {
  if (value === null || value === undefined) return NA;
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** `{a: 1, b: 2}` as `a=1, b=2`; an empty mapping as "-", anything else as `fallback`. */
function pairs(value, fallback = "-") {
  if (!isObject(value)) return fallback;
  const entries = Object.entries(value);
  return entries.length ? entries.map(([k, v]) => `${k}=${text(v)}`).join(", ") : "-";
}

function slug(name) {
  return (text(name).replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[-.]+|[-.]+$/g, "") || "scenario");
}
