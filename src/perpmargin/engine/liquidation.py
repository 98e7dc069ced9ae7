"""The liquidation process of an :class:`~perpmargin.engine.account.Account`.

The process works on a :class:`Book`: the narrow interface an account gives it (its legs,
marks and requirements to read; liquidations, partial closes, fund transfers and
cooldowns to book), so this module never touches an account's state directly. Every
amount of money is settled by :mod:`perpmargin.formulas`.

A *pool* is one isolated leg (its key) or the cross account (``None``). A pool at or
below maintenance is taken down by the venue's process (``liquidation.process`` in its
file) under ``liquidation_model="venue"``, else closed in full at the mark:

- ``tiered_partial`` (Binance, Bybit, OKX, Gate): reduce the largest leg one risk tier
  (OKX: two) at a time with a taker order, stopping once the pool is above maintenance;
- ``fractional`` (Hyperliquid, dYdX): close a fraction of each large leg; within the
  cooldown after such a step a liquidation takes the whole pool; below
  ``backstop_ratio`` x maintenance the liquidator takes the pool over;
- a full close settles fee, remainder and deficit with the insurance fund, or, when the
  fund is short and the venue deleverages, the opposite side takes the bankrupt legs at
  their bankruptcy price (auto-deleveraging, through a
  :class:`~perpmargin.engine.clearing.Clearinghouse`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Literal, Protocol

from perpmargin import formulas as F
from perpmargin.engine import math as pmath
from perpmargin.engine.position import Leg, PositionSide
from perpmargin.numeric import ZERO, round_to_step
from perpmargin.venues.schema import LiquidationProcess, SymbolSpec, Venue

__all__ = ["Book", "LegKey", "check", "liquidate", "pool_equity", "take_down"]

LegKey = tuple[str, PositionSide]


class Book(Protocol):
    """What the liquidation process reads from and books into one account.

    Reads are at the account's current marks; money is in its settle asset. Each booking
    method changes the account and appends its ledger event in one step.
    """

    @property
    def venue(self) -> Venue:
        """The venue's rules."""

    @property
    def process(self) -> LiquidationProcess:
        """The process in force: the venue's under ``liquidation_model="venue"``, else full."""

    @property
    def venue_model(self) -> bool:
        """True under ``liquidation_model="venue"`` (partial steps, ADL)."""

    @property
    def time(self) -> int | None:
        """The account's clock (ms since the epoch), None when never set."""

    @property
    def cross_wallet(self) -> Decimal:
        """Wallet balance outside isolated margins."""

    @property
    def insurance_fund_balance(self) -> Decimal:
        """What the insurance fund holds."""

    @property
    def can_deleverage(self) -> bool:
        """True when counterparties can take a bankrupt leg (a clearinghouse is wired in)."""

    def legs(self) -> Mapping[LegKey, Leg]:
        """Every open leg by (symbol, side), a snapshot."""

    def cross_legs(self) -> list[Leg]:
        """The cross legs, sorted by symbol and side."""

    def spec(self, symbol: str) -> SymbolSpec:
        """The symbol's contract spec."""

    def mark(self, symbol: str) -> Decimal:
        """The symbol's mark price."""

    def previous_mark(self, symbol: str) -> Decimal | None:
        """The symbol's mark before the latest one, None when there was none."""

    def upnl(self, leg: Leg) -> Decimal:
        """The leg's unrealised PnL at the mark (unrounded)."""

    def requirement(self, leg: Leg) -> Decimal:
        """The leg's maintenance requirement at the mark (fee to close included)."""

    def value(self, symbol: str, quantity: Decimal, price: Decimal) -> Decimal:
        """Position value of ``quantity`` of ``symbol`` at ``price``."""

    def round(self, amount: Decimal, direction: Literal["up", "down"]) -> Decimal:
        """Money rounded to the settle precision, ``up`` for what the trader pays."""

    def bankruptcy_price(self, leg: Leg) -> Decimal | None:
        """The leg's bankruptcy price (rounded to the tick), None when no price is."""

    def cooling_down(self, pool: str) -> bool:
        """True while ``pool`` waits out a cooldown after a partial step."""

    def start_cooldown(self, pool: str, seconds: int) -> None:
        """Start a cooldown of ``pool`` at the account's clock."""

    def end_cooldown(self, pool: str) -> None:
        """Forget ``pool``'s cooldown (the pool is gone)."""

    def deleverage(self, leg: Leg, quantity: Decimal, price: Decimal) -> Decimal:
        """Offer ``quantity`` of ``leg`` to the counterparties at ``price``; what they took."""

    def book_partial(
        self, leg: Leg, quantity: Decimal, pnl: Decimal, fee: Decimal, reason: str
    ) -> None:
        """Close ``quantity`` of ``leg`` at the mark: ``pnl - fee`` stays in its pool."""

    def book_liquidation(
        self,
        leg: Leg,
        *,
        pnl: Decimal,
        fee: Decimal,
        cross_delta: Decimal,
        fund_delta: Decimal,
        bankruptcy_price: Decimal | None,
        process: str,
        deleveraged: Decimal,
    ) -> None:
        """Close all of ``leg`` at the mark: its margin (isolated) leaves, ``cross_delta``
        goes to the cross wallet and ``fund_delta`` to the fund; cancel its orders."""

    def transfer(self, reason: str, amount: Decimal) -> None:
        """Move ``amount`` from the cross wallet to the fund (negative: the fund pays)."""


