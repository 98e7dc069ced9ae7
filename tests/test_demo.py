"""The demo's key outcomes on the bundled 2020-03-12 bars (real Binance data)."""

import itertools
from decimal import Decimal as D

from perpmargin import demo


def _bars():
    return {"BTCUSDT": demo.load_bars("binance-btcusdt-perp-1m-2020-03-12.csv")}


def _funding():
    return {"BTCUSDT": demo.load_funding("binance-btcusdt-perp-funding-2020-03-12.csv")}


def test_bundled_bars_are_complete():
    bars = _bars()["BTCUSDT"]
    assert len(bars) == 1440
    assert all(b[0] - a[0] == 60_000 for a, b in itertools.pairwise(bars))


def test_seed_example_isolated_is_liquidated_cross_survives():
    legs = [demo.Leg("BTCUSDT", "long", D(500), 10)]
    iso = demo.run_scenario(legs, _bars(), _funding(), "isolated")
    cross = demo.run_scenario(legs, _bars(), _funding(), "cross")
    assert len(iso.liquidations) == 1
    assert "03-12 10:25" in iso.liquidations[0]
    # the account keeps about 9,500: 10,000 - 500 margin - 2.50 fee - 0.12 funding
    assert D("9490") < iso.final_equity < D("9500")
    assert cross.liquidations == []
    assert cross.min_equity < D("8000")  # cross lost more than isolated's 500 at the low


def test_half_the_account_in_cross_is_wiped_out():
    legs = [demo.Leg("BTCUSDT", "long", D(5000), 10)]
    iso = demo.run_scenario(legs, _bars(), _funding(), "isolated")
    cross = demo.run_scenario(legs, _bars(), _funding(), "cross")
    assert D("4900") < iso.final_equity < D("5000")
    assert cross.final_equity == 0
    assert cross.liquidations
