"""One self-contained HTML page (plotly inlined: opens with no network) for replays.

Per plan: what was planned (sizes, pre-trade check per mode), the outcome table of
every mode side by side, and one interactive chart: price per symbol (candles, entry,
stop, take-profit, each mode's liquidation price over time, liquidation markers), the
equity of every mode on one panel, and the margin ratio (1 = liquidation).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from perpmargin._version import __version__
from perpmargin.report.common import (
    MODE_COLORS,
    liquidation_status,
    money,
    result_places,
    slug,
    three_mode_rows,
    times,
    utc,
)
from perpmargin.report.common import verdict as modes_verdict

if TYPE_CHECKING:
    from perpmargin.sim.portfolio import PortfolioRun
    from perpmargin.sim.results import PlanResult

__all__ = ["plan_figure", "plan_section", "render_html", "write_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1200px;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.5rem;border-top:1px solid #ddd;
padding-top:1rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{border:1px solid #ddd;padding:.3rem .55rem;text-align:right;vertical-align:top}
th{background:#f5f5f7}td.l,th.l{text-align:left}
.isolated{color:#1f6fb4;font-weight:600}.cross{color:#e8710a;font-weight:600}
.PASS{color:#0a7d32;font-weight:600}.WARN{color:#a66b00;font-weight:600}
.FAIL{color:#c4122f;font-weight:600}.note{color:#555;font-size:.85rem}
.liq{color:#c4122f}
"""


# complexity waived (C901): one trace per kind of event on the chart
def plan_figure(result: PlanResult, portfolio: PortfolioRun | None = None) -> go.Figure:  # noqa: C901
    """The interactive chart of one replayed plan (plotly); with ``portfolio`` (its run
    under portfolio margin) that account's equity beside the others'."""
    plan = result.plan
    symbols = plan.symbols
    rows = len(symbols) + 2
    heights = [0.5 / len(symbols)] * len(symbols) + [0.3, 0.2]
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        row_heights=heights,
        subplot_titles=[f"{s} ({result.market.mark_source[s]} as mark)" for s in symbols]
        + ["equity (wallet + unrealised PnL)", "margin ratio (1 = liquidation)"],
    )
    x = times(result)
    for r, s in enumerate(symbols, start=1):
        ohlc = result.market.trade[s]
        fig.add_trace(
            go.Candlestick(
                x=x,
                open=[float(b[0]) for b in ohlc],
                high=[float(b[1]) for b in ohlc],
                low=[float(b[2]) for b in ohlc],
                close=[float(b[3]) for b in ohlc],
                name=f"{s} price",
                increasing_line_color="#7a7a7a",
                decreasing_line_color="#2b2b2b",
                showlegend=False,
            ),
            row=r,
            col=1,
        )
        for pos, entry in zip(plan.positions, result.entry_prices, strict=True):
            if pos.symbol != s:
                continue
            for label, price, color in (
                ("entry", entry, "#555"),
                ("stop", pos.stop, "#c4122f"),
                ("take-profit", pos.take_profit, "#0a7d32"),
            ):
                if price is None:
                    continue
                fig.add_trace(
                    go.Scatter(
                        x=[x[0], x[-1]],
                        y=[float(price)] * 2,
                        mode="lines",
                        line={"color": color, "dash": "dash", "width": 1},
                        name=f"{s} {pos.side} {label} {price:,}",
                    ),
                    row=r,
                    col=1,
                )
            for mode, run in result.runs.items():
                column = f"{s} {pos.side} liq"
                if column in run.series:
                    fig.add_trace(
                        go.Scatter(
                            x=x,
                            y=run.series[column],
                            mode="lines",
                            line={"color": MODE_COLORS[mode], "width": 1.5, "shape": "hv"},
                            name=f"{mode}: {s} {pos.side} liquidation price",
                        ),
                        row=r,
                        col=1,
                    )
        for mode, run in result.runs.items():
            liqs = [q for q in run.outcome.liquidations if q.symbol == s]
            if liqs:
                fig.add_trace(
                    go.Scatter(
                        x=[dt.datetime.fromtimestamp(q.time / 1000, tz=dt.UTC) for q in liqs],
                        y=[float(q.mark_price) for q in liqs],
                        mode="markers",
                        marker={"symbol": "x", "size": 13, "color": MODE_COLORS[mode]},
                        name=f"{mode}: liquidated",
                    ),
                    row=r,
                    col=1,
                )
            partial = [q for q in run.outcome.partial_liquidations if q.symbol == s]
            if partial:
                fig.add_trace(
                    go.Scatter(
                        x=[dt.datetime.fromtimestamp(q.time / 1000, tz=dt.UTC) for q in partial],
                        y=[float(q.mark_price) for q in partial],
                        mode="markers",
                        marker={"symbol": "triangle-down", "size": 11, "color": MODE_COLORS[mode]},
                        name=f"{mode}: partly liquidated",
                    ),
                    row=r,
                    col=1,
                )
            adl = [t for t in run.outcome.trades if t.kind == "adl" and t.symbol == s]
            if adl:
                fig.add_trace(
                    go.Scatter(
                        x=[dt.datetime.fromtimestamp(t.time / 1000, tz=dt.UTC) for t in adl],
                        y=[float(t.price) for t in adl],
                        mode="markers",
                        marker={"symbol": "diamond", "size": 11, "color": MODE_COLORS[mode]},
                        name=f"{mode}: auto-deleveraged",
                    ),
                    row=r,
                    col=1,
                )
        fig.update_xaxes(rangeslider_visible=False, row=r, col=1)
    for mode, run in result.runs.items():
        color = MODE_COLORS[mode]
        fig.add_trace(
            go.Scatter(x=x, y=run.series["equity"], name=f"{mode} equity", line={"color": color}),
            row=rows - 1,
            col=1,
        )
        if "insurance_fund" in run.series and run.series["insurance_fund"].abs().max() > 0:
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=run.series["insurance_fund"],
                    name=f"{mode}: insurance fund balance",
                    line={"color": color, "dash": "dot", "width": 1, "shape": "hv"},
                ),
                row=rows - 1,
                col=1,
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=run.series["margin_ratio"],
                name=f"{mode} margin ratio",
                line={"color": color, "width": 1},
            ),
            row=rows,
            col=1,
        )
    if portfolio is not None and len(portfolio.series) == len(x):
        fig.add_trace(
            go.Scatter(
                x=[
                    dt.datetime.fromtimestamp(t / 1000, tz=dt.UTC) for t in portfolio.series["time"]
                ],
                y=portfolio.series["equity"],
                name=f"portfolio ({portfolio.account.rules.id}) equity",
                line={"color": "#6a3d9a"},
            ),
            row=rows - 1,
            col=1,
        )
    fig.add_hline(y=1.0, line={"color": "#c4122f", "dash": "dot", "width": 1}, row=rows, col=1)
    fig.update_layout(
        height=260 * len(symbols) + 420,
        margin={"l": 60, "r": 20, "t": 40, "b": 30},
        legend={"orientation": "h", "y": -0.06},
        hovermode="x unified",
        template="plotly_white",
    )
    return fig