def check(book: Book, symbols: Collection[str] | None = None) -> None:
    """Liquidate what is at or below maintenance: isolated legs (of ``symbols`` only,
    when given: the others' marks and margins did not change), then the cross
    account as a whole."""
    # a take-down changes only its own pool, so the snapshot of the legs holds
    for key, leg in sorted(book.legs().items()):
        if leg.margin_mode != "isolated" or (symbols is not None and leg.symbol not in symbols):
            continue
        if leg.isolated_margin + book.upnl(leg) <= book.requirement(leg):
            take_down(book, key)
    if book.cross_legs():
        equity, mm = pool_equity(book, None)
        if equity <= mm:
            take_down(book, None)


def pool_legs(book: Book, pool: LegKey | None) -> list[Leg]:
    """The legs of a pool: the cross legs, or the one isolated leg (none once closed)."""
    if pool is None:
        return book.cross_legs()
    leg = book.legs().get(pool)
    return [] if leg is None else [leg]


def pool_collateral(book: Book, pool: LegKey | None) -> Decimal:
    """The cross wallet, or the isolated leg's margin."""
    return book.cross_wallet if pool is None else book.legs()[pool].isolated_margin


def pool_equity(book: Book, pool: LegKey | None) -> tuple[Decimal, Decimal]:
    """(collateral + uPnL, maintenance requirement) of a pool at the marks."""
    legs = pool_legs(book, pool)
    equity = pool_collateral(book, pool) + sum((book.upnl(leg) for leg in legs), ZERO)
    mm = sum((book.requirement(leg) for leg in legs), ZERO)
    return equity, mm


def pool_short(book: Book, pool: LegKey | None) -> bool:
    """True when the pool is (still) at or below maintenance."""
    if pool is not None and pool not in book.legs():
        return False
    equity, mm = pool_equity(book, pool)
    return equity <= mm


def _name(pool: LegKey | None) -> str:
    return "cross" if pool is None else f"{pool[0]} {pool[1]}"


def take_down(book: Book, pool: LegKey | None) -> None:
    """Run the liquidation process on a pool at or below maintenance."""
    process = book.process
    legs = pool_legs(book, pool)
    equity, mm = pool_equity(book, pool)
    if process.backstop_ratio is not None and equity < process.backstop_ratio * mm:
        liquidate(book, legs, pool_collateral(book, pool), process="backstop")
        return
    if equity > 0 and process.kind == "tiered_partial" and reduce_by_tiers(book, pool):
        return
    if equity > 0 and process.kind == "fractional" and fraction_step(book, pool, process):
        return
    legs = pool_legs(book, pool)
    if legs:
        liquidate(book, legs, pool_collateral(book, pool))


