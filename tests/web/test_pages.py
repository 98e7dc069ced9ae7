"""The pages without a browser: errors as pages, saved items re-open, ``serve`` binds safely."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from perpmargin.cli import app as cli_app
from perpmargin.web import server
from perpmargin.web.service import Limits


def test_every_page_renders(client: TestClient) -> None:
    for path in ("/calculator", "/compare", "/odds", "/venues", "/saved"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert 'href="/static/style.css"' in page.text
    assert client.get("/", follow_redirects=False).headers["location"] == "/calculator"
    assert client.get("/vendor/plotly.min.js").status_code == 200  # served, no CDN
    assert "cdn" not in client.get("/compare").text.lower()


def test_page_errors_are_pages_api_errors_are_json(client: TestClient) -> None:
    page = client.get("/venues?venue=../../etc")
    assert page.status_code == 404
    assert "no bundled venue" in page.text
    assert page.headers["content-type"].startswith("text/html")
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404
    assert api.json()["error"] == "NotFound"
    bad = client.get("/calculator?entry=-3&stop=48000")
    assert bad.status_code == 422
    assert "entry" in bad.text
    assert "greater than 0" in bad.text


def test_kept_values_are_escaped_and_the_upload_named(client: TestClient) -> None:
    hostile = '"><script>alert(1)</script>'
    page = client.post(
        "/compare",
        data={"source": "custom", "symbol": hostile, "leverage": "x" * 500},
        files={"file": ('a"<b>.csv', b"timestamp,open,high,low,close\n", "text/csv")},
    )
    assert page.status_code == 422
    assert "<script>alert(1)" not in page.text
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page.text
    assert 'value="' + "x" * 200 + '"' in page.text  # kept values are cut at 200 characters
    assert 'data-testid="upload-again"' in page.text
    assert "&lt;b&gt;.csv</b>" in page.text


def test_the_odds_job_page_shows_the_form_as_sent(client: TestClient) -> None:
    sent = {"source": "scenario", "scenario": "seed-2020-03-12:1", "paths": "1000", "model": "jump"}
    started = client.post("/odds", data=sent, follow_redirects=False)
    assert started.status_code == 303
    page = client.get(started.headers["location"])
    assert re.search(r'<option value="seed-2020-03-12:1"\s+selected', page.text)
    assert 'name="paths" value="1000"' in page.text
    assert "<option selected>jump</option>" in page.text


def test_compare_form_errors_keep_the_form(client: TestClient) -> None:
    page = client.post(
        "/compare",
        data={
            "source": "custom",
            "symbol": "ETHUSDT",
            "data": "binance-btcusdt-perp-15m-2020-03-12.csv",
        },
    )
    assert page.status_code == 422
    assert "not ETH/USDT data" in page.text
    assert 'data-testid="compare-form"' in page.text
    junk = client.post(
        "/compare",
        data={"source": "custom"},
        files={"file": ("x.csv", b"\xff\xfe not text", "text/csv")},
    )
    assert junk.status_code == 422
    assert "not a UTF-8" in junk.text


def _saved_id(client: TestClient, kind: str) -> int:
    items: list[dict[str, Any]] = client.get(f"/api/v1/saved?kind={kind}").json()
    return int(items[0]["id"])


def test_compare_and_odds_are_kept_and_reopen(client: TestClient) -> None:
    page = client.post("/compare", data={"source": "scenario", "scenario": "pair-2022-11-08:0"})
    assert page.status_code == 200
    sid = _saved_id(client, "compare")
    again = client.get(f"/saved/{sid}")
    assert again.status_code == 200
    # the same outcome cards (the replay is deterministic)
    cards = re.compile(r'data-testid="outcome-(\w+)">.*?<strong>(.*?)</strong>', re.S)
    assert cards.findall(again.text) == cards.findall(page.text)
    picked = r'<option value="pair-2022-11-08:0"\s+selected'
    assert re.search(picked, again.text)  # the form shows the saved plan
    custom = client.post(
        "/compare",
        data={
            "source": "custom",
            "symbol": "ETHUSDT",
            "side": "short",
            "leverage": "4",
            "data": "binance-ethusdt-perp-15m-2022-11-08.csv",
        },
    )
    assert custom.status_code == 200
    reopened = client.get(f"/saved/{_saved_id(client, 'compare')}").text
    assert 'name="leverage" value="4"' in reopened
    assert "<option selected>short</option>" in reopened
    assert re.search(r'value="custom"\s+checked', reopened)
    started = client.post(
        "/odds",
        data={"source": "scenario", "scenario": "seed-2020-03-12:0", "paths": "1000"},
        follow_redirects=False,
    )
    assert started.status_code == 303
    assert started.headers["location"].startswith("/odds/jobs/")
    job_page = client.get(started.headers["location"])
    assert 'data-testid="progress"' in job_page.text
    assert client.get("/odds/jobs/unknown").status_code == 404


def test_saving_a_calculator_check_validates_it(client: TestClient) -> None:
    bad = client.post("/saved", data={"kind": "calculator", "inputs": '{"entry": "NaN"}'})
    assert bad.status_code == 422
    assert "cannot save" in bad.text
    not_json = client.post("/saved", data={"kind": "calculator", "inputs": "{"})
    assert not_json.status_code == 422
    good = client.post(
        "/saved",
        data={
            "kind": "calculator",
            "name": "kept",
            "inputs": '{"symbol": "BTCUSDT", "side": "long", "entry": "50000", "stop": "49000",'
            ' "leverage": "10", "balance": "5000", "venues": ["bybit-linear"]}',
        },
        follow_redirects=False,
    )
    assert good.status_code == 303
    sid = _saved_id(client, "calculator")
    reopened = client.get(f"/saved/{sid}", follow_redirects=False)
    assert "venue=bybit-linear" in reopened.headers["location"]
    assert "stop=49000" in reopened.headers["location"]
    assert client.post(f"/saved/{sid}/delete", follow_redirects=False).status_code == 303
    assert client.get(f"/saved/{sid}").status_code == 404


def test_serve_binds_locally_unless_told(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    calls: list[dict[str, Any]] = []
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    runner = CliRunner()
    db = str(tmp_path / "s.db")
    ok = runner.invoke(cli_app, ["serve", "--db", db])
    assert ok.exit_code == 0, ok.output
    assert "http://127.0.0.1:8000/ (local only: True)" in ok.output
    protocol = calls[0].pop("http")  # closes connections slow to send their headers
    assert protocol.header_timeout_s == Limits().header_timeout_s
    expected = {"host": "127.0.0.1", "port": 8000, "log_level": "warning"}
    assert calls == [{**expected, "timeout_graceful_shutdown": server.GRACEFUL_SHUTDOWN_S}]
    refused = runner.invoke(cli_app, ["serve", "--host", "0.0.0.0", "--db", db])
    assert refused.exit_code == 2
    assert "--allow-remote" in refused.output
    assert len(calls) == 1
    remote = runner.invoke(cli_app, ["serve", "--host", "0.0.0.0", "--allow-remote", "--db", db])
    assert remote.exit_code == 0
    assert "WARNING" in remote.output
    assert calls[-1]["host"] == "0.0.0.0"
    assert server.is_local("::1")
    assert server.is_local("localhost")
    assert not server.is_local("192.168.1.5")
    assert runner.invoke(cli_app, ["serve", "--port", "70000", "--db", db]).exit_code == 2


def test_odd_ids_are_4xx_pages(client: TestClient) -> None:
    for path in ("/saved/99999999999999999999999", "/saved/abc", "/saved/0"):
        page = client.get(path)
        assert page.status_code == 422, path
        assert page.headers["content-type"].startswith("text/html")
    assert client.post("/saved/99999999999999999999999/delete").status_code == 422
    assert client.get("/odds/jobs/" + "x" * 100).status_code == 422


def test_another_sites_form_cannot_change_anything(client: TestClient) -> None:
    before = client.get("/api/v1/saved").json()
    evil = client.post(
        "/saved",
        data={"kind": "calculator", "inputs": "{}"},
        headers={"origin": "https://evil.example"},
    )
    assert evil.status_code == 403
    assert client.get("/api/v1/saved").json() == before
    own = client.post(
        "/api/v1/liq",
        json={
            "venue": "binance-usdm",
            "symbol": "BTCUSDT",
            "side": "long",
            "entry": "50000",
            "qty": "0.1",
            "leverage": "10",
        },
        headers={"origin": "http://localhost"},
    )
    assert own.status_code == 200


def test_the_calculator_shows_money_at_the_settle_assets_decimals(client: TestClient) -> None:
    """Issue 22: the page printed the ledger's unit (122.3520000 USDT, 50 digits)."""
    usdt = client.get("/calculator?entry=50000&stop=48000&leverage=20&balance=10000").text
    assert "122.3520000" not in usdt
    assert re.search(r"notional [\d,]+\.\d\d USDT", usdt)
    coin = client.get(
        "/calculator?venue=bybit-inverse&symbol=BTCUSD&entry=50123.5&stop=48000.5"
        "&leverage=20&balance=0.37&risk=1%25"
    ).text
    margins = re.findall(r"<dt>Initial margin</dt><dd>([^<]*)</dd>", coin)
    assert margins
    assert all(re.fullmatch(r"0\.\d{8}", m) for m in margins), margins  # BTC: 8 decimals
