"""Bad input gets a typed error and leaves the account identical."""

from decimal import Decimal as D

import pytest

import perpmargin as pm


@pytest.fixture
def acct(binance):
    a = pm.Account(binance, balance="10000")
    a.set_margin_mode("BTCUSDT", "isolated")
    a.set_leverage("BTCUSDT", 10)
    a.open("BTCUSDT", "long", "0.1", "50000")
    a.set_leverage("ETHUSDT", 50)
    a.open("ETHUSDT", "short", "1", "3000")
    a.place_order("ETHUSDT", "buy", "stop_market", "1", stop_price="3300", reduce_only=True)
    return a


BAD_CALLS = [
    (lambda a: a.open("BTCUSDT", "long", "0.1", "NaN"), pm.InvalidInput, "finite"),
    (lambda a: a.open("BTCUSDT", "long", "0.1", float("inf")), pm.InvalidInput, "finite"),
    (lambda a: a.open("BTCUSDT", "long", "0.1", "-5"), pm.InvalidInput, "> 0"),
    (lambda a: a.open("BTCUSDT", "long", "0", "50000"), pm.InvalidInput, "> 0"),
    (lambda a: a.open("BTCUSDT", "long", "0.0015", "50000"), pm.InvalidInput, "use 0.001"),
    (lambda a: a.open("BTCUSDT", "long", "5000", "50000"), pm.InvalidInput, "maximum"),
    (lambda a: a.open("BTCUSDT", "long", "abc", "50000"), pm.InvalidInput, "decimal"),
    (lambda a: a.open("BTCUSDT", "up", "0.1", "50000"), pm.InvalidInput, "side"),
    (lambda a: a.open("NOSUCHUSDT", "long", "1", "0.1"), pm.UnknownSymbol, "NOSUCHUSDT"),
    (lambda a: a.open("BTCUSDT", "long", "10", "50000"), pm.InsufficientMargin, "needs"),
    # 5,000 ETH x 3,000 = 15 M: tier 5, max 25x, below the 50x set
    (lambda a: a.open("ETHUSDT", "short", "5000", "3000"), pm.LeverageTooHigh, "lower leverage"),
    (lambda a: a.set_leverage("ETHUSDT", 126), pm.LeverageTooHigh, "125"),
    (lambda a: a.set_leverage("BTCUSDT", "0.5"), pm.InvalidInput, ">= 1"),
    (lambda a: a.set_leverage("BTCUSDT", 5), pm.LeverageChangeError, "close it first"),
    (lambda a: a.set_margin_mode("BTCUSDT", "cross"), pm.ModeSwitchError, "open position"),
    (lambda a: a.set_margin_mode("ETHUSDT", "isolated"), pm.ModeSwitchError, "position"),
    (lambda a: a.set_margin_mode("BTCUSDT", "portfolio"), pm.InvalidInput, "margin mode"),
    (lambda a: a.set_position_mode("hedge"), pm.ModeSwitchError, "no open position"),
    (lambda a: a.remove_margin("BTCUSDT", "1000"), pm.MarginRemovalNotAllowed, "at most"),
    (lambda a: a.remove_margin("ETHUSDT", "10"), pm.MarginRemovalNotAllowed, "cross"),
    (lambda a: a.add_margin("ETHUSDT", "10"), pm.MarginRemovalNotAllowed, "cross"),
    (lambda a: a.add_margin("BTCUSDT", "-10"), pm.InvalidInput, "> 0"),
    (lambda a: a.add_margin("BTCUSDT", "100000"), pm.InsufficientMargin, "available"),
    (lambda a: a.add_margin("BTCUSDT", "0.000000001"), pm.InvalidInput, "precision"),
    (lambda a: a.close("BTCUSDT", "50000", qty="1"), pm.InvalidInput, "cannot close"),
    (lambda a: a.close("BTCUSDT", "0"), pm.InvalidInput, "> 0"),
    (lambda a: a.mark({"BTCUSDT": "45000", "ETHUSDT": "nan"}), pm.InvalidInput, "ETHUSDT"),
    (lambda a: a.mark({"BTCUSDT": "45000", "NOSUCHUSDT": "1"}), pm.UnknownSymbol, "NOSUCHUSDT"),
    (
        lambda a: a.mark({"BTCUSDT": "45000"}, funding_rates={"BTCUSDT": "2"}),
        pm.InvalidInput,
        "fraction",
    ),
    (lambda a: a.mark({"BTCUSDT": "45000"}, time="yesterday"), pm.InvalidInput, "time"),
    (lambda a: a.cancel_order(99), pm.OrderError, "99"),
    (
        lambda a: a.place_order("BTCUSDT", "buy", "limit", "0.1", price="50000.05"),
        pm.InvalidInput,
        "tick",
    ),
    (lambda a: a.place_order("BTCUSDT", "buy", "limit", "0.1"), pm.InvalidInput, "price="),
    (
        lambda a: a.place_order("BTCUSDT", "buy", "limit", "100", price="50000"),
        pm.InsufficientMargin,
        "limit order",
    ),
]


