"""The mode advisor over HTTP and on its page (no browser): the library's numbers, the
job, the limits, every bad input a 4xx naming it, forms that keep what was entered."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from perpmargin.sim.advisor import advise
from perpmargin.sim.plan import load_plans
from perpmargin.web import create_app
from perpmargin.web.service import advice_dict, advise_settings_bound

from .conftest import TEST_LIMITS

PAIR = "pair-2022-11-08"
SMALL = {"scenario": PAIR, "paths": 400, "steps": 48, "seed": 3, "confirm_paths": 2}


def _wait(client: TestClient, url: str) -> dict[str, Any]:
    status: dict[str, Any] = client.get(url).json()
    deadline = time.monotonic() + 90
    while status["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
        status = client.get(url).json()
    return status


def _saved(client: TestClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/api/v1/saved").json()
    return items


# ------------------------------------------------------------------------------ API


def test_openapi_lists_the_advisor(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/api/v1/advise"]
    assert "post" in paths["/api/v1/advise/jobs"]


def test_advise_at_once_is_the_library(client: TestClient) -> None:
    answer = client.post("/api/v1/advise", json=SMALL)
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    plan = load_plans(PAIR)[0]
    direct = advise(plan, paths=400, steps=48, seed=3, confirm_paths=2)
    assert doc == advice_dict(direct, plan.name)  # same seed, same numbers, JSON-safe
    assert doc["name"] == plan.name
    assert doc["best"]["name"] == direct.best.name
    assert doc["ranked"][0] == doc["best"]
    assert len(doc["frontier"]) == direct.settings_count
    assert {c["against"] for c in doc["comparisons"]} == {
        "your setting",
        "all isolated",
        "all cross",
    }
    simulated = [c for c in doc["confirmations"] if c["agrees"] is not None]
    assert simulated  # two paths, each compared setting
    assert all(c["agrees"] is True for c in simulated)
    assert any(c["path"] == "the plan's own bars" for c in doc["confirmations"])
    assert doc["confirmed"] is True
    assert doc["settle"] == "USDT"
    json.dumps(doc, allow_nan=False)  # no NaN, no infinity


def test_the_growth_objective_keeps_json_finite(client: TestClient) -> None:
    """Settings outside the P(ruin) bound score infinity: the answer says null."""
    body = {**SMALL, "objective": "growth", "beta": 0, "confirm_paths": 0}
    doc = client.post("/api/v1/advise", json=body).json()
    assert doc["objective"] == "growth"
    json.dumps(doc, allow_nan=False)
    assert all(s["score"] is None or isinstance(s["score"], float) for s in doc["ranked"])


def test_advise_job_runs_and_is_saved(client: TestClient) -> None:
    before = len(_saved(client))
    started = client.post("/api/v1/advise/jobs", json={**SMALL, "save": True})
    assert started.status_code == 202, started.text
    url = started.headers["location"]
    assert url.startswith("/api/v1/jobs/")
    status = _wait(client, url)
    assert status["state"] == "done", status
    assert status["done_paths"] == status["total_paths"] == 400
    now = client.post("/api/v1/advise", json=SMALL).json()
    assert status["result"] == now  # the job and the answer at once agree
    saved = client.get(f"/api/v1/saved/{status['saved_id']}").json()
    assert saved["kind"] == "advise"
    assert saved["inputs"]["scenario"] == PAIR
    assert saved["results"][0]["summary"] == now
    assert len(_saved(client)) == before + 1
    listed = client.get("/api/v1/saved?kind=advise").json()
    assert listed[0]["id"] == status["saved_id"]


def test_advise_at_once_can_be_saved(client: TestClient) -> None:
    doc = client.post("/api/v1/advise", json={**SMALL, "confirm_paths": 0, "save": True}).json()
    saved = client.get(f"/api/v1/saved/{doc['saved_id']}").json()
    assert saved["kind"] == "advise"
    assert saved["inputs"]["confirm_paths"] == 0
    made = client.post("/api/v1/saved", json={"kind": "advise", "name": "by hand", "inputs": SMALL})
    assert made.status_code == 201
    bad = client.post(
        "/api/v1/saved", json={"kind": "advise", "name": "x", "inputs": {"grid": [0.5]}}
    )
    assert bad.status_code == 422
    assert "grid" in bad.json()["detail"]


ONE_POSITION_BOUND = 4 + 1  # a 4-level grid, or cross


def test_the_settings_bound_is_the_advisors_count() -> None:
    plan = load_plans(PAIR)[0]
    symbols = [p.symbol for p in plan.positions]
    grid = [1.0, 1.5, 2.0, 3.0]
    assert advise_settings_bound(symbols, grid, None) == ONE_POSITION_BOUND**2
    assert advise_settings_bound(symbols, [*grid, 2.0], None) == ONE_POSITION_BOUND**2
    assert advise_settings_bound(symbols, [2.0, 3.0], None) == 4**2  # 1 is always tried
    fixed = {"BTCUSDT": ["cross"]}
    assert advise_settings_bound(symbols, grid, fixed) == ONE_POSITION_BOUND
    for levels, allowed in ((grid, fixed), ([2.0, 3.0], None), (grid, None)):
        done = advise(plan, paths=200, steps=4, confirm_paths=0, grid=levels, allowed=allowed)
        bound = advise_settings_bound(symbols, levels, allowed)
        assert 0 < done.settings_count <= bound  # the budget may leave some out


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("/api/v1/advise", {**SMALL, "objective": "luck"}, "objective"),
    ("/api/v1/advise", {**SMALL, "grid": [0.5]}, "grid"),
    ("/api/v1/advise", {**SMALL, "grid": []}, "grid"),
    ("/api/v1/advise", {**SMALL, "grid": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]}, "grid"),
    ("/api/v1/advise", {**SMALL, "grid": [True]}, "grid"),
    ("/api/v1/advise", {**SMALL, "beta": 2}, "beta"),
    ("/api/v1/advise", {**SMALL, "beta": True}, "beta"),
    ("/api/v1/advise", {**SMALL, "ruin_fraction": -0.1}, "ruin_fraction"),
    ("/api/v1/advise", {**SMALL, "budget": -1}, "budget"),
    ("/api/v1/advise", {**SMALL, "paths": True}, "paths"),
    ("/api/v1/advise", {**SMALL, "paths": 100}, "paths"),
    ("/api/v1/advise", {**SMALL, "steps": True}, "steps"),
    ("/api/v1/advise", {**SMALL, "confirm_paths": 21}, "confirm_paths"),
    ("/api/v1/advise", {**SMALL, "model": "crystal ball"}, "model"),
    ("/api/v1/advise", {**SMALL, "allowed": {"DOGEUSDT": ["cross"]}}, "DOGEUSDT"),
    ("/api/v1/advise", {**SMALL, "allowed": {"BTCUSDT": ["both"]}}, "allowed"),
    ("/api/v1/advise", {**SMALL, "allowed": {"BTCUSDT": []}}, "allowed"),
    ("/api/v1/advise", {**SMALL, "current": ["cross"]}, "current"),
    ("/api/v1/advise", {**SMALL, "current": ["cross", "hedged"]}, "current"),
    ("/api/v1/advise", {**SMALL, "surprise": 1}, "surprise"),
    (
        "/api/v1/advise",
        {**SMALL, "budget": 1, "allowed": {"BTCUSDT": ["isolated"], "ETHUSDT": ["isolated"]}},
        "no setting fits",
    ),
    ("/api/v1/advise", {**SMALL, "scenario": "../../etc/passwd"}, "no bundled scenario"),
    ("/api/v1/advise", {**SMALL, "paths": 5_001}, "max_advise_paths"),
    ("/api/v1/advise", {**SMALL, "paths": 5_000, "steps": 100}, "max_advise_work"),
    ("/api/v1/advise", {**SMALL, "confirm_paths": 20, "steps": 300}, "max_advise_confirm_bars"),
    (
        "/api/v1/advise",
        {**SMALL, "grid": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "paths": 4_000},
        "max_advise_cells",
    ),
    ("/api/v1/advise/jobs", {**SMALL, "paths": 20_001}, "max_advise_job_paths"),
    ("/api/v1/advise/jobs", {**SMALL, "paths": 20_000, "steps": 100}, "max_advise_job_work"),
    ("/api/v1/advise/jobs", {**SMALL, "allowed": {"DOGEUSDT": ["cross"]}}, "DOGEUSDT"),
    ("/api/v1/advise/jobs", {**SMALL, "current": ["isolated"] * 3}, "current"),
]


@pytest.mark.parametrize(("path", "body", "says"), BAD)
def test_bad_advice_input_is_a_422_naming_it(
    client: TestClient, path: str, body: dict[str, Any], says: str
) -> None:
    before = _saved(client)
    answer = client.post(path, json={**body, "save": True})
    assert answer.status_code == 422, answer.text
    doc = answer.json()
    assert set(doc) == {"error", "detail"}
    assert says in str(doc["detail"])
    assert _saved(client) == before  # nothing kept, no job started


def test_advice_beyond_the_concurrent_limit_is_a_429(client: TestClient) -> None:
    gate = client.app.state.gate  # type: ignore[attr-defined]
    with contextlib.ExitStack() as busy:
        for _ in range(gate.n):
            busy.enter_context(gate.hold())
        answer = client.post("/api/v1/advise", json=SMALL)
    assert answer.status_code == 429
    assert answer.json()["error"] == "ServerBusy"
    assert answer.headers["retry-after"]


def test_advice_at_once_stops_at_the_time_limit(tmp_path: Path) -> None:
    limits = dataclasses.replace(TEST_LIMITS, request_timeout_s=0.0)
    with TestClient(create_app(tmp_path / "t.db", limits), base_url="http://localhost") as c:
        answer = c.post("/api/v1/advise", json={**SMALL, "save": True})
        assert answer.status_code == 422
        assert answer.json() == {
            "error": "JobTimeout",
            "detail": "stopped after 0 s (the server's limit)",
        }
        assert _saved(c) == []


def test_an_advice_job_over_the_time_limit_fails_with_the_limit(tmp_path: Path) -> None:
    limits = dataclasses.replace(TEST_LIMITS, job_timeout_s=0.0)
    with TestClient(create_app(tmp_path / "t.db", limits), base_url="http://localhost") as c:
        started = c.post("/api/v1/advise/jobs", json={**SMALL, "save": True})
        status = _wait(c, started.headers["location"])
        assert status["state"] == "failed"
        assert "stopped after 0 s" in status["error"]
        assert _saved(c) == []


# ---------------------------------------------------------------------------- pages


def test_the_advisor_page_renders_and_is_in_the_nav(client: TestClient) -> None:
    page = client.get("/advise")
    assert page.status_code == 200
    assert 'data-testid="advise-form"' in page.text
    for name in ("objective", "paths", "steps", "model", "seed", "beta", "ruin_fraction"):
        assert f'name="{name}"' in page.text
    assert 'name="grid" value="1, 1.5, 2, 3"' in page.text
    assert 'name="budget"' in page.text
    assert 'name="scenario"' in page.text  # the plan picker
    assert '<script src="/static/advise.js" defer>' in page.text
    assert client.get("/static/advise.js").status_code == 200
    assert 'href="/advise" class="here"' in page.text
    assert 'href="/advise"' in client.get("/calculator").text


def test_advisor_form_errors_keep_the_form(client: TestClient) -> None:
    before = _saved(client)
    sent = {
        "source": "scenario",
        "scenario": f"{PAIR}:1",
        "objective": "cvar",
        "paths": "1000",
        "model": "gbm",
        "seed": "9",
        "beta": "0.2",
        "ruin_fraction": "0.25",
        "grid": "0.5, 2",
        "budget": "3000",
    }
    page = client.post("/advise", data=sent)
    assert page.status_code == 422
    assert "grid.0" in page.text
    assert "greater than or equal to 1" in page.text
    assert re.search(rf'<option value="{PAIR}:1"\s+selected', page.text)
    assert re.search(r'<option value="cvar"\s+selected', page.text)
    for key in ("paths", "seed", "beta", "ruin_fraction", "grid", "budget"):
        assert f'name="{key}" value="{sent[key]}"' in page.text, key
    assert "<option selected>gbm</option>" in page.text
    limited = client.post("/advise", data={**sent, "grid": "1 2", "paths": "30000"})
    assert limited.status_code == 422
    assert "max_advise_job_paths" in limited.text
    assert 'name="grid" value="1 2"' in limited.text
    assert _saved(client) == before


def test_advisor_job_page_keeps_the_form_and_the_run_reopens(client: TestClient) -> None:
    sent = {
        "source": "scenario",
        "scenario": f"{PAIR}:0",
        "objective": "liquidation",
        "paths": "400",
        "steps": "48",
        "grid": "1, 2",
        "confirm_paths": "1",
    }
    started = client.post("/advise", data=sent, follow_redirects=False)
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    assert location.startswith("/advise/jobs/")
    page = client.get(location)
    assert page.status_code == 200
    assert 'data-testid="progress"' in page.text
    assert re.search(rf'<option value="{PAIR}:0"\s+selected', page.text)
    assert re.search(r'<option value="liquidation"\s+selected', page.text)
    assert 'name="grid" value="1, 2"' in page.text
    assert 'name="steps" value="48"' in page.text
    job_id = location.split("?")[0].rsplit("/", 1)[1]
    status = _wait(client, f"/api/v1/jobs/{job_id}")
    assert status["state"] == "done", status
    assert status["result"]["grid"] == [1.0, 2.0]
    assert status["result"]["objective"] == "liquidation"
    reopened = client.get(f"/saved/{status['saved_id']}")
    assert reopened.status_code == 200
    assert 'data-testid="advise-saved"' in reopened.text
    assert 'name="grid" value="1, 2"' in reopened.text
    assert re.search(r'<option value="liquidation"\s+selected', reopened.text)
    embedded = re.search(r'id="saved-result">(.*?)</script>', reopened.text, re.S)
    assert embedded is not None
    assert json.loads(embedded.group(1)) == status["result"]
    assert client.get("/advise/jobs/unknown").status_code == 404


def test_the_advisor_page_takes_allowed_modes_and_your_setting(client: TestClient) -> None:
    """The page's form reaches ``allowed`` and ``current`` (they were API-only)."""
    sent = {
        "source": "scenario",
        "scenario": f"{PAIR}:0",
        "paths": "400",
        "steps": "24",
        "grid": "1 2",
        "confirm_paths": "0",
        "allowed": "BTCUSDT=isolated; ETHUSDT=isolated, cross",
        "current": "isolated, cross",
    }
    started = client.post("/advise", data=sent, follow_redirects=False)
    assert started.status_code == 303
    job_url = started.headers["location"]
    job_id = job_url.split("/advise/jobs/")[1].split("?")[0]
    page = client.get(job_url)
    assert 'value="BTCUSDT=isolated; ETHUSDT=isolated, cross"' in page.text
    for _ in range(600):
        status = client.get(f"/api/v1/jobs/{job_id}").json()
        if status["state"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert status["state"] == "done", status
    result = status["result"]
    assert all(s["modes"][0] == "isolated" for s in result["ranked"])  # BTC never cross
    assert result["current"]["modes"] == ["isolated", "cross"]
    bad = client.post("/advise", data={**sent, "allowed": "BTCUSDT=hedge"})
    assert bad.status_code == 422
    assert "hedge" in bad.text
    assert 'value="BTCUSDT=hedge"' in bad.text  # the form keeps it
