"""Monte Carlo: reproducible paths, and each path's outcome equals the exact engine's."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pytest

import perpmargin as pm
from perpmargin.sim.montecarlo import log_price_paths, montecarlo, setup_from_plan


@pytest.fixture(scope="module")
def setup():
    plan = pm.load_plans("seed-2020-03-12")[1]  # $5,000 margin at 10x: cross can go too
    base = setup_from_plan(plan)
    return dataclasses.replace(base, step_vol=base.step_vol * 4)  # a rough day


@pytest.fixture(scope="module")
def pair_setup():
    return setup_from_plan(pm.load_plans("pair-2025-10-10")[0])


@pytest.mark.parametrize("model", ["gbm", "jump", "bootstrap"])
def test_kernel_walks_the_documented_paths(pair_setup, model):
    steps, paths = 40, 3
    expected = log_price_paths(pair_setup, paths=paths, steps=steps, model=model, seed=5, block=8)
    res = montecarlo(pair_setup, paths=paths, steps=steps, model=model, seed=5, block=8)
    # final equity in cross is the account revalued at the last simulated prices
    final = np.exp(expected[:, -1, :])
    for p in range(paths):
        if res.cross_step[p] >= 0:
            continue
        upnl = sum(
            q * (final[p, s] - e)
            for s, q, e in zip(pair_setup.sym, pair_setup.qty, pair_setup.entry, strict=True)
        )
        assert res.cross_final[p] == pytest.approx(pair_setup.balance + upnl, rel=1e-9)


def test_same_seed_same_numbers_whatever_the_chunking(setup):
    a = montecarlo(setup, paths=3000, steps=300, seed=11)
    b = montecarlo(setup, paths=3000, steps=300, seed=11, chunk_paths=700)
    c = montecarlo(setup, paths=3000, steps=300, seed=12)
    np.testing.assert_array_equal(a.iso_step, b.iso_step)
    np.testing.assert_array_equal(a.cross_final, b.cross_final)
    assert not np.array_equal(a.iso_final, c.iso_final)


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


def test_stats_and_intervals(setup):
    res = montecarlo(setup, paths=5000, steps=400, seed=1)
    for mode, s in res.stats.items():
        lo, hi = s.ci95
        assert lo <= s.liquidation_probability <= hi, mode
        assert s.loss_var95 <= s.loss_es95
        assert s.loss_var99 <= s.loss_es99
        assert sum(s.steps_histogram[1]) == round(s.liquidation_probability * res.paths)
    iso, cross = res.stats["isolated"], res.stats["cross"]
    assert iso.liquidation_probability > cross.liquidation_probability
    # isolated caps the loss at the margin (+ fees); cross can lose the whole account
    margin = float(setup.margin[0]) + setup.open_fees
    assert (res.start_balance - res.iso_final).max() <= margin + 1e-6
    assert (res.start_balance - res.cross_final).max() > margin


def test_bad_arguments(setup):
    with pytest.raises(pm.InvalidInput, match="model"):
        montecarlo(setup, paths=10, model="levy")
    with pytest.raises(pm.InvalidInput, match="paths"):
        montecarlo(setup, paths=0)
    with pytest.raises(pm.InvalidInput, match="steps"):
        montecarlo(setup, paths=10, steps=0)
    with pytest.raises(pm.InvalidInput, match="block"):
        montecarlo(setup, paths=10, model="bootstrap", block=10**6)
    with pytest.raises(pm.InvalidInput, match="backend"):
        montecarlo(setup, paths=10, backend="fpga")  # type: ignore[arg-type]
    for chunk_paths in (0, -5, 2.5):
        with pytest.raises(pm.InvalidInput, match="chunk_paths"):
            montecarlo(setup, paths=10, chunk_paths=chunk_paths)  # type: ignore[arg-type]
    for seed in (-1, 2**63, 1.5, True):
        with pytest.raises(pm.InvalidInput, match="seed"):
            montecarlo(setup, paths=10, seed=seed)  # type: ignore[arg-type]


def _same_paths(a, b, *, rel):
    np.testing.assert_array_equal(a.iso_step, b.iso_step)
    np.testing.assert_array_equal(a.cross_step, b.cross_step)
    np.testing.assert_allclose(a.iso_final, b.iso_final, rtol=rel, atol=rel)
    np.testing.assert_allclose(a.cross_final, b.cross_final, rtol=rel, atol=rel)


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


def test_cuda_monte_carlo_refuses_what_a_thread_cannot_hold(setup):
    from numba import config

    if not config.ENABLE_CUDASIM:
        pytest.skip("set NUMBA_ENABLE_CUDASIM=1 (make test does) or run on a GPU machine")
    from perpmargin.sim.gpu import MAX_POSITIONS

    n = MAX_POSITIONS + 1
    big = dataclasses.replace(
        setup,
        sym=np.zeros(n, dtype=np.int32),
        qty=np.full(n, setup.qty[0] / n),
        entry=np.full(n, setup.entry[0]),
        margin=np.full(n, setup.margin[0] / n),
    )
    with pytest.raises(pm.PerpMarginError, match="at most"):
        montecarlo(big, paths=4, steps=3, backend="cuda")


def test_counter_based_normals_are_standard_and_independent():
    """Marsaglia's polar method on hashed uniforms: moments of N(0, 1), no correlation
    between the two members of a pair, between assets or between neighbouring paths."""
    from perpmargin.sim.mc_kernels import normal, normal_pair

    n = 40_000
    a = np.array([normal_pair(7, p, 3, 0) for p in range(n)])
    b = np.array([normal_pair(7, p, 3, 1) for p in range(n)])
    z = a.ravel()
    se = 1 / np.sqrt(z.size)
    assert abs(z.mean()) < 4 * se
    assert abs(z.var() - 1) < 4 * np.sqrt(2) * se
    assert abs(((z - z.mean()) ** 4).mean() / z.var() ** 2 - 3) < 4 * np.sqrt(24) * se
    for x, y in ((a[:, 0], a[:, 1]), (a[:, 0], b[:, 0]), (a[:-1, 0], a[1:, 0])):
        assert abs(np.corrcoef(x, y)[0, 1]) < 4 / np.sqrt(n)
    assert normal(7, 5, 6, 0) == a[5, 0]  # even step: first of the pair 3
    assert normal(7, 5, 7, 0) == a[5, 1]  # odd step: second


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
