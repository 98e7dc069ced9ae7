"""numba kernels of the fast path: float64, struct-of-arrays, no Python objects.

The user API is :mod:`perpmargin.sim.fast`; these functions only see arrays:

- tiers as :meth:`perpmargin.sim.tiers.TierArrays.args` gives them: ``upper[S, K]``,
  ``mmr[S, K]``, ``amount[S, K]``, ``n_tiers[S]``, ``by_qty[S]``, ``fee[S]``, ``fee_bk[S]``;
- positions grouped by account (CSR): account ``a`` holds positions
  ``offsets[a] .. offsets[a + 1] - 1``; ``sym[i]`` (int32), ``qty[i]`` signed base units
  (+ long), ``entry[i]``, ``margin[i]`` (its isolated margin), ``balance[a]`` (the
  account's cross collateral).

Every margin rule is :mod:`perpmargin.formulas`, compiled (:mod:`perpmargin.sim.compiled`):
these functions hold the loops, the tier lookups and the array layout, never a formula of
their own. One-way positions; inverse symbols arrive linear in x = 1/P.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from perpmargin.formulas import requirement_line as _requirement_line
from perpmargin.sim.compiled import (
    bankruptcy_price,
    close_fee,
    close_fee_price,
    line_root,
    maintenance_margin,
    pool_line,
    position_value,
    positive_part,
    requirement,
    requirement_line,
    settle_liquidation,
    standing_bankruptcy_price,
    trade_fee,
    unrealized_pnl,
)

__all__ = [
    "bankruptcy_kernel",
    "bankruptcy_one",
    "cross_liq_account",
    "cross_liq_kernel",
    "leg_requirement",
    "liq_price_kernel",
    "liq_price_one",
    "liquidation_return",
    "memory_read_kernel",
    "pool_state",
    "revalue_account",
    "revalue_kernel",
    "revalue_searched_kernel",
    "search_tables",
    "searched_tier",
    "tier_of",
    "trader_keeps",
]


ZERO_PRICE = 1e-9
"""A root below entry x 1e-9 is float noise around "no positive price liquidates"."""


@njit(cache=True, inline="always")
def tier_of(upper: np.ndarray, by_qty: np.ndarray, s: int, abs_qty: float, notional: float) -> int:
    """The tier holding a position of symbol ``s`` (at its own notional or quantity).

    Branch-free: count the bounds the position is past (the last tier's bound and the
    padding are ``inf``, never passed), so random positions cost no mispredictions.
    """
    k = 0
    if by_qty[s]:
        for j in range(upper.shape[1] - 1):
            k += abs_qty > upper[s, j]
    else:
        for j in range(upper.shape[1] - 1):
            k += notional >= upper[s, j]
    return k


@njit(cache=True, inline="always")
def leg_requirement(
    s: int,
    q: float,
    m: float,
    equity: float,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    fee_bk: np.ndarray,
) -> float:
    """Requirement of one leg (signed ``q``) marked at ``m``: tiered maintenance margin plus
    the fee to close at the venue's basis. For the bankruptcy basis (Bybit) the leg's
    bankruptcy price is where ``equity``, what backs it at ``m`` (its isolated margin +
    uPnL, or the cross equity), runs out
    (:func:`perpmargin.formulas.standing_bankruptcy_price`)."""
    aq = abs(q)
    notional = position_value(aq, m)
    k = tier_of(upper, by_qty, s, aq, notional)
    bankrupt = 0.0
    if fee_bk[s]:
        bankrupt = standing_bankruptcy_price(q, m, equity)
    fee_value = position_value(aq, close_fee_price(m, bankrupt, fee_bk[s]))
    return requirement(notional, mmr[s, k], amount[s, k], close_fee(fee[s], fee_value))


@njit(cache=True, inline="always")
def pool_state(
    lo: int,
    hi: int,
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    margin: np.ndarray,
    reserve: np.ndarray,
    marks: np.ndarray,
    balance: float,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    fee_bk: np.ndarray,
    iso_liq: np.ndarray,
    with_isolated: bool,
) -> tuple[float, float]:
    """Cross equity and requirement of positions ``lo .. hi - 1`` sharing ``balance`` at
    ``marks`` (per symbol); with ``with_isolated``, also each position's isolated flag
    (``margin[i]`` + uPnL <= its requirement) into ``iso_liq[i]``; ``reserve[i]``: the
    part of ``margin[i]`` that is a fee to close held in it (Bybit), left out of the
    bankruptcy price that fee is valued at.

    The fee to close counted in maintenance is valued per the venue's basis: at the mark
    (the isolated and the cross requirement are then the same), or at the bankruptcy
    price (Bybit): of the isolated leg backed by its margin, and of the cross leg backed
    by the whole cross equity, which needs a second pass once that equity is known.
    A position of size 0 (closed) counts nothing."""
    eq = balance
    mm = 0.0
    any_bk = False
    for i in range(lo, hi):
        if qty[i] == 0.0:
            if with_isolated:
                iso_liq[i] = 0
            continue
        s = sym[i]
        m = marks[s]
        u = unrealized_pnl(qty[i], entry[i], m)
        eq += u
        if with_isolated or not fee_bk[s]:
            req = leg_requirement(s, qty[i], m, margin[i] - reserve[i] + u, upper, mmr,
                                  amount, by_qty, fee, fee_bk)  # fmt: skip
            if with_isolated:
                iso_liq[i] = 1 if margin[i] + u <= req else 0
            if not fee_bk[s]:
                mm += req
        if fee_bk[s]:
            any_bk = True
    if any_bk:
        for i in range(lo, hi):
            s = sym[i]
            if fee_bk[s] and qty[i] != 0.0:
                m = marks[s]
                mm += leg_requirement(s, qty[i], m, eq, upper, mmr, amount, by_qty, fee,
                                      fee_bk)  # fmt: skip
    return eq, mm


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
    reserve: np.ndarray,
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
    eq, mm = pool_state(lo, hi, sym, qty, entry, margin, reserve, marks, balance[a], upper,
                        mmr, amount, by_qty, fee, fee_bk, iso_liq, True)  # fmt: skip
    cross_equity[a] = eq
    cross_mm[a] = mm
    cross_liq[a] = 1 if hi > lo and eq <= mm else 0


@njit(cache=True, parallel=True, fastmath=_FAST)
def revalue_kernel(
    offsets: np.ndarray,
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    margin: np.ndarray,
    reserve: np.ndarray,
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
            a, offsets, sym, qty, entry, margin, reserve, balance, marks, upper, mmr, amount,
            n_tiers, by_qty, fee, fee_bk, iso_liq, cross_equity, cross_mm, cross_liq,
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
    """Flat tables for :func:`revalue_searched_kernel` at these marks (mark-valued fees only).

    Each symbol gets ``width`` = 16 or 64 slots (a power of two >= its tier count, so a
    branch-free binary search of 4 or 6 steps finds the tier). ``qbound[s * width + j]``
    is the smallest |quantity| in tier j + 1: upper / mark for a notional table (tier
    at ``notional >= upper``), the next float above ``upper`` for a quantity table
    (tier at ``qty > upper``); padding is ``inf``. ``rate`` is the slope per unit of
    notional of the tier's requirement with a mark-valued fee to close
    (:func:`perpmargin.formulas.requirement_line`), ``amt`` its maintenance amount;
    padding repeats the last tier.
    """
    n_sym, k = upper.shape
    width = 16 if k <= 16 else 64
    if k > 64:
        raise ValueError(f"at most 64 tiers per symbol, got {k}")
    nt = n_tiers.astype(np.int64)[:, None]
    # every symbol at once (a stress grid holds a symbol per cell: 10^5 and more)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bounds = np.where(by_qty[:, None], np.nextafter(upper, np.inf), upper / marks[:, None])
    qbound = np.full((n_sym, width), np.inf)
    qbound[:, :k] = np.where(np.arange(k)[None, :] < nt - 1, bounds, np.inf)
    one, zero = np.ones_like(mmr), np.zeros_like(mmr)  # |q| = 1, no bankruptcy price
    _, slope = _requirement_line(one, mmr, amount, fee[:, None] + zero, zero, False)
    last = np.minimum(np.arange(width)[None, :], nt - 1)  # padding repeats the last tier
    rate = np.take_along_axis(np.asarray(slope, dtype=np.float64), last, axis=1)
    amt = np.take_along_axis(amount, last, axis=1)
    return width, qbound.ravel(), rate.ravel(), amt.ravel()


@njit(cache=True, inline="always")
def searched_tier(qbound: np.ndarray, base: int, abs_qty: float, wide: bool) -> int:
    """Index into :func:`search_tables`' flat arrays of the tier of ``abs_qty`` within
    the symbol whose table starts at ``base``: a branch-free binary search of 4
    comparisons (16 slots), or 6 when ``wide`` (64 slots), written out."""
    k = base
    if wide:
        k += 32 if abs_qty >= qbound[k + 31] else 0
        k += 16 if abs_qty >= qbound[k + 15] else 0
    k += 8 if abs_qty >= qbound[k + 7] else 0
    k += 4 if abs_qty >= qbound[k + 3] else 0
    k += 2 if abs_qty >= qbound[k + 1] else 0
    k += 1 if abs_qty >= qbound[k] else 0
    return k


@njit(cache=True, parallel=True, fastmath=_FAST)
def revalue_searched_kernel(
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
    iso_liq: np.ndarray,
    cross_equity: np.ndarray,
    cross_mm: np.ndarray,
    cross_liq: np.ndarray,
) -> None:
    """:func:`revalue_kernel` for venues without a bankruptcy-valued fee: accounts in
    parallel, one pass over each account's positions; the tier is a fixed-depth binary
    search over :func:`search_tables` (quantity bounds at these marks), the requirement
    one multiply-add. (A blocked two-phase version meant to vectorise, and one taking
    the largest of every tier's piece with no search, both ran slower on this work:
    186 M and 100-187 M positions/s against 250 M on 2 cores, benchmarks/run.py.)

    A position whose notional is within rounding of a tier bound may be put in the
    tier on the other side of it (the bound is compared as upper / mark); the tables
    are continuous there, so the requirement differs by rounding only.
    """
    wide = width == 64
    for a in prange(offsets.size - 1):
        eq = balance[a]
        mm = 0.0
        for i in range(offsets[a], offsets[a + 1]):
            s = sym[i]
            q = qty[i]
            m = marks[s]
            aq = abs(q)
            k = searched_tier(qbound, s * width, aq, wide)
            req = maintenance_margin(position_value(aq, m), rate[k], amt[k])
            u = unrealized_pnl(q, entry[i], m)
            iso_liq[i] = margin[i] + u <= req
            eq += u
            mm += req
        cross_equity[a] = eq
        cross_mm[a] = mm
        # a bool store: "1 if ... else 0" here made the kernel 40 % slower
        cross_liq[a] = offsets[a + 1] > offsets[a] and eq <= mm


@njit(cache=True, inline="always")
def liq_price_one(
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
    """Liquidation price of one leg (signed ``q``, entry ``e``) backed by ``collateral``
    (NaN: none > 0); ``bk_collateral`` backs it for the bankruptcy price at which a
    Bybit fee to close is valued. Within each tier the pool is a line in the price
    (:func:`perpmargin.formulas.pool_line`); the root that lies in its own tier is the
    answer (equity minus requirement is monotonic in the price, so exactly one does)."""
    aq = abs(q)
    at_bankruptcy = fee_bk[s]
    fee_rate = fee[s]
    bankrupt = 0.0
    if at_bankruptcy:
        bankrupt = positive_part(bankruptcy_price(q, e, bk_collateral))
    if by_qty[s]:  # the tier does not move with the price
        k = tier_of(upper, by_qty, s, aq, 0.0)
        req_a, req_b = requirement_line(aq, mmr[s, k], amount[s, k], fee_rate, bankrupt,
                                        at_bankruptcy)  # fmt: skip
        line_a, line_b = pool_line(q, e, req_a, req_b)
        p = line_root(collateral, line_a, line_b)
        return p if p > ZERO_PRICE * e else math.nan
    for k in range(n_tiers[s]):
        req_a, req_b = requirement_line(aq, mmr[s, k], amount[s, k], fee_rate, bankrupt,
                                        at_bankruptcy)  # fmt: skip
        line_a, line_b = pool_line(q, e, req_a, req_b)
        p = line_root(collateral, line_a, line_b)
        n = position_value(aq, p)
        lower = 0.0 if k == 0 else upper[s, k - 1]
        slack = 1e-12 * max(abs(n), 1.0)
        if p > ZERO_PRICE * e and n >= lower - slack and n < upper[s, k] + slack:
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
    subtracting the others' requirement).
    """
    for i in prange(sym.size):
        out[i] = liq_price_one(
            sym[i], qty[i], entry[i], collateral[i], bk_collateral[i], upper, mmr, amount,
            n_tiers, by_qty, fee, fee_bk,
        )  # fmt: skip


