// The Advisor page: poll a background advisor job, then show its recommendation.
"use strict";

const DOLLARS = new Set(["USD", "USDT", "USDC", "BUSD", "FDUSD", "DAI", "TUSD"]); // as perpmargin.display
// the marked settings: key in the result, label, colour on the chart
const MARKS = [
  ["best", "recommended", "#0a7d32"],
  ["current", "your setting", "#1d1d1f"],
  ["all_isolated", "all isolated", "#1f6fb4"],
  ["all_cross", "all cross", "#e8710a"],
];

function placesFor(settle) {
  return !settle || DOLLARS.has(String(settle).toUpperCase()) ? 2 : 8;
}

function money(x, places) {
  if (x === null || x === undefined) return "—";
  return Number(x).toLocaleString("en-US", { minimumFractionDigits: places, maximumFractionDigits: places });
}

function pct(x, digits = 2) {
  return x === null || x === undefined ? "—" : `${(100 * Number(x)).toFixed(digits)} %`;
}

function marksOf(result, name) {
  return MARKS.filter(([key]) => result[key] && result[key].name === name);
}

function rowHtml(result, s, rank, places) {
  const marks = marksOf(result, s.name);
  const testid = marks.length ? `advise-row-${marks[0][0].replace("_", "-")}` : "advise-row";
  const tags = marks.map(([key, label, color]) => ` <span class="badge" style="background:${color}" data-mark="${key}">${esc(label)}</span>`).join("");
  const ci = s.ruin_ci || [null, null];
  return `<tr data-testid="${testid}" data-marks="${marks.map(([key]) => key).join(" ")}"${marks.length && marks[0][0] === "best" ? " style='font-weight:600'" : ""}>` +
    `<td>${rank === null ? "—" : rank}</td><td class="l">${esc(s.name)}${tags}</td>` +
    `<td data-testid="ruin">${fmt(s.ruin_probability, 4)}</td><td>${fmt(ci[0], 4)} – ${fmt(ci[1], 4)}</td>` +
    `<td>${fmt(s.liquidation_probability, 4)}</td><td>${money(s.cvar95, places)}</td>` +
    `<td>${money(s.mean_final_equity, places)}</td><td>${pct(s.expected_return)}</td>` +
    `<td>${fmt(s.log_growth, 4)}</td></tr>`;
}

function renderTable(result, places) {
  const rankOf = new Map((result.frontier || []).map((f, i) => [f.name, i + 1]));
  const shown = new Set();
  const rows = [];
  for (const s of result.ranked || []) {
    shown.add(s.name);
    rows.push(rowHtml(result, s, rankOf.get(s.name) ?? null, places));
  }
  for (const [key] of MARKS) { // the baselines below the ten best, after them
    const s = result[key];
    if (s && !shown.has(s.name)) {
      shown.add(s.name);
      rows.push(rowHtml(result, s, rankOf.get(s.name) ?? null, places));
    }
  }
  const settle = esc(result.settle);
  const head = "<tr><th>rank</th><th class='l'>setting</th><th>P(ruin)</th><th>95% interval</th><th>P(liquidation)</th>" +
    `<th>CVaR 95 (${settle})</th><th>mean final equity (${settle})</th><th>expected return</th><th>E[log growth]</th></tr>`;
  return `<table data-testid="advise-table">${head}${rows.join("")}</table>`;
}

function renderConfirmation(result, places) {
  const checks = result.confirmations || [];
  const simulated = checks.filter((c) => c.agrees !== null && c.agrees !== undefined);
  const agree = simulated.filter((c) => c.agrees === true).length;
  const own = checks.filter((c) => c.agrees === null || c.agrees === undefined);
  const settle = esc(result.settle);
  const said = simulated.length
    ? `${agree} of ${simulated.length} simulated-path checks agree with the exact Decimal engine` +
      (agree === simulated.length ? "." : ": the fast path and the engine differ, see below.")
    : "No simulated path was replayed through the exact engine (exact-engine checks: 0).";
  const ownRows = own.map((c) => `<li>${esc(c.setting)}: ` +
    (c.exact_liquidated ? `<span class="liq">liquidated</span> (first at ${esc(c.exact_first_liquidation)} UTC)` : "not liquidated") +
    `, final equity ${money(c.exact_final, places)} ${settle}</li>`).join("");
  const detail = checks.map((c) => `<tr><td class="l">${esc(c.path)}</td><td class="l">${esc(c.setting)}</td>` +
    `<td>${c.fast_liquidated === null ? "—" : c.fast_liquidated ? "yes" : "no"}</td><td>${c.exact_liquidated ? "yes" : "no"}</td>` +
    `<td>${money(c.fast_final, places)}</td><td>${money(c.exact_final, places)}</td>` +
    `<td>${c.agrees === null ? "—" : c.agrees ? "yes" : "<b class='liq'>no</b>"}</td></tr>`).join("");
  return `<h3>Checked against the exact engine</h3>` +
    `<p data-testid="advise-confirmation" data-confirmed="${result.confirmed ? "yes" : "no"}">${said}</p>` +
    (own.length ? `<p>On the plan's own bars:</p><ul data-testid="advise-own-bars">${ownRows}</ul>` : "") +
    `<details><summary>every check</summary><table><tr><th class="l">path</th><th class="l">setting</th>` +
    `<th>fast: liquidated</th><th>exact: liquidated</th><th>fast: final (${settle})</th><th>exact: final (${settle})</th>` +
    `<th>agree</th></tr>${detail}</table></details>`;
}

