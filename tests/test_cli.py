import json

from typer.testing import CliRunner

import perpmargin as pm
from perpmargin.cli import app

runner = CliRunner()


def test_venues_lists_every_bundled_venue():
    result = runner.invoke(app, ["venues", "--json"])
    assert result.exit_code == 0
    ids = [v["id"] for v in json.loads(result.stdout)]
    assert "binance-usdm" in ids
    assert "hyperliquid" in ids


def test_venue_tiers_with_source_as_strings():
    result = runner.invoke(app, ["venues", "binance-usdm", "--symbol", "BTCUSDT", "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    tiers = doc["symbols"]["BTCUSDT"]["tiers"]
    assert tiers[1]["maintenance_amount"] == "50"
    assert doc["symbols"]["BTCUSDT"]["tiers_as_of"] == "2024-10-24"


def test_unknown_symbol_exits_non_zero():
    result = runner.invoke(app, ["venues", "binance-usdm", "--symbol", "NOPE"])
    assert result.exit_code == 2
    assert "NOPE" in result.output


def test_liq_json_both_modes():
    result = runner.invoke(
        app,
        [
            "liq",
            "--venue",
            "binance-usdm",
            "--symbol",
            "BTCUSDT",
            "--side",
            "long",
            "--entry",
            "50000",
            "--qty",
            "0.1",
            "--leverage",
            "10",
            "--collateral",
            "10000",
            "--mode",
            "both",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["margin_mode"] for r in rows] == ["isolated", "cross"]
    assert rows[0]["liquidation_price"] == "45180.70"  # margin 5,000 / 10
    assert rows[0]["bankruptcy_price"] == "45000.00"
    assert rows[1]["liquidation_price"] is None


def test_liq_cross_with_another_position():
    result = runner.invoke(
        app,
        [
            "liq",
            "--venue",
            "binance-usdm",
            "--symbol",
            "ETHUSDT",
            "--side",
            "short",
            "--entry",
            "3000",
            "--qty",
            "20",
            "--collateral",
            "9967.5",
            "--mode",
            "cross",
            "--other",
            "BTCUSDT:long:0.1@50000:30000",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["liquidation_price"] == "3383.36"


def test_liq_bad_input_exits_2():
    result = runner.invoke(
        app,
        [
            "liq",
            "--venue",
            "binance-usdm",
            "--symbol",
            "BTCUSDT",
            "--side",
            "long",
            "--entry",
            "-5",
            "--qty",
            "0.1",
            "--collateral",
            "100",
        ],
    )
    assert result.exit_code == 2
    assert "entry_price" in result.output


def test_check_json_and_exit_code():
    ok = runner.invoke(
        app,
        [
            "check",
            "--symbol",
            "BTCUSDT",
            "--side",
            "long",
            "--entry",
            "50000",
            "--stop",
            "48000",
            "--leverage",
            "5",
            "--balance",
            "10000",
            "--json",
        ],
    )
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.stdout)
    assert doc["venues"][0]["quantity"] == "0.048"
    failing = runner.invoke(
        app,
        [
            "check",
            "--symbol",
            "BTCUSDT",
            "--side",
            "long",
            "--entry",
            "50000",
            "--stop",
            "48000",
            "--leverage",
            "50",
            "--balance",
            "10000",
        ],
    )
    assert failing.exit_code == 1
    assert "FAIL" in failing.output
    assert "comes before the stop" in failing.output


def test_check_all_venues_table():
    result = runner.invoke(
        app,
        [
            "check",
            "--symbol",
            "BTC/USDT:USDT",
            "--side",
            "short",
            "--entry",
            "50000",
            "--stop",
            "51000",
            "--leverage",
            "10",
            "--balance",
            "5000",
            "--venue",
            "all",
        ],
    )
    assert result.exit_code in (0, 1)
    for venue in pm.bundled_venues():
        assert venue in result.output
    assert "First to liquidate" in result.output


def test_check_bad_input_exits_2():
    result = runner.invoke(
        app,
        [
            "check",
            "--symbol",
            "BTCUSDT",
            "--side",
            "long",
            "--entry",
            "50000",
            "--stop",
            "48000",
            "--leverage",
            "5",
            "--balance",
            "10000",
            "--risk",
            "200%",
        ],
    )
    assert result.exit_code == 2
