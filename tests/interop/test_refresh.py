"""``refresh_venue`` / ``perpmargin venues refresh`` with a stand-in ccxt exchange: no
network. Markets and tiers are written by hand in ccxt's unified shapes (docs.ccxt.com,
Market structure and Leverage Tiers structure), Binance USDⓈ-M flavoured. The bundled
file's symbol list and tiers may be updated, so the expectations are taken from it:

- BTC/USDT:USDT: listed in the bundled file; the exchange serves its first two tiers,
  tier 1 as bundled, tier 2 with its MMR 0.15 points higher (and the maintenance amount
  that keeps maintenance margin continuous: amount_1 + upper_1 x (MMR_2 - MMR_1));
- PMTEST/USDT:USDT: new (added);
- every other bundled symbol (ETHUSDT among them): no longer listed (removed);
- a spot market, a dated future, an inverse swap: not perpetuals of the venue's kind.
"""

import json
from dataclasses import replace
from decimal import Decimal as D
from typing import ClassVar

import pytest
from typer.testing import CliRunner

import perpmargin as pm
from perpmargin.cli import app
from perpmargin.errors import InvalidInput
from perpmargin.interop import refresh
from perpmargin.interop.refresh import RefreshError, refresh_venue
from perpmargin.venues.schema import Tier, TierTable

runner = CliRunner()
TODAY = "2030-01-02"


def _market(base, *, price, amount, lo, hi, kind="linear", typ="swap", settle="USDT"):
    inverse = kind == "inverse"
    quote = "USD" if inverse else "USDT"
    return {
        "id": f"{base}{quote}" + ("_PERP" if inverse else ""),
        "symbol": f"{base}/{quote}"
        + ("" if typ == "spot" else f":{settle}")
        + ("-301227" if typ == "future" else ""),
        "base": base,
        "quote": quote,
        "settle": None if typ == "spot" else settle,
        "type": typ,
        "spot": typ == "spot",
        "swap": typ == "swap",
        "future": typ == "future",
        "linear": None if typ == "spot" else not inverse,
        "inverse": None if typ == "spot" else inverse,
        "contract": typ != "spot",
        "contractSize": None if typ == "spot" else (100.0 if inverse else 1.0),
        "expiry": 1767225600000 if typ == "future" else None,
        "active": True,
        "precision": {"price": price, "amount": amount},
        "limits": {"amount": {"min": lo, "max": hi}, "cost": {"min": 5.0, "max": None}},
        "info": {},
    }


MARKETS = {
    m["symbol"]: m
    for m in [
        _market("BTC", price=0.1, amount=0.001, lo=0.001, hi=1000.0),
        _market("PMTEST", price=0.01, amount=1.0, lo=1.0, hi=200000.0),
        _market("BTC", price=0.01, amount=0.00001, lo=0.00001, hi=9000.0, typ="spot"),
        _market("BTC", price=0.1, amount=0.001, lo=0.001, hi=500.0, typ="future"),
        _market("BTC", price=0.1, amount=1.0, lo=1.0, hi=1e5, kind="inverse", settle="BTC"),
    ]
}


def _tier(n, symbol, lo, hi, mmr, lev, cum):
    return {
        "tier": n,
        "symbol": symbol,
        "currency": "USDT",
        "minNotional": lo,
        "maxNotional": hi,
        "maintenanceMarginRate": mmr,
        "maxLeverage": lev,
        "info": {"bracket": str(n), "cum": str(cum)},
    }


