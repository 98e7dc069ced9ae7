"""Binance USDⓈ-M's every perpetual (issue 21): the bundled tier snapshot.

Facts checked against the source the snapshot was made from: freqtrade's public
``freqtrade/exchange/binance_leverage_tiers.json`` at commit 2832c6b8 (2026-03-05),
ccxt ``fetch_leverage_tiers()`` of Binance ``/fapi/v1/leverageBracket``.
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import perpmargin as pm
from perpmargin.sim.tiers import TierArrays
from perpmargin.venues import venue_summary
from perpmargin.web import create_app


@pytest.fixture(scope="module")
def binance() -> pm.Venue:
    return pm.load_venue("binance-usdm")


def _tiers(v: pm.Venue, symbol: str) -> list[tuple[D, D | None, D, D, D]]:
    return [
        (t.lower, t.upper, t.maintenance_margin_rate, t.maintenance_amount, t.max_leverage)
        for t in v.symbol(symbol).tiers.tiers
    ]


def test_every_usdt_and_usdc_perpetual_has_its_table(binance: pm.Venue) -> None:
    assert len([s for s in binance.symbols.values() if not s.dated]) == 682
    assert len(binance.symbols) == 686  # and the four quarterly futures of 2026
    assert binance.featured == ("BTCUSDT", "ETHUSDT")  # the file's own, with their grids
    sol = _tiers(binance, "SOLUSDT")
    assert len(sol) == 10
    assert sol[:2] == [
        (D(0), D(50000), D("0.005"), D(0), D(100)),
        (D(50000), D(400000), D("0.0065"), D(75), D(75)),
    ]
    assert _tiers(binance, "DOGE/USDT:USDT")[1] == (D(80000), D(150000), D("0.01"), D(280), D(50))
    usdc = binance.symbol("BTCUSDC")
    assert (usdc.settle, usdc.tiers_as_of) == ("USDC", "2026-03-05")
    assert "2832c6b8" in usdc.tiers_source
    assert binance.symbol("BTCSTUSDT").tiers.tiers[-1].upper is None  # 2**63: no cap
    # the file's own BTCUSDT table is kept (its grid is known), not the snapshot's
    assert binance.symbol("BTCUSDT").tiers_as_of == "2024-10-24"


def test_an_account_opens_in_the_files_own_collateral(binance: pm.Venue) -> None:
    acct = pm.Account(binance, "1000")
    assert acct.settle == "USDT"
    acct.set_leverage("SOLUSDT", 10)
    acct.open("SOLUSDT", "long", "10", "150")
    assert acct.position("SOLUSDT") is not None
    usdc = pm.Account(binance, "1000", settle="USDC")
    assert usdc.settle == "USDC"


def test_the_fast_path_defaults_to_the_files_symbols(binance: pm.Venue) -> None:
    assert TierArrays.from_venue(binance).symbols == ("BTCUSDT", "ETHUSDT")
    assert TierArrays.from_venue(binance, ["SOLUSDT"]).symbols == ("SOLUSDT",)


def test_summaries_show_the_files_tables_and_name_every_symbol(binance: pm.Venue) -> None:
    doc = venue_summary(binance)
    assert list(doc["symbols"]) == ["BTCUSDT", "ETHUSDT"]
    assert len(doc["all_symbols"]) == 686
    assert list(venue_summary(binance, ["LTCUSDT"])["symbols"]) == ["LTCUSDT"]


def test_an_unknown_symbol_names_the_nearest(binance: pm.Venue) -> None:
    with pytest.raises(pm.UnknownSymbol, match=r"686 symbols; nearest: LTCUSDT"):
        binance.symbol("LTCUSDTT")


def test_a_users_copy_of_the_file_keeps_the_snapshot(tmp_path: Path) -> None:
    text = (resources.files("perpmargin.venues") / "data" / "binance-usdm.json").read_text()
    doc = json.loads(text)
    doc["id"] = "my-binance"
    path = tmp_path / "my-binance.json"
    path.write_text(json.dumps(doc))
    mine = pm.load_venue(str(path))
    assert mine.symbol("SOLUSDT").tiers.tiers[0].max_leverage == 100
    doc["tier_snapshot"] = "../elsewhere.json.gz"
    path.write_text(json.dumps(doc))
    with pytest.raises(pm.VenueDataError, match="tier_snapshot"):
        pm.load_venue(str(path))


def test_the_venues_page_and_api_find_any_symbol(tmp_path: Path) -> None:
    client = TestClient(create_app(tmp_path / "p.db"), base_url="http://localhost")
    page = client.get("/venues?venue=binance-usdm&symbol=SOLUSDT")
    assert page.status_code == 200
    assert "SOLUSDT" in page.text
    assert 'data-testid="symbol-search"' in page.text
    assert "lists 686 symbols" in client.get("/venues?venue=binance-usdm").text
    missing = client.get("/venues?venue=binance-usdm&symbol=SOLUSDTT")
    assert missing.status_code == 404
    assert "nearest: SOLUSDT" in missing.text
    api = client.get("/api/v1/venues/binance-usdm?symbol=LTCUSDT&symbol=SOLUSDC").json()
    assert sorted(api["symbols"]) == ["LTCUSDT", "SOLUSDC"]
    assert len(api["all_symbols"]) == 686


def test_the_check_says_when_a_symbol_has_no_grid() -> None:
    sol = pm.check_trade(
        symbol="SOLUSDT", side="long", entry="150", stop="140", leverage="5",
        balance="10000", risk="1%", venue="binance-usdm",
    ).venues[0]  # fmt: skip
    iso = sol.modes[0]
    grid = [i for i in iso.checklist if i.name == "price grid"]
    assert len(grid) == 1
    assert "not rounded" in grid[0].reason
    assert iso.status == "PASS"  # a fact beside the numbers, not a failed check
    btc = pm.check_trade(
        symbol="BTCUSDT", side="long", entry="50000", stop="48000", leverage="5",
        balance="10000", risk="1%", venue="binance-usdm",
    ).venues[0]  # fmt: skip
    assert not [i for i in btc.modes[0].checklist if i.name == "price grid"]
