"""The fast path's figures, side by side, measured in one run (one JSON object last).

- ``revalue_*``: batch revaluation + liquidation check of N positions (both modes, one
  pass, numba parallel) on Binance BTCUSDT/ETHUSDT tiers; bytes = inputs read + outputs
  written. ``memory_read_bytes_per_s``: a read-only numba ``prange`` sum over an array as
  large as the kernel's inputs, in the same run — the practical streaming limit.
- ``liq_price_per_s``: vectorised liquidation prices (numba); ``liq_price_scalar_per_s``:
  the exact Decimal calculator (``pm.liquidation_price``) on the same inputs.
- ``mc_path_steps_per_s``: Monte Carlo, one asset, GBM, both modes checked every step.
- ``dask_speedup_2_workers``: the same Monte Carlo on a LocalCluster, 2 workers vs 1.
- Not measured (not built yet): ``replay_1y_1m_seconds``, ``sweep_bar_steps_per_s``;
  ``gpu_*`` when no GPU is present. They are printed as null with the reason.

Usage: python benchmarks/run.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
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
    result = revalue(book, marks, tiers)  # compile + warm
    seconds = _best(lambda: revalue(book, marks, tiers))
    moved = book.nbytes + result.nbytes
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


def bench_dask(paths: int, out: dict) -> None:
    from distributed import Client, LocalCluster

    from perpmargin.sim.montecarlo import montecarlo, setup_from_plan

    setup = setup_from_plan(pm.load_plans("seed-2020-03-12")[0])
    times = {}
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, dashboard_address=None, silence_logs=40
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller Monte Carlo and Dask runs")
    parser.add_argument("--json", action="store_true", help="only the JSON line")
    args = parser.parse_args()
    out: dict = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
    }
    bench_revalue(20_000_000, out)
    bench_mc(100_000 if args.quick else 400_000, out)
    bench_dask(200_000 if args.quick else 800_000, out)
    from perpmargin.sim.gpu import available

    out["replay_1y_1m_seconds"] = None
    out["sweep_bar_steps_per_s"] = None
    out["not_measured"] = {
        "replay_1y_1m_seconds": "vectorised replay kernel not built yet",
        "sweep_bar_steps_per_s": "vectorised replay kernel not built yet",
    }
    if not available() or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        out["gpu_positions_per_s"] = None
        out["gpu_mc_path_steps_per_s"] = None
        out["not_measured"]["gpu"] = "no CUDA GPU on this machine"
    if not args.json:
        for key, value in out.items():
            if isinstance(value, float):
                print(f"{key:40s} {value:18,.2f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