BUNDLED = pm.load_venue("binance-usdm")
T1, T2 = BUNDLED.symbol("BTCUSDT").tiers.tiers[:2]
MMR2 = T2.maintenance_margin_rate + D("0.0015")
CUM2 = T1.maintenance_amount + T1.upper * (MMR2 - T1.maintenance_margin_rate)
BY_HAND = TierTable(
    "notional",
    (
        Tier(1, D(0), T1.upper, T1.maintenance_margin_rate, T1.maintenance_amount, T1.max_leverage),
        Tier(2, T1.upper, T2.upper, MMR2, CUM2, T2.max_leverage),
    ),
)
TIERS = {
    "BTC/USDT:USDT": [
        _tier(
            t.tier,
            "BTC/USDT:USDT",
            float(t.lower),
            float(t.upper),
            float(t.maintenance_margin_rate),
            float(t.max_leverage),
            t.maintenance_amount,
        )
        for t in BY_HAND.tiers
    ],
    "PMTEST/USDT:USDT": [
        _tier(1, "PMTEST/USDT:USDT", 0.0, 10000.0, 0.01, 50.0, 0),
        _tier(2, "PMTEST/USDT:USDT", 10000.0, 100000.0, 0.02, 25.0, 100),
    ],
}
REMOVED = len(BUNDLED.symbols) - 1


def _p(value):
    return format(value.normalize(), "f")


class StandIn:
    """A ccxt exchange's public read surface; anything else is a failure."""

    id = "binanceusdm"
    calls: ClassVar[list[object]] = []

    def __init__(self, markets=None, tiers=None, *, has_tiers=True, error=None):
        self.markets = MARKETS if markets is None else markets
        self.tiers = TIERS if tiers is None else tiers
        self.has = {"fetchLeverageTiers": has_tiers, "fetchMarkets": True}
        self.error = error
        StandIn.calls = []

    def load_markets(self, reload=False):
        StandIn.calls.append("load_markets")
        if self.error is not None:
            raise self.error
        return self.markets

    def fetch_markets(self, params=None):
        return list(self.load_markets().values())

    def fetch_leverage_tiers(self, symbols=None, params=None):
        StandIn.calls.append(("fetch_leverage_tiers", tuple(symbols or ())))
        return {s: t for s, t in self.tiers.items() if symbols is None or s in symbols}


def _network_error():
    try:
        import ccxt

        return ccxt.NetworkError("binanceusdm GET https://fapi.binance.com/... timed out")
    except ImportError:
        return OSError("[Errno -3] Temporary failure in name resolution")


@pytest.fixture
def result():
    return refresh_venue("binance-usdm", exchange=StandIn(), today=TODAY)


def test_refresh_reads_perpetuals_and_tiers(result):
    venue = result.venue
    assert "PMTESTUSDT" not in BUNDLED.symbols
    assert sorted(venue.symbols) == ["BTCUSDT", "PMTESTUSDT"]
    btc = venue.symbol("BTCUSDT")
    assert btc.tiers == BY_HAND
    assert btc.max_quantity == D("1000")
    assert "fetch_leverage_tiers" in btc.tiers_source
    assert "/fapi/v1/leverageBracket" in btc.tiers_source
    assert "ccxt" in btc.tiers_source
    assert btc.tiers_as_of == TODAY
    assert venue.as_of == TODAY
    assert venue.version == f"{TODAY}.1"
    assert venue.version != pm.load_venue("binance-usdm").version
    new = venue.symbol("PMTESTUSDT")
    assert new.step_size == D("1")
    assert new.tick_size == D("0.01")
    assert [t.max_leverage for t in new.tiers.tiers] == [D("50"), D("25")]
    assert new.tiers.tiers[1].maintenance_amount == D("100")
    # the only symbols asked for are the venue's USDⓈ-M perpetuals
    assert StandIn.calls[-1] == ("fetch_leverage_tiers", ("BTC/USDT:USDT", "PMTEST/USDT:USDT"))


def test_bundled_rules_are_kept(result):
    bundled = pm.load_venue("binance-usdm")
    assert result.venue.rules == bundled.rules
    assert result.venue.liquidation == bundled.liquidation
    assert result.venue.taker_fee_rate == bundled.taker_fee_rate
    assert result.document["schema"] == "perpmargin.venue/1"
    assert json.loads(json.dumps(result.document)) == result.document  # plain JSON


