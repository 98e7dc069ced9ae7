"""The JSON API: same numbers as the library, typed 4xx for every bad input, limits."""

from __future__ import annotations

import time
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

import perpmargin as pm
from perpmargin.report.jsonout import plan_result_dict
from perpmargin.sim.data import load_bars
from perpmargin.sim.montecarlo import montecarlo
from perpmargin.sim.plan import load_plans, plan_from_dict
from perpmargin.sim.replay import replay

from .conftest import TEST_LIMITS

BTC_DAY = "binance-btcusdt-perp-15m-2020-03-12.csv"


def test_openapi_lists_the_cli_commands(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/liq", "/api/v1/check", "/api/v1/replay", "/api/v1/montecarlo"):
        assert "post" in paths[path]
    assert "get" in paths["/api/v1/venues"]
    assert "get" in paths["/api/v1/jobs/{job_id}"]


def test_venues_with_source_and_date(client: TestClient) -> None:
    names = [v["id"] for v in client.get("/api/v1/venues").json()]
    assert names == pm.bundled_venues()
    btc = client.get("/api/v1/venues/binance-usdm").json()["symbols"]["BTCUSDT"]
    assert btc["tiers_source"]
    assert btc["tiers_as_of"]
    venue = pm.load_venue("binance-usdm")
    assert [Decimal(t["maintenance_margin_rate"]) for t in btc["tiers"]] == [
        t.maintenance_margin_rate for t in venue.symbol("BTCUSDT").tiers.tiers
    ]
    assert client.get("/api/v1/venues/nowhere").status_code == 404


def test_liq_isolated_is_binances_closed_form(client: TestClient) -> None:
    """Binance isolated long: LP = (WB + cum - Q*EP) / (Q*MMR - Q), rounded to the tick."""
    body = {
        "venue": "binance-usdm",
        "symbol": "BTCUSDT",
        "side": "long",
        "entry": "50000",
        "qty": "0.1",
        "leverage": "10",
        "mode": "both",
        "collateral": "10000",
    }
    rows = client.post("/api/v1/liq", json=body).json()
    spec = pm.load_venue("binance-usdm").symbol("BTCUSDT")
    tier = spec.tiers.tiers[0]  # 5,000 notional is in the first tier
    q, ep, wb = Decimal("0.1"), Decimal(50000), Decimal(500)  # margin = notional / 10x
    exact = (wb + tier.maintenance_amount - q * ep) / (q * tier.maintenance_margin_rate - q)
    iso, cross = rows
    assert iso["margin_mode"] == "isolated"
    assert iso["liquidation_price"] == str(
        (exact / spec.tick_size).to_integral_value(ROUND_DOWN) * spec.tick_size
    )
    assert isinstance(iso["bankruptcy_price"], str)  # Decimal values as strings
    assert Decimal(iso["bankruptcy_price"]) == Decimal(45000)
    # cross: 10,000 behind a 5,000 position: no positive price liquidates it
    assert cross == {
        "venue": "binance-usdm",
        "symbol": "BTCUSDT",
        "margin_mode": "cross",
        "liquidation_price": None,
        "bankruptcy_price": None,
    }


def test_check_with_other_cross_positions(client: TestClient) -> None:
    trade = {
        "symbol": "BTCUSDT",
        "side": "long",
        "entry": "50000",
        "stop": "48000",
        "leverage": "20",
        "balance": "3000",
        "risk": "900",
    }
    alone = client.post("/api/v1/check", json=trade).json()
    other = {
        "symbol": "ETHUSDT",
        "side": "short",
        "quantity": "4",
        "entry_price": "3000",
        "mark_price": "3150",
    }
    held = client.post("/api/v1/check", json={**trade, "other_positions": [other]}).json()

    def cross_liq(doc: dict[str, Any]) -> Decimal:
        modes = {m["margin_mode"]: m for m in doc["venues"][0]["modes"]}
        return Decimal(modes["cross"]["liquidation_price"])

    # the losing ETH short draws on the same wallet: BTC's cross liquidation moves up
    assert cross_liq(held) > cross_liq(alone)
    account = pm.Account(pm.load_venue("binance-usdm"), "3000")
    account.restore_position(
        "ETHUSDT", "short", "4", "3000", margin_mode="cross", leverage="10", mark_price="3150"
    )
    direct = pm.check_trade(account=account, venue="binance-usdm", **trade | {"balance": None})
    assert held == direct.to_dict()


def test_replay_equals_the_library(client: TestClient) -> None:
    answer = client.post("/api/v1/replay", json={"scenario": "funding-2021-05-19", "variant": 1})
    assert answer.status_code == 200
    plan = load_plans("funding-2021-05-19")[1]
    assert answer.json() == plan_result_dict(replay(plan, progress=False))


def test_replay_saved_with_a_report(client: TestClient) -> None:
    doc = client.post("/api/v1/replay", json={"scenario": "seed-2020-03-12", "save": True}).json()
    report = client.get(doc["report_url"])
    assert report.status_code == 200
    assert "attachment" in report.headers["content-disposition"]
    assert "Plotly" in report.text
    assert doc["name"] in report.text
    saved = client.get(f"/api/v1/saved/{doc['saved_id']}").json()
    assert saved["kind"] == "compare"
    assert saved["inputs"]["scenario"] == "seed-2020-03-12"
    assert saved["results"][0]["summary"]["modes"].keys() == doc["modes"].keys()


def test_custom_plan_on_uploaded_bars(client: TestClient) -> None:
    """Sent bars replay exactly as the same bars from the library (the bundled day's
    funding is attached only when the day itself is picked)."""
    plan = {"symbol": "BTCUSDT", "data": BTC_DAY, "leverage": "20", "margin": "500"}
    text = load_bars(BTC_DAY).frame.to_csv(index=False)
    sent = client.post("/api/v1/replay", json={"plan": plan, "bars_csv": text}).json()
    bundled = client.post("/api/v1/replay", json={"plan": plan}).json()
    assert sent["data"] == {"bars:BTCUSDT": "bars_csv"}
    assert "funding:BTCUSDT" in bundled["data"]
    same = plan_from_dict(
        {
            "name": sent["name"],
            "venue": "binance-usdm",
            "balance": 10000,
            "bars": {"BTCUSDT": BTC_DAY},
            "positions": [
                {"symbol": "BTCUSDT", "side": "long", "leverage": 20, "size": {"margin": 500}}
            ],
        }
    )
    expected = plan_result_dict(replay(same, progress=False))
    assert sent["modes"] == expected["modes"]
    assert sent["modes"]["isolated"]["liquidations"]  # 20x long on 2020-03-12 goes


def test_montecarlo_at_once_and_as_a_job_agree(client: TestClient) -> None:
    body = {"scenario": "seed-2020-03-12", "paths": 1500, "seed": 7, "steps": 500}
    now = client.post("/api/v1/montecarlo", json=body).json()
    plan = load_plans("seed-2020-03-12")[0]
    direct = montecarlo(plan, paths=1500, steps=500, seed=7)
    for mode in ("isolated", "cross"):
        assert now["modes"][mode]["liquidation_probability"] == pytest.approx(
            direct.stats[mode].liquidation_probability, abs=0
        )
    started = client.post("/api/v1/montecarlo/jobs", json={**body, "save": True})
    assert started.status_code == 202
    job_url = started.headers["location"]
    deadline = time.monotonic() + 60
    status = started.json()
    while status["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
        status = client.get(job_url).json()
    assert status["state"] == "done", status
    assert status["done_paths"] == status["total_paths"] == 1500
    assert status["result"]["modes"] == now["modes"]  # same seed, same numbers
    saved = client.get(f"/api/v1/saved/{status['saved_id']}").json()
    assert saved["kind"] == "odds"
    assert saved["results"][0]["summary"]["modes"] == now["modes"]


HEAD = "timestamp,open,high,low,close\n"
T1, T2, T4 = 1_700_000_040_000, 1_700_000_100_000, 1_700_000_220_000  # minutes 0, 1, 3

BAD: list[tuple[str, dict[str, Any], str]] = [
    ("/api/v1/liq", {"venue": "binance-usdm", "side": "long", "entry": "NaN", "qty": "1"}, "entry"),
    ("/api/v1/liq", {"venue": "binance-usdm", "side": "long", "entry": "inf", "qty": "1"}, "entry"),
    ("/api/v1/liq", {"venue": "binance-usdm", "side": "long", "entry": "-5", "qty": "1"}, "entry"),
    ("/api/v1/liq", {"venue": "binance-usdm", "side": "long", "entry": "5", "qty": "0"}, "qty"),
    ("/api/v1/liq", {"venue": "binance-usdm", "side": "long", "entry": "5", "qty": "1e13"}, "qty"),
    ("/api/v1/liq", {"venue": "binance-usdm", "side": "up", "entry": "5", "qty": "1"}, "side"),
    ("/api/v1/liq", {"venue": "mtgox", "side": "long", "entry": "5", "qty": "1"}, "mtgox"),
    ("/api/v1/liq", {"venue": "/etc/passwd", "side": "long", "entry": "5", "qty": "1"}, "passwd"),
    (
        "/api/v1/liq",
        {"venue": "binance-usdm", "symbol": "NOSUCHUSDT", "side": "long", "entry": "5", "qty": "1"},
        "NOSUCHUSDT",
    ),
    (
        "/api/v1/liq",
        {"venue": "binance-usdm", "side": "long", "entry": "5", "qty": "1", "surprise": 1},
        "surprise",
    ),
    (
        "/api/v1/liq",
        {
            "venue": "binance-usdm",
            "symbol": "BTCUSDT",
            "side": "long",
            "entry": 50000,
            "qty": 1,
            "leverage": 200,
        },
        "200",
    ),
    (
        "/api/v1/check",
        {
            "symbol": "BTCUSDT",
            "side": "long",
            "entry": 50000,
            "stop": 48000,
            "leverage": 10,
            "balance": 1000,
            "risk": "lots",
        },
        "risk",
    ),
    (
        "/api/v1/check",
        {
            "symbol": "BTCUSDT",
            "side": "long",
            "entry": 50000,
            "stop": 48000,
            "leverage": 10,
            "balance": 1000,
            "venues": ["../x"],
        },
        "../x",
    ),
    ("/api/v1/replay", {"scenario": "../../etc/passwd"}, "no bundled scenario"),
    ("/api/v1/replay", {"scenario": "seed-2020-03-12", "variant": 9}, "variants 0 to"),
    ("/api/v1/replay", {}, "exactly one"),
    ("/api/v1/replay", {"plan": {"data": "/etc/passwd"}}, "no bundled market file"),
    ("/api/v1/replay", {"plan": {"symbol": "ETHUSDT", "data": BTC_DAY}}, "not ETH/USDT data"),
    (
        "/api/v1/replay",
        {
            "scenario": "seed-2020-03-12",
            "bars_csv": f"{HEAD}{T1},1,1,1,1\n{T2},1,1,1,1\n",
        },
        "custom plan",
    ),
    (
        "/api/v1/replay",
        {
            "plan": {},
            "bars_csv": f"{HEAD}{T1},1,1,1,1\n{T2},1,1,1,1\n{T4},1,1,1,1\n",
        },
        "gap",
    ),
    (
        "/api/v1/replay",
        {"plan": {}, "bars_csv": f"{HEAD}{T1},1,1,1,1\n{T1},1,1,1,1\n"},
        "duplicate",
    ),
    (
        "/api/v1/replay",
        {"plan": {}, "bars_csv": f"{HEAD}{T2},1,1,1,1\n{T1},1,1,1,1\n"},
        "sorted",
    ),
    (
        "/api/v1/replay",
        {"plan": {}, "bars_csv": f"{HEAD}{T1},1,1,1,NaN\n{T2},1,1,1,1\n"},
        "close",
    ),
    ("/api/v1/montecarlo", {"scenario": "seed-2020-03-12", "paths": 100_000}, "allows"),
    ("/api/v1/montecarlo", {"scenario": "seed-2020-03-12", "paths": 0}, "paths"),
    ("/api/v1/montecarlo/jobs", {"scenario": "seed-2020-03-12", "paths": 10_000}, "allows"),
    ("/api/v1/saved", {"kind": "calculator", "name": "x", "inputs": {"entry": "NaN"}}, "inputs"),
]


@pytest.mark.parametrize(("path", "body", "says"), BAD)
def test_bad_input_is_a_422_naming_it(
    client: TestClient, path: str, body: dict[str, Any], says: str
) -> None:
    before = client.get("/api/v1/saved").json()
    answer = client.post(path, json=body)
    assert answer.status_code == 422, answer.text
    doc = answer.json()
    assert set(doc) == {"error", "detail"}
    assert says in str(doc["detail"])
    assert client.get("/api/v1/saved").json() == before  # nothing kept


def test_json_nan_literal_is_refused_not_a_500(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/liq",
        content=b'{"venue": "binance-usdm", "side": "long", "entry": NaN, "qty": 1}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "entry"]


def test_oversized_bodies_and_uploads(client: TestClient) -> None:
    big = {"plan": {}, "bars_csv": "x" * (TEST_LIMITS.max_body_bytes + 10)}
    answer = client.post("/api/v1/replay", json=big)
    assert answer.status_code == 413
    assert answer.json()["error"] == "RequestTooLarge"
    rows = "timestamp,open,high,low,close\n" + "".join(
        f"{i * 60000},1,1,1,1\n" for i in range(TEST_LIMITS.max_upload_rows + 1)
    )
    answer = client.post("/api/v1/replay", json={"plan": {}, "bars_csv": rows})
    assert answer.status_code == 422
    assert "2,001 rows, more than the 2,000 allowed" in answer.json()["detail"]


def test_saved_scenarios_round_trip(client: TestClient) -> None:
    inputs = {
        "symbol": "BTCUSDT",
        "side": "short",
        "entry": "50000",
        "stop": "51000",
        "leverage": "5",
        "balance": "2000",
    }
    made = client.post("/api/v1/saved", json={"kind": "calculator", "name": "s", "inputs": inputs})
    assert made.status_code == 201
    sid = made.json()["id"]
    got = client.get(f"/api/v1/saved/{sid}").json()
    assert got["inputs"]["entry"] == "50000"
    assert got["inputs"]["venues"] == ["binance-usdm"]
    assert sid in [s["id"] for s in client.get("/api/v1/saved?kind=calculator").json()]
    assert client.delete(f"/api/v1/saved/{sid}").status_code == 204
    assert client.get(f"/api/v1/saved/{sid}").status_code == 404
    assert client.delete(f"/api/v1/saved/{sid}").status_code == 404
    assert client.get("/api/v1/jobs/nope").status_code == 404
    assert client.get("/api/v1/results/999999/report.html").status_code == 404


# ---------------------------------------------------------------- inverse (coin-margined)


def test_liq_of_a_real_coinm_position(client: TestClient) -> None:
    """Binance COIN-M positionRisk (quoted in ccxt 4.5.90's binance.py): BTCUSD_PERP long
    2 contracts @ 37,643.10000021, isolated wallet 0.00268058 BTC, liquidation
    25,119.97445760 -> 25,119.9 on the 0.1 tick (a long's price rounds down)."""
    body = {
        "venue": "binance-coinm",
        "symbol": "BTCUSD_PERP",
        "side": "long",
        "entry": "37643.10000021",
        "qty": "2",
        "leverage": "2",
        "collateral": "0.00268058",
    }
    (row,) = client.post("/api/v1/liq", json=body).json()
    assert row["liquidation_price"] == "25119.9"
    bad = client.post("/api/v1/liq", json={**body, "symbol": "BTCUSD"})
    assert bad.status_code == 422  # Bybit's name, not Binance's
    assert "BTCUSD" in bad.text


def test_check_sizes_an_inverse_trade_in_contracts(client: TestClient) -> None:
    trade = {
        "symbol": "BTCUSD_PERP",
        "side": "short",
        "entry": "60000",
        "stop": "62000",
        "leverage": "10",
        "balance": "1",
        "risk": "1%",
        "venues": ["binance-coinm"],
    }
    doc = client.post("/api/v1/check", json=trade).json()
    direct = pm.check_trade(**{**trade, "venues": ["binance-coinm"]})
    assert doc == direct.to_dict()
    (venue,) = doc["venues"]
    qty = Decimal(venue["quantity"])
    assert qty == qty.to_integral_value()  # whole 100 USD contracts
    # 0.01 BTC of risk over a 60,000 -> 62,000 stop: 100 x q x (1/60,000 - 1/62,000) <= 0.01
    assert 100 * qty * (Decimal(1) / 60000 - Decimal(1) / 62000) <= Decimal("0.01")


def test_custom_inverse_plan_replays_and_simulates(client: TestClient) -> None:
    plan = {
        "venue": "binance-coinm",
        "symbol": "BTCUSD_PERP",
        "data": BTC_DAY,
        "leverage": "5",
        "margin": "0.3",
        "balance": "1",
    }
    sent = client.post("/api/v1/replay", json={"plan": plan}).json()
    assert "stand in for BTCUSD_PERP" in sent["description"]
    iso, cross = sent["modes"]["isolated"], sent["modes"]["cross"]
    assert iso["liquidations"]
    assert cross["liquidations"]
    assert Decimal(cross["final_equity"]) == 0  # the coin that fell was the collateral
    assert Decimal(iso["final_equity"]) > Decimal("0.69")
    odds = client.post("/api/v1/montecarlo", json={"plan": plan, "paths": 500, "steps": 50})
    assert odds.status_code == 200
    modes = odds.json()["modes"]
    assert 0 <= modes["cross"]["liquidation_probability"] <= 1
    wrong = client.post(
        "/api/v1/replay", json={"plan": {**plan, "data": "binance-ethusdt-perp-15m-2020-03-12.csv"}}
    )
    assert wrong.status_code == 422


def test_montecarlo_answer_says_what_it_did_not_simulate(client: TestClient) -> None:
    """The answer carries the Monte Carlo's notes: a plan with the venue's partial
    liquidation and funding is run, and says that those were not simulated."""
    body = {"scenario": "partial-2025-10-10", "paths": 200, "seed": 1, "steps": 60}
    doc = client.post("/api/v1/montecarlo", json=body).json()
    notes = " ".join(doc["notes"])
    assert "partial liquidation is not simulated" in notes
    plain = client.post("/api/v1/montecarlo", json={**body, "scenario": "seed-2020-03-12"})
    assert "partial liquidation" not in " ".join(plain.json()["notes"])


def test_montecarlo_honours_the_plans_stop(client: TestClient) -> None:
    """Issue 22: an ETH long 15x, $500 margin, stop 1300 on 2022-11-08 gave the same
    odds with and without the stop. Now the stop bounds the cross loss (the loss at the
    stop plus the fees) and the answer says how often it closed the position."""
    plan = {
        "venue": "binance-usdm",
        "symbol": "ETHUSDT",
        "data": "binance-ethusdt-perp-15m-2022-11-08.csv",
        "leverage": "15",
        "margin": "500",
        "balance": "10000",
    }
    body = {"paths": 3000, "seed": 3}
    held = client.post("/api/v1/montecarlo", json={**body, "plan": plan}).json()
    stopped = client.post("/api/v1/montecarlo", json={**body, "plan": {**plan, "stop": "1300"}})
    assert stopped.status_code == 200
    doc = stopped.json()
    cross, cross_held = doc["modes"]["cross"], held["modes"]["cross"]
    assert cross["exit_probability"] > 0
    assert cross_held["exit_probability"] == 0
    # 5.104 ETH from 1,469.49 to 1,300: 865 lost, and the two taker fees
    qty = 5.104
    bound = qty * (1469.49 - 1300) + qty * (1469.49 + 1300) * 0.0005
    assert cross["loss_es99"] <= bound + 1e-6
    assert cross_held["loss_es99"] > bound
    assert any("stops and take-profits close at their own price" in n for n in doc["notes"])
    wrong_side = client.post("/api/v1/montecarlo", json={**body, "plan": {**plan, "stop": "1600"}})
    assert wrong_side.status_code == 422
    assert "not beyond the entry" in wrong_side.json()["detail"]


def test_a_key_given_twice_is_refused(client: TestClient) -> None:
    """Issue 22: {"entry": "NaN", "entry": "50000"} passed as 50000 (the last one wins in
    Python's JSON reader); the first value was never checked."""
    body = (
        '{"venue": "binance-usdm", "side": "long", "entry": "NaN", "entry": "50000", '
        '"qty": "1", "leverage": "10", "mmr": "0.004"}'
    )
    r = client.post("/api/v1/liq", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert "'entry' is given twice" in r.json()["detail"]
    nested = '{"scenario": "seed-2020-03-12", "plan": {"side": "long", "side": "short"}}'
    r = client.post("/api/v1/replay", content=nested, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert "'side' is given twice" in r.json()["detail"]
    once = body.replace('"entry": "NaN", ', "")
    ok = client.post("/api/v1/liq", content=once, headers={"content-type": "application/json"})
    assert ok.status_code == 200


@pytest.mark.parametrize("field", ["paths", "steps", "seed", "variant"])
def test_true_is_not_a_count(client: TestClient, field: str) -> None:
    """Issue 22: "paths": true ran one path."""
    body = {"scenario": "seed-2020-03-12", "paths": 100, "steps": 10, field: True}
    r = client.post("/api/v1/montecarlo", json=body)
    assert r.status_code == 422
    assert field in str(r.json()["detail"])
