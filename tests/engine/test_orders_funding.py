from decimal import Decimal as D

import perpmargin as pm
from perpmargin.events import Fill, FundingSettled, Liquidation, OrderCancelled


def test_limit_fills_at_its_price_as_maker(binance):
    acct = pm.Account(binance, balance="10000")
    order = acct.place_order("BTCUSDT", "buy", "limit", "0.1", price="49000")
    assert acct.available_balance == D("10000") - D("4900") / 20  # order margin reserved
    assert acct.mark({"BTCUSDT": "49500"}, last_prices={"BTCUSDT": "49500"})[1:] == []
    events = acct.mark({"BTCUSDT": "49100"}, last_prices={"BTCUSDT": "48900"})
    (fill,) = [e for e in events if isinstance(e, Fill)]
    assert (fill.price, fill.liquidity, fill.order_id) == (D("49000"), "maker", order.order_id)
    assert fill.fee == D("0.98")  # 4,900 x 0.0002
    assert acct.open_orders() == []


def test_stop_gap_fills_at_the_worse_price_and_trigger_source(binance):
    acct = pm.Account(binance, balance="10000")
    acct.open("BTCUSDT", "long", "0.1", "50000")
    acct.place_order(
        "BTCUSDT",
        "sell",
        "stop_market",
        "0.1",
        stop_price="48000",
        reduce_only=True,
        trigger_by="mark",
    )
    # last price trades through, mark does not: a mark-triggered stop waits
    acct.mark({"BTCUSDT": "48100"}, last_prices={"BTCUSDT": "47900"})
    assert acct.position("BTCUSDT") is not None
    events = acct.mark({"BTCUSDT": "47000"})
    (fill,) = [e for e in events if isinstance(e, Fill)]
    assert fill.price == D("47000")  # gapped through 48,000: filled at the mark seen
    assert fill.realized_pnl == D("-300")


def test_take_profit_and_reduce_only_cancel(binance):
    acct = pm.Account(binance, balance="10000")
    acct.open("BTCUSDT", "short", "0.1", "50000")
    tp = acct.place_order(
        "BTCUSDT", "buy", "take_profit_market", "0.1", stop_price="45000", reduce_only=True
    )
    sl = acct.place_order(
        "BTCUSDT", "buy", "stop_market", "0.1", stop_price="52000", reduce_only=True
    )
    events = acct.mark({"BTCUSDT": "44000"})
    (fill,) = [e for e in events if isinstance(e, Fill)]
    assert (fill.order_id, fill.price, fill.realized_pnl) == (tp.order_id, D("45000"), D("500"))
    cancelled = [e for e in events if isinstance(e, OrderCancelled)]
    assert [c.order_id for c in cancelled] == [sl.order_id]
    assert pm.replay(acct.ledger) == acct.snapshot()


def test_liquidation_comes_before_a_stop_the_mark_jumped_through(binance):
    acct = pm.Account(binance, balance="10000")
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_leverage("BTCUSDT", 10)
    acct.open("BTCUSDT", "long", "0.1", "50000")
    acct.place_order("BTCUSDT", "sell", "stop_market", "0.1", stop_price="46000", reduce_only=True)
    events = acct.mark({"BTCUSDT": "44000"})
    assert any(isinstance(e, Liquidation) for e in events)
    assert not any(isinstance(e, Fill) for e in events)
    assert acct.open_orders() == []


def test_funding_sign_convention_and_isolated_margin(binance):
    acct = pm.Account(binance, balance="10000")
    acct.set_position_mode("hedge")
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_leverage("BTCUSDT", 10)
    acct.open("BTCUSDT", "long", "0.1", "50000")
    acct.open("BTCUSDT", "short", "0.2", "50000")
    events = acct.mark({"BTCUSDT": "50000"}, funding_rates={"BTCUSDT": "0.0001"})
    paid = {e.position_side: e.amount for e in events if isinstance(e, FundingSettled)}
    # positive rate: the long pays 5,000 x 0.0001 = 0.50, the short receives 10,000 x 0.0001
    assert paid == {"long": D("0.5"), "short": D("-1.0")}
    assert acct.position("BTCUSDT", "long").isolated_margin == D("499.5")
    assert acct.position("BTCUSDT", "short").isolated_margin == D("1001.0")
    assert acct.counterparty_pnl == D("-0.5")


def test_funding_rounds_against_the_trader(hyperliquid):
    acct = pm.Account(hyperliquid, balance="1000")
    acct.open("BTC", "long", "0.00001", "33333.3")
    (ev,) = [e for e in acct.settle_funding("BTC", "0.0000125") if isinstance(e, FundingSettled)]
    # 0.00001 x 33,333.3 x 0.0000125 = 0.0000041666625 -> paid 0.000005 (6 dp, up)
    assert ev.amount == D("0.000005")
