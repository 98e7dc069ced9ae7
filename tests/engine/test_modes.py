from decimal import Decimal as D

import pytest

import perpmargin as pm


def test_defaults_come_from_venue_data(binance, bybit, hyperliquid):
    for venue in (binance, bybit, hyperliquid):
        acct = pm.Account(venue, balance="1000")
        sym = next(iter(venue.symbols))
        assert acct.margin_mode(sym) == venue.rules.default_margin_mode == "cross"
        assert acct.position_mode == "one-way"
    assert pm.Account(binance, 1).leverage("BTCUSDT") == 20
    with pytest.raises(pm.ModeSwitchError, match="does not offer hedge"):
        pm.Account(hyperliquid, 1).set_position_mode("hedge")


def test_margin_mode_switch_refused_with_position_allowed_after_close(binance):
    acct = pm.Account(binance, balance="10000")
    acct.open("BTCUSDT", "long", "0.01", "50000")
    with pytest.raises(pm.ModeSwitchError):
        acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_margin_mode("ETHUSDT", "isolated")  # per symbol on Binance
    acct.close("BTCUSDT", "50000")
    acct.set_margin_mode("BTCUSDT", "isolated")
    assert acct.margin_mode("BTCUSDT") == "isolated"


def test_open_order_blocks_the_switch_as_the_venue_does(binance):
    acct = pm.Account(binance, balance="10000")
    order = acct.place_order("BTCUSDT", "buy", "limit", "0.01", price="40000")
    with pytest.raises(pm.ModeSwitchError, match="open order"):
        acct.set_margin_mode("BTCUSDT", "isolated")
    with pytest.raises(pm.ModeSwitchError, match="open order"):
        acct.set_position_mode("hedge")
    acct.cancel_order(order.order_id)
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_position_mode("hedge")


def test_account_wide_margin_mode_on_bybit(bybit):
    acct = pm.Account(bybit, balance="10000")
    acct.set_margin_mode("BTCUSDT", "isolated")
    assert all(acct.margin_mode(s) == "isolated" for s in bybit.symbols)


def test_binance_isolated_leverage_only_rises_with_a_position(binance):
    acct = pm.Account(binance, balance="10000")
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_leverage("BTCUSDT", 10)
    acct.open("BTCUSDT", "long", "0.1", "50000")
    acct.set_leverage("BTCUSDT", 20)
    with pytest.raises(pm.LeverageChangeError):
        acct.set_leverage("BTCUSDT", 5)


def test_cross_leverage_can_fall_if_margin_allows(binance):
    acct = pm.Account(binance, balance="1000")
    acct.set_leverage("BTCUSDT", 20)
    acct.open("BTCUSDT", "long", "0.3", "50000")  # 15,000 notional: IM 750
    with pytest.raises(pm.InsufficientMargin):
        acct.set_leverage("BTCUSDT", 10)  # IM 1,500 > equity
    acct.set_leverage("BTCUSDT", 16)  # IM 937.5 fits
    assert acct.leverage("BTCUSDT") == 16


def test_lowering_isolated_leverage_tops_up_from_wallet_where_allowed(bybit):
    acct = pm.Account(bybit, balance="10000")
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_leverage("BTCUSDT", 10)
    acct.open("BTCUSDT", "long", "0.1", "50000")
    acct.set_leverage("BTCUSDT", 5)
    # IM at 5x plus Bybit's estimated fee to close held in it (bybit-linear.json):
    # 5,000 / 5 + 0.1 x 50,000 x (1 - 1/5) x 0.055 % = 1,000 + 2.20
    assert acct.position("BTCUSDT").isolated_margin == D("1002.20")
    assert pm.replay(acct.ledger) == acct.snapshot()


def test_leverage_capped_by_the_tier_of_the_position(binance):
    acct = pm.Account(binance, balance="1000000")
    acct.set_leverage("BTCUSDT", 50)
    acct.open("BTCUSDT", "long", "2", "50000")  # 100,000: tier 2, max 100x
    with pytest.raises(pm.LeverageTooHigh, match="tier 2"):
        acct.set_leverage("BTCUSDT", 101)


def test_hedge_mode_holds_both_legs(binance):
    acct = pm.Account(binance, balance="10000")
    acct.set_position_mode("hedge")
    acct.open("BTCUSDT", "long", "0.1", "50000")
    acct.open("BTCUSDT", "short", "0.04", "51000")
    assert [(p.side, p.quantity) for p in acct.positions()] == [
        ("long", D("0.1")),
        ("short", D("0.04")),
    ]
    with pytest.raises(pm.InvalidInput, match="side="):
        acct.position("BTCUSDT")
    acct.close("BTCUSDT", "52000", side="short")
    assert acct.position("BTCUSDT").side == "long"


def test_one_way_opposite_trade_reduces_then_flips(binance):
    acct = pm.Account(binance, balance="10000")
    acct.open("BTCUSDT", "long", "0.1", "50000")
    acct.open("BTCUSDT", "short", "0.3", "51000")
    pos = acct.position("BTCUSDT")
    assert (pos.side, pos.quantity, pos.entry_price) == ("short", D("0.2"), D("51000"))
    # realised 0.1 x 1,000 = 100; fees 2.50 + 0.3 x 51,000 x 0.0005 = 7.65
    assert acct.wallet_balance == D("10000") + 100 - D("2.50") - D("7.65")


def test_add_and_remove_isolated_margin(binance):
    acct = pm.Account(binance, balance="10000")
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_leverage("BTCUSDT", 10)
    acct.open("BTCUSDT", "long", "0.1", "50000")
    before = acct.liquidation_price("BTCUSDT")
    acct.add_margin("BTCUSDT", "500")
    assert acct.position("BTCUSDT").isolated_margin == D("1000")
    assert acct.liquidation_price("BTCUSDT") < before
    # removable: min(1,000 - 20, 1,000 + 0 - 500) = 500
    assert acct.max_removable_margin("BTCUSDT") == D("500")
    acct.remove_margin("BTCUSDT", "500")
    assert acct.position("BTCUSDT").isolated_margin == D("500")
    assert acct.max_removable_margin("BTCUSDT") == D("0")


def test_bybit_keeps_the_fee_to_close_when_margin_is_removed(bybit):
    """The fee to close Bybit holds in an isolated margin is initial margin: it cannot be
    taken out (1 BTC at 50,000, 10x: margin 5,000 + 24.75, nothing removable at the entry)."""
    acct = pm.Account(bybit, balance="10000")
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_leverage("BTCUSDT", 10)
    acct.open("BTCUSDT", "long", "1", "50000")
    assert acct.position("BTCUSDT").isolated_margin == D("5024.75")
    assert acct.max_removable_margin("BTCUSDT") == 0
    acct.add_margin("BTCUSDT", "100")
    assert acct.max_removable_margin("BTCUSDT") == 100
