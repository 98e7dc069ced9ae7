"""Kernels of the mode advisor: every margin setting of a plan on the same paths.

One simulated path (the Monte Carlo's own steps: the same random numbers and rule as
:func:`perpmargin.sim.mc_kernels.simulate_path`, checked path by path in the tests) is
walked once, and on it every way of holding the plan's positions:

- each position **isolated** with each margin of the grid (its liquidation level is
  static: its own first passage);
- each **cross pool**: a subset of the positions sharing a pool, at every pool size the
  settings give it. On one path a bigger pool is liquidated later or never (what backs
  the legs only grows with it, and the fee to close at the bankruptcy price only falls),
  so each subset checks only its smallest pool still alive at each step.

A setting's outcome on the path is then its pool's plus its isolated positions': the
same per-path money as the Monte Carlo kernel, for all settings at once. Positions are
linear in the kernel's variable (1 / price for an inverse symbol), money in the settle
asset, as in :mod:`perpmargin.sim.mc_kernels`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from perpmargin.sim.compiled import (
    position_value,
    settle_liquidation,
    trade_fee,
    unrealized_pnl,
)
from perpmargin.sim.kernels import leg_requirement
from perpmargin.sim.mc_kernels import (
    LIQUIDATED,
    NO_EXIT,
    exit_cash,
    first_exit,
    normal,
    normal_pair,
    uniform,
)

__all__ = ["advise_kernel", "score_kernel", "summary_kernel"]


# complexity waived (C901): a kernel: one flat loop numba compiles as one function
@njit(cache=True)
def advise_path(  # noqa: C901
    seed: int,
    path: int,
    n_steps: int,
    model: int,
    log_s0: np.ndarray,
    drift: np.ndarray,
    chol: np.ndarray,
    jump_prob: np.ndarray,
    jump_mu: np.ndarray,
    jump_sigma: np.ndarray,
    returns: np.ndarray,
    block: int,
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    exits: np.ndarray,
    taker: float,
    iso_log_liq: np.ndarray,
    iso_margin: np.ndarray,
    iso_back: np.ndarray,
    level_start: np.ndarray,
    level_pool: np.ndarray,
    remainder_to_trader: bool,
    liq_fee: np.ndarray,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    fee_bk: np.ndarray,
    iso_step: np.ndarray,
    iso_cash: np.ndarray,
    pool_step: np.ndarray,
    pool_final: np.ndarray,
    x: np.ndarray,
    z: np.ndarray,
    z_odd: np.ndarray,
    px: np.ndarray,
    lo: np.ndarray,
    closed: np.ndarray,
    realized: np.ndarray,
    upnl: np.ndarray,
    req: np.ndarray,
    ptr: np.ndarray,
    m_base: np.ndarray,
    m_open: np.ndarray,
    m_req: np.ndarray,
    m_bk: np.ndarray,
) -> None:
    """Walk one path; write its outcomes into the given rows.

    ``iso_log_liq[i, g]``, ``iso_margin[i, g]``, ``iso_back[i, g]``: position i isolated
    with grid margin g: log liquidation level (NaN: never), margin, what a liquidation
    gives back. Pools: subset ``mask`` (bit i: position i) has pool sizes
    ``level_pool[level_start[mask]:level_start[mask + 1]]``, ascending. Outputs:
    ``iso_step[i, g]`` (step it was liquidated, -1: not) and ``iso_cash[i, g]`` (what it
    adds to the wallet by the end: margin back plus PnL less fees, or the liquidation's
    return), ``pool_step[l]`` and ``pool_final[l]`` (the pool's equity at the end).

    The rest is scratch space the caller provides (numpy arrays on the CPU, local arrays
    of a GPU thread: :mod:`perpmargin.sim.gpu` compiles this function for the device):
    ``x``, ``z``, ``z_odd``, ``px`` one slot per asset; ``lo`` (int64), ``closed``
    (uint8), ``realized``, ``upnl``, ``req`` one per position; ``ptr``, ``m_open``,
    ``m_bk`` (int64), ``m_base``, ``m_req`` one per subset of positions (``2 ** n``).
    """
    n_assets = log_s0.size
    n_pos = sym.size
    n_grid = iso_margin.shape[1]
    n_masks = level_start.size - 1
    for i in range(n_pos):
        lo[i] = 0  # each position's nearest live grid margin
        closed[i] = 0  # a cross leg closed at its stop or target
        realized[i] = 0.0  # what that close added to the pool
        upnl[i] = 0.0
        req[i] = 0.0
    for mask in range(n_masks):
        ptr[mask] = level_start[mask]  # each pool's smallest size still alive
        m_base[mask] = 0.0  # per pool, this step: PnL, open legs, requirement
        m_open[mask] = 0
        m_req[mask] = 0.0
        m_bk[mask] = 0  # open legs whose fee needs the equity
    for s in range(n_assets):
        x[s] = log_s0[s]
    for i in range(n_pos):
        for g in range(n_grid):
            iso_step[i, g] = -1
            iso_cash[i, g] = 0.0
    for lvl in range(level_pool.size):
        pool_step[lvl] = -1
    b0 = 0
    for t in range(n_steps):
        # the step: as simulate_path's (written out: a shared inlined function made both
        # kernels 2x slower; tests/sim/test_advisor.py checks they walk the same paths)
        if model == 2:
            if t % block == 0:
                b0 = int(uniform(seed, path, t, 7) * (returns.shape[0] - block))
            for s in range(n_assets):
                x[s] += returns[b0 + t % block, s]
        else:
            if t % 2 == 0:  # one polar-method pair serves this step and the next
                pair = t >> 1
                for s in range(n_assets):
                    z[s], z_odd[s] = normal_pair(seed, path, pair, s)
            else:
                for s in range(n_assets):
                    z[s] = z_odd[s]
            for s in range(n_assets):
                acc = drift[s]
                for j in range(s + 1):
                    acc += chol[s, j] * z[j]
                x[s] += acc
                if model == 1 and uniform(seed, path, t, 4 * s + 2) <= jump_prob[s]:
                    x[s] += jump_mu[s] + jump_sigma[s] * normal(seed, path, t, s + n_assets)
        for i in range(n_pos):
            b = x[sym[i]]
            # isolated: grid margins ascend, so liquidation levels recede (NaN last):
            # the live ones are a suffix lo..; check from the nearest level outwards
            g = lo[i]
            while g < n_grid:
                hit = first_exit(qty[i], b, iso_log_liq[i, g], exits[0, i], exits[1, i])
                if hit == LIQUIDATED:
                    iso_step[i, g] = t
                    iso_cash[i, g] = iso_back[i, g]
                    g += 1
                    continue
                if hit != NO_EXIT:  # the stop or the target closes every margin left
                    cash = exit_cash(qty[i], entry[i], exits[hit, i], taker)
                    for h in range(g, n_grid):
                        iso_cash[i, h] = iso_margin[i, h] + cash
                    g = n_grid
                break  # no farther level is reached either
            lo[i] = g
            if closed[i] == 0:  # the leg in a cross pool: its stop or target closes it
                hit = first_exit(qty[i], b, math.nan, exits[0, i], exits[1, i])
                if hit != NO_EXIT:
                    closed[i] = 1
                    realized[i] = exit_cash(qty[i], entry[i], exits[hit, i], taker)
        for s in range(n_assets):
            px[s] = math.exp(x[s])
        for i in range(n_pos):
            if closed[i] == 0:
                s = sym[i]
                upnl[i] = unrealized_pnl(qty[i], entry[i], px[s])
                if not fee_bk[s]:  # the same for every pool: once a step
                    req[i] = leg_requirement(
                        s, qty[i], px[s], 0.0, upper, mmr, amount, by_qty, fee, fee_bk
                    )
        for mask in range(1, n_masks):
            # the pool's PnL (closed legs' cash, open legs' marks), open legs and their
            # requirement that does not depend on the equity: its lowest leg added to
            # the sums of the mask without it (computed just before: a smaller number)
            i = 0
            while not (mask >> i) & 1:
                i += 1
            rest = mask & (mask - 1)
            if closed[i] != 0:
                m_base[mask] = m_base[rest] + realized[i]
                m_open[mask] = m_open[rest]
                m_req[mask] = m_req[rest]
                m_bk[mask] = m_bk[rest]
            else:
                m_base[mask] = m_base[rest] + upnl[i]
                m_open[mask] = m_open[rest] + 1
                if fee_bk[sym[i]]:
                    m_req[mask] = m_req[rest]
                    m_bk[mask] = m_bk[rest] + 1
                else:
                    m_req[mask] = m_req[rest] + req[i]
                    m_bk[mask] = m_bk[rest]
            end = level_start[mask + 1]
            base = m_base[mask]
            n_open = m_open[mask]
            while ptr[mask] < end:
                lvl = ptr[mask]
                eq = level_pool[lvl] + base
                mm = m_req[mask]
                if m_bk[mask] > 0:  # the fee to close at the bankruptcy price: per pool
                    for j in range(n_pos):
                        if (mask >> j) & 1 and closed[j] == 0 and fee_bk[sym[j]]:
                            s = sym[j]
                            mm += leg_requirement(
                                s, qty[j], px[s], eq, upper, mmr, amount, by_qty, fee, fee_bk
                            )
                if not (eq <= mm and (n_open > 0 or eq < 0.0)):
                    break  # this pool and every bigger one stand
                fees = 0.0  # the pool closes at px: fee, remainder, deficit
                for j in range(n_pos):
                    if (mask >> j) & 1 and closed[j] == 0:
                        p = px[sym[j]]
                        fees += trade_fee(position_value(abs(qty[j]), p), liq_fee[sym[j]])
                pool_step[lvl] = t
                pool_final[lvl] = settle_liquidation(eq, fees, remainder_to_trader)[1]
                ptr[mask] = lvl + 1
    for s in range(n_assets):
        px[s] = math.exp(x[s])
    for i in range(n_pos):
        pnl = unrealized_pnl(qty[i], entry[i], px[sym[i]])
        upnl[i] = pnl
        for g in range(lo[i], n_grid):
            iso_cash[i, g] = iso_margin[i, g] + pnl
    for mask in range(1, n_masks):
        base = 0.0
        for i in range(n_pos):
            if (mask >> i) & 1:
                base += realized[i] if closed[i] != 0 else upnl[i]
        for lvl in range(ptr[mask], level_start[mask + 1]):
            pool_final[lvl] = level_pool[lvl] + base


@njit(cache=True, parallel=True)
def advise_kernel(
    seed: int,
    path_start: int,
    n_paths: int,
    n_steps: int,
    model: int,
    log_s0: np.ndarray,
    drift: np.ndarray,
    chol: np.ndarray,
    jump_prob: np.ndarray,
    jump_mu: np.ndarray,
    jump_sigma: np.ndarray,
    returns: np.ndarray,
    block: int,
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    exits: np.ndarray,
    taker: float,
    iso_log_liq: np.ndarray,
    iso_margin: np.ndarray,
    iso_back: np.ndarray,
    level_start: np.ndarray,
    level_pool: np.ndarray,
    remainder_to_trader: bool,
    liq_fee: np.ndarray,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    fee_bk: np.ndarray,
    iso_step: np.ndarray,
    iso_cash: np.ndarray,
    pool_step: np.ndarray,
    pool_final: np.ndarray,
) -> None:
    """:func:`advise_path` for paths ``path_start ..`` (rows 0 .. n_paths - 1)."""
    n_assets = log_s0.size
    n_pos = sym.size
    n_masks = level_start.size - 1
    for k in prange(n_paths):
        advise_path(
            seed, path_start + k, n_steps, model, log_s0, drift, chol, jump_prob, jump_mu,
            jump_sigma, returns, block, sym, qty, entry, exits, taker, iso_log_liq, iso_margin,
            iso_back, level_start, level_pool, remainder_to_trader, liq_fee, upper, mmr, amount,
            by_qty, fee, fee_bk, iso_step[k], iso_cash[k], pool_step[k], pool_final[k],
            np.empty(n_assets), np.empty(n_assets), np.empty(n_assets), np.empty(n_assets),
            np.empty(n_pos, dtype=np.int64), np.empty(n_pos, dtype=np.uint8), np.empty(n_pos),
            np.empty(n_pos), np.empty(n_pos), np.empty(n_masks, dtype=np.int64),
            np.empty(n_masks), np.empty(n_masks, dtype=np.int64), np.empty(n_masks),
            np.empty(n_masks, dtype=np.int64),
        )  # fmt: skip


@njit(cache=True, parallel=True)
def score_kernel(
    iso_step: np.ndarray,
    iso_cash: np.ndarray,
    pool_step: np.ndarray,
    pool_final: np.ndarray,
    cand_grid: np.ndarray,
    cand_level: np.ndarray,
    cand_pool: np.ndarray,
    final: np.ndarray,
    first_liq: np.ndarray,
) -> None:
    """Every setting's outcome on every path: ``final[c, k]`` its equity at the end,
    ``first_liq[c, k]`` the step of its first liquidation (-1: none).

    Setting c holds position i isolated with grid margin ``cand_grid[c, i]`` (-1: in the
    pool) and its pool at level ``cand_level[c]`` (-1: no position in the pool, whose
    money ``cand_pool[c]`` then stays as it is).
    """
    n_paths = iso_step.shape[0]
    n_cand, n_pos = cand_grid.shape
    for k in prange(n_paths):
        for c in range(n_cand):
            lvl = cand_level[c]
            if lvl >= 0:
                total = pool_final[k, lvl]
                first = pool_step[k, lvl]
            else:
                total = cand_pool[c]
                first = -1
            for i in range(n_pos):
                g = cand_grid[c, i]
                if g >= 0:
                    total += iso_cash[k, i, g]
                    st = iso_step[k, i, g]
                    if st >= 0 and (first < 0 or st < first):
                        first = st
            final[c, k] = total
            first_liq[c, k] = first


@njit(cache=True, parallel=True)
def summary_kernel(
    final: np.ndarray,
    first: np.ndarray,
    start: float,
    ruin_level: float,
    log_floor: float,
    bounds: np.ndarray,
    counts: np.ndarray,
    sums: np.ndarray,
    cvar: np.ndarray,
    batch_growth: np.ndarray,
    batch_cvar: np.ndarray,
    median_step: np.ndarray,
) -> None:
    """Each setting's (row's) summary over its paths, in one pass a row.

    ``counts[c]``: liquidated paths, ruined paths (final <= ``ruin_level``); ``sums[c]``:
    sum of final equity, sum of log growth ``log(max(final, log_floor) / start)``;
    ``cvar[c]``: mean loss (start - final) over the worst 5 % (at least one) of paths;
    per batch of paths ``bounds[b]..bounds[b + 1]``: mean log growth and CVaR;
    ``median_step[c]``: median liquidation step (NaN: none).
    """
    n_cand, n = final.shape
    n_batches = bounds.size - 1
    for c in prange(n_cand):
        loss = np.empty(n)
        steps = np.empty(n)
        n_liq = 0
        n_ruin = 0
        total = 0.0
        growth = 0.0
        for b in range(n_batches):
            g_sum = 0.0
            for k in range(bounds[b], bounds[b + 1]):
                f = float(final[c, k])
                loss[k] = start - f
                total += f
                g = math.log(max(f, log_floor) / start)
                growth += g
                g_sum += g
                if f <= ruin_level:
                    n_ruin += 1
                if first[c, k] >= 0:
                    steps[n_liq] = first[c, k]
                    n_liq += 1
            size = bounds[b + 1] - bounds[b]
            batch_growth[c, b] = g_sum / size
            seg = loss[bounds[b] : bounds[b + 1]].copy()
            batch_cvar[c, b] = _tail_mean(seg)
        counts[c, 0] = n_liq
        counts[c, 1] = n_ruin
        sums[c, 0] = total
        sums[c, 1] = growth
        cvar[c] = _tail_mean(loss)
        median_step[c] = np.median(steps[:n_liq]) if n_liq > 0 else math.nan


@njit(cache=True)
def _tail_mean(loss: np.ndarray) -> float:
    """Mean of the largest 5 % (at least one) of ``loss`` (reorders it)."""
    n = loss.size
    k = max(1, math.ceil(0.05 * n))
    part = np.partition(loss, n - k)
    return float(part[n - k :].mean())
