"""The fast path's figures, side by side, measured in one run (one JSON object last).

- ``revalue_*``: batch revaluation + liquidation check of N positions (both modes, one
  pass, numba parallel) on Binance BTCUSDT/ETHUSDT tiers, into the result arrays of an
  earlier call (``out=``; ``revalue_new_result_positions_per_s`` allocates a fresh
  result, whose page faults cost more than the kernel); bytes = inputs read + outputs
  written. ``memory_read_bytes_per_s``: a read-only numba ``prange`` sum over an array as
  large as the kernel's inputs, in the same run — the practical streaming limit.
  ``revalue_in_cache_positions_per_s``: the same kernel on a 40,000-position book that
  stays in the L2 caches (as fast as from memory: the kernel is compute-bound).
- ``liq_price_per_s``: vectorised liquidation prices (numba); ``liq_price_scalar_per_s``:
  the exact Decimal calculator (``pm.liquidation_price``) on the same inputs.
- ``cross_liq_positions_per_s_per_thread``: cross liquidation prices of 10-position
  Binance accounts (each position's price with the other nine held), numba on one thread,
  the pool's set-up inside the kernel; with ``--freqtrade PYTHON`` (an interpreter with
  freqtrade installed) ``cross_liq_ratio_to_freqtrade_per_thread`` divides it by
  freqtrade's Binance ``dry_run_liquidation_price`` calls/s for one position of such an
  account (``benchmarks/freqtrade_baseline.py``, run in the same run); the same for
  isolated.
- ``unified_grid_cells_per_s``: the portfolio-margin shock grid (a unified account with
  BTC and USDT collateral, a BTC long and an ETH short on Binance PM), beside
  ``cross_stress_grid_cells_per_s``, the cross stress grid of the same positions in a
  cross account (numba), same cells, same run (``unified_grid_ratio_to_cross_grid``);
  ``unified_mc_path_steps_per_s``: the portfolio-margin Monte Carlo of that account (two
  correlated underlyings, the account read every step), over the cross Monte Carlo of a
  pair (``mc_pair_path_steps_per_s``) as ``unified_mc_ratio_to_cross_pair_mc``;
  ``risk_based_grid_cells_per_s`` / ``risk_based_mc_path_steps_per_s``: the same
  positions under risk-based portfolio margin (OKX PM: each risk unit's loss over its
  spot shocks and extreme moves in every cell or step), with their ratios to the cross
  grid and the cross pair Monte Carlo.
- ``mc_path_steps_per_s``: Monte Carlo, one asset, GBM, both modes checked every step.
- ``dask_speedup_2_workers``: the same Monte Carlo on a LocalCluster, 2 workers vs 1.
- ``replay_1y_1m_seconds``: one single-position plan, a year of 1-minute bars (block
  bootstrap of the bundled 2020-03-12 bars), both modes, vectorised replay;
  ``sweep_bar_steps_per_s``: the same bars (a month with --quick) for 10,000 random
  (side, leverage, stop, mode) combinations; a bar-step is a bar replayed for one
  combination up to its liquidation or exit. The kernel skips a bar whose range cannot
  reach the combination's triggers (and holds no funding) with two comparisons;
  ``sweep_every_bar_bar_steps_per_s`` is the named baseline measured in the same run:
  the same kernel walking every bar through open -> adverse -> favourable -> close.
- ``gpu_*`` are null, with the reason, when no GPU is present.

Usage: python benchmarks/run.py [--quick] [--json] [--freqtrade /path/to/python]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from decimal import Decimal

import numpy as np

import perpmargin as pm
from perpmargin.sim import kernels
from perpmargin.sim.fast import Portfolio, TierArrays, liquidation_prices, revalue


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _book(n_positions: int, tiers: TierArrays, per_account: int = 4, seed: int = 0) -> Portfolio:
    rng = np.random.default_rng(seed)
    n_accounts = n_positions // per_account
    offsets = np.arange(0, n_accounts * per_account + 1, per_account, dtype=np.int64)
    n = int(offsets[-1])
    sym = (np.arange(n) % 2).astype(np.int32)
    entry = np.where(sym == 0, 60000.0, 3000.0) * rng.uniform(0.9, 1.1, n)
    qty = rng.uniform(0.001, 2.0, n) * np.where(sym == 0, 1.0, 20.0) * rng.choice([-1.0, 1.0], n)
    margin = np.abs(qty) * entry / rng.integers(1, 50, n)
    balance = rng.uniform(0.5, 3.0, n_accounts) * margin.reshape(-1, per_account).sum(axis=1)
    return Portfolio(offsets, sym, qty, entry, margin, balance)


def bench_revalue(n: int, out: dict) -> None:
    tiers = TierArrays.from_venue(pm.load_venue("binance-usdm"))
    book = _book(n, tiers)
    marks = np.array([57000.0, 2900.0])
    start = time.perf_counter()
    result = revalue(book, marks, tiers)  # compile + a fresh result (page faults)
    out["revalue_first_call_seconds"] = time.perf_counter() - start
    cold = _best(lambda: revalue(book, marks, tiers), repeat=1)  # compiled, fresh result
    # a risk loop revalues the same book at new marks into the same result arrays
    seconds = _best(lambda: revalue(book, marks, tiers, out=result), repeat=5)
    moved = book.nbytes + result.nbytes
    out["revalue_new_result_positions_per_s"] = book.n_positions / cold
    out["revalue_positions"] = book.n_positions
    out["revalue_positions_per_s"] = book.n_positions / seconds
    out["revalue_bytes_per_s"] = moved / seconds
    data = np.ones(book.nbytes // 8)
    kernels.memory_read_kernel(data)
    read = _best(lambda: kernels.memory_read_kernel(data), repeat=5)
    out["memory_read_bytes_per_s"] = data.nbytes / read
    out["revalue_fraction_of_read_bandwidth"] = (
        out["revalue_bytes_per_s"] / out["memory_read_bytes_per_s"]
    )
    # the same kernel on a book that fits in the L2 caches: if it is no faster there,
    # the kernel is bound by its instructions, not by memory
    small = _book(40_000, tiers)
    r = revalue(small, marks, tiers)
    t = tiers
    tables = kernels.search_tables(t.upper, t.mmr, t.amount, t.n_tiers, t.by_qty, t.fee, marks)
    inputs = (small.offsets, small.sym, small.qty, small.entry, small.margin, small.balance)
    outputs = (r.iso_liquidated, r.cross_equity, r.cross_maintenance, r.cross_liquidated)

    def many() -> None:  # the kernel itself, without revalue()'s per-call checks
        for _ in range(250):
            kernels.revalue_searched_kernel(*inputs, marks, *tables, *outputs)

    out["revalue_in_cache_positions_per_s"] = 250 * small.n_positions / _best(many)
    # vectorised liquidation prices vs the exact scalar calculator, same inputs
    m = min(n, 5_000_000)
    sub = book.chunk(0, m // 4)
    liquidation_prices(sub, marks, tiers)
    seconds = _best(lambda: liquidation_prices(sub, marks, tiers))
    out["liq_price_per_s"] = sub.n_positions / seconds
    venue = pm.load_venue("binance-usdm")
    k = 2000
    start = time.perf_counter()
    for i in range(k):
        pm.liquidation_price(
            venue,
            "isolated",
            "long" if sub.qty[i] > 0 else "short",
            entry_price=Decimal(repr(float(sub.entry[i]))),
            quantity=Decimal(repr(round(abs(float(sub.qty[i])), 3) or 0.001)),
            collateral=Decimal(repr(round(float(sub.margin[i]), 2))),
            symbol=tiers.symbols[int(sub.sym[i])],
        )
    out["liq_price_scalar_per_s"] = k / (time.perf_counter() - start)
    out["liq_price_speedup"] = out["liq_price_per_s"] / out["liq_price_scalar_per_s"]


def bench_mc(paths: int, out: dict) -> None:
    from perpmargin.sim.montecarlo import montecarlo, setup_from_plan

    setup = setup_from_plan(pm.load_plans("seed-2020-03-12")[0])
    montecarlo(setup, paths=1000, steps=100)
    seconds = _best(lambda: montecarlo(setup, paths=paths), repeat=2)
    out["mc_paths"] = paths
    out["mc_steps"] = 1440
    out["mc_path_steps_per_s"] = paths * 1440 / seconds
    # two symbols in one cross account, revalued with tiers at every step, with stops
    # and take-profits 4 % / 5 % from each entry (the legs closed by them drop out)
    pair = setup_from_plan(pm.load_plans("pair-2022-11-08")[0])
    side = np.sign(pair.qty)
    runs = [("pair", pair)]
    if hasattr(pair, "stop"):  # (a version before stops in the Monte Carlo: no such run)
        stop, take = pair.entry * (1 - 0.04 * side), pair.entry * (1 + 0.05 * side)
        runs.append(("pair_stops", replace(pair, stop=stop, take_profit=take)))
    steps = pair.returns.shape[0]
    for name, setup_ in runs:
        montecarlo(setup_, paths=1000, steps=100)
        seconds = _best(lambda s=setup_: montecarlo(s, paths=paths // 2), repeat=2)
        out[f"mc_{name}_path_steps_per_s"] = paths // 2 * steps / seconds


def bench_dask(paths: int, out: dict) -> None:
    from distributed import Client, LocalCluster

    from perpmargin.sim.montecarlo import montecarlo, setup_from_plan

    setup = setup_from_plan(pm.load_plans("seed-2020-03-12")[0])
    times = {}
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, dashboard_address=":0", silence_logs=40
            ) as cluster,
            Client(cluster) as client,
        ):
            run = lambda: montecarlo(  # noqa: E731
                setup, paths=paths, backend="dask", scheduler=client, chunk_paths=paths // 8
            )
            run()  # workers compile the kernel
            times[workers] = _best(run, repeat=2)
    out["dask_paths"] = paths
    out["dask_seconds_1_worker"] = times[1]
    out["dask_seconds_2_workers"] = times[2]
    out["dask_speedup_2_workers"] = times[1] / times[2]


def bench_gpu(n: int, paths: int, out: dict) -> None:
    """The CUDA kernels on resident device arrays (the kernel, not the PCIe copies,
    which ``*_with_transfers`` includes)."""
    from numba import cuda

    from perpmargin.sim import gpu
    from perpmargin.sim.montecarlo import montecarlo, setup_from_plan

    name = cuda.get_current_device().name if hasattr(cuda, "get_current_device") else "sim"
    out["gpu_name"] = name.decode() if isinstance(name, bytes) else str(name)
    tiers = TierArrays.from_venue(pm.load_venue("binance-usdm"))
    book = _book(n, tiers)
    marks = np.array([57000.0, 2900.0])
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
    out["gpu_positions"] = book.n_positions
    out["gpu_positions_per_s"] = book.n_positions / seconds
    out["gpu_bytes_per_s"] = (book.nbytes + book.n_positions + 17 * book.n_accounts) / seconds
    small = book.chunk(0, min(2_500_000, book.n_accounts))
    revalue(small, marks, tiers, backend="cuda")
    out["gpu_positions_per_s_with_transfers"] = small.n_positions / _best(
        lambda: revalue(small, marks, tiers, backend="cuda")
    )
    setup = setup_from_plan(pm.load_plans("seed-2020-03-12")[0])
    montecarlo(setup, paths=10_000, steps=100, backend="cuda")
    seconds = _best(
        lambda: montecarlo(setup, paths=paths, backend="cuda", chunk_paths=paths), repeat=2
    )
    out["gpu_mc_paths"] = paths
    out["gpu_mc_path_steps_per_s"] = paths * 1440 / seconds


def _year_of_bars(n_bars: int, seed: int = 0) -> np.ndarray:
    """OHLC of ``n_bars`` 1-minute bars: blocks of 60 real bar shapes (2020-03-12, scaled
    to ~60 % a year, half mirrored so there is no drift), chained close to open, rounded
    to the 0.1 tick."""
    from perpmargin.sim.data import load_bars

    real = load_bars("binance-btcusdt-perp-1m-2020-03-12.csv").frame
    o = real["open"].to_numpy()
    logs = np.log(np.stack([real["high"] / o, real["low"] / o, real["close"] / o], axis=1))
    # a crash day's volatility for a whole year would be absurd: scale to ~60 %/year
    logs *= (0.6 / np.sqrt(525_600)) / logs[:, 2].std()
    rel = np.exp(logs)
    mirrored = np.stack([1 / rel[:, 1], 1 / rel[:, 0], 1 / rel[:, 2]], axis=1)
    rng = np.random.default_rng(seed)
    block = 60
    starts = rng.integers(0, len(rel) - block, n_bars // block + 1)
    flips = rng.integers(0, 2, starts.size)
    picked = np.concatenate(
        [(mirrored if f else rel)[s : s + block] for s, f in zip(starts, flips, strict=True)]
    )[:n_bars]
    closes = 60000.0 * np.cumprod(picked[:, 2])
    opens = np.concatenate([[60000.0], closes[:-1]])
    ohlc = np.stack([opens, opens * picked[:, 0], opens * picked[:, 1], closes], axis=1)
    ohlc = np.round(ohlc * 10) / 10
    ohlc[:, 1] = ohlc.max(axis=1)
    ohlc[:, 2] = ohlc.min(axis=1)
    return ohlc


def bench_sweep(n_combos: int, sweep_bars: int, out: dict) -> None:
    from perpmargin.sim.sweep import sweep_arrays

    venue = pm.load_venue("binance-usdm")
    tiers = TierArrays.from_venue(venue, ["BTCUSDT"])
    kwargs = {
        "balance": 10000.0,
        "tiers": tiers,
        "taker": float(venue.taker_fee_rate),
        "to_trader": False,
        "tick": 0.1,
    }
    year = _year_of_bars(525_600)
    rates = np.zeros(len(year))
    rates[::480] = 0.0001  # funding every 8 hours
    one = (  # a 1x long: never liquidated, so the whole year is walked in both modes
        np.array([0.05, 0.05]),
        np.array([1.0, 1.0]),
        np.array([np.nan, np.nan]),
        np.array([np.nan, np.nan]),
        np.array([False, True]),
    )
    sweep_arrays(year[:1000], rates[:1000], *one, **kwargs)  # compile
    out["replay_1y_1m_seconds"] = _best(lambda: sweep_arrays(year, rates, *one, **kwargs))
    liq, exit_, _ = sweep_arrays(year, rates, *one, **kwargs)
    assert (liq < 0).all(), "the year must be walked to the end"
    assert (exit_ < 0).all(), "the year must be walked to the end"
    rng = np.random.default_rng(1)
    lev = rng.choice([1.0, 2.0, 3.0, 5.0, 10.0, 20.0], n_combos)
    grid = (
        0.05 * rng.choice([-1.0, 1.0], n_combos),
        lev,
        np.where(rng.random(n_combos) < 0.5, np.nan, 60000.0 * rng.uniform(0.5, 0.95, n_combos)),
        np.full(n_combos, np.nan),
        rng.random(n_combos) < 0.5,
    )
    bars = year[:sweep_bars]
    seconds = _best(lambda: sweep_arrays(bars, rates[:sweep_bars], *grid, **kwargs), repeat=2)
    liq, exit_, _ = sweep_arrays(bars, rates[:sweep_bars], *grid, **kwargs)
    end = np.where(liq >= 0, liq + 1, np.where(exit_ >= 0, exit_ + 1, sweep_bars))
    out["sweep_combinations"] = n_combos
    out["sweep_bars"] = sweep_bars
    # only the bars each combination actually walked (a liquidated one stops there)
    out["sweep_bar_steps_walked"] = int(end.sum())
    out["sweep_bar_steps_per_s"] = float(end.sum()) / seconds
    out["sweep_grid_bar_steps_per_s"] = n_combos * sweep_bars / seconds
    # named baseline, same run: the same kernel walking every bar the long way
    every = _best(
        lambda: sweep_arrays(bars, rates[:sweep_bars], *grid, skip_quiet_bars=False, **kwargs),
        repeat=1,
    )
    out["sweep_every_bar_bar_steps_per_s"] = float(end.sum()) / every
    out["sweep_speedup_over_every_bar"] = every / seconds


CROSS_SYMBOLS = (
    "BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT",
    "DOGEUSDT", "ADAUSDT", "LTCUSDT", "LINKUSDT", "AVAXUSDT",
)  # fmt: skip
"""The ten symbols of freqtrade's cross case (benchmarks/freqtrade_baseline.py)."""


