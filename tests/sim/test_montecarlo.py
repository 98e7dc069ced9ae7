"""Monte Carlo: reproducible paths, and each path's outcome equals the exact engine's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import perpmargin as pm
from perpmargin.sim.montecarlo import log_price_paths, montecarlo


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
        reserve=np.zeros(n),
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
