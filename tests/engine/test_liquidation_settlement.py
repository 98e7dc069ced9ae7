"""Where the money goes at liquidation, per venue rule, with the hand calculation.

1 BTC long at 50,000, 20x isolated (margin 2,500), taker 0.075 %, no clearance fee
(Bybit-like). Liquidation price: 2,500 + (P - 50,000) = 0.004 P -> P = 47,500 / 0.996 =
47,690.76..., rounded down to the tick: 47,690.70; bankruptcy price 47,500.
Marked at 47,690.70: PnL -2,309.30, so 190.70 of margin is left.
"""

from dataclasses import replace
from decimal import Decimal as D

import pytest

import perpmargin as pm
from perpmargin.events import InsuranceFundTransfer, Liquidation


def _venue(binance, remainder_to):
    v = binance.with_fees(taker="0.00075", maker="-0.0001", liquidation="0")
    return replace(v, liquidation=replace(v.liquidation, remainder_to=remainder_to))


@pytest.mark.parametrize(
    ("remainder_to", "wallet_after", "fund_after"),
    [("insurance_fund", D("2462.50"), D("190.70")), ("trader", D("2653.20"), D("0"))],
)
def test_isolated_remainder(binance, remainder_to, wallet_after, fund_after):
    acct = pm.Account(_venue(binance, remainder_to), balance="5000")
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.open("BTCUSDT", "long", "1", "50000")  # fee 37.50, margin 2,500
    assert acct.liquidation_price("BTCUSDT") == D("47690.70")
    events = acct.mark({"BTCUSDT": "47690.70"})
    (liq,) = [e for e in events if isinstance(e, Liquidation)]
    assert liq.realized_pnl == D("-2309.30")
    assert acct.wallet_balance == wallet_after  # 5,000 - 37.50 - 2,500 (+ 190.70)
    assert acct.insurance_fund.balance == fund_after
    assert acct.snapshot().total_money == 5000
    assert pm.replay(acct.ledger) == acct.snapshot()


@pytest.mark.parametrize("remainder_to", ["insurance_fund", "trader"])
def test_cross_remainder(binance, remainder_to):
    """Cross, wallet 2,537.50 after the fee; Binance counts no close fee in the requirement.

    2,537.5 + (P - 50,000) = 0.004 P -> P = 47,462.5 / 0.996 = 47,653.11..., rounded down
    to 47,653.10. Marked there: PnL -2,346.90, equity 190.60, which goes to the fund or
    stays in the wallet.
    """
    acct = pm.Account(_venue(binance, remainder_to), balance="2575")
    acct.open("BTCUSDT", "long", "1", "50000")  # cross, fee 37.50: wallet 2,537.50
    assert acct.liquidation_price("BTCUSDT") == D("47653.10")
    events = acct.mark({"BTCUSDT": "47653.10"})
    assert [e.realized_pnl for e in events if isinstance(e, Liquidation)] == [D("-2346.90")]
    transfers = [e for e in events if isinstance(e, InsuranceFundTransfer)]
    if remainder_to == "insurance_fund":
        assert [(t.reason, t.amount) for t in transfers] == [("remaining_margin", D("190.60"))]
    else:
        assert transfers == []
    assert acct.wallet_balance == (D("0") if remainder_to == "insurance_fund" else D("190.60"))
    assert acct.insurance_fund.balance == (
        D("190.60") if remainder_to == "insurance_fund" else D("0")
    )
    assert acct.snapshot().total_money == 2575
    assert pm.replay(acct.ledger) == acct.snapshot()


def test_isolated_close_beyond_bankruptcy_is_capped_at_the_margin(binance):
    """A close filled at 40,000 while the mark still said 50,000 (a gap on the book).

    Isolated 0.1 BTC long at 50,000, 10x: margin 500, bankruptcy 45,000. The fill loses
    1,000, twice the margin: the trader loses the 500 and no fee, the fund pays 500.
    """
    acct = pm.Account(binance, balance="10000")
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_leverage("BTCUSDT", 10)
    acct.open("BTCUSDT", "long", "0.1", "50000")
    events = acct.close("BTCUSDT", "40000")
    (transfer,) = [e for e in events if isinstance(e, InsuranceFundTransfer)]
    assert (transfer.reason, transfer.amount) == ("deficit", D("-500"))
    assert acct.wallet_balance == D("9497.50")  # 10,000 - 500 - 2.50 open fee
    assert acct.insurance_fund.balance == D("-500")
    assert acct.snapshot().total_money == 10000


def test_cross_close_beyond_bankruptcy_leaves_no_negative_wallet(binance):
    acct = pm.Account(binance, balance="1000")
    acct.open("BTCUSDT", "long", "0.2", "50000")  # fee 5: wallet 995
    acct.close("BTCUSDT", "40000")  # loss 2,000 > wallet: fund covers 1,005 + fee 4
    assert acct.wallet_balance == D("0")
    assert acct.insurance_fund.balance == D("-1009")
    assert acct.snapshot().total_money == 1000


def test_a_cross_deficit_is_settled_in_whole_units(binance):
    """Issue 'One rulebook', defect 5: a cross leg closed beyond the account's bankruptcy
    leaves the cross equity below zero by an amount that is not on the settle grid (the
    other legs' uPnL at an averaged entry has 50 digits); the fund covered exactly that,
    so the ledger held an off-grid transfer and its replay (at another precision)
    disagreed with the account. The fund now covers the deficit rounded up to the unit:
    the account ends at or just above zero and every amount is on the grid."""
    acct = pm.Account(binance, balance="3000")
    acct.set_leverage("BTCUSDT", 20)
    acct.set_leverage("ETHUSDT", 20)
    acct.open("ETHUSDT", "long", "1", "3000")
    acct.open("ETHUSDT", "long", "2", "3001")  # entry 9,002 / 3: not on any grid
    acct.open("BTCUSDT", "long", "0.3", "50000")
    acct.mark({"ETHUSDT": "3000.5"})
    events = acct.close("BTCUSDT", "35000")  # a fill far below the mark: -4,500 of PnL
    transfers = [e for e in events if isinstance(e, InsuranceFundTransfer)]
    step = binance.settle_precision
    assert transfers[0].reason == "deficit"
    assert transfers[0].amount < 0
    assert all(t.amount % step == 0 for t in transfers)
    assert acct.cross_wallet_balance % step == 0
    assert D(0) <= acct.cross_equity < step
    assert pm.replay(acct.ledger) == acct.snapshot()
    assert acct.insurance_fund.balance == acct.insurance_fund_net