def reduce_by_tiers(book: Book, pool: LegKey | None) -> bool:
    """Reduce the pool's legs (largest requirement first) one risk tier at a time at
    the mark; True once the pool is above maintenance again."""
    keys = sorted(
        ((leg.symbol, leg.side) for leg in pool_legs(book, pool)),
        key=lambda k: -book.requirement(book.legs()[k]),
    )
    for key in keys:
        while key in book.legs():
            leg = book.legs()[key]
            spec = book.spec(leg.symbol)
            mark = book.mark(leg.symbol)
            tiers = spec.tiers.tiers
            index = spec.tiers.index_for(leg.quantity, book.value(leg.symbol, leg.quantity, mark))
            if index == 0:
                break  # lowest tier: no partial step
            # down book.process.tiers_per_step tiers (OKX: two), never below the first
            bound = tiers[max(index - book.process.tiers_per_step, 0)].upper
            assert bound is not None
            if spec.tiers.basis == "quantity":
                target = round_to_step(bound, spec.step_size, "down")
            else:  # the largest size whose value is below the lower tier's cap
                cv = spec.inverse_value
                limit = bound / mark if cv is None else bound * mark / cv
                target = round_to_step(limit, spec.step_size, "down")
                if book.value(leg.symbol, target, mark) >= bound:
                    target -= spec.step_size
            if target < spec.min_quantity or target >= leg.quantity:
                break
            partial_close(book, leg, leg.quantity - target, "tier")
            if not pool_short(book, pool):
                return True
    return False


def fraction_step(book: Book, pool: LegKey | None, process: LiquidationProcess) -> bool:
    """Close ``fraction`` of each leg worth more than ``min_notional``; True when a step
    was taken. Within the cooldown after a step there is none: the pool is closed entire
    (Hyperliquid: "During this cooldown period, all market liquidation orders for that
    user will be for the entire position")."""
    name = _name(pool)
    if book.cooling_down(name):
        return False
    stepped = False
    for leg in pool_legs(book, pool):
        spec = book.spec(leg.symbol)
        if book.value(leg.symbol, leg.quantity, book.mark(leg.symbol)) <= process.min_notional:
            continue
        part = max(
            spec.step_size,
            round_to_step(leg.quantity * process.fraction, spec.step_size, "down"),
        )
        if part >= leg.quantity:
            continue
        partial_close(book, leg, part, "fraction")
        stepped = True
    if stepped and process.cooldown_seconds:
        book.start_cooldown(name, process.cooldown_seconds)
    return stepped


def partial_close(book: Book, leg: Leg, qty: Decimal, reason: Literal["tier", "fraction"]) -> None:
    """Close ``qty`` of ``leg`` at the mark with a taker order: PnL less the fee
    (capped at what the pool holds) stays in the pool."""
    spec = book.spec(leg.symbol)
    mark = book.mark(leg.symbol)
    pool = None if leg.margin_mode == "cross" else (leg.symbol, leg.side)
    equity, _ = pool_equity(book, pool)
    pnl = book.round(
        pmath.unrealized_pnl(leg.sign, qty, leg.entry_price, mark, spec.inverse_value), "down"
    )
    fee = book.round(
        F.trade_fee(book.value(leg.symbol, qty, mark), book.venue.taker_fee_rate), "up"
    )
    fee = F.capped(fee, F.smaller(equity, leg.isolated_margin + pnl) if pool else equity)
    book.book_partial(leg, qty, pnl, fee, reason)