def _cell(text: object, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<td{attr}>{html.escape(str(text)).replace(chr(10), '<br>')}</td>"


def _plan_table(result: PlanResult) -> str:
    head = (
        "<tr><th class=l>position</th><th>quantity</th><th>entry</th><th>stop</th>"
        "<th>take-profit</th><th>leverage</th><th class=l>pre-trade check</th></tr>"
    )
    body = []
    for pos, qty, entry, check in zip(
        result.plan.positions, result.quantities, result.entry_prices, result.checks, strict=True
    ):
        if check is None:
            verdict = "no stop: not checked"
        else:
            verdict = "; ".join(
                f"{m.margin_mode}: {m.status}"
                + (
                    f" (liquidation {m.liquidation_price:,})"
                    if m.liquidation_price is not None
                    else " (no liquidation price)"
                )
                for m in check.venues[0].modes
            )
        body.append(
            "<tr>"
            + _cell(f"{pos.symbol} {pos.side}", "l")
            + _cell(qty)
            + _cell(f"{entry:,}")
            + _cell("-" if pos.stop is None else f"{pos.stop:,}")
            + _cell("-" if pos.take_profit is None else f"{pos.take_profit:,}")
            + _cell(f"{pos.leverage}x")
            + _cell(verdict, "l")
            + "</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _outcome_table(result: PlanResult) -> str:
    places = result_places(result)
    head = (
        "<tr><th class=l>mode</th><th class=l>liquidations</th><th>final equity</th>"
        "<th>P&amp;L</th>"
        "<th>lowest equity</th><th>max drawdown</th><th>fees</th><th>funding paid</th>"
        "<th>liquidation fees</th><th>to insurance fund</th><th>fund draws</th>"
        "<th>margin added</th><th class=l>stops / take-profits</th></tr>"
    )
    rows = []
    for mode, run in result.runs.items():
        o = run.outcome
        events = [
            (
                q.time,
                f"{q.symbol} {q.side} at {utc(q.time)} UTC, mark {q.mark_price:,} "
                f"(lost {money(q.loss, places)})",
            )
            for q in o.liquidations
        ] + [
            (
                p.time,
                f"{p.symbol} {p.side} partly: {p.quantity} cut at {utc(p.time)} UTC, mark "
                f"{p.mark_price:,} ({money(p.realized_pnl, places)})",
            )
            for p in o.partial_liquidations
        ]
        liq = "\n".join(t for _, t in sorted(events, key=lambda e: e[0])) or "no"
        exits = (
            "\n".join(
                f"{t.kind} {t.symbol} {utc(t.time)} @ {t.price:,} ({money(t.realized_pnl, places)})"
                for t in o.trades
                if t.kind != "entry"
            )
            or "-"
        )
        rows.append(
            "<tr>"
            + _cell(mode, f"l {mode}")
            + _cell(liq, "l liq" if o.hit_by_liquidation else "l")
            + _cell(money(o.final_equity, places))
            + _cell(money(o.pnl, places))
            + _cell(f"{money(o.min_equity, places)} ({utc(o.min_equity_time, '%m-%d %H:%M')})")
            + _cell(f"{money(o.max_drawdown, places)} ({o.max_drawdown_pct}%)")
            + _cell(money(o.fees, places))
            + _cell(money(o.funding, places))
            + _cell(money(o.liquidation_fees, places))
            + _cell(money(o.insurance_fund_net, places))
            + _cell(money(o.insurance_fund_draws, places))
            + _cell(money(o.margin_added, places))
            + _cell(exits, "l")
            + "</tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _market_table(result: PlanResult) -> str:
    places = result_places(result)
    """Counterparties and auto-deleveraging, per mode ("" when the plan has none)."""
    if not result.plan.counterparties:
        return ""
    head = (
        "<tr><th class=l>mode</th><th class=l>account</th><th class=l>margin</th>"
        "<th>start</th><th>final equity</th><th>P&amp;L</th><th class=l>liquidated</th>"
        "<th>deleveraged (its profit cut)</th><th>bankrupt size taken by ADL</th></tr>"
    )
    rows = []
    for mode, run in result.runs.items():
        o = run.outcome
        trader_row = (
            _cell(mode, f"l {mode}")
            + _cell("trader (the plan)", "l")
            + _cell(mode, "l")
            + _cell(money(o.start_balance, places))
            + _cell(money(o.final_equity, places))
            + _cell(money(o.pnl, places))
            + _cell(liquidation_status(o), "l liq" if o.hit_by_liquidation else "l")
            + _cell(sum((d.quantity for d in o.adl if d.counterparty == "trader"), Decimal(0)))
            + _cell(o.deleveraged)
        )
        rows.append(f"<tr>{trader_row}</tr>")
        for c in run.counterparties:
            rows.append(
                "<tr>"
                + _cell("")
                + _cell(c.name, "l")
                + _cell(c.margin_mode, "l")
                + _cell(money(c.start_balance, places))
                + _cell(money(c.final_equity, places))
                + _cell(money(c.pnl, places))
                + _cell(
                    ("yes" if c.liquidations else "no")
                    + (
                        f", {c.partial_liquidations} partial cuts" if c.partial_liquidations else ""
                    ),
                    "l liq" if c.liquidations or c.partial_liquidations else "l",
                )
                + _cell(c.deleveraged)
                + _cell(c.bankrupt_deleveraged)
                + "</tr>"
            )
    adl = [
        f"<li><span class={mode}>{mode}</span> {utc(d.time or 0)} UTC: "
        f"{html.escape(d.bankrupt)} bankrupt; {html.escape(d.counterparty)}'s "
        f"{d.side} cut by {d.quantity} {html.escape(d.symbol)} at {d.price:,}</li>"
        for mode, run in result.runs.items()
        for d in run.deleveragings
    ]
    fund = f"insurance fund opening balance {money(result.plan.insurance_fund, places)}"
    return (
        f"<h3>Counterparties and auto-deleveraging ({fund})</h3>"
        f"<table>{head}{''.join(rows)}</table>"
        + (f"<ul>{''.join(adl)}</ul>" if adl else '<p class="note">No auto-deleveraging.</p>')
    )


def _portfolio_table(result: PlanResult, run: PortfolioRun) -> str:
    """The three modes of one plan: isolated and cross from the replay, portfolio margin
    from its own run (money in the quote asset)."""
    quote, rows = three_mode_rows(result, run)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in run.notes)
    return (
        f"<h3>Three margin modes ({html.escape(quote)})</h3>"
        '<table data-testid="three-modes"><tr><th>mode</th><th>final equity</th>'
        f"<th>liquidated</th><th>where</th></tr>{body}</table>"
        f'<ul class="note">{notes}</ul>'
    )


def plan_section(
    result: PlanResult, include_js: bool, portfolio: PortfolioRun | None = None
) -> str:
    """One plan's part of the page: text, plan and outcome tables, chart (``include_js``:
    inline plotly.js here; else the page must load it first); with ``portfolio``, the
    plan under portfolio margin beside isolated and cross."""
    plan = result.plan
    market = result.market
    stand_in = [s for s, src in market.mark_source.items() if src == "trade bars"]
    data_note = (
        f"{len(market)} bars of {market.step_ms // 60000} min, {utc(int(market.times[0]))} to "
        f"{utc(int(market.times[-1]))} UTC; venue {plan.venue}; intrabar path: "
        f"{plan.intrabar}. Data: "
        + ", ".join(html.escape(v) for v in market.sources.values())
        + "."
    )
    if stand_in:
        data_note += (
            f" No mark-price bars for {', '.join(stand_in)}: trade (last-price) bars stand in for "
            "the mark, so liquidations may come a little earlier than on the venue."
        )
    notes = "".join(
        f"<li>{html.escape(mode)}: {html.escape(n)}</li>"
        for mode, run in result.runs.items()
        for n in run.outcome.notes
    )
    fig_html = plan_figure(result, portfolio).to_html(
        full_html=False,
        include_plotlyjs=include_js,
        config={"displaylogo": False, "responsive": True},
    )
    return (
        f'<section id="{slug(plan.name)}"><h2>{html.escape(plan.name)}</h2>'
        f"<p>{html.escape(plan.description)}</p>"
        f'<p class="note">{data_note}</p>'
        f"<h3>Plan</h3>{_plan_table(result)}"
        f"<h3>Outcome, {' vs '.join(result.runs)}</h3>"
        f'<p class="verdict" data-testid="verdict">{html.escape(modes_verdict(result).text)}.</p>'
        f"{_outcome_table(result)}"
        + (f'<ul class="note">{notes}</ul>' if notes else "")
        + (_portfolio_table(result, portfolio) if portfolio is not None else "")
        + _market_table(result)
        + f"{fig_html}</section>"
    )


def render_html(
    results: Sequence[PlanResult],
    title: str = "perpmargin replay",
    portfolio: Mapping[str, PortfolioRun] | None = None,
) -> str:
    """The whole page as a string (plotly.js inlined once); ``portfolio``: plan name ->
    its run under portfolio margin, shown in that plan's section."""
    third = portfolio or {}
    index = "".join(
        f'<li><a href="#{slug(r.plan.name)}">{html.escape(r.plan.name)}</a>: '
        + html.escape(modes_verdict(r).text)
        + "</li>"
        for r in results
    )
    sections = "".join(
        plan_section(r, include_js=(i == 0), portfolio=third.get(r.plan.name))
        for i, r in enumerate(results)
    )
    stamp = dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        "<p>Each plan is replayed bar by bar through perpmargin's exact (Decimal) account "
        "engine, once per margin mode, with the same quantities. Each bar is walked open, "
        "adverse extreme, favourable extreme, close (conservative) unless the plan says "
        "otherwise; stops and liquidations crossed inside a bar happen at their own price, "
        "a gap fills at the open. Money is in the venue's settle asset.</p>"
        f"<ul>{index}</ul>{sections}"
        f'<p class="note">perpmargin {__version__}, generated {stamp}. Market data: Binance '
        "USDⓈ-M public archive (see perpmargin/data/market/SOURCES.md) unless a plan names its "
        "own files.</p></body></html>"
    )


def write_html(
    results: Sequence[PlanResult],
    path: str | Path,
    title: str = "perpmargin replay",
    portfolio: Mapping[str, PortfolioRun] | None = None,
) -> Path:
    """Write :func:`render_html` to ``path`` (folders created) and return it."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(results, title, portfolio), encoding="utf-8")
    return out
