"""Shared bits of the reports: colours, time and money formatting, per-plan facts."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING

import pandas as pd

from perpmargin.sim.data import utc_text

if TYPE_CHECKING:
    from perpmargin.sim.results import Outcome, PlanResult

__all__ = ["MODE_COLORS", "liquidation_text", "money", "slug", "times", "utc"]

MODE_COLORS = {"isolated": "#1f6fb4", "cross": "#e8710a"}


utc = utc_text  # one formatter for the replay's notes and the reports


def money(value: Decimal, places: int = 2) -> str:
    """``1,234.57`` (rounded half-even for display only)."""
    q = Decimal(1).scaleb(-places)
    return f"{value.quantize(q):,}"


def slug(text: str) -> str:
    """A file- and anchor-safe name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "plan"


def times(result: PlanResult) -> pd.DatetimeIndex:
    """The bars' open times as UTC datetimes."""
    return pd.to_datetime(result.market.times, unit="ms", utc=True)


def liquidation_text(outcome: Outcome) -> str:
    """``"no"`` or one line per liquidation: leg, time, mark."""
    if not outcome.liquidations:
        return "no"
    return "\n".join(
        f"{q.symbol} {q.side} {utc(q.time, '%m-%d %H:%M')} @ {q.mark_price:,}"
        for q in outcome.liquidations
    )
