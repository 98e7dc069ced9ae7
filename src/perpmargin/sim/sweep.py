"""Vectorised replay: one single-position plan over bars, for a grid of parameters.

The same rules as the exact replay (:mod:`perpmargin.sim.replay`), in float64 numba, for
thousands of (leverage, margin, stop, mode) combinations at once: market entry at the
first bar's open, funding at the open of the bar that holds it, a gap at the open fills
a stop (or liquidates) at the open, then open -> adverse -> favourable -> close with the
stop, the take-profit and the liquidation price (rounded to the tick towards the move,
as the exact replay finds it) hit at their own price, liquidation first on a tie.
Isolated liquidation costs the margin (the rest after the fee goes to the trader only
where the venue says so); cross liquidation takes the account.

Inverse (coin-margined) symbols run in x = 1 / price, where the position is linear
(side flipped, size x contract value, bars inverted: the high is 1 / low); the kernel
only needs to know it for the funding sign and to round the liquidation price to the
tick in price. Money is then in the coin.

Limits: one position per plan (one symbol, no add-margin triggers, no limit entries);
trade bars stand in for the mark; the base liquidation model (a full close). A plan
that asks for more is refused with the reason (:mod:`perpmargin.sim.support`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from typing import Any, Literal

import numpy as np
import pandas as pd
from numba import njit, prange

from perpmargin.errors import InvalidInput
from perpmargin.sim.compiled import (
    estimated_close_fee,
    funding_payment,
    initial_margin,
    position_value,
    settle_isolated_funding,
    trade_fee,
    unrealized_pnl,
)
from perpmargin.sim.kernels import liq_price_one, liquidation_return
from perpmargin.sim.market import MarketData, load_market
from perpmargin.sim.plan import Plan, PlanError
from perpmargin.sim.sizing import quantity_for
from perpmargin.sim.support import notes_for, plan_asks
from perpmargin.sim.tiers import TierArrays
from perpmargin.venues.loader import load_venue

__all__ = ["SweepBackend", "replay_one", "sweep", "sweep_arrays"]


@njit(cache=True, inline="always")
def _liq(
    s: int,
    q: float,
    e: float,
    c: float,
    held: float,
    tick: float,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    n_tiers: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    fee_bk: np.ndarray,
    inverse: bool,
) -> float:
    # (a fee to close held in the margin is left out of where that fee is valued)
    p = liq_price_one(s, q, e, c, c - held, upper, mmr, amount, n_tiers, by_qty, fee, fee_bk)
    if math.isnan(p):
        return p
    # the first tick the move reaches: a long's liquidation price rounds down
    if not inverse:
        return math.floor(p / tick + 1e-9) * tick if q > 0 else math.ceil(p / tick - 1e-9) * tick
    # p is 1 / price; q > 0 here is a short in the price, whose price rounds up
    price = 1.0 / p
    price = (
        math.ceil(price / tick - 1e-9) * tick if q > 0 else math.floor(price / tick + 1e-9) * tick
    )
    return 1.0 / max(price, tick)


@njit(cache=True, inline="always")
def _triggers(long: bool, liq: float, stop: float, take: float) -> tuple[float, float]:
    """The (low, high) a bar must reach for anything to happen to the position: a bar
    whose low stays above the first and whose high stays below the second is a no-op."""
    inf = math.inf
    liq_ = (-inf if long else inf) if math.isnan(liq) else liq
    stop_ = (-inf if long else inf) if math.isnan(stop) else stop
    if long:
        return max(liq_, stop_), (inf if math.isnan(take) else take)
    return (-inf if math.isnan(take) else take), min(liq_, stop_)


# complexity waived (C901): a kernel: one flat loop numba compiles (and CUDA runs) as one function
@njit(cache=True)
def replay_one(  # noqa: C901
    c: int,
    ohlc: np.ndarray,
    quiet: np.ndarray,
    rates: np.ndarray,
    qty: np.ndarray,
    leverage: np.ndarray,
    stop: np.ndarray,
    take_profit: np.ndarray,
    cross: np.ndarray,
    balance: float,
    taker: float,
    liq_fee: float,
    to_trader: bool,
    tick: float,
    inverse: bool,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    n_tiers: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    fee_bk: np.ndarray,
    holds_fee: bool,
) -> tuple[int, int, float]:
    """Replay combination ``c`` (signed ``qty[c]``; NaN stop / take-profit: none): its
    liquidation bar, exit bar (-1: none) and final equity. One source for the CPU kernel
    and the CUDA one (:mod:`perpmargin.sim.gpu` compiles it for the device).

    ``quiet[i]`` is (low, high) of bar ``i`` with low -inf on a funding bar: a bar whose
    range stays inside the position's triggers is skipped with two comparisons.
    ``inverse``: prices are 1 / price and ``qty`` the linear size in them (see the module).
    ``holds_fee``: an isolated margin holds the estimated fee to close (Bybit).
    """
    n_bars = ohlc.shape[0]
    q = qty[c]
    long = q > 0
    e = ohlc[0, 0]
    notional = position_value(abs(q), e)
    wallet = balance - trade_fee(notional, taker)
    margin = 0.0
    held = 0.0
    if not cross[c]:
        if holds_fee:
            held = estimated_close_fee(abs(q), e, 1.0 if long else -1.0, leverage[c], fee[0])
        margin = initial_margin(notional, leverage[c]) + held
        wallet -= margin
    open_pos = True
    lb = -1
    xb = -1
    coll = wallet if cross[c] else margin
    liq = _liq(0, q, e, coll, held, tick, upper, mmr, amount, n_tiers, by_qty, fee, fee_bk, inverse)
    sp = stop[c]
    tp = take_profit[c]
    low_trigger, high_trigger = _triggers(long, liq, sp, tp)
    for i in range(n_bars):
        if quiet[i, 0] > low_trigger and quiet[i, 1] < high_trigger:
            continue
        o, h, lo, cl = ohlc[i, 0], ohlc[i, 1], ohlc[i, 2], ohlc[i, 3]
        pts = (o, lo, h, cl) if long else (o, h, lo, cl)
        for k in range(4):
            b = pts[k]
            a = b if k == 0 else pts[k - 1]
            # what the move from a to b reaches first (k == 0: the gap to the open)
            hit = 0  # 1 liquidation, 2 stop, 3 take-profit
            at = b
            if long:
                lk = (not math.isnan(liq)) and b <= liq and (k == 0 or liq < a)
                sk = (not math.isnan(sp)) and b <= sp and (k == 0 or sp < a)
                tk = (not math.isnan(tp)) and b >= tp and (k == 0 or tp > a)
                if lk and (not sk or liq >= sp):
                    hit, at = 1, (b if k == 0 else liq)
                elif sk:
                    hit, at = 2, (b if k == 0 else sp)
                elif tk:
                    hit, at = 3, (b if k == 0 else tp)
            else:
                lk = (not math.isnan(liq)) and b >= liq and (k == 0 or liq > a)
                sk = (not math.isnan(sp)) and b >= sp and (k == 0 or sp > a)
                tk = (not math.isnan(tp)) and b <= tp and (k == 0 or tp < a)
                if lk and (not sk or liq <= sp):
                    hit, at = 1, (b if k == 0 else liq)
                elif sk:
                    hit, at = 2, (b if k == 0 else sp)
                elif tk:
                    hit, at = 3, (b if k == 0 else tp)
            if hit == 1:
                back = liquidation_return(coll, q, e, at, liq_fee, to_trader)
                wallet = back if cross[c] else wallet + back
                open_pos = False
                lb = i
                break
            if hit >= 2:
                pnl = unrealized_pnl(q, e, at)
                fee_due = trade_fee(position_value(abs(q), at), taker)
                wallet += pnl - fee_due + (0.0 if cross[c] else margin)
                open_pos = False
                xb = i
                break
            if k == 0 and rates[i] != 0.0:  # funding at the open's mark
                # (a conditional signed value here costs 15 % of the sweep: keep the if)
                pay = funding_payment(q * o, rates[i])
                if inverse:  # an inverse long is short in 1 / price
                    pay = -pay
                if cross[c]:
                    wallet -= pay
                    coll = wallet
                else:  # the margin pays what it holds, the fund the rest
                    margin -= settle_isolated_funding(pay, margin)[0]
                    coll = margin
                liq = _liq(
                    0,
                    q,
                    e,
                    coll,
                    held,
                    tick,
                    upper,
                    mmr,
                    amount,
                    n_tiers,
                    by_qty,
                    fee,
                    fee_bk,
                    inverse,
                )
                crossed = (not math.isnan(liq)) and (o <= liq if long else o >= liq)
                if crossed:  # funding pushed it over at this very mark
                    back = liquidation_return(coll, q, e, o, liq_fee, to_trader)
                    wallet = back if cross[c] else wallet + back
                    open_pos = False
                    lb = i
                    break
                low_trigger, high_trigger = _triggers(long, liq, sp, tp)
        if not open_pos:
            break
    if open_pos:
        return lb, xb, wallet + margin + unrealized_pnl(q, e, ohlc[n_bars - 1, 3])
    return lb, xb, wallet


@njit(cache=True, parallel=True)
def sweep_kernel(
    ohlc: np.ndarray,
    quiet: np.ndarray,
    rates: np.ndarray,
    qty: np.ndarray,
    leverage: np.ndarray,
    stop: np.ndarray,
    take_profit: np.ndarray,
    cross: np.ndarray,
    balance: float,
    taker: float,
    liq_fee: float,
    to_trader: bool,
    tick: float,
    inverse: bool,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    n_tiers: np.ndarray,
    by_qty: np.ndarray,
    fee: np.ndarray,
    fee_bk: np.ndarray,
    holds_fee: bool,
    liq_bar: np.ndarray,
    exit_bar: np.ndarray,
    final_equity: np.ndarray,
) -> None:
    """:func:`replay_one` for every combination, in parallel."""
    for c in prange(qty.size):
        liq_bar[c], exit_bar[c], final_equity[c] = replay_one(
            c, ohlc, quiet, rates, qty, leverage, stop, take_profit, cross, balance, taker,
            liq_fee, to_trader, tick, inverse, upper, mmr, amount, n_tiers, by_qty, fee,
            fee_bk, holds_fee,
        )  # fmt: skip


def _bars_and_rates(plan: Plan, market: MarketData) -> tuple[np.ndarray, np.ndarray]:
    (symbol,) = {p.symbol for p in plan.positions}
    ohlc = np.array([[float(x) for x in bar] for bar in market.trade[symbol]])
    rates = np.zeros(len(market))
    for i, by_symbol in market.funding.items():
        if symbol in by_symbol:
            rates[i] = float(by_symbol[symbol])
    return ohlc, rates


SweepBackend = Literal["numba", "cuda", "dask"]


def sweep_arrays(
    ohlc: np.ndarray,
    rates: np.ndarray,
    qty: np.ndarray,
    leverage: np.ndarray,
    stop: np.ndarray,
    take_profit: np.ndarray,
    cross: np.ndarray,
    *,
    balance: float,
    tiers: TierArrays,
    taker: float,
    to_trader: bool,
    tick: float,
    inverse: bool = False,
    holds_fee: bool = False,
    skip_quiet_bars: bool = True,
    backend: SweepBackend = "numba",
    scheduler: Any = None,
    chunks: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kernel on plain arrays: returns (liquidation bar, exit bar, final equity).

    ``inverse``: ``ohlc``, ``stop``, ``take_profit`` are 1 / price (open, 1/low, 1/high,
    close) and ``qty`` is -(signed contracts) x contract value; ``tiers`` without
    contract values; ``tick`` stays the price tick. ``holds_fee``: an isolated margin holds
    the estimated fee to close (Bybit's ``close_fee_in_initial_margin``).
    ``skip_quiet_bars=False`` walks every bar the long way (the same numbers, slower: a
    baseline for tests and benchmarks).
    ``backend``: ``"numba"`` (CPU threads), ``"cuda"`` (one GPU thread per combination),
    ``"dask"`` (``chunks`` slices of the combinations as tasks on ``scheduler``); the
    same numbers on each. There is no numpy backend: the sweep's reference is the exact
    replay, which the tests compare it with."""
    if backend not in ("numba", "cuda", "dask"):
        raise InvalidInput(f"backend must be 'numba', 'cuda' or 'dask', was {backend!r}")
    n = qty.size
    if backend == "dask":
        from perpmargin.sim.distributed import chunk_bounds, map_chunks

        kwargs = {"balance": balance, "tiers": tiers, "taker": taker, "to_trader": to_trader}
        kwargs.update(
            tick=tick, inverse=inverse, holds_fee=holds_fee, skip_quiet_bars=skip_quiet_bars
        )
        combos = (qty, leverage, stop, take_profit, cross)
        parts = map_chunks(
            partial(_sweep_chunk, ohlc, rates, kwargs),
            [tuple(a[lo:hi] for a in combos) for lo, hi in chunk_bounds(n, chunks)],
            scheduler,
        )
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )
    out = (np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n))
    # one compiled signature: C-contiguous, writeable (pandas hands out read-only views)
    qty, leverage, stop, take_profit = (
        np.require(a, np.float64, ["C", "W"]) for a in (qty, leverage, stop, take_profit)
    )
    cross = np.require(cross, np.bool_, ["C", "W"])
    ohlc = np.ascontiguousarray(ohlc, dtype=np.float64)
    quiet = np.ascontiguousarray(ohlc[:, [2, 1]])
    quiet[np.asarray(rates) != 0.0, 0] = -np.inf
    if not skip_quiet_bars:
        quiet[:, 0] = -np.inf
    args = (
        ohlc,
        quiet,
        np.ascontiguousarray(rates, dtype=np.float64),
        qty,
        leverage,
        stop,
        take_profit,
        cross,
        balance,
        taker,
        float(tiers.liquidation_fee[0]),
        to_trader,
        tick,
        inverse,
        *tiers.args(),
        holds_fee,
    )
    if backend == "cuda":
        from perpmargin.sim.gpu import sweep_cuda

        sweep_cuda(args, out)
    else:
        sweep_kernel(*args, *out)
    return out


