"""The five defects of the issue "One rulebook", each pinned by a test that failed before
the fast paths called the rulebook (formulas) instead of their own copies.

5 (money not conserved to the unit in the deficit path) is pinned in
tests/engine/test_liquidation_settlement.py::test_a_cross_deficit_is_settled_in_whole_units.
"""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal as D

import numpy as np
import pytest

import perpmargin as pm
from perpmargin.sim.fast import Portfolio, liquidation_prices, portfolio_from_accounts
from perpmargin.sim.montecarlo import montecarlo
from perpmargin.sim.stress import stress_cell_exact, stress_grid
from perpmargin.sim.tiers import TierArrays
from tests.parity.books import Book, LegSpec
from tests.parity.test_matrix import setup_held_still


def test_1_stress_grid_on_an_inverse_position_is_in_the_coin():
    """An isolated COIN-M BTCUSD_PERP long (100 contracts of 100 USD at 50,000, 1x: 0.2 BTC
    of margin) in a 1 BTC wallet, shocked -5 %: the grid gave about -2.5 M 'BTC' of equity
    (linear formulas on contracts) and asked 5,000,000 of margin for 'all isolated'."""
    venue = pm.load_venue("binance-coinm")
    acct = pm.Account(venue, "1")
    acct.restore_position("BTCUSD_PERP", "long", 100, "50000", margin_mode="isolated",
                          leverage=1, isolated_margin="0.2", mark_price="50000")  # fmt: skip
    grid = stress_grid(acct, shocks=[-0.05])
    marks = grid.cell_marks(0, 0, venue)
    for name in grid.scenarios:
        equity, gone, _ = stress_cell_exact(acct, name, marks)
        assert grid.equity[name][0, 0] == pytest.approx(float(equity), rel=1e-12)
        assert not gone
    # 1 BTC + 100 x 100 x (1/50,000 - 1/47,500) = 0.98947... BTC
    assert grid.equity["current"][0, 0] == pytest.approx(1 + 10000 * (1 / 50000 - 1 / 47500))
    from perpmargin.sim.stress import scenario_account

    cross = pm.Account(venue, "1")
    cross.restore_position("BTCUSD_PERP", "long", 100, "50000", margin_mode="cross",
                           leverage=1, mark_price="50000")  # fmt: skip
    iso = scenario_account(cross, "all isolated")
    assert iso.position("BTCUSD_PERP").isolated_margin == D("0.2")


def _two_symbol_bybit() -> pm.Venue:
    """bybit-linear with a second symbol (a copy of BTCUSDT), so that a cross account holds
    two legs and the Monte Carlo checks the pool step by step (one leg has a static price)."""
    venue = pm.load_venue("bybit-linear")
    spec = venue.symbol("BTCUSDT")
    twin = dataclasses.replace(spec, symbol="BTC2USDT", ccxt_symbol="BTC2/USDT:USDT", base="BTC")
    return dataclasses.replace(venue, symbols={"BTCUSDT": spec, "BTC2USDT": twin})


def test_2_bybit_monte_carlo_values_the_fee_to_close_at_the_bankruptcy_price():
    """Two cross longs on a Bybit-rule venue, prices held still, the wallet a little above
    what the engine requires: the Monte Carlo liquidated at step 0 because it valued the
    fee to close at the mark (higher than at a long's bankruptcy price)."""
    venue = _two_symbol_bybit()
    legs = (
        LegSpec("BTCUSDT", "long", D("1"), D("60000"), D(10), D("60000"), D("6000")),
        LegSpec("BTC2USDT", "long", D("1"), D("60000"), D(10), D("60000"), D("6000")),
    )
    # MM 2 x 300; the fee to close 2 x 0.055 % of the value at 60,000 (mark) = 66, or at
    # each leg's cross bankruptcy price 60,000 - W (engine) = 66 - 0.0011 W: a wallet W in
    # (665.27, 666) is enough for the engine and not for a mark-valued fee
    book = Book(venue, legs, D("665.60"))
    acct = book.account("cross")
    assert not acct.liquidates_at(book.marks)
    at_mark = D(600) + 2 * D("0.00055") * D(60000)
    assert acct.cross_maintenance_margin < acct.cross_equity < at_mark
    for backend in ("numba", "numpy"):
        res = montecarlo(setup_held_still(book), paths=1, steps=1, backend=backend)
        assert res.cross_step[0] == -1, backend
        assert res.cross_final[0] == pytest.approx(float(acct.equity), rel=1e-9)


