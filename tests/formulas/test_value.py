"""Value, PnL, entry and the inverse identity (perpmargin.formulas.value).

Sources:
- Binance COIN-M ``GET /dapi/v1/positionRisk`` (BTCUSD_PERP, 2 contracts of 100 USD),
  quoted in ccxt 4.5.90 python/ccxt/binance.py ``parse_position_risk``: entryPrice
  37643.10000021, markPrice 38103.05510455, unRealizedProfit 0.00006413,
  notionalValue 0.00524892 (printed to 8 decimals, truncated).
- Binance FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts"
  (support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46, 2021-02-05): "100 * 100 / 25,000 = 0.4 BTC".
"""

from decimal import ROUND_DOWN
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from perpmargin import formulas as F
from perpmargin.numeric import engine_context

ENTRY = D("37643.10000021")
MARK = D("38103.05510455")


def _8dp(x: D) -> D:
    return x.quantize(D("0.00000001"), rounding=ROUND_DOWN)


def test_binance_coinm_position_risk_value_and_pnl():
    with engine_context():
        # 2 x 100 / 38,103.055... = 0.005248924... BTC
        assert _8dp(F.inverse_value(D(2), D(100), MARK)) == D("0.00524892")
        # 2 x 100 x (1 / 37,643.1 - 1 / 38,103.06) = 0.0000641302... BTC
        assert _8dp(F.inverse_pnl(D(2), D(100), ENTRY, MARK)) == D("0.00006413")


def test_binance_coinm_faq_notional():
    with engine_context():
        assert F.inverse_value(D(100), D(100), D(25000)) == D("0.4")


def test_linear_value_and_pnl_by_hand():
    with engine_context():
        assert F.position_value(D("0.02"), D("50000")) == D("1000")  # 0.02 BTC x 50,000
        assert F.unrealized_pnl(D("-0.5"), D("50000"), D("48000")) == D("1000")  # short gains
        assert F.unrealized_pnl(D("0.5"), D("50000"), D("48000")) == D("-1000")


def test_average_entry_linear_and_harmonic():
    with engine_context():
        assert F.average_entry(D(1), D(50000), D(1), D(52000)) == D(51000)
        # inverse: 100 contracts at 50,000 + 100 at 40,000 hold 0.002 + 0.0025 BTC of value
        assert F.inverse_average_entry(D(100), D(50000), D(100), D(40000)) == D(200) / D("0.0045")


prices = st.decimals(min_value=D("0.5"), max_value=D("500000"), places=2)
sizes = st.decimals(min_value=D("0.001"), max_value=D("100000"), places=3)


@given(contracts=sizes, cv=st.sampled_from([D(1), D(10), D(100)]), e=prices, p=prices)
def test_inverse_rules_are_the_linear_rules_in_the_reciprocal(contracts, cv, e, p):
    """to_reciprocal is the one linearisation: value, PnL, entry and the price for a PnL
    of an inverse position are the linear rules in x = 1/P (to 1e-40 relative)."""
    with engine_context():
        for side in (1, -1):
            q, x_entry = F.to_reciprocal(side * contracts, e, cv)
            x = F.reciprocal(p)
            value = F.inverse_value(contracts, cv, p)
            assert abs(F.position_value(abs(q), x) - value) <= value * D("1e-40")
            pnl = F.inverse_pnl(side * contracts, cv, e, p)
            assert abs(F.unrealized_pnl(q, x_entry, x) - pnl) <= value * D("1e-40")
            back = F.reciprocal(F.price_for_pnl(q, x_entry, pnl))
            assert abs(back - p) <= p * D("1e-35")
        harmonic = F.inverse_average_entry(contracts, e, contracts, p)
        in_x = F.average_entry(contracts * cv, F.reciprocal(e), contracts * cv, F.reciprocal(p))
        assert abs(F.reciprocal(in_x) - harmonic) <= harmonic * D("1e-40")


@given(q=sizes, e=prices, pnl=st.decimals(min_value=-(10**6), max_value=10**6, places=2))
def test_price_for_pnl_inverts_unrealized_pnl(q, e, pnl):
    with engine_context():
        for side in (1, -1):
            p = F.price_for_pnl(side * q, e, pnl)
            # exact but for the quotient's rounding at 50 digits
            assert abs(F.unrealized_pnl(side * q, e, p) - pnl) <= (abs(pnl) + q * e) * D("1e-45")
