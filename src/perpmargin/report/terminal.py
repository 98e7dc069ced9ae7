"""The side-by-side outcome table in the terminal (rich)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from perpmargin.report.common import (
    liquidation_text,
    money,
    result_places,
    three_mode_rows,
    utc,
    verdict,
)

if TYPE_CHECKING:
    from perpmargin.sim.portfolio import PortfolioRun
    from perpmargin.sim.results import PlanResult

__all__ = ["outcome_table", "print_summary", "print_three_modes"]

_COLUMNS = (
    ("scenario", "left"),
    ("mode", "left"),
    ("liquidations", "left"),
    ("final equity", "right"),
    ("P&L", "right"),
    ("lowest equity", "right"),
    ("max drawdown", "right"),
    ("fees", "right"),
    ("funding paid", "right"),
    ("to insurance fund", "right"),
    ("fund draws", "right"),
)


def outcome_table(results: Sequence[PlanResult], title: str | None = None) -> Table:
    """One row per plan and mode."""
    table = Table(title=title, show_lines=True)
    for name, justify in _COLUMNS:
        # fold, never truncate: a cut liquidation price ("47,690…") reads as another number
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for result in results:
        plan = result.plan
        places = result_places(result)
        span = f"{utc(int(result.market.times[0]))} .. {utc(int(result.market.times[-1]))}"
        for k, (mode, run) in enumerate(result.runs.items()):
            o = run.outcome
            table.add_row(
                Text.assemble(plan.name, "\n", (f"{span}, {len(result.market)} bars", "dim"))
                if k == 0
                else "",
                mode,
                liquidation_text(o),
                money(o.final_equity, places),
                money(o.pnl, places),
                money(o.min_equity, places),
                f"{money(o.max_drawdown, places)} ({o.max_drawdown_pct}%)",
                money(o.fees, places),
                money(o.funding, places),
                money(o.insurance_fund_net, places),
                money(o.insurance_fund_draws, places),
            )
    return table


def print_summary(
    results: Sequence[PlanResult], console: Console | None = None, title: str | None = None
) -> None:
    """Print the outcome table and each plan's notes (refused entries, skipped triggers)."""
    out = console or Console()
    out.print(outcome_table(results, title))
    for result in results:
        out.print(Text(f"{result.plan.name}: {verdict(result).text}."))
    for result in results:
        for mode, run in result.runs.items():
            for note in run.outcome.notes:
                out.print(Text(f"{result.plan.name} ({mode}): {note}", style="dim"))
            lines = [
                f"{utc(d.time or 0)} auto-deleveraging: {d.bankrupt} bankrupt, "
                f"{d.counterparty}'s {d.side} cut by {d.quantity} {d.symbol} at {d.price:,}"
                for d in run.deleveragings
            ] + [
                f"counterparty {c.name} ({c.margin_mode}) ends "
                f"{money(c.final_equity, result_places(result))}"
                + (", liquidated" if c.liquidations else "")
                + (
                    f", partly liquidated ({c.partial_liquidations} cuts)"
                    if c.partial_liquidations
                    else ""
                )
                for c in run.counterparties
            ]
            if lines:
                out.print(Text(f"{result.plan.name} ({mode}):"))
                for line in lines:
                    out.print(Text(f"  {line}"))
        trade_bars = [s for s, src in result.market.mark_source.items() if src == "trade bars"]
        if trade_bars and result is results[-1]:
            out.print(  # a Text: the CLI's console prints markup as given
                Text(
                    "No mark-price bars given: trade (last-price) bars stand in for the mark "
                    "price.",
                    style="dim",
                )
            )


def print_three_modes(console: Console, result: PlanResult, run: PortfolioRun) -> None:
    """Isolated, cross and portfolio margin of one plan (``run``:
    :func:`perpmargin.sim.portfolio.replay_portfolio` of it), in the quote asset."""
    quote, rows = three_mode_rows(result, run)
    table = Table(title=f"{result.plan.name}: three margin modes ({quote})")
    for col in ("mode", "final equity", "liquidated", "where"):
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for note in run.notes:
        console.print(Text(f"- portfolio: {note}"))
