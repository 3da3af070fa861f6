// Managers' CRM dashboard: the manager's console session (cookie) authorises it; fetches each
// figure from /api/crm/..., draws it with Chart.js and shows the table behind it with a CSV
// export. Text goes in with textContent only.
"use strict";

const TIER_COLOURS = { A: "#0b5cad", B: "#4c9be8", C: "#a9c9ee" };
const GROUP_COLOURS = ["#0b5cad", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#e67700",
  "#1098ad", "#5c940d", "#364fc7", "#a61e4d", "#495057", "#f08c00"];
const charts = {};

const $ = (id) => document.getElementById(id);
const pct = (v, digits = 1) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(digits)} %`);
const money = (v) => `£${Number(v).toLocaleString("en-GB", { maximumFractionDigits: 0 })}`;
const fixed = (v, digits = 2) => (v === null || v === undefined ? "—" : Number(v).toFixed(digits));

// How each indicator unit is charted and written (the API gives shares as 0..1).
const UNITS = {
  share: { scale: 100, axis: "%", text: (v) => pct(v, 2) },
  per_1000: { scale: 1, axis: "per 1,000 shipments", text: (v) => fixed(v, 2) },
  hours: { scale: 1, axis: "hours", text: (v) => (v === null || v === undefined ? "—" : `${fixed(v, 1)} h`) },
  score: { scale: 1, axis: "points", text: (v) => fixed(v, 1) },
};
const unitOf = (indicator) => UNITS[indicator.unit] || UNITS.score;

class Unauthorised extends Error {}

async function api(path, options = {}) {
  const response = await fetch(`/api/crm${path}`, {
    ...options,
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (response.status === 401 || response.status === 403) throw new Unauthorised();
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function csvCell(value) {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function downloadCsv(name, columns, rows) {
  const lines = [columns.map((c) => csvCell(c.label)).join(",")];
  for (const row of rows) {
    lines.push(columns.map((c) => csvCell(c.csv ? c.csv(row) : row[c.key])).join(","));
  }
  const blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `${name}.csv`;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// columns: [{key, label, format?(row) -> string | Node, csv?(row), num?}]
function renderTable(containerId, name, columns, rows, { collapsed = true } = {}) {
  const container = $(containerId);
  container.replaceChildren();
  const tools = element("div", null, "table-tools");
  const button = element("button", "Download CSV", "secondary");
  button.type = "button";
  button.dataset.csv = name;
  button.addEventListener("click", () => downloadCsv(name, columns, rows));
  tools.appendChild(button);

  const table = element("table");
  const head = table.createTHead().insertRow();
  for (const column of columns) head.appendChild(element("th", column.label));
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const column of columns) {
      const value = column.format ? column.format(row) : row[column.key];
      const td = tr.insertCell();
      if (value instanceof Node) td.appendChild(value);
      else td.textContent = value === null || value === undefined ? "—" : String(value);
      if (column.num) td.className = "num";
    }
  }
  if (!rows.length) {
    const td = body.insertRow().insertCell();
    td.colSpan = columns.length;
    td.textContent = "Nothing to show yet.";
  }
  const scroll = element("div", null, "scroll");
  scroll.appendChild(table);
  if (collapsed) {
    const details = element("details");
    details.appendChild(element("summary", "Table behind the chart"));
    details.appendChild(scroll);
    container.append(tools, details);
  } else {
    container.append(tools, scroll);
  }
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  config.options = { responsive: true, maintainAspectRatio: false, animation: false, ...config.options };
  charts[id] = new Chart($(id), config);
  return charts[id];
}

// ------------------------------------------------------------------ figures

async function loadTiers() {
  const summary = await api("/tiers/summary");
  $("asof").textContent = summary.computed_at
    ? `Tiers and churn computed ${new Date(summary.computed_at).toLocaleString("en-GB")}; value window ${summary.window_days} days.`
    : "Nothing computed yet: press “Recompute now”.";
  const tiers = summary.tiers;
  draw("pyramid-chart", {
    type: "bar",
    data: {
      labels: tiers.map((t) => `Tier ${t.tier}`),
      datasets: [{ label: "Customers", data: tiers.map((t) => t.customers),
        backgroundColor: tiers.map((t) => TIER_COLOURS[t.tier]) }],
    },
    options: { indexAxis: "y", plugins: { legend: { display: false } } },
  });
  const columns = [
    { key: "tier", label: "Tier" },
    { key: "customers", label: "Customers", num: true },
    { key: "customer_share", label: "Share of customers", num: true, format: (r) => pct(r.customer_share) },
    { key: "revenue", label: "Revenue (GBP)", num: true, format: (r) => money(r.revenue) },
    { key: "revenue_share", label: "Share of revenue", num: true, format: (r) => pct(r.revenue_share) },
    { key: "margin", label: "Margin (GBP)", num: true, format: (r) => money(r.margin) },
  ];
  renderTable("pyramid-table", "value-pyramid", columns, tiers);
  draw("revenue-chart", {
    type: "doughnut",
    data: {
      labels: tiers.map((t) => `Tier ${t.tier}`),
      datasets: [{ data: tiers.map((t) => t.revenue), backgroundColor: tiers.map((t) => TIER_COLOURS[t.tier]) }],
    },
    options: { plugins: { tooltip: { callbacks: {
      label: (item) => `${item.label}: ${pct(tiers[item.dataIndex].revenue_share)} of revenue`,
    } } } },
  });
  renderTable("revenue-table", "revenue-share-by-tier", columns, tiers);
}

async function loadRisk() {
  const bands = await api("/churn/distribution");
  draw("risk-chart", {
    type: "bar",
    data: { labels: bands.map((b) => b.band),
      datasets: [{ label: "Customers", data: bands.map((b) => b.customers),
        backgroundColor: bands.map((b) => (b.low >= 0.6 ? "#c92a2a" : b.low >= 0.35 ? "#e67700" : "#2b8a3e")) }] },
    options: { plugins: { legend: { display: false } },
      scales: { x: { title: { display: true, text: "churn risk" } }, y: { title: { display: true, text: "customers" } } } },
  });
  renderTable("risk-table", "churn-risk-distribution",
    [{ key: "band", label: "Risk band" }, { key: "customers", label: "Customers", num: true }], bands);

  const rows = await api("/churn/at-risk?level=high&limit=200");
  const reasons = (row) => {
    const list = element("ul", null, "reasons");
    for (const reason of row.reasons) list.appendChild(element("li", reason.text));
    return list;
  };
  renderTable("atrisk-table", "at-risk-customers", [
    { key: "code", label: "Customer" },
    { key: "name", label: "Name" },
    { key: "account_manager", label: "Account manager" },
    { key: "tier", label: "Tier" },
    { key: "score", label: "Risk", num: true, format: (r) => pct(r.score, 0) },
    { key: "revenue_at_risk", label: "Revenue at risk", num: true, format: (r) => money(r.revenue_at_risk) },
    { key: "reasons", label: "Why", format: reasons, csv: (r) => r.reasons.map((x) => x.text).join(" | ") },
    { key: "suggested_action", label: "Suggested action" },
  ], rows, { collapsed: false });
}

let indexRequest = 0;

async function loadIndex() {
  const grain = $("grain").value;
  const by = $("by").value;
  // Two quick changes send two requests; only the latest may draw, whichever answers last.
  const request = ++indexRequest;
  const index = await api(`/satisfaction?grain=${grain}&by=${by}`);
  if (request !== indexRequest) return;
  const holder = $("index-charts");
  for (const key of Object.keys(charts)) {
    if (key.startsWith("index-")) { charts[key].destroy(); delete charts[key]; }
  }
  holder.replaceChildren();
  const periods = [...new Set(index.rows.map((r) => r.period))];
  const groups = [...new Set(index.rows.map((r) => r.group))];
  for (const indicator of index.indicators) {
    const unit = unitOf(indicator);
    const figure = element("figure");
    figure.appendChild(element("figcaption", indicator.label));
    const box = element("div", null, "chart");
    const canvas = element("canvas");
    canvas.id = `index-${indicator.key}`;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `${indicator.label} per ${grain}`);
    box.appendChild(canvas);
    figure.appendChild(box);
    figure.appendChild(element("p", indicator.definition, "muted"));
    holder.appendChild(figure);
    const datasets = groups.map((group, i) => ({
      label: group === "all" ? indicator.label : group,
      data: periods.map((p) => {
        const row = index.rows.find((r) => r.period === p && r.group === group && r.indicator === indicator.key);
        return row && row.value !== null ? row.value * unit.scale : null;
      }),
      borderColor: GROUP_COLOURS[i % GROUP_COLOURS.length],
      backgroundColor: GROUP_COLOURS[i % GROUP_COLOURS.length],
      spanGaps: false, pointRadius: 2,
    }));
    if (indicator.target !== null) {
      datasets.push({ label: `target ${unit.text(indicator.target)}`, data: periods.map(() => indicator.target * unit.scale),
        borderColor: "#868e96", borderDash: [6, 4], pointRadius: 0, backgroundColor: "#868e96" });
    }
    draw(canvas.id, {
      type: "line",
      data: { labels: periods, datasets },
      options: { scales: { y: { title: { display: true, text: unit.axis } } },
        plugins: { legend: { display: groups.length > 1 || indicator.target !== null, labels: { boxWidth: 12 } } } },
    });
  }
  const labels = Object.fromEntries(index.indicators.map((i) => [i.key, i.label]));
  const byKey = Object.fromEntries(index.indicators.map((i) => [i.key, i]));
  renderTable("index-table", `satisfaction-index-${grain}-${by}`, [
    { key: "period", label: grain === "week" ? "Week from" : "Month" },
    { key: "group", label: by === "none" ? "Group" : by.replace("_", " ") },
    { key: "indicator", label: "Indicator", format: (r) => labels[r.indicator] },
    { key: "numerator", label: "Numerator", num: true },
    { key: "denominator", label: "Denominator", num: true },
    { key: "value", label: "Value", num: true, format: (r) => unitOf(byKey[r.indicator]).text(r.value) },
    { key: "target", label: "Target", num: true, format: (r) => unitOf(byKey[r.indicator]).text(byKey[r.indicator].target),
      csv: (r) => byKey[r.indicator].target },
  ], index.rows);
}

const CATEGORY_LABELS = {
  late_delivery: "Late delivery", damaged: "Damaged goods", lost: "Lost parcel",
  misdelivery: "Wrong address / misdelivery", billing: "Billing / overcharge",
  courier_conduct: "Courier conduct", other: "Other",
};

async function loadCategories() {
  const result = await api("/complaints/categories");
  const rows = result.categories;
  draw("categories-chart", {
    type: "bar",
    data: {
      labels: rows.map((r) => CATEGORY_LABELS[r.category] || r.category),
      datasets: [
        { label: "Closed", data: rows.map((r) => r.closed), backgroundColor: "#4c9be8" },
        { label: "Still open", data: rows.map((r) => r.still_open), backgroundColor: "#e67700" },
      ],
    },
    options: { indexAxis: "y", scales: { x: { stacked: true, title: { display: true, text: "complaints" } }, y: { stacked: true } } },
  });
  renderTable("categories-table", "complaint-categories", [
    { key: "category", label: "Category", format: (r) => CATEGORY_LABELS[r.category] || r.category },
    { key: "complaints", label: "Complaints", num: true },
    { key: "share", label: "Share", num: true, format: (r) => pct(r.share) },
    { key: "still_open", label: "Still open", num: true },
    { key: "closed", label: "Closed", num: true },
    { key: "resolution_hours", label: "Average resolution (hours)", num: true, format: (r) => fixed(r.resolution_hours, 1) },
  ], rows);
}

async function loadChanges() {
  const rows = await api("/tier-changes?limit=100");
  renderTable("changes-table", "tier-changes", [
    { key: "changed_at", label: "When", format: (r) => new Date(r.changed_at).toLocaleString("en-GB") },
    { key: "code", label: "Customer" },
    { key: "name", label: "Name" },
    { key: "previous_tier", label: "From" },
    { key: "tier", label: "To" },
  ], rows, { collapsed: false });
}

async function loadEvaluation() {
  const e = await api("/churn/evaluation");
  renderTable("evaluation-table", "churn-evaluation", [
    { key: "what", label: "Measure" }, { key: "value", label: "Value", num: true },
  ], [
    { what: "Customers scored", value: e.customers },
    { what: "Shipped nothing afterwards", value: e.stopped },
    { what: "AUC, churn risk", value: fixed(e.auc_model, 3) },
    { what: "AUC, days since last shipment only", value: fixed(e.auc_recency, 3) },
    { what: "AUC, without complaints and surveys", value: fixed(e.auc_without_feedback, 3) },
    { what: `AUC, prior ${e.fitted_prior} and rule weights ${Object.entries(e.fitted_weights).map(([k, v]) => `${k} ${v}`).join(", ")} fitted on the split before`,
      value: fixed(e.auc_fitted, 3) },
    { what: "High risk, of whom stopped", value: `${e.high_risk} / ${e.high_risk_stopped}` },
  ], { collapsed: false });
}

async function loadAll() {
  try {
    await Promise.all([loadTiers(), loadRisk(), loadIndex(), loadCategories(), loadChanges(), loadEvaluation()]);
    $("dashboard").hidden = false;
    $("recompute").hidden = false;
    document.body.dataset.ready = "true";
  } catch (error) {
    if (error instanceof Unauthorised) {
      // The session ended (expired or signed out elsewhere): sign in again.
      window.location.assign("/agent/login?next=/crm");
    } else {
      $("asof").textContent = `Could not load the figures (${error.message}).`;
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("recompute").addEventListener("click", async () => {
    $("recompute").disabled = true;
    try {
      await api("/recompute", { method: "POST" });
      await loadAll();
    } finally {
      $("recompute").disabled = false;
    }
  });
  for (const id of ["grain", "by"]) $(id).addEventListener("change", () => loadIndex());
  loadAll();
});
