"""CUDA backend (numba.cuda): the revaluation kernel with one thread per account.

Needs a CUDA GPU, or ``NUMBA_ENABLE_CUDASIM=1`` to run the same kernel on the CPU
(slow; for tests). ``available()`` tells which.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from perpmargin.errors import PerpMarginError

if TYPE_CHECKING:
    from perpmargin.sim.fast import Portfolio, Revaluation, TierArrays

__all__ = ["available", "revalue_cuda"]

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

    @cuda.jit
    def revalue(  # type: ignore[no-untyped-def]
        offsets,
        sym,
        qty,
        entry,
        margin,
        balance,
        marks,
        upper,
        mmr,
        amount,
        n_tiers,
        by_qty,
        fee,
        fee_bk,
        iso_liq,
        cross_equity,
        cross_mm,
        cross_liq,
    ):
        a = cuda.grid(1)
        if a >= offsets.size - 1:
            return
        lo = offsets[a]
        hi = offsets[a + 1]
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
            last = n_tiers[s] - 1
            k = 0
            if by_qty[s]:
                while k < last and aq > upper[s, k]:
                    k += 1
            else:
                while k < last and notional >= upper[s, k]:
                    k += 1
            req = notional * mmr[s, k] - amount[s, k]
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
        if any_bk:
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

    _KERNEL["revalue"] = revalue
    return revalue


def revalue_cuda(portfolio: Portfolio, marks: np.ndarray, tiers: TierArrays) -> Revaluation:
    """:func:`perpmargin.sim.fast.revalue` on the GPU (same formulas, same results)."""
    from perpmargin.sim.fast import Revaluation

    if not available():
        raise PerpMarginError("backend='cuda' needs a CUDA GPU (or NUMBA_ENABLE_CUDASIM=1)")

    p = portfolio
    a = p.n_accounts
    dev = [
        cuda.to_device(x)
        for x in (p.offsets, p.sym, p.qty, p.entry, p.margin, p.balance, marks, *tiers.args())
    ]
    iso = cuda.device_array(p.n_positions, dtype=np.uint8)
    eq = cuda.device_array(a, dtype=np.float64)
    mm = cuda.device_array(a, dtype=np.float64)
    liq = cuda.device_array(a, dtype=np.uint8)
    threads = 128
    blocks = max(1, (a + threads - 1) // threads)
    _kernel()[blocks, threads](*dev, iso, eq, mm, liq)
    return Revaluation(iso.copy_to_host(), eq.copy_to_host(), mm.copy_to_host(), liq.copy_to_host())
