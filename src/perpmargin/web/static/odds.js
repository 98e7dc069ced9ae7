// The Odds page: poll a background Monte Carlo job, then draw its result.
"use strict";

const COLORS = { isolated: "#1f6fb4", cross: "#e8710a" };

function renderOdds(result, out) {
  const modes = Object.keys(result.modes);
  const head = "<tr><th class='l'>mode</th><th>P(liquidation)</th><th>95% interval</th><th>P(stop or take-profit)</th><th>mean final equity</th>" +
    "<th>VaR 95</th><th>ES 95</th><th>VaR 99</th><th>ES 99</th><th>median steps to liquidation</th></tr>";
  const rows = modes.map((m) => {
    const s = result.modes[m];
    return `<tr data-testid="odds-row-${m}"><td class="l ${m}">${m}</td><td data-testid="p-${m}">${fmt(s.liquidation_probability, 4)}</td>` +
      `<td>${fmt(s.ci95[0], 4)} – ${fmt(s.ci95[1], 4)}</td><td data-testid="exit-${m}">${fmt(s.exit_probability, 4)}</td>` +
      `<td>${fmt(s.mean_final_equity)}</td>` +
      `<td>${fmt(s.loss_var95)}</td><td>${fmt(s.loss_es95)}</td><td>${fmt(s.loss_var99)}</td><td>${fmt(s.loss_es99)}</td>` +
      `<td>${fmt(s.median_steps_to_liquidation, 0)}</td></tr>`;
  });
  out.innerHTML = `<p>${esc(result.name)}: ${fmt(result.paths, 0)} paths × ${fmt(result.steps, 0)} steps of ` +
    `${result.step_ms / 60000} min (${result.model}), start equity ${fmt(result.start_balance)}.</p>` +
    (result.notes || []).map((n) => `<p class="note" data-testid="odds-note"><b>Note:</b> ${esc(n)}.</p>`).join("") +
    `<table data-testid="odds-table">${head}${rows.join("")}</table><div id="odds-chart" data-testid="odds-chart"></div>`;
  const traces = [
    { type: "bar", name: "P(liquidation)", x: modes, y: modes.map((m) => result.modes[m].liquidation_probability),
      marker: { color: modes.map((m) => COLORS[m]) },
      error_y: { type: "data", symmetric: false,
        array: modes.map((m) => result.modes[m].ci95[1] - result.modes[m].liquidation_probability),
        arrayminus: modes.map((m) => result.modes[m].liquidation_probability - result.modes[m].ci95[0]) } },
    { type: "bar", name: "ES 99 (loss)", x: modes, y: modes.map((m) => result.modes[m].loss_es99),
      marker: { color: modes.map((m) => COLORS[m]), opacity: 0.55 }, xaxis: "x2", yaxis: "y2" },
  ];
  const layout = {
    grid: { rows: 1, columns: 2, pattern: "independent" }, showlegend: false, height: 340,
    margin: { t: 40, l: 60, r: 20, b: 40 },
    annotations: [
      { text: "probability of liquidation (95% interval)", xref: "x domain", yref: "y domain", x: 0.5, y: 1.12, showarrow: false },
      { text: "expected shortfall 99% (loss)", xref: "x2 domain", yref: "y2 domain", x: 0.5, y: 1.12, showarrow: false },
    ],
  };
  Plotly.newPlot("odds-chart", traces, layout, { displaylogo: false, responsive: true });
}

jobPage("odds-out", renderOdds);
