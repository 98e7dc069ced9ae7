"""The vectorised replay equals the exact replay, plan by plan, mode by mode."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pytest

import perpmargin as pm
from perpmargin.sim.plan import PlanError, Size
from perpmargin.sim.replay import replay
from perpmargin.sim.sweep import sweep
from tests.sim.test_replay import plan_for


def _exact(plan):
    result = replay(plan)
    out = {}
    for mode, run in result.runs.items():
        o = run.outcome
        bar = -1
        if o.liquidations:
            bar = int(np.searchsorted(result.market.times, o.liquidations[0].time))
        out[mode] = (bar, float(o.final_equity))
    return out


def _check(plan):
    exact = _exact(plan)
    fast = sweep(plan)
    assert len(fast) == len(exact)
    for _, row in fast.iterrows():
        bar, equity = exact[row["mode"]]
        assert row["liquidation_bar"] == bar, row["mode"]
        assert row["final_equity"] == pytest.approx(equity, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize(
    ("name", "variant"),
    [
        ("seed-2020-03-12", 0),
        ("seed-2020-03-12", 1),
        ("stop-before-liquidation-2024-08-05", 0),
        ("stop-before-liquidation-2024-08-05", 1),
        ("funding-2021-05-19", 0),
        ("funding-2021-05-19", 1),
    ],
)
def test_bundled_plans(name, variant):
    plan = pm.load_plans(name)[variant]
    if plan.positions[0].size.kind == "risk":  # the sweep takes the size the replay chose
        qty = replay(plan).quantities[0]
        plan = dataclasses.replace(
            plan, positions=(dataclasses.replace(plan.positions[0], size=Size("qty", qty)),)
        )
    _check(plan)


@pytest.mark.parametrize(
    "change",
    [{}, {"stop": 9300}, {"stop": 9480}, {"take_profit": 10040, "stop": 9950}],
)
def test_hand_series(tmp_path, change):
    from tests.sim.test_replay import write_bars, write_funding

    bars = write_bars(tmp_path / "b.csv")
    funding = write_funding(tmp_path / "f.csv", [(1_700_000_100_008, "0.0001")])
    _check(plan_for((bars, funding), **{k: Decimal(v) for k, v in change.items()}))


def test_grid_of_leverage_and_mode():
    plan = pm.load_plans("seed-2020-03-12")[0]
    grid = sweep(plan, leverages=[2, 5, 10, 20], margins=[250, 500], modes=["isolated", "cross"])
    assert len(grid) == 16
    iso = grid[grid["mode"] == "isolated"]
    # higher leverage is liquidated no later
    for margin in (250, 500):
        bars = iso[iso["margin"] == margin].sort_values("leverage")["liquidation_bar"].tolist()
        liquidated = [b for b in bars if b >= 0]
        assert liquidated == sorted(liquidated, reverse=True)
    with pytest.raises(PlanError):
        sweep(pm.load_plans("pair-2022-11-08")[0])


@pytest.mark.parametrize(
    ("side", "leverage", "stop", "take_profit"),
    [
        ("long", 5, None, None),  # liquidated in the crash, isolated before cross
        ("long", 20, 7000, None),  # a stop below: which comes first
        ("short", 10, None, None),
        ("short", 3, 9000, 5000),  # a take-profit in the crash
    ],
)
def test_inverse_plans_equal_the_exact_replay(side, leverage, stop, take_profit):
    """BTCUSD_PERP (100 USD contracts, money in BTC) on the 2020-03-12 bars and funding
    (the COIN-M perpetual tracks the same index; no COIN-M bars are bundled)."""
    from perpmargin.sim.plan import plan_from_dict

    position = {"symbol": "BTCUSD_PERP", "side": side, "leverage": leverage}
    position["size"] = {"margin": "0.3"}
    if stop is not None:
        position["stop"] = stop
    if take_profit is not None:
        position["take_profit"] = take_profit
    plan = plan_from_dict(
        {
            "name": "inverse",
            "venue": "binance-coinm",
            "balance": "1",
            "bars": {"BTCUSD_PERP": "binance-btcusdt-perp-15m-2020-03-12.csv"},
            "funding": {"BTCUSD_PERP": "binance-btcusdt-perp-funding-2020-03-12.csv"},
            "positions": [position],
        }
    )
    exact = _exact(plan)
    fast = sweep(plan)
    assert len(fast) == len(exact) == 2
    for _, row in fast.iterrows():
        bar, equity = exact[row["mode"]]
        assert row["liquidation_bar"] == bar, row["mode"]
        # the engine books each amount in satoshis (1e-8 BTC)
        assert row["final_equity"] == pytest.approx(equity, rel=1e-9, abs=5e-8)
    assert fast["quantity"].iloc[0] == replay(plan).quantities[0]  # in contracts
