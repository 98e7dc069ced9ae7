"""The exact engine's use of the rulebook: Decimal adapters, the tier-walking solver.

The rules themselves live in :mod:`perpmargin.formulas`; this module gives them the
engine's shapes (a ``contract_value`` that is ``None`` for linear contracts, a tier table
to look up) and solves for prices exactly.

Sign conventions: ``side`` is ``+1`` for a long and ``-1`` for a short. Quantities are
positive, in the base asset (contracts for inverse symbols). Prices and money are in the
settle asset. PnL is positive when the trader gains. Everything is exact Decimal
arithmetic (run inside :func:`perpmargin.numeric.engine_context`).

The liquidation condition, for one position (isolated) or a set of positions sharing
collateral (cross)::

    collateral + sum(side * qty * (price - entry)) <= sum(requirement(qty, price))
    requirement(qty, price) = qty * price * MMR_tier - maintenance_amount_tier + fee to close

with the tier taken at the notional (or quantity) *at that price*. The bankruptcy
condition is the same with requirement 0. Because tiered maintenance margin is
piecewise linear and continuous in price, the left minus the right side is piecewise
linear in the price of one symbol (:func:`perpmargin.formulas.pool_line`), and
:func:`solve_price` finds its zero exactly by walking the tier breakpoints.

**Inverse (coin-margined) contracts** are linear in x = 1/P
(:func:`perpmargin.formulas.to_reciprocal`), so one solver serves both: an inverse long
is a linear short of 1/P.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from perpmargin import formulas as F
from perpmargin.numeric import ZERO, round_to_step
from perpmargin.venues.schema import TierTable

__all__ = [
    "Leg",
    "Pool",
    "SolverLeg",
    "average_entry",
    "estimated_close_fee",
    "fee_bankruptcy_price",
    "pool_price",
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
    """Position value (notional) in the settle asset: :func:`perpmargin.formulas.position_value`
    (linear, ``contract_value`` None) or :func:`perpmargin.formulas.inverse_value`."""
    if contract_value is None:
        return F.position_value(quantity, price)
    return F.inverse_value(quantity, contract_value, price)


def unrealized_pnl(
    side: int,
    quantity: Decimal,
    entry_price: Decimal,
    price: Decimal,
    contract_value: Decimal | None = None,
) -> Decimal:
    """Unrealised PnL (settle asset; + is a gain); inverse when ``contract_value`` is given."""
    if contract_value is None:
        return F.unrealized_pnl(side * quantity, entry_price, price)
    return F.inverse_pnl(side * quantity, contract_value, entry_price, price)


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
        return F.price_for_pnl(side * quantity, entry_price, pnl)
    q, x = F.to_reciprocal(side * quantity, entry_price, contract_value)
    return F.reciprocal(F.price_for_pnl(q, x, pnl))


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
    if contract_value is None:
        return F.average_entry(quantity, entry_price, added, price)
    return F.inverse_average_entry(quantity, entry_price, added, price)


def estimated_close_fee(
    side: int,
    quantity: Decimal,
    entry_price: Decimal,
    leverage: Decimal,
    rate: Decimal,
    contract_value: Decimal | None = None,
) -> Decimal:
    """:func:`perpmargin.formulas.estimated_close_fee` of a position (an inverse one in
    x = 1/P, where its side flips), unrounded."""
    if contract_value is None:
        return F.estimated_close_fee(quantity, entry_price, Decimal(side), leverage, rate)
    q, x = F.to_reciprocal(side * quantity, entry_price, contract_value)
    return F.estimated_close_fee(abs(q), x, Decimal(-side), leverage, rate)


def _fee_price(price: Decimal, close_fee_price: Decimal | None) -> Decimal:
    """Where the fee to close is valued: ``close_fee_price`` None means at ``price`` itself
    (the mark basis); a price is the bankruptcy basis (Bybit)."""
    if close_fee_price is None:
        return F.close_fee_price(price, ZERO, False)
    return F.close_fee_price(price, close_fee_price, True)


def requirement(
    table: TierTable,
    quantity: Decimal,
    price: Decimal,
    close_fee_rate: Decimal = ZERO,
    close_fee_price: Decimal | None = None,
    contract_value: Decimal | None = None,
) -> Decimal:
    """Maintenance requirement at ``price``: tiered MM plus the fee to close if counted.

    ``close_fee_price``: None values the fee at ``price`` itself (OKX, Gate); a price
    values it there (Bybit: the bankruptcy price; 0 when there is none).
    """
    value = position_value(quantity, price, contract_value)
    tier = table.tier_for(quantity, value)
    fee_price = _fee_price(price, close_fee_price)
    fee = ZERO
    if close_fee_rate and fee_price != 0:
        fee = F.close_fee(close_fee_rate, position_value(quantity, fee_price, contract_value))
    return F.requirement(value, tier.maintenance_margin_rate, tier.maintenance_amount, fee)


@dataclass(frozen=True, slots=True)
class SolverLeg:
    """A position whose value moves with the solved price (the symbol being solved).

    ``close_fee_price``: None when a counted fee to close is valued at the solved price
    itself, else the fixed price it is valued at (Bybit's bankruptcy price). Set
    ``contract_value`` (USD per contract) for an inverse contract, None for linear.
    """

    side: int
    quantity: Decimal
    entry_price: Decimal
    table: TierTable
    close_fee_rate: Decimal = ZERO
    close_fee_price: Decimal | None = None
    contract_value: Decimal | None = None


Leg = SolverLeg
"""Deprecated name of :class:`SolverLeg` (kept for one release)."""


def _as_linear_in_reciprocal(leg: SolverLeg) -> SolverLeg:
    """An inverse leg as a linear leg in the variable x = 1/P (:func:`F.to_reciprocal`)."""
    cv = leg.contract_value
    assert cv is not None
    signed, entry = F.to_reciprocal(leg.side * leg.quantity, leg.entry_price, cv)
    fee_price = leg.close_fee_price
    return SolverLeg(
        -leg.side,
        abs(signed),
        entry,
        leg.table,
        leg.close_fee_rate,
        None if fee_price is None else (F.reciprocal(fee_price) if fee_price else ZERO),
    )


def _breakpoints(legs: Sequence[SolverLeg]) -> list[Decimal]:
    points: set[Decimal] = set()
    for leg in legs:
        if leg.table.basis != "notional" or leg.quantity == 0:
            continue  # quantity-based tiers do not change with price
        for t in leg.table.tiers:
            if t.upper is not None:
                points.add(t.upper / leg.quantity)
    return sorted(points)


def _segment_line(
    legs: Sequence[SolverLeg], price: Decimal, with_requirement: bool
) -> tuple[Decimal, Decimal]:
    """(intercept, slope) of the legs' PnL minus (if asked) their requirement, as a line
    in the price, with each leg's tier the one that holds it at ``price``."""
    intercept = ZERO
    slope = ZERO
    for leg in legs:
        q = leg.quantity
        req_intercept = req_slope = ZERO
        if with_requirement:
            t = leg.table.tier_for(q, F.position_value(q, price))
            fee_price = leg.close_fee_price
            req_intercept, req_slope = F.requirement_line(
                q,
                t.maintenance_margin_rate,
                t.maintenance_amount,
                leg.close_fee_rate,
                ZERO if fee_price is None else fee_price,
                fee_price is not None,
            )
        a, b = F.pool_line(leg.side * q, leg.entry_price, req_intercept, req_slope)
        intercept += a
        slope += b
    return intercept, slope


# complexity waived (C901): the exact tier walk: each segment's root checked against its bounds
def solve_price(  # noqa: C901
    constant: Decimal,
    legs: Sequence[SolverLeg],
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
        x_ref = F.reciprocal(reference_price)
        x = solve_price(constant, linear, x_ref, with_requirement=with_requirement)
        if x is None:
            return None
        return reference_price if x == x_ref else F.reciprocal(x)

    def g(p: Decimal) -> Decimal:
        a, b = _segment_line(legs, p, with_requirement)
        return constant + a + b * p

    if g(reference_price) <= 0:
        return reference_price
    bounds = [ZERO, *_breakpoints(legs)] if with_requirement else [ZERO]
    below: Decimal | None = None
    above: Decimal | None = None
    for i, lo in enumerate(bounds):
        hi = bounds[i + 1] if i + 1 < len(bounds) else None
        probe = (lo + hi) / 2 if hi is not None else 2 * lo + 1
        # the line on this segment, taken where the segment's tier applies
        a, b = _segment_line(legs, probe, with_requirement)
        if b == 0:
            continue
        root: Decimal = F.line_root(constant, a, b)
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


@dataclass(frozen=True, slots=True)
class Pool:
    """One margin pool, as the price solver sees it: an isolated leg with its margin, or
    the cross legs sharing the wallet.

    ``legs``: every leg of the pool with its symbol (each leg's own tier table and
    contract value); ``marks``: the mark of every symbol held; ``fee_rate``: the taker
    fee to close counted in maintenance (0 where the venue counts none);
    ``fee_at_bankruptcy``: that fee is valued at the bankruptcy price (Bybit) rather than
    at the price itself (:func:`perpmargin.formulas.close_fee_price`); ``fee_reserve``: the
    part of the collateral that is the estimated fee to close held in the initial margin
    (Bybit, isolated), left out of the bankruptcy price that fee is valued at.
    """

    collateral: Decimal
    legs: tuple[tuple[str, SolverLeg], ...]
    marks: Mapping[str, Decimal]
    fee_rate: Decimal = ZERO
    fee_at_bankruptcy: bool = False
    fee_reserve: Decimal = ZERO

    def legs_of(self, symbol: str) -> list[SolverLeg]:
        """The legs of ``symbol`` (two in hedge mode)."""
        return [leg for s, leg in self.legs if s == symbol]


def _upnl_at(leg: SolverLeg, price: Decimal) -> Decimal:
    return unrealized_pnl(leg.side, leg.quantity, leg.entry_price, price, leg.contract_value)


def pool_price(pool: Pool, symbol: str, *, with_requirement: bool) -> Decimal | None:
    """The exact (unrounded) price of ``symbol`` at which the pool is liquidated
    (``with_requirement``) or bankrupt, every other symbol held at its mark.

    Nearest the symbol's mark; the mark itself when the pool is already there; None
    when no positive price is. The other symbols' legs count with their PnL and (for a
    liquidation price) their requirement at their marks; a fee to close valued at the
    bankruptcy price is valued at each symbol's own bankruptcy price in the pool. The
    bankruptcy price leaves out the fee to close the pool holds for it (``fee_reserve``:
    Bybit sets it aside, "liquidation executed at bankruptcy price").
    """
    moving = pool.legs_of(symbol)
    constant = pool.collateral + sum(
        (_upnl_at(leg, pool.marks[s]) for s, leg in pool.legs if s != symbol), ZERO
    )
    reference = pool.marks[symbol]
    if not with_requirement:
        return solve_price(constant - pool.fee_reserve, moving, reference, with_requirement=False)
    fee = pool.fee_rate
    fee_price: Decimal | None = None
    if fee and pool.fee_at_bankruptcy:
        fee_price = fee_bankruptcy_price(pool, symbol)
    moving = [replace(leg, close_fee_rate=fee, close_fee_price=fee_price) for leg in moving]
    for other in dict.fromkeys(s for s, _ in pool.legs if s != symbol):
        other_fee_price: Decimal | None = None
        if fee and pool.fee_at_bankruptcy:
            other_fee_price = fee_bankruptcy_price(pool, other)
        for leg in pool.legs_of(other):
            constant -= requirement(
                leg.table, leg.quantity, pool.marks[other], fee, other_fee_price,
                leg.contract_value,
            )  # fmt: skip
    return solve_price(constant, moving, reference, with_requirement=True)


def fee_bankruptcy_price(pool: Pool, symbol: str) -> Decimal:
    """The bankruptcy price a fee to close of ``symbol``'s legs is valued at (Bybit): the
    pool's bankruptcy price (:func:`pool_price`), 0 when no positive price is."""
    bankrupt = pool_price(pool, symbol, with_requirement=False)
    return ZERO if bankrupt is None else bankrupt


def round_liquidation_price(
    price: Decimal,
    legs: Sequence[SolverLeg],
    reference_price: Decimal,
    tick: Decimal,
    *,
    towards_reference: bool = False,
) -> Decimal:
    """Round a solved price to the tick so that marking at it still liquidates.

    A net long liquidates on the way down, so its price rounds down; a net short's rounds
    up. A flat hedge rounds away from the reference. Never returns less than one tick.
    ``towards_reference``: the other way (a venue's convention for a bankruptcy price:
    Bybit rounds a long's up, a short's down).
    """
    net = sum((leg.side * leg.quantity for leg in legs), ZERO)
    falls = net > 0 or (net == 0 and price < reference_price)
    if towards_reference:
        falls = not falls
    rounded = round_to_step(price, tick, "down" if falls else "up")
    return rounded if rounded > 0 else tick
