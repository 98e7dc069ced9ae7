"""The seed's worked example, both modes, every number written out.

$10,000 on Binance USDⓈ-M (taker 0.05 %, liquidation fee 1.25 %, BTCUSDT tier 1 MMR 0.4 %,
ETHUSDT tier 2 MMR 0.5 % / amount 50, per the bundled 2024-10-24 bracket table).
A BTC long, 0.1 BTC at 50,000 with 10x leverage: notional 5,000, initial margin 500.
"""

from decimal import Decimal as D

import pytest

import perpmargin as pm
from perpmargin.events import InsuranceFundTransfer, Liquidation
from perpmargin.numeric import ENGINE_CONTEXT


def _account(venue, mode):
    acct = pm.Account(venue, balance="10000")
    acct.set_margin_mode("BTCUSDT", mode)
    acct.set_leverage("BTCUSDT", 10)
    acct.open("BTCUSDT", "long", qty="0.1", price="50000")
    return acct


def test_isolated_crash_liquidates_the_position_alone_and_keeps_the_rest(binance):
    acct = _account(binance, "isolated")
    # fee 5,000 x 0.0005 = 2.50; 500 moved into the isolated margin
    assert acct.cross_wallet_balance == D("9497.50")
    assert acct.wallet_balance == D("9997.50")
    # 500 + 0.1 (P - 50,000) = 0.004 x 0.1 P  ->  P = 4,500 / 0.0996 = 45,180.7228...
    assert acct.liquidation_price("BTCUSDT", exact=True) == ENGINE_CONTEXT.divide(
        D(4500), D("0.0996")
    )
    assert acct.liquidation_price("BTCUSDT") == D("45180.70")  # long: rounded down to tick
    assert acct.bankruptcy_price("BTCUSDT") == D("45000")  # 50,000 - 500 / 0.1

    assert not any(isinstance(e, Liquidation) for e in acct.mark({"BTCUSDT": "45200"}))
    events = acct.mark({"BTCUSDT": "45180.70"})
    (liq,) = [e for e in events if isinstance(e, Liquidation)]
    # PnL 0.1 x (45,180.70 - 50,000) = -481.93; 18.07 left of the margin; the 1.25 % fee
    # (56.475875) is capped at what is left, so all 18.07 goes to the insurance fund
    assert liq.realized_pnl == D("-481.93")
    assert liq.liquidation_fee == D("18.07")
    assert liq.insurance_fund_delta == D("18.07")
    assert acct.position("BTCUSDT") is None
    assert acct.wallet_balance == D("9497.50")  # "about $9,500, minus fees"
    assert acct.insurance_fund.balance == D("18.07")


def test_cross_survives_the_same_crash_then_takes_both_legs(binance):
    acct = _account(binance, "cross")
    assert acct.liquidation_price("BTCUSDT") is None  # 10,000 backs a 5,000 long: no price
    acct.set_leverage("ETHUSDT", 10)
    acct.open("ETHUSDT", "short", qty="20", price="3000")  # fee 60,000 x 0.0005 = 30
    assert acct.wallet_balance == D("9967.50")

    # the move that liquidated the isolated position: nothing happens in cross
    events = acct.mark({"BTCUSDT": "45000", "ETHUSDT": "3000"})
    assert not any(isinstance(e, Liquidation) for e in events)

    # a much deeper fall: equity 9,967.50 - 2,000 = 7,967.50, still fine
    acct.mark({"BTCUSDT": "30000", "ETHUSDT": "3000"})
    assert acct.cross_equity == D("7967.50")
    # now the ETH leg is threatened by the BTC loss: with BTC held at 30,000
    # 9,967.5 - 2,000 - 12 - 20 (P - 3,000) = 0.1 P - 50  ->  P = 68,005.5 / 20.1
    assert acct.liquidation_price("ETHUSDT", exact=True) == ENGINE_CONTEXT.divide(
        D("68005.5"), D("20.1")
    )
    assert acct.liquidation_price("ETHUSDT") == D("3383.36")  # short: rounded up

    events = acct.mark({"BTCUSDT": "30000", "ETHUSDT": "3390"})
    liqs = [e for e in events if isinstance(e, Liquidation)]
    assert [(e.symbol, e.realized_pnl) for e in liqs] == [
        ("BTCUSDT", D("-2000")),
        ("ETHUSDT", D("-7800")),
    ]
    # equity 167.50 < requirement 12 + 289; fees 37.50 (BTC) then the last 130 (ETH)
    assert [e.liquidation_fee for e in liqs] == [D("37.50"), D("130.00")]
    assert acct.positions() == []
    assert acct.wallet_balance == D("0")  # the whole account went
    assert acct.insurance_fund.balance == D("167.50")


def test_same_legs_each_isolated_keep_the_untouched_balance(binance):
    acct = _account(binance, "isolated")
    acct.set_margin_mode("ETHUSDT", "isolated")
    acct.set_leverage("ETHUSDT", 10)
    acct.open("ETHUSDT", "short", qty="20", price="3000")
    assert acct.cross_wallet_balance == D("3467.50")  # 10,000 - 500 - 6,000 - 32.50
    acct.mark({"BTCUSDT": "45000", "ETHUSDT": "3000"})  # BTC at its bankruptcy price
    assert acct.position("BTCUSDT") is None
    assert acct.wallet_balance == D("9467.50")
    events = acct.mark({"BTCUSDT": "30000", "ETHUSDT": "3390"})
    # ETH isolated: 6,000 - 7,800 = -1,800, past bankruptcy: the fund pays the deficit
    (liq,) = [e for e in events if isinstance(e, Liquidation)]
    assert liq.realized_pnl == D("-7800")
    assert liq.insurance_fund_delta == D("-1800")
    assert not any(isinstance(e, InsuranceFundTransfer) for e in events)
    assert acct.wallet_balance == D("3467.50")  # isolated losses never reach the wallet
    assert acct.insurance_fund.balance == D("-1800")


@pytest.mark.parametrize("mode", ["isolated", "cross"])
def test_worked_example_ledger_replays(binance, mode):
    acct = _account(binance, mode)
    acct.mark({"BTCUSDT": "44000"})
    state = acct.snapshot()
    assert pm.replay(acct.ledger) == state
    assert state.total_money == D("10000")
