"""CUDA backend (numba.cuda): revaluation (one thread per account), liquidation and
bankruptcy prices (per position), Monte Carlo (per path) and the sweep (per combination).

Needs a CUDA GPU, or ``NUMBA_ENABLE_CUDASIM=1`` to run the same kernels on the CPU
(slow; for tests). ``available()`` tells which. The kernels are thin launchers around
the CPU kernels' own per-item functions (an account, a position, a path, a combination)
compiled for the device by :func:`perpmargin.sim.compiled.device`, which points every
compiled function they call (the rules of :mod:`perpmargin.formulas` among them) at its
device version: one source for both targets.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from perpmargin.errors import PerpMarginError
from perpmargin.sim.compiled import device

if TYPE_CHECKING:
    from perpmargin.sim.fast import Portfolio, Revaluation
    from perpmargin.sim.tiers import TierArrays

__all__ = [
    "MAX_ADVISE_POSITIONS",
    "MAX_ASSETS",
    "MAX_POSITIONS",
    "advise_cuda",
    "available",
    "bankruptcy_prices_cuda",
    "liq_prices_cuda",
    "mc_cuda",
    "revalue_cuda",
    "revalue_cuda_streamed",
    "sweep_cuda",
]

MAX_ASSETS = 8
"""Symbols a CUDA Monte Carlo can hold (a thread keeps its prices in registers)."""
MAX_POSITIONS = 32
"""Positions a CUDA Monte Carlo can hold."""
MAX_ADVISE_POSITIONS = 8
"""Positions a CUDA advisor run can hold (a thread keeps a pool per subset: 2 ** 8)."""

if not hasattr(np, "row_stack"):  # numpy 2.5 removed it; numba-cuda 0.30 still calls it
    setattr(np, "row_stack", np.vstack)  # noqa: B010

try:  # module level, so the CUDA simulator can swap it inside kernels
    from numba import cuda
except ImportError:  # pragma: no cover
    cuda = None

_KERNEL: dict[str, Any] = {}


def available() -> bool:
    """True when numba.cuda can run kernels (a GPU, or the simulator)."""
    try:
        return cuda is not None and bool(cuda.is_available())
    except Exception:  # pragma: no cover - no CUDA toolkit at all
        return False


def _kernel() -> Any:
    if "revalue" in _KERNEL:
        return _KERNEL["revalue"]
    from perpmargin.sim import kernels

    account = device(kernels.revalue_account)

    @cuda.jit
    def revalue(  # type: ignore[no-untyped-def]
        offsets, sym, qty, entry, margin, reserve, balance, marks, upper, mmr, amount, n_tiers,
        by_qty, fee, fee_bk, iso_liq, cross_equity, cross_mm, cross_liq,
    ):  # fmt: skip
        a = cuda.grid(1)
        if a < offsets.size - 1:
            account(
                a, offsets, sym, qty, entry, margin, reserve, balance, marks, upper, mmr,
                amount, n_tiers, by_qty, fee, fee_bk, iso_liq, cross_equity, cross_mm,
                cross_liq,
            )  # fmt: skip

    _KERNEL["revalue"] = revalue
    return revalue


def revalue_cuda(portfolio: Portfolio, marks: np.ndarray, tiers: TierArrays) -> Revaluation:
    """:func:`perpmargin.sim.fast.revalue` on the GPU (same formulas, same results)."""
    from perpmargin.sim.fast import Revaluation

    p = portfolio
    a = p.n_accounts
    out = Revaluation(
        np.empty(p.n_positions, dtype=np.uint8),
        np.empty(a),
        np.empty(a),
        np.empty(a, dtype=np.uint8),
    )
    inputs = (
        p.offsets, p.sym, p.qty, p.entry, p.margin, p.fee_reserve, p.balance, marks,
        *tiers.args(),
    )  # fmt: skip
    outputs = (out.iso_liquidated, out.cross_equity, out.cross_maintenance, out.cross_liquidated)
    _launch(_kernel, a, inputs, outputs)
    return out


def revalue_cuda_streamed(
    portfolio: Portfolio,
    marks: np.ndarray,
    tiers: TierArrays,
    *,
    chunk_accounts: int = 1_000_000,
    streams: int = 2,
) -> Revaluation:
    """:func:`revalue_cuda` for books that do not stay on the device: the accounts cut
    into chunks of ``chunk_accounts``, each staged in pinned (page-locked) host memory and
    copied in, run and copied out on one of ``streams`` CUDA streams in turn, so one
    chunk's copies overlap another's kernel. The marks and tier tables are copied once.
    Same results as :func:`revalue_cuda` (the same kernel, chunk by chunk)."""
    from perpmargin.sim.fast import Revaluation

    if not available():
        raise PerpMarginError("backend='cuda' needs a CUDA GPU (or NUMBA_ENABLE_CUDASIM=1)")
    if chunk_accounts < 1 or streams < 1:
        raise PerpMarginError("chunk_accounts and streams must be >= 1")
    p = portfolio
    n_acc = p.n_accounts
    out = Revaluation(
        np.empty(p.n_positions, dtype=np.uint8), np.empty(n_acc), np.empty(n_acc),
        np.empty(n_acc, dtype=np.uint8),
    )  # fmt: skip
    starts = list(range(0, n_acc, chunk_accounts))
    if not starts:
        return out
    width = max(int(p.offsets[min(a + chunk_accounts, n_acc)] - p.offsets[a]) for a in starts)
    rows = min(chunk_accounts, n_acc)
    resident = [
        cuda.to_device(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
        for x in (marks, *tiers.args())
    ]
    # per stream: pinned host buffers and device arrays of the largest chunk, reused
    per_pos = (p.sym, p.qty, p.entry, p.margin, p.fee_reserve)
    lanes = []
    for _ in range(min(streams, len(starts))):
        host_in = [cuda.pinned_array(rows + 1, dtype=p.offsets.dtype)]
        host_in += [cuda.pinned_array(width, dtype=x.dtype) for x in per_pos]
        host_in.append(cuda.pinned_array(rows, dtype=p.balance.dtype))
        host_out = [cuda.pinned_array(width, dtype=np.uint8)] + [
            cuda.pinned_array(rows, dtype=d) for d in (np.float64, np.float64, np.uint8)
        ]
        lanes.append({
            "stream": cuda.stream(),
            "host_in": host_in,
            "dev_in": [cuda.device_array(h.shape, dtype=h.dtype) for h in host_in],
            "host_out": host_out,
            "dev_out": [cuda.device_array(h.shape, dtype=h.dtype) for h in host_out],
            "pending": None,
        })  # fmt: skip
    kernel = _kernel()
    threads = 128

    def collect(lane: dict[str, Any]) -> None:
        """Wait for the lane's chunk and copy its results into ``out``."""
        if lane["pending"] is None:
            return
        lane["stream"].synchronize()
        a0, a1, lo, hi = lane["pending"]
        flags, eq, mm, liq = lane["host_out"]
        out.iso_liquidated[lo:hi] = flags[: hi - lo]
        out.cross_equity[a0:a1] = eq[: a1 - a0]
        out.cross_maintenance[a0:a1] = mm[: a1 - a0]
        out.cross_liquidated[a0:a1] = liq[: a1 - a0]
        lane["pending"] = None

    with warnings.catch_warnings():
        from numba import config

        if config.ENABLE_CUDASIM:
            warnings.simplefilter("ignore", RuntimeWarning)
        for k, a0 in enumerate(starts):
            lane = lanes[k % len(lanes)]
            collect(lane)  # its buffers are free again
            a1 = min(a0 + chunk_accounts, n_acc)
            c = p.chunk(a0, a1)
            lo, hi = int(p.offsets[a0]), int(p.offsets[a1])
            stream = lane["stream"]
            sizes = (a1 - a0 + 1, *([hi - lo] * len(per_pos)), a1 - a0)
            for h, d, x, n in zip(lane["host_in"], lane["dev_in"],
                                  (c.offsets, *(x[lo:hi] for x in per_pos), c.balance), sizes,
                                  strict=True):  # fmt: skip
                h[:n] = x
                d[:n].copy_to_device(h[:n], stream=stream)
            n_pos_out, n_acc_out = hi - lo, a1 - a0
            dev_out = [lane["dev_out"][0][:n_pos_out]] + [
                d[:n_acc_out] for d in lane["dev_out"][1:]
            ]
            offsets_d, *pos_d = (d[:n] for d, n in zip(lane["dev_in"], sizes, strict=True))
            balance_d = pos_d.pop()
            blocks = max(1, (a1 - a0 + threads - 1) // threads)
            kernel[blocks, threads, stream](offsets_d, *pos_d[:4], pos_d[4], balance_d,
                                            *resident, *dev_out)  # fmt: skip
            for d, h in zip(dev_out, lane["host_out"], strict=True):
                d.copy_to_host(h[: d.shape[0]], stream=stream)
            lane["pending"] = (a0, a1, lo, hi)
        for lane in lanes:
            collect(lane)
    return out


def _launch(
    kernel: Callable[[], Any],
    n_threads: int,
    inputs: Sequence[Any],
    outputs: Sequence[np.ndarray],
) -> None:
    """Run ``kernel()`` (a getter: kernels are compiled on first use) over ``n_threads``
    threads: host arrays of ``inputs`` copied to the device (scalars passed as they
    are), then the device results copied into the host ``outputs``."""
    from numba import config

    if not available():
        raise PerpMarginError("backend='cuda' needs a CUDA GPU (or NUMBA_ENABLE_CUDASIM=1)")
    dev = [
        cuda.to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in inputs
    ]
    dev_out = [cuda.device_array(o.shape, dtype=o.dtype) for o in outputs]
    threads = 128
    blocks = max(1, (n_threads + threads - 1) // threads)
    with warnings.catch_warnings():
        if config.ENABLE_CUDASIM:  # the simulator runs uint64 hashes on numpy scalars
            warnings.simplefilter("ignore", RuntimeWarning)
        kernel()[blocks, threads](*dev, *dev_out)
    for host, d in zip(outputs, dev_out, strict=True):
        host[:] = d.copy_to_host()


def _mc_kernel() -> Any:
    if "mc" in _KERNEL:
        return _KERNEL["mc"]
    from numba import float64, uint8

    from perpmargin.sim import mc_kernels

    simulate_path = device(mc_kernels.simulate_path)
    max_assets = MAX_ASSETS
    max_positions = MAX_POSITIONS

    @cuda.jit
    def mc(  # type: ignore[no-untyped-def]
        seed, path_start, n_paths, n_steps, model, log_s0, drift, chol, jump_prob, jump_mu,
        jump_sigma, returns, block, sym, qty, entry, margin, log_liq, iso_return, balance,
        cross_remainder_to_trader, liq_fee, upper, mmr, amount, n_tiers, by_qty, fee, fee_bk,
        cross_liq_price, cross_single, exits, taker, iso_step, iso_final, cross_step,
        cross_final, iso_exit, cross_exit,
    ):  # fmt: skip
        k = cuda.grid(1)
        if k >= n_paths:
            return
        x = cuda.local.array(max_assets, float64)
        z = cuda.local.array(max_assets, float64)
        z_odd = cuda.local.array(max_assets, float64)
        px = cuda.local.array(max_assets, float64)
        alive = cuda.local.array(max_positions, uint8)
        cq = cuda.local.array(max_positions, float64)
        (iso_step[k], iso_final[k], cross_step[k], cross_final[k], iso_exit[k],
         cross_exit[k]) = simulate_path(
            seed, path_start + k, n_steps, model, log_s0, drift, chol, jump_prob, jump_mu,
            jump_sigma, returns, block, sym, qty, entry, margin, log_liq, iso_return, balance,
            cross_remainder_to_trader, liq_fee, upper, mmr, amount, n_tiers, by_qty, fee,
            fee_bk, cross_liq_price, cross_single, exits, taker, x, z, z_odd, px, alive, cq,
        )  # fmt: skip

    _KERNEL["mc"] = mc
    return mc


def mc_cuda(*args: Any) -> None:
    """:func:`perpmargin.sim.mc_kernels.mc_kernel` on the GPU: the same arguments (the
    last six are the host output arrays, filled in place), the same numbers."""
    log_s0, sym = args[5], args[13]
    if log_s0.size > MAX_ASSETS or sym.size > MAX_POSITIONS:
        raise PerpMarginError(
            f"backend='cuda' holds at most {MAX_ASSETS} symbols and {MAX_POSITIONS} "
            f"positions, the plan has {log_s0.size} and {sym.size}"
        )
    _launch(_mc_kernel, int(args[2]), args[:-6], args[-6:])


def _advise_kernel() -> Any:
    if "advise" in _KERNEL:
        return _KERNEL["advise"]
    from numba import float64, int64, uint8

    from perpmargin.sim import advise_kernels

    advise_path = device(advise_kernels.advise_path)
    max_assets = MAX_ASSETS
    max_positions = MAX_ADVISE_POSITIONS
    max_masks = 1 << MAX_ADVISE_POSITIONS

    @cuda.jit
    def advise(  # type: ignore[no-untyped-def]
        seed, path_start, n_paths, n_steps, model, log_s0, drift, chol, jump_prob, jump_mu,
        jump_sigma, returns, block, sym, qty, entry, exits, taker, iso_log_liq, iso_margin,
        iso_back, level_start, level_pool, remainder_to_trader, liq_fee, upper, mmr, amount,
        by_qty, fee, fee_bk, iso_step, iso_cash, pool_step, pool_final,
    ):  # fmt: skip
        k = cuda.grid(1)
        if k >= n_paths:
            return
        advise_path(
            seed, path_start + k, n_steps, model, log_s0, drift, chol, jump_prob, jump_mu,
            jump_sigma, returns, block, sym, qty, entry, exits, taker, iso_log_liq, iso_margin,
            iso_back, level_start, level_pool, remainder_to_trader, liq_fee, upper, mmr,
            amount, by_qty, fee, fee_bk, iso_step[k], iso_cash[k], pool_step[k],
            pool_final[k], cuda.local.array(max_assets, float64),
            cuda.local.array(max_assets, float64), cuda.local.array(max_assets, float64),
            cuda.local.array(max_assets, float64), cuda.local.array(max_positions, int64),
            cuda.local.array(max_positions, uint8), cuda.local.array(max_positions, float64),
            cuda.local.array(max_positions, float64), cuda.local.array(max_positions, float64),
            cuda.local.array(max_masks, int64), cuda.local.array(max_masks, float64),
            cuda.local.array(max_masks, int64), cuda.local.array(max_masks, float64),
            cuda.local.array(max_masks, int64),
        )  # fmt: skip

    _KERNEL["advise"] = advise
    return advise


def advise_cuda(*args: Any) -> None:
    """:func:`perpmargin.sim.advise_kernels.advise_kernel` on the GPU, one thread per
    path: the same arguments (the last four are the host output arrays, filled in
    place), the same numbers."""
    log_s0, sym = args[5], args[13]
    if log_s0.size > MAX_ASSETS or sym.size > MAX_ADVISE_POSITIONS:
        raise PerpMarginError(
            f"backend='cuda' advises on at most {MAX_ASSETS} symbols and "
            f"{MAX_ADVISE_POSITIONS} positions, the plan has {log_s0.size} and {sym.size}"
        )
    _launch(_advise_kernel, int(args[2]), args[:-4], args[-4:])


def _liq_kernel() -> Any:
    if "liq" in _KERNEL:
        return _KERNEL["liq"]
    from perpmargin.sim import kernels

    one = device(kernels.liq_price_one)

    @cuda.jit
    def liq(  # type: ignore[no-untyped-def]
        sym, qty, entry, collateral, bk_collateral, upper, mmr, amount, n_tiers, by_qty, fee,
        fee_bk, out,
    ):  # fmt: skip
        i = cuda.grid(1)
        if i < sym.size:
            out[i] = one(
                sym[i], qty[i], entry[i], collateral[i], bk_collateral[i], upper, mmr, amount,
                n_tiers, by_qty, fee, fee_bk,
            )  # fmt: skip

    _KERNEL["liq"] = liq
    return liq


def liq_prices_cuda(
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    collateral: np.ndarray,
    bk_collateral: np.ndarray,
    tiers: TierArrays,
) -> np.ndarray:
    """:func:`perpmargin.sim.kernels.liq_price_kernel` on the GPU, one thread per
    position (the CPU kernel's per-position solver compiled for the device)."""
    out = np.empty(sym.size)
    inputs = (sym, qty, entry, collateral, bk_collateral, *tiers.args())
    _launch(_liq_kernel, sym.size, inputs, (out,))
    return out


def _cross_liq_kernel() -> Any:
    if "cross_liq" in _KERNEL:
        return _KERNEL["cross_liq"]
    from perpmargin.sim import kernels

    account = device(kernels.cross_liq_account)

    @cuda.jit
    def cross_liq(  # type: ignore[no-untyped-def]
        offsets, sym, qty, entry, balance, marks, upper, mmr, amount, n_tiers, by_qty, fee,
        fee_bk, out,
    ):  # fmt: skip
        a = cuda.grid(1)
        if a < offsets.size - 1:
            account(a, offsets, sym, qty, entry, balance, marks, upper, mmr, amount, n_tiers,
                    by_qty, fee, fee_bk, out)  # fmt: skip

    _KERNEL["cross_liq"] = cross_liq
    return cross_liq


def cross_liq_prices_cuda(portfolio: Portfolio, marks: np.ndarray, tiers: TierArrays) -> np.ndarray:
    """:func:`perpmargin.sim.kernels.cross_liq_kernel` on the GPU, one thread per account
    (the CPU kernel's per-account function compiled for the device)."""
    p = portfolio
    out = np.empty(p.n_positions)
    inputs = (p.offsets, p.sym, p.qty, p.entry, p.balance, marks, *tiers.args())
    _launch(_cross_liq_kernel, p.n_accounts, inputs, (out,))
    return out


def _bankruptcy_kernel() -> Any:
    if "bk" in _KERNEL:
        return _KERNEL["bk"]
    from perpmargin.sim import kernels

    one = device(kernels.bankruptcy_one)

    @cuda.jit
    def bk(qty, entry, backing, out):  # type: ignore[no-untyped-def]
        i = cuda.grid(1)
        if i < qty.size:
            out[i] = one(qty[i], entry[i], backing[i])

    _KERNEL["bk"] = bk
    return bk


def bankruptcy_prices_cuda(qty: np.ndarray, entry: np.ndarray, backing: np.ndarray) -> np.ndarray:
    """:func:`perpmargin.sim.kernels.bankruptcy_kernel` on the GPU."""
    out = np.empty(qty.size)
    _launch(_bankruptcy_kernel, qty.size, (qty, entry, backing), (out,))
    return out


def _sweep_kernel() -> Any:
    if "sweep" in _KERNEL:
        return _KERNEL["sweep"]
    from perpmargin.sim import sweep

    replay_one = device(sweep.replay_one)

    @cuda.jit
    def sweep_all(  # type: ignore[no-untyped-def]
        ohlc, quiet, rates, qty, leverage, stop, take_profit, cross, balance, taker, liq_fee,
        to_trader, tick, inverse, upper, mmr, amount, n_tiers, by_qty, fee, fee_bk, holds_fee,
        liq_bar, exit_bar, final_equity,
    ):  # fmt: skip
        c = cuda.grid(1)
        if c < qty.size:
            lb, xb, fe = replay_one(
                c, ohlc, quiet, rates, qty, leverage, stop, take_profit, cross, balance,
                taker, liq_fee, to_trader, tick, inverse, upper, mmr, amount, n_tiers,
                by_qty, fee, fee_bk, holds_fee,
            )  # fmt: skip
            liq_bar[c] = lb
            exit_bar[c] = xb
            final_equity[c] = fe

    _KERNEL["sweep"] = sweep_all
    return sweep_all


def sweep_cuda(args: tuple[Any, ...], out: tuple[np.ndarray, ...]) -> None:
    """:func:`perpmargin.sim.sweep.sweep_kernel` on the GPU, one thread per combination
    (the CPU kernel's :func:`~perpmargin.sim.sweep.replay_one` compiled for the device);
    ``out`` (host arrays) is filled in place."""
    _launch(_sweep_kernel, out[0].size, args, out)
