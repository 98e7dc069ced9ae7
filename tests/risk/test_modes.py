"""Isolated, cross and portfolio margin side by side (perpmargin.risk.modes) and the
``perpmargin portfolio`` command."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

import perpmargin as pm
from perpmargin.cli import _unified_account, app
from perpmargin.engine.unified import UnifiedAccount
from perpmargin.risk.modes import compare_modes

INDEX = {"USDT": "1", "BTC": "50000", "ETH": "3000"}


def account(balances):
    acct = UnifiedAccount("binance-pm", balances, INDEX)
    acct.restore("BTCUSDT", "long", "1", "50000", "50000")
    acct.restore("ETHUSDT", "short", "5", "3000", "3000")
    return acct


def test_each_mode_is_the_exact_calculator_or_the_unified_reading():
    acct = account({"BTC": 1, "USDT": 1000})
    result = compare_modes(acct, leverage=10)
    btc, eth = result.positions
    venue = pm.load_venue("binance-usdm")
    # isolated: the position alone with its initial margin at 10x
    assert btc.isolated_margin == D(5000)
    assert btc.isolated_liquidation == pm.liquidation_price(
        venue, "isolated", "long", D(50000), D(1), D(5000), mark_price=D(50000), symbol="BTCUSDT"
    )
    # cross: only the USDT wallet (1,000) backs both USDT-settled positions
    assert btc.cross_wallet == D(1000)
    assert btc.cross_liquidation == pm.liquidation_price(
        venue, "cross", "long", D(50000), D(1), D(1000), mark_price=D(50000), symbol="BTCUSDT",
        other_positions=[{"symbol": "ETHUSDT", "side": "short", "entry_price": D(3000),
                          "quantity": D(5), "mark_price": D(3000)}],
    )  # fmt: skip
    # portfolio: the BTC fall that liquidates the whole account, on the tick
    move = result.surface["BTC"][0]
    assert btc.portfolio_move == move
    assert btc.portfolio_liquidation == (D(50000) * (1 + move)).quantize(D("0.1"), "ROUND_FLOOR")
    assert eth.portfolio_move == result.surface["ETH"][1]
    # the BTC collateral carries the long far beyond the thin USDT wallet of cross
    assert btc.portfolio_liquidation < btc.isolated_liquidation < btc.cross_liquidation


def test_btc_collateral_liquidates_sooner_than_the_same_value_in_usdt():
    """Issue 24's two-collateral case: collateral and position fall together."""
    in_btc = compare_modes(account({"BTC": 1}))
    in_usdt = compare_modes(account({"USDT": 50000}))
    assert in_btc.positions[0].portfolio_liquidation > D(20000)
    assert in_usdt.positions[0].portfolio_move is None  # 50,000 USDT covers any BTC fall


