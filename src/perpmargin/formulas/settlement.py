"""Where money goes: fees, liquidation settlement, funding, deficits, ADL rank.

Every amount is in the settle asset. The engine rounds each result once, at the settle
precision, in the venue's favour (fees and payments up, credits down); the kernels use
them in float64 as they are.
"""

from __future__ import annotations

from perpmargin.formulas._types import N
from perpmargin.formulas.arith import positive_part, smaller

__all__ = [
    "adl_score",
    "adl_score_set_leverage",
    "capped",
    "funding_payment",
    "settle_isolated_close",
    "settle_isolated_funding",
    "settle_liquidation",
    "shortfall",
    "trade_fee",
]


def trade_fee(value: N, rate: N) -> N:
    """Fee of a fill, or the liquidation (clearance) fee: ``value x rate``.

    Example (Binance FAQ, cost to open): 1 BTC at 50,000 at the 0.04 % taker rate -> 20.
    """
    return value * rate


def capped(charge: N, available: N) -> N:
    """A charge (>= 0) taken from what a pool holds: at most ``available``, 0 when the
    pool holds nothing (a liquidation or closing fee never makes the trader owe)."""
    return smaller(charge, positive_part(available))


def shortfall(equity: N) -> N:
    """What a closed pool's equity is below zero: the deficit the insurance fund (or
    auto-deleveraging) covers. 0 for a solvent pool."""
    return positive_part(-equity)


def settle_liquidation(equity: N, fee: N, remainder_to_trader: bool) -> tuple[N, N, N, N]:
    """The money of a pool closed by liquidation.

    ``equity`` is the pool's collateral + the realised PnL of its closed legs; ``fee`` the
    liquidation fee on their value. Returns ``(fee_charged, to_trader, remainder_to_fund,
    deficit)``: the fee is :func:`capped` at what is left; the rest goes back to the
    trader where the venue says so (``remainder_to == "trader"``), else to the insurance
    fund (Binance, Bybit, Gate: the trader is in effect closed at the bankruptcy price);
    a negative equity is a :func:`shortfall`. Conservation:
    ``equity == to_trader + fee_charged + remainder_to_fund - deficit``.
    """
    left = positive_part(equity)
    charged = capped(fee, left)
    remainder = left - charged
    kept = remainder if remainder_to_trader else remainder - remainder
    return charged, kept, remainder - kept, shortfall(equity)


def settle_isolated_close(released: N, pnl: N, fee: N) -> tuple[N, N, N]:
    """The money of an isolated leg closed (in part) by a trade.

    ``released`` is the margin the closed part frees, ``pnl`` its realised PnL, ``fee``
    the trade fee. The leg's loss is capped at its margin: the fee comes out of what is
    released, and a close beyond the bankruptcy price is a deficit. Returns
    ``(fee_charged, to_wallet, deficit)``; ``to_wallet = released + pnl + deficit -
    fee_charged``.
    """
    gross = released + pnl
    deficit = shortfall(gross)
    charged = capped(fee, gross)
    return charged, gross + deficit - charged, deficit


def funding_payment(signed_value: N, rate: N) -> N:
    """What a position pays at a funding time (+ pays, - receives): ``side x value at
    the mark x rate`` (``signed_value`` + for a long). Longs pay shorts when the rate is
    positive. Example: a 2 BTC long marked at 50,000 at +0.01 % pays 10 USDT.
    """
    return signed_value * rate


def settle_isolated_funding(payment: N, margin: N) -> tuple[N, N]:
    """An isolated leg's funding: ``(from_margin, from_fund)``. The margin pays what it
    holds (and receives everything); the insurance fund pays what the margin cannot."""
    from_margin = smaller(payment, margin)
    return from_margin, payment - from_margin


def adl_score(upnl: N, collateral: N, value: N) -> N:
    """Auto-deleveraging rank of a leg (highest goes first): PnL ratio x effective
    leverage for a profit, PnL ratio / effective leverage for a loss, with PnL ratio =
    uPnL / collateral and effective leverage = value / (collateral + uPnL) (Binance's
    'LeveragePnL', OKX's 'PnL % x leverage'). Needs collateral > 0 and collateral +
    uPnL > 0 (the caller ranks other states first or last)."""
    ratio = upnl / collateral
    leverage = value / (collateral + upnl)
    return ratio * leverage if upnl > 0 else ratio / leverage


def adl_score_set_leverage(upnl: N, collateral: N, leverage: N) -> N:
    """Gate's auto-deleveraging rank (highest first): the rate of return uPnL / collateral
    times the leverage the position was set to (Gate announcement 28762, 2022-11-21:
    "the 'Rate of Return' calculated based on unrealized PNL X Leverage (in the case of
    cross margin and without leverage setup, the leverage will be the maximum leverage
    applicable to the position)"). Needs collateral > 0."""
    return upnl / collateral * leverage
