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

**Inverse (coin-margined) contracts**: quantity is a number of contracts of
``contract_value`` USD each; money is in the coin. Value = q x cv / P, PnL =
side x q x cv x (1/entry - 1/P), requirement = q x cv / P x (MMR + fee) - amount. In
the variable x = 1/P that is the linear case with side -side, quantity q x cv and entry
1/entry, so one solver serves both: an inverse long is a linear short of 1/P.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from perpmargin.numeric import ZERO, round_to_step
from perpmargin.venues.schema import TierTable

__all__ = [
    "Leg",
    "average_entry",
    "position_value",
    "price_for_pnl",
    "requirement",
    "round_liquidation_price",
    "solve_price",
    "unrealized_pnl",
]


def position_value(
    quantity: Decimal, price: Decimal, contract_value: Decimal | None = None
) -> Decimal:
    """Position value (notional) in the settle asset.

    Linear (``contract_value`` None): quantity x price. Inverse: contracts x contract
    value / price, in the coin.
    """
    if contract_value is None:
        return quantity * price
    return quantity * contract_value / price


def unrealized_pnl(
    side: int,
    quantity: Decimal,
    entry_price: Decimal,
    price: Decimal,
    contract_value: Decimal | None = None,
) -> Decimal:
    """Unrealised PnL (settle asset; + is a gain); inverse when ``contract_value`` is given."""
    if contract_value is None:
        return side * quantity * (price - entry_price)
    return side * quantity * contract_value * (1 / entry_price - 1 / price)


def price_for_pnl(
    side: int,
    quantity: Decimal,
    entry_price: Decimal,
    pnl: Decimal,
    contract_value: Decimal | None = None,
) -> Decimal:
    """The price at which closing the position realises exactly ``pnl`` (inverse of
    :func:`unrealized_pnl`); used for fills at a bankruptcy price (auto-deleveraging)."""
    if contract_value is None:
        return entry_price + pnl / (side * quantity)
    return 1 / (1 / entry_price - pnl / (side * quantity * contract_value))


def average_entry(
    quantity: Decimal,
    entry_price: Decimal,
    added: Decimal,
    price: Decimal,
    contract_value: Decimal | None = None,
) -> Decimal:
    """Entry price after adding ``added`` at ``price`` to ``quantity`` held at ``entry_price``.

    Linear: quantity-weighted mean. Inverse: the harmonic mean (value in the coin adds up).
    """
    total = quantity + added
    if contract_value is None:
        return (quantity * entry_price + added * price) / total
    return total / (quantity / entry_price + added / price)


def requirement(
    table: TierTable,
    quantity: Decimal,
    price: Decimal,
    close_fee_rate: Decimal = ZERO,
    close_fee_price: Decimal | None = None,
    contract_value: Decimal | None = None,
) -> Decimal:
    """Maintenance requirement at ``price``: tiered MM plus the fee to close if counted.

    The fee to close is the position value x ``close_fee_rate``; without a
    ``close_fee_price`` the value is taken at ``price`` itself (OKX, Gate), with one at
    that fixed price (Bybit: at the bankruptcy price).
    """
    value = position_value(quantity, price, contract_value)
    tier = table.tier_for(quantity, value)
    mm = value * tier.maintenance_margin_rate - tier.maintenance_amount
    fee_price = price if close_fee_price is None else close_fee_price
    if not close_fee_rate or fee_price == 0:
        return mm
    return mm + position_value(quantity, fee_price, contract_value) * close_fee_rate


@dataclass(frozen=True, slots=True)
class Leg:
    """A position whose value moves with the solved price (the symbol being solved).

    ``contract_value`` is set (USD per contract) for an inverse contract, None for linear.
    """

    side: int
    quantity: Decimal
    entry_price: Decimal
    table: TierTable
    close_fee_rate: Decimal = ZERO
    close_fee_price: Decimal | None = None
    contract_value: Decimal | None = None


def _as_linear_in_reciprocal(leg: Leg) -> Leg:
    """An inverse leg as a linear leg in the variable x = 1/P (see the module text)."""
    cv = leg.contract_value
    assert cv is not None
    fee_price = leg.close_fee_price
    return Leg(
        -leg.side,
        leg.quantity * cv,
        1 / leg.entry_price,
        leg.table,
        leg.close_fee_rate,
        None if fee_price is None else (1 / fee_price if fee_price else ZERO),
    )


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
    inverse = [leg.contract_value is not None for leg in legs]
    if any(inverse):
        if not all(inverse):
            raise ValueError("legs of one symbol are all linear or all inverse")
        if reference_price <= 0:
            return None
        linear = [_as_linear_in_reciprocal(leg) for leg in legs]
        x = solve_price(constant, linear, 1 / reference_price, with_requirement=with_requirement)
        if x is None:
            return None
        return reference_price if x == 1 / reference_price else 1 / x
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