@njit(cache=True, inline="always")
def cross_liq_account(
    a: int,
    offsets: np.ndarray,
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    balance: np.ndarray,
    marks: np.ndarray,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    n_tiers: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    fee_bk: np.ndarray,
    out: np.ndarray,
) -> None:
    """Cross liquidation price of every position of account ``a``, the others held at
    ``marks``: the pool's equity and requirement in two passes over the account, then
    each position's collateral (the pool without its own uPnL and requirement) into
    :func:`liq_price_one`. One source for the CPU kernel and the CUDA one."""
    lo, hi = offsets[a], offsets[a + 1]
    eq = balance[a]
    for i in range(lo, hi):
        eq += unrealized_pnl(qty[i], entry[i], marks[sym[i]])
    mm = 0.0
    for i in range(lo, hi):
        mm += leg_requirement(sym[i], qty[i], marks[sym[i]], eq, upper, mmr, amount, by_qty,
                              fee, fee_bk)  # fmt: skip
    for i in range(lo, hi):
        s = sym[i]
        m = marks[s]
        own = unrealized_pnl(qty[i], entry[i], m)
        req = leg_requirement(s, qty[i], m, eq, upper, mmr, amount, by_qty, fee, fee_bk)
        out[i] = liq_price_one(s, qty[i], entry[i], eq - own - (mm - req), eq - own, upper,
                               mmr, amount, n_tiers, by_qty, fee, fee_bk)  # fmt: skip


