"""Quiet stretches (perpmargin.sim.quiet): reading them at once gives the walk's numbers.

Every comparison replays the same plan twice, ``skip_quiet=False`` (every bar walked
through the engine, four marks a bar) and the default, and asserts equality to the last
bit: the outcome (Decimal money, liquidations, trades, drawdown), the whole series
(float64, NaN included), the account's ledger and its previous marks (Hyperliquid's
auto-deleveraging prices at them).
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import perpmargin as pm
from perpmargin.demo import story_order
from perpmargin.engine.events import MarksUpdated
from perpmargin.sim.data import Bars, Funding
from perpmargin.sim.market import load_market
from perpmargin.sim.plan import MarginTrigger, Plan, PlanError, PositionPlan, Size, load_plans
from perpmargin.sim.quiet import exact_floats, scaled_bars, scaled_on_floats
from perpmargin.sim.replay import replay, replay_setting

T0 = 1_700_000_040_000


def assert_same(walked: pm.PlanResult, read: pm.PlanResult) -> None:
    assert walked.runs.keys() == read.runs.keys()
    for mode, a in walked.runs.items():
        b = read.runs[mode]
        assert a.quiet_bars == 0
        assert a.outcome == b.outcome, mode
        pd.testing.assert_frame_equal(a.series, b.series, check_exact=True)
        assert a.account.ledger == b.account.ledger, mode
        assert a.account._previous_marks == b.account._previous_marks, mode
        assert a.account.insurance_fund.balance == b.account.insurance_fund.balance


@pytest.mark.parametrize("name", story_order())
def test_every_bundled_scenario_reads_the_same_numbers(name):
    read_any = 0
    for plan in load_plans(name):
        walked = replay(plan, skip_quiet=False)
        read = replay(plan)
        assert_same(walked, read)
        read_any += sum(r.quiet_bars for r in read.runs.values())
    if name != "adl-2025-10-10":  # counterparties: walked, said in perpmargin.sim.quiet
        assert read_any > 0


def _walk(rng: np.random.Generator, n: int, tick: D | None, vol: float) -> pd.DataFrame:
    """A random path of ``n`` 1-minute bars on the tick grid (or any float: a simulated
    path's prices, with up to 17 significant digits), with gaps and wicks."""
    price, rows = 10000.0, []
    step = float(tick) if tick is not None else 0.0
    for k in range(n):
        op = price * (1 + rng.normal(0, vol / 4)) if rng.random() < 0.2 else price
        moves = op * np.exp(np.cumsum(rng.normal(0, vol, 4)))
        close = moves[-1]
        high = max(op, close, moves.max() * (1 + abs(rng.normal(0, vol / 2))))
        low = min(op, close, moves.min() * (1 - abs(rng.normal(0, vol / 2))))
        row = [round(x / step) * step if step else x for x in (op, high, low, close)]
        rows.append([T0 + k * 60_000, *(round(x, 8) if step else x for x in row)])
        price = row[3]
    return pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close"])


LINEAR = ("binance-usdm", "bybit-linear", "okx-swap", "gate-futures", "hyperliquid", "dydx-v4")


@st.composite
def random_plans(draw):
    venue_id = draw(st.sampled_from(LINEAR))
    base = pm.load_venue(venue_id)
    first = base.symbol(next(iter(base.symbols)))
    n_pos = draw(st.integers(1, 3))
    names = [f"Q{k}" for k in range(n_pos)]
    venue = replace(
        base,
        symbols={s: replace(first, symbol=s, ccxt_symbol=f"{s}/USDT:USDT") for s in names},
    )
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    n_bars = 90
    vol = draw(st.sampled_from([0.0005, 0.003, 0.01]))
    tick = first.tick_size if draw(st.integers(0, 3)) else None
    bars = {s: Bars(_walk(rng, n_bars, tick, vol), 60_000, f"walk {s}") for s in names}
    marks = {}
    if draw(st.booleans()):  # mark bars apart from the trades
        for s in names:
            f = bars[s].frame.copy()
            t = float(first.tick_size)
            for c in ("open", "high", "low", "close"):
                f[c] = (np.round(f[c] * (1 + rng.normal(0, vol / 3, len(f))) / t) * t).round(8)
            f["high"] = f[["open", "high", "low", "close"]].max(axis=1)
            f["low"] = f[["open", "high", "low", "close"]].min(axis=1)
            marks[s] = Bars(f, 60_000, f"marks {s}")
    funding = {}
    if draw(st.booleans()):
        for s in names:
            times = [T0 + k * 60_000 + 1 for k in range(7, n_bars, 16)]
            rates = rng.normal(0, 0.001, len(times)).round(6)
            frame = pd.DataFrame({"funding_time": times, "funding_rate": rates})
            funding[s] = Funding(frame, f"funding {s}")
    positions = []
    for s in names:
        side = draw(st.sampled_from(["long", "short"]))
        sign = 1 if side == "long" else -1
        lev = draw(st.sampled_from([2, 5, 10, 20]))
        start = bars[s].frame["open"].iloc[0]
        kw = {}

        def near(f: float, start: float = start) -> D:
            return D(round(start * f / float(first.tick_size))) * first.tick_size

        if draw(st.booleans()):
            kw["stop"] = near(1 - sign * draw(st.sampled_from([0.01, 0.03, 0.08])))
            kw["stop_trigger"] = draw(st.sampled_from(["last", "mark"]))
        if draw(st.booleans()):
            kw["take_profit"] = near(1 + sign * draw(st.sampled_from([0.01, 0.05])))
        if draw(st.booleans()):
            kw["at"] = draw(st.integers(0, 40))
        if draw(st.booleans()):
            kw["add_margin"] = (MarginTrigger(D(100), at_price=near(1 - sign * 0.02)),)
        margin = draw(st.sampled_from([100, 500, 2000]))
        positions.append(PositionPlan(s, side, D(lev), Size("margin", D(margin)), **kw))
    plan = Plan(
        name="random",
        venue=venue_id,
        balance=D(draw(st.sampled_from([1000, 5000, 50000]))),
        bars=dict.fromkeys(names, "random"),
        positions=tuple(positions),
        intrabar=draw(st.sampled_from(["conservative", "optimistic"])),
        liquidation_model=draw(st.sampled_from(["full", "venue"])),
    )
    market = load_market(plan, bars=bars, marks=marks or None, funding=funding or None)
    return plan, market, venue


@settings(max_examples=40)
@given(random_plans())
def test_random_plans_read_the_same_numbers(case):
    plan, market, venue = case
    try:
        walked = replay(plan, market, venue=venue, skip_quiet=False, progress=False)
    except PlanError as exc:  # refused before any bar (sizing, pre-trade check): both ways
        with pytest.raises(PlanError, match=re.escape(str(exc))):
            replay(plan, market, venue=venue, progress=False)
        return
    read = replay(plan, market, venue=venue, progress=False)
    assert_same(walked, read)


def test_a_long_quiet_day_is_read_in_a_few_stretches():
    plan = load_plans("seed-2020-03-12")[0]
    run = replay(plan).runs["isolated"]
    assert run.quiet_bars >= len(run.series) - 10
    # the ledger keeps one mark update between changes of state, not one per point
    marks = [e for e in run.account.ledger if isinstance(e, MarksUpdated)]
    assert len(marks) <= 10


def test_inverse_contracts_are_walked():
    plan = Plan(
        name="inverse",
        venue="binance-coinm",
        balance=D(1),
        bars={"BTCUSD_PERP": "binance-btcusdt-perp-1m-2020-03-12.csv"},
        positions=(PositionPlan("BTCUSD_PERP", "long", D(2), Size("margin", D("0.1"))),),
    )
    walked, read = replay(plan, skip_quiet=False), replay(plan)
    assert read.runs["cross"].quiet_bars == 0  # held all day: every bar walked
    liquidated = read.runs["isolated"].outcome.liquidations[0].time
    assert read.runs["isolated"].quiet_bars <= int((read.market.times > liquidated).sum())
    assert_same(walked, read)


def test_a_setting_reads_the_same_numbers():
    plan = load_plans("pair-2022-11-08")[0]
    setting = pm.Setting(("isolated", "cross"), (D(250), D(0)))
    a = replay_setting(plan, setting, skip_quiet=False)
    b = replay_setting(plan, setting)
    assert b.quiet_bars > 0
    assert a.outcome == b.outcome
    pd.testing.assert_frame_equal(a.series, b.series, check_exact=True)
    assert a.account.ledger == b.account.ledger


def test_exact_floats_round_once():
    big = np.array([2**60 + 1, 3], dtype=object)
    assert exact_floats(big, 7).tolist() == [(2**60 + 1) / 7, 3 / 7]
    small = np.array([10, -3], dtype=np.int64)
    assert exact_floats(small, np.array([4, 7])).tolist() == [2.5, -3 / 7]


def test_scaled_bars_are_the_exact_prices():
    plan = load_plans("seed-2020-03-12")[0]
    market = load_market(plan)
    s = plan.symbols[0]
    scaled = scaled_bars(market, s)
    assert scaled_bars(market, s) is scaled  # cached
    for i in (0, 17, len(market) - 1):
        for col in range(4):
            assert D(int(scaled.trade[i, col])).scaleb(-scaled.places) == market.trade[s][i][col]


@settings(max_examples=15)
@given(random_plans())
def test_random_plans_are_mostly_read_at_once(case):
    """Not a speed test: the reading must actually be used where nothing happens."""
    plan, market, venue = case
    try:
        read = replay(plan, market, venue=venue, progress=False)
    except PlanError:
        return
    for run in read.runs.values():
        cross_symbols = {p.symbol for p in plan.positions if run.mode == "cross"}
        if len(cross_symbols) <= 1 and not run.outcome.trades[1:] and not run.outcome.notes:
            assert run.quiet_bars > 0


def test_prices_finer_than_a_float_proves_are_scaled_the_exact_way():
    fine = [(D("0.1234567890123456789"), D("0.2"), D("0.1"), D("0.15"))] * 3
    assert scaled_on_floats(fine) is None  # 19 places: not provable on float64
    coarse = [(D("9253.3"), D("9259.84"), D("9200"), D("9250.5"))]
    places, ints = scaled_on_floats(coarse)
    assert places == 2
    assert ints.tolist() == [[925330, 925984, 920000, 925050]]


def test_a_cross_pool_of_two_symbols_is_read_at_once():
    """The pair's cross run: each leg's charted liquidation price moves with the other
    leg's mark every bar, read exactly (the comparison with the walk is above)."""
    plan = load_plans("pair-2022-11-08")[0]
    read = replay(plan).runs["cross"]
    assert read.quiet_bars > len(read.series) // 2
    liq = read.series["BTCUSDT long liq"]
    assert liq.nunique() > 10  # it moves with ETH's mark, bar by bar
