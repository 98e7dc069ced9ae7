import json
from pathlib import Path

import pytest
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


def test_replay_json_for_a_bundled_scenario():
    result = runner.invoke(app, ["replay", "seed-2020-03-12", "--json"])
    assert result.exit_code == 0, result.output
    docs = json.loads(result.stdout)
    assert docs[0]["name"].startswith("Seed")
    iso = docs[0]["modes"]["isolated"]
    assert len(iso["liquidations"]) == 1
    assert docs[0]["modes"]["cross"]["liquidations"] == []


def _write_plan(tmp_path, symbol_line='BTCUSDT = "binance-btcusdt-perp-15m-2020-03-12.csv"'):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        f"""
name = "mine"
venue = "binance-usdm"
balance = 10000
[bars]
{symbol_line}
[[positions]]
symbol = "BTCUSDT"
side = "long"
leverage = 5
size = {{ notional = 5000 }}
"""
    )
    return plan


def test_replay_own_plan_with_data_override_writes_report(tmp_path):
    plan = _write_plan(tmp_path)
    bars = pm.sim.data.bundled_market_files()  # a user's own copy of a bundled file
    src = tmp_path / "my-btcusdt-bars.csv"
    from importlib import resources

    name = "binance-btcusdt-perp-15m-2021-05-19.csv"
    assert name in bars
    src.write_bytes((resources.files("perpmargin.data") / "market" / name).read_bytes())
    out = tmp_path / "out"
    result = runner.invoke(app, ["replay", str(plan), "--data", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file()
    assert "mine" in result.stdout
    doc = json.loads(
        runner.invoke(app, ["replay", str(plan), "--data", f"BTCUSDT={src}", "--json"]).stdout
    )
    assert doc[0]["data"]["bars:BTCUSDT"] == str(src)
    assert doc[0]["first_bar"] == 1621382400000


def test_replay_bad_input_exits_2(tmp_path):
    plan = _write_plan(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close\n1,1,1,1,1\n1,1,1,1,1\n")
    for args in (
        ["replay", "no-such-scenario"],
        ["replay", str(plan), "--data", f"BTCUSDT={bad}"],
        ["replay", str(plan), "--data", f"DOGEUSDT={bad}"],
        ["replay", str(_write_plan(tmp_path, 'BTCUSDT = "missing.csv"'))],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert "error" in result.output


def test_montecarlo_json_and_report(tmp_path):
    result = runner.invoke(
        app,
        ["montecarlo", "seed-2020-03-12", "--paths", "2000", "--json", "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    iso, cross = doc["modes"]["isolated"], doc["modes"]["cross"]
    assert iso["liquidation_probability"] > cross["liquidation_probability"]
    assert doc["paths"] == 2000
    assert doc["steps"] == 1440
    assert (tmp_path / "montecarlo.html").stat().st_size > 100_000
    bad = runner.invoke(app, ["montecarlo", "seed-2020-03-12", "--model", "levy"])
    assert bad.exit_code == 2
    ref = runner.invoke(
        app,
        ["montecarlo", "seed-2020-03-12", "--paths", "2000", "--json", "--backend", "numpy"],
    )
    assert ref.exit_code == 0, ref.output
    for mode, stats in json.loads(ref.stdout)["modes"].items():  # the same paths
        assert stats["liquidation_probability"] == doc["modes"][mode]["liquidation_probability"]
        assert stats["mean_final_equity"] == pytest.approx(
            doc["modes"][mode]["mean_final_equity"], rel=1e-12
        )
    bad = runner.invoke(app, ["montecarlo", "seed-2020-03-12", "--backend", "fpga"])
    assert bad.exit_code == 2


BUNDLE = str(Path(__file__).parent / "interop" / "fixtures" / "binance-bundle.json")


def test_import_json_exports_ccxt_positions_and_reconciliation(tmp_path):
    out = tmp_path / "export.json"
    result = runner.invoke(app, ["import", BUNDLE, "--json", "--export", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["venue"] == "binance-usdm"
    assert doc["wallet_balance"] == "10000.00000000"
    liq = {p["symbol"]: p["liquidationPrice"] for p in doc["positions"]}
    assert liq == {"BTC/USDT:USDT": 54216.8, "ETH/USDT:USDT": 3685.26}
    assert {r["status"] for r in doc["reconcile"]} == {"match"}
    assert json.loads(out.read_text())["positions"] == doc["positions"]
    table = runner.invoke(app, ["import", BUNDLE])
    assert table.exit_code == 0
    assert "54,216.80" in table.stdout
    assert "match" in table.stdout


def test_import_bad_input_exits_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"symbol": "BTC/USDT:USDT", "contracts": 1}]))
    result = runner.invoke(app, ["import", str(bad), "--venue", "binance-usdm"])
    assert result.exit_code == 2
    assert "positions[0].side" in result.output
    assert runner.invoke(app, ["import"]).exit_code == 2  # neither a file nor --live


def test_stress_json_and_report(tmp_path):
    result = runner.invoke(
        app,
        ["stress", "binance-cross-pair", "--range", "-40:40:20", "--day", "2024-08-05",
         "--out", str(tmp_path), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["grid"]["assets"] == ["BTCUSDT", "ETHUSDT"]
    assert doc["grid"]["shocks_x"] == [-0.4, -0.2, 0.0, 0.2, 0.4]
    assert set(doc["grid"]["summary"]) == {"current", "all isolated", "all cross"}
    assert doc["days"][0]["day"] == "2024-08-05"
    assert (tmp_path / "stress.html").stat().st_size > 0
    assert (tmp_path / "stress.png").read_bytes()[:4] == b"\x89PNG"


def test_stress_bad_input_exits_2(tmp_path):
    for args in (
        ["stress", "no-such-portfolio"],
        ["stress", "binance-cross-pair", "--range", "60:-60:5"],
        ["stress", "binance-cross-pair", "--assets", "DOGE"],
        ["stress", "binance-cross-pair", "--day", "1999-01-01", "--out", str(tmp_path)],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args


def test_montecarlo_prints_what_it_does_not_simulate():
    result = runner.invoke(app, ["montecarlo", "partial-2025-10-10", "--paths", "200"])
    assert result.exit_code == 0, result.output
    assert "Note: the venue's partial liquidation is not simulated" in result.output
