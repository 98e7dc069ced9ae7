"""Dated tier tables (venues/data/history): a replay can use the tables of its day.

The history is every version of Binance USDⓈ-M BTCUSDT's and ETHUSDT's brackets in
freqtrade's public binance_leverage_tiers.json (a weekly ccxt dump of Binance's
/fapi/v1/leverageBracket), 2022-02 to 2026-03-05 (scripts/import_tier_history.py).
"""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

import perpmargin as pm
from perpmargin.cli import app
from perpmargin.errors import VenueDataError
from perpmargin.sim.plan import load_plans
from perpmargin.sim.replay import replay


def bounds(venue: pm.Venue, symbol: str) -> list[D | None]:
    return [t.upper for t in venue.symbol(symbol).tiers.tiers]


def test_the_table_in_force_on_a_day():
    then = pm.load_venue("binance-usdm", as_of="2022-11-08")
    assert bounds(then, "BTCUSDT")[:3] == [D(50000), D(250000), D(1000000)]
    assert then.symbol("BTCUSDT").tiers_as_of == "2022-05-21"
    now = pm.load_venue("binance-usdm", as_of="2026-03-05")
    # BTCUSDT's first bracket grew from 50,000 to 300,000 on 2025-06-19 (the fact)
    assert bounds(now, "BTCUSDT")[0] == D(300000)
    assert now.symbol("BTCUSDT").tiers.tiers[0].max_leverage == D(150)
    assert "commit" in now.symbol("BTCUSDT").tiers_source


def test_the_history_agrees_with_the_bundled_tables_of_their_date():
    """The bundled BTCUSDT / ETHUSDT tables (freqtrade's file of 2024-10-24) are the
    history's version in force that day: two extracts of one source agree."""
    bundled = pm.load_venue("binance-usdm")
    then = pm.load_venue("binance-usdm", as_of="2024-10-24")
    for symbol in ("BTCUSDT", "ETHUSDT"):
        assert then.symbol(symbol).tiers == bundled.symbol(symbol).tiers


def test_a_day_before_the_history_gets_the_first_table_and_says_so():
    crash = pm.load_venue("binance-usdm", as_of="2020-03-12")
    assert crash.symbol("BTCUSDT").tiers_as_of == "2022-02-13"
    assert crash.symbol("BTCUSDT").tiers_source.startswith("no table known for 2020-03-12")


def test_venues_without_history_and_bad_dates():
    bybit = pm.load_venue("bybit-linear", as_of="2022-11-08")
    assert bybit.symbol("BTCUSDT").tiers == pm.load_venue("bybit-linear").symbol("BTCUSDT").tiers
    with pytest.raises(VenueDataError, match="as_of must be a date"):
        pm.load_venue("binance-usdm", as_of="yesterday")


def test_a_replay_with_the_tables_of_its_day():
    """2025-10-10, a $1.5M BTC long: the day's ladder (first bracket 300,000) is not the
    bundled 2024 one, and the replay's numbers follow it."""
    plan = load_plans("partial-2025-10-10")[0]
    today = replay(plan)
    that_day = replay(plan, venue=pm.load_venue(plan.venue, as_of="2025-10-10"))
    assert that_day.runs["isolated"].outcome != today.runs["isolated"].outcome
    out = CliRunner().invoke(app, ["replay", "partial-2025-10-10", "--tiers-of-the-day",
                                   "--json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)[0]
    final = doc["modes"]["isolated"]["final_equity"]
    assert D(final) == that_day.runs["isolated"].outcome.final_equity