def _sweep_chunk(
    ohlc: np.ndarray, rates: np.ndarray, kwargs: dict[str, Any], *combos: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return sweep_arrays(ohlc, rates, *combos, **kwargs)


def sweep(
    plan: Plan,
    *,
    leverages: Sequence[float] | None = None,
    margins: Sequence[float] | None = None,
    stops: Sequence[float | None] | None = None,
    modes: Sequence[str] | None = None,
    market: MarketData | None = None,
    backend: SweepBackend = "numba",
    scheduler: Any = None,
) -> pd.DataFrame:
    """Replay ``plan``'s single position for every combination of the given values.

    Defaults are the plan's own leverage, margin (size rule ``margin``), stop and modes.
    ``backend`` / ``scheduler``: as :func:`sweep_arrays`.
    One row per combination: leverage, margin, stop, mode, quantity, liquidation bar,
    exit bar (stop or take-profit) and final equity.

    Raises
    ------
    NotModelled
        The plan asks for what the sweep does not model (the venue's partial liquidation,
        counterparties, margin triggers, limit entries, mark bars): replay it instead.
    PlanError
        More than one position, or ``margins=`` for a plan not sized by margin.
    """
    notes_for("sweep", plan_asks(plan))  # refuses what it does not model; notes none
    if len(plan.positions) != 1 or plan.positions[0].add_margin or plan.positions[0].entry:
        raise PlanError("sweep replays one market-entry position without margin triggers")
    pos = plan.positions[0]
    if plan.intrabar != "conservative" or plan.marks:
        raise PlanError("sweep walks the conservative path on trade bars (no mark bars)")
    if pos.size.kind != "margin" and margins is not None:
        raise PlanError("margins= needs a plan sized by margin")
    data = market if market is not None else load_market(plan)
    venue = load_venue(plan.venue)
    spec = venue.symbol(pos.symbol)
    cv = spec.inverse_value
    tiers = TierArrays.from_venue(venue, [pos.symbol]).linear()
    ohlc, rates = _bars_and_rates(plan, data)
    entry = Decimal(repr(float(ohlc[0, 0])))
    combos = list(
        itertools.product(
            leverages or [float(pos.leverage)],
            margins or [float(pos.size.value)],
            stops if stops is not None else [None if pos.stop is None else float(pos.stop)],
            modes or list(plan.modes),
        )
    )
    if pos.size.kind == "risk":
        raise PlanError("sweep sizes by margin, qty or notional, not risk")
    qty = []
    for lev, margin, _, _ in combos:
        if pos.size.kind == "margin":  # the grid's margin and leverage (floats, by repr)
            q = quantity_for(spec, "margin", Decimal(repr(margin)), Decimal(repr(lev)), entry)
        else:  # qty or notional: the leverage does not change the size
            q = quantity_for(spec, pos.size.kind, pos.size.value, pos.leverage, entry)
        qty.append(float(q) * pos.sign)
    frame = pd.DataFrame(combos, columns=["leverage", "margin", "stop", "mode"])
    stop = frame["stop"].to_numpy(dtype=float, na_value=np.nan)
    take = np.full(len(frame), np.nan if pos.take_profit is None else float(pos.take_profit))
    signed = np.array(qty)
    if cv is not None:  # linear in x = 1 / price
        ohlc = 1.0 / ohlc[:, [0, 2, 1, 3]]
        stop, take = 1.0 / stop, 1.0 / take
        signed = -signed * float(cv)
    liq, exit_, final = sweep_arrays(
        ohlc,
        rates,
        signed,
        frame["leverage"].to_numpy(dtype=float),
        stop,
        take,
        (frame["mode"] == "cross").to_numpy(),
        balance=float(plan.balance),
        tiers=tiers,
        taker=float(venue.taker_fee_rate),
        to_trader=venue.liquidation.remainder_to == "trader",
        tick=float(spec.tick_size),
        inverse=cv is not None,
        holds_fee=venue.liquidation.close_fee_in_initial_margin
        and venue.liquidation.close_fee_in_maintenance,
        backend=backend,
        scheduler=scheduler,
    )
    frame["quantity"] = np.abs(qty)
    frame["liquidation_bar"] = liq
    frame["exit_bar"] = exit_
    frame["final_equity"] = final
    return frame
