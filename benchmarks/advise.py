"""The mode advisor's speed (issue 25): a 4-position plan, every setting, one run.

The plan: Hyperliquid BTC long, ETH short, SOL long, XRP short (10x-20x) on the bundled
2022-11-08 bars (SOL and XRP bars are scaled copies of the ETH and BTC ones: the
figure is about speed, not about those coins). All 2 ** 4 mode assignments with a
4-level margin grid for each isolated position: (4 + 1) ** 4 = 625 settings, those the
wallet can pay kept. Paths x 1,440 one-minute-sized steps (GBM with jumps).

Printed (one JSON object last):

- ``advise_seconds``: the whole :func:`perpmargin.advise` (calibration, every setting on
  every path, statistics, comparisons; the exact-engine confirmation off: it is timed
  apart as ``confirm_seconds`` for 4 paths);
- ``setting_path_steps_per_s``: settings x paths x steps / advise_seconds;
- ``montecarlo_path_steps_per_s``: the named baseline measured in the same run: the
  plain Monte Carlo (:func:`perpmargin.sim.montecarlo.montecarlo`, both modes) of the
  same plan on the same paths; ``naive_seconds`` = the Monte Carlo's time x settings / 2
  (a Monte Carlo run per setting, each giving two modes); ``speedup_vs_naive``.

Usage: python benchmarks/advise.py [--quick] [--paths N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

import perpmargin as pm
from perpmargin.sim.data import load_bars
from perpmargin.sim.montecarlo import montecarlo, setup_from_plan
from perpmargin.sim.plan import plan_from_dict

STEPS = 1440


def _scaled(name: str, factor: float, folder: Path, out: str) -> str:
    frame = load_bars(name).frame.copy()
    for col in ("open", "high", "low", "close"):
        frame[col] = (frame[col] * factor).round(6)
    path = folder / out
    pd.DataFrame(frame).to_csv(path, index=False)
    return str(path)


def _plan(folder: Path) -> pm.Plan:
    day = "2022-11-08"
    btc = f"binance-btcusdt-perp-15m-{day}.csv"
    eth = f"binance-ethusdt-perp-15m-{day}.csv"
    sol = _scaled(eth, 0.02, folder, "sol.csv")
    xrp = _scaled(btc, 0.00002, folder, "xrp.csv")
    margin = {"BTC": "2000", "ETH": "1500", "SOL": "800", "XRP": "700"}
    sides = {"BTC": "long", "ETH": "short", "SOL": "long", "XRP": "short"}
    lev = {"BTC": 20, "ETH": 15, "SOL": 10, "XRP": 10}
    return plan_from_dict(
        {
            "name": "4-position advisor benchmark",
            "venue": "hyperliquid",
            "balance": "20000",
            "bars": {"BTC": btc, "ETH": eth, "SOL": sol, "XRP": xrp},
            "positions": [
                {"symbol": s, "side": sides[s], "leverage": lev[s], "size": {"margin": margin[s]}}
                for s in ("BTC", "ETH", "SOL", "XRP")
            ],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 paths instead of 100,000")
    parser.add_argument("--paths", type=int, default=None)
    args = parser.parse_args()
    paths = args.paths or (10_000 if args.quick else 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        plan = _plan(Path(tmp))
        setup = setup_from_plan(plan)
        kw = {"paths": paths, "steps": STEPS, "model": "jump", "seed": 1}
        pm.advise(plan, **{**kw, "paths": 200, "steps": 10}, confirm_paths=0)  # compile
        start = time.perf_counter()
        advice = pm.advise(plan, confirm_paths=0, **kw)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        pm.advise(plan, **{**kw, "paths": 200}, confirm_paths=4)
        confirm = time.perf_counter() - start
        montecarlo(setup, paths=200, steps=10, model="jump")  # compile
        start = time.perf_counter()
        montecarlo(setup, **kw)
        mc_seconds = time.perf_counter() - start
    settings = advice.settings_count
    work = settings * paths * STEPS
    naive = mc_seconds * settings / 2
    out = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "positions": len(plan.positions),
        "settings": settings,
        "paths": paths,
        "steps": STEPS,
        "advise_seconds": round(seconds, 3),
        "setting_path_steps_per_s": round(work / seconds),
        "confirm_seconds_200_paths_4_checked": round(confirm, 3),
        "montecarlo_seconds": round(mc_seconds, 3),
        "montecarlo_path_steps_per_s": round(paths * STEPS / mc_seconds),
        "naive_seconds": round(naive, 1),
        "speedup_vs_naive": round(naive / seconds, 1),
        "best": advice.best.name,
    }
    for key, value in out.items():
        print(f"{key:38s} {value}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
