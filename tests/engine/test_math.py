from decimal import Decimal as D

import perpmargin as pm
from perpmargin.engine import math as pmath
from perpmargin.numeric import engine_context


def test_liquidation_tier_is_the_one_at_the_liquidation_price(binance):
    """A short whose notional grows across the 50,000 boundary before liquidation.

    0.9 BTC short at 50,000 (45,000 notional, tier 1: MMR 0.4 %) with 10,000 margin.
    Solving with tier 1: 10,000 - 0.9 (P - 50,000) = 0.0036 P -> P = 55,000 / 0.9036 =
    60,867.6; its notional 54,780.9 is in tier 2, so the answer must use tier 2:
    10,000 - 0.9 (P - 50,000) = 0.0045 P - 50 -> P = 55,050 / 0.9045 = 60,862.35...
    """
    table = binance.symbol("BTCUSDT").tiers
    with engine_context():
        legs = [pmath.Leg(-1, D("0.9"), D("50000"), table)]
        price = pmath.solve_price(D("10000"), legs, D("50000"))
        assert price == D("55050") / D("0.9045")
        assert price * D("0.9") > 50000  # tier 2 holds it
        assert pmath.requirement(table, D("0.9"), price) == D("0.9") * price * D("0.005") - 50


def test_engine_agrees_on_the_boundary_case(binance):
    acct = pm.Account(binance, balance="20000")
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_leverage("BTCUSDT", 5)
    acct.open("BTCUSDT", "short", "0.9", "50000")  # margin 9,000
    acct.add_margin("BTCUSDT", "1000")
    with engine_context():
        assert acct.liquidation_price("BTCUSDT", exact=True) == D("55050") / D("0.9045")


def test_no_positive_liquidation_price_for_an_overcollateralised_long(binance):
    table = binance.symbol("BTCUSDT").tiers
    with engine_context():
        legs = [pmath.Leg(1, D("0.1"), D("50000"), table)]
        assert pmath.solve_price(D("6000"), legs, D("50000")) is None
        # bankruptcy ignores the requirement: 50,000 - 4,000 / 0.1
        assert pmath.solve_price(D("4000"), legs, D("50000"), with_requirement=False) == 10000
