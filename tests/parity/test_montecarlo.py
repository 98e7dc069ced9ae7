"""The Monte Carlo against the exact engine (the Decimal engine driven along the same
paths) and its backends against each other (numpy reference, numba, CUDA)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pytest

import perpmargin as pm
from perpmargin.sim.montecarlo import log_price_paths, montecarlo, setup_from_plan


def _same_paths(a, b, *, rel):
    np.testing.assert_array_equal(a.iso_step, b.iso_step)
    np.testing.assert_array_equal(a.cross_step, b.cross_step)
    np.testing.assert_allclose(a.iso_final, b.iso_final, rtol=rel, atol=rel)
    np.testing.assert_allclose(a.cross_final, b.cross_final, rtol=rel, atol=rel)


def test_each_path_matches_the_exact_engine(setup):
    """Drive the Decimal engine along the first paths; same liquidation step, same money."""
    paths, steps = 40, 250
    res = montecarlo(setup, paths=paths, steps=steps, seed=3)
    logp = log_price_paths(setup, paths=paths, steps=steps, seed=3)
    venue = pm.load_venue("binance-usdm")
    plan = pm.load_plans("seed-2020-03-12")[1]
    outcomes = {"isolated": 0, "cross": 0}
    for p in range(paths):
        for mode, step_arr, final_arr in (
            ("isolated", res.iso_step, res.iso_final),
            ("cross", res.cross_step, res.cross_final),
        ):
            acct = pm.Account(venue, balance=plan.balance)
            acct.set_margin_mode("BTCUSDT", mode)
            acct.set_leverage("BTCUSDT", 10)
            entry = Decimal(repr(float(setup.entry[0])))
            acct.open("BTCUSDT", "long", Decimal(repr(float(setup.qty[0]))), entry)
            liquidated_at = -1
            for t in range(steps):
                price = Decimal(repr(float(np.exp(logp[p, t, 0]))))
                events = acct.mark({"BTCUSDT": price})
                if liquidated_at < 0 and any(type(e).__name__ == "Liquidation" for e in events):
                    liquidated_at = t
            assert liquidated_at == step_arr[p], (mode, p)
            assert float(acct.equity) == pytest.approx(final_arr[p], rel=1e-9, abs=1e-6)
            outcomes[mode] += liquidated_at >= 0
    assert 0 < outcomes["isolated"] < paths  # both outcomes occur: the test can fail
    assert outcomes["cross"] < outcomes["isolated"]


@pytest.mark.parametrize("model", ["gbm", "jump", "bootstrap"])
@pytest.mark.parametrize(
    ("name", "variant", "vol"), [("seed-2020-03-12", 1, 3.0), ("pair-2022-11-08", 0, 1.0)]
)
def test_numpy_backend_gives_the_numba_paths(name, variant, vol, model):
    """The reference backend (paths as the numpy vector axis) against the numba kernel:
    the same liquidation steps on every path; money equal up to numpy's exp/log, which
    may differ from the C library's in the last bit. One leg (static cross price) and
    two legs on two symbols (the cross account revalued with tiers at every step)."""
    setup = setup_from_plan(pm.load_plans(name)[variant])
    setup = dataclasses.replace(setup, step_vol=setup.step_vol * vol)
    kw = {"paths": 1500, "steps": 300, "model": model, "seed": 9, "block": 30}
    a = montecarlo(setup, **kw)
    b = montecarlo(setup, backend="numpy", chunk_paths=700, **kw)
    _same_paths(a, b, rel=1e-12)
    for mode in ("isolated", "cross"):
        assert a.stats[mode].liquidation_probability == b.stats[mode].liquidation_probability
    # the comparison has liquidations in both modes to agree on, and survivors
    assert (a.iso_step >= 0).any()
    assert (a.cross_step >= 0).any()
    assert ((a.iso_step < 0) | (a.cross_step < 0)).any()


@pytest.mark.parametrize("model", ["gbm", "jump", "bootstrap"])
def test_cuda_monte_carlo_under_the_simulator_gives_the_numba_paths(pair_setup, model):
    """The CUDA kernel (one thread per path; the RNG and tier lookup are the CPU kernels'
    functions compiled for the device) run by numba's CUDA simulator: bit for bit the
    numba kernel's paths. On a GPU machine the same test runs the real device."""
    from numba import config

    from perpmargin.sim.gpu import available

    if not (config.ENABLE_CUDASIM or available()):
        pytest.skip("set NUMBA_ENABLE_CUDASIM=1 (make test does) or run on a GPU machine")
    setup = dataclasses.replace(pair_setup, step_vol=pair_setup.step_vol * 3)
    kw = {"paths": 40, "steps": 120, "model": model, "seed": 2, "block": 16}
    a = montecarlo(setup, **kw)
    b = montecarlo(setup, backend="cuda", **kw)
    _same_paths(a, b, rel=0.0 if config.ENABLE_CUDASIM else 1e-12)
    assert (a.iso_step >= 0).any()


