"""The pre-trade check: numbers written out, statuses, several venues, an account."""

from decimal import Decimal as D

import pytest

import perpmargin as pm
from perpmargin.numeric import engine_context


def _check(**kw):
    args = {
        "balance": "10000",
        "venue": "binance-usdm",
        "symbol": "BTCUSDT",
        "side": "long",
        "entry": "50000",
        "stop": "48000",
        "leverage": 20,
        "risk": "1%",
    }
    args.update(kw)
    return pm.check_trade(**args)


def _items(mode):
    return {i.name: i for i in mode.checklist}


def test_size_from_risk_with_fees():
    result = _check()
    (v,) = result.venues
    # risk 100; per BTC: 2,000 stop distance + (50,000 + 48,000) x 0.0005 fees = 2,049
    # 100 / 2,049 = 0.04880... -> 0.048 on the 0.001 step
    assert v.quantity == D("0.048")
    assert v.notional == D("2400")
    assert v.open_fee == D("1.2")
    assert v.close_fee_at_stop == D("1.152")
    iso, _cross = v.modes
    assert iso.loss_at_stop == D("98.352")  # 0.048 x 2,049
    assert iso.initial_margin == D("120")  # 2,400 / 20


def test_isolated_and_cross_side_by_side():
    iso, cross = _check().venues[0].modes
    # isolated: 120 + 0.048 (P - 50,000) = 0.004 x 0.048 P -> P = 2,280 / 0.047808
    with engine_context():
        exact = D(2280) / D("0.047808")
    assert iso.liquidation_price == D("47690.70")  # 47,690.76..., rounded down to tick
    assert abs(iso.liquidation_price - exact) < D("0.1")
    assert iso.stop_to_liquidation == D("309.30")  # 48,000 - 47,690.70
    # 309.30 is below 0.5 x the 2,000 stop distance: WARN
    assert iso.status == "WARN"
    assert _items(iso)["liquidation distance"].status == "WARN"
    assert iso.worst_case_loss == D("120") + D("1.2") + D("1.152")
    # cross: 10,000 - 1.20 fee backs a 2,400 long: nothing liquidates it, and the most
    # it can lose is the whole 2,400 (the price at 0) plus the fee to open, not the
    # wallet (issue 22: it said 10,000)
    assert cross.liquidation_price is None
    assert cross.bankruptcy_price is None
    assert cross.worst_case_loss == D("2400") + D("1.2")
    assert "falls to 0 the loss is 2,401.20" in cross.worst_case_basis
    assert _items(cross)["worst case"].reason == cross.worst_case_basis
    assert _items(cross)["mode chosen"].status == "WARN"
    assert "liquidation at 47690.70 ends the loss" in iso.worst_case_basis
    assert "never reached" not in iso.worst_case_basis


def test_cross_worst_case_is_the_wallet_where_a_bankruptcy_price_exists():
    """A short can always be bankrupted by a rise: the whole cross balance is at stake,
    and the basis names the bankruptcy price and how far it is."""
    _iso, cross = _check(side="short", stop="52000").venues[0].modes
    assert cross.bankruptcy_price is not None
    assert cross.worst_case_loss == D("10000")
    assert f"at the bankruptcy price {cross.bankruptcy_price}" in cross.worst_case_basis
    assert cross.status != "FAIL"  # a fact, not a check: it never sets the status


def test_isolated_basis_says_the_stop_is_never_reached_when_liquidation_comes_first():
    iso, _cross = _check(leverage=50, stop="40000", risk="500").venues[0].modes
    assert iso.stop_to_liquidation < 0
    assert iso.loss_at_stop > iso.worst_case_loss  # the stop's loss cannot happen
    assert "the stop at 40000 is never reached" in iso.worst_case_basis


def test_liquidation_before_the_stop_fails():
    iso, cross = _check(leverage=50).venues[0].modes
    assert "never reached (liquidation comes first)" in iso.worst_case_basis
    # 48 margin on 2,400: liquidation near 49,200, above the 48,000 stop
    assert iso.liquidation_price > D("48000")
    assert iso.stop_to_liquidation < 0
    assert iso.status == "FAIL"
    reason = _items(iso)["liquidation distance"].reason
    assert "comes before the stop" in reason
    assert cross.status == "PASS"


def test_lower_leverage_passes():
    iso, _ = _check(leverage=5).venues[0].modes
    assert iso.status == "PASS"
    assert iso.stop_to_liquidation > 1000


def test_leverage_above_tier_max_fails():
    iso, _ = _check(venue="hyperliquid", symbol="BTC", leverage=45).venues[0].modes
    item = _items(iso)["leverage vs tier max"]
    assert item.status == "FAIL"
    assert "40" in item.reason


def test_stop_on_the_wrong_side_fails():
    iso, _ = _check(stop="51000").venues[0].modes
    assert _items(iso)["stop placed"].status == "FAIL"
    assert iso.status == "FAIL"


def test_reward_to_risk_and_funding_cost():
    result = _check(take_profit="56000", funding_rate="0.0001", hold_hours=24)
    assert result.reward_to_risk == D("3.00")
    iso, _ = result.venues[0].modes
    # 2,400 x 0.0001 x (24 h / 8 h) = 0.72 paid by the long
    assert iso.funding_cost == D("0.72")
    short = _check(side="short", stop="52000", funding_rate="0.0001").venues[0].modes[0]
    assert short.funding_cost < 0  # shorts receive when the rate is positive


def test_volatility_buffer_from_bars():
    bars = [{"high": 50000 + 300 * (i % 2), "low": 49500, "close": 49800} for i in range(20)]
    result = _check(bars=bars, leverage=10, buffer="0")
    assert result.atr is not None
    iso, _ = result.venues[0].modes
    with engine_context():
        assert iso.stop_to_liquidation_atr == (iso.stop_to_liquidation / result.atr).quantize(
            D("0.01")
        )


