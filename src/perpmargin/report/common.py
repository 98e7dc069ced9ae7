"""Shared bits of the reports: colours, time and money formatting, per-plan facts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import pandas as pd

from perpmargin.display import money, places_for
from perpmargin.sim.data import utc_text

if TYPE_CHECKING:
    from perpmargin.sim.portfolio import PortfolioRun
    from perpmargin.sim.results import Outcome, PlanResult

__all__ = [
    "MODE_COLORS",
    "Verdict",
    "liquidation_status",
    "liquidation_text",
    "money",
    "places_for",
    "result_places",
    "slug",
    "three_mode_rows",
    "times",
    "utc",
    "verdict",
]

MODE_COLORS = {"isolated": "#1f6fb4", "cross": "#e8710a"}
ZERO = Decimal(0)


utc = utc_text  # one formatter for the replay's notes and the reports


def result_places(result: PlanResult) -> int:
    """:func:`places_for` the settle asset of a replayed plan's money."""
    return places_for(next(iter(result.runs.values())).outcome.settle) if result.runs else 2


def three_mode_rows(result: PlanResult, run: PortfolioRun) -> tuple[str, list[tuple[str, ...]]]:
    """The quote asset and the rows (mode, final equity, liquidated, where) of one plan
    under isolated and cross (the replay) and portfolio margin (``run``), as the terminal
    and the HTML report show them."""
    quote = next(iter(result.runs.values())).outcome.settle
    places = places_for(quote)
    rows: list[tuple[str, ...]] = []
    for mode, r in result.runs.items():
        liqs = r.outcome.liquidations
        rows.append((mode, money(r.outcome.final_equity, places),
                     utc(liqs[0].time) if liqs else "no",
                     f"mark {liqs[0].mark_price:,}" if liqs else ""))  # fmt: skip
    final = run.final
    assert final is not None  # set by the replay
    marks = run.liquidation_marks or {}
    when = "no" if run.liquidated_at is None else utc(run.liquidated_at)
    rows.append((
        f"portfolio ({run.account.rules.id}, held in {', '.join(run.start_balances)})",
        money(final.equity, places),
        f"flagged {when}" if run.flagged_only and run.liquidated_at is not None else when,
        ", ".join(f"{s} {p:,}" for s, p in marks.items()),
    ))  # fmt: skip
    return quote, rows


def slug(text: str) -> str:
    """A file- and anchor-safe name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "plan"


def times(result: PlanResult) -> pd.DatetimeIndex:
    """The bars' open times as UTC datetimes."""
    return pd.to_datetime(result.market.times, unit="ms", utc=True)


def liquidation_text(outcome: Outcome) -> str:
    """``"no"`` or one line per liquidation, full or partial, in time order: leg, time,
    mark (and for a partial cut, the size cut and the PnL it realised)."""
    lines = [
        (q.time, f"{q.symbol} {q.side} {utc(q.time, '%m-%d %H:%M')} @ {q.mark_price:,}")
        for q in outcome.liquidations
    ] + [
        (
            p.time,
            f"{p.symbol} {p.side} partial: {p.quantity} cut {utc(p.time, '%m-%d %H:%M')} "
            f"@ {p.mark_price:,} ({money(p.realized_pnl, places_for(outcome.settle))})",
        )
        for p in outcome.partial_liquidations
    ]
    if not lines:
        return "no"
    return "\n".join(text for _, text in sorted(lines, key=lambda x: x[0]))


def liquidation_status(outcome: Outcome) -> str:
    """One phrase for every summary: ``"not liquidated"``, ``"liquidated"`` (with the
    number of positions when more than one), ``"partly liquidated (3 cuts)"``, or
    both."""
    full, part = len(outcome.liquidations), len(outcome.partial_liquidations)
    words = []
    if full:
        words.append("liquidated" + (f" ({full} positions)" if full > 1 else ""))
    if part:
        words.append(f"partly liquidated ({part} cut{'s' if part > 1 else ''})")
    return " and ".join(words) if words else "not liquidated"


@dataclass(frozen=True)
class Verdict:
    """How the modes of one replay compare: the one that ended with more equity and by
    how much (None and 0 on a tie), and a sentence that says it with the other facts
    beside it (liquidations, the deepest drawdown)."""

    better: str | None
    by: Decimal
    text: str


def verdict(result: PlanResult) -> Verdict:
    """Which mode ended better and by how much: final equity decides (to the cent of the
    display); survival is one fact beside it, never the headline."""
    runs = result.runs
    p = result_places(result)
    finals = {m: r.outcome.final_equity for m, r in runs.items()}
    facts = "; ".join(
        f"{m} {liquidation_status(r.outcome)}, ends {money(r.outcome.final_equity, p)}, "
        f"max drawdown {money(r.outcome.max_drawdown, p)}"
        for m, r in runs.items()
    )
    if len(finals) < 2:
        (only,) = finals
        return Verdict(None, ZERO, f"{only}: {facts}")
    ranked = sorted(finals, key=lambda m: finals[m], reverse=True)
    best, second = ranked[0], ranked[1]
    gap = finals[best] - finals[second]
    if gap.quantize(Decimal("0.01")) == 0:
        return Verdict(None, ZERO, f"both modes end the same ({money(finals[best], p)}): {facts}")
    return Verdict(best, gap, f"{best} ended {money(gap, p)} better than {second}: {facts}")
