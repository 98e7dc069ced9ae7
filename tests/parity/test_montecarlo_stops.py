"""The Monte Carlo honours a plan's stops and take-profits (issue 22, item 1).

One position: each simulated path is turned into bars (open = the previous step's price,
close = this step's) and replayed by the exact replay, whose stops are the engine's
stop-market orders; the Monte Carlo must give the same liquidation step, exit step and
final equity on every path, in both modes. Several symbols in one cross account: the
Decimal engine driven along the paths, closing at its level every leg whose stop or
take-profit the step crossed, then marked at the step's prices (the order the Monte Carlo
documents), gives the same steps and money.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pytest

import perpmargin as pm
from perpmargin.errors import InvalidInput
from perpmargin.sim.market import MarketData
from perpmargin.sim.montecarlo import log_price_paths, montecarlo, setup_from_plan
from perpmargin.sim.plan import plan_from_dict
from perpmargin.sim.support import SUPPORT

ETH_BARS = "binance-ethusdt-perp-15m-2022-11-08.csv"
BTC_BARS = "binance-btcusdt-perp-15m-2022-11-08.csv"


def _eth_long(stop: str | None, take: str | None = None, *, leverage: int = 15) -> pm.Plan:
    pos: dict[str, object] = {
        "symbol": "ETHUSDT", "side": "long", "leverage": leverage, "size": {"margin": "500"},
    }  # fmt: skip
    if stop is not None:
        pos["stop"] = stop
    if take is not None:
        pos["take_profit"] = take
    return plan_from_dict(
        {
            "name": "ETH long with a stop",
            "venue": "binance-usdm",
            "balance": "10000",
            "bars": {"ETHUSDT": ETH_BARS},
            "positions": [pos],
        }
    )


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _path_market(entry: float, prices: np.ndarray, symbol: str, step_ms: int) -> MarketData:
    """Bars that walk the path: bar t opens at step t - 1's price (the entry for t = 0)
    and closes at step t's, so no bar gaps and each bar spans one step."""
    opens = np.concatenate([[entry], prices[:-1]])
    bars = [
        (_dec(o), _dec(max(o, c)), _dec(min(o, c)), _dec(c))
        for o, c in zip(opens, prices, strict=True)
    ]
    times = np.arange(len(prices), dtype=np.int64) * step_ms
    return MarketData(
        times=times,
        step_ms=step_ms,
        trade={symbol: bars},
        mark={symbol: bars},
        funding={},
        mark_source={symbol: "trade bars"},
        sources={symbol: "a Monte Carlo path"},
    )


