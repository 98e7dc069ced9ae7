import itertools
import json
from decimal import Decimal
from pathlib import Path

import pytest

import perpmargin as pm
from perpmargin.numeric import ONE

BUNDLED = [
    "binance-coinm",
    "binance-usdm",
    "bybit-inverse",
    "bybit-linear",
    "deribit",
    "dydx-v4",
    "gate-futures",
    "hyperliquid",
    "okx-swap",
]


def test_bundled_venues_are_listed():
    assert pm.bundled_venues() == BUNDLED


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_venue_loads_with_source_and_date(name):
    venue = pm.load_venue(name)
    assert venue.id == name
    assert venue.source
    assert venue.as_of
    assert venue.version
    for spec in venue.symbols.values():
        assert spec.tiers_source, spec.symbol
        tiers = spec.tiers.tiers
        assert tiers[0].lower == 0
        for lo, hi in itertools.pairwise(tiers):
            assert hi.lower == lo.upper
        for t in tiers:
            assert t.maintenance_margin_rate * t.max_leverage < ONE


def test_binance_btc_tiers_are_the_bracket_table(binance):
    t = binance.symbol("BTCUSDT").tiers.tiers
    # /fapi/v1/leverageBracket dump, 2024-10-24 (shared/data/venues/binance.json)
    assert (t[1].lower, t[1].upper, t[1].maintenance_margin_rate) == (
        Decimal("50000"),
        Decimal("600000"),
        Decimal("0.005"),
    )
    assert t[1].maintenance_amount == Decimal("50")
    assert t[-1].max_leverage == 1


def test_ccxt_symbol_resolves(binance):
    assert binance.symbol("BTC/USDT:USDT").symbol == "BTCUSDT"
    assert binance.symbol("DOGE/USDT:USDT").symbol == "DOGEUSDT"
    with pytest.raises(pm.UnknownSymbol, match="NOSUCHUSDT"):
        binance.symbol("NOSUCHUSDT")
    with pytest.raises(pm.UnknownSymbol, match=r"686 symbols; nearest: DOGEUSDT"):
        binance.symbol("DOGEUSDTT")


def test_unknown_venue_is_typed():
    with pytest.raises(pm.UnknownVenue, match="bundled"):
        pm.load_venue("no-such-venue")


def _doc() -> dict:
    from importlib import resources

    text = (resources.files("perpmargin.venues") / "data" / "binance-usdm.json").read_text()
    return json.loads(text)


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "my_venue.json"
    path.write_text(json.dumps(doc))
    return path


def test_user_file_loads(tmp_path):
    doc = _doc()
    doc["id"] = "my-venue"
    venue = pm.load_venue(str(_write(tmp_path, doc)))
    assert venue.id == "my-venue"
    assert venue.symbol("ETHUSDT").tiers.tiers[0].max_leverage == 125


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["symbols"]["BTCUSDT"]["tiers"][1].update(min_notional="60000"), "tiers[1]"),
        (
            lambda d: d["symbols"]["BTCUSDT"]["tiers"][0].update(maintenance_margin_rate="0.01"),
            "tiers[0].maintenance_margin_rate",
        ),
        (lambda d: d["symbols"]["BTCUSDT"].pop("tick_size"), "BTCUSDT.tick_size"),
        (lambda d: d["fees"].update(taker=0.0005), "fees.taker"),
        (lambda d: d.update(schema="v0"), "schema"),
        (lambda d: d["rules"].update(default_margin_mode="portfolio"), "default_margin_mode"),
        (
            lambda d: d["symbols"]["BTCUSDT"]["tiers"][2].update(maintenance_amount="951"),
            "tiers[2].maintenance_amount",
        ),
        (lambda d: d["symbols"]["ETHUSDT"]["tiers"][3].update(max_leverage="80"), "tiers[3]"),
        (lambda d: d["symbols"]["ETHUSDT"].update(step_size="NaN"), "step_size"),
        # a misspelt field used to load silently as its default (issue 22)
        (lambda d: d.update(maker_fee="0.0001"), "unknown field(s) 'maker_fee'"),
        (lambda d: d["liquidation"].update(remainder="trader"), "liquidation has unknown"),
        (lambda d: d["rules"].update(remove_margins=True), "'remove_margins'"),
        (lambda d: d["symbols"]["BTCUSDT"].update(tick="0.1"), "symbols.BTCUSDT has unknown"),
        (
            lambda d: d["symbols"]["BTCUSDT"]["tiers"][0].update(mmr="0.01"),
            "BTCUSDT.tiers[0] has unknown field(s) 'mmr'",
        ),
    ],
)
def test_bad_files_name_the_file_and_field(tmp_path, mutate, field):
    doc = _doc()
    mutate(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(pm.VenueDataError) as info:
        pm.load_venue(str(path))
    assert "my_venue.json" in str(info.value)
    assert field in str(info.value)


def test_not_json_is_a_venue_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(pm.VenueDataError, match=r"broken\.json"):
        pm.load_venue(str(path))


def test_with_tiers_and_with_fees_return_modified_copies(binance):
    old = [
        {
            "min_notional": "0",
            "max_notional": "50000",
            "maintenance_margin_rate": "0.004",
            "maintenance_amount": "0",
            "max_leverage": "125",
        },
        {
            "min_notional": "50000",
            "max_notional": None,
            "maintenance_margin_rate": "0.005",
            "maintenance_amount": "50",
            "max_leverage": "100",
        },
    ]
    what_if = binance.with_tiers("BTCUSDT", old)
    assert len(what_if.symbol("BTCUSDT").tiers.tiers) == 2
    assert len(binance.symbol("BTCUSDT").tiers.tiers) == 12  # original untouched
    cheaper = binance.with_fees(taker="0.0004", maker="0")
    assert cheaper.taker_fee_rate == Decimal("0.0004")
    assert binance.taker_fee_rate == Decimal("0.0005")
    with pytest.raises(pm.VenueDataError, match="contiguous"):
        binance.with_tiers("BTCUSDT", [old[0], {**old[1], "min_notional": "40000"}])
    with pytest.raises(pm.InvalidInput):
        binance.with_fees(taker="1.5")