def test_3_monte_carlo_says_what_it_does_not_simulate():
    plan = pm.load_plans("partial-2025-10-10")[0]
    assert plan.liquidation_model == "venue"
    res = montecarlo(plan, paths=20, steps=30)
    assert any("partial liquidation is not simulated" in n for n in res.notes)
    assert res.to_dict()["notes"] == list(res.notes)
    hedge = dataclasses.replace(
        pm.load_plans("seed-2020-03-12")[0],
        position_mode="hedge",
        positions=(
            pm.load_plans("seed-2020-03-12")[0].positions[0],
            dataclasses.replace(pm.load_plans("seed-2020-03-12")[0].positions[0], side="short"),
        ),
    )
    with pytest.raises(pm.errors.NotModelled, match=r"hedge|one symbol"):
        montecarlo(hedge, paths=10, steps=10)


def test_4_a_short_past_the_top_of_a_capped_table_has_a_liquidation_price():
    """Gate BTC_USDT (table capped at 1.5 M), short 7.5898 at 100,787.6, 1x: the exact
    engine's price is 200,720.6; the fast path returned NaN ("never"), so the sweep never
    liquidated such a short."""
    venue = pm.load_venue("gate-futures")
    exact = pm.liquidation_price(venue, "isolated", "short", "100787.6", "7.5898",
                                 leverage=1, symbol="BTC_USDT")  # fmt: skip
    assert exact == D("200720.6")
    tiers = TierArrays.from_venue(venue)
    margin = 7.5898 * 100787.6
    p = Portfolio(np.array([0, 1]), np.array([0], dtype=np.int32), np.array([-7.5898]),
                  np.array([100787.6]), np.array([margin]), np.array([0.0]))  # fmt: skip
    unrounded = pm.liquidation_price(venue, "isolated", "short", "100787.6", "7.5898",
                                     leverage=1, symbol="BTC_USDT", exact=True)  # fmt: skip
    for backend in ("numpy", "numba"):
        (fast,) = liquidation_prices(p, np.array([100787.6]), tiers, backend=backend)
        assert fast == pytest.approx(float(unrounded), rel=1e-12), backend


@pytest.mark.parametrize("venue_id", ["gate-futures", "bybit-linear", "bybit-inverse"])
def test_4_random_shorts_on_capped_tables_match_the_engine(venue_id):
    venue = pm.load_venue(venue_id)
    (spec,) = [venue.symbol(s) for s in venue.featured if venue.symbol(s).base == "BTC"]
    rng = np.random.default_rng(4)
    tiers = TierArrays.from_venue(venue, [spec.symbol])
    accounts, checked = [], 0
    for _ in range(300):
        entry = (D(repr(float(rng.uniform(20000, 120000)))) / spec.tick_size).quantize(D(1))
        entry *= spec.tick_size
        lev = D(int(rng.integers(1, 4)))
        if spec.inverse_value is None:
            qty = D(int(rng.integers(1, 60_000))) * spec.step_size
        else:
            qty = D(int(rng.integers(1, 2_000_000)))
        acct = pm.Account(venue, "1000000000")
        try:
            acct.set_margin_mode(spec.symbol, "isolated")
            acct.set_leverage(spec.symbol, lev)
            acct.open(spec.symbol, "short", qty, entry)
        except pm.PerpMarginError:
            continue
        accounts.append(acct)
    p = portfolio_from_accounts(accounts, tiers)
    marks = np.array([float(a.marks[spec.symbol]) for a in accounts[:1]])
    for backend in ("numpy", "numba"):
        # each account at its own mark: one account at a time
        for i, acct in enumerate(accounts):
            one = p.chunk(i, i + 1)
            mark = np.array([float(acct.marks[spec.symbol])])
            (fast,) = liquidation_prices(one, mark, tiers, backend=backend)
            exact = acct.liquidation_price(spec.symbol, exact=True)
            if exact is None:  # an inverse short at 1x: no price liquidates it
                assert math.isnan(fast)
                continue
            assert not math.isnan(fast), (backend, acct.position(spec.symbol))
            assert fast == pytest.approx(float(exact), rel=1e-9)
            checked += 1
    assert marks.size
    assert checked > 60


def test_fast_paths_refuse_a_hedge_pair():
    """Both legs of a hedge pair move with one price; the kernels hold one leg per symbol,
    so they refuse rather than answer something else (the account answers exactly)."""
    venue = pm.load_venue("binance-usdm")
    acct = pm.Account(venue, "100000")
    acct.set_position_mode("hedge")
    acct.open("BTCUSDT", "long", "0.5", "60000")
    acct.open("BTCUSDT", "short", "0.2", "60000")
    with pytest.raises(pm.errors.NotModelled, match="one symbol"):
        portfolio_from_accounts([acct], TierArrays.from_venue(venue))
    with pytest.raises(pm.errors.NotModelled, match="one symbol"):
        stress_grid(acct, shocks=[-0.1])
