"""Replay a plan on real bars through the exact engine, once per margin mode.

For every bar the replay

1. marks every symbol at the bar's open (a gap from the last close: a stop or a
   liquidation the gap jumped over happens here, at the open);
2. opens the positions due at this bar (market: at the open; limit: a resting order,
   filled at once as a taker if the open is already through it), then places their
   stop and take-profit as reduce-only market orders;
3. settles the funding whose time falls inside the bar, at the open's mark;
4. walks the bar's path (:mod:`perpmargin.sim.intrabar`): three straight segments
   between open, first extreme, second extreme and close. Symbols move one after
   another within a segment, in the plan's order. Along a segment the replay stops
   exactly at every price where something happens (a liquidation price, a stop, a
   take-profit, a limit, a margin trigger), marks the engine there, and goes on from
   the new state, so each trigger is hit at its own price, in path order.

Trade bars are the last price; mark bars, when given, are the mark (liquidation and
mark-triggered orders use it). Without mark bars the trade bars stand in for the mark,
and the result says so. Every money figure comes from the Decimal engine; the series
kept for charts are float64 copies.

The pieces around the run live beside it: the market data (:mod:`perpmargin.sim.market`),
the sizes (:mod:`perpmargin.sim.sizing`), the path inside a bar and its first liquidating
tick (:mod:`perpmargin.sim.intrabar`) and what a run returns (:mod:`perpmargin.sim.results`).
"""

from __future__ import annotations

import bisect
import contextlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd

from perpmargin.engine import math as pmath
from perpmargin.engine.account import Account
from perpmargin.engine.clearing import Clearinghouse
from perpmargin.engine.events import (
    Event,
    Fill,
    FundingSettled,
    InsuranceFundTransfer,
    Liquidation,
    MarginChanged,
    OrderCancelled,
    PartialLiquidation,
)
from perpmargin.engine.insurance import InsuranceFund
from perpmargin.engine.position import PositionView
from perpmargin.errors import InsufficientMargin, InvalidInput, PerpMarginError
from perpmargin.numeric import ZERO, engine_context, nearest_step, round_to_step
from perpmargin.sim import quiet
from perpmargin.sim.data import utc_text
from perpmargin.sim.intrabar import first_liquidation, waypoints
from perpmargin.sim.market import MarketData, check_dated, load_market
from perpmargin.sim.plan import (
    TRADER,
    Counterparty,
    MarginModeName,
    Plan,
    PositionPlan,
    Setting,
)
from perpmargin.sim.results import (
    CounterpartyOutcome,
    LiquidationInfo,
    ModeRun,
    Outcome,
    PartialInfo,
    PlanResult,
    TradeInfo,
)
from perpmargin.sim.sizing import entry_index, size_position
from perpmargin.venues.loader import load_venue
from perpmargin.venues.schema import Venue

__all__ = ["replay", "replay_setting"]


# ---------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class _Stretch:
    """Bars ``i .. i + n - 1`` found quiet: each symbol's exposure sign, its bars as exact
    integers and its running (lowest, highest) mark over them."""

    i: int
    n: int
    signs: Mapping[str, int]
    bars: Mapping[str, quiet.ScaledBars]
    hulls: Mapping[str, tuple[np.ndarray, np.ndarray]]


@dataclass
class _Slot:
    """Replay state of one planned position."""

    plan: PositionPlan
    quantity: Decimal
    index: int
    state: Literal["waiting", "resting", "open", "done"] = "waiting"
    entry_order: int | None = None
    stop_order: int | None = None
    tp_order: int | None = None
    fired: set[int] = field(default_factory=set)


