"""Stress grid and historical days, checked against the exact engine and by hand."""

import json
from decimal import Decimal as D

import numpy as np
import pytest

import perpmargin as pm
from perpmargin.sim.stress import (
    SCENARIOS,
    historical_days,
    historical_stress,
    scenario_account,
    stress_cell_exact,
    stress_grid,
)


def test_scenario_accounts(mixed):
    iso = scenario_account(mixed, "all isolated")
    btc, eth = iso.position("BTCUSDT"), iso.position("ETHUSDT")
    assert btc.isolated_margin == D("3000")  # already isolated: kept
    assert eth.margin_mode == "isolated"
    assert eth.isolated_margin == D("1500")
    cross = scenario_account(mixed, "all cross")
    assert {v.margin_mode for v in cross.positions()} == {"cross"}
    for acct in (iso, cross, scenario_account(mixed, "current")):
        assert acct.wallet_balance == mixed.wallet_balance
        assert acct.equity == mixed.equity
    assert scenario_account(mixed, "current").snapshot().legs == mixed.snapshot().legs
    with pytest.raises(pm.InvalidInput):
        scenario_account(mixed, "half")


def test_a_cell_by_hand(mixed):
    """BTC -20 % (49,600), ETH held at 3,100.

    - current: BTC's isolated 3,000 is lost (liquidated below 54,216.8); the cross pool
      is 7,000 - 1,000 = 6,000 -> 6,000.
    - all isolated: the same, with ETH's 1,500 margin: 5,500 cash + (1,500 - 1,000) -> 6,000.
    - all cross: 10,000 + 0.5 x (49,600 - 60,000) - 1,000 = 3,800 > MM 223.2 -> 3,800,
      nothing liquidated: cross keeps the BTC loss running and takes it from ETH's pool.
    """
    g = stress_grid(mixed, shocks=[-0.2], shocks_y=[0.0])
    assert g.equity["current"][0, 0] == pytest.approx(6000)
    assert g.equity["all isolated"][0, 0] == pytest.approx(6000)
    assert g.equity["all cross"][0, 0] == pytest.approx(3800)
    assert g.liquidated["current"][0, 0].tolist() == [True, False]
    assert not g.liquidated["all cross"][0, 0].any()
    assert g.legs == ("BTCUSDT long", "ETHUSDT short")


def test_cross_wipes_out_where_isolated_does_not(mixed, grid):
    assert not grid.wiped_out["all isolated"].any()  # each loss capped at its margin
    assert grid.wiped_out["all cross"].any()
    floor = float(mixed.wallet_balance) - 3000 - 1500
    assert grid.equity["all isolated"].min() >= floor  # cash outside the margins is safe
    summary = grid.summary()
    assert summary["all isolated"]["smallest_wipe_out_shock"] is None
    assert summary["all cross"]["cells_wiped_out"] > 0
    doc = json.loads(json.dumps(grid.to_dict()))
    assert doc["liquidated_legs"]["current"][0][0] == ["BTCUSDT long"]  # BTC -60, ETH -60


def test_backends_agree(mixed, grid):
    other = stress_grid(mixed, shocks=grid.shocks_x, backend="numba")
    for name in SCENARIOS:
        np.testing.assert_allclose(other.equity[name], grid.equity[name], rtol=1e-12)
        assert (other.liquidated[name] == grid.liquidated[name]).all()


def test_one_asset_and_remainder_to_trader(binance):
    okx = pm.load_venue("okx-swap")
    acct = pm.Account(okx, "1000")
    acct.restore_position("BTC/USDT:USDT", "long", "0.1", "60000", margin_mode="isolated",
                          leverage=20, isolated_margin="300")  # fmt: skip
    g = stress_grid(acct, shocks=np.round(np.arange(-0.1, 0.101, 0.01), 6))
    assert g.assets == ("BTC-USDT-SWAP",)
    assert g.equity["current"].shape == (1, 21)
    # between liquidation (57,257.6) and bankruptcy (57,000): OKX hands the rest back.
    # -4.7 % -> 57,180: 300 - 282 = 18 left, fee 0.05 % x 5,718 = 2.859 -> 700 + 15.141
    cell = stress_grid(acct, shocks=[-0.047])
    assert cell.liquidated["current"][0, 0].all()
    assert cell.equity["current"][0, 0] == pytest.approx(715.141, abs=1e-9)
    assert stress_cell_exact(acct, "current", cell.cell_marks(0, 0, okx))[0] == D("715.141")
    for ix in range(21):
        marks = g.cell_marks(0, ix, okx)
        for name in SCENARIOS:
            equity, _, _ = stress_cell_exact(acct, name, marks)
            assert g.equity[name][0, ix] == pytest.approx(float(equity), abs=1e-6)


def test_bad_stress_input(mixed, binance):
    with pytest.raises(pm.InvalidInput, match="holds no 'SOL'"):
        stress_grid(mixed, assets=["SOL"])
    with pytest.raises(pm.InvalidInput, match="fractions"):
        stress_grid(mixed, shocks=[-1.5])
    with pytest.raises(pm.InvalidInput, match="fractions"):
        stress_grid(mixed, shocks=[float("nan")])
    with pytest.raises(pm.InvalidInput, match="no position"):
        stress_grid(pm.Account(binance, "100"))
    with pytest.raises(pm.InvalidInput, match="no bundled day"):
        historical_stress(mixed, "2019-01-01")


def test_historical_day_hits_the_exact_liquidation_price(mixed):
    assert "2020-03-12" in historical_days()
    result = historical_stress(mixed, "2020-03-12")
    cur = result.runs["current"]
    first = cur.liquidations[0]
    assert first[1] == "BTCUSDT long"
    assert first[2] == mixed.liquidation_price("BTCUSDT")  # the first tick that liquidates
    iso = result.runs["all isolated"]
    assert iso.wiped_out_time is None
    assert iso.final_equity >= mixed.wallet_balance - 3000 - 1500
    assert result.runs["all cross"].final_equity == 0  # remainder to Binance's fund
    for run in result.runs.values():
        assert run.min_equity >= 0
        assert run.min_equity <= run.final_equity
    assert json.loads(json.dumps(result.to_dict()))["day"] == "2020-03-12"


def test_historical_day_keeps_the_venues_liquidation_process_and_counts_its_cuts(binance):
    """A stressed copy keeps the account's liquidation model (it used to fall back to the
    base model, silently), and a partial cut is listed with the liquidations: a $1.5M
    isolated BTC long at 6x (Binance's bracket 3) is cut twice, then closed."""
    acct = pm.Account(binance, "1000000", liquidation_model="venue")
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_leverage("BTCUSDT", 6)
    acct.open("BTCUSDT", "long", "25", "60000")
    copy = scenario_account(acct, "current")
    assert copy.liquidation_model == "venue"
    run = historical_stress(acct, "2020-03-12").runs["current"]
    legs = [leg for _, leg, _ in run.liquidations]
    assert legs[0].startswith("BTCUSDT long partly (")
    assert legs[-1] == "BTCUSDT long"
    base = pm.Account(binance, "1000000")
    base.set_margin_mode("BTCUSDT", "isolated")
    base.set_leverage("BTCUSDT", 6)
    base.open("BTCUSDT", "long", "25", "60000")
    assert [
        leg for _, leg, _ in historical_stress(base, "2020-03-12").runs["current"].liquidations
    ] == ["BTCUSDT long"]
