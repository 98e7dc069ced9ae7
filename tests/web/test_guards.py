"""The server's guards: hostile CSV headers, poison records, memory and time limits, DNS
rebinding, oversized chunked bodies, slow headers, API docs with no network."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from perpmargin.web import create_app
from perpmargin.web.local import running

from .conftest import TEST_LIMITS

CHECK = {
    "symbol": "BTCUSDT",
    "side": "long",
    "entry": "50000",
    "stop": "49000",
    "leverage": "10",
    "balance": "5000",
}


def _saved(client: TestClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/api/v1/saved").json()
    return items


@contextlib.contextmanager
def _client(tmp_path: Path, **limits: Any) -> Iterator[TestClient]:
    app = create_app(tmp_path / "g.db", dataclasses.replace(TEST_LIMITS, **limits))
    with TestClient(app, base_url="http://localhost") as c:
        yield c


# ------------------------------------------------------------------------ CSV header


def test_a_header_repeating_one_name_is_a_422_naming_it(client: TestClient) -> None:
    """An 80 KB header of one repeated name took pandas 36 s; now refused before parsing."""
    csv = ",".join(["open"] * 40_000) + "\n0,1,1,1,1\n60000,1,1,1,1\n"
    answer = client.post("/api/v1/replay", json={"plan": {}, "bars_csv": csv})
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "bars_csv: line 1: column 'open' appears 40,000 times (each column name must be unique)"
    )
    page = client.post(
        "/compare",
        data={"source": "custom"},
        files={"file": ("bars.csv", csv.encode(), "text/csv")},
    )
    assert page.status_code == 422
    assert "bars.csv: line 1: column" in page.text
    assert "appears 40,000 times" in page.text


# -------------------------------------------------------------------- poison records


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    ("summary", "message"),
    [
        (_nested(253), "summary is nested more than 32 levels deep"),
        (_nested(32), "summary is nested more than 32 levels deep"),  # 33 with the object
        ("NaN", "summary holds NaN or an infinity"),
        ("[1e999]", "summary holds NaN or an infinity"),
    ],
)
def test_a_summary_that_could_not_be_served_back_is_refused(
    client: TestClient, summary: str, message: str
) -> None:
    """A summary nested 254 deep was kept, then every GET of it was a 500; a NaN broke
    the saved page's script."""
    before = _saved(client)
    body = '{"kind": "calculator", "name": "x", "inputs": %s, "summary": {"a": %s}}'
    answer = client.post(
        "/api/v1/saved",
        content=body % (json.dumps(CHECK), summary),
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "InvalidInput"
    assert message in answer.json()["detail"]
    assert _saved(client) == before


def test_a_summary_at_the_depth_limit_is_kept_and_served(client: TestClient) -> None:
    summary = {"a": json.loads(_nested(31))}  # 32 levels with the object
    made = client.post(
        "/api/v1/saved",
        json={"kind": "calculator", "name": "deep", "inputs": CHECK, "summary": summary},
    )
    assert made.status_code == 201
    got = client.get(f"/api/v1/saved/{made.json()['id']}")
    assert got.status_code == 200
    assert got.json()["results"][0]["summary"] == summary
    assert client.delete(f"/api/v1/saved/{made.json()['id']}").status_code == 204


# ------------------------------------------------------------ memory, time, at once


def test_paths_are_capped_even_at_one_step(client: TestClient) -> None:
    """5e7 paths x 1 step passed the paths x steps cap and took 4.3 GB."""
    body = {"scenario": "seed-2020-03-12", "steps": 1, "paths": TEST_LIMITS.max_paths + 1}
    answer = client.post("/api/v1/montecarlo", json=body)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("paths = 100,001 is more than one request")
    job = client.post(
        "/api/v1/montecarlo/jobs", json={**body, "paths": TEST_LIMITS.max_job_paths + 1}
    )
    assert job.status_code == 422
    assert "paths = 200,001 is more than a background job allows (200,000)" in job.text


def test_runs_beyond_the_concurrent_limit_are_refused_with_429(client: TestClient) -> None:
    gate = client.app.state.gate  # type: ignore[attr-defined]
    before = _saved(client)
    with contextlib.ExitStack() as busy:
        for _ in range(gate.n):  # every slot taken, as by long runs under way
            busy.enter_context(gate.hold())
        runs = [
            client.post("/api/v1/montecarlo", json={"scenario": "seed-2020-03-12", "paths": 9}),
            client.post("/api/v1/replay", json={"scenario": "seed-2020-03-12", "save": True}),
        ]
        page = client.post("/compare", data={"source": "scenario", "scenario": "seed-2020-03-12"})
    for answer in runs:
        assert answer.status_code == 429
        assert answer.json()["error"] == "ServerBusy"
        assert answer.headers["retry-after"]
    assert page.status_code == 429
    assert "runs are under way" in page.text
    assert _saved(client) == before
    again = client.post("/api/v1/montecarlo", json={"scenario": "seed-2020-03-12", "paths": 9})
    assert again.status_code == 200  # the slots are back


def test_synchronous_runs_stop_at_the_time_limit(tmp_path: Path) -> None:
    """A replay of a 50,000-row upload ran 65 s with no limit."""
    with _client(tmp_path, request_timeout_s=0.0) as c:
        replay = c.post("/api/v1/replay", json={"scenario": "seed-2020-03-12", "save": True})
        odds = c.post(
            "/api/v1/montecarlo",
            json={"scenario": "seed-2020-03-12", "paths": 2000, "steps": 5, "save": True},
        )
        for answer in (replay, odds):
            assert answer.status_code == 422
            assert answer.json() == {
                "error": "JobTimeout",
                "detail": "stopped after 0 s (the server's limit)",
            }
        assert _saved(c) == []
        with c.app.state.gate.hold(), c.app.state.gate.hold():  # type: ignore[attr-defined]
            pass  # both slots were given back


# ------------------------------------------------------------------- DNS rebinding


def test_only_requests_addressed_to_this_machine_are_answered(client: TestClient) -> None:
    """``Host: evil.com`` with ``Origin: http://evil.com`` was accepted (201)."""
    before = _saved(client)
    save = {"kind": "calculator", "name": "rebound", "inputs": CHECK}
    evil = client.post(
        "/api/v1/saved", json=save, headers={"host": "evil.com", "origin": "http://evil.com"}
    )
    assert evil.status_code == 400
    assert evil.json()["error"] == "UnknownHost"
    assert "'evil.com'" in evil.json()["detail"]
    for host in ("evil.com:8000", "127.0.0.1.evil.com", "localhost.evil.com:80", ""):
        assert client.get("/api/v1/saved", headers={"host": host}).status_code == 400, host
    assert _saved(client) == before
    for host in ("127.0.0.1:8000", "localhost", "LOCALHOST:1", "[::1]:8000"):
        assert client.get("/api/v1/venues", headers={"host": host}).status_code == 200, host
    own = client.post(
        "/api/v1/saved",
        json=save,
        headers={"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:8000"},
    )
    assert own.status_code == 201
    assert client.delete(f"/api/v1/saved/{own.json()['id']}").status_code == 204


def test_the_host_it_listens_on_is_answered_too(tmp_path: Path) -> None:
    app = create_app(tmp_path / "h.db", TEST_LIMITS, hosts=["192.168.1.5"])
    with TestClient(app, base_url="http://192.168.1.5:8000") as c:
        assert c.get("/api/v1/venues").status_code == 200
        assert c.get("/api/v1/venues", headers={"host": "192.168.1.6"}).status_code == 400


# ----------------------------------------------------------- bodies and connections


def test_a_chunked_body_over_the_limit_is_a_413(client: TestClient) -> None:
    """It got a 400 (or a reset connection) instead."""
    before = _saved(client)

    def chunks() -> Iterator[bytes]:
        yield b'{"kind": "calculator", "name": "big", "inputs": {}, "summary": {"pad": "'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'"}}'

    answer = client.post(
        "/api/v1/saved", content=chunks(), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json() == {
        "error": "RequestTooLarge",
        "detail": "request bodies are limited to 300,000 bytes",
    }
    assert _saved(client) == before
    small = [
        b'{"venue": "binance-usdm", "symbol": "BTCUSDT", "side": "long", ',
        b'"entry": "50000", "qty": "0.1", "leverage": "10"}',
    ]
    within = client.post(
        "/api/v1/liq", content=iter(small), headers={"content-type": "application/json"}
    )
    assert within.status_code == 200  # a chunked body within the limit reads as usual


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """The app under uvicorn on a local port, with a half-second header timeout and a
    two-second body timeout."""
    limits = dataclasses.replace(TEST_LIMITS, header_timeout_s=0.5, body_timeout_s=2.0)
    with running(create_app(tmp_path_factory.mktemp("guards") / "s.db", limits)) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def _exchange(address: tuple[str, int], *parts: bytes) -> bytes:
    """Send ``parts`` on a new connection, then read until the server closes it."""
    out = b""
    with socket.create_connection(address, timeout=30) as conn:
        for part in parts:
            conn.sendall(part)
        while chunk := conn.recv(65536):
            out += chunk
    return out


def test_a_chunked_upload_over_the_limit_gets_its_413_not_a_reset(
    served: tuple[str, int],
) -> None:
    head = (
        b"POST /api/v1/replay HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"x" * 50_000
    answer = _exchange(served, head, b"%x\r\n%s\r\n" % (len(piece), piece) * 8, b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b'"error":"RequestTooLarge"' in answer


def test_a_connection_that_never_finishes_its_headers_is_closed(
    served: tuple[str, int],
) -> None:
    """Connections that never finished their headers stayed open forever."""
    partial = _exchange(served, b"GET /api/v1/venues HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert partial.startswith(b"HTTP/1.1 408 ")
    assert _exchange(served).startswith(b"HTTP/1.1 408 ")  # nothing sent at all
    # a run that outlasts the header timeout is answered in full
    body = b'{"scenario": "seed-2020-03-12"}'
    whole = _exchange(
        served,
        b"POST /api/v1/replay HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
    )
    assert whole.startswith(b"HTTP/1.1 200 ")


def test_a_body_that_never_finishes_is_a_408(served: tuple[str, int]) -> None:
    """Issue 22: a client sending its body a byte at a time held a request open forever."""
    head = (
        b"POST /api/v1/liq HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    t0 = time.monotonic()
    answer = _exchange(served, head, b'{"symbol"')
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"the request body took longer than 2 s" in answer
    assert time.monotonic() - t0 < 15


# ---------------------------------------------------------------------- web app


def test_api_docs_need_no_network(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "//" not in re.sub(r"<!--.*?-->", "", page.text, flags=re.S)  # no other host
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 3  # script, styles, icon
    for url in assets:
        assert client.get(url).status_code == 200, url
    assert client.get("/vendor/plotly.min.js").status_code == 200
    assert client.get("/vendor/nothing.js").status_code == 404


def test_an_odds_job_started_to_be_saved_is_saved(client: TestClient) -> None:
    started = client.post(
        "/odds",
        data={"source": "scenario", "scenario": "seed-2020-03-12:0", "paths": "500"},
        follow_redirects=False,
    )
    assert started.status_code == 303
    url = "/api/v1/jobs/" + started.headers["location"].rsplit("/", 1)[1]
    status = client.get(url).json()
    deadline = time.monotonic() + 60
    while status["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
        status = client.get(url).json()
    assert status["state"] == "done", status
    saved = client.get(f"/api/v1/saved/{status['saved_id']}").json()
    assert saved["kind"] == "odds"
    assert saved["results"][0]["summary"] == status["result"]
    page = client.get(f"/saved/{status['saved_id']}")
    embedded = re.search(r'id="saved-result">(.*?)</script>', page.text, re.S)
    assert embedded is not None

    def refuse(word: str) -> None:
        raise AssertionError(f"{word} in the page's JSON")

    assert json.loads(embedded.group(1), parse_constant=refuse) == status["result"]