def test_diff_names_added_removed_and_the_changed_tier(result):
    diff = result.diff
    assert diff.added == ("PMTESTUSDT",)
    assert "ETHUSDT" in diff.removed
    assert len(diff.removed) == REMOVED
    assert "BTCUSDT" not in diff.removed
    assert diff.changed == ("BTCUSDT",)
    (change,) = diff.tiers
    assert change.first_difference.startswith(
        f"tier 2: maintenance_margin_rate {_p(T2.maintenance_margin_rate)} -> {_p(MMR2)}"
    )
    assert change.old == T2
    assert change.new == BY_HAND.tiers[1]


def test_unchanged_tiers_are_not_reported_changed():
    bundled = pm.load_venue("binance-usdm").symbol("BTCUSDT")
    rows = [
        _tier(
            t.tier,
            "BTC/USDT:USDT",
            float(t.lower),
            None if t.upper is None else float(t.upper),
            float(t.maintenance_margin_rate),
            float(t.max_leverage),
            t.maintenance_amount,
        )
        for t in bundled.tiers.tiers
    ]
    got = refresh_venue(
        "binance-usdm",
        exchange=StandIn(tiers={"BTC/USDT:USDT": rows}),
        symbols=["BTCUSDT"],
        today=TODAY,
    )
    assert got.diff.changed == ()
    assert got.diff.added == ()
    assert [c.symbol for c in got.diff.tiers] == ["BTCUSDT"]


def test_refreshed_file_gives_the_liquidation_price_of_a_hand_built_venue(result, tmp_path):
    path = tmp_path / "binance.json"
    path.write_text(json.dumps(result.document), encoding="utf-8")
    loaded = pm.load_venue(path)
    bundled = BUNDLED
    hand = replace(
        bundled,
        symbols={"BTCUSDT": replace(bundled.symbol("BTCUSDT"), tiers=BY_HAND)},
    )
    quantity = ((T1.upper + T2.upper) / 2 / 60000).quantize(D("0.001"))  # in tier 2
    args = ("isolated", "long", 60000, quantity, quantity * 6000)  # 10x
    got = pm.liquidation_price(loaded, *args, symbol="BTCUSDT")
    want = pm.liquidation_price(hand, *args, symbol="BTCUSDT")
    old = pm.liquidation_price(bundled, *args, symbol="BTCUSDT")
    assert got is not None
    assert got == want
    assert got != old  # the refreshed tier 2 is what moved it


def test_symbols_limit_the_refresh(result):
    got = refresh_venue(
        "binance-usdm", exchange=StandIn(), symbols=["PMTEST/USDT:USDT"], today=TODAY
    )
    assert list(got.venue.symbols) == ["PMTESTUSDT"]
    assert StandIn.calls[-1] == ("fetch_leverage_tiers", ("PMTEST/USDT:USDT",))
    assert any("left out: BTCUSDT" in n for n in got.notes)
    with pytest.raises(RefreshError, match="'DOGEUSDT' is not a perpetual"):
        refresh_venue("binance-usdm", exchange=StandIn(), symbols=["DOGEUSDT"], today=TODAY)


def test_no_public_tiers_keeps_bundled_tiers_marked():
    got = refresh_venue("binance-usdm", exchange=StandIn(has_tiers=False), today=TODAY)
    btc = got.venue.symbol("BTCUSDT")
    bundled = pm.load_venue("binance-usdm").symbol("BTCUSDT")
    assert btc.tiers == bundled.tiers
    assert btc.tiers_source.startswith("kept from bundled binance-usdm.json")
    assert btc.tiers_as_of == bundled.tiers_as_of  # not dated today: not re-read
    assert btc.max_quantity == D("1000")  # the grid is still refreshed
    assert got.kept_bundled_tiers == ("BTCUSDT",)
    assert not got.tiers_public
    assert "PMTESTUSDT" not in got.venue.symbols  # no tiers to model a new symbol with
    assert any("no leverage-tiers endpoint" in n for n in got.notes)
    assert "no leverage-tiers endpoint" in got.document["missing"]


