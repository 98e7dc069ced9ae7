"""Pure margin arithmetic: PnL, maintenance requirement, liquidation and bankruptcy prices.

Sign conventions: ``side`` is ``+1`` for a long and ``-1`` for a short. Quantities are
positive, in the base asset. Prices and money are in the settle asset. PnL is positive
when the trader gains. Everything is exact Decimal arithmetic (run inside
:func:`perpmargin.numeric.engine_context`).

The liquidation condition, for one position (isolated) or a set of positions sharing
collateral (cross)::

    collateral + sum(side * qty * (price - entry)) <= sum(requirement(qty, price))
    requirement(qty, price) = qty * price * (MMR_tier + close_fee_rate) - maintenance_amount_tier

with the tier taken at the notional (or quantity) *at that price*. The bankruptcy
condition is the same with requirement 0. Because tiered maintenance margin is
piecewise linear and continuous in price, the left minus the right side is piecewise
linear in the price of one symbol, and :func:`solve_price` finds its zero exactly by
walking the tier breakpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from perpmargin.numeric import ZERO, round_to_step
from perpmargin.venues.schema import TierTable

__all__ = [
    "Leg",
    "requirement",
    "round_liquidation_price",
    "solve_price",
    "unrealized_pnl",
]


def unrealized_pnl(side: int, quantity: Decimal, entry_price: Decimal, price: Decimal) -> Decimal:
    """Unrealised PnL of a linear position (settle asset; + is a gain)."""
    return side * quantity * (price - entry_price)


def requirement(
    table: TierTable,
    quantity: Decimal,
    price: Decimal,
    close_fee_rate: Decimal = ZERO,
    close_fee_price: Decimal | None = None,
) -> Decimal:
    """Maintenance requirement at ``price``: tiered MM plus the fee to close if counted.

    The fee to close is ``quantity x close_fee_price x close_fee_rate``; without a
    ``close_fee_price`` it is charged at ``price`` itself (OKX, Gate), with one it is
    charged at that fixed price (Bybit: at the bankruptcy price).
    """
    fee_price = price if close_fee_price is None else close_fee_price
    return table.maintenance_margin(quantity, price) + quantity * fee_price * close_fee_rate


@dataclass(frozen=True, slots=True)
class Leg:
    """A position whose value moves with the solved price (the symbol being solved)."""

    side: int
    quantity: Decimal
    entry_price: Decimal
    table: TierTable
    close_fee_rate: Decimal = ZERO
    close_fee_price: Decimal | None = None


def _breakpoints(legs: Sequence[Leg]) -> list[Decimal]:
    points: set[Decimal] = set()
    for leg in legs:
        if leg.table.basis != "notional" or leg.quantity == 0:
            continue  # quantity-based tiers do not change with price
        for t in leg.table.tiers:
            if t.upper is not None:
                points.add(t.upper / leg.quantity)
    return sorted(points)


def _segment_line(legs: Sequence[Leg], price: Decimal, weight: int) -> tuple[Decimal, Decimal]:
    """Return (intercept, slope) of sum(side*q*(P-E)) - weight*sum(req(P)) near ``price``."""
    intercept = ZERO
    slope = ZERO
    for leg in legs:
        q = leg.quantity
        t = leg.table.tier_for(q, q * price)
        slope += leg.side * q
        intercept -= leg.side * q * leg.entry_price
        if weight:
            intercept += t.maintenance_amount
            if leg.close_fee_price is None:
                slope -= q * (t.maintenance_margin_rate + leg.close_fee_rate)
            else:  # a fee fixed at another price moves the line, not its slope
                slope -= q * t.maintenance_margin_rate
                intercept -= q * leg.close_fee_price * leg.close_fee_rate
    return intercept, slope


def solve_price(
    constant: Decimal,
    legs: Sequence[Leg],
    reference_price: Decimal,
    *,
    with_requirement: bool = True,
) -> Decimal | None:
    """Price of the legs' symbol at which ``constant + f(P) = 0``, nearest the reference.

    ``f(P)`` is the legs' PnL minus (if ``with_requirement``) their maintenance
    requirement at P. ``constant`` is the collateral plus everything that does not move
    with P (other symbols' PnL minus their requirement at their marks).

    Returns the zero nearest ``reference_price`` at which the account crosses from
    solvent to liquidatable, ``reference_price`` itself when it is already liquidatable
    there, or ``None`` when no positive price liquidates.
    """
    weight = 1 if with_requirement else 0

    def g(p: Decimal) -> Decimal:
        a, b = _segment_line(legs, p, weight)
        return constant + a + b * p

    if g(reference_price) <= 0:
        return reference_price
    bounds = [ZERO, *_breakpoints(legs)]
    below: Decimal | None = None
    above: Decimal | None = None
    for i, lo in enumerate(bounds):
        hi = bounds[i + 1] if i + 1 < len(bounds) else None
        probe = (lo + hi) / 2 if hi is not None else 2 * lo + 1
        # the line on this segment, taken where the segment's tier applies
        a, b = _segment_line(legs, probe, weight)
        if b == 0:
            continue
        root = -(constant + a) / b
        if root <= 0 or root < lo or (hi is not None and root > hi):
            continue
        if root < reference_price:
            below = root if below is None or root > below else below
        elif root > reference_price and (above is None or root < above):
            above = root
    if below is None:
        return above
    if above is None:
        return below
    return below if reference_price - below <= above - reference_price else above


def round_liquidation_price(
    price: Decimal, legs: Sequence[Leg], reference_price: Decimal, tick: Decimal
) -> Decimal:
    """Round a solved price to the tick so that marking at it still liquidates.

    A net long liquidates on the way down, so its price rounds down; a net short's rounds
    up. A flat hedge rounds away from the reference. Never returns less than one tick.
    """
    net = sum((leg.side * leg.quantity for leg in legs), ZERO)
    falls = net > 0 or (net == 0 and price < reference_price)
    rounded = round_to_step(price, tick, "down" if falls else "up")
    return rounded if rounded > 0 else tick