class _Run:
    def __init__(
        self,
        plan: Plan,
        venue: Venue,
        market: MarketData,
        mode: MarginModeName,
        quantities: tuple[Decimal, ...],
        fund: InsuranceFund | None,
        counterparty_quantities: tuple[tuple[Decimal, ...], ...] = (),
        setting: Setting | None = None,
        *,
        skip_quiet: bool = True,
    ) -> None:
        self.plan, self.venue, self.market, self.mode = plan, venue, market, mode
        self.skip_quiet = skip_quiet
        self.funding_bars = sorted(market.funding)
        self.quiet_bars = 0  # bars read at once (quiet stretches)
        # each position's mode, and margin added to an isolated one when it opens
        self.modes: tuple[MarginModeName, ...] = (
            setting.modes if setting is not None else (mode,) * len(plan.positions)
        )
        self.extra: tuple[Decimal, ...] = (
            setting.extra_margin if setting is not None else (ZERO,) * len(plan.positions)
        )
        self.symbols = plan.symbols
        settle = venue.symbol(plan.positions[0].symbol).settle
        t0 = int(market.times[0])
        if fund is None and plan.insurance_fund > 0:
            fund = InsuranceFund.with_balance(plan.insurance_fund)
        self.house: Clearinghouse | None = None
        self.others: dict[str, Account] = {}
        self.pending: list[tuple[Counterparty, PositionPlan, Decimal, int]] = []
        self.other_notes: dict[str, list[str]] = {}
        if plan.counterparties:
            self.house = Clearinghouse(
                venue, insurance_fund=fund, liquidation_model=plan.liquidation_model
            )
            self.acct = self.house.open_account(TRADER, plan.balance, settle=settle, time=t0)
            for cp, qtys in zip(plan.counterparties, counterparty_quantities, strict=True):
                other = self.house.open_account(cp.name, cp.balance, settle=settle, time=t0)
                for pos, qty in zip(cp.positions, qtys, strict=True):
                    if other.margin_mode(pos.symbol) != cp.margin_mode:
                        other.set_margin_mode(pos.symbol, cp.margin_mode)
                    other.set_leverage(pos.symbol, pos.leverage)
                    self.pending.append((cp, pos, qty, entry_index(plan, market, pos)))
                self.others[cp.name] = other
                self.other_notes[cp.name] = []
        else:
            self.acct = Account(
                venue,
                plan.balance,
                insurance_fund=fund,
                time=t0,
                settle=settle,
                liquidation_model=plan.liquidation_model,
            )
        if plan.position_mode is not None and plan.position_mode != self.acct.position_mode:
            self.acct.set_position_mode(plan.position_mode)
        for pos, pos_mode in zip(plan.positions, self.modes, strict=True):
            if self.acct.margin_mode(pos.symbol) != pos_mode:
                self.acct.set_margin_mode(pos.symbol, pos_mode)
            self.acct.set_leverage(pos.symbol, pos.leverage)
        self.slots = [
            _Slot(pos, qty, entry_index(plan, market, pos))
            for pos, qty in zip(plan.positions, quantities, strict=True)
        ]
        self.hedge = self.acct.position_mode == "hedge"
        self.ticks = {s: venue.symbol(s).tick_size for s in self.symbols}
        self.last: dict[str, Decimal] = {}
        self.markp: dict[str, Decimal] = {}
        self.notes: list[str] = []
        self.trades: list[TradeInfo] = []
        self.margin_added = ZERO
        self.time = int(market.times[0])
        self.peak = plan.balance
        self.max_dd = ZERO
        self.max_dd_pct = ZERO
        self.min_equity = plan.balance
        self.min_time = self.time
        self.bar_low = plan.balance
        self.bar_ratio = ZERO
        self._views: dict[tuple[str, str], tuple[int, PositionView | None]] = {}
        names = ["time", "equity", "equity_low", "wallet", "margin_ratio", "insurance_fund"]
        for slot in self.slots:
            key = f"{slot.plan.symbol} {slot.plan.side}"
            names += [f"{key} margin", f"{key} liq"]
        self.columns: dict[str, list[float]] = {name: [] for name in names}

    # -- engine calls

    def _mark(self, marks: Mapping[str, Decimal], last: Mapping[str, Decimal]) -> None:
        self.markp.update(marks)
        self.last.update(last)
        if self.house is None:
            events = self.acct.mark(marks, last_prices=last, time=self.time)
        else:  # every account at the same marks; the trader's events include ADL fills
            events = self.house.mark(marks, last_prices=last, time=self.time)[TRADER]
        self._after(events)

    def _after(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, Fill) and e.order_id is not None:
                self._on_fill(e)
            elif isinstance(e, Fill) and e.liquidity == "adl":
                self.trades.append(
                    TradeInfo(
                        self.time,
                        "adl",
                        e.symbol,
                        e.position_side,
                        e.quantity,
                        e.price,
                        e.fee,
                        e.realized_pnl,
                    )
                )
                if e.quantity_after == 0:
                    for slot in self.slots:
                        if slot.plan.symbol == e.symbol and slot.plan.side == e.position_side:
                            slot.state = "done"
            elif isinstance(e, PartialLiquidation | Liquidation):
                self.bar_ratio = max(self.bar_ratio, Decimal(1))  # the pool reached 1
                if isinstance(e, PartialLiquidation):
                    continue  # the rest of the position stays open
                for slot in self.slots:
                    if slot.plan.symbol == e.symbol and slot.plan.side == e.position_side:
                        slot.state = "done"
        self._margin_triggers()
        self._observe()

    def _on_fill(self, e: Fill) -> None:
        for slot in self.slots:
            kind = None
            if e.order_id == slot.entry_order:
                kind = "entry"
            elif e.order_id == slot.stop_order:
                kind = "stop"
            elif e.order_id == slot.tp_order:
                kind = "take_profit"
            if kind is None:
                continue
            self.trades.append(
                TradeInfo(
                    self.time,
                    kind,
                    e.symbol,
                    e.position_side,
                    e.quantity,
                    e.price,
                    e.fee,
                    e.realized_pnl,
                )
            )
            if kind == "entry":
                slot.state = "open"
                self._top_up(slot)
                self._protect(slot)
            elif e.quantity_after == 0:
                slot.state = "done"

    def _observe(self) -> None:
        equity = self.acct.equity
        if equity < self.min_equity:
            self.min_equity, self.min_time = equity, self.time
        self.bar_low = min(self.bar_low, equity)
        if equity > self.peak:
            self.peak = equity
        dd = self.peak - equity
        if dd > self.max_dd:
            self.max_dd = dd
            self.max_dd_pct = _drawdown_pct(dd, self.peak)
        ratios = self.acct.margin_ratios()
        if ratios:
            self.bar_ratio = max(self.bar_ratio, *ratios.values())

    def _margin_triggers(self) -> None:
        for slot in self.slots:
            if slot.state != "open":
                continue
            pos = slot.plan
            for j, trig in enumerate(pos.add_margin):
                if j in slot.fired:
                    continue
                mark = self.markp.get(pos.symbol)
                if trig.at_price is not None:
                    hit = mark is not None and (mark - trig.at_price) * pos.sign <= 0
                else:
                    in_cross = self.modes[self.slots.index(slot)] == "cross"
                    key = "cross" if in_cross else f"{pos.symbol} {pos.side}"
                    ratio = self.acct.margin_ratios().get(key)
                    hit = ratio is not None and ratio >= (trig.at_margin_ratio or 0)
                if not hit:
                    continue
                slot.fired.add(j)
                if self.modes[self.slots.index(slot)] == "cross":
                    self.notes.append(
                        f"{utc_text(self.time)} {pos.symbol}: add_margin {trig.amount} not applied "
                        "in cross (the whole wallet already backs the position)"
                    )
                    continue
                try:
                    side = pos.side if self.hedge else None
                    self.acct.add_margin(pos.symbol, trig.amount, side=side, time=self.time)
                    self.margin_added += trig.amount
                except InsufficientMargin as exc:
                    self.notes.append(
                        f"{utc_text(self.time)} {pos.symbol}: add_margin refused: {exc}"
                    )

    def _top_up(self, slot: _Slot) -> None:
        """Add a setting's extra margin to an isolated position as it opens."""
        k = self.slots.index(slot)
        if self.extra[k] > 0 and self.modes[k] == "isolated":
            side = slot.plan.side if self.hedge else None
            try:
                self.acct.add_margin(slot.plan.symbol, self.extra[k], side=side, time=self.time)
            except PerpMarginError as exc:
                self.notes.append(
                    f"{utc_text(self.time)} {slot.plan.symbol}: margin {self.extra[k]} not "
                    f"added: {exc}"
                )
                return
            self.margin_added += self.extra[k]

    def _protect(self, slot: _Slot) -> None:
        pos = slot.plan
        leg = self.acct.position(pos.symbol, pos.side if self.hedge else None)
        if leg is None:
            return
        close_side: Literal["buy", "sell"] = "sell" if pos.side == "long" else "buy"
        side = pos.side if self.hedge else None
        if pos.stop is not None:
            slot.stop_order = self.acct.place_order(
                pos.symbol,
                close_side,
                "stop_market",
                leg.quantity,
                stop_price=pos.stop,
                reduce_only=True,
                trigger_by=pos.stop_trigger,
                position_side=side,
                time=self.time,
            ).order_id
        if pos.take_profit is not None:
            slot.tp_order = self.acct.place_order(
                pos.symbol,
                close_side,
                "take_profit_market",
                leg.quantity,
                stop_price=pos.take_profit,
                reduce_only=True,
                trigger_by="last",
                position_side=side,
                time=self.time,
            ).order_id

    def _enter(self, slot: _Slot) -> None:
        pos = slot.plan
        price = self.last[pos.symbol]
        marketable = pos.entry is not None and (price - pos.entry) * pos.sign <= 0
        try:
            if pos.entry is None or marketable:
                events = self.acct.open(pos.symbol, pos.side, slot.quantity, price, time=self.time)
                fill = next(e for e in events if isinstance(e, Fill))
                self.trades.append(
                    TradeInfo(
                        self.time,
                        "entry",
                        pos.symbol,
                        pos.side,
                        fill.quantity,
                        fill.price,
                        fill.fee,
                        fill.realized_pnl,
                    )
                )
                slot.state = "open"
                self._top_up(slot)
                self._protect(slot)
                self._after(events)
            else:
                order_side: Literal["buy", "sell"] = "buy" if pos.side == "long" else "sell"
                slot.entry_order = self.acct.place_order(
                    pos.symbol,
                    order_side,
                    "limit",
                    slot.quantity,
                    price=pos.entry,
                    position_side=pos.side if self.hedge else None,
                    time=self.time,
                ).order_id
                slot.state = "resting"
        except PerpMarginError as exc:
            slot.state = "done"
            self.notes.append(
                f"{utc_text(self.time)} {pos.symbol} {pos.side}: entry refused: {exc}"
            )

    # -- the path

    def _triggers(self) -> list[tuple[str, bool, Decimal]]:
        """(symbol, on the mark series?, price) of every order and price trigger."""
        out: list[tuple[str, bool, Decimal]] = []
        for order in self.acct.open_orders():
            price = order.price if order.type == "limit" else order.stop_price
            assert price is not None
            out.append((order.symbol, order.trigger_by == "mark", price))
        for k, slot in enumerate(self.slots):
            if self.modes[k] == "isolated" and slot.state == "open":
                for j, trig in enumerate(slot.plan.add_margin):
                    if j not in slot.fired and trig.at_price is not None:
                        out.append((slot.plan.symbol, True, trig.at_price))
        return out

    def _segment(self, end_last: Mapping[str, Decimal], end_mark: Mapping[str, Decimal]) -> None:
        """Move every symbol together in a straight line to the segment's end (u: 0 -> 1),
        stopping exactly where a trigger or a liquidation happens."""
        start_last, start_mark = dict(self.last), dict(self.markp)
        ticks = self.ticks

        def at(u: Decimal) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
            if u == 1:
                return dict(end_mark), dict(end_last)
            marks = {
                s: nearest_step(start_mark[s] + (end_mark[s] - start_mark[s]) * u, ticks[s])
                for s in self.symbols
            }
            last = {
                s: nearest_step(start_last[s] + (end_last[s] - start_last[s]) * u, ticks[s])
                for s in self.symbols
            }
            return marks, last

        u0 = ZERO
        while u0 < 1:
            u_next, pin = Decimal(1), None
            for s, on_mark, price in self._triggers():
                a, b = (start_mark[s], end_mark[s]) if on_mark else (start_last[s], end_last[s])
                if a == b:
                    continue
                u = (price - a) / (b - a)
                if u0 < u < u_next:
                    u_next, pin = u, (s, on_mark, price)
            marks, last = at(u_next)
            if pin is not None:  # exactly at the trigger price
                s, on_mark, price = pin
                (marks if on_mark else last)[s] = price
            if self.acct.liquidates_at(marks):
                u_next = first_liquidation(self.acct, dict(self.markp), u0, u_next, at)
                marks, last = at(u_next)
            self._mark(marks, last)
            u0 = u_next

    def _enter_counterparties(self, i: int) -> None:
        """Open the counterparties' positions due at bar ``i`` at its open (market)."""
        if not self.pending:
            return
        start = self.acct.next_seq
        for cp, pos, qty, index in self.pending:
            if index != i:
                continue
            try:
                self.others[cp.name].open(
                    pos.symbol, pos.side, qty, self.last[pos.symbol], time=self.time
                )
            except PerpMarginError as exc:
                self.other_notes[cp.name].append(
                    f"{utc_text(self.time)} {pos.symbol} {pos.side}: entry refused: {exc}"
                )
        self.pending = [p for p in self.pending if p[3] != i]
        self._after(self.acct.events_since(start))

    def _exposure(self, s: str) -> tuple[int, int]:
        net = self.acct.net_quantity(s)
        hint = 0
        for slot in self.slots:
            if slot.plan.symbol == s and slot.state in ("waiting", "resting"):
                hint = slot.plan.sign
                break
        return (1 if net > 0 else -1 if net < 0 else 0), hint

    def run_bar(self, i: int) -> None:
        market = self.market
        self.time = int(market.times[i])
        self.bar_low = self.acct.equity
        self.bar_ratio = ZERO
        self._mark(
            {s: market.mark[s][i][0] for s in self.symbols},
            {s: market.trade[s][i][0] for s in self.symbols},
        )
        for slot in self.slots:
            if slot.state == "waiting" and slot.index == i:
                self._enter(slot)
        self._enter_counterparties(i)
        for s, rate in sorted(market.funding.get(i, {}).items()):
            start = self.acct.next_seq
            self.acct.settle_funding(s, rate, time=self.time)
            for other in self.others.values():
                if other.position(s) is not None:
                    other.settle_funding(s, rate, time=self.time)
            self._after(self.acct.events_since(start))
        paths = {}
        for s in self.symbols:
            exposure, hint = self._exposure(s)
            order = self.plan.intrabar
            paths[s] = (
                waypoints(*market.trade[s][i], exposure=exposure, order=order, side_hint=hint),
                waypoints(*market.mark[s][i], exposure=exposure, order=order, side_hint=hint),
            )
        for step in (1, 2, 3):
            self._segment(
                {s: paths[s][0][step] for s in self.symbols},
                {s: paths[s][1][step] for s in self.symbols},
            )

    # -- quiet stretches (perpmargin.sim.quiet)

    def _quiet_symbols(self) -> dict[str, int] | None:
        """Each plan symbol's exposure sign (+1/-1/0) when this state can be read at once,
        else None (see :mod:`perpmargin.sim.quiet` for what is walked)."""
        if self.house is not None or self.hedge:
            return None
        for slot in self.slots:
            if slot.state == "open" and any(
                trig.at_price is None and j not in slot.fired
                for j, trig in enumerate(slot.plan.add_margin)
            ):
                return None
        signs: dict[str, int] = {}
        cross = 0
        for s in self.symbols:
            net = self.acct.net_quantity(s)
            signs[s] = 1 if net > 0 else -1 if net < 0 else 0
            if net:
                if self.venue.symbol(s).inverse_value is not None:
                    return None
                cross += self.acct.margin_mode(s) == "cross"
        rules = self.venue.liquidation
        if cross > 1 and rules.close_fee_in_maintenance and rules.close_fee_basis == "bankruptcy":
            return None  # Bybit: each leg's fee valued at a bankruptcy price the others move
        return signs

    def _quiet_end(self, i: int) -> int:
        """The first bar >= ``i`` with a planned entry or a funding time (or the end)."""
        end = len(self.market)
        for slot in self.slots:
            if slot.state == "waiting" and i <= slot.index < end:
                end = slot.index
        k = bisect.bisect_left(self.funding_bars, i)
        if k < len(self.funding_bars):
            end = min(end, self.funding_bars[k])
        return end

    def _quiet_triggers(self) -> list[tuple[str, bool, Decimal]]:
        out = self._triggers()
        for slot in self.slots:
            if slot.state == "open":
                for j, trig in enumerate(slot.plan.add_margin):
                    if j not in slot.fired and trig.at_price is not None:
                        out.append((slot.plan.symbol, True, trig.at_price))
        return out

    def _quiet_length(
        self, i: int, j: int, signs: Mapping[str, int], bars: Mapping[str, quiet.ScaledBars]
    ) -> tuple[int, dict[str, tuple[np.ndarray, np.ndarray]]]:
        """How many bars from ``i`` (at most ``j - i``) are quiet, and each symbol's
        running (lowest, highest) mark over them (the current mark included)."""
        hulls: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray]] = {}
        for s in self.symbols:
            for on_mark in (False, True):
                current = (self.markp if on_mark else self.last)[s]
                scaled = bars[s].to_int(current)
                if scaled is None:  # pinned at a trigger between the data's decimals
                    return 0, {}
                table = bars[s].mark if on_mark else bars[s].trade
                low = np.minimum(np.minimum.accumulate(table[i:j, 2]), scaled)
                high = np.maximum(np.maximum.accumulate(table[i:j, 1]), scaled)
                hulls[(s, on_mark)] = (low, high)
        limit = j - i
        for s, on_mark, price in self._quiet_triggers():
            low, high = hulls[(s, on_mark)]
            at = price.scaleb(bars[s].places)
            reached = (low <= int(at.to_integral_value(ROUND_FLOOR))) & (
                high >= int(at.to_integral_value(ROUND_CEILING))
            )
            hit = np.flatnonzero(reached[:limit])
            if hit.size:
                limit = int(hit[0])
        marks = {s: hulls[(s, True)] for s in self.symbols}

        def safe(m: int) -> bool:
            corner = {
                s: quiet.to_decimal(marks[s][0][m] if sign > 0 else marks[s][1][m], bars[s].places)
                for s, sign in signs.items()
                if sign
            }
            return not corner or not self.acct.liquidates_at(corner)

        if limit == 0 or safe(limit - 1):
            return limit, marks
        lo, hi = 0, limit - 1  # the first unsafe bar lies in [lo, hi]
        while lo < hi:
            mid = (lo + hi) // 2
            if safe(mid):
                lo = mid + 1
            else:
                hi = mid
        return lo, marks

    def quiet_stretch(self, i: int) -> int:
        """Read the quiet bars from ``i`` at once (:mod:`perpmargin.sim.quiet`) and return
        how many; 0 when bar ``i`` must be walked."""
        signs = self._quiet_symbols()
        if signs is None or not self.markp:
            return 0
        end = self._quiet_end(i)
        if end <= i:
            return 0
        bars = {s: quiet.scaled_bars(self.market, s) for s in self.symbols}
        window = 64
        while True:
            j = min(end, i + window)
            n, hulls = self._quiet_length(i, j, signs, bars)
            if n < j - i or j == end:
                break
            window *= 4
        if n == 0:
            return 0
        done = self._read_quiet(_Stretch(i, n, signs, bars, hulls))
        self.quiet_bars += done
        return done

    def _quiet_points(self, st: _Stretch) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Every symbol's (marks, last prices) at the 4 points of bars i..i+n-1, in
        walking order (:func:`perpmargin.sim.intrabar.waypoints`), scaled."""
        i, n, signs, bars = st.i, st.n, st.signs, st.bars
        marks, last = {}, {}
        for s in self.symbols:
            hint = next(
                (
                    x.plan.sign
                    for x in self.slots
                    if x.plan.symbol == s and x.state in ("waiting", "resting")
                ),
                0,
            )
            order = waypoints(
                0, 1, 2, 3, exposure=signs[s], order=self.plan.intrabar, side_hint=hint
            )
            marks[s] = bars[s].mark[i : i + n][:, order].reshape(-1)
            last[s] = bars[s].trade[i : i + n][:, order].reshape(-1)
        return marks, last

    def _quiet_probes(
        self, st: _Stretch
    ) -> tuple[quiet.Probe, dict[str, tuple[quiet.Probe, quiet.Probe]]] | None:
        """The engine's equity and each pool's (requirement, balance) as exact lines over
        the stretch: probed at its first point and one price unit away, then checked at the
        stretch's lowest, highest and middle marks (None if a check fails)."""
        i, n, signs, bars, hulls = st.i, st.n, st.signs, st.bars, st.hulls
        acct = self.acct
        held = [s for s, sign in signs.items() if sign]
        places = {s: bars[s].places for s in self.symbols}
        base = {s: self.market.mark[s][i][0] for s in self.symbols}
        start = {s: int(bars[s].to_int(p) or 0) for s, p in base.items()}
        moved = {s: {**base, s: base[s] + Decimal(1).scaleb(-places[s])} for s in held}
        money = (self.peak, self.max_dd, self.min_equity, acct.equity)
        eq0 = acct.equity_at(base)
        equity = quiet.make_probe(
            eq0,
            start,
            {s: acct.equity_at(moved[s]) - eq0 for s in held},
            max(quiet.places_of(x) for x in money),
        )
        pools0 = acct.pool_readings(base)
        pools_moved = {s: acct.pool_readings(moved[s]) for s in held}
        pools: dict[str, tuple[quiet.Probe, quiet.Probe]] = {}
        for key, (mm0, bal0) in pools0.items():
            steps_mm = {s: pools_moved[s][key][0] - mm0 for s in held}
            steps_bal = {s: pools_moved[s][key][1] - bal0 for s in held}
            p = max(map(quiet.places_of, (mm0, bal0, *steps_mm.values(), *steps_bal.values())))
            pools[key] = (
                quiet.make_probe(mm0, start, steps_mm, p),
                quiet.make_probe(bal0, start, steps_bal, p),
            )
        lo = {s: quiet.to_decimal(hulls[s][0][n - 1], places[s]) for s in self.symbols}
        hi = {s: quiet.to_decimal(hulls[s][1][n - 1], places[s]) for s in self.symbols}
        mid = {s: (lo[s] + hi[s]) / 2 for s in self.symbols}
        for point in (lo, hi, mid):
            if acct.equity_at(point) != equity.value_at(point, places):
                return None
            readings = acct.pool_readings(point)
            lines = {
                key: (mm.value_at(point, places), bal.value_at(point, places))
                for key, (mm, bal) in pools.items()
            }
            if readings != lines:
                return None
        return equity, pools

    def _quiet_track(self, equity: quiet.Probe, eq: np.ndarray, times: np.ndarray) -> None:
        """The run's lowest equity, peak and drawdown over the points, in walking order."""
        places = equity.places
        k = int(np.argmin(eq))
        if quiet.to_decimal(eq[k], places) < self.min_equity:
            self.min_equity = quiet.to_decimal(eq[k], places)
            self.min_time = int(times[k // 4])
        with_peak = quiet.prepend(int(self.peak.scaleb(places)), eq)
        peaks = np.maximum.accumulate(with_peak)[1:]
        drawdowns = peaks - with_peak[1:]
        k = int(np.argmax(drawdowns))
        if quiet.to_decimal(drawdowns[k], places) > self.max_dd:
            self.max_dd = quiet.to_decimal(drawdowns[k], places)
            self.max_dd_pct = _drawdown_pct(self.max_dd, quiet.to_decimal(peaks[k], places))
        self.peak = quiet.to_decimal(peaks[-1], places)

    def _quiet_legs(
        self,
        i: int,
        n: int,
        cross: tuple[quiet.Probe, quiet.Probe] | None,
        marks: Mapping[str, np.ndarray],
        bars: Mapping[str, quiet.ScaledBars],
    ) -> dict[str, np.ndarray] | None:
        """Each planned leg's (margin, liquidation price) columns over the stretch (None:
        a cross leg's prices could not be read exactly; the stretch is walked)."""
        out = {}
        open_symbols = {x.plan.symbol for x in self.slots if x.state == "open"}
        for slot in self.slots:
            key = f"{slot.plan.symbol} {slot.plan.side}"
            margin, liq = self._leg_now(slot)
            view = self._views[(slot.plan.symbol, slot.plan.side)][1]
            out[f"{key} liq"] = np.full(n, liq)
            if view is None or view.side != slot.plan.side or view.margin_mode != "cross":
                out[f"{key} margin"] = np.full(n, margin)
                continue
            closes = self.market.mark[slot.plan.symbol]
            out[f"{key} margin"] = np.array(
                [_cross_leg_margin(view, closes[b][3]) for b in range(i, i + n)]
            )
            pooled = cross is not None and len([s for s in cross[0].slopes if cross[0].slopes[s]
                                                or cross[1].slopes[s]]) > 1  # fmt: skip
            if len(open_symbols) > 1 and pooled:
                assert cross is not None
                prices = self._quiet_cross_prices(slot.plan.symbol, view, cross, marks, bars)
                if prices is None:
                    return None
                out[f"{key} liq"] = prices
        return out

    def _quiet_cross_prices(
        self,
        symbol: str,
        view: PositionView,
        cross: tuple[quiet.Probe, quiet.Probe],
        marks: Mapping[str, np.ndarray],
        bars: Mapping[str, quiet.ScaledBars],
    ) -> np.ndarray | None:
        """The liquidation price of a leg of a cross pool of several symbols at every
        bar's close, the other legs at their closes, exactly as the engine solves it.

        Within the stretch the pool's balance minus requirement is a line in each other
        symbol's price (probed), so the others shift the pool by an exact amount D_b a
        bar; near the root it is a line in this symbol's own price, a x p + K, read from
        the engine (:meth:`Account.pool_readings` one tick apart) and checked to give
        the engine's root at the stretch's end. The root at bar b is -(K + D_b) / a,
        the quotient of the same exact numbers the engine divides; the bars whose D_b is
        lowest and highest are solved by the engine too, so every root in between lies
        on the same line. None when a check fails.
        """
        acct = self.acct
        spec = self.venue.symbol(symbol)
        places = {s: bars[s].places for s in self.symbols}
        closes = {s: marks[s][3::4] for s in self.symbols}  # the 4th point of every bar
        at_end = {s: quiet.to_decimal(closes[s][-1], places[s]) for s in self.symbols}
        mm_probe, bal_probe = cross
        shift: Any = 0
        for s, b_slope in bal_probe.slopes.items():
            if s != symbol:
                move = closes[s] - closes[s][-1]
                shift = shift + (move.astype(object) * (b_slope - mm_probe.slopes[s]))
        shifts = np.broadcast_to(np.asarray(shift, dtype=object), closes[symbol].shape)
        extremes = {int(np.argmin(shifts)), int(np.argmax(shifts))}

        def solved(b: int) -> Decimal | None:
            bar = {s: quiet.to_decimal(closes[s][b], places[s]) for s in self.symbols}
            return acct.liquidation_price(symbol, None, exact=True, marks=bar)

        with engine_context():
            root = acct.liquidation_price(symbol, None, exact=True, marks=at_end)
            if root is None:  # none at the end: none anywhere if none at the extremes
                nothing = all(solved(b) is None for b in extremes)
                return np.full(shifts.shape, float("nan")) if nothing else None
            p1 = round_to_step(root, spec.tick_size, "down")
            p2 = p1 + spec.tick_size

            def pool(p: Decimal) -> Decimal:
                mm, bal = acct.pool_readings({**at_end, symbol: p})["cross"]
                return bal - mm

            slope = (pool(p2) - pool(p1)) / spec.tick_size
            constant = pool(p1) - slope * p1
            if slope == 0 or -constant / slope != root:
                return None
            d = [quiet.to_decimal(x, bal_probe.places) for x in shifts]
            roots = [-(constant + x) / slope for x in d]
            if any(solved(b) != roots[b] for b in extremes):
                return None
            legs = [pmath.SolverLeg(1 if view.side == "long" else -1, view.quantity,
                                    view.entry_price, spec.tiers)]  # fmt: skip
            out = [
                float(pmath.round_liquidation_price(r, legs, at_end[symbol], spec.tick_size))
                for r in roots
            ]
        return np.array(out)

    def _read_quiet(self, st: _Stretch) -> int:
        """Record bars i..i+n-1 from the engine's probed readings; 0 if a check fails."""
        i, n, bars = st.i, st.n, st.bars
        acct = self.acct
        probes = self._quiet_probes(st)
        if probes is None:
            return 0
        equity, pools = probes
        marks, last = self._quiet_points(st)
        eq = equity.at(marks)
        by_bar = eq.reshape(n, 4)
        opening = quiet.prepend(int(acct.equity.scaleb(equity.places)), by_bar[:-1, 3])
        lows = np.minimum(opening, by_bar.min(axis=1))
        ratio = np.zeros(n)
        for mm, bal in pools.values():
            requirements, balances = mm.at(marks), bal.at(marks)
            if not (balances > requirements).all():
                return 0  # cannot happen in a quiet stretch; walk to be sure
            ratios = quiet.exact_floats(requirements, balances)  # formulas.margin_ratio
            ratio = np.maximum(ratio, ratios.reshape(n, 4).max(axis=1))
        legs = self._quiet_legs(i, n, pools.get("cross"), marks, bars)
        if legs is None:
            return 0
        times = self.market.times[i : i + n]
        self._quiet_track(equity, eq, times)
        scale = 10**equity.places
        columns = {
            "time": times.astype(np.float64),
            "equity": quiet.exact_floats(by_bar[:, 3], scale),
            "equity_low": quiet.exact_floats(lows, scale),
            "wallet": np.full(n, float(acct.wallet_balance)),
            "margin_ratio": ratio,
            "insurance_fund": np.full(n, float(acct.insurance_fund.balance)),
            **legs,
        }
        for name, values in columns.items():
            self.columns[name].extend(values.tolist())
        # the engine at the stretch's end, each symbol's previous mark as the walk left it
        self.time = int(times[-1])
        places = {s: bars[s].places for s in self.symbols}
        previous = {}
        for s in self.symbols:
            differs = np.flatnonzero(marks[s] != marks[s][-1])
            if differs.size:
                previous[s] = quiet.to_decimal(marks[s][differs[-1]], places[s])
            elif self.markp[s].scaleb(places[s]) != marks[s][-1]:
                previous[s] = self.markp[s]
        if previous:
            acct.mark(previous, time=self.time)
        self.bar_low = quiet.to_decimal(lows[-1], equity.places)
        self._mark(
            {s: quiet.to_decimal(marks[s][-1], places[s]) for s in self.symbols},
            {s: quiet.to_decimal(last[s][-1], places[s]) for s in self.symbols},
        )
        return n

    def _leg_now(self, slot: _Slot) -> tuple[float, float]:
        """(margin, liquidation price) of a planned leg at the current marks.

        The position view is cached by the account's revision; an isolated leg's
        liquidation price depends on nothing else, a cross leg's on the other cross
        symbols' marks too, so that one is solved again when others are held.
        """
        pos = slot.plan
        side = pos.side if self.hedge else None
        key = (pos.symbol, pos.side)
        cached = self._views.get(key)
        if cached is None or cached[0] != self.acct.revision:
            cached = (self.acct.revision, self.acct.position(pos.symbol, side))
            self._views[key] = cached
        view = cached[1]
        if view is None or view.side != pos.side:
            return 0.0, float("nan")
        if view.margin_mode == "isolated":
            liq = view.liquidation_price
            return float(view.isolated_margin), float("nan") if liq is None else float(liq)
        margin = _cross_leg_margin(view, self.markp[pos.symbol])
        cross_symbols = {x.plan.symbol for x in self.slots if x.state == "open"}
        liq = (
            self.acct.liquidation_price(pos.symbol, side)
            if len(cross_symbols) > 1
            else view.liquidation_price
        )
        return margin, float("nan") if liq is None else float(liq)

    def record(self) -> None:
        """Append this bar's row to the series (float64 copies of the engine's numbers)."""
        acct = self.acct
        row = {
            "time": float(self.time),
            "equity": float(acct.equity),
            "equity_low": float(self.bar_low),
            "wallet": float(acct.wallet_balance),
            "margin_ratio": float(self.bar_ratio),
            "insurance_fund": float(acct.insurance_fund.balance),
        }
        for slot in self.slots:
            key = f"{slot.plan.symbol} {slot.plan.side}"
            row[f"{key} margin"], row[f"{key} liq"] = self._leg_now(slot)
        for name, value in row.items():
            self.columns[name].append(value)

    def series(self) -> pd.DataFrame:
        """The recorded rows: time (int ms), then float64 columns."""
        series = pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in self.columns.items()})
        series["time"] = series["time"].astype("int64")
        return series

    def walk(self, advance: Callable[[int], None] = lambda k: None) -> None:
        """Replay every bar: quiet stretches at once (:meth:`quiet_stretch`, unless the
        run was made with ``skip_quiet=False``), the others through :meth:`run_bar`.
        ``advance`` is called with the bars done, about every 256."""
        n, i, done = len(self.market), 0, 0
        while i < n:
            k = self.quiet_stretch(i) if self.skip_quiet else 0
            if k == 0:
                self.run_bar(i)
                self.record()
                k = 1
            i += k
            done += k
            if done >= 256:
                advance(done)
                done = 0
        advance(done)

    def counterparty_outcomes(self) -> tuple[CounterpartyOutcome, ...]:
        """Each counterparty's end of the run."""
        house = self.house
        if house is None:
            return ()
        out = []
        for cp in self.plan.counterparties:
            acct = self.others[cp.name]
            ledger = acct.ledger
            out.append(
                CounterpartyOutcome(
                    name=cp.name,
                    margin_mode=cp.margin_mode,
                    start_balance=cp.balance,
                    final_equity=acct.equity,
                    liquidations=_liquidations(ledger),
                    partial_liquidations=sum(
                        1 for e in ledger if isinstance(e, PartialLiquidation)
                    ),
                    deleveraged=sum(
                        (d.quantity for d in house.deleveragings if d.counterparty == cp.name),
                        ZERO,
                    ),
                    bankrupt_deleveraged=sum(
                        (d.quantity for d in house.deleveragings if d.bankrupt == cp.name), ZERO
                    ),
                    notes=tuple(self.other_notes[cp.name]),
                )
            )
        return tuple(out)

    def outcome(self) -> Outcome:
        ledger = self.acct.ledger
        liqs = _liquidations(ledger)
        draws = ZERO
        for e in ledger:
            if isinstance(e, Liquidation | FundingSettled) and e.insurance_fund_delta < 0:
                draws -= e.insurance_fund_delta
            elif isinstance(e, InsuranceFundTransfer) and e.amount < 0:
                draws -= e.amount
        equity = self.acct.equity
        return Outcome(
            mode=self.mode,
            settle=self.acct.settle,
            start_balance=self.plan.balance,
            final_equity=equity,
            final_wallet=self.acct.wallet_balance,
            pnl=equity - self.plan.balance,
            min_equity=self.min_equity,
            min_equity_time=self.min_time,
            max_drawdown=self.max_dd,
            max_drawdown_pct=self.max_dd_pct.quantize(Decimal("0.01")),
            liquidations=liqs,
            trades=tuple(self.trades),
            fees=self.acct.fees_paid,
            funding=sum((e.amount for e in ledger if isinstance(e, FundingSettled)), ZERO),
            liquidation_fees=sum(
                (e.liquidation_fee for e in ledger if isinstance(e, Liquidation)), ZERO
            ),
            insurance_fund_net=self.acct.insurance_fund_net,
            insurance_fund_draws=draws,
            margin_added=sum(
                (e.amount for e in ledger if isinstance(e, MarginChanged) and e.amount > 0), ZERO
            ),
            partial_liquidations=tuple(
                PartialInfo(
                    e.time or 0,
                    e.symbol,
                    e.position_side,
                    e.mark_price,
                    e.quantity,
                    e.quantity_after,
                    e.realized_pnl,
                    e.reason,
                )
                for e in ledger
                if isinstance(e, PartialLiquidation)
            ),
            deleveraged=sum((e.deleveraged for e in ledger if isinstance(e, Liquidation)), ZERO),
            adl=tuple(
                d
                for d in (self.house.deleveragings if self.house is not None else ())
                if TRADER in (d.bankrupt, d.counterparty)
            ),
            notes=tuple(self.notes)
            + tuple(
                f"{utc_text(e.time)} order {e.order_id} cancelled: {e.reason}"
                for e in ledger
                if isinstance(e, OrderCancelled) and e.reason.startswith("rejected")
            ),
        )


