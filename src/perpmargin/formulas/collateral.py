"""Multi-asset collateral and the account-level ratios of unified accounts.

A unified (portfolio-margin) account holds several assets. Each asset's net balance
(wallet + futures PnL in it - loans) is valued at its USD index price; a positive one
counts at a haircut, a negative one (a liability) in full. A tiered haircut cuts the
holding into slices ``[floor, cap)`` that each count at their own rate (progressive, as
Binance's Cross Margin haircut page works it out: 6,000 BTC at 20,000 under tiers of
100 M at 100 % and 100-120 M at 97.5 % -> 119,500,000 USDT). The venue says whether
slices are in coin or in USD value.

Units: money in USD (or the account's valuation asset); ``amount`` in the slice's unit.
"""

from __future__ import annotations

from perpmargin.formulas._types import N
from perpmargin.formulas.arith import positive_part, smaller

__all__ = [
    "collateral_value",
    "equity_ratio",
    "haircut_slice",
    "risk_unit_requirement",
    "scenario_loss",
]


def haircut_slice(amount: N, floor: N, cap: N, rate: N) -> N:
    """What the part of ``amount`` inside ``[floor, cap)`` counts for: ``rate x`` that
    part (0 when ``amount`` is below ``floor``). Sum over the slices of a tier table for
    the haircut value of a holding (``cap`` of the last slice: infinity)."""
    return rate * positive_part(smaller(amount, cap) - floor)


def collateral_value(value: N, haircut_value: N) -> N:
    """An asset's contribution to adjusted equity: its haircut value when its net value
    is positive, its full (negative) value when it is a liability (Binance PM writes
    ``min(X x P x rate, X x P)``)."""
    return haircut_value if value > 0 else value


def equity_ratio(equity: N, requirement: N) -> N:
    """An account ratio written equity over requirement (liquidated at or below the
    venue's threshold): Binance's uniMMR = adjusted equity / maintenance, OKX's margin
    ratio = adjusted equity / (maintenance + liquidation cost). The caller passes a
    positive requirement (an account with none has no ratio)."""
    return equity / requirement


def scenario_loss(pnl_now: N, pnl_moved: N, settle_price: N, settle_move: N) -> N:
    """A position's USD loss (+) in one scenario of risk-based portfolio margin (Bybit PM,
    OKX PM's MR1, Deribit PM): its PnL ``pnl_now`` (settle asset, at the mark) becomes
    ``pnl_moved`` (at the mark moved by the scenario's price move), and the settle asset,
    priced ``settle_price`` (USD), moves by ``settle_move`` too: the scenario's move when
    the position settles in its own underlying (an inverse BTC contract in a BTC move),
    else 0. A risk unit's maintenance is the worst sum over its scenarios.
    """
    return pnl_now * settle_price - pnl_moved * settle_price * (settle_move + 1)


def risk_unit_requirement(
    worst_loss: N, extreme_loss: N, extreme_weight: N, contingency_rate: N, size: N, price: N
) -> tuple[N, N]:
    """A risk unit's maintenance in two parts, ``(loss counted, add-on)`` (USD; their sum
    is the maintenance): the worst :func:`scenario_loss` over the unit's grid of moves (0
    at least), or ``extreme_weight x`` the worst loss at its extreme moves where that is
    larger (OKX's MR6; weight 0 where the rules have none), and the add-on
    ``contingency_rate x size x price`` (Bybit's contingency, OKX's MR4; ``size`` in the
    underlying, ``price`` its index). Example (OKX PM, BTC): a 0.1 BTC short at 100,000
    loses 1,200 at +12 % and 2,400 at +24 % (weight 0.5): (1,200, 2 at a 0.0002 rate).
    """
    kept = positive_part(worst_loss)
    weighted = extreme_loss * extreme_weight
    return (weighted if weighted > kept else kept), contingency_rate * size * price
