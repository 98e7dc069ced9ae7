"""The portfolio-margin shock grid (perpmargin.sim.unified_grid): every cell equals the
exact unified account's reading at the same prices."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from perpmargin.engine.unified import UnifiedAccount
from perpmargin.errors import InvalidInput, MissingParameter, NotModelled
from perpmargin.sim.unified_grid import unified_stress_grid

INDEX = {"USDT": "1", "BTC": "50000", "ETH": "3000"}
BASE = {"BTCUSDT": ("BTC", D(50000)), "ETHUSDT": ("ETH", D(3000))}


def exact(acct: UnifiedAccount, grid, iy: int, ix: int):
    moves = {grid.assets[0]: D(repr(float(grid.shocks_x[ix])))}
    if len(grid.assets) == 2:
        moves[grid.assets[1]] = D(repr(float(grid.shocks_y[iy])))
    marks = {s: m * (1 + moves.get(b, D(0))) for s, (b, m) in BASE.items()}
    index = {b: D(INDEX[b]) * (1 + mv) for b, mv in moves.items()}
    return acct.reading(marks, index)


def assert_cells(acct: UnifiedAccount, grid) -> None:
    for iy in range(grid.shocks_y.size):
        for ix in range(grid.shocks_x.size):
            r = exact(acct, grid, iy, ix)
            scale = max(1.0, abs(float(r.adjusted_equity)), float(r.maintenance))
            assert abs(float(r.adjusted_equity) - grid.adjusted_equity[iy, ix]) <= 1e-9 * scale
            assert abs(float(r.maintenance) - grid.maintenance[iy, ix]) <= 1e-9 * scale
            near = r.ratio is not None and abs(float(r.ratio) - 1.05) < 1e-9  # a float tie
            assert near or r.liquidated == bool(grid.liquidated[iy, ix]), (iy, ix)


def test_every_cell_is_the_exact_reading():
    acct = UnifiedAccount("binance-pm", {"BTC": 1, "USDT": 1000}, INDEX)
    acct.restore("BTCUSDT", "long", "1", "50000", "50000")
    acct.restore("ETHUSDT", "short", "5", "3000", "3000")
    grid = unified_stress_grid(acct)
    assert grid.assets == ("BTC", "ETH")  # BTC: the long and the collateral
    assert grid.adjusted_equity.shape == (25, 25)
    assert 0 < grid.liquidated.sum() < grid.liquidated.size
    assert_cells(acct, grid)


@settings(max_examples=25)
@given(
    rules=st.sampled_from(["binance-pm", "bybit-uta"]),
    btc=st.decimals("0", "3", places=3),
    usdt=st.decimals("0", "50000", places=2),
    legs=st.lists(
        st.tuples(st.sampled_from(["BTCUSDT", "ETHUSDT"]), st.sampled_from(["long", "short"]),
                  st.decimals("0.001", "4", places=3), st.decimals("0.8", "1.2", places=3)),
        min_size=1, max_size=2, unique_by=lambda t: t[0],
    ),
)  # fmt: skip
def test_random_accounts_cell_by_cell(rules, btc, usdt, legs):
    assume(rules == "binance-pm" or all(s == "BTCUSDT" for s, *_ in legs))  # Bybit: BTC only
    tiers = {"BTC": [("0", "1", "0.98"), ("1", "2", "0.9"), ("2", "", "0.5")],
             "USDT": [("0", "", "1")], "ETH": [("0", "", "0.9")]}  # fmt: skip
    acct = UnifiedAccount(rules, {"BTC": btc, "USDT": usdt}, INDEX, collateral=tiers)
    for symbol, side, qty, entry_ratio in legs:
        mark = BASE[symbol][1]
        acct.restore(symbol, side, qty, (mark * entry_ratio).quantize(D("0.01")), mark)
    grid = unified_stress_grid(acct, shocks=np.linspace(-0.7, 0.7, 9))
    assert_cells(acct, grid)


def test_one_underlying_and_refusals():
    acct = UnifiedAccount("binance-pm", {"USDT": 10000}, INDEX)
    with pytest.raises(NotModelled, match="needs positions"):
        unified_stress_grid(acct)
    acct.restore("BTCUSDT", "long", "1", "50000", "50000")
    grid = unified_stress_grid(acct, assets=["BTC"])
    assert grid.adjusted_equity.shape == (1, 25)
    assert_cells(acct, grid)
    with pytest.raises(InvalidInput, match="moves above -1"):
        unified_stress_grid(acct, shocks=[-1.5])
    with pytest.raises(InvalidInput, match="one or two different"):
        unified_stress_grid(acct, assets=["BTC", "BTC"])


def test_monte_carlo_paths_through_the_exact_engine():
    """Each sampled path's log prices, regenerated from the Monte Carlo's counter-based
    normals, walked through the exact unified account step by step: the first liquidated
    step is the kernel's on every path."""
    from perpmargin.sim.mc_kernels import normal
    from perpmargin.sim.unified_grid import unified_montecarlo

    acct = UnifiedAccount("binance-pm", {"BTC": 1, "USDT": 1000}, INDEX)
    acct.restore("BTCUSDT", "long", "1", "50000", "50000")
    acct.restore("ETHUSDT", "short", "5", "3000", "3000")
    sigma = (0.05, 0.07)
    mc = unified_montecarlo(acct, sigma=sigma, paths=60, steps=150, correlation=0.6, seed=7)
    assert mc.assets == ("BTC", "ETH")
    assert 0.1 < mc.p_liquidation < 0.9  # the check below sees both kinds of path
    rho = 0.6
    for path in range(mc.paths):
        x = [0.0, 0.0]
        first = -1
        for t in range(mc.steps):
            z0, z1 = normal(7, path, t, 0), normal(7, path, t, 1)
            x[0] += -0.5 * sigma[0] ** 2 + sigma[0] * z0
            x[1] += -0.5 * sigma[1] ** 2 + sigma[1] * (rho * z0 + (1 - rho * rho) ** 0.5 * z1)
            f = [D(repr(float(np.exp(v)))) for v in x]
            marks = {"BTCUSDT": D(50000) * f[0], "ETHUSDT": D(3000) * f[1]}
            r = acct.reading(marks, {"BTC": D(50000) * f[0], "ETH": D(3000) * f[1]})
            if r.liquidated:
                first = t
                break
        assert first == mc.first_step[path], path
    # more volatility, more liquidations; refusals
    calm = unified_montecarlo(acct, sigma=(0.002, 0.003), paths=2000, steps=150)
    wild = unified_montecarlo(acct, sigma=(0.02, 0.03), paths=2000, steps=150)
    assert calm.p_liquidation < wild.p_liquidation
    with pytest.raises(InvalidInput, match="one per-step volatility"):
        unified_montecarlo(acct, sigma=(0.01,))
    with pytest.raises(InvalidInput, match="correlation"):
        unified_montecarlo(acct, sigma=(0.01, 0.01), correlation=1)