def _cross_leg_margin(view: PositionView, mark: Decimal) -> float:
    """The margin a cross leg is charted with: its initial margin at the mark."""
    return float(view.quantity * mark / view.leverage)


def _drawdown_pct(drawdown: Decimal, peak: Decimal) -> Decimal:
    """Drawdown in percent of the peak equity (0 without a positive peak)."""
    return drawdown / peak * 100 if peak > 0 else ZERO


def _liquidations(ledger: tuple[Event, ...]) -> tuple[LiquidationInfo, ...]:
    return tuple(
        LiquidationInfo(
            e.time or 0,
            e.symbol,
            e.position_side,
            e.mark_price,
            e.bankruptcy_price,
            -(e.realized_pnl - e.liquidation_fee)
            if e.margin_mode == "cross"
            else -e.isolated_margin_delta - e.cross_wallet_delta,
            e.liquidation_fee,
        )
        for e in ledger
        if isinstance(e, Liquidation)
    )


def replay(
    plan: Plan,
    market: MarketData | None = None,
    *,
    venue: Venue | None = None,
    insurance_fund: Callable[[], InsuranceFund] | None = None,
    progress: bool | Callable[[int], None] | None = None,
    skip_quiet: bool = True,
) -> PlanResult:
    """Replay ``plan`` once per margin mode in ``plan.modes`` and return every run.

    Parameters
    ----------
    market
        Data from :func:`perpmargin.sim.market.load_market` (loaded from the plan's files
        when omitted).
    venue
        A venue object to use instead of ``plan.venue`` (e.g. a what-if copy).
    insurance_fund
        Factory of the fund each run starts with; by default a fund holding the plan's
        ``insurance_fund`` opening balance (0: a new empty fund). A factory wins.
    progress
        Show a progress bar on stderr; by default only on a terminal for long replays.
        A function instead is called with the number of bars just replayed (every 256
        bars of each mode) and may raise to stop the replay (the web app's time limit).
    skip_quiet
        Read stretches of bars in which nothing can happen at once
        (:mod:`perpmargin.sim.quiet`; the same numbers to the last bit). False walks
        every bar through the engine (the reference the tests compare with).
    """
    data = market if market is not None else load_market(plan)
    v = venue if venue is not None else load_venue(plan.venue)
    check_dated(data, v, plan.symbols)
    sized = [size_position(plan, v, data, pos) for pos in plan.positions]
    result = PlanResult(
        plan=plan,
        market=data,
        quantities=tuple(q for q, _, _ in sized),
        entry_prices=tuple(e for _, e, _ in sized),
        checks=tuple(c for _, _, c in sized),
        counterparty_quantities=tuple(
            tuple(size_position(plan, v, data, pos)[0] for pos in cp.positions)
            for cp in plan.counterparties
        ),
    )
    n = len(data)
    if callable(progress):
        bar_ctx: Any = contextlib.nullcontext(progress)
    else:
        long = sys.stderr.isatty() and n * len(plan.modes) > 20000
        bar_ctx = _progress(
            progress if progress is not None else long, n * len(plan.modes), plan.name
        )
    with bar_ctx as advance:
        for mode in plan.modes:
            fund = insurance_fund() if insurance_fund is not None else None
            run = _Run(
                plan,
                v,
                data,
                mode,
                result.quantities,
                fund,
                result.counterparty_quantities,
                skip_quiet=skip_quiet,
            )
            run.walk(advance)
            result.runs[mode] = ModeRun(
                mode,
                run.acct,
                run.outcome(),
                run.series(),
                counterparties=run.counterparty_outcomes(),
                deleveragings=tuple(run.house.deleveragings) if run.house is not None else (),
                clearinghouse=run.house,
                quiet_bars=run.quiet_bars,
            )
    return result


