"""The liquidation process of an :class:`~perpmargin.engine.account.Account`.

Functions on an account's state, called by the account when marks, funding or a trade
change it (they reach into the account's private state on purpose: this module is the
account's liquidation half, kept apart to stay readable).

A *pool* is one isolated leg (its key) or the cross account (``None``). A pool at or
below maintenance is taken down by the venue's process (``liquidation.process`` in its
file) under ``liquidation_model="venue"``, else closed in full at the mark:

- ``tiered_partial`` (Binance, Bybit, OKX, Gate): reduce the largest leg one risk tier
  at a time with a taker order, stopping once the pool is above maintenance;
- ``fractional`` (Hyperliquid, dYdX): close a fraction of each large leg, then wait out
  a cooldown; below ``backstop_ratio`` x maintenance the liquidator takes the pool over;
- a full close settles fee, remainder and deficit with the insurance fund, or, when the
  fund is short and the venue deleverages, the opposite side takes the bankrupt legs at
  their bankruptcy price (auto-deleveraging, through a
  :class:`~perpmargin.engine.clearing.Clearinghouse`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from perpmargin import formulas as F
from perpmargin.engine import math as pmath
from perpmargin.engine.events import (
    InsuranceFundTransfer,
    Liquidation,
    OrderCancelled,
    PartialLiquidation,
)
from perpmargin.engine.position import Leg
from perpmargin.numeric import ZERO, round_to_step
from perpmargin.venues.schema import LiquidationProcess

if TYPE_CHECKING:
    from perpmargin.engine.account import Account, LegKey

__all__ = ["check", "liquidate", "pool_equity", "take_down"]


def check(acct: Account, symbols: Collection[str] | None = None) -> None:
    """Liquidate what is at or below maintenance: isolated legs (of ``symbols`` only,
    when given: the others' marks and margins did not change), then the cross
    account as a whole."""
    # a take-down changes only its own pool, so the snapshot of the legs holds
    for key, leg in sorted(acct._legs.items()):
        if leg.margin_mode != "isolated" or (symbols is not None and leg.symbol not in symbols):
            continue
        mark = acct._marks[leg.symbol]
        if leg.isolated_margin + acct._upnl(leg) <= acct._requirement(leg, mark):
            take_down(acct, key)
    if acct._cross_legs() and acct.cross_equity <= acct.cross_maintenance_margin:
        take_down(acct, None)


# A pool is one isolated leg (its key) or the cross account (None).


def pool_legs(acct: Account, pool: LegKey | None) -> list[Leg]:
    if pool is None:
        return acct._cross_legs()
    leg = acct._legs.get(pool)
    return [] if leg is None else [leg]


def pool_equity(acct: Account, pool: LegKey | None) -> tuple[Decimal, Decimal]:
    """(collateral + uPnL, maintenance requirement) of a pool at the marks."""
    legs = pool_legs(acct, pool)
    equity = pool_collateral(acct, pool) + sum((acct._upnl(leg) for leg in legs), ZERO)
    mm = sum((acct._requirement(leg, acct._marks[leg.symbol]) for leg in legs), ZERO)
    return equity, mm


def pool_short(acct: Account, pool: LegKey | None) -> bool:
    if pool is not None and pool not in acct._legs:
        return False
    equity, mm = pool_equity(acct, pool)
    return equity <= mm


def take_down(acct: Account, pool: LegKey | None) -> None:
    """Run the liquidation process on a pool at or below maintenance."""
    process = acct._process
    legs = pool_legs(acct, pool)
    equity, mm = pool_equity(acct, pool)
    if process.backstop_ratio is not None and equity < process.backstop_ratio * mm:
        liquidate(acct, legs, pool_collateral(acct, pool), process="backstop")
        return
    if equity > 0 and process.kind == "tiered_partial" and reduce_by_tiers(acct, pool):
        return
    if equity > 0 and process.kind == "fractional" and fraction_step(acct, pool, process):
        return
    legs = pool_legs(acct, pool)
    if legs:
        liquidate(acct, legs, pool_collateral(acct, pool))


def pool_collateral(acct: Account, pool: LegKey | None) -> Decimal:
    return acct._cross_wallet if pool is None else acct._legs[pool].isolated_margin


def reduce_by_tiers(acct: Account, pool: LegKey | None) -> bool:
    """Reduce the pool's legs (largest requirement first) one risk tier at a time at
    the mark; True once the pool is above maintenance again."""
    keys = sorted(
        ((leg.symbol, leg.side) for leg in pool_legs(acct, pool)),
        key=lambda k: -acct._requirement(acct._legs[k], acct._marks[k[0]]),
    )
    for key in keys:
        while key in acct._legs:
            leg = acct._legs[key]
            spec = acct._spec(leg.symbol)
            mark = acct._marks[leg.symbol]
            tiers = spec.tiers.tiers
            tier = spec.tiers.tier_for(leg.quantity, acct._value(leg.symbol, leg.quantity, mark))
            index = tiers.index(tier)
            if index == 0:
                break  # lowest tier: no partial step
            bound = tiers[index - 1].upper
            assert bound is not None
            if spec.tiers.basis == "quantity":
                target = round_to_step(bound, spec.step_size, "down")
            else:  # the largest size whose value is below the lower tier's cap
                cv = spec.inverse_value
                limit = bound / mark if cv is None else bound * mark / cv
                target = round_to_step(limit, spec.step_size, "down")
                if acct._value(leg.symbol, target, mark) >= bound:
                    target -= spec.step_size
            if target < spec.min_quantity or target >= leg.quantity:
                break
            partial_close(acct, leg, leg.quantity - target, "tier")
            if not pool_short(acct, pool):
                return True
    return False


def fraction_step(acct: Account, pool: LegKey | None, process: LiquidationProcess) -> bool:
    """Close ``fraction`` of each leg worth more than ``min_notional``; True when a
    step was taken or the pool is cooling down (nothing else happens now)."""
    name = "cross" if pool is None else f"{pool[0]} {pool[1]}"
    until = acct._cooldown_until.get(name)
    if until is not None and acct._time is not None and acct._time < until:
        return True  # waiting out the cooldown: the backstop is checked first
    stepped = False
    for leg in pool_legs(acct, pool):
        spec = acct._spec(leg.symbol)
        mark = acct._marks[leg.symbol]
        if acct._value(leg.symbol, leg.quantity, mark) <= process.min_notional:
            continue
        part = max(
            spec.step_size,
            round_to_step(leg.quantity * process.fraction, spec.step_size, "down"),
        )
        if part >= leg.quantity:
            continue
        partial_close(acct, leg, part, "fraction")
        stepped = True
    if stepped and acct._time is not None and process.cooldown_seconds:
        acct._cooldown_until[name] = acct._time + process.cooldown_seconds * 1000
    return stepped


def partial_close(
    acct: Account, leg: Leg, qty: Decimal, reason: Literal["tier", "fraction"]
) -> None:
    """Close ``qty`` of ``leg`` at the mark with a taker order: PnL less the fee
    (capped at what the pool holds) stays in the pool."""
    spec = acct._spec(leg.symbol)
    mark = acct._marks[leg.symbol]
    pool = None if leg.margin_mode == "cross" else (leg.symbol, leg.side)
    equity, _ = pool_equity(acct, pool)
    pnl = acct._round(
        pmath.unrealized_pnl(leg.sign, qty, leg.entry_price, mark, spec.inverse_value), "down"
    )
    value = acct._value(leg.symbol, qty, mark)
    fee = acct._round(F.trade_fee(value, acct._venue.taker_fee_rate), "up")
    fee = F.capped(fee, F.smaller(equity, leg.isolated_margin + pnl) if pool else equity)
    cross_delta = iso_delta = ZERO
    if pool is None:
        cross_delta = pnl - fee
        acct._cross_wallet += cross_delta
    else:
        iso_delta = pnl - fee
    acct._counterparty_pnl -= pnl
    acct._fees_paid += fee
    acct._legs[(leg.symbol, leg.side)] = replace(
        leg, quantity=leg.quantity - qty, isolated_margin=leg.isolated_margin + iso_delta
    )
    acct._emit(
        PartialLiquidation,
        symbol=leg.symbol,
        position_side=leg.side,
        margin_mode=leg.margin_mode,
        quantity=qty,
        quantity_after=leg.quantity - qty,
        mark_price=mark,
        realized_pnl=pnl,
        fee=fee,
        cross_wallet_delta=cross_delta,
        isolated_margin_delta=iso_delta,
        reason=reason,
    )


def deleverage_cover(
    acct: Account, legs: list[Leg], pnls: list[Decimal], deficit: Decimal
) -> tuple[list[Decimal], list[Decimal], dict[LegKey, Decimal]]:
    """Auto-deleveraging: the opposite side takes the bankrupt legs at their bankruptcy
    prices, so the trader's loss stops at the collateral and the fund pays nothing.

    The deficit is shared by the losing legs in proportion to their loss; each leg's
    price is the one at which closing it realises its PnL plus its share, rounded to
    the tick in the bankrupt leg's favour (so a fully covered pool ends at or just
    above zero, the counterparty never gains more than the bankrupt loses). A leg
    the counterparties take only in part closes that part at the price and the rest
    at the mark. Returns the new PnLs, the deleveraged quantities and the prices.
    """
    hook = acct._deleverage_hook
    assert hook is not None
    weights = [max(-p, ZERO) for p in pnls]
    total = sum(weights, ZERO)
    shares = [acct._round(deficit * w / total, "down") for w in weights]
    shares[weights.index(max(weights))] += deficit - sum(shares, ZERO)
    new_pnls, taken = list(pnls), [ZERO] * len(legs)
    prices: dict[LegKey, Decimal] = {}
    for i, leg in enumerate(legs):
        if shares[i] <= 0:
            continue
        spec = acct._spec(leg.symbol)
        cv = spec.inverse_value
        exact = pmath.price_for_pnl(
            leg.sign, leg.quantity, leg.entry_price, pnls[i] + shares[i], cv
        )
        price = round_to_step(exact, spec.tick_size, "up" if leg.sign > 0 else "down")
        if price <= 0:
            price = spec.tick_size
        prices[(leg.symbol, leg.side)] = price
        took = min(hook(acct, leg.symbol, leg.side, leg.quantity, price), leg.quantity)
        taken[i] = took
        if took > 0:
            mark = acct._marks[leg.symbol]
            new_pnls[i] = acct._round(
                pmath.unrealized_pnl(leg.sign, took, leg.entry_price, price, cv)
                + pmath.unrealized_pnl(leg.sign, leg.quantity - took, leg.entry_price, mark, cv),
                "down",
            )
    return new_pnls, taken, prices


def liquidate(
    acct: Account,
    legs: list[Leg],
    collateral: Decimal,
    *,
    process: Literal["full", "backstop"] = "full",
) -> None:
    """Close ``legs`` at their marks and settle fee, remainder or deficit.

    ``collateral`` is the isolated margin (one isolated leg) or the cross wallet
    (every cross leg). Money: equity = collateral + sum(PnL at mark); the fee is
    capped at what is left; the rest goes to the fund or stays with the trader
    (a ``"backstop"`` takeover: always to the fund, the liquidator's); a negative
    equity is a deficit the fund pays, or, under the venue model with ADL and a fund
    too small for it, the counterparties (see :meth:`_deleverage_cover`).
    """
    isolated = legs[0].margin_mode == "isolated"
    bankruptcy = {
        (leg.symbol, leg.side): acct._solve(leg, with_requirement=False, exact=False)
        for leg in legs
    }
    pnls = [acct._round(acct._upnl(leg), "down") for leg in legs]
    equity = collateral + sum(pnls, ZERO)
    taken = [ZERO] * len(legs)
    if (
        equity < 0
        and acct._liquidation_model == "venue"
        and acct._venue.liquidation.adl is not None
        and acct._deleverage_hook is not None
        and acct._insurance_fund.balance < -equity
    ):
        pnls, taken, prices = deleverage_cover(acct, legs, pnls, -equity)
        bankruptcy.update(prices)
        equity = collateral + sum(pnls, ZERO)
    wanted = [
        acct._round(
            F.trade_fee(
                acct._value(leg.symbol, leg.quantity, acct._marks[leg.symbol]),
                acct._spec(leg.symbol).liquidation_fee_rate,
            ),
            "up",
        )
        for leg in legs
    ]
    to_trader = process != "backstop" and acct._venue.liquidation.remainder_to == "trader"
    charged, kept, remainder, deficit = F.settle_liquidation(equity, sum(wanted, ZERO), to_trader)
    fees = []  # the charged total, leg by leg in order
    for fee in wanted:
        fees.append(F.smaller(fee, charged))
        charged -= fees[-1]
    for leg, pnl, fee, took in zip(legs, pnls, fees, taken, strict=True):
        acct._counterparty_pnl -= pnl
        del acct._legs[(leg.symbol, leg.side)]
        if isolated:  # one leg: its margin goes, what the trader keeps returns
            cross_delta = kept
            fund_delta = fee + remainder - deficit
            iso_delta = -leg.isolated_margin
        else:
            cross_delta, fund_delta, iso_delta = pnl - fee, fee, ZERO
        acct._cross_wallet += cross_delta
        acct._fund(fund_delta, "liquidation")
        acct._emit(
            Liquidation,
            symbol=leg.symbol,
            position_side=leg.side,
            margin_mode=leg.margin_mode,
            quantity=leg.quantity,
            entry_price=leg.entry_price,
            mark_price=acct._marks[leg.symbol],
            bankruptcy_price=bankruptcy[(leg.symbol, leg.side)],
            realized_pnl=pnl,
            liquidation_fee=fee,
            cross_wallet_delta=cross_delta,
            isolated_margin_delta=iso_delta,
            insurance_fund_delta=fund_delta,
            process=process,
            deleveraged=took,
        )
        for oid, order in sorted(acct._orders.items()):
            if order.symbol == leg.symbol and (
                order.position_side in (None, leg.side) or not isolated
            ):
                del acct._orders[oid]
                acct._emit(OrderCancelled, order_id=oid, reason="liquidation")
    acct._cooldown_until.pop(f"{legs[0].symbol} {legs[0].side}" if isolated else "cross", None)
    if isolated:
        return
    # cross: the remaining margin goes to the fund, or the fund covers the deficit
    for reason, amount in (("remaining_margin", remainder), ("deficit", -deficit)):
        if amount:
            acct._fund(amount, reason)
            acct._cross_wallet -= amount
            acct._emit(
                InsuranceFundTransfer,
                reason=reason,
                amount=amount,
                cross_wallet_delta=-amount,
            )
