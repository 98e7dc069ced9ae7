"""A replay with counterparty accounts: who gets auto-deleveraged, by margin mode.

The bundled scenario ``adl-2025-10-10`` (real Binance 1-minute bars) puts a 15x whale long
and three shorts beside the trader's 5x short, with an empty insurance fund. The ranking
is checked against the venue's rule computed here by hand from the fills (Binance's
LeveragePnL: uPnL / collateral x value / (collateral + uPnL); source in
binance-usdm.json ``liquidation.adl``), not against the engine's own ``adl_score``.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal as D

import pytest

import perpmargin as pm
from perpmargin.events import Fill, Liquidation
from perpmargin.report.html import render_html
from perpmargin.report.jsonout import plan_result_dict
from perpmargin.sim.plan import Counterparty, PlanError, PositionPlan, Size, load_plans
from perpmargin.sim.replay import replay


@pytest.fixture(scope="module")
def adl_plan():
    return load_plans("adl-2025-10-10")[0]


@pytest.fixture(scope="module")
def adl_result(adl_plan):
    return replay(adl_plan)


def _score(account, balance, mark):
    """The venue's ranking, by hand: the account's one leg, just before the ADL
    (no funding falls inside the scenario's window)."""
    entry = next(e for e in account.ledger if isinstance(e, Fill) and e.liquidity == "taker")
    side = 1 if entry.position_side == "long" else -1
    upnl = side * entry.quantity * (mark - entry.price)
    collateral = (
        entry.quantity * entry.price / entry.leverage
        if entry.margin_mode == "isolated"
        else balance - entry.fee  # the deposit, less the opening fee
    )
    value = entry.quantity * mark
    return upnl / collateral * value / (collateral + upnl)


def test_the_isolated_short_is_deleveraged_and_the_cross_one_is_not(adl_result):
    iso, cross = adl_result.runs["isolated"], adl_result.runs["cross"]
    (qty,) = adl_result.quantities
    (adl_fill,) = [t for t in iso.outcome.trades if t.kind == "adl"]
    assert adl_fill.quantity == qty  # the whole short, at the whale's bankruptcy price
    assert [d.counterparty for d in iso.outcome.adl] == ["trader"]
    assert not [t for t in cross.outcome.trades if t.kind == "adl"]
    assert cross.outcome.adl == ()
    # the ADL closed the isolated short early: its equity differs from cross by more
    # than the fees, and both runs saw the same whale bankruptcy
    assert abs(iso.outcome.final_equity - cross.outcome.final_equity) > 1000
    for run in (iso, cross):
        (whale,) = [c for c in run.counterparties if c.name == "whale long 15x"]
        assert whale.liquidations
        assert whale.final_equity == 0
        assert whale.bankrupt_deleveraged == sum(d.quantity for d in run.deleveragings)


@pytest.mark.parametrize("mode", ["isolated", "cross"])
def test_deleveraging_follows_the_venue_ranking_computed_by_hand(adl_plan, adl_result, mode):
    run = adl_result.runs[mode]
    house = run.clearinghouse
    assert house is not None
    assert house.accounts["trader"] is run.account
    whale = house.accounts["whale long 15x"]
    (liq,) = [e for e in whale.ledger if isinstance(e, Liquidation)]
    mark = liq.mark_price
    balances = {c.name: c.balance for c in adl_plan.counterparties} | {"trader": adl_plan.balance}
    shorts = {
        name: _score(acct, balances[name], mark)
        for name, acct in house.accounts.items()
        if name != "whale long 15x"
    }
    ranked = sorted(shorts, key=lambda n: -shorts[n])
    order = [d.counterparty for d in run.deleveragings]
    assert order == ranked[: len(order)]  # highest score first, nobody skipped
    taken = sum(d.quantity for d in run.deleveragings)
    assert taken == liq.deleveraged == liq.quantity  # the whole bankrupt leg was covered

    # the last one in the queue was cut only in part, the others in full
    def held(name):
        acct = house.accounts[name]
        return next(e for e in acct.ledger if isinstance(e, Fill)).quantity

    for d in run.deleveragings[:-1]:
        assert d.quantity == held(d.counterparty)
    assert run.deleveragings[-1].quantity < held(run.deleveragings[-1].counterparty)
    # isolated: the trader's small margin puts it ahead of the 3x short; cross: behind
    if mode == "isolated":
        assert ranked.index("trader") < ranked.index("short 3x isolated")
    else:
        assert ranked.index("trader") > ranked.index("short 3x isolated")
    # ADL only because the fund could not pay: it held nothing and paid nothing
    assert house.insurance_fund.balance >= 0
    assert liq.insurance_fund_delta >= 0
    assert all(d.price == liq.bankruptcy_price for d in run.deleveragings)


@pytest.mark.parametrize("mode", ["isolated", "cross"])
def test_money_is_conserved_over_every_account_and_ledgers_replay(adl_plan, adl_result, mode):
    house = adl_result.runs[mode].clearinghouse
    opening = adl_plan.balance + sum(c.balance for c in adl_plan.counterparties)
    assert house.total_money() == opening + adl_plan.insurance_fund
    for acct in house.accounts.values():
        assert pm.replay(acct.ledger) == acct.snapshot()
        assert acct.equity >= 0


def test_a_fund_that_can_pay_means_no_adl(adl_plan):
    rich = dataclasses.replace(adl_plan, insurance_fund=D(10_000_000))
    result = replay(rich)
    for run in result.runs.values():
        assert run.deleveragings == ()
        assert run.outcome.adl == ()
        whale = run.clearinghouse.accounts["whale long 15x"]
        (liq,) = [e for e in whale.ledger if isinstance(e, Liquidation)]
        assert liq.deleveraged == 0
        assert run.clearinghouse.insurance_fund.balance < 10_000_000  # it paid the deficit
    # without ADL the trader's short is the same position in both modes
    iso, cross = (result.runs[m].outcome for m in ("isolated", "cross"))
    assert [t.kind for t in iso.trades] == [t.kind for t in cross.trades] == ["entry"]


def test_reports_show_counterparties_and_adl(adl_result):
    page = render_html([adl_result])
    assert "Counterparties and auto-deleveraging" in page
    assert "auto-deleveraged" in page  # the chart marker
    assert "whale long 15x bankrupt" in page
    data = plan_result_dict(adl_result)
    iso = data["modes"]["isolated"]
    assert next(c["name"] for c in iso["counterparties"]) == "whale long 15x"
    assert iso["deleveragings"][0]["bankrupt"] == "whale long 15x"
    json.dumps(data)


def _cp(**change):
    pos = PositionPlan("BTCUSDT", "long", D(10), Size("qty", D(1)))
    fields = {"name": "other", "balance": D(10_000), "positions": (pos,)}
    fields.update(change)
    return Counterparty(**fields)


def test_bad_counterparties_are_refused_with_the_field_named(adl_plan, tmp_path):
    with pytest.raises(PlanError, match="liquidation_model"):
        dataclasses.replace(adl_plan, liquidation_model="full")
    with pytest.raises(PlanError, match="other than 'trader'"):
        _cp(name="trader")
    with pytest.raises(PlanError, match="margin_mode"):
        _cp(margin_mode="portfolio")
    stop = PositionPlan("BTCUSDT", "long", D(10), Size("qty", D(1)), stop=D(100))
    with pytest.raises(PlanError, match="no stop"):
        _cp(positions=(stop,))
    limit = PositionPlan("BTCUSDT", "long", D(10), Size("qty", D(1)), entry=D(100))
    with pytest.raises(PlanError, match="at market"):
        _cp(positions=(limit,))
    with pytest.raises(PlanError, match="repeat"):
        dataclasses.replace(adl_plan, counterparties=(_cp(), _cp()))
    eth = PositionPlan("ETHUSDT", "long", D(10), Size("qty", D(1)))
    with pytest.raises(PlanError, match="no bars for ETHUSDT"):
        dataclasses.replace(adl_plan, counterparties=(_cp(positions=(eth,)),))
    with pytest.raises(pm.InvalidInput):
        dataclasses.replace(adl_plan, insurance_fund=D(-1))
    text = (
        'name = "x"\nvenue = "binance-usdm"\nbalance = 1000\nliquidation_model = "venue"\n'
        '[bars]\nBTCUSDT = "binance-btcusdt-perp-1m-2025-10-10.csv"\n'
        '[[positions]]\nsymbol = "BTCUSDT"\nside = "long"\nleverage = 5\nsize = { qty = 0.01 }\n'
        '[[counterparties]]\nname = "a"\nbalance = 100\nleverge = 3\npositions = []\n'
    )
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PlanError, match=r"counterparties\[0\].*unknown key.*leverge"):
        load_plans(path)