def test_the_portfolio_command_on_the_bundled_example():
    runner = CliRunner()
    out = runner.invoke(app, ["portfolio", "unified-btc-collateral", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["ratio_name"] == "uniMMR"
    assert not doc["liquidated"]
    assert [p["symbol"] for p in doc["positions"]] == ["BTCUSDT", "ETHUSDT"]
    text = runner.invoke(app, ["portfolio", "unified-btc-collateral"], env={"COLUMNS": "200"})
    assert text.exit_code == 0
    assert "liquidation price by margin mode" in text.output
    assert "uniMMR 186.5381" in text.output


def test_the_deribit_example_reads_its_risk_units():
    """The bundled Deribit PM example (a BTC_USDC long, a SOL_USDC short, the user's
    ranges +-16 % and +-20 %): maintenance = the loss of each risk unit at its worst
    bucket: 3 x 50,000 x 16 % + 100 x 200 x 20 % = 24,000 + 4,000."""
    out = CliRunner().invoke(app, ["portfolio", "unified-deribit-pm", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert D(doc["maintenance_usd"]) == D(28000)
    units = {u["base"]: u for u in doc["risk_units"]}
    assert (D(units["BTC"]["max_loss"]), D(units["BTC"]["worst_move"])) == (D(24000), D("-0.16"))
    assert (D(units["SOL"]["max_loss"]), D(units["SOL"]["worst_move"])) == (D(4000), D("0.2"))
    assert doc["ratio_name"] == "maintenance margin / margin balance"
    assert not doc["liquidated"]
    text = CliRunner().invoke(app, ["portfolio", "unified-deribit-pm"], env={"COLUMNS": "200"})
    assert "risk units" in text.output
    assert "24,000.00" in text.output
    assert "-16.00 %" in text.output


def test_the_portfolio_command_refuses_a_bad_account(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rules": "bybit-uta", "balances": {"BTC": "1"},
                               "index_prices": {"BTC": "50000"}}))  # fmt: skip
    out = CliRunner().invoke(app, ["portfolio", str(bad)])
    assert out.exit_code == 2
    assert "no collateral rate for BTC" in out.output
    bad.write_text(json.dumps({"rules": "binance-pm", "balances": {}, "index_prices": {},
                               "extra": 1}))  # fmt: skip
    out = CliRunner().invoke(app, ["portfolio", str(bad)])
    assert out.exit_code == 2
    assert "unknown field" in out.output


def test_the_pre_trade_check_adds_portfolio_margin():
    acct = account({"BTC": 1, "USDT": 1000})
    before = acct.reading()
    c = pm.check_trade(symbol="BTCUSDT", side="long", entry=50000, stop=48000, leverage=20,
                       balance=10000, venue="binance-usdm", portfolio=acct)  # fmt: skip
    (v,) = c.venues
    assert [m.margin_mode for m in v.modes] == ["isolated", "cross", "portfolio"]
    port = v.modes[2]
    # the trade opened in a copy of the account; the nearest BTC fall liquidating it all
    twin = acct.copy()
    twin.open("BTCUSDT", "long", v.quantity, "50000")
    move = twin.liquidation_moves()["BTC"][0]
    assert port.liquidation_price == (D(50000) * (1 + move)).quantize(D("0.1"), "ROUND_FLOOR")
    assert port.stop_to_liquidation == D(48000) - port.liquidation_price
    assert port.worst_case_loss == before.adjusted_equity
    assert "BTC held as collateral falls with it" in port.checklist[0].reason
    assert acct.reading() == before  # the account itself is untouched


def test_the_pre_trade_check_portfolio_refusals():
    acct = account({"BTC": 1})
    with pytest.raises(pm.InvalidInput, match="needs portfolio="):
        pm.check_trade(symbol="BTCUSDT", side="long", entry=50000, stop=48000, leverage=20,
                       balance=10000, venue="binance-usdm",
                       margin_modes=("isolated", "portfolio"))  # fmt: skip
    c = pm.check_trade(symbol="BTCUSDT", side="long", entry=50000, stop=48000, leverage=20,
                       balance=10000, venue="bybit-linear", portfolio=acct)  # fmt: skip
    port = c.venues[0].modes[-1]
    assert port.status == "FAIL"
    assert any("portfolio:" in i.reason for i in port.checklist)


def test_the_check_command_takes_a_unified_account():
    out = CliRunner().invoke(app, [
        "check", "--symbol", "BTCUSDT", "--side", "long", "--entry", "50000", "--stop", "48000",
        "--leverage", "20", "--balance", "10000", "--portfolio", "unified-btc-collateral",
        "--json",
    ])  # fmt: skip
    assert out.exit_code == 0, out.output
    modes = json.loads(out.output)["venues"][0]["modes"]
    assert modes[-1]["margin_mode"] == "portfolio"
    assert modes[-1]["liquidation_price"] is not None


def test_the_portfolio_command_stresses_and_simulates_the_account():
    """``--stress`` and ``--sigma`` give the fast grid's and Monte Carlo's readings of the
    account (the same numbers as the library's), in the terminal and in JSON; a bad
    sigma is a clear error."""
    from perpmargin.sim.unified_grid import unified_montecarlo, unified_stress_grid

    runner = CliRunner()
    args = ["portfolio", "unified-btc-collateral", "--stress", "--sigma", "BTC=0.004",
            "--paths", "500", "--steps", "300"]  # fmt: skip
    doc = json.loads(runner.invoke(app, [*args, "--json"]).output)
    account = _unified_account("unified-btc-collateral")
    grid = unified_stress_grid(account)
    assert doc["stress"]["liquidated"] == grid.liquidated.tolist()
    assert doc["stress"]["summary"]["liquidated_cells"] == int(grid.liquidated.sum()) > 0
    mc = unified_montecarlo(account, sigma=[0.004], assets=["BTC"], paths=500, steps=300)
    assert doc["odds"]["p_liquidation"] == mc.p_liquidation
    text = runner.invoke(app, args, env={"COLUMNS": "200"}).output
    assert f"liquidated in {int(grid.liquidated.sum()):,} of 625 cells" in text
    assert "P(liquidated)" in text
    bad = runner.invoke(app, ["portfolio", "unified-btc-collateral", "--sigma", "BTC=x"])
    assert bad.exit_code == 2
    assert "--sigma ASSET=SIGMA takes a number" in bad.output
