"""The float64 fast path against the exact Decimal engine, on random portfolios.

Each example builds the same positions twice with the exact engine, all isolated and
all cross, then compares: isolated liquidation flags, cross equity / maintenance /
flag, and liquidation prices (isolated, and cross with the other legs held at their
marks), on every backend. Tolerance: 1e-9 relative on prices and money; a flag may
differ only when equity and requirement are within 1e-9 x notional (documented in
perpmargin.sim.fast).
"""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import perpmargin as pm
from perpmargin.sim.fast import (
    Portfolio,
    TierArrays,
    bankruptcy_prices,
    liquidation_prices,
    portfolio_from_accounts,
    revalue,
)

VENUES = [
    "binance-usdm",
    "bybit-linear",
    "okx-swap",
    "gate-futures",
    "hyperliquid",
    "dydx-v4",
    "binance-coinm",  # inverse: sizes in contracts, money in BTC
    "bybit-inverse",
]
CPU_BACKENDS = ["numpy", "numba"]


def _leg():
    return st.tuples(
        st.sampled_from(["long", "short"]),
        st.integers(1, 400),  # quantity in steps
        st.floats(0.5, 1.5),  # entry / reference
        st.integers(1, 20),  # leverage
        st.floats(0.55, 1.6),  # mark / entry
    )


@st.composite
def portfolios(draw):
    venue = pm.load_venue(draw(st.sampled_from(VENUES)))
    symbols = sorted(venue.featured)
    chosen = draw(
        st.lists(st.sampled_from(symbols), min_size=1, max_size=len(symbols), unique=True)
    )
    legs = {s: draw(_leg()) for s in chosen}
    balance = draw(st.integers(2_000, 400_000))
    return venue, legs, balance


def _build(venue, legs, balance, mode):
    inverse = any(spec.inverse_value for spec in venue.symbols.values())
    if inverse:  # the same dollar size, in the coin
        balance = (Decimal(balance) / 30000).quantize(Decimal("0.00000001"))
    acct = pm.Account(venue, balance=balance)
    marks = {}
    for s, (side, steps, entry_f, lev, mark_f) in legs.items():
        spec = venue.symbol(s)
        ref = Decimal(30000) if "BTC" in s else Decimal(2000)
        entry = (ref * Decimal(repr(entry_f))).quantize(spec.tick_size)
        qty = spec.step_size * steps * (10 if spec.step_size < Decimal("0.01") else 1)
        if spec.inverse_value is not None:  # contracts worth about steps x 0.01 BTC
            qty = Decimal(steps) * 300 / spec.inverse_value
        max_lev = min(lev, int(spec.tiers.tiers[0].max_leverage))
        acct.set_margin_mode(s, mode)
        acct.set_leverage(s, max_lev)
        acct.open(s, side, qty, entry)
        marks[s] = (entry * Decimal(repr(mark_f))).quantize(spec.tick_size)
    return acct, marks


def _close(a, b, rel=1e-9):
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or math.isnan(b)
    if b is None or math.isnan(b):
        return False
    return abs(float(a) - float(b)) <= rel * max(abs(float(a)), 1.0)