def deleverage_cover(
    book: Book, legs: list[Leg], pnls: list[Decimal], deficit: Decimal
) -> tuple[list[Decimal], list[Decimal], dict[LegKey, Decimal]]:
    """Auto-deleveraging: the opposite side takes the bankrupt legs at their bankruptcy
    prices, so the trader's loss stops at the collateral and the fund pays nothing (or,
    where the venue says so, at the previous mark: what that leaves uncovered is a
    deficit the fund pays, what it leaves over is settled as any liquidation).

    The deficit is shared by the losing legs in proportion to their loss; each leg's
    price is the one at which closing it realises its PnL plus its share, rounded to
    the tick in the bankrupt leg's favour (so a fully covered pool ends at or just
    above zero, the counterparty never gains more than the bankrupt loses). A leg
    the counterparties take only in part closes that part at the price and the rest
    at the mark. Returns the new PnLs, the deleveraged quantities and the prices.
    """
    weights = [max(-p, ZERO) for p in pnls]
    total = sum(weights, ZERO)
    shares = [book.round(deficit * w / total, "down") for w in weights]
    shares[weights.index(max(weights))] += deficit - sum(shares, ZERO)
    new_pnls, taken = list(pnls), [ZERO] * len(legs)
    prices: dict[LegKey, Decimal] = {}
    for i, leg in enumerate(legs):
        if shares[i] <= 0:
            continue
        spec = book.spec(leg.symbol)
        cv = spec.inverse_value
        previous = book.previous_mark(leg.symbol)
        adl = book.venue.liquidation.adl
        if adl is not None and adl.price == "previous_mark" and previous is not None:
            price = previous  # Hyperliquid: "closed at the previous oracle price"
        else:
            exact = pmath.price_for_pnl(
                leg.sign, leg.quantity, leg.entry_price, pnls[i] + shares[i], cv
            )
            price = round_to_step(exact, spec.tick_size, "up" if leg.sign > 0 else "down")
            if price <= 0:
                price = spec.tick_size
        prices[(leg.symbol, leg.side)] = price
        took = min(book.deleverage(leg, leg.quantity, price), leg.quantity)
        taken[i] = took
        if took > 0:
            mark = book.mark(leg.symbol)
            new_pnls[i] = book.round(
                pmath.unrealized_pnl(leg.sign, took, leg.entry_price, price, cv)
                + pmath.unrealized_pnl(leg.sign, leg.quantity - took, leg.entry_price, mark, cv),
                "down",
            )
    return new_pnls, taken, prices


def liquidate(
    book: Book,
    legs: list[Leg],
    collateral: Decimal,
    *,
    process: Literal["full", "backstop"] = "full",
) -> None:
    """Close ``legs`` at their marks and settle fee, remainder or deficit.

    ``collateral`` is the isolated margin (one isolated leg) or the cross wallet
    (every cross leg). Money (:func:`perpmargin.formulas.settle_liquidation`): equity =
    collateral + sum(PnL at mark); the fee is capped at what is left; the rest goes to
    the fund or stays with the trader (a ``"backstop"`` takeover: always to the fund,
    the liquidator's); a negative equity is a deficit the fund pays, or, under the
    venue model with ADL and a fund too small for it, the counterparties
    (:func:`deleverage_cover`).
    """
    isolated = legs[0].margin_mode == "isolated"
    bankruptcy = {(leg.symbol, leg.side): book.bankruptcy_price(leg) for leg in legs}
    pnls = [book.round(book.upnl(leg), "down") for leg in legs]
    equity = collateral + sum(pnls, ZERO)
    taken = [ZERO] * len(legs)
    if (
        equity < 0
        and book.venue_model
        and book.venue.liquidation.adl is not None
        and book.can_deleverage
        and book.insurance_fund_balance < -equity
    ):
        pnls, taken, prices = deleverage_cover(book, legs, pnls, -equity)
        bankruptcy.update(prices)
        equity = collateral + sum(pnls, ZERO)
    wanted = [
        book.round(
            F.trade_fee(
                book.value(leg.symbol, leg.quantity, book.mark(leg.symbol)),
                book.spec(leg.symbol).liquidation_fee_rate,
            ),
            "up",
        )
        for leg in legs
    ]
    to_trader = process != "backstop" and book.venue.liquidation.remainder_to == "trader"
    charged, kept, remainder, deficit = F.settle_liquidation(equity, sum(wanted, ZERO), to_trader)
    fees = []  # the charged total, leg by leg in order
    for fee in wanted:
        fees.append(F.smaller(fee, charged))
        charged -= fees[-1]
    for leg, pnl, fee, took in zip(legs, pnls, fees, taken, strict=True):
        if isolated:  # one leg: its margin goes, what the trader keeps returns
            cross_delta, fund_delta = kept, fee + remainder - deficit
        else:
            cross_delta, fund_delta = pnl - fee, fee
        book.book_liquidation(
            leg,
            pnl=pnl,
            fee=fee,
            cross_delta=cross_delta,
            fund_delta=fund_delta,
            bankruptcy_price=bankruptcy[(leg.symbol, leg.side)],
            process=process,
            deleveraged=took,
        )
    book.end_cooldown(_name((legs[0].symbol, legs[0].side)) if isolated else "cross")
    if isolated:
        return
    # cross: the remaining margin goes to the fund, or the fund covers the deficit
    for reason, amount in (("remaining_margin", remainder), ("deficit", -deficit)):
        if amount:
            book.transfer(reason, amount)