def test_several_venues_and_who_liquidates_first():
    result = _check(venues="all", venue=None, symbol="BTC/USDT:USDT")
    inverse = {"binance-coinm", "bybit-inverse"}  # coin-margined: checked only when named
    assert {v.venue for v in result.venues} == set(pm.bundled_venues()) - inverse
    assert set(result.not_listed) == inverse
    iso_prices = {v.venue: v.modes[0].liquidation_price for v in result.venues if v.modes}
    first_venue, first_mode, first_price = result.first_to_liquidate
    assert first_mode == "isolated"
    assert first_price == max(iso_prices.values())  # a long: the highest goes first
    assert iso_prices[first_venue] == first_price
    assert result.liquidation_spread["isolated"] == max(iso_prices.values()) - min(
        iso_prices.values()
    )


def test_cross_counts_the_accounts_other_positions():
    venue = pm.load_venue("binance-usdm")
    acct = pm.Account(venue, balance="10000")
    acct.set_leverage("ETHUSDT", 10)
    acct.open("ETHUSDT", "short", "20", "3000")
    acct.mark({"ETHUSDT": "3300"})  # 6,000 down
    result = pm.check_trade(
        account=acct,
        symbol="BTCUSDT",
        side="long",
        entry="50000",
        stop="45000",
        leverage=10,
        risk="2000",
    )
    _, cross = result.venues[0].modes
    v = result.venues[0]
    expected = pm.liquidation_price(
        venue,
        "cross",
        "long",
        "50000",
        v.quantity,
        acct.cross_wallet_balance - v.open_fee,
        symbol="BTCUSDT",
        mark_price="50000",
        other_positions=[
            {
                "symbol": "ETHUSDT",
                "side": "short",
                "entry_price": "3000",
                "quantity": "20",
                "mark_price": "3300",
            }
        ],
    )
    assert cross.liquidation_price == expected
    assert cross.liquidation_price is not None  # the ETH loss makes the BTC long fragile


BAD = [
    ({"risk": "150%"}, "100%"),
    ({"risk": "20000"}, "more than the balance"),
    ({"entry": "-1"}, "> 0"),
    ({"side": "up"}, "side"),
    ({"margin_modes": ["hedged"]}, "margin mode"),
    ({"margin_modes": ["portfolio"]}, "needs portfolio="),
    ({"leverage": "0.5"}, ">= 1"),
    ({"bars": [{"high": 1, "low": 2, "close": 1}] * 3}, "below low"),
    ({"venue": None}, "venue="),
]


@pytest.mark.parametrize(("change", "text"), BAD)
def test_bad_input_is_typed(change, text):
    with pytest.raises(pm.InvalidInput, match=text):
        _check(**change)


def test_balance_xor_account():
    acct = pm.Account(pm.load_venue("binance-usdm"), balance="1000")
    with pytest.raises(pm.InvalidInput, match="exactly one"):
        _check(account=acct)


def test_json_shape_has_strings():
    doc = _check().to_dict()
    assert doc["venues"][0]["quantity"] == "0.048"
    assert doc["venues"][0]["modes"][0]["status"] == "WARN"
    assert doc["venues"][0]["modes"][1]["liquidation_price"] is None


def test_all_venues_reports_venues_without_the_asset():
    result = _check(
        venues="all", venue=None, symbol="ETH/USDT:USDT", entry="3000", stop="2900", leverage=5
    )
    assert "gate-futures" in result.not_listed  # the bundled Gate file lists BTC only
    assert "gate-futures" not in {v.venue for v in result.venues}
    assert result.status != "FAIL"
    named = _check(venue="gate-futures", symbol="ETH/USDT:USDT", entry="3000", stop="2900")
    assert named.status == "FAIL"
    assert "ETH" in named.venues[0].error


def test_a_take_profit_on_the_wrong_side_fails_without_a_negative_reward_to_risk():
    """Issue 22: it gave a negative reward-to-risk without a word."""
    result = _check(take_profit="49000")  # a long's take-profit below the entry
    assert result.reward_to_risk is None
    (v,) = result.venues
    assert v.status == "FAIL"
    assert any(
        i.name == "take-profit placed" and i.status == "FAIL" for m in v.modes for i in m.checklist
    )
    assert _check(take_profit="54000").reward_to_risk == D("2.00")


def test_words_quote_the_numbers_beside_them_at_the_settle_decimals() -> None:
    """Issue 22: "loses 24.684495 at the stop" beside a loss at the stop of 24.684496, and
    BTC margins worded with two decimals (0.00)."""
    sol = pm.check_trade(
        symbol="SOL", side="long", entry="143.217", stop="139.11", leverage="7",
        balance="1234.56", risk="2%", venue="hyperliquid",
    ).venues[0]  # fmt: skip
    sized = next(i for i in sol.modes[0].checklist if i.name == "size from risk")
    assert f"loses {sol.modes[0].loss_at_stop:,.2f} at the stop" in sized.reason
    btc = pm.check_trade(
        symbol="BTCUSD", side="long", entry="50123.5", stop="48000.5", leverage="20",
        balance="0.37", risk="1%", venue="bybit-inverse",
    ).venues[0]  # fmt: skip
    iso = btc.modes[0]
    assert iso.margin_mode == "isolated"
    capped = next(i for i in iso.checklist if i.name == "mode chosen")
    assert f"margin {iso.initial_margin:.8f} plus" in capped.reason
    assert "0.00 " not in capped.reason
