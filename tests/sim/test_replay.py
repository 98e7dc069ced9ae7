"""The replay on a tiny hand-computed bar series: every number written out.

Venue: Binance USDⓈ-M BTCUSDT as bundled: taker 0.05 %, maker 0.02 %, tier 1 MMR
0.4 % with no maintenance amount, liquidation fee 1.25 % (capped at what is left, the
rest to the insurance fund), tick 0.1, step 0.001.

Four 1-minute bars (conservative path: a long walks open -> low -> high -> close):

    bar  open   high   low   close
    0    10000  10050  9900  10000
    1    10000  10010  9500   9600   funding +0.01 % settles inside this bar
    2     9450   9650  9000   9100   (gap down from 9600)
    3     9000   9300  8950   9200   (gap down from 9100)

Plan: $1,000, long 0.1 BTC at 10x, market at bar 0's open (10,000).

- Open: notional 1,000, isolated margin 100, taker fee 0.50.
- Funding at bar 1's open (mark 10,000): 0.1 x 10,000 x 0.0001 = 0.10, paid by the long
  (isolated: out of the margin, 99.90; cross: out of the wallet, 999.40).
- Isolated liquidation price: 99.9 + 0.1 (P - 10,000) = 0.004 x 0.1 P, so
  P = 900.1 / 0.0996 = 9,037.148..., rounded down to the tick: 9,037.1. Bar 2's first
  segment (9,450 -> 9,000) crosses it: liquidated at mark 9,037.1, where the margin
  balance is 99.9 - 96.29 = 3.61 (MM 3.61484); the 1.25 % fee (11.30) is capped at
  3.61. The wallet keeps 1,000 - 100 - 0.50 = 899.50, and so does the account.
- Cross: never near liquidation (the price would have to reach ~5). Ends at bar 3's
  close: 999.40 + 0.1 x (9,200 - 10,000) = 919.40; lowest at bar 3's low 8,950:
  999.40 - 105 = 894.40. Peak equity 1,004.50 (bar 0's high 10,050), so the max
  drawdown is 1,004.50 - 894.40 = 110.10 (10.96 %).
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from perpmargin.errors import InvalidInput
from perpmargin.events import Fill, Liquidation
from perpmargin.sim import DataError
from perpmargin.sim.market import load_market
from perpmargin.sim.plan import MarginTrigger, Plan, PlanError, PositionPlan, Size
from perpmargin.sim.replay import replay

T0 = 1_700_000_040_000  # a whole minute
MIN = 60_000
BARS = [
    (10000, 10050, 9900, 10000),
    (10000, 10010, 9500, 9600),
    (9450, 9650, 9000, 9100),
    (9000, 9300, 8950, 9200),
]


def write_bars(path: Path, bars=BARS, t0: int = T0) -> Path:
    rows = ["timestamp,open,high,low,close,volume"]
    rows += [f"{t0 + i * MIN},{o},{h},{lo},{c},1" for i, (o, h, lo, c) in enumerate(bars)]
    path.write_text("\n".join(rows) + "\n")
    return path


def write_funding(path: Path, rows: list[tuple[int, str]]) -> Path:
    text = "funding_time,funding_rate\n" + "".join(f"{t},{r}\n" for t, r in rows)
    path.write_text(text)
    return path


@pytest.fixture
def files(tmp_path):
    bars = write_bars(tmp_path / "btc.csv")
    funding = write_funding(tmp_path / "f.csv", [(T0 + MIN + 8, "0.0001")])
    return bars, funding


def plan_for(files, **position) -> Plan:
    bars, funding = files
    fields = {"symbol": "BTCUSDT", "side": "long", "leverage": 10, "size": Size("qty", D("0.1"))}
    fields.update(position)
    return Plan(
        name="hand",
        venue="binance-usdm",
        balance=D(1000),
        bars={"BTCUSDT": bars},
        funding={"BTCUSDT": funding},
        positions=(PositionPlan(**fields),),
    )


def test_hand_computed_series_both_modes(files):
    result = replay(plan_for(files))
    iso, cross = result.runs["isolated"], result.runs["cross"]
    assert result.quantities == (D("0.100"),)
    assert result.entry_prices == (D(10000),)

    (liq,) = iso.outcome.liquidations
    assert liq.time == T0 + 2 * MIN  # bar 2
    assert liq.mark_price == D("9037.1")
    assert liq.liquidation_fee == D("3.61")
    assert iso.outcome.final_equity == D("899.5")
    assert iso.outcome.final_wallet == D("899.5")
    assert iso.outcome.fees == D("0.5")
    assert iso.outcome.funding == D("0.1")
    assert iso.outcome.insurance_fund_net == D("3.61")
    assert iso.outcome.min_equity == D("899.5")
    assert iso.outcome.max_drawdown == D("105.0")

    assert cross.outcome.liquidations == ()
    assert cross.outcome.final_equity == D("919.4")
    assert cross.outcome.min_equity == D("894.4")
    assert cross.outcome.min_equity_time == T0 + 3 * MIN
    assert cross.outcome.max_drawdown == D("110.1")
    assert cross.outcome.max_drawdown_pct == D("10.96")
    assert cross.outcome.funding == D("0.1")

    # the series: one row per bar, at the close
    assert list(cross.series["time"]) == [T0 + i * MIN for i in range(4)]
    assert list(cross.series["equity"]) == pytest.approx([999.5, 999.4 - 40, 999.4 - 90, 919.4])
    assert list(iso.series["equity"]) == pytest.approx([999.5, 959.4, 899.5, 899.5])
    assert list(iso.series["BTCUSDT long margin"]) == pytest.approx([100, 99.9, 0, 0])
    assert iso.series["BTCUSDT long liq"].iloc[1] == pytest.approx(9037.1)
    assert iso.series["margin_ratio"].iloc[2] == 1.0  # the pool reached liquidation


def test_stop_inside_a_bar_fills_at_its_price_before_liquidation(files):
    # bar 2's first segment 9,450 -> 9,000 passes the stop 9,300 before 9,037.1
    result = replay(plan_for(files, stop=D(9300)))
    for run in result.runs.values():
        assert run.outcome.liquidations == ()
        (stop,) = [t for t in run.outcome.trades if t.kind == "stop"]
        assert (stop.time, stop.price, stop.realized_pnl) == (T0 + 2 * MIN, D(9300), D(-70))
        # 1,000 - 0.50 - 0.10 - 70 - 0.465
        assert run.outcome.final_equity == D("928.935")


def test_a_gap_through_the_stop_fills_at_the_open(files):
    # bar 1's low 9,500 stays above 9,480; bar 2 opens at 9,450: filled there
    result = replay(plan_for(files, stop=D(9480)))
    for run in result.runs.values():
        (stop,) = [t for t in run.outcome.trades if t.kind == "stop"]
        assert (stop.time, stop.price) == (T0 + 2 * MIN, D(9450))
        assert run.outcome.final_equity == D("943.9275")  # 999.40 - 55 - 0.4725


def test_intrabar_order_decides_stop_vs_take_profit(files):
    # both inside bar 0 (9,900 .. 10,050): conservative hits the stop, optimistic the TP
    plan = plan_for(files, stop=D(9950), take_profit=D(10040))
    conservative = replay(plan).runs["cross"].outcome
    optimistic = replay(Plan(**{**plan.__dict__, "intrabar": "optimistic"})).runs["cross"].outcome
    assert [t.kind for t in conservative.trades] == ["entry", "stop"]
    assert conservative.final_equity == D("994.0025")  # 999.50 - 5 - 0.4975
    assert [t.kind for t in optimistic.trades] == ["entry", "take_profit"]
    assert optimistic.final_equity == D("1002.998")  # 999.50 + 4 - 0.502


def test_limit_entry_fills_on_the_path_as_maker(files):
    result = replay(plan_for(files, entry=D(9950)))
    for run in result.runs.values():
        entry = run.outcome.trades[0]
        assert (entry.kind, entry.time, entry.price, entry.fee) == (
            "entry",
            T0,
            D(9950),
            D("0.199"),  # 0.1 x 9,950 x 0.02 %
        )
        fills = [e for e in run.account.ledger if isinstance(e, Fill)]
        assert fills[0].liquidity == "maker"


def test_mark_bars_drive_liquidation(files, tmp_path):
    # the mark is smoother: bar 2's mark low is 9,100, bar 3 is 9,100/9,300/9,050/9,200
    marks = [*BARS[:2], (9450, 9650, 9100, 9100), (9100, 9300, 9050, 9200)]
    mark_file = write_bars(tmp_path / "mark.csv", marks)
    plan = plan_for(files)
    market = load_market(plan, marks={"BTCUSDT": mark_file})
    assert market.mark_source == {"BTCUSDT": "mark bars"}
    iso = replay(plan, market).runs["isolated"].outcome
    assert iso.liquidations == ()
    assert iso.final_equity == D("919.4")  # same as cross now
    assert load_market(plan).mark_source == {"BTCUSDT": "trade bars"}


def test_margin_trigger_moves_liquidation_past_the_wick(files):
    # add 50 when the mark reaches 9,600 (bar 1's close): margin 149.9, liquidation at
    # (1,000 - 149.9) / 0.0996 = 8,535.1 (rounded down), below every low
    trigger = MarginTrigger(D(50), at_price=D(9600))
    result = replay(plan_for(files, add_margin=(trigger,)))
    iso, cross = result.runs["isolated"], result.runs["cross"]
    assert iso.outcome.liquidations == ()
    assert iso.outcome.margin_added == D(50)
    assert iso.series["BTCUSDT long liq"].iloc[1] == pytest.approx(8535.1)
    assert iso.outcome.final_equity == cross.outcome.final_equity == D("919.4")
    assert cross.outcome.margin_added == 0
    assert any("not applied in cross" in n for n in cross.outcome.notes)


def test_cross_liquidation_takes_the_whole_account(tmp_path):
    # $150 account, 0.1 BTC at 10x in cross: liquidation where 149.5 + 0.1 (P - 10,000)
    # = 0.0004 P -> P = 8,505.0 / 0.0996 = 8,539.15..., rounded down 8,539.1; a bar to
    # 8,400 crosses it
    bars = write_bars(tmp_path / "b.csv", [*BARS[:2], (9600, 9650, 8400, 8500), BARS[3]])
    plan = Plan(
        name="x",
        venue="binance-usdm",
        balance=D(150),
        bars={"BTCUSDT": bars},
        positions=(PositionPlan("BTCUSDT", "long", D(10), Size("qty", D("0.1"))),),
        modes=("cross",),
    )
    cross = replay(plan).runs["cross"]
    (liq,) = cross.outcome.liquidations
    assert liq.mark_price == D("8539.1")
    assert cross.outcome.final_equity == 0
    events = [e for e in cross.account.ledger if isinstance(e, Liquidation)]
    assert events[0].margin_mode == "cross"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stop": D(10500)}, "not beyond the entry"),
        ({"stop": D("9300.05")}, "off the tick"),
        ({"take_profit": D(9000), "entry": D(9950)}, "take_profit"),
        ({"size": Size("qty", D("0.0001"))}, "no quantity"),
        ({"size": Size("risk", D(1), percent=True)}, "needs a stop"),
        ({"symbol": "DOGEUSDT"}, "no bars"),
        ({"leverage": D("0.5")}, "leverage"),
        ({"side": "up"}, "side"),
    ],
)
def test_bad_plans_are_refused_with_a_clear_error(files, change, message):
    with pytest.raises(InvalidInput, match=message):
        replay(plan_for(files, **change))


def test_leverage_above_the_tier_is_refused(files):
    from perpmargin.errors import LeverageTooHigh

    with pytest.raises(LeverageTooHigh):
        replay(plan_for(files, leverage=D(200)))


def test_misaligned_symbols_and_windows_are_data_errors(files, tmp_path):
    bars, _ = files
    eth = write_bars(tmp_path / "eth.csv", t0=T0 + MIN)
    plan = Plan(
        name="pair",
        venue="binance-usdm",
        balance=D(1000),
        bars={"BTCUSDT": bars, "ETHUSDT": eth},
        positions=(PositionPlan("BTCUSDT", "long", D(10), Size("qty", D("0.1"))),),
    )
    with pytest.raises(DataError, match="differ from bar 0"):
        load_market(plan)
    narrow = Plan(**{**plan_for(files).__dict__, "start": T0 + 3 * MIN})
    with pytest.raises(DataError, match="at least 2"):
        load_market(narrow)
    bad_marks = write_bars(tmp_path / "m.csv", BARS[:3])
    with pytest.raises(DataError, match="differ"):
        load_market(plan_for(files), marks={"BTCUSDT": bad_marks})


def test_plan_errors_are_typed(files):
    with pytest.raises(PlanError, match="a plan needs at least one position"):
        Plan(name="p", venue="binance-usdm", balance=D(1), bars={"BTCUSDT": "x"}, positions=())
    with pytest.raises(PlanError, match="modes"):
        Plan(**{**plan_for(files).__dict__, "modes": ("isolated", "portfolio")})
    with pytest.raises(PlanError, match="exactly one"):
        MarginTrigger(D(1))
    with pytest.raises(PlanError, match="below 1"):
        MarginTrigger(D(1), at_margin_ratio=D("1.2"))
