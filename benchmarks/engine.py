"""Throughput of the exact engine's ``Account.mark()`` (Decimal, one account).

Hot path: revalue every leg at new marks, check isolated legs one by one and the cross
account as a whole (no liquidation fires: positions are sized to survive the walk).
Sizes: 1, 10 and 100 open positions, alternately isolated and cross, each on its own
synthetic copy of BTCUSDT's Binance rules (so each is a separate symbol).
Baseline measured in the same run: parsing the same marks into Decimals alone, so the
ratio shows how much of a mark() call is the engine's own work.

Usage: python benchmarks/engine.py [--seconds 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import replace
from decimal import Decimal

import perpmargin as pm


def _venue_with(n_symbols: int) -> pm.Venue:
    base = pm.load_venue("binance-usdm")
    btc = base.symbol("BTCUSDT")
    symbols = {
        f"SYM{i}USDT": replace(btc, symbol=f"SYM{i}USDT", ccxt_symbol=f"SYM{i}/USDT:USDT")
        for i in range(n_symbols)
    }
    return replace(base, symbols=symbols)


def _account(n_positions: int) -> tuple[pm.Account, list[str]]:
    venue = _venue_with(n_positions)
    acct = pm.Account(venue, balance="100000000")
    names = sorted(venue.symbols)
    for i, sym in enumerate(names):
        acct.set_margin_mode(sym, "isolated" if i % 2 else "cross")
        acct.set_leverage(sym, 5)
        acct.open(sym, "long" if i % 3 else "short", "0.5", "50000")
    return acct, names


def _marks(names: list[str], rng: random.Random) -> list[dict[str, str]]:
    out = []
    for _ in range(200):
        out.append({s: f"{50000 + rng.randint(-2000, 2000)}.{rng.randint(0, 9)}" for s in names})
    return out


def bench(n_positions: int, seconds: float) -> dict[str, float]:
    acct, names = _account(n_positions)
    rng = random.Random(7)
    batches = _marks(names, rng)
    acct.mark(batches[0])  # warm-up
    calls = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for marks in batches:
            acct.mark(marks)
        calls += len(batches)
    elapsed = time.perf_counter() - start
    # baseline: parsing the same marks into Decimals, nothing else
    t0 = time.perf_counter()
    for _ in range(max(1, calls // len(batches))):
        for marks in batches:
            {k: Decimal(v) for k, v in marks.items()}
    baseline = time.perf_counter() - t0
    assert not any(isinstance(e, pm.events.Liquidation) for e in acct.ledger)
    return {
        "positions": n_positions,
        "mark_calls_per_s": calls / elapsed,
        "position_revaluations_per_s": calls * n_positions / elapsed,
        "baseline_decimal_parse_share": baseline / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [bench(n, args.seconds) for n in (1, 10, 100)]
    for r in results:
        print(
            f"{r['positions']:>4} positions: {r['mark_calls_per_s']:>10,.0f} mark()/s  "
            f"{r['position_revaluations_per_s']:>10,.0f} position revaluations/s  "
            f"(parsing the marks alone is {r['baseline_decimal_parse_share']:.1%} of the time)"
        )
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
