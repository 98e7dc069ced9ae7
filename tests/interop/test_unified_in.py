"""Unified accounts from ccxt (perpmargin.interop.unified_in).

The balances are in the shapes ccxt 4.5 gives them (read in its parsers: Binance's
``parse_balance_custom`` for portfolio margin, Bybit's and OKX's ``parse_balance``). The
Binance raw entry is the example printed in ccxt's own source (binance.py, the
``/papi/v1/balance`` response in ``fetch_balance``'s comments); the positions are built
by hand in ccxt's unified position shape.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from perpmargin.errors import InvalidInput, UnknownSymbol
from perpmargin.interop.unified_in import unified_from_ccxt

PAPI_USDT = {
    "asset": "USDT",
    "totalWalletBalance": "66.9923261",
    "crossMarginAsset": "35.9697141",
    "crossMarginBorrowed": "0.0",
    "crossMarginFree": "35.9697141",
    "crossMarginInterest": "0.0",
    "crossMarginLocked": "0.0",
    "umWalletBalance": "31.022612",
    "umUnrealizedPNL": "0.0",
    "cmWalletBalance": "0.0",
    "cmUnrealizedPNL": "0.0",
    "updateTime": 0,
    "negativeBalance": "0.0",
}
BTC_LONG = {
    "symbol": "BTC/USDT:USDT", "side": "long", "contracts": 0.002, "contractSize": 1,
    "entryPrice": 50000, "markPrice": 49000, "leverage": 20, "marginMode": "cross",
    "unrealizedPnl": -2.0, "hedged": False,
}  # fmt: skip
INDEX = {"USDT": "1", "BTC": "49000"}


def test_binance_portfolio_margin_balance_and_a_position():
    papi_btc = {**PAPI_USDT, "asset": "BTC", "totalWalletBalance": "0.01",
                "crossMarginAsset": "0.01", "crossMarginBorrowed": "0.002",
                "crossMarginInterest": "0.00001", "umWalletBalance": "0"}  # fmt: skip
    balance = {
        "info": [PAPI_USDT, papi_btc],
        "USDT": {"total": "64.9923261"},  # ccxt adds the uPnL: 66.9923261 - 2
        "BTC": {"total": "0.01"},
    }
    acct, notes = unified_from_ccxt(balance, [BTC_LONG], INDEX, exchange="binance")
    assert notes == []
    # wallet = totalWalletBalance - borrowed - interest; the uPnL comes from the position
    assert acct.balances == {"USDT": D("66.9923261"), "BTC": D("0.01") - D("0.00201")}
    assert acct.positions() == [("BTCUSDT", "long", D("0.002"), D(50000))]
    r = acct.reading()
    usdt = next(a for a in r.assets if a.asset == "USDT")
    assert usdt.unrealized_pnl == D(-2)
    assert r.ratio_name == "uniMMR"


def test_bybit_uta_wallet_less_debt():
    balance = {"USDT": {"total": "1000", "debt": "0"}, "BTC": {"total": "0.5", "debt": "0.1"}}
    acct, _ = unified_from_ccxt(
        balance, [BTC_LONG], INDEX, exchange="bybit",
        collateral={"USDT": [("0", "", "1")], "BTC": [("0", "", "0.95")]},
    )  # fmt: skip
    assert acct.balances == {"USDT": D(1000), "BTC": D("0.4")}
    assert acct.rules.id == "bybit-uta"


def test_okx_cash_balances_from_the_raw_details():
    balance = {
        "info": {"data": [{"details": [{"ccy": "USDT", "cashBal": "-200", "eq": "-201"},
                                       {"ccy": "BTC", "cashBal": "0.1", "eq": "0.1"}]}]},
        "USDT": {"total": "-201"},
    }  # fmt: skip
    okx_long = {**BTC_LONG, "symbol": "BTC/USDT:USDT", "contracts": 0.2, "contractSize": 0.01}
    acct, _ = unified_from_ccxt(
        balance, [okx_long], INDEX, exchange="okx",
        collateral={"BTC": [("0", "", "0.95")], "USDT": [("0", "", "1")]},
    )  # fmt: skip
    assert acct.balances == {"USDT": D(-200), "BTC": D("0.1")}  # a USDT liability
    (pos,) = acct.positions()
    assert pos[2] == D("0.002")  # 0.2 contracts x 0.01 BTC


def test_without_raw_fields_the_totals_less_upnl_stand_in():
    balance = {"total": {"USDT": "98", "BTC": "0.01"}}
    acct, notes = unified_from_ccxt(balance, [BTC_LONG], INDEX, exchange="binance")
    assert acct.balances["USDT"] == D(100)  # 98 - (-2)
    assert "less each position's unrealizedPnl" in notes[0]


def test_refusals():
    with pytest.raises(InvalidInput, match="give rules= or an exchange"):
        unified_from_ccxt({}, [], INDEX, exchange="kraken")
    with pytest.raises(UnknownSymbol, match="is on none of"):
        unified_from_ccxt({"total": {}}, [{**BTC_LONG, "symbol": "NOPE/USDT:USDT"}], INDEX,
                          exchange="binance")  # fmt: skip


def test_the_portfolio_command_takes_ccxt_shapes(tmp_path):
    import json

    from typer.testing import CliRunner

    from perpmargin.cli import app

    path = tmp_path / "ccxt.json"
    path.write_text(json.dumps({
        "exchange": "binance", "balance": {"info": [PAPI_USDT], "USDT": {"total": "64.99"}},
        "positions": [BTC_LONG], "index_prices": INDEX,
    }))  # fmt: skip
    out = CliRunner().invoke(app, ["portfolio", str(path), "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["positions"][0]["symbol"] == "BTCUSDT"
    assert doc["ratio_name"] == "uniMMR"
