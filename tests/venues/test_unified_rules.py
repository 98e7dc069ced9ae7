"""Unified-account rules as data (perpmargin.venues.unified): the bundled files, and
every malformed file refused with a message that names the field."""

from __future__ import annotations

import copy
import json
from decimal import Decimal as D
from importlib import resources

import pytest

from perpmargin.errors import MissingParameter, UnknownVenue, VenueDataError
from perpmargin.venues.unified import bundled_unified, load_unified, parse_unified


def bundled_doc(name: str) -> dict:
    res = resources.files("perpmargin.venues") / "data" / "unified" / f"{name}.json"
    return json.loads(res.read_text())


@pytest.mark.parametrize("name", bundled_unified())
def test_every_bundled_file_loads_with_its_sources(name):
    rules = load_unified(name)
    assert rules.id == name
    assert rules.source
    assert rules.ratio_source
    assert rules.collateral_source
    assert rules.liquidation_source
    for level in rules.levels:
        assert level.source


def test_the_three_venues_and_their_triggers():
    assert set(bundled_unified()) >= {"binance-pm", "bybit-uta", "okx-multi-currency"}
    binance = load_unified("binance-pm")
    assert binance.liquidated(D("1.0499"))
    assert not binance.liquidated(D("1.05"))
    bybit = load_unified("bybit-uta")
    assert bybit.liquidated(D(1))
    assert not bybit.liquidated(D("0.9999"))
    okx = load_unified("okx-multi-currency")
    assert okx.liquidated(D(1))
    assert not okx.liquidated(D("1.0001"))
    # unlisted assets: Binance's published default rate, the others ask
    assert binance.tiers("XYZ")[0].rate == D("0.1")
    with pytest.raises(MissingParameter, match="okx-multi-currency has no collateral rate"):
        okx.tiers("BTC")


def test_unknown_rules_name():
    with pytest.raises(UnknownVenue, match="bundled are"):
        load_unified("nope-pm")


BAD = [
    (lambda d: d.update(schema="x"), "schema must be"),
    (lambda d: d.update(extra=1), "unknown field"),
    (lambda d: d.update(futures=[]), "futures must be"),
    (lambda d: d["ratio"].update(kind="sideways"), "ratio.kind must be one of"),
    (lambda d: d["ratio"].update(trigger="near"), "ratio.trigger must be one of"),
    (lambda d: d["ratio"].update(liquidation_at="-1"), "liquidation_at"),
    (lambda d: d["ratio"].pop("source"), "ratio.source is missing"),
    (lambda d: d["collateral"].update(unit="btc"), "collateral.unit must be one of"),
    (lambda d: d["collateral"]["assets"].update(BTC=[["0", "10", "1.2"]]), "at most 1"),
    (lambda d: d["collateral"]["assets"].update(BTC=[["1", "10", "0.9"]]), "contiguous"),
    (
        lambda d: d["collateral"]["assets"].update(BTC=[["0", "", "0.9"], ["5", "9", "0.8"]]),
        "only the last tier",
    ),
    (lambda d: d["collateral"]["assets"].update(BTC=[["0", "10", 0.9]]), "not 0.9"),
    (lambda d: d["collateral"]["assets"].update(BTC=[]), "non-empty list"),
    (lambda d: d["liquidation"].update(action="guess"), "liquidation.action must be one of"),
    (lambda d: d.update(notes="x"), "notes must be a list"),
    (
        lambda d: d.update(scenario={"moves": {"BTC": "1.5"}, "step": "0.02", "source": "x"}),
        "fractions below 1",
    ),
    (lambda d: d.update(scenario={"moves": {"BTC": "0.1"}, "source": "x"}), "scenario.step"),
]


@pytest.mark.parametrize(("spoil", "message"), BAD)
def test_malformed_files_are_refused_by_field(spoil, message):
    doc = copy.deepcopy(bundled_doc("binance-pm"))
    spoil(doc)
    with pytest.raises(VenueDataError, match=message):
        parse_unified(doc, "mine.json")


def test_a_users_file_by_path(tmp_path):
    doc = bundled_doc("bybit-uta")
    doc["id"] = "bybit-uta-mine"
    doc["collateral"]["assets"] = {"USDT": [["0", "", "1"]], "BTC": [["0", "10", "0.98"]]}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(doc))
    rules = load_unified(path)
    assert rules.id == "bybit-uta-mine"
    assert rules.tiers("BTC")[0].cap == D(10)
    path.write_text("{not json")
    with pytest.raises(VenueDataError, match="not readable JSON"):
        load_unified(path)
