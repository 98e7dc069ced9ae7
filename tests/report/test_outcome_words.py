"""Words in every outcome summary agree with the numbers beside them (issue 22, items 2
and 3): partial liquidations are counted as liquidations, and the headline is which
mode ended better and by how much, not which one "survived"."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from rich.console import Console

from perpmargin.report.common import (
    liquidation_status,
    liquidation_text,
    money,
    places_for,
    verdict,
)
from perpmargin.report.html import render_html
from perpmargin.report.jsonout import plan_result_dict
from perpmargin.report.terminal import print_summary
from perpmargin.sim.plan import load_plans
from perpmargin.sim.replay import replay


@pytest.fixture(scope="module")
def partial():
    return replay(load_plans("partial-2025-10-10")[0])


@pytest.fixture(scope="module")
def seed():
    return replay(load_plans("seed-2020-03-12")[0])


def test_a_partial_liquidation_is_counted_and_shown(partial):
    cut = [(m, r.outcome) for m, r in partial.runs.items() if r.outcome.partial_liquidations]
    assert cut, "the scenario has a partial liquidation: the test can fail"
    mode, outcome = cut[0]
    assert outcome.hit_by_liquidation
    assert "partly liquidated" in liquidation_status(outcome)
    text = liquidation_text(outcome)
    assert text != "no"
    first = outcome.partial_liquidations[0]
    assert f"{first.quantity} cut" in text
    doc = plan_result_dict(partial)["modes"][mode]
    assert doc["liquidation_count"] >= len(outcome.partial_liquidations) >= 1
    assert "partly liquidated" in doc["liquidation_status"]
    out = io.StringIO()
    print_summary([partial], Console(file=out, width=300), title="t")
    assert "partial:" in out.getvalue()
    assert "partly liquidated" in out.getvalue()
    page = render_html([partial])
    assert "partly liquidated" in page
    assert "partly: " in page


def test_the_headline_is_the_mode_that_ended_better(seed):
    """2020-03-12, BTC long 10x $500 of a $10,000 wallet: isolated is liquidated and
    loses its margin, cross is not and ends lower. The headline says isolated ended
    better, by the difference of the two final equities."""
    iso, cross = (seed.runs[m].outcome for m in ("isolated", "cross"))
    assert iso.liquidated
    assert not cross.hit_by_liquidation
    assert iso.final_equity > cross.final_equity
    judged = verdict(seed)
    assert judged.better == "isolated"
    assert judged.by == iso.final_equity - cross.final_equity
    assert judged.text.startswith(f"isolated ended {money(judged.by)} better")
    assert "cross not liquidated" in judged.text
    assert "isolated liquidated" in judged.text
    page = render_html([seed])
    assert "survived" not in page
    assert judged.text in page
    doc = plan_result_dict(seed)
    assert doc["verdict"]["better"] == "isolated"
    assert Decimal(doc["verdict"]["by"]) == judged.by


def test_a_tie_names_no_winner(seed):
    import dataclasses

    iso = seed.runs["isolated"]
    tied = dataclasses.replace(seed, runs={"isolated": iso, "cross": iso})
    judged = verdict(tied)
    assert judged.better is None
    assert judged.by == 0
    assert judged.text.startswith("both modes end the same")


def test_money_is_shown_at_the_settle_assets_precision():
    """Issue 22: 0.0234 BTC was printed as 0.02. Dollars and dollar coins show cents;
    any other coin the ledger's 8 decimals, in every replay summary."""
    from perpmargin.sim.plan import plan_from_dict

    assert places_for("USDT") == places_for("USDC") == 2
    assert places_for("BTC") == 8
    assert money(Decimal("0.0234"), places_for("BTC")) == "0.02340000"
    assert money(0.0234, 8) == "0.02340000"
    assert money(Decimal("-0.00000001"), 8) == "-0.00000001"
    coin = replay(
        plan_from_dict(
            {
                "name": "inverse long",
                "venue": "binance-coinm",
                "balance": "0.05",
                "bars": {"BTCUSD_PERP": "binance-btcusdt-perp-15m-2020-03-12.csv"},
                "positions": [
                    {"symbol": "BTCUSD_PERP", "side": "long", "leverage": 2,
                     "size": {"margin": "0.0234"}}
                ],
            }
        )
    )  # fmt: skip
    iso = coin.runs["isolated"].outcome
    assert iso.settle == "BTC"
    assert f"ends {money(iso.final_equity, 8)}" in verdict(coin).text
    assert len(money(iso.final_equity, 8).split(".")[1]) == 8
    page = render_html([coin])
    assert money(iso.final_equity, 8) in page
