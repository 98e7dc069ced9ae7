"""The Monte Carlo kernel in plain numpy: the reference backend (``backend="numpy"``).

:func:`perpmargin.sim.mc_kernels.mc_kernel` with the paths as the vector axis and the
steps as the loop: the same counter-based random numbers (SplitMix64 finaliser in
wrapping uint64 arithmetic, Marsaglia's polar method with the same tries), the same
additions in the same order, so a path gives the numba kernel's numbers. The one
source of difference is ``log``: numpy's and the C library's may differ in the last
bit, which moves a price by ~1e-16 relative (a liquidation step can differ only for a
path that ends a step within that of its threshold).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perpmargin import formulas as F

__all__ = ["mc_numpy", "normal_pair", "uniform"]

_U64 = np.uint64
_WRAP = 1 << 64
_GOLDEN = 0x9E3779B97F4A7C15
_W_PATH = 0xD1B54A32D192ED03
_W_STEP = 0xABC98388FB8FAC03
_W_LANE = 0x8CB92BA72F3D8DD7
_W_TRY = 0x5851F42D4C957F2D


def _mix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> _U64(27))) * _U64(0x94D049BB133111EB)
    out: np.ndarray = x ^ (x >> _U64(31))
    return out


def _base(seed: int, paths: np.ndarray, step: int, lane: int) -> np.ndarray:
    """The odd-weighted sum of (seed, path, step, lane) modulo 2**64 (``paths`` uint64;
    the scalar part in Python integers, array arithmetic wraps silently)."""
    const = (seed * _GOLDEN + step * _W_STEP + lane * _W_LANE) % _WRAP
    out: np.ndarray = _U64(const) + paths * _U64(_W_PATH)
    return out


def uniform(seed: int, paths: np.ndarray, step: int, lane: int) -> np.ndarray:
    """:func:`perpmargin.sim.mc_kernels.uniform` for many paths (uint64 array)."""
    h = _mix(_mix(_base(seed, paths, step, lane)) + _U64(_GOLDEN))
    out: np.ndarray = ((h >> _U64(11)).astype(np.float64) + 1.0) * (1.0 / 9007199254740992.0)
    return out


def normal_pair(
    seed: int, paths: np.ndarray, pair: int, asset: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`perpmargin.sim.mc_kernels.normal_pair` for many paths."""
    base = _base(seed, paths, pair, 4 * asset)
    z0 = np.zeros(paths.size)
    z1 = np.zeros(paths.size)
    todo = np.arange(paths.size)
    for attempt in range(64):
        h = _mix(base[todo] + _U64(attempt * _W_TRY % _WRAP))
        v1 = (h >> _U64(32)).astype(np.float64) * (2.0 / 4294967296.0) - 1.0
        v2 = (h & _U64(0xFFFFFFFF)).astype(np.float64) * (2.0 / 4294967296.0) - 1.0
        q = v1 * v1 + v2 * v2
        ok = (q > 0.0) & (q < 1.0)
        qk = q[ok]
        f = np.sqrt(-2.0 * np.log(qk) / qk)
        z0[todo[ok]] = v1[ok] * f
        z1[todo[ok]] = v2[ok] * f
        todo = todo[~ok]
        if todo.size == 0:
            break
    return z0, z1


def _tier(upper: np.ndarray, by_qty: np.ndarray, s: int, aq: float, notional: np.ndarray) -> Any:
    """The tier of one position on many paths (counting the bounds passed, as
    :func:`perpmargin.sim.kernels.tier_of` does)."""
    k = np.zeros(notional.size, dtype=np.int64)
    if by_qty[s]:
        k += int((aq > upper[s, :-1]).sum())
    else:
        for j in range(upper.shape[1] - 1):
            k += notional >= upper[s, j]
    return k