@pytest.mark.parametrize(("call", "error", "text"), BAD_CALLS)
def test_bad_input_raises_typed_error_and_changes_nothing(acct, call, error, text):
    before = acct.snapshot()
    ledger = acct.ledger
    fund = acct.insurance_fund.balance
    with pytest.raises(error, match=text):
        call(acct)
    assert acct.snapshot() == before
    assert acct.ledger == ledger
    assert acct.insurance_fund.balance == fund


def test_balance_must_be_valid(binance):
    with pytest.raises(pm.InvalidInput):
        pm.Account(binance, balance="-1")
    with pytest.raises(pm.InvalidInput):
        pm.Account(binance, balance=float("nan"))
    with pytest.raises(pm.InvalidInput):
        pm.Account("binance-usdm", balance="1")  # type: ignore[arg-type]


def test_float_input_is_converted_by_repr(binance):
    acct = pm.Account(binance, balance=1000.1)
    assert acct.wallet_balance == D("1000.1")


def test_position_too_large_for_the_largest_tier(bybit):
    acct = pm.Account(bybit, balance="200000000")
    acct.set_leverage("BTCUSDT", 1)
    before = acct.snapshot()
    with pytest.raises(pm.PositionTooLarge, match="largest tier"):
        acct.open("BTCUSDT", "long", "1190", "70000")  # 83.3 M > 80 M (tier 20 of 20 bundled)
    assert acct.snapshot() == before


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1e-999999999", "between 1e-18 and 1e18"),  # a price the 50-digit engine cannot hold
        ("1" * 40, "between 1e-18 and 1e18"),  # a 40-digit leverage
        ("1e-30", "between 1e-18 and 1e18"),
        ("\u0661\u0662\u0663", "ASCII digits"),  # Arabic-Indic 123: Decimal reads it
        ("\uff11\uff12\uff13", "ASCII digits"),  # fullwidth 123
    ],
)
def test_absurd_or_foreign_numbers_are_refused_at_the_edge(value, text):
    from perpmargin.numeric import to_decimal

    with pytest.raises(pm.InvalidInput, match=text):
        to_decimal(value, "entry")


def test_the_calculator_refuses_what_gave_nonsense():
    """Issue 22: an entry of 1e-999999999 or a 40-digit leverage gave a long a
    liquidation price above its entry; an MMR of 1e-30 a 50-digit price."""
    liq = pm.liquidation_price
    with pytest.raises(pm.InvalidInput, match="entry_price must be 0 or between"):
        liq("binance-usdm", "isolated", "long", "1e-999999999", "1", None, leverage=10,
            symbol="BTCUSDT")  # fmt: skip
    with pytest.raises(pm.InvalidInput, match="leverage must be 0 or between"):
        liq("binance-usdm", "isolated", "long", "50000", "1", None, leverage="9" * 40,
            maintenance_margin_rate="0.004")  # fmt: skip
    with pytest.raises(pm.InvalidInput, match="maintenance_margin_rate must be 0 or between"):
        liq("binance-usdm", "isolated", "long", "50000", "1", "5000",
            maintenance_margin_rate="1e-30")  # fmt: skip
