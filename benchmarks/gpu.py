"""The GPU in one run: every CUDA kernel checked against numba, then the GPU's figures
beside the same machine's CPU figures, as one JSON line (the last line printed).

Checks (the same inputs on ``backend="numba"`` and ``backend="cuda"``):

- revaluation: a Binance book (the blocked CPU kernel vs the CUDA per-account kernel), a
  Bybit book (a fee to close valued at the bankruptcy price, held in the margin) and a
  COIN-M book (inverse): isolated flags, cross flags exactly; cross equity and
  requirement within 1e-12 relative;
- liquidation and bankruptcy prices, isolated and cross, on the same books (1e-12);
- Monte Carlo: GBM, jumps and bootstrap, one and two assets (liquidation steps exactly,
  money within 1e-12: a GPU's exp/log may differ from the CPU's in the last bit);
- the sweep: a linear and an inverse grid on a month of real 1-minute bars (liquidation
  and exit bars exactly, final equity within 1e-9).

Figures: ``gpu_revalue_positions_per_s`` on resident device arrays and its
``gpu_revalue_fraction_of_read_bandwidth`` (the device's streaming read measured in the
same run by a reduction kernel), ``gpu_revalue_with_transfers_positions_per_s``,
``gpu_revalue_streamed_positions_per_s`` (the whole book in 16 chunks through pinned host
memory on two streams, copies overlapping kernels; its ratio to the plain copies),
``gpu_mc_path_steps_per_s`` (GBM, one asset, both modes), ``gpu_sweep_bar_steps_per_s``
(walked bar-steps, 100,000 combinations over a year of bars), and the CPU's
(``cpu_*``, numba on every core) for the same work. Under 5 minutes on an H100/H200.

Usage: ``python benchmarks/gpu.py`` on a GPU machine; ``--small`` runs every check and
figure on a few items (for ``NUMBA_ENABLE_CUDASIM=1``, where the figures mean nothing).
Exits 1 when a check fails or no CUDA device (nor the simulator) is there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from numba import config, cuda  # module level: the CUDA simulator swaps cuda in kernels

import perpmargin as pm
from perpmargin.sim.fast import Portfolio, bankruptcy_prices, liquidation_prices, revalue
from perpmargin.sim.market import load_market
from perpmargin.sim.montecarlo import montecarlo, setup_from_plan
from perpmargin.sim.sweep import sweep_arrays
from perpmargin.sim.tiers import TierArrays

sys.path.insert(0, str(Path(__file__).parent))
from run import _best, _year_of_bars

REFERENCE = {"BTC": 60000.0, "ETH": 3000.0, "SOL": 150.0, "XRP": 0.6}


def _book(venue: pm.Venue, n: int, seed: int = 0) -> tuple[Portfolio, np.ndarray, TierArrays]:
    """``n`` random positions, four to an account, on every symbol of ``venue`` (margins at
    1x to 50x, Bybit's held fee to close included), and marks within 5 % of the entries."""
    rng = np.random.default_rng(seed)
    tiers = TierArrays.from_venue(venue)
    specs = [venue.symbol(s) for s in tiers.symbols]
    ref = np.array([REFERENCE[s.base] for s in specs])
    cv = np.array([float(s.contract_value or 0.0) for s in specs])
    n = n - n % 4
    sym = rng.integers(0, len(specs), n).astype(np.int32)
    entry = ref[sym] * rng.uniform(0.9, 1.1, n)
    usd = rng.uniform(100.0, 200_000.0, n)
    inverse = cv[sym] > 0
    qty = np.where(inverse, np.round(usd / np.where(inverse, cv[sym], 1.0)), usd / entry)
    qty = np.maximum(qty, 1e-3) * rng.choice([-1.0, 1.0], n)
    value = np.where(inverse, np.abs(qty) * cv[sym] / entry, np.abs(qty) * entry)
    margin = value / rng.integers(1, 51, n)
    reserve = np.zeros(n)
    if venue.liquidation.close_fee_in_initial_margin:  # Bybit: the fee to close is held
        reserve = value * float(venue.taker_fee_rate)
    offsets = np.arange(0, n + 1, 4, dtype=np.int64)
    balance = rng.uniform(0.5, 3.0, n // 4) * (margin + reserve).reshape(-1, 4).sum(axis=1)
    book = Portfolio(offsets, sym, qty, entry, margin + reserve, balance, reserve)
    marks = ref * rng.uniform(0.95, 1.05, len(specs))
    return book, marks, tiers


def _close(a: np.ndarray, b: np.ndarray, rel: float) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    same_nan = np.isnan(a) == np.isnan(b)
    ok = np.abs(a - b) <= rel * np.maximum(np.abs(a), 1.0)
    return bool(same_nan.all() and (ok | np.isnan(a)).all())


def check_fast(n: int, checks: dict[str, str]) -> None:
    for venue_id in ("binance-usdm", "bybit-linear", "binance-coinm"):
        book, marks, tiers = _book(pm.load_venue(venue_id), n)
        a = revalue(book, marks, tiers, backend="numba")
        b = revalue(book, marks, tiers, backend="cuda")
        flags = int((a.iso_liquidated != b.iso_liquidated).sum())
        cross = int((a.cross_liquidated != b.cross_liquidated).sum())
        money = _close(a.cross_equity, b.cross_equity, 1e-12) and _close(
            a.cross_maintenance, b.cross_maintenance, 1e-12
        )
        checks[f"revalue {venue_id}"] = (
            "ok"
            if flags == cross == 0 and money
            else f"FAIL {flags} + {cross} flags, money {money}"
        )
        c = revalue(book, marks, tiers, backend="cuda", chunks=7)
        same = (
            bool((a.iso_liquidated == c.iso_liquidated).all())
            and bool((a.cross_liquidated == c.cross_liquidated).all())
            and _close(a.cross_equity, c.cross_equity, 1e-12)
            and _close(a.cross_maintenance, c.cross_maintenance, 1e-12)
        )
        checks[f"revalue streamed {venue_id}"] = "ok" if same else "FAIL streamed differs"
        for mode in ("isolated", "cross"):
            for name, fn in (
                ("liquidation", liquidation_prices),
                ("bankruptcy", bankruptcy_prices),
            ):
                x = fn(book, marks, tiers, mode, backend="numba")  # type: ignore[arg-type]
                y = fn(book, marks, tiers, mode, backend="cuda")  # type: ignore[arg-type]
                checks[f"{name} prices {mode} {venue_id}"] = (
                    "ok" if _close(x, y, 1e-12) else "FAIL prices differ beyond 1e-12"
                )


def check_mc(paths: int, steps: int, checks: dict[str, str]) -> None:
    one = setup_from_plan(pm.load_plans("seed-2020-03-12")[0])
    one = replace(one, step_vol=one.step_vol * 3)
    two = setup_from_plan(pm.load_plans("pair-2025-10-10")[0])
    two = replace(two, step_vol=two.step_vol * 3)
    side = np.sign(two.qty)  # stops 4 % and take-profits 5 % from each entry
    stops = replace(
        two, stop=two.entry * (1 - 0.04 * side), take_profit=two.entry * (1 + 0.05 * side)
    )
    for label, setup in (("one asset", one), ("two assets", two), ("stops", stops)):
        for model in ("gbm", "jump", "bootstrap"):
            kw = {"paths": paths, "steps": steps, "model": model, "seed": 5, "block": 16}
            a = montecarlo(setup, **kw)  # type: ignore[arg-type]
            b = montecarlo(setup, backend="cuda", **kw)  # type: ignore[arg-type]
            steps_same = all(
                np.array_equal(getattr(a, k), getattr(b, k))
                for k in ("iso_step", "cross_step", "iso_exit", "cross_exit")
            )
            money = _close(a.iso_final, b.iso_final, 1e-12) and _close(
                a.cross_final, b.cross_final, 1e-12
            )
            checks[f"monte carlo {model} {label}"] = (
                "ok" if steps_same and money else f"FAIL steps {steps_same}, money {money}"
            )


def _sweep_grid(n_combos: int, inverse: bool, seed: int = 1) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    lev = rng.choice([1.0, 2.0, 3.0, 5.0, 10.0, 20.0], n_combos)
    side = rng.choice([-1.0, 1.0], n_combos)
    qty = (-side * 3000.0) if inverse else 0.05 * side  # 3,000 USD contracts in 1 / price
    stop = np.where(rng.random(n_combos) < 0.5, np.nan, 60000.0 * rng.uniform(0.5, 0.95, n_combos))
    if inverse:
        stop = 1.0 / stop
    return (
        np.full(n_combos, qty) if np.isscalar(qty) else np.asarray(qty),
        lev,
        stop,
        np.full(n_combos, np.nan),
        rng.random(n_combos) < 0.5,
    )


def _sweep_kwargs(venue_id: str) -> dict[str, object]:
    venue = pm.load_venue(venue_id)
    symbol = next(s for s in venue.symbols.values() if s.base == "BTC")
    return {
        "balance": 10000.0 if symbol.inverse_value is None else 0.2,
        "tiers": TierArrays.from_venue(venue, [symbol.symbol]).linear(),
        "taker": float(venue.taker_fee_rate),
        "to_trader": venue.liquidation.remainder_to == "trader",
        "tick": float(symbol.tick_size),
        "inverse": symbol.inverse_value is not None,
        "holds_fee": venue.liquidation.close_fee_in_initial_margin,
    }


def check_sweep(n_combos: int, n_bars: int, checks: dict[str, str]) -> None:
    bars = _year_of_bars(n_bars)
    rates = np.zeros(n_bars)
    rates[::480] = 0.0001
    for venue_id, inverse in (("binance-usdm", False), ("bybit-linear", False),
                              ("binance-coinm", True)):  # fmt: skip
        ohlc = 1.0 / bars[:, [0, 2, 1, 3]] if inverse else bars
        grid = _sweep_grid(n_combos, inverse)
        kwargs = _sweep_kwargs(venue_id)
        a = sweep_arrays(ohlc, rates, *grid, **kwargs)  # type: ignore[arg-type]
        b = sweep_arrays(ohlc, rates, *grid, backend="cuda", **kwargs)  # type: ignore[arg-type]
        bars_same = np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        money = _close(a[2], b[2], 1e-9)
        checks[f"sweep {venue_id}"] = (
            "ok" if bars_same and money else f"FAIL bars {bars_same}, money {money}"
        )


@cuda.jit
def _reduce(data, partial):  # type: ignore[no-untyped-def]
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    acc = 0.0
    while i < data.size:
        acc += data[i]
        i += stride
    partial[cuda.grid(1)] = acc


def _device_read_bandwidth(n_floats: int, blocks: int) -> float:
    """Bytes/s of a grid-stride reduction over a resident array (the streaming limit)."""
    data = cuda.to_device(np.ones(n_floats))
    threads = 256
    partial = cuda.device_array(threads * blocks)

    def run() -> None:
        _reduce[blocks, threads](data, partial)
        cuda.synchronize()

    run()
    return n_floats * 8 / _best(run, repeat=5)


def check_advise(paths: int, steps: int, checks: dict[str, str]) -> None:
    """The advisor's walk (every setting of a two-leg plan with stops) on the GPU against
    numba: the same liquidation steps for every setting and path, money within 1e-9."""
    from perpmargin.sim import advisor as A

    plan = pm.load_plans("pair-2022-11-08")[0]
    setup = setup_from_plan(plan)
    side = np.sign(setup.qty)
    setup = replace(setup, step_vol=setup.step_vol * 3, stop=setup.entry * (1 - 0.04 * side))
    v = pm.load_venue(plan.venue)
    im = A._initial_margins(plan, v, load_market(plan))
    grid = A._grid(setup, (1.0, 1.5, 2.0, 3.0), im, v.settle_precision)
    cand = A._candidates(setup, grid, [("isolated", "cross")] * 2, setup.balance)
    for model in ("gbm", "jump", "bootstrap"):
        a = A._simulate(setup, grid, cand, model, 5, 0, paths, steps, 16)
        b = A._simulate(setup, grid, cand, model, 5, 0, paths, steps, 16, backend="cuda")
        same = np.array_equal(a[1], b[1])
        money = _close(a[0], b[0], 1e-9)
        checks[f"advise {model}"] = "ok" if same and money else f"FAIL steps {same}, money {money}"


def figures(n: int, paths: int, combos: int, n_bars: int, out: dict[str, object]) -> None:
    from perpmargin.sim import gpu

    book, marks, tiers = _book(pm.load_venue("binance-usdm"), n)
    # CPU: the numba kernel on every core, into an earlier result
    result = revalue(book, marks, tiers)
    out["cpu_revalue_positions_per_s"] = book.n_positions / _best(
        lambda: revalue(book, marks, tiers, out=result), repeat=5
    )
    # GPU: the kernel on resident arrays
    host = (
        book.offsets, book.sym, book.qty, book.entry, book.margin, book.fee_reserve,
        book.balance, marks,
    )  # fmt: skip
    dev = [cuda.to_device(x) for x in (*host, *tiers.args())]
    outs = [
        cuda.device_array(book.n_positions, dtype=np.uint8),
        cuda.device_array(book.n_accounts),
        cuda.device_array(book.n_accounts),
        cuda.device_array(book.n_accounts, dtype=np.uint8),
    ]
    threads = 128
    blocks = (book.n_accounts + threads - 1) // threads
    kernel = gpu._kernel()

    def launch() -> None:
        kernel[blocks, threads](*dev, *outs)
        cuda.synchronize()

    launch()
    seconds = _best(launch, repeat=5)
    moved = book.nbytes + book.n_positions + 17 * book.n_accounts
    read_bw = _device_read_bandwidth(max(n * 4, 1 << 12), 8 if config.ENABLE_CUDASIM else 4096)
    out["gpu_revalue_positions"] = book.n_positions
    out["gpu_revalue_positions_per_s"] = book.n_positions / seconds
    out["gpu_revalue_bytes_per_s"] = moved / seconds
    out["gpu_read_bytes_per_s"] = read_bw
    out["gpu_revalue_fraction_of_read_bandwidth"] = moved / seconds / read_bw
    small = book.chunk(0, max(1, min(2_500_000, book.n_accounts)))
    revalue(small, marks, tiers, backend="cuda")
    out["gpu_revalue_with_transfers_positions_per_s"] = small.n_positions / _best(
        lambda: revalue(small, marks, tiers, backend="cuda"), repeat=3
    )
    # the whole book through pinned host buffers on two streams (copies overlap kernels)
    revalue(small, marks, tiers, backend="cuda", chunks=2)
    out["gpu_revalue_streamed_positions_per_s"] = book.n_positions / _best(
        lambda: revalue(book, marks, tiers, backend="cuda", chunks=16), repeat=3
    )
    out["gpu_revalue_streamed_ratio_to_with_transfers"] = (
        out["gpu_revalue_streamed_positions_per_s"]
        / out["gpu_revalue_with_transfers_positions_per_s"]
    )
    # Monte Carlo: GBM, one asset, both modes, 1,440 steps
    setup = setup_from_plan(pm.load_plans("seed-2020-03-12")[0])
    steps = 1440
    montecarlo(setup, paths=min(paths, 1000), steps=10, backend="cuda")
    gpu_s = _best(
        lambda: montecarlo(setup, paths=paths, steps=steps, backend="cuda", chunk_paths=paths),
        repeat=2,
    )
    cpu_paths = max(1, paths // 20)
    montecarlo(setup, paths=min(cpu_paths, 1000), steps=10)
    cpu_s = _best(lambda: montecarlo(setup, paths=cpu_paths, steps=steps), repeat=2)
    out["gpu_mc_path_steps_per_s"] = paths * steps / gpu_s
    out["cpu_mc_path_steps_per_s"] = cpu_paths * steps / cpu_s
    # the advisor: a 4-position plan, every setting (625), 1,440 steps (benchmarks/advise.py)
    import tempfile

    from advise import _plan as advise_plan

    with tempfile.TemporaryDirectory() as tmp:
        plan4 = advise_plan(Path(tmp))
        # the simulator runs a GPU thread in Python: a few steps there, a day on a device
        a_steps = 4 if config.ENABLE_CUDASIM else steps
        kw = {"steps": a_steps, "model": "jump", "seed": 1, "confirm_paths": 0}
        a_paths = max(200, paths // 40)  # 100,000 of the 4,000,000
        pm.advise(plan4, paths=200, backend="cuda", **{**kw, "steps": 2})  # compile
        start = time.perf_counter()
        pm.advise(plan4, paths=a_paths, backend="cuda", chunk_paths=a_paths, **kw)
        out["gpu_advise_seconds"] = time.perf_counter() - start
        out["gpu_advise_paths"] = a_paths
        out["gpu_advise_steps"] = a_steps
        cpu_a = max(200, a_paths // 20)
        pm.advise(plan4, paths=200, **{**kw, "steps": 2})
        start = time.perf_counter()
        pm.advise(plan4, paths=cpu_a, **kw)
        out["cpu_advise_seconds_per_100k_paths"] = (time.perf_counter() - start) * 100_000 / cpu_a
    # the sweep: walked bar-steps (a combination stops at its liquidation or exit)
    bars = _year_of_bars(n_bars)
    rates = np.zeros(n_bars)
    rates[::480] = 0.0001
    kwargs = _sweep_kwargs("binance-usdm")
    for label, count, backend in (("gpu", combos, "cuda"), ("cpu", max(1, combos // 10), "numba")):
        grid = _sweep_grid(count, False)
        sweep_arrays(bars[:100], rates[:100], *grid, backend=backend, **kwargs)  # type: ignore[arg-type]

        def run(
            grid: tuple[np.ndarray, ...] = grid, backend: str = backend
        ) -> tuple[np.ndarray, ...]:
            return sweep_arrays(bars, rates, *grid, backend=backend, **kwargs)  # type: ignore[arg-type]

        seconds = _best(run, repeat=2)
        liq, exit_, _ = run()
        end = np.where(liq >= 0, liq + 1, np.where(exit_ >= 0, exit_ + 1, n_bars))
        out[f"{label}_sweep_bar_steps_per_s"] = float(end.sum()) / seconds


def _timed(name: str, fn: Callable[[], None], timing: dict[str, float]) -> None:
    start = time.perf_counter()
    fn()
    timing[name] = round(time.perf_counter() - start, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a few items (for the simulator)")
    args = parser.parse_args()
    from perpmargin.sim.gpu import available

    out: dict[str, object] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "simulator": bool(config.ENABLE_CUDASIM),
        "numpy": np.__version__,
    }
    if not available():
        out["error"] = "no CUDA device (and NUMBA_ENABLE_CUDASIM is not set)"
        print(json.dumps(out))
        return 1
    if not config.ENABLE_CUDASIM:
        name = cuda.get_current_device().name
        out["gpu_name"] = name.decode() if isinstance(name, bytes) else str(name)
    checks: dict[str, str] = {}
    timing: dict[str, float] = {}
    small = args.small
    _timed("check_fast", lambda: check_fast(400 if small else 2_000_000, checks), timing)
    _timed("check_mc", lambda: check_mc(16 if small else 20_000, 20 if small else 500, checks),
           timing)  # fmt: skip
    _timed("check_sweep", lambda: check_sweep(8 if small else 20_000, 300 if small else 43_200,
                                              checks), timing)  # fmt: skip
    _timed("check_advise", lambda: check_advise(8 if small else 20_000, 20 if small else 500,
                                                checks), timing)  # fmt: skip
    _timed(
        "figures",
        lambda: figures(
            2_000 if small else 50_000_000,
            64 if small else 4_000_000,
            16 if small else 100_000,
            200 if small else 525_600,
            out,
        ),
        timing,
    )
    out["checks"] = checks
    out["checks_failed"] = sorted(k for k, v in checks.items() if v != "ok")
    out["seconds"] = timing
    for key, value in list(out.items()):
        if isinstance(value, float) and not math.isfinite(value):
            out[key] = None
    print(json.dumps(out))
    return 1 if out["checks_failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
