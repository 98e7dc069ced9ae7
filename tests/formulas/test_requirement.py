"""Initial and maintenance margin, the fee to close and its basis
(perpmargin.formulas.requirement).

Sources:
- Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts"
  (support/faq/b3c689c1f50a44cabb3a84e663b81d93): 264,000 USDT is charged 1 %, the
  bracket's maintenance amount is 1,300 ("250,000 * (1% - 0.5%) + 50 USDT = 1,300 USDT").
- Binance FAQ COIN-M liquidation price (ceccfcfb4e3a45e3b48b0b1bb1a8ae46, 2021-02-05):
  "100 * 100 / 25,000 * 0.4% - 0 = 0.0016 BTC"; 300 BTC: 12.5 %, amount 11.605 BTC.
- Bybit "Initial Margin Calculation (USDC Perpetual & Futures)" (2025-09-02): 0.5 BTC
  entered at 50,000, mark 50,500, 10x: IM 0.5 x 50,500 / 10 = 2,525; fee to close
  0.5 x 50,000 x (1 - 1/10) x 0.055 % = 12.375, i.e. valued at the bankruptcy price.
- Deribit support "Linear Perpetual" (support.deribit.com/hc/en-us/articles/25944738177565,
  undated; collected 2026-12-04 as E-DB-1..3): BTC_USDC IM rate 2 % + size_BTC x 0.005 %,
  MM rate 1 % + size_BTC x 0.005 %; SOL_USDC 4 % / 2 % + size_SOL x 0.0005 %. Deribit's old
  inverse futures page (test.deribit.com/pages/docs/futures, undated, E-DB-4): IM 2 % +
  0.5 % per 100 BTC.
"""

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from perpmargin import formulas as F
from perpmargin.numeric import engine_context


def test_binance_faq_maintenance_margin():
    with engine_context():
        # 264,000 x 1 % - 1,300 = 1,340
        assert F.maintenance_margin(D(264000), D("0.01"), D(1300)) == D(1340)
        # the amount makes the ladder continuous at 250,000: 0.5 % - 50 = 1 % - 1,300
        at_bound = D(250000)
        assert F.maintenance_margin(at_bound, D("0.005"), D(50)) == F.maintenance_margin(
            at_bound, D("0.01"), D(1300)
        )


def test_binance_coinm_faq_maintenance_margin():
    with engine_context():
        value = F.inverse_value(D(100), D(100), D(25000))
        assert F.maintenance_margin(value, D("0.004"), D(0)) == D("0.0016")
        assert F.maintenance_margin(D(300), D("0.125"), D("11.605")) == D("25.895")


def test_bybit_initial_margin_and_fee_to_close_at_the_bankruptcy_price():
    with engine_context():
        assert F.initial_margin(F.position_value(D("0.5"), D(50500)), D(10)) == D(2525)
        # a 10x long entered at 50,000 is bankrupt at 45,000 (its margin 2,500 gone)
        bankrupt = F.bankruptcy_price(D("0.5"), D(50000), F.initial_margin(D(25000), D(10)))
        assert bankrupt == D(45000)
        fee_price = F.close_fee_price(D(50500), bankrupt, True)
        fee = F.close_fee(D("0.00055"), F.position_value(D("0.5"), fee_price))
        assert fee == D("12.375")
        assert D(2525) + fee == D("2537.375")
        # OKX / Gate basis: valued at the mark
        assert F.close_fee_price(D(50500), bankrupt, False) == D(50500)


def test_deribit_rates_grow_with_size():
    """E-DB-1..4 to the printed precision: the rate, the margin in the coin (rate x size)
    and in USDC (x the index)."""
    with engine_context():
        slope_btc, slope_sol = D("0.00005"), D("0.000005")
        btc = D(100000)
        # E-DB-1: 25 BTC at 100,000
        im = F.size_scaled_rate(D("0.02"), slope_btc, D(25))
        mm = F.size_scaled_rate(D("0.01"), slope_btc, D(25))
        assert (im, im * 25, im * 25 * btc) == (D("0.02125"), D("0.53125"), D(53125))
        assert (mm, mm * 25, mm * 25 * btc) == (D("0.01125"), D("0.28125"), D(28125))
        # E-DB-2: 350 BTC
        im = F.size_scaled_rate(D("0.02"), slope_btc, D(350))
        assert (im, im * 350, im * 350 * btc) == (D("0.0375"), D("13.125"), D(1312500))
        # E-DB-3: SOL at 200, 25 SOL and 6,000 SOL
        im = F.size_scaled_rate(D("0.04"), slope_sol, D(25))
        mm = F.size_scaled_rate(D("0.02"), slope_sol, D(25))
        assert (im, im * 25, im * 25 * 200) == (D("0.040125"), D("1.003125"), D("200.625"))
        assert (mm, mm * 25, mm * 25 * 200) == (D("0.020125"), D("0.503125"), D("100.625"))
        im = F.size_scaled_rate(D("0.04"), slope_sol, D(6000))
        assert (im, im * 6000, im * 6000 * 200) == (D("0.07"), D(420), D(84000))
        # E-DB-4: the old inverse futures, 0.5 % per 100 BTC
        for size, rate, coin in ((25, "0.02125", "0.53125"), (350, "0.0375", "13.125")):
            im = F.size_scaled_rate(D("0.02"), D("0.005") / 100, D(size))
            assert (im, im * size) == (D(rate), D(coin))


def test_margin_ratio_is_requirement_over_balance_and_one_without_balance():
    with engine_context():
        # Binance FAQ: margin ratio = maintenance margin / margin balance
        assert F.margin_ratio(D(1340), D(2680)) == D("0.5")
        assert F.margin_ratio(D(1340), D(0)) == D(1)
        assert F.margin_ratio(D(1340), D(-5)) == D(1)
    assert F.margin_ratio(1.0, 4.0) == 0.25
    assert F.margin_ratio(1.0, -4.0) == 1.0


rates = st.decimals(min_value=D("0.001"), max_value=D("0.5"), places=4)


@given(
    q=st.decimals(min_value=D("0.001"), max_value=D("1000"), places=3),
    rate=rates,
    amount=st.decimals(min_value=0, max_value=10**6, places=2),
    fee_rate=st.sampled_from([D(0), D("0.00055"), D("0.0005")]),
    bankrupt=st.decimals(min_value=0, max_value=10**5, places=1),
    price=st.decimals(min_value=1, max_value=10**6, places=1),
    at_bankruptcy=st.booleans(),
)
def test_requirement_line_is_the_requirement(
    q, rate, amount, fee_rate, bankrupt, price, at_bankruptcy
):
    """Within a tier the requirement is the line requirement_line gives, for both bases."""
    with engine_context():
        intercept, slope = F.requirement_line(q, rate, amount, fee_rate, bankrupt, at_bankruptcy)
        fee_price = F.close_fee_price(price, bankrupt, at_bankruptcy)
        fee = F.close_fee(fee_rate, F.position_value(q, fee_price))
        direct = F.requirement(F.position_value(q, price), rate, amount, fee)
        assert intercept + slope * price == direct