def _inverse_plan(side):
    from perpmargin.sim.plan import plan_from_dict

    return plan_from_dict(
        {
            "name": f"inverse {side}",
            "venue": "binance-coinm",
            "balance": "1",
            # the COIN-M perpetual tracks the same index; no COIN-M bars are bundled
            "bars": {"BTCUSD_PERP": "binance-btcusdt-perp-15m-2020-03-12.csv"},
            "positions": [
                {"symbol": "BTCUSD_PERP", "side": side, "leverage": 5, "size": {"margin": "0.3"}}
            ],
        }
    )


@pytest.mark.parametrize("side", ["long", "short"])
def test_inverse_paths_match_the_exact_engine_in_the_coin(side):
    """An inverse position is walked in x = 1 / price; along the same real prices the
    Decimal engine (money in BTC) gives the same liquidation step and final equity."""
    plan = _inverse_plan(side)
    base = setup_from_plan(plan)
    setup = dataclasses.replace(base, step_vol=base.step_vol * 3)
    paths, steps = 30, 200
    res = montecarlo(setup, paths=paths, steps=steps, seed=7)
    logp = log_price_paths(setup, paths=paths, steps=steps, seed=7)
    # the price, not its reciprocal, is driftless: log price drifts by -sigma^2/2 a step
    # (with x's drift the mean would sit 8 standard errors higher)
    sigma2_t = float(setup.step_vol[0]) ** 2 * steps
    expected = -setup.log_s0[0] - 0.5 * sigma2_t
    assert abs(logp[:, -1, 0].mean() - expected) < 4 * np.sqrt(sigma2_t / paths)
    venue = pm.load_venue("binance-coinm")
    result = pm.replay_plan(plan)  # its sizes: contracts at the first open
    (qty,) = result.quantities
    (entry,) = result.entry_prices
    liquidated = {"isolated": 0, "cross": 0}
    for p in range(paths):
        for mode, step_arr, final_arr in (
            ("isolated", res.iso_step, res.iso_final),
            ("cross", res.cross_step, res.cross_final),
        ):
            acct = pm.Account(venue, balance=1, settle="BTC")
            acct.set_margin_mode("BTCUSD_PERP", mode)
            acct.set_leverage("BTCUSD_PERP", 5)
            acct.open("BTCUSD_PERP", side, qty, entry)
            liquidated_at = -1
            for t in range(steps):
                price = Decimal(repr(float(np.exp(logp[p, t, 0]))))
                events = acct.mark({"BTCUSD_PERP": price})
                if liquidated_at < 0 and any(type(e).__name__ == "Liquidation" for e in events):
                    liquidated_at = t
            assert liquidated_at == step_arr[p], (mode, p)
            # the engine books each amount in satoshis (1e-8 BTC): fee, PnL, liquidation fee
            assert float(acct.equity) == pytest.approx(final_arr[p], rel=1e-9, abs=3e-8)
            liquidated[mode] += liquidated_at >= 0
    assert 0 < liquidated["isolated"] < paths  # both outcomes occur: the test can fail
    assert liquidated["cross"] <= liquidated["isolated"]
