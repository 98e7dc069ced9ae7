"""How big a planned position is, and at which bar it is entered.

The replay (:mod:`perpmargin.sim.replay`) and the Monte Carlo
(:mod:`perpmargin.sim.montecarlo`) size a plan's positions with :func:`size_position`;
the sweep (:mod:`perpmargin.sim.sweep`) sizes each cell of its grid with
:func:`quantity_for` (it has no ``risk`` sizes). The rules:

- ``qty``: the value rounded down to the symbol's step (base units; contracts for an
  inverse symbol);
- ``notional`` / ``margin``: the notional (settle asset; margin x leverage) over the
  value of one unit at the entry price (the price, or contract value / price for an
  inverse symbol), rounded down to the step;
- ``risk``: the quantity the pre-trade check (:func:`perpmargin.risk.pretrade.check_trade`)
  finds for the stop, fees to open and to close at the stop included.

``qty``, ``notional`` and ``margin`` round down, so the position never exceeds what
the rule asks.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from perpmargin.engine import math as pmath
from perpmargin.numeric import ONE, engine_context, is_on_grid, round_to_step
from perpmargin.risk.pretrade import TradeCheck, check_trade
from perpmargin.sim.market import MarketData
from perpmargin.sim.plan import Plan, PlanError, PositionPlan, SizeKind
from perpmargin.venues.schema import SymbolSpec, Venue

__all__ = ["entry_index", "quantity_for", "size_position"]


def entry_index(plan: Plan, market: MarketData, pos: PositionPlan) -> int:
    """Index of the bar at whose open ``pos`` is entered (or its limit order placed).

    The first bar when ``pos.at`` is None, else the first bar whose time (ms) is at or
    after ``pos.at``.

    Raises
    ------
    PlanError
        ``pos.at`` is after the last bar.
    """
    if pos.at is None:
        return 0
    idx = int(np.searchsorted(market.times, pos.at, side="left"))
    if idx >= len(market):
        raise PlanError(f"{plan.name}: {pos.symbol} entry time {pos.at} is after the last bar")
    return idx


def quantity_for(
    spec: SymbolSpec, kind: SizeKind, value: Decimal, leverage: Decimal, entry: Decimal
) -> Decimal:
    """Quantity a ``qty``, ``notional`` or ``margin`` size rule gives at ``entry``.

    Parameters
    ----------
    spec
        The symbol: its step (the result is a multiple of it) and, for an inverse
        symbol, its contract value.
    kind, value
        The rule: ``"qty"`` (``value`` in base units, contracts for an inverse symbol),
        ``"notional"`` or ``"margin"`` (``value`` in the settle asset; the notional is
        margin x ``leverage``).
    leverage
        Leverage (> 0); used by ``"margin"`` only.
    entry
        Entry price (quote units, > 0).

    Returns
    -------
    Decimal
        The quantity (>= 0), rounded down to ``spec.step_size``; 0 when the rule gives
        less than one step.

    Raises
    ------
    PlanError
        ``kind`` is ``"risk"``: that size is solved with the stop by the pre-trade check
        (:func:`size_position`).
    """
    with engine_context():
        if kind == "qty":
            return round_to_step(value, spec.step_size, "down")
        if kind in ("notional", "margin"):
            # value of one unit at entry: the price (linear) or contract value / price (coin)
            unit = pmath.position_value(ONE, entry, spec.inverse_value)
            notional = value if kind == "notional" else value * leverage
            return round_to_step(notional / unit, spec.step_size, "down")
    raise PlanError(f"a {kind} size needs the stop and the pre-trade check, not a unit value")


def size_position(
    plan: Plan, venue: Venue, market: MarketData, pos: PositionPlan
) -> tuple[Decimal, Decimal, TradeCheck | None]:
    """Size ``pos`` as the replay opens it.

    The entry price is ``pos.entry`` (a limit), else the open of the entry bar
    (:func:`entry_index`). The stop, take-profit and limit must lie on the tick grid,
    the stop and take-profit beyond the entry on their sides.

    Returns
    -------
    tuple
        (quantity > 0 on the step, entry price in quote units, the pre-trade check of
        the sized trade when ``pos`` has a stop, else None).

    Raises
    ------
    PlanError
        A price off the tick, a stop or take-profit on the wrong side of the entry, a
        size rule that gives no quantity, or a pre-trade check that refuses the trade.
    """
    spec = venue.symbol(pos.symbol)
    i = entry_index(plan, market, pos)
    entry = pos.entry if pos.entry is not None else market.trade[pos.symbol][i][0]
    where = f"{plan.name}: {pos.symbol} {pos.side}"
    for name in ("stop", "take_profit", "entry"):
        value = getattr(pos, name)
        if value is not None and not is_on_grid(value, spec.tick_size):
            raise PlanError(f"{where}: {name} {value} is off the tick {spec.tick_size}")
    if pos.stop is not None and (entry - pos.stop) * pos.sign <= 0:
        raise PlanError(f"{where}: stop {pos.stop} is not beyond the entry {entry}")
    if pos.take_profit is not None and (pos.take_profit - entry) * pos.sign <= 0:
        raise PlanError(f"{where}: take_profit {pos.take_profit} is not beyond the entry {entry}")
    kind, value = pos.size.kind, pos.size.value
    check = None
    with engine_context():
        if kind == "risk":
            assert pos.stop is not None
            check = _check(plan, venue, pos, entry, None)
            qty = check.venues[0].quantity
        else:
            qty = quantity_for(spec, kind, value, pos.leverage, entry)
        if qty <= 0:
            raise PlanError(f"{where}: the size rule gives no quantity at entry {entry}")
        if pos.stop is not None and check is None:
            check = _check(plan, venue, pos, entry, qty)
    return qty, entry, check


def _check(
    plan: Plan, venue: Venue, pos: PositionPlan, entry: Decimal, qty: Decimal | None
) -> TradeCheck:
    """The pre-trade check of ``pos`` at ``entry``: of ``qty``, or sized by its risk rule
    when ``qty`` is None. Raises PlanError when the check refuses the trade."""
    assert pos.stop is not None
    check = check_trade(
        symbol=pos.symbol,
        side=pos.side,
        entry=entry,
        stop=pos.stop,
        take_profit=pos.take_profit,
        leverage=pos.leverage,
        risk=pos.size.risk_text if pos.size.kind == "risk" else "1%",
        quantity=qty,
        balance=plan.balance,
        venue=venue,
        margin_modes=plan.modes,
    )
    error = check.venues[0].error
    if error:
        raise PlanError(f"{plan.name}: {pos.symbol}: {error}")
    return check
