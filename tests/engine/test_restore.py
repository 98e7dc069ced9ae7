"""Account.restore_position: an existing position put on the books without a trade."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

import perpmargin as pm
from perpmargin.events import PositionRestored


def test_restored_leg_matches_an_opened_one(binance):
    # opened through a trade: margin and fee leave the wallet
    opened = pm.Account(binance, "10000")
    opened.set_margin_mode("BTCUSDT", "isolated")
    opened.set_leverage("BTCUSDT", 10)
    opened.open("BTCUSDT", "long", "0.5", "60000")
    # restored with the same margin: same leg, no fee, the wallet already net of it
    restored = pm.Account(binance, opened.wallet_balance)
    events = restored.restore_position(
        "BTCUSDT", "long", "0.5", "60000", margin_mode="isolated", leverage=10,
        isolated_margin=opened.position("BTCUSDT").isolated_margin,
    )  # fmt: skip
    assert [type(e) for e in events] == [PositionRestored]
    a, b = opened.position("BTCUSDT"), restored.position("BTCUSDT")
    assert (a.quantity, a.entry_price, a.isolated_margin, a.leverage) == (
        b.quantity, b.entry_price, b.isolated_margin, b.leverage,
    )  # fmt: skip
    assert a.liquidation_price == b.liquidation_price
    assert restored.cross_wallet_balance == opened.cross_wallet_balance
    assert restored.fees_paid == 0
    assert pm.replay(restored.ledger) == restored.snapshot()


def test_restore_sets_mode_leverage_and_mark_and_does_not_liquidate(binance):
    acct = pm.Account(binance, "1000")
    acct.restore_position("ETHUSDT", "short", "10", "3000", margin_mode="cross", leverage=20,
                          mark_price="3200")  # fmt: skip
    assert acct.margin_mode("ETHUSDT") == "cross"
    assert acct.leverage("ETHUSDT") == 20
    assert acct.marks["ETHUSDT"] == D("3200")
    # 1000 - 2000 of uPnL: past liquidation, still on the books until marked
    assert acct.position("ETHUSDT") is not None
    assert acct.liquidates_at({"ETHUSDT": "3200"})
    acct.mark({"ETHUSDT": "3200"})
    assert acct.position("ETHUSDT") is None
    assert acct.snapshot().total_money == D("1000")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"margin_mode": "isolated", "leverage": 10}, pm.InvalidInput),  # no margin
        ({"margin_mode": "cross", "leverage": 10, "isolated_margin": "5"}, pm.InvalidInput),
        (
            {"margin_mode": "isolated", "leverage": 10, "isolated_margin": "2000"},
            pm.InsufficientMargin,
        ),
        (
            {"margin_mode": "isolated", "leverage": 500, "isolated_margin": "50"},
            pm.LeverageTooHigh,
        ),
        ({"margin_mode": "both", "leverage": 10}, pm.InvalidInput),
        ({"margin_mode": "cross", "leverage": 10, "qty": "0.0005"}, pm.InvalidInput),
        ({"margin_mode": "cross", "leverage": 10, "entry": "nan"}, pm.InvalidInput),
        ({"margin_mode": "cross", "leverage": 10, "symbol": "NOSUCHUSDT"}, pm.UnknownSymbol),
    ],
)
def test_bad_restores_are_refused_and_change_nothing(binance, kwargs, error):
    acct = pm.Account(binance, "1000")
    before = acct.snapshot()
    kw = dict(kwargs)
    symbol = kw.pop("symbol", "BTCUSDT")
    qty = kw.pop("qty", "0.01")
    entry = kw.pop("entry", "60000")
    with pytest.raises(error):
        acct.restore_position(symbol, "long", qty, entry, **kw)
    assert acct.snapshot() == before
    assert len(acct.ledger) == 1


def test_one_way_refuses_a_second_leg_and_hedge_takes_it(binance):
    acct = pm.Account(binance, "10000")
    acct.restore_position("BTCUSDT", "long", "0.1", "60000", margin_mode="cross", leverage=10)
    with pytest.raises(pm.InvalidInput, match="one-way"):
        acct.restore_position("BTCUSDT", "short", "0.1", "60000", margin_mode="cross",
                              leverage=10)  # fmt: skip
    hedge = pm.Account(binance, "10000")
    hedge.set_position_mode("hedge")
    hedge.restore_position("BTCUSDT", "long", "0.1", "60000", margin_mode="cross", leverage=10)
    hedge.restore_position("BTCUSDT", "short", "0.2", "61000", margin_mode="cross", leverage=10)
    assert hedge.net_quantity("BTCUSDT") == D("-0.1")
    with pytest.raises(pm.InvalidInput, match="already open"):
        hedge.restore_position("BTCUSDT", "short", "0.1", "60000", margin_mode="cross",
                               leverage=10)  # fmt: skip


@given(
    margins=st.lists(st.integers(1, 400), min_size=2, max_size=2),
    marks=st.lists(st.integers(-30, 30), min_size=2, max_size=2),
)
def test_restored_accounts_conserve_money_through_liquidations(binance, margins, marks):
    acct = pm.Account(binance, "2000")
    acct.restore_position("BTCUSDT", "long", "0.05", "60000", margin_mode="isolated",
                          leverage=10, isolated_margin=margins[0])  # fmt: skip
    acct.restore_position("ETHUSDT", "short", "1", "3000", margin_mode="isolated",
                          leverage=10, isolated_margin=margins[1])  # fmt: skip
    acct.mark(
        {"BTCUSDT": 60000 * (100 + marks[0]) // 100, "ETHUSDT": 3000 * (100 + marks[1]) // 100}
    )
    state = acct.snapshot()
    assert state.total_money == D("2000")
    assert pm.replay(acct.ledger) == state
    # each isolated leg loses at most its margin: what is outside them is untouched
    assert acct.equity >= D("2000") - sum(margins)
    assert acct.cross_wallet_balance >= D("2000") - sum(margins)
