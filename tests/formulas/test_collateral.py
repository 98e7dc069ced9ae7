"""Collateral rules (perpmargin.formulas.collateral) on the venues' own worked examples.

Examples as collected in the project's portfolio-margin research (2026-12-04), each with
the venue's page; the numbers are the pages' own.
"""

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

import perpmargin.formulas as F
from perpmargin.numeric import engine_context

INF = D("Infinity")


def tiered(amount, tiers):
    """The haircut value of ``amount`` under ``(floor, cap, rate)`` slices."""
    return sum((F.haircut_slice(amount, D(lo), D(hi), D(r)) for lo, hi, r in tiers), D(0))


def test_binance_cross_margin_haircut_is_progressive():
    """E-BN-1, Binance "Cross Margin Collateral Haircuts" (FAQ 4bec9126...): 6,000 BTC at
    20,000 USDT = 120,000,000; tiers by USDT value -> 119,500,000."""
    tiers = [
        ("0", "100000000", "1.00"),
        ("100000000", "120000000", "0.975"),
        ("120000000", "150000000", "0.95"),
        ("150000000", "180000000", "0.90"),
        ("180000000", "200000000", "0.85"),
    ]
    with engine_context():
        value = D(6000) * D(20000)
        assert value == D(120000000)
        assert tiered(value, tiers) == D(119500000)


def test_binance_fixed_rate_over_the_three_wallets():
    """E-BN-2, Binance (Classic) PM FAQ 146ac090... (2022-04-18): 1 BTC in each of the
    margin, USDⓈ-M and COIN-M wallets at rate 0.95 -> 2.85 BTC."""
    with engine_context():
        net = D(1) + D(1) + D(1)
        assert tiered(net, [("0", INF, "0.95")]) == D("2.85")


def test_bybit_coin_quantity_tiers():
    """E-BY-2, Bybit "Understanding Collateral Value Ratios in Unified Trading Account"
    (2025-09-18; its illustrative BTC table): 25 BTC -> 10 x 0.98 + 10 x 0.95 + 5 x 0.9."""
    tiers = [("0", "10", "0.98"), ("10", "20", "0.95"), ("20", "30", "0.9"),
             ("30", "40", "0.85"), ("40", "50", "0.8"), ("50", INF, "0")]  # fmt: skip
    with engine_context():
        assert tiered(D(25), tiers) == D("23.8")
        assert tiered(D(60), tiers) == D("44.8")  # 9.8 + 9.5 + 9 + 8.5 + 8: none beyond 50


def test_okx_usd_tiers():
    """E-OKX-3 (third-party restatement of OKX's multi-currency margin page, prjmp.com
    3320): 11,000,000 USDT -> 5 M x 1 + 5 M x 0.975 + 1 M x 0.95 = 10,825,000."""
    tiers = [("0", "5000000", "1"), ("5000000", "10000000", "0.975"), ("10000000", INF, "0.95")]
    with engine_context():
        assert tiered(D(11000000), tiers) == D(10825000)


def test_liabilities_count_in_full_and_ratios():
    with engine_context():
        assert F.collateral_value(D(-500), D(-475)) == D(-500)
        assert F.collateral_value(D(500), D(475)) == D(475)
        # Binance PM: uniMMR = adjusted equity / maintenance; liquidation below 1.05
        assert F.equity_ratio(D(1050), D(1000)) == D("1.05")


amounts = st.decimals(min_value=D(0), max_value=D(10) ** 9, places=4)


@given(amounts, amounts)
def test_a_tiered_haircut_never_adds_value_and_grows_with_the_holding(a, b):
    tiers = [("0", "100", "0.98"), ("100", "1000", "0.9"), ("1000", INF, "0.5")]
    with engine_context():
        lo, hi = sorted((a, b))
        assert D(0) <= tiered(lo, tiers) <= lo
        assert tiered(lo, tiers) <= tiered(hi, tiers)


def test_scenario_loss_values_the_pnl_at_the_moved_settle_price():
    """A 1 BTC linear long loses 5,000 USD in a -10 % scenario; an inverse short of
    50,000 one-dollar contracts entered at 50,000, settled in BTC, loses its coin PnL
    valued at the moved BTC price: -0.0909... BTC x 55,000 = 5,000 USD, as a 1 BTC linear
    short does (inverse PnL 50,000 x (1/50,000 - 1/55,000))."""
    with engine_context():
        pnl = F.unrealized_pnl(D(1), D(50000), D(45000))
        assert F.scenario_loss(D(0), pnl, D(1), D(0)) == D(5000)
        coin = F.inverse_pnl(D(-50000), D(1), D(50000), D(55000))
        loss = F.scenario_loss(D(0), coin, D(50000), D("0.1"))
        assert abs(loss - D(5000)) < D("1e-20")
        # a PnL already made counts from where it stands: no move, no loss
        assert F.scenario_loss(D(300), D(300), D(2), D(0)) == 0


def test_risk_unit_requirement_takes_the_larger_of_the_grid_and_the_weighted_extreme():
    """OKX PM's structure (E-OKX-1: mr6 = 0.5 |pnl|; 2025-01-06 BTC moves): a 0.1 BTC short
    at 100,000 loses 1,200 at the grid's +12 % and 2,400 at the extreme +24 %, weight
    0.5 -> 1,200 either way; at +36 % extreme (3,600 x 0.5 = 1,800) the extreme counts.
    A unit that gains in every scenario counts 0; the add-on is rate x size x price."""
    with engine_context():
        assert F.risk_unit_requirement(D(1200), D(2400), D("0.5"), D("0.0002"), D("0.1"),
                                       D(100000)) == (D(1200), D(2))  # fmt: skip
        assert F.risk_unit_requirement(D(1200), D(3600), D("0.5"), D(0), D(1), D(1))[0] == 1800
        assert F.risk_unit_requirement(D(-50), D(-10), D("0.5"), D(0), D(1), D(1))[0] == 0
        assert F.risk_unit_requirement(D(700), D(0), D(0), D("0.001"), D(2), D(50000)) == (
            D(700), D(100))  # fmt: skip