def bench_cross_liq(n_accounts: int, out: dict, freqtrade: str | None) -> None:
    """Cross liquidation prices of 10-position Binance accounts on ONE thread (every
    position's price, the others held at their marks), beside freqtrade's Binance
    ``dry_run_liquidation_price`` for one position of such an account (its own run)."""
    import numba

    venue = pm.load_venue("binance-usdm")
    tiers = TierArrays.from_venue(venue, CROSS_SYMBOLS)
    rng = np.random.default_rng(1)
    per = len(CROSS_SYMBOLS)
    marks = np.array([60000, 3000, 150, 0.6, 600, 0.15, 0.45, 80, 15, 35], dtype=float)
    offsets = np.arange(0, n_accounts * per + 1, per, dtype=np.int64)
    n = int(offsets[-1])
    sym = np.tile(np.arange(per, dtype=np.int32), n_accounts)
    entry = marks[sym] * rng.uniform(0.95, 1.05, n)
    qty = 1000.0 / marks[sym] * rng.uniform(0.5, 2.0, n) * rng.choice([-1.0, 1.0], n)
    book = Portfolio(offsets, sym, qty, entry, np.zeros(n), rng.uniform(1e3, 1e4, n_accounts))
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        liquidation_prices(book, marks, tiers, "cross")
        seconds = _best(lambda: liquidation_prices(book, marks, tiers, "cross"))
        iso = _best(lambda: liquidation_prices(book, marks, tiers, "isolated"))
    finally:
        numba.set_num_threads(threads)
    out["cross_liq_positions_per_s_per_thread"] = n / seconds
    out["isolated_liq_positions_per_s_per_thread"] = n / iso
    if freqtrade is None:
        out["not_measured"]["freqtrade"] = "run with --freqtrade PYTHON (freqtrade installed)"
        return
    import subprocess
    from pathlib import Path

    script = Path(__file__).with_name("freqtrade_baseline.py")
    done = subprocess.run(
        [freqtrade, str(script), "--quick"], capture_output=True, text=True, check=True
    )
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    out["freqtrade_cross_liq_calls_per_s"] = float(theirs["cross_liq_calls_per_s"])
    out["freqtrade_isolated_liq_calls_per_s"] = float(theirs["isolated_liq_calls_per_s"])
    out["cross_liq_ratio_to_freqtrade_per_thread"] = (
        out["cross_liq_positions_per_s_per_thread"] / out["freqtrade_cross_liq_calls_per_s"]
    )
    out["isolated_liq_ratio_to_freqtrade_per_thread"] = (
        out["isolated_liq_positions_per_s_per_thread"] / out["freqtrade_isolated_liq_calls_per_s"]
    )