def replay_setting(
    plan: Plan,
    setting: Setting,
    market: MarketData | None = None,
    *,
    venue: Venue | None = None,
    skip_quiet: bool = True,
) -> ModeRun:
    """Replay ``plan`` once with each position held as ``setting`` says (modes mixed in
    one account; an isolated position gets its extra margin as it opens).

    The run's ``mode`` is "isolated" when every position is isolated, else "cross".
    Plans with counterparties are refused (their accounts' modes are their own).
    """
    if len(setting.modes) != len(plan.positions):
        raise InvalidInput(
            f"{plan.name}: the setting has {len(setting.modes)} positions, the plan "
            f"{len(plan.positions)}"
        )
    if plan.counterparties:
        raise InvalidInput(f"{plan.name}: a setting cannot be replayed with counterparties")
    data = market if market is not None else load_market(plan)
    v = venue if venue is not None else load_venue(plan.venue)
    quantities = tuple(size_position(plan, v, data, pos)[0] for pos in plan.positions)
    label: MarginModeName = "isolated" if set(setting.modes) == {"isolated"} else "cross"
    run = _Run(plan, v, data, label, quantities, None, setting=setting, skip_quiet=skip_quiet)
    run.walk()
    return ModeRun(label, run.acct, run.outcome(), run.series(), quiet_bars=run.quiet_bars)


class _progress:
    """A rich progress bar, or nothing."""

    def __init__(self, show: bool, total: int, label: str) -> None:
        self.show, self.total, self.label = show, total, label
        self._bar: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.show:
            return lambda k: None
        from rich.console import Console
        from rich.progress import Progress

        self._bar = Progress(console=Console(stderr=True), transient=True)
        self._bar.__enter__()
        task = self._bar.add_task(f"replay {self.label}", total=self.total)
        return lambda k: self._bar.update(task, advance=k)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