def assert_cells_of(acct: UnifiedAccount, grid, marks0) -> None:
    """Every cell against the exact reading, the marks of ``marks0`` (symbol: (base,
    mark)) and the moved bases' index prices moved by the cell's moves."""
    index0 = acct.index_prices
    for iy in range(grid.shocks_y.size):
        for ix in range(grid.shocks_x.size):
            moves = {grid.assets[0]: D(repr(float(grid.shocks_x[ix])))}
            if len(grid.assets) == 2:
                moves[grid.assets[1]] = D(repr(float(grid.shocks_y[iy])))
            marks = {s: m * (1 + moves.get(b, D(0))) for s, (b, m) in marks0.items()}
            r = acct.reading(marks, {b: index0[b] * (1 + mv) for b, mv in moves.items()})
            scale = max(1.0, abs(float(r.adjusted_equity)), float(r.maintenance))
            assert abs(float(r.adjusted_equity) - grid.adjusted_equity[iy, ix]) <= 1e-9 * scale
            assert abs(float(r.maintenance) - grid.maintenance[iy, ix]) <= 1e-9 * scale
            near = r.ratio is not None and abs(float(r.ratio) - 1) < 1e-9  # a float tie
            assert near or r.liquidated == bool(grid.liquidated[iy, ix]), (iy, ix)


