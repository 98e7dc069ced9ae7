"""numba kernels of the Monte Carlo (see :mod:`perpmargin.sim.montecarlo` for the API).

Random numbers are counter-based: the normal for (seed, path, step, asset) is a pure
function of those four integers (splitmix64 finaliser -> 64-bit hashes split into two
32-bit uniforms -> Marsaglia's polar method, two normals per pair of steps),
so a path is the same whatever the chunking, the number of threads or the backend.

Price model per step, in log space, for asset ``s``::

    gbm:        x += drift[s] + sum_j chol[s, j] * z_j
    jump:       gbm, plus with probability jump_prob[s] a jump N(jump_mu[s], jump_sigma[s])
    bootstrap:  x += returns[b + (t mod block), s], b a block start drawn at every block

Between two steps a price moves in a straight line (in log space): whatever it crosses on
the way is reached at its own price, the first one crossed first (:func:`first_exit`,
liquidation first on a tie, as the replay and the sweep order them).

Per path and mode: isolated legs liquidate when the price crosses their (static) liquidation
price and are settled at that price; a stop or a take-profit crossed first closes the leg
at its price (a taker fee; the margin and the PnL go back to the wallet). The cross
account with one position compares its static liquidation price the same way; with
several it closes the legs whose stops or take-profits the step crossed (at their prices)
and is then checked at the step's prices with the tiered requirement
(:func:`perpmargin.sim.kernels.cross_state`: the engine's requirement, the fee to close at
the venue's basis) and settled at them. Every margin rule is :mod:`perpmargin.formulas`,
compiled.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from perpmargin.sim.compiled import position_value, settle_liquidation, trade_fee, unrealized_pnl
from perpmargin.sim.kernels import leg_requirement

__all__ = ["first_exit", "mc_kernel", "normal", "normal_pair", "simulate_path", "uniform"]


@njit(cache=True, inline="always")
def _mix(x: np.uint64) -> np.uint64:
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True, inline="always")
def uniform(seed: int, path: int, step: int, lane: int) -> float:
    """A uniform in (0, 1] from four integers."""
    h = _mix(
        np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        + np.uint64(path) * np.uint64(0xD1B54A32D192ED03)
        + np.uint64(step) * np.uint64(0xABC98388FB8FAC03)
        + np.uint64(lane) * np.uint64(0x8CB92BA72F3D8DD7)
    )
    h = _mix(h + np.uint64(0x9E3779B97F4A7C15))
    return (float(h >> np.uint64(11)) + 1.0) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def normal_pair(seed: int, path: int, pair: int, asset: int) -> tuple[float, float]:
    """Two independent standard normals for the pair of steps ``pair`` (Marsaglia's polar
    method: no sine or cosine). Each try is one 64-bit hash of (seed, path, pair, asset,
    try) — SplitMix64's finalizer over an odd-weighted sum of them, as SplitMix64 hashes
    its counter — split into two 32-bit uniforms; a try is kept when it falls inside the unit disc
    (pi / 4 of them), so the pair is still a pure function of the four integers."""
    base = (
        np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        + np.uint64(path) * np.uint64(0xD1B54A32D192ED03)
        + np.uint64(pair) * np.uint64(0xABC98388FB8FAC03)
        + np.uint64(4 * asset) * np.uint64(0x8CB92BA72F3D8DD7)
    )
    for attempt in range(64):
        h = _mix(base + np.uint64(attempt) * np.uint64(0x5851F42D4C957F2D))
        v1 = float(h >> np.uint64(32)) * (2.0 / 4294967296.0) - 1.0
        v2 = float(h & np.uint64(0xFFFFFFFF)) * (2.0 / 4294967296.0) - 1.0
        q = v1 * v1 + v2 * v2
        if 0.0 < q < 1.0:
            f = math.sqrt(-2.0 * math.log(q) / q)
            return v1 * f, v2 * f
    return 0.0, 0.0  # 64 misses in a row: probability (1 - pi/4)^64 ~ 1e-43


@njit(cache=True, inline="always")
def normal(seed: int, path: int, step: int, asset: int) -> float:
    """A standard normal from four integers.

    :func:`normal_pair` for the pair of steps ``step // 2``: the even step takes the
    first, the odd one the second (the kernel computes both once).
    """
    z0, z1 = normal_pair(seed, path, step >> 1, asset)
    return z0 if step % 2 == 0 else z1


NO_EXIT, LIQUIDATED, STOPPED, TOOK_PROFIT = 0, 1, 2, 3


@njit(cache=True, inline="always")
def first_exit(q: float, b: float, liq: float, stop: float, take: float) -> int:
    """What a step that ends at ``b`` reaches first for a position of signed size ``q``
    still open at the step's start (so the start is inside all three levels): 0 nothing,
    1 its liquidation level, 2 its stop, 3 its take-profit (NaN: none; all in the same
    log variable). Moving one way, the level nearer the start is crossed first;
    liquidation first on a tie."""
    if q > 0:
        lk = b <= liq
        sk = b <= stop
        if lk and (not sk or liq >= stop):
            return LIQUIDATED
        if sk:
            return STOPPED
        return TOOK_PROFIT if b >= take else NO_EXIT
    lk = b >= liq
    sk = b >= stop
    if lk and (not sk or liq <= stop):
        return LIQUIDATED
    if sk:
        return STOPPED
    return TOOK_PROFIT if b <= take else NO_EXIT


@njit(cache=True, inline="always")
def exit_cash(q: float, entry: float, price: float, taker: float) -> float:
    """What closing ``q`` (entered at ``entry``) at ``price`` adds to a wallet: the PnL
    less the taker fee on the value closed (a stop-market or take-profit-market order)."""
    return unrealized_pnl(q, entry, price) - trade_fee(position_value(abs(q), price), taker)


# complexity waived (C901): a kernel: one flat loop numba compiles (and CUDA runs) as one function
@njit(cache=True)
def simulate_path(  # noqa: C901
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
    margin: np.ndarray,
    log_liq: np.ndarray,
    iso_return: np.ndarray,
    balance: float,
    cross_remainder_to_trader: bool,
    liq_fee: np.ndarray,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    n_tiers: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    fee_bk: np.ndarray,
    cross_liq_price: float,
    cross_single: bool,
    exits: np.ndarray,
    taker: float,
    x: np.ndarray,
    z: np.ndarray,
    z_odd: np.ndarray,
    px: np.ndarray,
    alive: np.ndarray,
    cq: np.ndarray,
) -> tuple[int, float, int, float, int, int]:
    """One path of :func:`mc_kernel`: (first isolated liquidation step, isolated final
    equity, cross liquidation step, cross final equity, first isolated stop or
    take-profit step, first cross one); steps are -1 when none.

    ``x``, ``z``, ``z_odd``, ``px`` (at least one slot per asset), ``alive``
    (uint8) and ``cq`` (float, the cross legs' open sizes), one per position, are scratch
    space the caller provides: numpy arrays on the CPU, local arrays of a GPU thread
    (:mod:`perpmargin.sim.gpu` compiles this function for the device: one source for both).
    """
    n_assets = log_s0.size
    n_pos = sym.size
    iso_wallet = balance
    for i in range(n_pos):
        iso_wallet -= margin[i]
    has_lc = not math.isnan(cross_liq_price)
    lc = math.log(cross_liq_price) if has_lc else math.nan
    for s in range(n_assets):
        x[s] = log_s0[s]
    for i in range(n_pos):
        alive[i] = 1
        cq[i] = qty[i]
    first_iso = -1
    iso_exit = -1
    iso_cash = iso_wallet
    cross_alive = True
    c_open = n_pos
    c_bal = balance
    c_step = -1
    c_exit = -1
    c_final = 0.0
    b0 = 0
    for t in range(n_steps):
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
            if alive[i] == 0:
                continue
            hit = first_exit(qty[i], x[sym[i]], log_liq[i], exits[0, i], exits[1, i])
            if hit == LIQUIDATED:
                alive[i] = 0
                iso_cash += iso_return[i]
                if first_iso < 0:
                    first_iso = t
            elif hit != NO_EXIT:
                alive[i] = 0
                iso_cash += margin[i] + exit_cash(qty[i], entry[i], exits[hit, i], taker)
                if iso_exit < 0:
                    iso_exit = t
        if cross_alive and c_open > 0:
            if cross_single:
                hit = first_exit(qty[0], x[sym[0]], lc, exits[0, 0], exits[1, 0])
                if hit == LIQUIDATED:  # settled at the liquidation price
                    cross_alive = False
                    c_step = t
                    for s in range(n_assets):
                        px[s] = cross_liq_price
                elif hit != NO_EXIT:
                    c_bal += exit_cash(qty[0], entry[0], exits[hit, 0], taker)
                    cq[0] = 0.0
                    c_open = 0
                    c_exit = t
            else:
                # the legs whose stop or take-profit the step crossed close at their
                # prices; the pool is then checked at the step's prices
                for i in range(n_pos):
                    if cq[i] == 0.0:
                        continue
                    hit = first_exit(qty[i], x[sym[i]], math.nan, exits[0, i], exits[1, i])
                    if hit != NO_EXIT:
                        c_bal += exit_cash(qty[i], entry[i], exits[hit, i], taker)
                        cq[i] = 0.0
                        c_open -= 1
                        if c_exit < 0:
                            c_exit = t
                for s in range(n_assets):
                    px[s] = math.exp(x[s])
                eq = c_bal
                for i in range(n_pos):
                    eq += unrealized_pnl(cq[i], entry[i], px[sym[i]])
                mm = 0.0  # (a fee to close at the bankruptcy price needs the whole equity)
                for i in range(n_pos):
                    if cq[i] != 0.0:
                        s = sym[i]
                        mm += leg_requirement(s, cq[i], px[s], eq, upper, mmr, amount, by_qty,
                                              fee, fee_bk)  # fmt: skip
                if eq <= mm and (c_open > 0 or eq < 0.0):
                    cross_alive = False
                    c_step = t
            if not cross_alive:  # the pool closed at px: fee, remainder, deficit
                eq = c_bal
                fees = 0.0
                for i in range(n_pos):
                    p = px[sym[i]]
                    eq += unrealized_pnl(cq[i], entry[i], p)
                    fees += trade_fee(position_value(abs(cq[i]), p), liq_fee[sym[i]])
                c_final = settle_liquidation(eq, fees, cross_remainder_to_trader)[1]
    final_iso = iso_cash
    final_cross = c_bal
    for i in range(n_pos):
        p = math.exp(x[sym[i]])
        if alive[i] != 0:
            final_iso += margin[i] + unrealized_pnl(qty[i], entry[i], p)
        final_cross += unrealized_pnl(cq[i], entry[i], p)
    c_out = final_cross if cross_alive else c_final
    return first_iso, final_iso, c_step, c_out, iso_exit, c_exit


@njit(cache=True, parallel=True)
def mc_kernel(
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
    margin: np.ndarray,
    log_liq: np.ndarray,
    iso_return: np.ndarray,
    balance: float,
    cross_remainder_to_trader: bool,
    liq_fee: np.ndarray,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    n_tiers: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    fee_bk: np.ndarray,
    cross_liq_price: float,
    cross_single: bool,
    exits: np.ndarray,
    taker: float,
    iso_step: np.ndarray,
    iso_final: np.ndarray,
    cross_step: np.ndarray,
    cross_final: np.ndarray,
    iso_exit: np.ndarray,
    cross_exit: np.ndarray,
) -> None:
    """Simulate paths ``path_start .. path_start + n_paths - 1`` (results at 0..n_paths-1).

    ``model``: 0 gbm, 1 jump, 2 bootstrap. ``log_liq[i]``: log of position i's isolated
    liquidation price (NaN: never). ``iso_return[i]``: what the trader gets back when it
    is liquidated. ``cross_single``: every position is on one symbol, so the cross
    liquidation price ``cross_liq_price`` is static (NaN: never) and is compared instead
    of revaluing. ``exits[:, i]``: position i's log stop, log take-profit, stop price and
    take-profit price in the kernel's variable (NaN: none); ``taker``: the fee rate of
    their market orders. Outputs: first liquidation step (-1: none) and final equity per
    mode, then the first step a stop or take-profit closed a position per mode.
    """
    n_assets = log_s0.size
    for k in prange(n_paths):
        x = np.empty(n_assets)
        z = np.empty(n_assets)
        z_odd = np.empty(n_assets)
        px = np.empty(n_assets)
        alive = np.empty(sym.size, dtype=np.uint8)
        cq = np.empty(sym.size)
        (iso_step[k], iso_final[k], cross_step[k], cross_final[k], iso_exit[k],
         cross_exit[k]) = simulate_path(
            seed, path_start + k, n_steps, model, log_s0, drift, chol, jump_prob, jump_mu,
            jump_sigma, returns, block, sym, qty, entry, margin, log_liq, iso_return, balance,
            cross_remainder_to_trader, liq_fee, upper, mmr, amount, n_tiers, by_qty, fee,
            fee_bk, cross_liq_price, cross_single, exits, taker, x, z, z_odd, px,
            alive, cq,
        )  # fmt: skip
