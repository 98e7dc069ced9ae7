"""numba kernels of the fast path: float64, struct-of-arrays, no Python objects.

The user API is :mod:`perpmargin.sim.fast`; these functions only see arrays:

- tiers of ``S`` symbols padded to ``K`` tiers: ``upper[S, K]`` (upper bound of each tier,
  ``inf`` for the last), ``mmr[S, K]``, ``amount[S, K]`` (maintenance amount),
  ``n_tiers[S]``, ``by_qty[S]`` (the table is looked up by quantity, bounds ``(lo, hi]``,
  instead of notional, bounds ``[lo, hi)``), ``fee[S]`` (fee to close counted in the
  requirement, 0 when not) and ``fee_bk[S]`` (that fee is valued at the bankruptcy price,
  Bybit, instead of the mark);
- positions grouped by account (CSR): account ``a`` holds positions
  ``offsets[a] .. offsets[a + 1] - 1``; ``sym[i]`` (int32), ``qty[i]`` signed base units
  (+ long), ``entry[i]``, ``margin[i]`` (its isolated margin), ``balance[a]`` (the
  account's cross collateral).

Same formulas as the exact engine (:mod:`perpmargin.engine.math`), one-way positions.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "liq_price_kernel",
    "maintenance",
    "memory_read_kernel",
    "revalue_kernel",
]


# A root below entry x 1e-9 is float noise around "no positive price liquidates".
_ZERO_PRICE = 1e-9


@njit(cache=True, inline="always")
def maintenance(
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    n_tiers: np.ndarray,
    by_qty: np.ndarray,
    s: int,
    abs_qty: float,
    notional: float,
) -> float:
    """Tiered maintenance margin of one position (tier at its own notional or quantity).

    Branch-free tier search: count the bounds the position is past (padding bounds are
    ``inf``, never passed), so random positions cost no branch mispredictions.
    """
    k = 0
    if by_qty[s]:
        for j in range(upper.shape[1] - 1):
            k += abs_qty > upper[s, j]
    else:
        for j in range(upper.shape[1] - 1):
            k += notional >= upper[s, j]
    return notional * mmr[s, k] - amount[s, k]


# Float reassociation and contraction only: no "no-NaN/no-inf" assumptions (bounds are inf).
_FAST = {"reassoc", "contract", "arcp", "nsz"}


@njit(cache=True, parallel=True, fastmath=_FAST)
def revalue_kernel(
    offsets: np.ndarray,
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    margin: np.ndarray,
    balance: np.ndarray,
    marks: np.ndarray,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    n_tiers: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    fee_bk: np.ndarray,
    iso_liq: np.ndarray,
    cross_equity: np.ndarray,
    cross_mm: np.ndarray,
    cross_liq: np.ndarray,
) -> None:
    """Both modes in one pass over every position.

    Isolated: position ``i`` is liquidated when ``margin[i] + uPnL <= requirement``.
    Cross: account ``a`` is liquidated when ``balance[a] + sum(uPnL) <= sum(requirement)``.
    Writes ``iso_liq[N]`` (uint8) and ``cross_equity``, ``cross_mm``, ``cross_liq[A]``.
    """
    n_accounts = offsets.size - 1
    for a in prange(n_accounts):
        lo, hi = offsets[a], offsets[a + 1]
        eq = balance[a]
        mm_total = 0.0
        any_bk = False
        for i in range(lo, hi):
            s = sym[i]
            q = qty[i]
            m = marks[s]
            aq = abs(q)
            notional = aq * m
            upnl = q * (m - entry[i])
            req = maintenance(upper, mmr, amount, n_tiers, by_qty, s, aq, notional)
            if fee_bk[s]:
                any_bk = True
                side = 1.0 if q > 0 else -1.0
                bp = entry[i] - side * margin[i] / aq
                iso_req = req + fee[s] * aq * max(bp, 0.0)
            else:
                req += fee[s] * notional
                iso_req = req
            iso_liq[i] = 1 if margin[i] + upnl <= iso_req else 0
            eq += upnl
            mm_total += req
        if any_bk:  # Bybit: the cross fee to close is valued at each leg's bankruptcy price
            for i in range(lo, hi):
                s = sym[i]
                if fee_bk[s]:
                    q = qty[i]
                    aq = abs(q)
                    side = 1.0 if q > 0 else -1.0
                    bp = marks[s] - side * eq / aq
                    mm_total += fee[s] * aq * max(bp, 0.0)
        cross_equity[a] = eq
        cross_mm[a] = mm_total
        cross_liq[a] = 1 if hi > lo and eq <= mm_total else 0


@njit(cache=True, inline="always")
def _liq_price_one(
    s: int,
    q: float,
    e: float,
    collateral: float,
    bk_collateral: float,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    n_tiers: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    fee_bk: np.ndarray,
) -> float:
    aq = abs(q)
    side = 1.0 if q > 0 else -1.0
    fee_const = 0.0
    fee_lin = fee[s]
    if fee_bk[s]:
        bp = e - side * bk_collateral / aq
        fee_const = fee[s] * aq * max(bp, 0.0)
        fee_lin = 0.0
    base = collateral - side * aq * e
    if by_qty[s]:
        k = 0
        last = n_tiers[s] - 1
        while k < last and aq > upper[s, k]:
            k += 1
        p = (base + amount[s, k] - fee_const) / (aq * (mmr[s, k] + fee_lin) - side * aq)
        return p if p > _ZERO_PRICE * e else math.nan
    for k in range(n_tiers[s]):
        p = (base + amount[s, k] - fee_const) / (aq * (mmr[s, k] + fee_lin) - side * aq)
        n = aq * p
        lower = 0.0 if k == 0 else upper[s, k - 1]
        slack = 1e-12 * max(abs(n), 1.0)
        if p > _ZERO_PRICE * e and n >= lower - slack and n < upper[s, k] + slack:
            return p
    return math.nan


@njit(cache=True, parallel=True)
def liq_price_kernel(
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    collateral: np.ndarray,
    bk_collateral: np.ndarray,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    n_tiers: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    fee_bk: np.ndarray,
    out: np.ndarray,
) -> None:
    """Liquidation price of each position backed by ``collateral`` (NaN: none > 0).

    ``collateral`` is the isolated margin, or for a cross leg the cross wallet plus the
    other legs' uPnL minus their requirement (they are held at their marks).
    ``bk_collateral`` is what backs the leg for the bankruptcy price (the same without
    subtracting the others' requirement). Equity minus requirement is strictly monotonic
    in the price within each tier, so exactly one tier holds the root.
    """
    for i in prange(sym.size):
        out[i] = _liq_price_one(
            sym[i],
            qty[i],
            entry[i],
            collateral[i],
            bk_collateral[i],
            upper,
            mmr,
            amount,
            n_tiers,
            by_qty,
            fee,
            fee_bk,
        )


@njit(cache=True, parallel=True)
def memory_read_kernel(data: np.ndarray) -> float:
    """A read-only parallel reduction: the machine's practical streaming-read limit."""
    total = 0.0
    for i in prange(data.size):
        total += data[i]
    return total
