"""What each fast path models, and what it says or refuses when a plan asks for more.

The exact replay (:mod:`perpmargin.sim.replay`) runs everything a plan can ask for. The
fast paths trade some of it for speed; they never do less silently. For each path and
each thing a plan (or an account) can ask for there is one :class:`Support`:

- ``Support(True)``: modelled, exactly as the engine does;
- ``Support(True, reason)``: run, and ``reason`` goes into the result's ``notes`` (and from
  there into every report, page and JSON answer);
- ``Support(False, reason)``: refused with :class:`~perpmargin.errors.NotModelled`.

The table :data:`SUPPORT` is the one place that says it; :func:`notes_for` applies it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from perpmargin.errors import NotModelled

if TYPE_CHECKING:
    from perpmargin.engine.account import Account
    from perpmargin.sim.plan import Plan

__all__ = ["FEATURES", "SUPPORT", "FastPath", "Feature", "Support", "account_asks", "notes_for",
           "plan_asks"]  # fmt: skip

FastPath = Literal["fast", "montecarlo", "sweep", "stress"]
Feature = Literal[
    "partial_liquidation",
    "counterparties",
    "hedge",
    "stops",
    "funding",
    "margin_triggers",
    "limit_entries",
    "mark_bars",
]
FEATURES: tuple[Feature, ...] = get_args(Feature)


@dataclass(frozen=True)
class Support:
    """Whether a fast path models a feature (``supported``) and what it does instead."""

    supported: bool
    reason: str = ""


_REPLAY = "the replay (perpmargin replay) runs it exactly"

SUPPORT: Mapping[FastPath, Mapping[Feature, Support]] = {
    "fast": {  # revaluation, liquidation and bankruptcy prices of accounts' positions
        "partial_liquidation": Support(True),  # flags and prices: the trigger is the same
        "counterparties": Support(True),
        "hedge": Support(
            False,
            "a long and a short in one symbol (hedge mode) is not modelled by the fast path "
            "(both legs move with one price there); the account answers exactly",
        ),
        "stops": Support(True),
        "funding": Support(True),
        "margin_triggers": Support(True),
        "limit_entries": Support(True),
        "mark_bars": Support(True),
    },
    "montecarlo": {
        "partial_liquidation": Support(
            True,
            "the venue's partial liquidation is not simulated: a pool at maintenance closes "
            "in full. The odds and step of the first liquidation are the venue's (the same "
            "trigger); equity after a liquidation is that of a full close",
        ),
        "counterparties": Support(
            True,
            "counterparties and auto-deleveraging are not simulated: the insurance fund "
            "covers every deficit",
        ),
        "hedge": Support(False, f"a long and a short in one symbol is not simulated; {_REPLAY}"),
        "stops": Support(
            True,
            "stops and take-profits close at their own price when a step crosses them (a "
            "step is a straight line: no slippage; by mark or by last, the one simulated "
            "price); in a cross account of several symbols the stops a step crosses close "
            "before the account is checked at the step's prices",
        ),
        "funding": Support(True, "funding is not simulated"),
        "margin_triggers": Support(True, "add-margin triggers are not simulated"),
        "limit_entries": Support(
            True, "positions are entered at the first bar's open, not at limit prices"
        ),
        "mark_bars": Support(True, "mark bars are not used: paths are simulated prices"),
    },
    "sweep": {
        "partial_liquidation": Support(False, f"the venue's partial liquidation; {_REPLAY}"),
        "counterparties": Support(False, f"counterparties and ADL; {_REPLAY}"),
        "hedge": Support(False, f"the sweep replays one position; {_REPLAY}"),
        "stops": Support(True),
        "funding": Support(True),
        "margin_triggers": Support(False, f"add-margin triggers; {_REPLAY}"),
        "limit_entries": Support(False, f"the sweep enters at the first bar's open; {_REPLAY}"),
        "mark_bars": Support(False, f"the sweep walks trade bars (no mark bars); {_REPLAY}"),
    },
    "stress": {
        "partial_liquidation": Support(
            True,
            "cells are settled by the base model: a pool at maintenance closes in full at "
            "the shocked mark",
        ),
        "counterparties": Support(True),
        "hedge": Support(
            False,
            "a long and a short in one symbol (hedge mode) is not modelled by the stress "
            "grid; historical_stress runs the exact engine",
        ),
        "stops": Support(True),
        "funding": Support(True),
        "margin_triggers": Support(True),
        "limit_entries": Support(True),
        "mark_bars": Support(True),
    },
}
"""Per fast path and feature: modelled, run with a note, or refused (see the module)."""


def plan_asks(plan: Plan) -> set[Feature]:
    """The features a plan asks for."""
    asks: set[Feature] = set()
    if plan.liquidation_model == "venue":
        asks.add("partial_liquidation")
    if plan.counterparties:
        asks.add("counterparties")
    if len({(p.symbol, p.side) for p in plan.positions}) > len({p.symbol for p in plan.positions}):
        asks.add("hedge")
    if any(p.stop is not None or p.take_profit is not None for p in plan.positions):
        asks.add("stops")
    if plan.funding:
        asks.add("funding")
    if any(p.add_margin for p in plan.positions):
        asks.add("margin_triggers")
    if any(p.entry for p in plan.positions):
        asks.add("limit_entries")
    if plan.marks:
        asks.add("mark_bars")
    return asks


def account_asks(account: Account) -> set[Feature]:
    """The features an account's state asks for (its liquidation model, hedge pairs)."""
    asks: set[Feature] = set()
    if account.liquidation_model == "venue":
        asks.add("partial_liquidation")
    symbols = [v.symbol for v in account.positions()]
    if len(set(symbols)) < len(symbols):
        asks.add("hedge")
    return asks


def notes_for(path: FastPath, asks: Iterable[Feature]) -> tuple[str, ...]:
    """The notes ``path`` adds for what is asked, in :data:`FEATURES` order.

    Raises
    ------
    NotModelled
        Something asked for is refused by ``path``; the message lists every such thing.
    """
    table = SUPPORT[path]
    wanted = [f for f in FEATURES if f in set(asks)]
    refused = [table[f].reason for f in wanted if not table[f].supported]
    if refused:
        raise NotModelled(f"{path} does not model: " + "; ".join(refused))
    return tuple(table[f].reason for f in wanted if table[f].reason)