def test_tiers_that_need_keys_are_kept_too():
    class AuthenticationError(Exception):  # ccxt's name for "this read needs keys"
        pass

    class KeysNeeded(StandIn):
        def fetch_leverage_tiers(self, symbols=None, params=None):
            raise AuthenticationError('binanceusdm requires "apiKey" credential')

    got = refresh_venue("binance-usdm", exchange=KeysNeeded(), today=TODAY)
    assert got.kept_bundled_tiers == ("BTCUSDT",)
    assert any("not public" in n and "apiKey" in n for n in got.notes)


def test_offline_is_one_clear_error():
    with pytest.raises(InvalidInput) as err:
        refresh_venue("binance-usdm", exchange=StandIn(error=_network_error()), today=TODAY)
    text = str(err.value)
    assert text.startswith("cannot reach binanceusdm's public API: ")
    assert "pip install 'perpmargin[live]'" in text
    assert "\n" not in text


def test_unknown_venue():
    with pytest.raises(RefreshError, match="cannot refresh 'nope'"):
        refresh_venue("nope", exchange=StandIn())


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def stand_in(monkeypatch):
    made = []

    def factory(venue_id):
        made.append(venue_id)
        return StandIn()

    monkeypatch.setattr(refresh, "make_exchange", factory)
    return made


def test_cli_writes_the_file_and_prints_the_diff(stand_in, tmp_path):
    out = tmp_path / "binance.json"
    res = runner.invoke(app, ["venues", "refresh", "binance-usdm", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert stand_in == ["binance-usdm"]
    venue = pm.load_venue(out)
    assert sorted(venue.symbols) == ["BTCUSDT", "PMTESTUSDT"]
    assert venue.symbol("BTCUSDT").tiers == BY_HAND
    assert "added (1): PMTESTUSDT" in res.stdout
    assert f"removed ({REMOVED}): " in res.stdout
    assert "tiers changed (1 of 1" in res.stdout
    assert "BTCUSDT: tier 2: maintenance_margin_rate " in res.stdout
    assert f"--venue {out}" in res.stdout
    assert "pm.load_venue(" in res.stdout


def test_cli_default_path_symbol_and_json(stand_in, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["venues", "refresh", "binance-usdm", "--symbol", "BTCUSDT", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    (written,) = list(tmp_path.glob("binance-usdm-*.json"))
    assert doc["path"] == written.name
    assert doc["changed"] == {
        "BTCUSDT": f"tier 2: maintenance_margin_rate {_p(T2.maintenance_margin_rate)} -> "
        f"{_p(MMR2)}, maintenance_amount {_p(T2.maintenance_amount)} -> {_p(CUM2)}"
    }
    assert doc["added"] == []
    assert "ETHUSDT" in doc["removed"]
    assert list(pm.load_venue(written).symbols) == ["BTCUSDT"]


def test_cli_offline_is_one_line_exit_2(monkeypatch, tmp_path):
    monkeypatch.setattr(refresh, "make_exchange", lambda venue_id: StandIn(error=_network_error()))
    out = tmp_path / "x.json"
    res = runner.invoke(app, ["venues", "refresh", "binance-usdm", "--out", str(out)])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot reach binanceusdm's public API")
    assert "Traceback" not in res.output
    assert not out.exists()


def test_cli_unknown_venue_exit_2_before_any_fetch(stand_in):
    res = runner.invoke(app, ["venues", "refresh", "kraken-futures"])
    assert res.exit_code == 2
    assert "cannot refresh 'kraken-futures'" in res.output
    assert stand_in == []


def test_cli_unwritable_out_is_refused_before_fetching(stand_in, tmp_path):
    res = runner.invoke(app, ["venues", "refresh", "binance-usdm", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "is a folder" in res.output
    assert stand_in == []


def test_venues_listing_still_works_alongside_refresh():
    res = runner.invoke(app, ["venues", "binance-usdm", "--symbol", "BTCUSDT", "--json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["symbols"]["BTCUSDT"]["tiers"][1]["maintenance_amount"] == str(
        T2.maintenance_amount
    )
    res = runner.invoke(app, ["venues", "--help"])
    assert res.exit_code == 0
    assert "refresh" in res.stdout
