"""The Portfolio page and POST /api/v1/portfolio: a unified account under three modes."""

from __future__ import annotations

import json

EXAMPLE = {
    "rules": "binance-pm",
    "balances": {"BTC": "1", "USDT": "1000"},
    "index_prices": {"BTC": "50000", "USDT": "1", "ETH": "3000"},
    "positions": [
        {"symbol": "BTCUSDT", "side": "long", "quantity": "1", "entry_price": "50000",
         "mark_price": "50000"},
        {"symbol": "ETHUSDT", "side": "short", "quantity": "5", "entry_price": "3000",
         "mark_price": "3000"},
    ],
}  # fmt: skip


def test_api_answers_as_the_cli(client):
    from typer.testing import CliRunner

    from perpmargin.cli import app

    r = client.post("/api/v1/portfolio", json=EXAMPLE)
    assert r.status_code == 200, r.text
    doc = r.json()
    cli = json.loads(
        CliRunner().invoke(app, ["portfolio", "unified-btc-collateral", "--json"]).output
    )
    assert doc == cli
    assert doc["positions"][0]["portfolio_liquidation"] == "25214.80"


def test_api_refuses_bad_accounts(client):
    bad = [
        ({**EXAMPLE, "rules": "/etc/passwd"}, "rules must be one of"),
        ({**EXAMPLE, "balances": {"BTC": "-1"}}, "balances"),
        ({**EXAMPLE, "index_prices": {"BTC": "NaN", "USDT": "1"}}, "index_prices"),
        ({**EXAMPLE, "rules": "bybit-uta"}, "no collateral rate for BTC"),
        ({**EXAMPLE, "extra": 1}, "extra"),
        ({**EXAMPLE, "collateral": {"BTC": [{"floor": "0", "rate": "1.5"}]}}, "rate"),
    ]
    for body, words in bad:
        r = client.post("/api/v1/portfolio", json=body)
        assert r.status_code == 422, (body, r.text)
        assert words in r.text, (words, r.text)


def test_page_starts_from_the_example_and_reads_it(client):
    page = client.get("/portfolio")
    assert page.status_code == 200
    assert "binance-pm" in page.text
    assert 'aria-current="page"' in page.text
    r = client.post("/portfolio", data={"account": json.dumps(EXAMPLE), "leverage": "10"})
    assert r.status_code == 200, r.text
    assert "uniMMR 186.5381" in r.text
    assert "25214.8" in r.text
    assert "-49.57 %" in r.text


def test_page_keeps_the_text_and_names_the_problem(client):
    text = '{"rules": "binance-pm", "rules": "bybit-uta"}'
    r = client.post("/portfolio", data={"account": text, "leverage": "10"})
    assert r.status_code == 422
    assert "given twice" in r.text
    assert "bybit-uta" in r.text  # the form keeps what was sent
    r = client.post("/portfolio", data={"account": "not json", "leverage": "10"})
    assert r.status_code == 422
    assert "not JSON" in r.text


TRADE = {"symbol": "BTCUSDT", "side": "long", "entry": "50000", "stop": "48000",
         "leverage": "10", "balance": "10000", "risk": "1%"}  # fmt: skip


def test_check_api_adds_the_portfolio_mode_as_the_library_does(client):
    """POST /api/v1/check with a unified account: a third mode, the library's own
    (check_trade(portfolio=...)) to the last digit."""
    from perpmargin import check_trade
    from perpmargin.engine.unified import UnifiedAccount

    r = client.post("/api/v1/check", json={**TRADE, "portfolio": EXAMPLE})
    assert r.status_code == 200, r.text
    (venue,) = r.json()["venues"]
    modes = {m["margin_mode"]: m for m in venue["modes"]}
    assert set(modes) == {"isolated", "cross", "portfolio"}
    lib = check_trade(balance="10000", venues=["binance-usdm"], symbol="BTCUSDT", side="long",
                      entry="50000", stop="48000", leverage="10", risk="1%",
                      portfolio=UnifiedAccount.from_dict(EXAMPLE)).to_dict()  # fmt: skip
    assert modes["portfolio"] == lib["venues"][0]["modes"][2]
    bad = client.post("/api/v1/check", json={**TRADE, "portfolio": {**EXAMPLE, "rules": "x"}})
    assert bad.status_code == 422
    assert "rules must be one of" in bad.text


def test_calculator_page_takes_a_unified_account(client):
    from urllib.parse import urlencode

    query = urlencode({**TRADE, "portfolio": json.dumps(EXAMPLE)})
    page = client.get(f"/calculator?{query}")
    assert page.status_code == 200, page.text
    assert 'data-testid="mode-portfolio"' in page.text
    assert "portfolio (binance-pm)" in page.text  # the checklist names the account
    for text, words in (("{not json", "not JSON"), ("x" * 7000, "the calculator takes")):
        bad = client.get(f"/calculator?{urlencode({**TRADE, 'portfolio': text})}")
        assert bad.status_code == 422
        assert words in bad.text


def test_page_shows_the_risk_units_of_risk_based_rules(client):
    from importlib import resources

    doc = (resources.files("perpmargin") / "examples" / "unified-deribit-pm.json").read_text()
    r = client.post("/portfolio", data={"account": doc, "leverage": "10"})
    assert r.status_code == 200, r.text
    assert 'data-testid="portfolio-units"' in r.text
    assert "24,000.00" in r.text
    assert "-16.00 %" in r.text
    plain = client.post("/portfolio", data={"account": json.dumps(EXAMPLE), "leverage": "10"})
    assert 'data-testid="portfolio-units"' not in plain.text
