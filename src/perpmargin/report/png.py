"""Static PNG charts (matplotlib, no display needed) for READMEs and terminals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from perpmargin.report.common import (
    MODE_COLORS,
    liquidation_status,
    money,
    result_places,
    times,
    utc,
)

if TYPE_CHECKING:
    from perpmargin.sim.results import PlanResult

__all__ = ["write_png"]


def _text(label: str) -> str:
    """Escape ``$`` so matplotlib does not read "$4,000 + ... $1,000" as mathtext."""
    return label.replace("$", r"\$")


def write_png(result: PlanResult, path: str | Path, *, dpi: int = 110) -> Path:
    """Price (close, high/low band, entry/stop/TP, liquidation prices and markers) per
    symbol, equity of every mode, and margin ratio, stacked; written to ``path``."""
    plan = result.plan
    symbols = plan.symbols
    x = times(result).tz_convert(None).to_pydatetime()
    n = len(symbols) + 2
    fig, axes = plt.subplots(
        n,
        1,
        figsize=(11, 2.4 * n + 0.6),
        sharex=True,
        gridspec_kw={"height_ratios": [2.2] * len(symbols) + [1.6, 1.0]},
    )
    for ax, s in zip(axes, symbols, strict=False):
        ohlc = result.market.trade[s]
        ax.fill_between(
            x,
            [float(b[2]) for b in ohlc],
            [float(b[1]) for b in ohlc],
            color="#cfcfcf",
            step="post",
            linewidth=0,
            label="high-low",
        )
        ax.plot(x, [float(b[3]) for b in ohlc], color="#2b2b2b", linewidth=0.8, label=f"{s} close")
        for pos, entry in zip(plan.positions, result.entry_prices, strict=True):
            if pos.symbol != s:
                continue
            for label, price, color in (
                ("entry", entry, "#555555"),
                ("stop", pos.stop, "#c4122f"),
                ("take-profit", pos.take_profit, "#0a7d32"),
            ):
                if price is not None:
                    ax.axhline(
                        float(price), color=color, linestyle="--", linewidth=0.8, label=label
                    )
            for mode, run in result.runs.items():
                column = f"{s} {pos.side} liq"
                if column in run.series:
                    ax.step(
                        x,
                        run.series[column],
                        where="post",
                        color=MODE_COLORS[mode],
                        linewidth=1.2,
                        label=f"{mode} liq. price",
                    )
        for mode, run in result.runs.items():
            for q in run.outcome.liquidations:
                if q.symbol == s:
                    ax.plot(
                        [dt.datetime.fromtimestamp(q.time / 1000, tz=dt.UTC).replace(tzinfo=None)],
                        [float(q.mark_price)],
                        marker="X",
                        markersize=11,
                        color=MODE_COLORS[mode],
                        linestyle="none",
                        label=f"{mode} liquidated",
                    )
        ax.set_ylabel(s)
        ax.legend(loc="best", fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
    eq_ax, ratio_ax = axes[-2], axes[-1]
    for mode, run in result.runs.items():
        o = run.outcome
        # no "$" here: see _text
        label = f"{mode}: ends {money(o.final_equity, result_places(result))}, " + (
            f"liquidated {utc(o.first_liquidation_time, '%m-%d %H:%M')}"
            if o.liquidated
            else liquidation_status(o)
        )
        eq_ax.plot(x, run.series["equity"], color=MODE_COLORS[mode], linewidth=1.4, label=label)
        ratio_ax.plot(x, run.series["margin_ratio"], color=MODE_COLORS[mode], linewidth=1)
    eq_ax.set_ylabel("equity")
    eq_ax.legend(loc="best", fontsize=8)
    eq_ax.grid(alpha=0.3)
    ratio_ax.axhline(1.0, color="#c4122f", linestyle=":", linewidth=1)
    ratio_ax.set_ylabel("margin ratio")
    ratio_ax.set_ylim(0, 1.1)
    ratio_ax.grid(alpha=0.3)
    locator = mdates.AutoDateLocator(maxticks=10)  # type: ignore[no-untyped-call]
    ratio_ax.xaxis.set_major_locator(locator)
    ratio_ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    fig.suptitle(_text(plan.name), fontsize=11)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
