import json

from typer.testing import CliRunner

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
