"""Throughput of the exact replay (Decimal engine, intrabar walk, both modes).

Bars: block bootstrap of the bundled Binance BTCUSDT 1-minute bars of 2020-03-12
(bar shapes resampled in blocks of 30, half the blocks mirrored so the path has no
drift, rescaled to a 10,000 start), one independent path
per symbol. Positions: 1 and 10, alternately long and short at 2x (sized to survive,
so the walk is the common case: no liquidation ends the work early), each on its own
copy of BTCUSDT's Binance rules, replayed under isolated and under cross.

Figures: ``bars_per_s`` = bars x modes / seconds, for the whole replay (critical-point
search along each segment, funding, recording the series). Baseline measured in the same
run: the same bars driven through a plain loop of four ``Account.mark()`` calls per bar
(no critical-point search, no triggers, no recording), so ``ratio_to_plain_marks`` is
what the exactness of the walk costs.

Usage: python benchmarks/replay.py [--bars 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pandas as pd

import perpmargin as pm
from perpmargin.sim.data import Bars, load_bars
from perpmargin.sim.intrabar import waypoints
from perpmargin.sim.market import load_market
from perpmargin.sim.replay import replay


def _venue_with(n: int) -> pm.Venue:
    base = pm.load_venue("binance-usdm")
    btc = base.symbol("BTCUSDT")
    symbols = {
        f"SYM{i}USDT": replace(btc, symbol=f"SYM{i}USDT", ccxt_symbol=f"SYM{i}/USDT:USDT")
        for i in range(n)
    }
    return replace(base, symbols=symbols)


def _bootstrap(n_bars: int, seed: int) -> Bars:
    """Bars whose per-bar (open->high, low, close) ratios are drawn in blocks from real bars."""
    real = load_bars("binance-btcusdt-perp-1m-2020-03-12.csv").frame
    o = real["open"].to_numpy()
    rel = np.stack([real["high"] / o, real["low"] / o, real["close"] / o], axis=1)  # shape (n, 3)
    rng = np.random.default_rng(seed)
    block = 30
    mirrored = np.stack([1 / rel[:, 1], 1 / rel[:, 0], 1 / rel[:, 2]], axis=1)
    starts = rng.integers(0, len(rel) - block, n_bars // block + 1)
    flips = rng.integers(0, 2, len(starts))  # mirror half the blocks: no drift on average
    picked = np.concatenate(
        [(mirrored if f else rel)[s : s + block] for s, f in zip(starts, flips, strict=True)]
    )[:n_bars]
    price = 10000.0
    rows = []
    for k, ratios in enumerate(picked):
        h, lo, c = (np.round(price * ratios * 10) / 10).tolist()
        op = round(price, 1)
        h, lo = max(h, op, c), min(lo, op, c)
        rows.append((k * 60_000, op, h, lo, c))
        price = c
    frame = pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close"])
    frame["timestamp"] = frame["timestamp"].astype("int64") + 1_700_000_040_000
    return Bars(frame, 60_000, f"bootstrap seed {seed}")


def _plan(n: int, n_bars: int) -> tuple[pm.Plan, dict[str, Bars], pm.Venue]:
    venue = _venue_with(n)
    names = sorted(venue.symbols)
    positions = tuple(
        pm.PositionPlan(s, "long" if i % 2 == 0 else "short", Decimal(2), pm.Size("margin", 1000))
        for i, s in enumerate(names)
    )
    bars = {s: _bootstrap(n_bars, seed=i) for i, s in enumerate(names)}
    plan = pm.Plan(
        name=f"{n} positions",
        venue="binance-usdm",
        balance=Decimal(100000),
        bars=dict.fromkeys(names, "bootstrap"),
        positions=positions,
    )
    return plan, bars, venue


def _plain_marks(plan: pm.Plan, market, venue: pm.Venue, quantities) -> float:
    """Seconds for four mark() calls per bar per mode, nothing else."""
    start = time.perf_counter()
    for mode in plan.modes:
        acct = pm.Account(venue, plan.balance)
        first = {s: market.trade[s][0][0] for s in plan.symbols}
        acct.mark(first)
        for pos, qty in zip(plan.positions, quantities, strict=True):
            acct.set_margin_mode(pos.symbol, mode)
            acct.set_leverage(pos.symbol, pos.leverage)
            acct.open(pos.symbol, pos.side, qty, first[pos.symbol])
        for i in range(len(market)):
            paths = [
                waypoints(*market.trade[s][i], exposure=1 if k % 2 == 0 else -1)
                for k, s in enumerate(plan.symbols)
            ]
            for step in range(4):
                acct.mark({s: p[step] for s, p in zip(plan.symbols, paths, strict=True)})
    return time.perf_counter() - start


def run(n_bars: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for n in (1, 10):
        plan, bars, venue = _plan(n, n_bars)
        market = load_market(plan, bars=bars)
        start = time.perf_counter()
        result = replay(plan, market, venue=venue, progress=False)
        elapsed = time.perf_counter() - start
        out[f"liquidations_{n}_positions"] = float(
            sum(len(r.outcome.liquidations) for r in result.runs.values())
        )
        plain = _plain_marks(plan, market, venue, result.quantities)
        bar_modes = len(market) * len(plan.modes)
        out[f"replay_bars_per_s_{n}_positions"] = bar_modes / elapsed
        out[f"plain_marks_bars_per_s_{n}_positions"] = bar_modes / plain
        out[f"ratio_to_plain_marks_{n}_positions"] = plain / elapsed
    start = time.perf_counter()
    from perpmargin.demo import run_bundled

    results = run_bundled()
    out["bundled_scenarios_seconds"] = time.perf_counter() - start
    out["bundled_scenarios_bar_modes"] = float(sum(len(r.market) * len(r.runs) for r in results))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args.bars)
    if not args.json:
        for key, value in figures.items():
            print(f"{key:40s} {value:14,.2f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