def bench_unified_grid(n: int, out: dict) -> None:
    """Portfolio-margin shock grid (unified account: BTC + USDT collateral, a BTC long and
    an ETH short on Binance PM) beside the cross stress grid of the same positions in a
    cross account holding the same value in USDT, both n x n cells, same run."""
    from perpmargin.engine.unified import UnifiedAccount
    from perpmargin.sim.stress import stress_grid
    from perpmargin.sim.unified_grid import unified_stress_grid

    index = {"USDT": "1", "BTC": "50000", "ETH": "3000"}
    unified = UnifiedAccount("binance-pm", {"BTC": 1, "USDT": 1000}, index)
    unified.restore("BTCUSDT", "long", "1", "50000", "50000")
    unified.restore("ETHUSDT", "short", "5", "3000", "3000")
    cross = pm.Account(pm.load_venue("binance-usdm"), 51000)
    cross.mark({"BTCUSDT": 50000, "ETHUSDT": 3000})
    cross.open("BTCUSDT", "long", 1, 50000)
    cross.open("ETHUSDT", "short", 5, 3000)
    xs = np.linspace(-0.9, 2.0, n)
    unified_stress_grid(unified, shocks=xs)
    pm_s = _best(lambda: unified_stress_grid(unified, shocks=xs), repeat=3)
    kw = {"assets": ["BTCUSDT", "ETHUSDT"], "shocks": xs, "scenarios": ("all cross",)}
    stress_grid(cross, backend="numba", **kw)
    cross_s = _best(lambda: stress_grid(cross, backend="numba", **kw), repeat=3)
    out["unified_grid_cells"] = n * n
    out["unified_grid_cells_per_s"] = n * n / pm_s
    out["cross_stress_grid_cells_per_s"] = n * n / cross_s
    out["unified_grid_ratio_to_cross_grid"] = cross_s / pm_s
    from perpmargin.sim.unified_grid import unified_montecarlo

    paths, steps = 20_000, 1440
    kw2 = {"sigma": (0.0005, 0.0007), "paths": paths, "steps": steps, "correlation": 0.6}
    unified_montecarlo(unified, **kw2)
    mc_s = _best(lambda: unified_montecarlo(unified, **kw2), repeat=2)
    done = unified_montecarlo(unified, **kw2)
    walked = int(np.where(done.first_step >= 0, done.first_step + 1, steps).sum())
    out["unified_mc_path_steps_per_s"] = walked / mc_s
    # risk-based portfolio margin (OKX PM: per risk unit 7 spot shocks + 2 extreme moves,
    # each the loss of the unit's positions at the cell's prices), same positions
    risk = UnifiedAccount("okx-pm", {"BTC": 1, "USDT": 1000}, index,
                          collateral={"USDT": [("0", "", "1")], "BTC": [("0", "", "0.95")]},
                          contingency={"BTC": "0.001", "ETH": "0.001"})  # fmt: skip
    risk.restore("BTC-USDT-SWAP", "long", "1", "50000", "50000")
    risk.restore("ETH-USDT-SWAP", "short", "5", "3000", "3000")
    unified_stress_grid(risk, shocks=xs)
    risk_s = _best(lambda: unified_stress_grid(risk, shocks=xs), repeat=3)
    out["risk_based_grid_cells_per_s"] = n * n / risk_s
    out["risk_based_grid_ratio_to_cross_grid"] = cross_s / risk_s
    unified_montecarlo(risk, **kw2)
    rmc_s = _best(lambda: unified_montecarlo(risk, **kw2), repeat=2)
    done = unified_montecarlo(risk, **kw2)
    walked = int(np.where(done.first_step >= 0, done.first_step + 1, steps).sum())
    out["risk_based_mc_path_steps_per_s"] = walked / rmc_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller Monte Carlo and Dask runs")
    parser.add_argument("--json", action="store_true", help="only the JSON line")
    parser.add_argument(
        "--freqtrade", metavar="PYTHON", help="an interpreter with freqtrade, for the baseline"
    )
    args = parser.parse_args()
    out: dict = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
    }
    out["not_measured"] = {}
    bench_revalue(20_000_000, out)
    bench_cross_liq(200_000, out, args.freqtrade)
    bench_unified_grid(201 if args.quick else 501, out)
    bench_mc(100_000 if args.quick else 400_000, out)
    bench_dask(200_000 if args.quick else 800_000, out)
    bench_sweep(10_000, 43_200 if args.quick else 525_600, out)
    from perpmargin.sim.gpu import available

    if not available() or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        out["gpu_positions_per_s"] = None
        out["gpu_mc_path_steps_per_s"] = None
        out["not_measured"]["gpu"] = "no CUDA GPU on this machine"
    else:
        bench_gpu(100_000_000, 4_000_000 if args.quick else 16_000_000, out)
    out["unified_mc_ratio_to_cross_pair_mc"] = (
        out["unified_mc_path_steps_per_s"] / out["mc_pair_path_steps_per_s"]
    )
    out["risk_based_mc_ratio_to_cross_pair_mc"] = (
        out["risk_based_mc_path_steps_per_s"] / out["mc_pair_path_steps_per_s"]
    )
    if not args.json:
        for key, value in out.items():
            if isinstance(value, float):
                print(f"{key:40s} {value:18,.2f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