OKX = {"BTC-USDT-SWAP": ("BTC", D(50000)), "ETH-USDT-SWAP": ("ETH", D(3000))}


def test_okx_portfolio_margin_cell_by_cell():
    """OKX PM (MR1 shocks per coin group, MR6 = 0.5 x the loss at the extreme move, the
    MR4 add-on at the user's rate): a BTC long and an ETH short, BTC collateral."""
    acct = UnifiedAccount("okx-pm", {"USDT": 10000, "BTC": "0.2"}, INDEX,
                          collateral={"USDT": [("0", "", "1")], "BTC": [("0", "", "0.95")]},
                          contingency={"BTC": "0.001", "ETH": "0.002"})  # fmt: skip
    acct.restore("BTC-USDT-SWAP", "long", "1", "50000", "50000")
    acct.restore("ETH-USDT-SWAP", "short", "5", "3000", "3000")
    grid = unified_stress_grid(acct)
    assert 0 < grid.liquidated.sum() < grid.liquidated.size
    assert_cells_of(acct, grid, OKX)
    # at the centre the maintenance is the exact account's units, MR6 where it is larger
    units = acct.reading().units
    assert grid.maintenance[12, 12] == pytest.approx(float(sum(u.maintenance for u in units)))


@settings(max_examples=20)
@given(
    btc=st.decimals("0", "3", places=3),
    usdt=st.decimals("0", "50000", places=2),
    qty=st.decimals("0.001", "4", places=3),
    side=st.sampled_from(["long", "short"]),
    entry_ratio=st.decimals("0.8", "1.2", places=3),
    rate=st.decimals("0", "0.01", places=4),
    move=st.sampled_from(["0.04", "0.1", "0.2"]),
)
def test_bybit_portfolio_margin_random_accounts_cell_by_cell(
    btc, usdt, qty, side, entry_ratio, rate, move
):
    acct = UnifiedAccount("bybit-pm", {"BTC": btc, "USDT": usdt}, INDEX,
                          collateral={"USDT": [("0", "", "1")], "BTC": [("0", "1", "0.95"),
                                                                         ("1", "", "0.5")]},
                          contingency={"BTC": rate}, price_moves={"BTC": move})  # fmt: skip
    acct.restore("BTCUSDT", side, qty, (D(50000) * entry_ratio).quantize(D("0.01")), "50000")
    grid = unified_stress_grid(acct, shocks=np.linspace(-0.7, 0.7, 9))
    assert_cells_of(acct, grid, {"BTCUSDT": ("BTC", D(50000))})


def test_deribit_portfolio_margin_cell_by_cell_and_its_refusal_of_tiers():
    """Deribit PM's nine buckets over the user's ranges: the fast grid reads the risk
    units, never the size-scaled standard-margin rates the kernels' tier arrays refuse."""
    acct = UnifiedAccount("deribit-pm", {"USDC": 100000},
                          {"USDC": "1", "BTC": "50000", "SOL": "200"},
                          contingency={"BTC": "0.001", "SOL": "0"},
                          price_moves={"BTC": "0.16", "SOL": "0.2"})  # fmt: skip
    acct.restore("BTC_USDC-PERPETUAL", "long", "3", "50000", "50000")
    acct.restore("SOL_USDC-PERPETUAL", "short", "100", "200", "200")
    grid = unified_stress_grid(acct)
    assert 0 < grid.liquidated.sum() < grid.liquidated.size
    marks = {"BTC_USDC-PERPETUAL": ("BTC", D(50000)), "SOL_USDC-PERPETUAL": ("SOL", D(200))}
    assert_cells_of(acct, grid, marks)
    unpriced = UnifiedAccount("deribit-pm", {"USDC": 100000}, {"USDC": "1", "BTC": "50000"},
                              contingency={"BTC": "0"})  # fmt: skip
    with pytest.raises(MissingParameter, match="price_moves"):
        unpriced.open("BTC_USDC-PERPETUAL", "long", "1", "50000")


