"""Kernels of the mode advisor: every margin setting of a plan on the same paths.

One simulated path (the Monte Carlo's own steps: :func:`perpmargin.sim.mc_kernels.
advance_prices`) is walked once, and on it every way of holding the plan's positions:

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
from perpmargin.sim.mc_kernels import LIQUIDATED, NO_EXIT, advance_prices, exit_cash, first_exit

__all__ = ["advise_kernel", "score_kernel"]


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
) -> None:
    """Walk one path; write its outcomes into the given rows.

    ``iso_log_liq[i, g]``, ``iso_margin[i, g]``, ``iso_back[i, g]``: position i isolated
    with grid margin g: log liquidation level (NaN: never), margin, what a liquidation
    gives back. Pools: subset ``mask`` (bit i: position i) has pool sizes
    ``level_pool[level_start[mask]:level_start[mask + 1]]``, ascending. Outputs:
    ``iso_step[i, g]`` (step it was liquidated, -1: not) and ``iso_cash[i, g]`` (what it
    adds to the wallet by the end: margin back plus PnL less fees, or the liquidation's
    return), ``pool_step[l]`` and ``pool_final[l]`` (the pool's equity at the end).
    """
    n_assets = log_s0.size
    n_pos = sym.size
    n_grid = iso_margin.shape[1]
    n_masks = level_start.size - 1
    x = np.empty(n_assets)
    z = np.empty(n_assets)
    z_odd = np.empty(n_assets)
    px = np.empty(n_assets)
    alive = np.ones((n_pos, n_grid), dtype=np.uint8)
    closed = np.zeros(n_pos, dtype=np.uint8)  # a cross leg closed at its stop or target
    realized = np.zeros(n_pos)  # what that close added to the pool
    upnl = np.zeros(n_pos)
    req = np.zeros(n_pos)
    ptr = level_start[:-1].copy()  # each pool's smallest size still alive
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
        b0 = advance_prices(
            seed, path, t, model, drift, chol, jump_prob, jump_mu, jump_sigma, returns, block,
            b0, x, z, z_odd,
        )  # fmt: skip
        for i in range(n_pos):
            b = x[sym[i]]
            for g in range(n_grid):
                if alive[i, g] == 0:
                    continue
                hit = first_exit(qty[i], b, iso_log_liq[i, g], exits[0, i], exits[1, i])
                if hit == LIQUIDATED:
                    alive[i, g] = 0
                    iso_step[i, g] = t
                    iso_cash[i, g] = iso_back[i, g]
                elif hit != NO_EXIT:
                    alive[i, g] = 0
                    iso_cash[i, g] = iso_margin[i, g] + exit_cash(
                        qty[i], entry[i], exits[hit, i], taker
                    )
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
            end = level_start[mask + 1]
            if ptr[mask] >= end:
                continue
            base = 0.0  # the pool's PnL: closed legs' cash and open legs' marks
            n_open = 0
            for i in range(n_pos):
                if (mask >> i) & 1:
                    if closed[i] != 0:
                        base += realized[i]
                    else:
                        base += upnl[i]
                        n_open += 1
            while ptr[mask] < end:
                lvl = ptr[mask]
                eq = level_pool[lvl] + base
                mm = 0.0
                for i in range(n_pos):
                    if (mask >> i) & 1 and closed[i] == 0:
                        s = sym[i]
                        if fee_bk[s]:
                            mm += leg_requirement(
                                s, qty[i], px[s], eq, upper, mmr, amount, by_qty, fee, fee_bk
                            )
                        else:
                            mm += req[i]
                if not (eq <= mm and (n_open > 0 or eq < 0.0)):
                    break  # this pool and every bigger one stand
                fees = 0.0  # the pool closes at px: fee, remainder, deficit
                for i in range(n_pos):
                    if (mask >> i) & 1 and closed[i] == 0:
                        p = px[sym[i]]
                        fees += trade_fee(position_value(abs(qty[i]), p), liq_fee[sym[i]])
                pool_step[lvl] = t
                pool_final[lvl] = settle_liquidation(eq, fees, remainder_to_trader)[1]
                ptr[mask] = lvl + 1
    for s in range(n_assets):
        px[s] = math.exp(x[s])
    for i in range(n_pos):
        pnl = unrealized_pnl(qty[i], entry[i], px[sym[i]])
        upnl[i] = pnl
        for g in range(n_grid):
            if alive[i, g] != 0:
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
    for k in prange(n_paths):
        advise_path(
            seed, path_start + k, n_steps, model, log_s0, drift, chol, jump_prob, jump_mu,
            jump_sigma, returns, block, sym, qty, entry, exits, taker, iso_log_liq, iso_margin,
            iso_back, level_start, level_pool, remainder_to_trader, liq_fee, upper, mmr, amount,
            by_qty, fee, fee_bk, iso_step[k], iso_cash[k], pool_step[k], pool_final[k],
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
