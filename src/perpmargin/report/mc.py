"""A self-contained HTML page of a Monte Carlo run: isolated vs cross distributions."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from perpmargin.report.common import MODE_COLORS, money, places_for

if TYPE_CHECKING:
    from perpmargin.sim.montecarlo import MonteCarloResult

__all__ = ["write_mc_html"]


def write_mc_html(result: MonteCarloResult, path: str | Path, title: str) -> Path:
    """Final-equity histogram and time-to-liquidation histogram of both modes, + a table."""
    places = places_for(result.settle)
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("final equity", "steps to first liquidation (liquidated paths)"),
    )
    for mode, final, steps in (
        ("isolated", result.iso_final, result.iso_step),
        ("cross", result.cross_final, result.cross_step),
    ):
        color = MODE_COLORS[mode]
        fig.add_trace(
            go.Histogram(x=final, name=f"{mode} final equity", marker_color=color, opacity=0.6),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Histogram(
                x=steps[steps >= 0],
                name=f"{mode} steps to liquidation",
                marker_color=color,
                opacity=0.6,
            ),
            row=1,
            col=2,
        )
    fig.update_layout(barmode="overlay", template="plotly_white", height=450)
    rows = "".join(
        f"<tr><td class=l>{m}</td><td>{s.liquidation_probability:.4f}</td>"
        f"<td>{s.ci95[0]:.4f} .. {s.ci95[1]:.4f}</td><td>{s.exit_probability:.4f}</td>"
        f"<td>{money(s.mean_final_equity, places)}</td>"
        f"<td>{money(s.loss_var95, places)}</td><td>{money(s.loss_es95, places)}</td>"
        f"<td>{money(s.loss_var99, places)}</td><td>{money(s.loss_es99, places)}</td></tr>"
        for m, s in result.stats.items()
    )
    page = (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:system-ui;margin:2rem}}"
        "td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:right}"
        "td.l{text-align:left}table{border-collapse:collapse}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{result.paths:,} paths x {result.steps:,} steps of "
        f"{result.step_ms // 60000} min, model {result.model}, seed {result.seed}; start "
        f"balance {money(result.start_balance, places)}. Loss = start balance - final equity.</p>"
        + "".join(f"<p class=note><b>Note:</b> {html.escape(n)}.</p>" for n in result.notes)
        + "<table><tr><th>mode</th><th>P(liquidation)</th><th>95% CI (Wilson)</th>"
        "<th>P(stop or take-profit)</th><th>mean final equity</th><th>VaR 95</th>"
        "<th>ES 95</th><th>VaR 99</th><th>ES 99</th>"
        f"</tr>{rows}</table>"
        + fig.to_html(full_html=False, include_plotlyjs=True)
        + "</body></html>"
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