def test_risk_based_monte_carlo_paths_through_the_exact_engine():
    """Bybit PM: each sampled path walked through the exact account gives the kernel's
    first liquidated step."""
    from perpmargin.sim.unified_grid import unified_montecarlo

    acct = UnifiedAccount("bybit-pm", {"USDT": 6000, "BTC": "0.05"}, INDEX,
                          collateral={"USDT": [("0", "", "1")], "BTC": [("0", "", "0.95")]},
                          contingency={"BTC": "0.002"})  # fmt: skip
    acct.restore("BTCUSDT", "long", "1", "50000", "50000")
    mc = unified_montecarlo(acct, sigma=(0.01,), paths=40, steps=200, seed=3, assets=["BTC"])
    assert 0.1 < mc.p_liquidation < 0.9
    assert_btc_paths(acct, mc, "BTCUSDT")


def assert_btc_paths(acct: UnifiedAccount, mc, symbol: str) -> None:
    """Each path of a one-underlying (BTC at 50,000) Monte Carlo, regenerated from its
    counter-based normals and walked through the exact account: the first liquidated
    step is the kernel's."""
    from perpmargin.sim.mc_kernels import normal

    (sigma,) = mc.sigma_per_step
    for path in range(mc.paths):
        x, first = 0.0, -1
        for t in range(mc.steps):
            x += -0.5 * sigma**2 + sigma * normal(mc.seed, path, t, 0)
            f = D(repr(float(np.exp(x))))
            if acct.reading({symbol: D(50000) * f}, {"BTC": D(50000) * f}).liquidated:
                first = t
                break
        assert first == mc.first_step[path], path


def test_inverse_contracts_cell_by_cell():
    """Inverse positions in x = 1/P, as the engine solves them: a COIN-M long on BTC
    collateral under Binance PM (the coin PnL and the collateral fall together), and
    Bybit PM's hedged book, a BTCUSDT long against BTCUSD shorts (its loss in each
    scenario valued at the moved BTC price)."""
    coinm = UnifiedAccount("binance-pm", {"BTC": 1, "USDT": 2000}, INDEX)
    coinm.restore("BTCUSD_PERP", "long", "300", "52000", "50000")
    coinm.restore("ETHUSDT", "short", "4", "3000", "3000")
    grid = unified_stress_grid(coinm, shocks=np.linspace(-0.7, 0.7, 15))
    assert grid.assets == ("BTC", "ETH")
    assert 0 < grid.liquidated.sum() < grid.liquidated.size
    assert_cells_of(coinm, grid, {"BTCUSD_PERP": ("BTC", D(50000)), "ETHUSDT": ("ETH", D(3000))})
    hedged = UnifiedAccount("bybit-pm", {"USDT": 3000}, INDEX,
                            collateral={"USDT": [("0", "", "1")], "BTC": [("0", "", "0.9")]},
                            contingency={"BTC": "0.002"})  # fmt: skip
    hedged.restore("BTCUSDT", "long", "1.5", "50000", "50000")
    hedged.restore("BTCUSD", "short", "50000", "50500", "50000")
    grid = unified_stress_grid(hedged, assets=["BTC"], shocks=np.linspace(-0.8, 0.8, 33))
    assert_cells_of(hedged, grid, {"BTCUSDT": ("BTC", D(50000)), "BTCUSD": ("BTC", D(50000))})
    assert 0 < grid.liquidated.sum() < grid.liquidated.size


def test_inverse_monte_carlo_paths_through_the_exact_engine():
    """The COIN-M long on BTC collateral: each sampled path's first liquidated step, walked
    through the exact account, is the kernel's."""
    from perpmargin.sim.unified_grid import unified_montecarlo

    acct = UnifiedAccount("binance-pm", {"BTC": "0.4"}, INDEX)
    acct.restore("BTCUSD_PERP", "long", "1000", "50000", "50000")  # 100,000 USD, 5x
    mc = unified_montecarlo(acct, sigma=(0.01,), paths=30, steps=200, seed=11, assets=["BTC"])
    assert 0.1 < mc.p_liquidation < 0.9
    assert_btc_paths(acct, mc, "BTCUSD_PERP")
