"""Throughput of the exact replay (Decimal engine, intrabar walk, both modes).

Three workloads:

- ``day``: the bundled real Binance BTCUSDT 1-minute bars of 2020-03-12 (1,440 bars), one
  BTCUSDT long at 2x entered at the first bar and held all day (the plan freqtrade's
  baseline backtests, below), replayed under isolated and under cross;
  ``month``: the same day tiled to 30 days (every other copy reversed in time, so
  prices and minutes join up: 43,200 bars), as the baseline tiles it.
- ``bootstrap``: block bootstrap of the same day's bar shapes (blocks of 30, half of
  them mirrored so the path has no drift, rescaled to a 10,000 start), one independent
  path per symbol; 1 and 10 positions, alternately long and short at 2x, each on its own
  copy of BTCUSDT's Binance rules.

Figures: ``*_bars_per_s`` = bars per second and per mode (bars x modes / seconds) of the
whole replay (quiet stretches read at once, the other bars walked: critical-point search
along each segment, funding, recording the series), best of 3 after one untimed run;
``*_first_replay_bars_per_s``: one replay of a newly loaded market, which turns its
prices into exact integers once. Baselines measured in the same run:

- ``walk``: the same replay with ``skip_quiet=False`` (every bar walked through the
  engine, four marks a bar) -- the results are checked equal to the last bit;
- ``plain_marks`` (bootstrap): the same bars driven through a plain loop of four
  ``Account.mark()`` calls per bar (no critical-point search, no triggers, no recording);
- ``freqtrade`` (with ``--freqtrade PYTHON``, an interpreter that has freqtrade
  installed): ``benchmarks/freqtrade_baseline.py`` run by it, whose backtest of the same
  day (and month) gives ``ratio_to_freqtrade_*`` = our bars/s per mode over freqtrade's
  (one mode per backtest).

Usage: python benchmarks/replay.py [--bars 2000] [--json] [--freqtrade /path/to/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

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


def _same(a: pm.PlanResult, b: pm.PlanResult) -> None:
    """The quiet reading's results equal the walk's (else the figure is void)."""
    for mode, run in a.runs.items():
        other = b.runs[mode]
        same = run.outcome == other.outcome and run.account.ledger == other.account.ledger
        pd.testing.assert_frame_equal(run.series, other.series, check_exact=True)
        if not same:
            raise SystemExit(f"quiet reading differs from the walk ({mode})")


def _timed(
    plan: pm.Plan, market, venue=None, repeats: int = 3, **kw
) -> tuple[pm.PlanResult, float]:
    """The result and the best of ``repeats`` timed replays, after one untimed (as the
    freqtrade baseline times its backtest after loading and building the engine)."""
    result = replay(plan, market, venue=venue, progress=False, **kw)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = replay(plan, market, venue=venue, progress=False, **kw)
        best = min(best, time.perf_counter() - start)
    return result, best


def _tiled(days: int) -> Bars:
    """The bundled day tiled ``days`` times, every other copy reversed in time."""
    real = load_bars("binance-btcusdt-perp-1m-2020-03-12.csv").frame
    cols = ["open", "high", "low", "close"]
    parts = []
    for d in range(days):
        part = real[cols].copy()
        if d % 2:
            part = part.iloc[::-1].reset_index(drop=True)
            part["open"], part["close"] = part["close"].to_numpy(), part["open"].to_numpy()
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "timestamp", real["timestamp"].iloc[0] + 60_000 * np.arange(len(frame)))
    return Bars(frame, 60_000, f"2020-03-12 tiled x{days}")


def _held_long(bars: Bars | None) -> tuple[pm.Plan, object]:
    plan = pm.Plan(
        name="BTC long 2x, held",
        venue="binance-usdm",
        balance=Decimal(10000),
        bars={"BTCUSDT": "binance-btcusdt-perp-1m-2020-03-12.csv"},
        positions=(pm.PositionPlan("BTCUSDT", "long", Decimal(2), pm.Size("margin", 5000)),),
    )
    market = load_market(plan, bars={"BTCUSDT": bars} if bars is not None else None)
    return plan, market


def _real(out: dict[str, float], label: str, bars: Bars | None) -> None:
    plan, market = _held_long(bars)
    read, seconds = _timed(plan, market)
    walked, walk_seconds = _timed(plan, market, repeats=1, skip_quiet=False)
    _same(walked, read)
    bar_modes = len(market) * len(plan.modes)
    out[f"{label}_bars"] = float(len(market))
    out[f"{label}_bars_per_s"] = bar_modes / seconds
    out[f"{label}_walk_bars_per_s"] = bar_modes / walk_seconds
    out[f"{label}_ratio_to_walk"] = walk_seconds / seconds
    out[f"{label}_quiet_share"] = sum(r.quiet_bars for r in read.runs.values()) / bar_modes
    _, fresh = _held_long(bars)  # a new market: its prices turned into integers once
    start = time.perf_counter()
    replay(plan, fresh, progress=False)
    out[f"{label}_first_replay_bars_per_s"] = bar_modes / (time.perf_counter() - start)


def _freqtrade(python: str, out: dict[str, float]) -> None:
    script = Path(__file__).with_name("freqtrade_baseline.py")
    done = subprocess.run(
        [python, str(script), "--quick"], capture_output=True, text=True, check=True
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    for label, key in (("day", "backtest_bars_per_s"), ("month", "backtest_bars_per_s_30d")):
        theirs = (figures[key] + figures[f"{key}_cross"]) / 2  # one mode per backtest
        out[f"freqtrade_{label}_bars_per_s"] = float(theirs)
        out[f"ratio_to_freqtrade_{label}"] = out[f"{label}_bars_per_s"] / theirs


def run(n_bars: int, freqtrade: str | None = None) -> dict[str, float]:
    out: dict[str, float] = {}
    _real(out, "day", None)
    _real(out, "month", _tiled(30))
    if freqtrade:
        _freqtrade(freqtrade, out)
    for n in (1, 10):
        plan, bars, venue = _plan(n, n_bars)
        market = load_market(plan, bars=bars)
        result, elapsed = _timed(plan, market, venue)
        walked, walk_elapsed = _timed(plan, market, venue, repeats=1, skip_quiet=False)
        _same(walked, result)
        out[f"liquidations_{n}_positions"] = float(
            sum(len(r.outcome.liquidations) for r in result.runs.values())
        )
        plain = _plain_marks(plan, market, venue, result.quantities)
        bar_modes = len(market) * len(plan.modes)
        out[f"replay_bars_per_s_{n}_positions"] = bar_modes / elapsed
        out[f"walk_bars_per_s_{n}_positions"] = bar_modes / walk_elapsed
        out[f"plain_marks_bars_per_s_{n}_positions"] = bar_modes / plain
        out[f"ratio_to_walk_{n}_positions"] = walk_elapsed / elapsed
        out[f"ratio_to_plain_marks_{n}_positions"] = plain / elapsed
    start = time.perf_counter()
    from perpmargin.demo import run_bundled

    results = run_bundled()
    out["bundled_scenarios_seconds"] = time.perf_counter() - start
    out["bundled_scenarios_bar_modes"] = float(sum(len(r.market) * len(r.runs) for r in results))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bars", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--freqtrade", metavar="PYTHON", help="an interpreter with freqtrade, for the baseline"
    )
    args = parser.parse_args()
    figures = run(args.bars, args.freqtrade)
    if not args.json:
        for key, value in figures.items():
            print(f"{key:40s} {value:14,.2f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
