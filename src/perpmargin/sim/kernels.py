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
    "bankruptcy_kernel",
    "bankruptcy_one",
    "liq_price_kernel",
    "maintenance",
    "memory_read_kernel",
    "revalue_account",
    "revalue_blocked_kernel",
    "revalue_kernel",
    "search_tables",
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


@njit(cache=True, inline="always", fastmath=_FAST)
def revalue_account(
    a: int,
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
    """Both modes for account ``a`` (the arguments of :func:`revalue_kernel`); one
    source for the CPU kernel and the CUDA one (:mod:`perpmargin.sim.gpu`)."""
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
    for a in prange(offsets.size - 1):
        revalue_account(
            a, offsets, sym, qty, entry, margin, balance, marks, upper, mmr, amount, n_tiers,
            by_qty, fee, fee_bk, iso_liq, cross_equity, cross_mm, cross_liq,
        )  # fmt: skip


def search_tables(
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    n_tiers: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    marks: np.ndarray,
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Flat tables for :func:`revalue_blocked_kernel` at these marks.

    Each symbol gets ``width`` = 16 or 64 slots (a power of two >= its tier count, so a
    branch-free binary search of 4 or 6 steps finds the tier). ``qbound[s * width + j]``
    is the smallest |quantity| in tier j + 1: upper / mark for a notional table (tier
    at ``notional >= upper``), the next float above ``upper`` for a quantity table
    (tier at ``qty > upper``); padding is ``inf``. ``rate`` is the tier's maintenance
    rate plus the fee to close counted in maintenance; padding repeats the last tier.
    """
    n_sym, k = upper.shape
    width = 16 if k <= 16 else 64
    if k > 64:
        raise ValueError(f"at most 64 tiers per symbol, got {k}")
    qbound = np.full((n_sym, width), np.inf)
    rate = np.empty((n_sym, width))
    amt = np.empty((n_sym, width))
    for s in range(n_sym):
        nt = int(n_tiers[s])
        bounds = upper[s, : nt - 1]
        if by_qty[s]:
            qbound[s, : nt - 1] = np.nextafter(bounds, np.inf)
        else:
            qbound[s, : nt - 1] = bounds / marks[s]
        rate[s, :nt] = mmr[s, :nt] + fee[s]
        rate[s, nt:] = rate[s, nt - 1]
        amt[s, :nt] = amount[s, :nt]
        amt[s, nt:] = amount[s, nt - 1]
    return width, qbound.ravel(), rate.ravel(), amt.ravel()


@njit(cache=True, parallel=True, fastmath=_FAST)
def revalue_blocked_kernel(
    offsets: np.ndarray,
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    margin: np.ndarray,
    balance: np.ndarray,
    marks: np.ndarray,
    width: int,
    qbound: np.ndarray,
    rate: np.ndarray,
    amt: np.ndarray,
    block: int,
    iso_liq: np.ndarray,
    cross_equity: np.ndarray,
    cross_mm: np.ndarray,
    cross_liq: np.ndarray,
) -> None:
    """:func:`revalue_kernel` for venues without a bankruptcy-valued fee, built to be
    vectorised: blocks of ``block`` accounts; per block one flat loop over its positions
    (no branches: the tier is a fixed-depth binary search over :func:`search_tables`),
    then per-account sums of the block's uPnL and requirements from a small buffer.

    A position whose notional is within rounding of a tier bound may be put in the
    tier on the other side of it (the bound is compared as upper / mark); the tables
    are continuous there, so the requirement differs by rounding only.
    """
    n_accounts = offsets.size - 1
    n_blocks = (n_accounts + block - 1) // block
    wide = width == 64
    for b in prange(n_blocks):
        a0 = b * block
        a1 = min(a0 + block, n_accounts)
        lo = offsets[a0]
        hi = offsets[a1]
        upnl_buf = np.empty(hi - lo)
        req_buf = np.empty(hi - lo)
        # two copies of one loop (4 or 6 search steps), so each is straight-line code
        if wide:
            for i in range(lo, hi):
                s = sym[i]
                q = qty[i]
                m = marks[s]
                aq = abs(q)
                k = s * 64
                k += 32 if aq >= qbound[k + 31] else 0
                k += 16 if aq >= qbound[k + 15] else 0
                k += 8 if aq >= qbound[k + 7] else 0
                k += 4 if aq >= qbound[k + 3] else 0
                k += 2 if aq >= qbound[k + 1] else 0
                k += 1 if aq >= qbound[k] else 0
                req = aq * m * rate[k] - amt[k]
                u = q * (m - entry[i])
                iso_liq[i] = margin[i] + u <= req
                upnl_buf[i - lo] = u
                req_buf[i - lo] = req
        else:
            for i in range(lo, hi):
                s = sym[i]
                q = qty[i]
                m = marks[s]
                aq = abs(q)
                k = s * 16
                k += 8 if aq >= qbound[k + 7] else 0
                k += 4 if aq >= qbound[k + 3] else 0
                k += 2 if aq >= qbound[k + 1] else 0
                k += 1 if aq >= qbound[k] else 0
                req = aq * m * rate[k] - amt[k]
                u = q * (m - entry[i])
                iso_liq[i] = margin[i] + u <= req
                upnl_buf[i - lo] = u
                req_buf[i - lo] = req
        for a in range(a0, a1):
            eq = balance[a]
            mm = 0.0
            for j in range(offsets[a] - lo, offsets[a + 1] - lo):
                eq += upnl_buf[j]
                mm += req_buf[j]
            cross_equity[a] = eq
            cross_mm[a] = mm
            cross_liq[a] = 1 if offsets[a + 1] > offsets[a] and eq <= mm else 0


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


@njit(cache=True, inline="always")
def bankruptcy_one(q: float, e: float, backing: float) -> float:
    """The price at which ``backing`` + q x (price - e) is zero (NaN: none > 0)."""
    p = e - (1.0 if q > 0 else -1.0) * backing / abs(q)
    return p if p > _ZERO_PRICE * e else math.nan


@njit(cache=True, parallel=True)
def bankruptcy_kernel(
    qty: np.ndarray, entry: np.ndarray, backing: np.ndarray, out: np.ndarray
) -> None:
    """Bankruptcy price of each position backed by ``backing`` (isolated margin, or a
    cross leg's wallet plus the other legs' uPnL)."""
    for i in prange(qty.size):
        out[i] = bankruptcy_one(qty[i], entry[i], backing[i])


@njit(cache=True, parallel=True, fastmath=_FAST)
def memory_read_kernel(data: np.ndarray) -> float:
    """A read-only parallel reduction: the machine's practical streaming-read limit.

    ``fastmath`` lets LLVM keep several vector partial sums: without it each thread's
    sum is one chain of dependent additions, which measures the adder's latency (26 GB/s
    here) rather than the memory (40 GB/s)."""
    total = 0.0
    for i in prange(data.size):
        total += data[i]
    return total
