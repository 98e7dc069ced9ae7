"""The vectorised replay equals the exact replay, plan by plan, mode by mode."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pandas as pd
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


@pytest.mark.parametrize(
    ("day", "inverse"), [("2020-03-12", False), ("2025-10-10", False), ("2020-03-12", True)]
)
def test_skipping_quiet_bars_changes_nothing(day, inverse):
    """The kernel skips a bar whose range cannot reach the position's liquidation price,
    stop or take-profit (and holds no funding) with two comparisons; on a random grid over
    a real crash day, with funding every 8 hours, that gives bit for bit what walking
    every bar the long way gives, and the grid has liquidations, stops and take-profits."""
    from perpmargin.sim.data import load_bars
    from perpmargin.sim.fast import TierArrays
    from perpmargin.sim.sweep import sweep_arrays

    venue = pm.load_venue("binance-coinm" if inverse else "binance-usdm")
    symbol = "BTCUSD_PERP" if inverse else "BTCUSDT"
    tiers = dataclasses.replace(TierArrays.from_venue(venue, [symbol]), contract_value=None)
    ohlc = (
        load_bars(f"binance-btcusdt-perp-1m-{day}.csv")
        .frame[["open", "high", "low", "close"]]
        .to_numpy(dtype=float)
    )
    rates = np.zeros(len(ohlc))
    rates[::480] = np.random.default_rng(0).normal(0, 0.001, rates[::480].size)
    rng = np.random.default_rng(7)
    n = 4000
    entry = ohlc[0, 0]
    side = rng.choice([-1.0, 1.0], n)
    leverage = rng.choice([1.0, 2.0, 5.0, 10.0, 20.0, 50.0], n)
    stop = np.where(rng.random(n) < 0.5, np.nan, entry * (1 - side * rng.uniform(0.01, 0.3, n)))
    take = np.where(rng.random(n) < 0.5, np.nan, entry * (1 + side * rng.uniform(0.01, 0.2, n)))
    cross = rng.random(n) < 0.5
    if inverse:  # linear in 1 / price, 100 USD contracts
        ohlc = 1.0 / ohlc[:, [0, 2, 1, 3]]
        stop, take = 1.0 / stop, 1.0 / take
        qty = -side * rng.integers(1, 20, n) * 100.0
        balance = 1.0
    else:
        qty = side * np.round(rng.uniform(0.001, 0.2, n), 3)
        balance = 10_000.0
    kwargs = {
        "balance": balance,
        "tiers": tiers,
        "taker": float(venue.taker_fee_rate),
        "to_trader": False,
        "tick": float(venue.symbol(symbol).tick_size),
        "inverse": inverse,
    }
    fast = sweep_arrays(ohlc, rates, qty, leverage, stop, take, cross, **kwargs)
    slow = sweep_arrays(
        ohlc, rates, qty, leverage, stop, take, cross, skip_quiet_bars=False, **kwargs
    )
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)
    liq, exit_, _ = fast
    exited_at_stop_or_take = exit_ >= 0
    assert (liq >= 0).sum() > n // 20
    assert exited_at_stop_or_take.sum() > n // 20
    assert ((liq < 0) & ~exited_at_stop_or_take).sum() > n // 20  # held to the end
    assert (rates != 0).sum() >= 3


def _grid_over(day_file, *, inverse, n, seed):
    """A random grid over real bars with funding every 8 hours (see the test above)."""
    from perpmargin.sim.data import load_bars
    from perpmargin.sim.fast import TierArrays

    venue = pm.load_venue("binance-coinm" if inverse else "binance-usdm")
    symbol = "BTCUSD_PERP" if inverse else "BTCUSDT"
    tiers = dataclasses.replace(TierArrays.from_venue(venue, [symbol]), contract_value=None)
    bars = load_bars(day_file).frame
    ohlc = bars[["open", "high", "low", "close"]].to_numpy(dtype=float)
    rates = np.zeros(len(ohlc))
    step = max(1, len(ohlc) // 3)
    rates[::step] = np.random.default_rng(seed).normal(0, 0.001, rates[::step].size)
    rng = np.random.default_rng(seed)
    entry = ohlc[0, 0]
    side = rng.choice([-1.0, 1.0], n)
    leverage = rng.choice([1.0, 2.0, 5.0, 10.0, 20.0, 50.0], n)
    stop = np.where(rng.random(n) < 0.5, np.nan, entry * (1 - side * rng.uniform(0.01, 0.3, n)))
    take = np.where(rng.random(n) < 0.5, np.nan, entry * (1 + side * rng.uniform(0.01, 0.2, n)))
    cross = rng.random(n) < 0.5
    if inverse:
        ohlc = 1.0 / ohlc[:, [0, 2, 1, 3]]
        stop, take = 1.0 / stop, 1.0 / take
        qty = -side * rng.integers(1, 20, n) * 100.0
        balance = 1.0
    else:
        qty = side * np.round(rng.uniform(0.001, 0.2, n), 3)
        balance = 10_000.0
    kwargs = {
        "balance": balance,
        "tiers": tiers,
        "taker": float(venue.taker_fee_rate),
        "to_trader": False,
        "tick": float(venue.symbol(symbol).tick_size),
        "inverse": inverse,
    }
    return (ohlc, rates, qty, leverage, stop, take, cross), kwargs


@pytest.mark.parametrize("inverse", [False, True])
def test_cuda_sweep_under_the_simulator_equals_numba(inverse):
    """One GPU thread per combination, running the CPU kernel's replay_one compiled for
    the device (under numba's CUDA simulator in CI: bit for bit)."""
    from numba import config

    from perpmargin.sim.gpu import available
    from perpmargin.sim.sweep import sweep_arrays

    if not (config.ENABLE_CUDASIM or available()):
        pytest.skip("set NUMBA_ENABLE_CUDASIM=1 (make test does) or run on a GPU machine")
    arrays, kwargs = _grid_over(
        "binance-btcusdt-perp-15m-2020-03-12.csv", inverse=inverse, n=48, seed=3
    )
    a = sweep_arrays(*arrays, **kwargs)
    b = sweep_arrays(*arrays, backend="cuda", **kwargs)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert (a[0] >= 0).any()
    assert (a[1] >= 0).any()


def test_dask_sweep_on_a_real_local_cluster_equals_numba(dask_client):
    from perpmargin.sim.sweep import sweep_arrays

    arrays, kwargs = _grid_over(
        "binance-btcusdt-perp-1m-2025-10-10.csv", inverse=False, n=3000, seed=4
    )
    a = sweep_arrays(*arrays, **kwargs)
    b = sweep_arrays(*arrays, backend="dask", scheduler=dask_client, chunks=5, **kwargs)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert (a[0] >= 0).any()
    grid = sweep(pm.load_plans("seed-2020-03-12")[0], leverages=[2, 5, 10, 20])
    on_dask = sweep(
        pm.load_plans("seed-2020-03-12")[0],
        leverages=[2, 5, 10, 20],
        backend="dask",
        scheduler=dask_client,
    )
    pd.testing.assert_frame_equal(grid, on_dask)


def test_sweep_refuses_an_unknown_backend():
    with pytest.raises(pm.InvalidInput, match="backend"):
        sweep(pm.load_plans("seed-2020-03-12")[0], backend="numpy")  # type: ignore[arg-type]
