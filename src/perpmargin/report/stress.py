"""Stress heatmaps: where cross takes the whole account and isolated does not.

One self-contained HTML page (plotly inlined, opens offline) and one PNG (matplotlib):
per margin reading a heatmap of the account's equity after each shock, cells where the
account is wiped out crossed out, and a last panel "cross - isolated" that is red where
cross leaves less. Historical days are drawn on the heatmaps as the path their relative
moves trace, with an outcome table.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from perpmargin.report.common import money, utc

if TYPE_CHECKING:
    from perpmargin.sim.stress import HistoricalResult, StressGrid

__all__ = ["write_stress_html", "write_stress_png"]

_DAY_COLORS = ("#222222", "#7b3294", "#008837", "#a6611a", "#0571b0", "#ca0020")


def _pct(v: np.ndarray) -> np.ndarray:
    return np.asarray(v) * 100.0


def _panels(grid: StressGrid) -> list[tuple[str, np.ndarray]]:
    panels = [(name, grid.equity[name]) for name in grid.scenarios]
    if "all isolated" in grid.equity and "all cross" in grid.equity:
        panels.append(
            ("all cross - all isolated", grid.equity["all cross"] - grid.equity["all isolated"])
        )
    return panels


def _day_paths(grid: StressGrid, days: Sequence[HistoricalResult]) -> dict[str, tuple[Any, Any]]:
    """Each day's path of the grid's assets (bar closes over the first open), in %."""
    out = {}
    for d in days:
        xs = d.trace(grid.assets[0])
        ys = d.trace(grid.assets[1]) if len(grid.assets) == 2 else np.zeros_like(xs)
        out[d.day] = (xs, ys)
    return out


def write_stress_html(
    grid: StressGrid,
    path: str | Path,
    title: str,
    *,
    days: Sequence[HistoricalResult] = (),
    notes: Sequence[str] = (),
) -> Path:
    """Heatmaps of ``grid`` (+ historical days' paths and outcomes) as one HTML page."""
    panels = _panels(grid)
    day_paths = _day_paths(grid, days)
    x = _pct(grid.shocks_x)
    two = len(grid.assets) == 2
    y = _pct(grid.shocks_y) if two else np.array([0.0])
    fig = make_subplots(
        rows=1,
        cols=len(panels),
        subplot_titles=[p[0] for p in panels],
        horizontal_spacing=0.06,
    )
    top = max(float(np.max(eq)) for name, eq in panels if " - " not in name)
    for c, (name, z) in enumerate(panels, start=1):
        diff = " - " in name
        bound = float(np.max(np.abs(z))) or 1.0
        fig.add_trace(
            go.Heatmap(
                x=x,
                y=y,
                z=z,
                zmin=-bound if diff else 0.0,
                zmax=bound if diff else top,
                colorscale="RdBu" if diff else "Viridis",
                showscale=c in (1, len(panels)),
                colorbar={"x": 1.02 if diff else -0.12, "title": "Δ" if diff else grid.settle},
                hovertemplate=(
                    f"{grid.assets[0]} %{{x:.0f}}%<br>"
                    + (f"{grid.assets[1]} %{{y:.0f}}%<br>" if two else "")
                    + ("cross - isolated" if diff else "equity")
                    + " %{z:,.2f}<extra>"
                    + html.escape(name)
                    + "</extra>"
                ),
            ),
            row=1,
            col=c,
        )
        if not diff:
            wy, wx = np.nonzero(grid.wiped_out[name])
            fig.add_trace(
                go.Scatter(
                    x=x[wx],
                    y=y[wy],
                    mode="markers",
                    marker={"symbol": "x-thin", "size": 7, "line": {"width": 1.5, "color": "red"}},
                    name="wiped out",
                    legendgroup="wiped",
                    showlegend=c == 1,
                    hoverinfo="skip",
                ),
                row=1,
                col=c,
            )
        for k, (day, (px, py)) in enumerate(day_paths.items()):
            fig.add_trace(
                go.Scatter(
                    x=px,
                    y=py if two else np.zeros_like(px),
                    mode="lines",
                    line={"color": _DAY_COLORS[k % len(_DAY_COLORS)], "width": 1.5},
                    name=day,
                    legendgroup=day,
                    showlegend=c == 1,
                ),
                row=1,
                col=c,
            )
        fig.update_xaxes(title_text=f"{grid.assets[0]} shock %", row=1, col=c)
        if two:
            fig.update_yaxes(title_text=f"{grid.assets[1]} shock %", row=1, col=c)
    fig.update_layout(template="plotly_white", height=520, legend={"orientation": "h", "y": -0.2})
    summary = grid.summary()

    def shock(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    rows = "".join(
        f"<tr><td class=l>{html.escape(name)}</td><td>{money(s['worst_equity'])}</td>"
        f"<td>{', '.join(f'{v:+.0%}' for v in s['worst_shock'])}</td>"
        f"<td>{s['cells_with_liquidation']:.1%}</td><td>{s['cells_wiped_out']:.1%}</td>"
        f"<td>{shock(s['smallest_wipe_out_shock'])}</td></tr>"
        for name, s in summary.items()
    )
    legs = ", ".join(html.escape(leg) for leg in grid.legs)
    marks = ", ".join(f"{html.escape(s)} {p:,}" for s, p in grid.marks.items())
    day_rows = ""
    for d in days:
        for name, run in d.runs.items():
            liq = "; ".join(
                f"{leg} {utc(t, '%m-%d %H:%M')} @ {m:,}" for t, leg, m in run.liquidations
            )
            day_rows += (
                f"<tr><td class=l>{d.day}</td><td class=l>{html.escape(name)}</td>"
                f"<td>{money(run.final_equity)}</td><td>{money(run.min_equity)}</td>"
                f"<td class=l>{html.escape(liq) or 'no'}</td>"
                f"<td>{'-' if run.wiped_out_time is None else utc(run.wiped_out_time)}</td></tr>"
            )
    day_table = (
        "<h2>Historical days applied to this portfolio (exact engine)</h2>"
        "<p>Each day's 15-minute bars relative to its first open, applied to today's marks; "
        "trade bars stand in for mark prices (a trade-only wick counts as a mark).</p>"
        "<table><tr><th>day</th><th>reading</th><th>final equity</th><th>lowest equity</th>"
        f"<th>liquidations</th><th>wiped out</th></tr>{day_rows}</table>"
        if days
        else ""
    )
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    page = (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:system-ui;margin:2rem}}"
        "td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:right}"
        "td.l{text-align:left}table{border-collapse:collapse}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>Positions: {legs}. Marks: {marks}. Equity now "
        f"{money(grid.start_equity)} {html.escape(grid.settle)}. Each cell moves "
        f"{' and '.join(map(html.escape, grid.assets))} by the shock (other symbols held) and "
        "shows the equity left after the liquidations that move causes; red crosses: "
        "nothing left.</p>"
        "<table><tr><th>reading</th><th>worst equity</th><th>at shock</th>"
        "<th>cells with a liquidation</th><th>cells wiped out</th>"
        f"<th>smallest wipe-out shock</th></tr>{rows}</table>"
        + fig.to_html(full_html=False, include_plotlyjs=True)
        + day_table
        + (f"<h2>Notes</h2><ul>{note_html}</ul>" if note_html else "")
        + "</body></html>"
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def write_stress_png(
    grid: StressGrid,
    path: str | Path,
    *,
    days: Sequence[HistoricalResult] = (),
    dpi: int = 110,
) -> Path:
    """The same heatmaps as a PNG (matplotlib, Agg)."""
    day_paths = _day_paths(grid, days)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = _panels(grid)
    two = len(grid.assets) == 2
    x = _pct(grid.shocks_x)
    y = _pct(grid.shocks_y) if two else np.array([0.0])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False)
    top = max(float(np.max(eq)) for name, eq in panels if " - " not in name)
    extent = (
        float(x[0]),
        float(x[-1]),
        float(y[0]) if two else -1.0,
        float(y[-1]) if two else 1.0,
    )
    for ax, (name, z) in zip(axes[0], panels, strict=True):
        diff = " - " in name
        bound = float(np.max(np.abs(z))) or 1.0
        im = ax.imshow(
            z,
            origin="lower",
            aspect="auto",
            extent=extent,
            cmap="RdBu" if diff else "viridis",
            vmin=-bound if diff else 0.0,
            vmax=bound if diff else top,
            interpolation="nearest",
        )
        fig.colorbar(im, ax=ax, shrink=0.8)
        if not diff:
            wy, wx = np.nonzero(grid.wiped_out[name])
            ax.scatter(x[wx], (y[wy] if two else np.zeros(wy.size)), marker="x", s=10, c="red")
        for k, (day, (px, py)) in enumerate(day_paths.items()):
            ax.plot(px, py if two else np.zeros_like(px), lw=1, label=day,
                    color=_DAY_COLORS[k % len(_DAY_COLORS)])  # fmt: skip
        ax.set_title(name)
        ax.set_xlabel(f"{grid.assets[0]} shock %")
        if two:
            ax.set_ylabel(f"{grid.assets[1]} shock %")
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
    if day_paths:
        axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle("equity after the shock; x: wiped out", fontsize=10)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