def _replayed(plan: pm.Plan, market: MarketData, mode: str) -> tuple[int, int, float]:
    """(liquidation step, stop or take-profit step, final equity) of the exact replay."""
    run = pm.replay_plan(dataclasses.replace(plan, modes=(mode,)), market).runs[mode]
    out = run.outcome
    step = market.step_ms
    liq = out.liquidations[0].time // step if out.liquidations else -1
    exits = [t.time // step for t in out.trades if t.kind in ("stop", "take_profit")]
    return liq, (exits[0] if exits else -1), float(out.final_equity)


@pytest.mark.parametrize(
    ("stop", "take", "vol", "expect"),
    [
        # the stop is inside the isolated liquidation price: both modes stop out
        ("1400", "1700", 2.0, {"isolated": "stop", "cross": "stop"}),
        # the stop is beyond it: isolated liquidates first, cross (the whole wallet
        # behind it) stops out at the stop
        ("1330", None, 2.5, {"isolated": "liq", "cross": "stop"}),
    ],
)
def test_each_path_matches_the_exact_replay(stop, take, vol, expect):
    plan = _eth_long(stop, take)
    base = setup_from_plan(plan)
    setup = dataclasses.replace(base, step_vol=base.step_vol * vol)
    paths, steps, seed = 24, 60, 11
    res = montecarlo(setup, paths=paths, steps=steps, seed=seed)
    logp = log_price_paths(setup, paths=paths, steps=steps, seed=seed)
    entry = float(setup.entry[0])
    seen = {"isolated": set(), "cross": set()}
    for p in range(paths):
        market = _path_market(entry, np.exp(logp[p, :, 0]), "ETHUSDT", setup.step_ms)
        for mode, liq_arr, exit_arr, final_arr in (
            ("isolated", res.iso_step, res.iso_exit, res.iso_final),
            ("cross", res.cross_step, res.cross_exit, res.cross_final),
        ):
            liq, exit_step, final = _replayed(plan, market, mode)
            assert (liq, exit_step) == (liq_arr[p], exit_arr[p]), (mode, p)
            assert final == pytest.approx(final_arr[p], rel=1e-9, abs=1e-6), (mode, p)
            seen[mode].add("liq" if liq >= 0 else "stop" if exit_step >= 0 else "held")
    for mode, what in expect.items():  # the cases the test is about did occur
        assert what in seen[mode], (mode, seen[mode])
    if take is not None:  # some paths took profit
        assert ((res.iso_exit >= 0) & (res.iso_final > res.start_balance)).any()


def test_the_issue_case_bounds_the_loss_by_the_stop():
    """ETH long 15x, $500 margin, stop 1300 on the 2022-11-08 data: with the stop the
    cross loss is bounded by the loss at the stop plus the fees (no slippage in the
    model); without it the tail is far worse. The stop shows in every backend."""
    with_stop = setup_from_plan(_eth_long("1300", leverage=15))
    without = setup_from_plan(_eth_long(None, leverage=15))
    kw = {"paths": 4000, "steps": 96, "seed": 5}
    a = montecarlo(with_stop, **kw)
    b = montecarlo(without, **kw)
    qty, entry = float(with_stop.qty[0]), float(with_stop.entry[0])
    bound = (
        qty * (entry - 1300)  # the loss at the stop
        + with_stop.open_fees  # the fee to open
        + qty * 1300 * with_stop.taker  # the fee to close at the stop
    )
    loss_a = a.start_balance - a.cross_final
    assert loss_a.max() <= bound * (1 + 1e-12)
    assert (a.cross_exit >= 0).any()
    assert a.stats["cross"].exit_probability > 0
    assert b.stats["cross"].loss_es99 > bound  # the stop matters on these paths
    assert b.stats["cross"].exit_probability == 0
    assert not any("not simulated: positions are held" in n for n in a.notes)
    numpy = montecarlo(with_stop, backend="numpy", **{**kw, "paths": 600})
    np.testing.assert_array_equal(numpy.cross_exit, a.cross_exit[:600])
    np.testing.assert_array_equal(numpy.iso_exit, a.iso_exit[:600])
    np.testing.assert_allclose(numpy.cross_final, a.cross_final[:600], rtol=1e-12)


def test_a_stop_not_beyond_the_entry_is_refused():
    """The Monte Carlo enters at the first bar's open (1,469.49 on 2022-11-08)."""
    with pytest.raises(InvalidInput, match="stop 1600 is not beyond the entry"):
        setup_from_plan(_eth_long("1600"))
    with pytest.raises(InvalidInput, match="take_profit 1450 is not beyond the entry"):
        setup_from_plan(_eth_long("1400", "1450"))


def test_the_support_table_says_stops_are_simulated():
    note = SUPPORT["montecarlo"]["stops"]
    assert note.supported
    assert "close at their own price" in note.reason


def _pair_plan() -> pm.Plan:
    return plan_from_dict(
        {
            "name": "pair with stops",
            "venue": "binance-usdm",
            "balance": "2600",
            "bars": {"BTCUSDT": BTC_BARS, "ETHUSDT": ETH_BARS},
            "positions": [
                {"symbol": "BTCUSDT", "side": "long", "leverage": 20,
                 "size": {"margin": "1500"}, "stop": "18300", "take_profit": "20300"},
                {"symbol": "ETHUSDT", "side": "long", "leverage": 20,
                 "size": {"margin": "1000"}, "stop": "1400", "take_profit": "1540"},
            ],
        }
    )  # fmt: skip


def _crossed(side: str, a: Decimal, b: Decimal, level: Decimal | None, kind: str) -> bool:
    if level is None:
        return False
    adverse = (kind == "stop") == (side == "long")  # a long's stop is below
    return (b <= level < a) if adverse else (a < level <= b)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_a_cross_pair_matches_the_engine_closing_at_the_levels(backend):
    plan = _pair_plan()
    base = setup_from_plan(plan)
    setup = dataclasses.replace(base, step_vol=base.step_vol * 2)
    paths, steps, seed = 30, 50, 4
    res = montecarlo(setup, paths=paths, steps=steps, seed=seed, backend=backend)
    logp = log_price_paths(setup, paths=paths, steps=steps, seed=seed)
    venue = pm.load_venue("binance-usdm")
    symbols = ("BTCUSDT", "ETHUSDT")
    legs = [(p.symbol, p.side, p.stop, p.take_profit) for p in plan.positions]
    counts = {"exit": 0, "liq": 0, "both": 0, "bankrupt": 0}
    for p in range(paths):
        acct = pm.Account(venue, balance=plan.balance)
        start = {}
        for i, (symbol, side, _, _) in enumerate(legs):
            acct.set_margin_mode(symbol, "cross")
            acct.set_leverage(symbol, 20)
            start[symbol] = _dec(setup.entry[i])
            acct.open(symbol, side, _dec(setup.qty[i]).copy_abs(), start[symbol])
        prev = dict(start)
        liq_at, exit_at, bankrupt = -1, -1, False
        for t in range(steps):
            now = {s: _dec(np.exp(logp[p, t, k])) for k, s in enumerate(symbols)}
            for symbol, side, stop, take in legs:
                if acct.position(symbol) is None:
                    continue
                for kind, level in (("stop", stop), ("take", take)):
                    if _crossed(side, prev[symbol], now[symbol], level, kind):
                        events = acct.close(symbol, price=level)
                        exit_at = t if exit_at < 0 else exit_at
                        # a fill beyond the account's bankruptcy: the fund pays the hole;
                        # the account was ruined on the way (liquidated, nothing left)
                        bankrupt |= any(getattr(e, "reason", "") == "deficit" for e in events)
                        break
            events = acct.mark(now)
            if bankrupt or any(type(e).__name__ == "Liquidation" for e in events):
                liq_at = t
                break
            prev = now
        assert (liq_at, exit_at) == (res.cross_step[p], res.cross_exit[p]), p
        final = 0.0 if bankrupt else float(acct.equity)
        assert final == pytest.approx(res.cross_final[p], rel=1e-9, abs=1e-6), p
        counts["exit"] += exit_at >= 0
        counts["liq"] += liq_at >= 0
        counts["both"] += exit_at >= 0 and liq_at >= 0
        counts["bankrupt"] += bankrupt
    # stops alone, liquidations after a stop, and fills beyond bankruptcy all occur
    assert counts["exit"] > counts["both"] > 0, counts
    assert counts["bankrupt"] > 0, counts


def test_cuda_kernel_under_the_simulator_honours_the_stops():
    """The CUDA kernel compiles the same path function: bit for bit the numba paths,
    exits included."""
    from numba import config

    from perpmargin.sim.gpu import available

    if not (config.ENABLE_CUDASIM or available()):
        pytest.skip("set NUMBA_ENABLE_CUDASIM=1 (make test does) or run on a GPU machine")
    base = setup_from_plan(_pair_plan())
    setup = dataclasses.replace(base, step_vol=base.step_vol * 2)
    kw = {"paths": 40, "steps": 50, "seed": 4}
    a = montecarlo(setup, **kw)
    b = montecarlo(setup, backend="cuda", **kw)
    for name in ("iso_step", "cross_step", "iso_exit", "cross_exit"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    rel = 0.0 if config.ENABLE_CUDASIM else 1e-12
    np.testing.assert_allclose(a.cross_final, b.cross_final, rtol=rel)
    np.testing.assert_allclose(a.iso_final, b.iso_final, rtol=rel)
    assert (a.cross_exit >= 0).any()
    assert (a.iso_exit >= 0).any()


@pytest.mark.parametrize("side", ["long", "short"])
def test_an_inverse_position_stops_as_the_replay_does_in_the_coin(side):
    """Coin-margined: the kernel walks 1 / price, where the stop and the take-profit
    are 1 / their prices; the replay (money in BTC) gives the same steps and equity."""
    sign = 1 if side == "long" else -1
    plan = plan_from_dict(
        {
            "name": f"inverse {side} with a stop",
            "venue": "binance-coinm",
            "balance": "1",
            # the COIN-M perpetual tracks the same index; no COIN-M bars are bundled
            "bars": {"BTCUSD_PERP": BTC_BARS},
            "positions": [
                {"symbol": "BTCUSD_PERP", "side": side, "leverage": 10,
                 "size": {"margin": "0.3"}, "stop": str(19690 - sign * 1200),
                 "take_profit": str(19690 + sign * 900)},
            ],
        }
    )  # fmt: skip
    base = setup_from_plan(plan)
    setup = dataclasses.replace(base, step_vol=base.step_vol * 3)
    paths, steps, seed = 24, 60, 2
    res = montecarlo(setup, paths=paths, steps=steps, seed=seed)
    logp = log_price_paths(setup, paths=paths, steps=steps, seed=seed)
    entry = 1.0 / float(setup.entry[0])
    seen = set()
    for p in range(paths):
        market = _path_market(entry, np.exp(logp[p, :, 0]), "BTCUSD_PERP", setup.step_ms)
        for mode, liq_arr, exit_arr, final_arr in (
            ("isolated", res.iso_step, res.iso_exit, res.iso_final),
            ("cross", res.cross_step, res.cross_exit, res.cross_final),
        ):
            liq, exit_step, final = _replayed(plan, market, mode)
            assert (liq, exit_step) == (liq_arr[p], exit_arr[p]), (mode, p)
            # the engine books each amount in satoshis (1e-8 BTC)
            assert final == pytest.approx(final_arr[p], rel=1e-9, abs=3e-8), (mode, p)
            seen.add((mode, "liq" if liq >= 0 else "exit" if exit_step >= 0 else "held"))
    assert ("isolated", "exit") in seen
    assert ("cross", "exit") in seen
