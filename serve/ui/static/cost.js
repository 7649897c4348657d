// The cost view: builds the DOM of one GET /v1/cost report (mdc/cost/model.py CostReport.as_dict).
// Framework-free and self-contained: no external URL, no innerHTML; every value from the report
// goes in as text (textContent, text nodes, attribute values), so a hostile symbol name stays
// a string. Money and shares arrive as decimal strings (exact); they are shown as given.
//
//   import { renderCost } from "./cost.js";
//   renderCost(element, report, (prices) => refetch(`/v1/cost?${new URLSearchParams(prices)}`));

const TABLES = [
  ["Storage by venue", "by_venue", ["venue"]],
  ["Storage by symbol", "by_symbol", ["venue", "symbol"]],
  ["Storage by event type", "by_type", ["family", "type"]],
  ["Storage by tier", "by_tier", ["tier"]],
];

const MONTHLY = [
  ["Storage", (m) => `${bytes(m.storage_now_bytes)} +${bytes(m.storage_growth_bytes)}`,
    "storage_cost"],
  ["Network in", (m) => bytes(m.ingress_bytes), "ingress_cost"],
  ["Network out", (m) => bytes(m.egress_bytes), "egress_cost"],
  ["API calls", (m) => count(m.api_calls), "api_cost"],
];

/**
 * Replaces the children of `container` with the cost view of `report`.
 * @param {HTMLElement} container
 * @param {object} report the JSON of GET /v1/cost
 * @param {(prices: Record<string, string>) => void} [onPrices] called with the unit prices the
 *   user submitted ({} to go back to the defaults), by field name; the page refetches with them
 */
export function renderCost(container, report, onPrices) {
  const storage = report.storage || {};
  container.replaceChildren(
    el("div", { class: "mdc-cost" },
      summary(report),
      monthly(report.monthly || {}, report.span || {}),
      recommendations(report.recommendations || []),
      ...TABLES.map(([title, key, names]) => shareTable(title, names, storage[key] || [])),
      providers(report.providers || []),
      priceForm(report.prices || [], onPrices),
      notes(report.notes || []),
    ),
  );
}

function summary(report) {
  const span = report.span || {};
  const totals = report.totals || {};
  return el("p", { class: "mdc-cost-summary" },
    `Storage observed over ${duration(span.storage_ns)}, provider usage over ` +
    `${duration(span.usage_ns)}; ${bytes(totals.storage_bytes)} stored, ` +
    `${count(totals.events)} events, use measured as ${totals.use_measure || "trades"}.`);
}

function monthly(m, span) {
  const rows = MONTHLY.map(([label, amount, cost]) => [label, amount(m), m[cost]]);
  rows.push(["Total", "", m.total_cost]);
  return section(`Next ${span.month_days || 30} days at the observed rates`,
    table(["", "amount", "cost"], rows, 1));
}

function recommendations(recs) {
  if (!recs.length) {
    return section("Recommendations", el("p", {}, "Nothing stands out."));
  }
  const list = el("ol", { class: "mdc-cost-recommendations" });
  for (const r of recs) {
    list.append(el("li", { "data-kind": r.kind },
      el("strong", {}, `${r.target}: ${r.action}`),
      ` (saves ${r.monthly_saving} a month)`,
      el("br"),
      el("span", { class: "mdc-cost-reason" }, r.reason),
    ));
  }
  return section("Recommendations, largest monthly saving first", list);
}

function shareTable(title, names, lines) {
  const rows = lines.map((line) => [
    ...names.map((n) => line[n] || "-"),
    bytes(line.bytes),
    shareCell(line.share),
    count(line.events),
  ]);
  return section(title, table([...names, "bytes", "share", "events"], rows, names.length));
}

function shareCell(share) {
  const pct = clampPercent(Number(share) * 100);
  const bar = el("span", { class: "mdc-cost-bar" });
  bar.style.display = "inline-block";
  bar.style.height = "0.7em";
  bar.style.marginRight = "0.4em";
  bar.style.background = "currentColor";
  bar.style.width = `${pct / 2}px`; // at most 50px: a bar chart inside the table
  return el("span", {}, bar, `${pct.toFixed(1)}%`);
}

function providers(lines) {
  const rows = lines.map((p) => [
    p.venue,
    count(p.messages),
    bytes(p.bytes_in),
    bytes(p.bytes_out),
    count(p.api_calls),
    Object.entries(p.api_calls_by_kind || {}).map(([k, n]) => `${k} ${count(n)}`).join(", "),
    p.calls_per_hour,
    p.monthly_cost,
  ]);
  const head = ["provider", "messages", "in", "out", "calls", "by kind", "calls/h", "per month"];
  const body = rows.length ? table(head, rows, 1) : el("p", {}, "No usage reported.");
  return section("Providers", body);
}

function priceForm(prices, onPrices) {
  const form = el("form", { class: "mdc-cost-prices" });
  const inputs = [];
  for (const p of prices) {
    const input = el("input", {
      name: p.name, type: "text", inputmode: "decimal", value: p.value, placeholder: p.default,
    });
    inputs.push(input);
    form.append(el("label", {}, `${p.name} (${p.unit}, default ${p.default}) `, input), el("br"));
  }
  const reset = el("button", { type: "button" }, "Defaults");
  form.append(el("button", { type: "submit" }, "Recompute"), " ", reset);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = {};
    for (const input of inputs) {
      const value = String(input.value).trim();
      if (value !== "") chosen[input.name] = value;
    }
    if (onPrices) onPrices(chosen);
  });
  reset.addEventListener("click", () => {
    if (onPrices) onPrices({});
  });
  return section("Unit prices", form);
}

function notes(lines) {
  if (!lines.length) return el("div");
  return section("Notes", el("ul", {}, ...lines.map((line) => el("li", {}, line))));
}

// -- DOM helpers: text only ------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "value") node.value = String(value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children) {
    const isNode = typeof child === "object" && child !== null;
    node.append(isNode ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

function section(title, body) {
  return el("section", {}, el("h3", {}, title), body);
}

function table(head, rows, textColumns) {
  const thead = el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h))));
  const tbody = el("tbody");
  for (const row of rows) {
    const cells = row.map((cell, i) => {
      const td = el("td", {}, cell);
      if (i >= textColumns) td.style.textAlign = "right";
      return td;
    });
    tbody.append(el("tr", {}, ...cells));
  }
  return el("table", { class: "mdc-cost-table" }, thead, tbody);
}

function clampPercent(value) {
  return Number.isFinite(value) ? Math.min(100, Math.max(0, value)) : 0;
}

/** Bytes in decimal units (kB, MB, GB, TB), as bills count them. */
export function bytes(n) {
  const value = Number(n) || 0;
  for (const [unit, scale] of [["TB", 1e12], ["GB", 1e9], ["MB", 1e6], ["kB", 1e3]]) {
    if (value >= scale) return `${(value / scale).toFixed(1)} ${unit}`;
  }
  return `${value} B`;
}

function count(n) {
  return (Number(n) || 0).toLocaleString("en-US");
}

function duration(ns) {
  let seconds = Math.floor((Number(ns) || 0) / 1e9);
  if (!seconds) return ns ? "under 1s" : "no time";
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
    const n = Math.floor(seconds / size);
    seconds -= n * size;
    if (n) parts.push(`${n}${unit}`);
  }
  return parts.slice(0, 2).join(" ");
}