function drawFrontier(result) {
  const all = result.frontier || [];
  const traces = [{
    type: "scatter", mode: "markers", name: `every setting (${all.length})`,
    x: all.map((f) => f.ruin_probability), y: all.map((f) => 100 * f.expected_return),
    text: all.map((f) => f.name), marker: { color: "#9a9aa3", size: 7, opacity: 0.7 },
    hovertemplate: "%{text}<br>P(ruin) %{x:.4f}<br>expected return %{y:.2f} %<extra></extra>",
  }];
  const groups = new Map(); // one point per setting, however many marks it carries
  for (const [key, label, color] of MARKS) {
    const s = result[key];
    if (!s) continue;
    if (groups.has(s.name)) groups.get(s.name).labels.push(label);
    else groups.set(s.name, { s, labels: [label], color });
  }
  for (const { s, labels, color } of groups.values()) {
    traces.push({
      type: "scatter", mode: "markers+text", name: labels.join(" = "),
      x: [s.ruin_probability], y: [100 * s.expected_return], text: [labels.join(" = ")],
      textposition: "top center", cliponaxis: false, marker: { color, size: 13, line: { color: "#fff", width: 1 } },
      hovertemplate: `${esc(s.name)}<br>P(ruin) %{x:.4f}<br>expected return %{y:.2f} %<extra></extra>`,
    });
  }
  // room on both sides for the labels of settings at P(ruin) 0 or at the largest
  const xs = all.map((f) => f.ruin_probability).filter((x) => x !== null);
  const most = xs.length ? Math.max(...xs) : 0;
  const pad = Math.max(0.002, 0.08 * most);
  const layout = {
    height: 400, margin: { t: 30, l: 70, r: 40, b: 50 },
    xaxis: { title: { text: "P(ruin)" }, range: [-pad, most + pad], zeroline: true },
    yaxis: { title: { text: "expected return (%)" } },
    legend: { orientation: "h", y: -0.2 },
  };
  Plotly.newPlot("advise-chart", traces, layout, { displaylogo: false, responsive: true });
}

function renderAdvice(result, out) {
  const places = placesFor(result.settle);
  const best = result.best;
  const objective = { ruin: "least P(ruin)", liquidation: "least P(liquidation)", cvar: "least CVaR 95",
    growth: `most log growth with P(ruin) ≤ ${fmt(result.beta, 4)}` }[result.objective] || result.objective;
  const notes = (result.notes || []).map((n) =>
    `<p class="note" data-testid="advise-note"><b>Note:</b> ${esc(String(n).replace(/\.$/, ""))}.</p>`).join("");
  out.innerHTML = `<p>${esc(result.name)}: ${fmt(result.paths, 0)} ${esc(result.model)} paths × ${fmt(result.steps, 0)} steps of ` +
    `${fmt(result.step_ms / 60000)} min, ${fmt(result.settings_count, 0)} settings (grid ${esc((result.grid || []).join(", "))} × ` +
    `initial margin), objective: ${esc(objective)}; start equity ${money(result.start_equity, places)} ${esc(result.settle)}, ` +
    `ruin: ending with at most ${pct(result.ruin_fraction, 0)} of it.</p>` +
    `<p class="recommended" data-testid="advise-best"><b>Recommended:</b> ${esc(best.name)}</p>` +
    notes +
    `<ul data-testid="advise-explanation">${(result.explanation || []).map((l) => `<li>${esc(l)}</li>`).join("")}</ul>` +
    renderTable(result, places) +
    `<h3>Risk and return of every setting</h3><div id="advise-chart" data-testid="advise-chart"></div>` +
    renderConfirmation(result, places);
  drawFrontier(result);
}

jobPage("advise-out", renderAdvice, (job) =>
  job.state === "running" && job.done_paths >= job.total_paths
    ? "checking the recommendation against the exact engine"
    : pathsDone(job));
