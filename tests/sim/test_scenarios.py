"""Key outcomes of the bundled scenarios on real Binance bars: who is liquidated, when.

Times are UTC bar open times of the bar in which the liquidation happened. The bars
are last-trade prices standing in for the mark (no mark series is bundled).
"""

import datetime as dt
from decimal import Decimal as D

import pytest

from perpmargin.events import FundingSettled, Liquidation
from perpmargin.sim.plan import load_plans
from perpmargin.sim.replay import replay


@pytest.fixture(scope="module")
def runs():
    cache = {}

    def get(name, variant=0):
        if (name, variant) not in cache:
            cache[(name, variant)] = replay(load_plans(name)[variant])
        return cache[(name, variant)]

    return get


def liqs(result, mode):
    return [
        (
            q.symbol,
            q.side,
            dt.datetime.fromtimestamp(q.time / 1000, tz=dt.UTC).strftime("%m-%d %H:%M"),
        )
        for q in result.runs[mode].outcome.liquidations
    ]


def test_seed_isolated_loses_its_margin_cross_survives(runs):
    r = runs("seed-2020-03-12")
    assert liqs(r, "isolated") == [("BTCUSDT", "long", "03-12 10:25")]
    assert liqs(r, "cross") == []
    iso = r.runs["isolated"].outcome
    qty, entry = r.quantities[0], r.entry_prices[0]
    margin = qty * entry / 10
    # the whole margin is gone (Binance: what is left goes to the insurance fund), no more
    assert iso.final_equity == D(10000) - margin - iso.fees
    cross = r.runs["cross"].outcome
    assert cross.final_equity < iso.final_equity  # survived, but lost more than $500
    assert cross.min_equity < D(8000)


def test_seed_with_half_the_account_cross_is_wiped_out(runs):
    r = runs("seed-2020-03-12", 1)
    assert liqs(r, "isolated") == [("BTCUSDT", "long", "03-12 10:25")]
    assert liqs(r, "cross") == [("BTCUSDT", "long", "03-12 10:42")]
    assert r.runs["cross"].outcome.final_equity == 0
    assert r.runs["isolated"].outcome.final_equity > D(4900)


@pytest.mark.parametrize(
    ("name", "isolated", "cross_time"),
    [
        (
            "pair-2022-11-08",
            [("ETHUSDT", "short", "11-08 16:00"), ("BTCUSDT", "long", "11-08 18:15")],
            "11-08 19:30",
        ),
        ("pair-2025-10-10", [("BTCUSDT", "long", "10-10 19:15")], "10-10 21:15"),
    ],
)
def test_pair_cross_takes_both_legs(runs, name, isolated, cross_time):
    r = runs(name)
    assert liqs(r, "isolated") == isolated
    # cross: one liquidation event takes the BTC long and the ETH short together
    assert liqs(r, "cross") == [
        ("BTCUSDT", "long", cross_time),
        ("ETHUSDT", "short", cross_time),
    ]
    assert r.runs["cross"].outcome.final_equity == 0
    assert r.runs["isolated"].outcome.final_equity > D(4000)


@pytest.mark.parametrize(
    ("name", "isolated"),
    [
        (
            "pair-2022-11-08",
            [("ETHUSDT", "short", "11-08 16:00"), ("BTCUSDT", "long", "11-08 18:15")],
        ),
        ("pair-2025-10-10", [("BTCUSDT", "long", "10-10 19:15")]),
    ],
)
def test_balanced_pair_survives_in_cross(runs, name, isolated):
    r = runs(name, 1)
    assert liqs(r, "isolated") == isolated
    assert liqs(r, "cross") == []
    assert r.runs["cross"].outcome.final_equity > D(10000)


def test_stop_beyond_liquidation_and_its_fixes(runs):
    base = runs("stop-before-liquidation-2024-08-05")
    statuses = {m.margin_mode: m.status for m in base.checks[0].venues[0].modes}
    assert statuses["isolated"] == "FAIL"
    assert liqs(base, "isolated") == [("BTCUSDT", "long", "08-05 01:00")]
    assert liqs(base, "cross") == []
    assert all(t.kind == "entry" for t in base.runs["cross"].outcome.trades)  # stop never hit
    lower = runs("stop-before-liquidation-2024-08-05", 1)
    statuses = {m.margin_mode: m.status for m in lower.checks[0].venues[0].modes}
    assert statuses["isolated"] != "FAIL"
    added = runs("stop-before-liquidation-2024-08-05", 2)
    assert added.runs["isolated"].outcome.margin_added == D(150)
    for fixed in (lower, added):
        assert liqs(fixed, "isolated") == []
        assert (
            fixed.runs["isolated"].outcome.final_equity == fixed.runs["cross"].outcome.final_equity
        )


def test_funding_is_paid_the_same_way_until_isolated_is_liquidated(runs):
    r = runs("funding-2021-05-19")
    assert liqs(r, "isolated") == [("BTCUSDT", "long", "05-19 13:00")]
    assert liqs(r, "cross") == []

    def paid(mode):
        return [
            (e.time, e.rate, e.amount)
            for e in r.runs[mode].account.ledger
            if isinstance(e, FundingSettled)
        ]

    iso, cross = paid("isolated"), paid("cross")
    assert len(cross) == 5
    assert len(iso) == 2  # 00:00 and 08:00 before the 13:00 wick
    assert iso == cross[:2]
    assert cross[2][1] < 0
    assert cross[2][2] < 0  # 16:00: negative rate, the long is paid
    short = runs("funding-2021-05-19", 1)
    assert short.runs["isolated"].outcome == short.runs["cross"].outcome.__class__(
        **{**short.runs["cross"].outcome.__dict__, "mode": "isolated"}
    )


def test_every_liquidation_is_in_the_ledger(runs):
    r = runs("pair-2022-11-08")
    for mode, run in r.runs.items():
        events = [e for e in run.account.ledger if isinstance(e, Liquidation)]
        assert len(events) == len(run.outcome.liquidations), mode