def _first_exit(q: float, b: np.ndarray, liq: float, stop: float, take: float) -> np.ndarray:
    """:func:`perpmargin.sim.mc_kernels.first_exit` for many paths (0 nothing, 1 the
    liquidation level, 2 the stop, 3 the take-profit; NaN levels never)."""
    if q > 0:
        lk, sk, tk = b <= liq, b <= stop, b >= take
        liq_first = liq >= stop
    else:
        lk, sk, tk = b >= liq, b >= stop, b <= take
        liq_first = liq <= stop
    out: np.ndarray = np.where(lk & (~sk | liq_first), 1, np.where(sk, 2, np.where(tk, 3, 0)))
    return out


def _exit_cash(q: float, entry: float, price: float, taker: float) -> float:
    """:func:`perpmargin.sim.mc_kernels.exit_cash`: the PnL less the taker fee."""
    out: float = F.unrealized_pnl(q, entry, price) - F.trade_fee(
        F.position_value(abs(q), price), taker
    )
    return out


# complexity waived (C901): the reference: the kernel's loop, step by step, to compare with it
def mc_numpy(  # noqa: C901
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
    """The arguments and outputs of :func:`perpmargin.sim.mc_kernels.mc_kernel`."""
    del n_tiers  # padding bounds are inf: counting the bounds passed finds the tier
    n_assets = log_s0.size
    n_pos = sym.size
    paths = np.arange(path_start, path_start + n_paths, dtype=np.uint64)
    iso_wallet = balance
    for i in range(n_pos):
        iso_wallet -= margin[i]
    lc = np.log(cross_liq_price) if not np.isnan(cross_liq_price) else np.nan
    x = np.repeat(log_s0[None, :], n_paths, axis=0).T.copy()  # [asset, path]
    z = np.zeros((n_assets, n_paths))
    z_odd = np.zeros((n_assets, n_paths))
    alive = np.ones((n_pos, n_paths), dtype=bool)
    first_iso = np.full(n_paths, -1, dtype=np.int64)
    iso_first_exit = np.full(n_paths, -1, dtype=np.int64)
    iso_cash = np.full(n_paths, iso_wallet)
    cross_alive = np.ones(n_paths, dtype=bool)
    c_open = np.ones((n_pos, n_paths), dtype=bool)
    c_bal = np.full(n_paths, balance)
    c_step = np.full(n_paths, -1, dtype=np.int64)
    c_first_exit = np.full(n_paths, -1, dtype=np.int64)
    c_final = np.zeros(n_paths)
    b0 = np.zeros(n_paths, dtype=np.int64)
    for t in range(n_steps):
        if model == 2:
            if t % block == 0:
                u = uniform(seed, paths, t, 7)
                b0 = (u * (returns.shape[0] - block)).astype(np.int64)
            for s in range(n_assets):
                x[s] += returns[b0 + t % block, s]
        else:
            if t % 2 == 0:
                for s in range(n_assets):
                    z[s], z_odd[s] = normal_pair(seed, paths, t >> 1, s)
            else:
                z[:] = z_odd
            for s in range(n_assets):
                acc = np.full(n_paths, drift[s])
                for j in range(s + 1):
                    acc += chol[s, j] * z[j]
                x[s] += acc
                if model == 1:
                    jumps = uniform(seed, paths, t, 4 * s + 2) <= jump_prob[s]
                    if jumps.any():
                        lane = s + n_assets
                        n0, n1 = normal_pair(seed, paths[jumps], t >> 1, lane)
                        size = n0 if t % 2 == 0 else n1
                        x[s, jumps] += jump_mu[s] + jump_sigma[s] * size
        for i in range(n_pos):
            what = _first_exit(qty[i], x[sym[i]], log_liq[i], exits[0, i], exits[1, i])
            liq = alive[i] & (what == 1)
            iso_cash[liq] += iso_return[i]
            first_iso[liq & (first_iso < 0)] = t
            for row in (2, 3):  # a stop, a take-profit: closed at its price
                hit = alive[i] & (what == row)
                iso_cash[hit] += margin[i] + _exit_cash(qty[i], entry[i], exits[row, i], taker)
                iso_first_exit[hit & (iso_first_exit < 0)] = t
            alive[i] &= what == 0
        active = cross_alive & c_open.any(axis=0)
        if not active.any():
            continue
        prices = [np.exp(x[s]) for s in range(n_assets)]
        if cross_single:
            what = _first_exit(qty[0], x[sym[0]], lc, exits[0, 0], exits[1, 0])
            hit = active & (what == 1)
            for row in (2, 3):
                done = active & (what == row)
                c_bal[done] += _exit_cash(qty[0], entry[0], exits[row, 0], taker)
                c_open[0, done] = False
                c_first_exit[done] = t
            prices = [np.full(n_paths, cross_liq_price)] * n_assets
        else:
            for i in range(n_pos):
                what = _first_exit(qty[i], x[sym[i]], np.nan, exits[0, i], exits[1, i])
                for row in (2, 3):
                    done = active & c_open[i] & (what == row)
                    c_bal[done] += _exit_cash(qty[i], entry[i], exits[row, i], taker)
                    c_open[i, done] = False
                    c_first_exit[done & (c_first_exit < 0)] = t
            cq = [np.where(c_open[i], qty[i], 0.0) for i in range(n_pos)]
            eq_v = c_bal.copy()
            for i in range(n_pos):
                eq_v += F.unrealized_pnl(cq[i], entry[i], prices[sym[i]])
            mm = np.zeros(n_paths)
            for i in range(n_pos):
                s = int(sym[i])
                aq = abs(qty[i])
                notional = F.position_value(aq, prices[s])
                k = _tier(upper, by_qty, s, aq, notional)
                # the fee to close at the mark, or at the leg's cross bankruptcy price
                fee_price = prices[s]
                if fee_bk[s]:  # formulas.standing_bankruptcy_price, element-wise
                    with np.errstate(divide="ignore", invalid="ignore"):
                        bankrupt = np.maximum(F.bankruptcy_price(qty[i], prices[s], eq_v), 0.0)
                    fee_price = np.where(eq_v <= 0, prices[s], bankrupt)
                fee_value = F.close_fee(fee[s], F.position_value(aq, fee_price))
                req = F.requirement(notional, mmr[s, k], amount[s, k], fee_value)
                mm += np.where(c_open[i], req, 0.0)  # a closed leg counts nothing
            hit = active & (eq_v <= mm) & (c_open.any(axis=0) | (eq_v < 0))
        if hit.any():
            eq_v = c_bal.copy()
            fees_v = np.zeros(n_paths)
            for i in range(n_pos):
                p = prices[sym[i]]
                cq_i = np.where(c_open[i], qty[i], 0.0)
                eq_v += F.unrealized_pnl(cq_i, entry[i], p)
                fees_v += F.trade_fee(F.position_value(np.abs(cq_i), p), liq_fee[sym[i]])
            cross_alive &= ~hit
            c_step[hit] = t
            c_final[hit] = [
                F.settle_liquidation(e, f, cross_remainder_to_trader)[1]
                for e, f in zip(eq_v[hit], fees_v[hit], strict=True)
            ]
    final_iso = iso_cash.copy()
    final_cross = c_bal.copy()
    for i in range(n_pos):
        p = np.exp(x[sym[i]])
        upnl = F.unrealized_pnl(qty[i], entry[i], p)
        final_iso[alive[i]] += (margin[i] + upnl)[alive[i]]
        final_cross += F.unrealized_pnl(np.where(c_open[i], qty[i], 0.0), entry[i], p)
    iso_step[:] = first_iso
    iso_final[:] = final_iso
    cross_step[:] = c_step
    cross_final[:] = np.where(cross_alive, final_cross, c_final)
    iso_exit[:] = iso_first_exit
    cross_exit[:] = c_first_exit