@settings(max_examples=60, deadline=None)
@given(portfolios(), st.sampled_from(CPU_BACKENDS))
def test_revaluation_and_liquidation_prices_match_the_engine(case, backend):
    venue, legs, balance = case
    try:
        iso, marks = _build(venue, legs, balance, "isolated")
        cross, _ = _build(venue, legs, balance, "cross")
    except pm.PerpMarginError:
        assume(False)
    tiers = TierArrays.from_venue(venue)
    p_iso = portfolio_from_accounts([iso], tiers)
    p_cross = portfolio_from_accounts([cross], tiers)
    mark_arr = np.array(
        [float(marks.get(s, venue.symbol(s).tick_size * 1000)) for s in tiers.symbols]
    )
    # exact marks as the kernel sees them (floats of the Decimal marks)
    rev_iso = revalue(p_iso, mark_arr, tiers, backend=backend)
    rev_cross = revalue(p_cross, mark_arr, tiers, backend=backend)

    # isolated: flag per leg, liquidation price (exact, unrounded) per leg
    liq_iso = liquidation_prices(p_iso, mark_arr, tiers, "isolated", backend=backend)
    bk_iso = bankruptcy_prices(p_iso, mark_arr, tiers, "isolated", backend=backend)
    for i, view in enumerate(iso.positions()):
        flag = iso.liquidates_at({view.symbol: marks[view.symbol]})
        notional = float(view.quantity * marks[view.symbol])
        assert bool(rev_iso.iso_liquidated[i]) == flag, (view.symbol, notional)
        exact = iso.liquidation_price(view.symbol, exact=True)
        assert _close(exact, liq_iso[i]), (view.symbol, exact, liq_iso[i])
        exact_bk = iso.bankruptcy_price(view.symbol, exact=True)
        assert _close(exact_bk, bk_iso[i]), (view.symbol, exact_bk, bk_iso[i])

    # cross: the account as a whole
    cross_flag = cross.liquidates_at(marks)
    assert bool(rev_cross.cross_liquidated[0]) == cross_flag
    if not cross_flag:
        cross.mark(marks)
        assert _close(cross.cross_equity, rev_cross.cross_equity[0], 1e-12)
        assert _close(cross.cross_maintenance_margin, rev_cross.cross_maintenance[0], 1e-12)
        liq_cross = liquidation_prices(p_cross, mark_arr, tiers, "cross", backend=backend)
        bk_cross = bankruptcy_prices(p_cross, mark_arr, tiers, "cross", backend=backend)
        for i, view in enumerate(cross.positions()):
            exact = cross.liquidation_price(view.symbol, exact=True)
            assert _close(exact, liq_cross[i]), (view.symbol, exact, liq_cross[i])
            exact_bk = cross.bankruptcy_price(view.symbol, exact=True)
            assert _close(exact_bk, bk_cross[i]), (view.symbol, exact_bk, bk_cross[i])


def _random_portfolio(n_accounts, per_account, tiers, seed=0):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, per_account + 1, n_accounts)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n = int(offsets[-1])
    sym = rng.integers(0, len(tiers.symbols), n).astype(np.int32)
    entry = np.where(sym == 0, 30000.0, 2000.0) * rng.uniform(0.8, 1.2, n)
    qty = rng.uniform(0.01, 5, n) * np.where(sym == 0, 1, 15) * rng.choice([-1, 1], n)
    margin = np.abs(qty) * entry / rng.integers(1, 50, n)
    balance = rng.uniform(0, 3, n_accounts) * np.bincount(
        np.repeat(np.arange(n_accounts), counts), weights=margin, minlength=n_accounts
    )
    return Portfolio(offsets, sym, qty, entry, margin, balance)