@njit(cache=True, parallel=True)
def cross_liq_kernel(
    offsets: np.ndarray,
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    balance: np.ndarray,
    marks: np.ndarray,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    n_tiers: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    fee_bk: np.ndarray,
    out: np.ndarray,
) -> None:
    """Cross liquidation price of every position (NaN: none > 0), accounts in parallel,
    everything computed inside the kernel (no per-position set-up in numpy)."""
    for a in prange(offsets.size - 1):
        cross_liq_account(a, offsets, sym, qty, entry, balance, marks, upper, mmr, amount,
                          n_tiers, by_qty, fee, fee_bk, out)  # fmt: skip


@njit(cache=True, inline="always")
def bankruptcy_one(q: float, e: float, backing: float) -> float:
    """The price at which ``backing`` + q x (price - e) is zero (NaN: none > 0)."""
    p = bankruptcy_price(q, e, backing)
    return p if p > ZERO_PRICE * e else math.nan


@njit(cache=True, parallel=True)
def bankruptcy_kernel(
    qty: np.ndarray, entry: np.ndarray, backing: np.ndarray, out: np.ndarray
) -> None:
    """Bankruptcy price of each position backed by ``backing`` (isolated margin, or a
    cross leg's wallet plus the other legs' uPnL)."""
    for i in prange(qty.size):
        out[i] = bankruptcy_one(qty[i], entry[i], backing[i])


@njit(cache=True, inline="always")
def liquidation_return(
    collateral: float, q: float, e: float, at: float, fee_rate: float, to_trader: bool
) -> float:
    """What a one-leg pool liquidated at ``at`` gives back to the trader's wallet:
    :func:`perpmargin.formulas.settle_liquidation` of its collateral + PnL against the
    liquidation fee on its value there."""
    equity = collateral + unrealized_pnl(q, e, at)
    fee_due = trade_fee(position_value(abs(q), at), fee_rate)
    return settle_liquidation(equity, fee_due, to_trader)[1]


@njit(cache=True)
def trader_keeps(equity: np.ndarray, fee_due: np.ndarray, to_trader: bool) -> np.ndarray:
    """What pools closed by liquidation give back to the trader, element-wise:
    :func:`perpmargin.formulas.settle_liquidation` of each ``equity`` (collateral + PnL)
    against its liquidation ``fee_due``."""
    out = np.empty(equity.size)
    for i in range(equity.size):
        out[i] = settle_liquidation(equity[i], fee_due[i], to_trader)[1]
    return out


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
