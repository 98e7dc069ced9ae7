"""Fees, liquidation settlement, funding, deficits, ADL rank (perpmargin.formulas.settlement).

Sources: dYdX v4 docs (dydxprotocol/v4-documentation, "Liquidations"): a position
closed by liquidation pays the insurance fund what is left; what it lacks is a deficit
the fund (or deleveraging) covers. Binance "What Is Auto-Deleveraging (ADL)"
(support/announcement/360033525471): "LeveragePnL ... unrealized PnL/collateral
multiplied by the margin ratio", the highest ranked goes first.
"""

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from perpmargin import formulas as F
from perpmargin.numeric import engine_context

money = st.decimals(min_value=-(10**6), max_value=10**6, places=8)
fees = st.decimals(min_value=0, max_value=10**5, places=8)


@given(equity=money, fee=fees, to_trader=st.booleans())
def test_liquidation_settlement_conserves_money_and_never_charges_below_zero(
    equity, fee, to_trader
):
    with engine_context():
        charged, kept, to_fund, deficit = F.settle_liquidation(equity, fee, to_trader)
        assert kept + charged + to_fund - deficit == equity
        assert D(0) <= charged <= fee
        assert charged <= max(equity, D(0))
        assert kept >= 0
        assert to_fund >= 0
        assert deficit >= 0
        assert deficit == (-equity if equity < 0 else 0)
        assert (kept == 0) if not to_trader else (to_fund == 0)
        for x in (charged, kept, to_fund, deficit):
            assert not x.is_signed()  # no "-0" in a ledger


def test_liquidation_settlement_by_hand():
    with engine_context():
        # 120 left, fee 30: the trader keeps 90 (OKX) or the fund takes it (Binance)
        assert F.settle_liquidation(D(120), D(30), True) == (D(30), D(90), D(0), D(0))
        assert F.settle_liquidation(D(120), D(30), False) == (D(30), D(0), D(90), D(0))
        # 10 left, fee 30: the fee takes what is there
        assert F.settle_liquidation(D(10), D(30), False) == (D(10), D(0), D(0), D(0))
        # -15: nothing to charge, a deficit of 15
        assert F.settle_liquidation(D(-15), D(30), False) == (D(0), D(0), D(0), D(15))


@given(released=st.decimals(min_value=0, max_value=10**5, places=8), pnl=money, fee=fees)
def test_an_isolated_close_loses_at_most_its_margin(released, pnl, fee):
    with engine_context():
        charged, to_wallet, deficit = F.settle_isolated_close(released, pnl, fee)
        assert to_wallet >= 0  # the wallet never pays for an isolated loss
        assert to_wallet == released + pnl + deficit - charged
        assert D(0) <= charged <= fee


def test_funding_payment_and_isolated_funding():
    with engine_context():
        # a 2 BTC long marked at 50,000 pays 10 at +0.01 %; a short receives it
        value = F.position_value(D(2), D(50000))
        assert F.funding_payment(value, D("0.0001")) == D(10)
        assert F.funding_payment(-value, D("0.0001")) == D(-10)
        # a margin of 4 pays 4 of a 10 payment, the fund the other 6; receiving goes in whole
        assert F.settle_isolated_funding(D(10), D(4)) == (D(4), D(6))
        assert F.settle_isolated_funding(D(-10), D(4)) == (D(-10), D(0))


def test_trade_fee_and_capped():
    with engine_context():
        assert F.trade_fee(D(50000), D("0.0004")) == D(20)
        assert F.capped(D(30), D(12)) == D(12)
        assert F.capped(D(30), D(-5)) == D(0)
        assert F.shortfall(D(5)) == D(0)
        assert not F.shortfall(D(5)).is_signed()


def test_adl_rank_prefers_profit_on_high_leverage():
    with engine_context():
        # the same 500 profit: on 1,000 of collateral at 10x value ranks above on 5,000 at 2x
        high = F.adl_score(D(500), D(1000), D(10000))
        low = F.adl_score(D(500), D(5000), D(10000))
        assert high > low > 0
        # losers rank below every winner, the smallest loss on the least leverage last... first
        assert F.adl_score(D(-500), D(1000), D(10000)) < 0