@pytest.mark.parametrize("venue", ["binance-usdm", "bybit-linear", "okx-swap"])
def test_backends_agree_on_a_large_random_book(venue):
    tiers = TierArrays.from_venue(pm.load_venue(venue))
    p = _random_portfolio(20_000, 6, tiers)
    marks = np.array([27000.0, 2100.0][: len(tiers.symbols)])
    ref = revalue(p, marks, tiers, backend="numpy")
    fast = revalue(p, marks, tiers, backend="numba")
    assert 0.01 < ref.iso_liquidated.mean() < 0.99  # the book has both outcomes
    assert 0 < ref.cross_liquidated.sum() < p.n_accounts
    np.testing.assert_array_equal(ref.iso_liquidated, fast.iso_liquidated)
    np.testing.assert_array_equal(ref.cross_liquidated, fast.cross_liquidated)
    np.testing.assert_allclose(ref.cross_equity, fast.cross_equity, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(ref.cross_maintenance, fast.cross_maintenance, rtol=1e-12, atol=1e-6)
    for mode in ("isolated", "cross"):
        a = liquidation_prices(p, marks, tiers, mode, backend="numpy")
        b = liquidation_prices(p, marks, tiers, mode, backend="numba")
        np.testing.assert_allclose(a, b, rtol=1e-9)
        a = bankruptcy_prices(p, marks, tiers, mode, backend="numpy")
        b = bankruptcy_prices(p, marks, tiers, mode, backend="numba")
        np.testing.assert_allclose(a, b, rtol=1e-12)
        assert np.isnan(a).sum() < a.size  # prices to compare


def test_cuda_kernel_under_the_simulator_matches_numba():
    from numba import config

    if not config.ENABLE_CUDASIM:
        pytest.skip("set NUMBA_ENABLE_CUDASIM=1 (CI does) or run on a GPU machine")
    tiers = TierArrays.from_venue(pm.load_venue("bybit-linear"))
    p = _random_portfolio(300, 4, tiers, seed=3)
    marks = np.array([28000.0])
    a = revalue(p, marks, tiers, backend="numba")
    b = revalue(p, marks, tiers, backend="cuda")
    np.testing.assert_array_equal(a.iso_liquidated, b.iso_liquidated)
    np.testing.assert_array_equal(a.cross_liquidated, b.cross_liquidated)
    np.testing.assert_allclose(a.cross_equity, b.cross_equity, rtol=1e-12, atol=1e-6)
    for mode in ("isolated", "cross"):  # Bybit: the fee at the bankruptcy price too
        x = liquidation_prices(p, marks, tiers, mode, backend="numba")
        y = liquidation_prices(p, marks, tiers, mode, backend="cuda")
        np.testing.assert_array_equal(x, y)
        x = bankruptcy_prices(p, marks, tiers, mode, backend="numba")
        y = bankruptcy_prices(p, marks, tiers, mode, backend="cuda")
        np.testing.assert_array_equal(x, y)
        assert np.isfinite(x).sum() > p.n_positions // 2


@pytest.mark.parametrize(("chunk", "streams"), [(17, 2), (50, 3), (1000, 2), (1, 1)])
def test_streamed_cuda_revaluation_matches_numba(chunk, streams):
    """Books that do not stay on the device: chunks of accounts staged in pinned host
    memory, copied and run on CUDA streams in turn; every flag and figure equals numba's
    (chunks of one account, uneven last chunks, more streams than chunks)."""
    from numba import config

    from perpmargin.sim.gpu import revalue_cuda_streamed

    if not config.ENABLE_CUDASIM:
        pytest.skip("set NUMBA_ENABLE_CUDASIM=1 (CI does) or run on a GPU machine")
    tiers = TierArrays.from_venue(pm.load_venue("bybit-linear"))
    p = _random_portfolio(120, 4, tiers, seed=5)
    p = Portfolio(p.offsets, p.sym, p.qty, p.entry, p.margin, p.balance,
                  np.abs(p.qty) * 0.5)  # a fee held in the margin (Bybit)  # fmt: skip
    marks = np.array([28000.0])
    a = revalue(p, marks, tiers, backend="numba")
    b = revalue_cuda_streamed(p, marks, tiers, chunk_accounts=chunk, streams=streams)
    np.testing.assert_array_equal(a.iso_liquidated, b.iso_liquidated)
    np.testing.assert_array_equal(a.cross_liquidated, b.cross_liquidated)
    np.testing.assert_allclose(a.cross_equity, b.cross_equity, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(a.cross_maintenance, b.cross_maintenance, rtol=1e-12, atol=1e-6)
    assert 0 < a.cross_liquidated.sum() < p.n_accounts
    # inverse books go through revalue(), which writes them in x = 1/P first
    coinm = TierArrays.from_venue(pm.load_venue("binance-coinm"))
    q = _random_portfolio(90, 3, coinm, seed=6)
    at = np.array([27000.0, 2100.0][: len(coinm.symbols)])
    a = revalue(q, at, coinm, backend="numba")
    b = revalue(q, at, coinm, backend="cuda", chunks=4)
    np.testing.assert_array_equal(a.iso_liquidated, b.iso_liquidated)
    np.testing.assert_allclose(a.cross_equity, b.cross_equity, rtol=1e-12, atol=1e-9)


def test_bad_input_is_refused():
    tiers = TierArrays.from_venue(pm.load_venue("binance-usdm"))
    p = _random_portfolio(10, 3, tiers)
    with pytest.raises(pm.InvalidInput, match="marks"):
        revalue(p, [1.0], tiers)
    with pytest.raises(pm.InvalidInput, match="finite"):
        revalue(p, [float("nan"), 1.0], tiers)
    with pytest.raises(pm.InvalidInput, match="backend"):
        revalue(p, [1.0, 1.0], tiers, backend="fpga")
    for prices in (liquidation_prices, bankruptcy_prices):
        with pytest.raises(pm.InvalidInput, match="mode"):
            prices(p, [1.0, 1.0], tiers, "portfolio")  # type: ignore[arg-type]
        with pytest.raises(pm.InvalidInput, match="backend"):
            prices(p, [1.0, 1.0], tiers, backend="fpga")  # type: ignore[arg-type]
        with pytest.raises(pm.InvalidInput, match="finite"):
            prices(p, [float("inf"), 1.0], tiers)
    for chunks in (0, -2, 1.5, True):  # refused before any task is sent to a cluster
        with pytest.raises(pm.InvalidInput, match="chunks"):
            revalue(p, [1.0, 1.0], tiers, backend="dask", chunks=chunks)  # type: ignore[arg-type]
        with pytest.raises(pm.InvalidInput, match="chunks"):
            bankruptcy_prices(p, [1.0, 1.0], tiers, backend="dask", chunks=chunks)  # type: ignore[arg-type]
    with pytest.raises(pm.InvalidInput, match="offsets"):
        Portfolio(np.array([0, 5]), p.sym[:2], p.qty[:2], p.entry[:2], p.margin[:2], p.balance[:1])
    with pytest.raises(pm.InvalidInput, match="qty"):
        Portfolio(
            np.array([0, 1]), p.sym[:1], np.zeros(1), p.entry[:1], p.margin[:1], p.balance[:1]
        )
    with pytest.raises(pm.InvalidInput, match="is not one of"):
        tiers.index("DOGEUSDT")


def test_dask_backend_on_a_real_local_cluster_matches_numba(dask_client):
    assert len(dask_client.scheduler_info()["workers"]) == 2
    tiers = TierArrays.from_venue(pm.load_venue("binance-usdm"))
    p = _random_portfolio(5_000, 5, tiers, seed=7)
    marks = np.array([26000.0, 2300.0])
    a = revalue(p, marks, tiers, backend="numba")
    b = revalue(p, marks, tiers, backend="dask", scheduler=dask_client, chunks=7)
    np.testing.assert_array_equal(a.iso_liquidated, b.iso_liquidated)
    np.testing.assert_array_equal(a.cross_liquidated, b.cross_liquidated)
    np.testing.assert_array_equal(a.cross_equity, b.cross_equity)
    for mode in ("isolated", "cross"):  # cross prices need each chunk's whole accounts
        x = liquidation_prices(p, marks, tiers, mode)
        y = liquidation_prices(
            p, marks, tiers, mode, backend="dask", scheduler=dask_client, chunks=7
        )
        np.testing.assert_array_equal(x, y)


def test_dask_monte_carlo_gives_the_same_paths(dask_client):
    from perpmargin.sim.montecarlo import montecarlo, setup_from_plan

    setup = setup_from_plan(pm.load_plans("pair-2022-11-08")[0])
    a = montecarlo(setup, paths=2000, steps=100, seed=9)
    b = montecarlo(
        setup, paths=2000, steps=100, seed=9, backend="dask", scheduler=dask_client, chunk_paths=300
    )
    np.testing.assert_array_equal(a.iso_step, b.iso_step)
    np.testing.assert_array_equal(a.cross_final, b.cross_final)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_revalue_into_an_earlier_result(backend):
    """``out=`` writes the same numbers in place; a wrong ``out`` is refused untouched."""
    tiers = TierArrays.from_venue(pm.load_venue("binance-usdm"))
    p = _random_portfolio(9_000, 5, tiers)
    # empty accounts at the start, inside and at the end of the blocks
    counts = np.diff(p.offsets)
    counts[[0, 1000, -1]] = 0
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n = int(offsets[-1])
    p = Portfolio(offsets, p.sym[:n], p.qty[:n], p.entry[:n], p.margin[:n], p.balance)
    first = revalue(p, np.array([27000.0, 2100.0]), tiers, backend=backend)
    again = revalue(p, np.array([24000.0, 2400.0]), tiers, backend=backend, out=first)
    assert again is first
    fresh = revalue(p, np.array([24000.0, 2400.0]), tiers, backend=backend)
    for name in ("iso_liquidated", "cross_equity", "cross_maintenance", "cross_liquidated"):
        np.testing.assert_array_equal(getattr(again, name), getattr(fresh, name))
    assert again.cross_liquidated[[0, 1000, -1]].tolist() == [0, 0, 0]
    assert again.cross_maintenance[[0, 1000, -1]].tolist() == [0.0, 0.0, 0.0]
    before = again.cross_equity.copy()
    small = revalue(p.chunk(0, 10), np.array([27000.0, 2100.0]), tiers)
    for bad in (small, "result", dataclasses.replace(again, cross_equity=again.cross_equity[::2])):
        with pytest.raises(pm.InvalidInput, match="out"):
            revalue(p, np.array([1.0, 1.0]), tiers, backend=backend, out=bad)
    np.testing.assert_array_equal(again.cross_equity, before)
