"""A plan replayed under portfolio margin (a unified account) on real bars.

The third mode beside the exact replay's isolated and cross runs
(:mod:`perpmargin.sim.replay`): the plan's positions, with the same quantities, held in a
:class:`perpmargin.engine.unified.UnifiedAccount` whose money is the plan's balance,
either in the settle asset or converted at the first bar into another collateral asset
(``collateral="BTC"``: the two-collateral case, where the collateral falls with a BTC
long). Every bar is walked open -> adverse extreme -> favourable extreme -> close, as the
exact replay walks it, on the mark bars (the trade bars where none are given) and the
trade bars together; the index price of a symbol's base asset moves with its mark (the
bars are the only prices there are; said in the notes). Money is valued in the bars'
quote asset (USDT): its index is 1 by definition.
Along each segment the first point on the tick grid where the account is liquidated is
found by bisection, and the venue's rule acts there (Binance: every position closed at
its mark with the liquidation fee; a venue whose steps are not published: flagged).

Stops and take-profits follow the engine's order rules (:class:`perpmargin.engine.orders.
Order`: a stop triggered on its series fills at the worse of its price and the price
seen, a take-profit at its price, both as takers); funding is settled at its times at
the mark. Not modelled here (refused, not skipped): limit entries, hedge mode,
counterparties; margin triggers top up isolated positions and do nothing here (said).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import pandas as pd

from perpmargin.engine.orders import Order, OrderType
from perpmargin.engine.unified import ASSET_STEP, UnifiedAccount, UnifiedReading
from perpmargin.errors import InsufficientMargin, NotModelled
from perpmargin.numeric import Number, engine_context, nearest_step, round_to_step
from perpmargin.sim.intrabar import first_liquidation, waypoints
from perpmargin.sim.market import MarketData, check_dated, load_market
from perpmargin.sim.plan import Plan, PositionPlan
from perpmargin.sim.sizing import entry_index, size_position
from perpmargin.venues.loader import load_venue
from perpmargin.venues.schema import SymbolSpec, Venue
from perpmargin.venues.unified import UnifiedRules

__all__ = ["PortfolioRun", "portfolio_run_dict", "replay_portfolio"]


@dataclass
class PortfolioRun:
    """A plan under portfolio margin: the account after the run, its series (one row a
    bar at the close: time ms, equity and adjusted equity and maintenance in the quote
    asset, the ratio, NaN where undefined), when it was liquidated (or flagged) and the
    notes."""

    account: UnifiedAccount
    series: pd.DataFrame
    start_balances: Mapping[str, Decimal]
    liquidated_at: int | None = None
    liquidation_marks: Mapping[str, Decimal] | None = None
    liquidation_reading: UnifiedReading | None = None
    final: UnifiedReading | None = None
    notes: list[str] = field(default_factory=list)
    exits: list[tuple[int, str, str, Decimal]] = field(default_factory=list)
    """(time ms, symbol, "entry" / "stop" / "take-profit", fill price) of each fill."""

    @property
    def flagged_only(self) -> bool:
        """True when the rules publish no liquidation steps: at ``liquidated_at`` the
        account reached its trigger and was flagged, and its positions were held on."""
        return self.account.rules.liquidation == "not_published"


def _refuse_unmodelled(plan: Plan) -> None:
    what = []
    for p in plan.positions:
        if p.entry is not None:
            what.append(f"{p.symbol}: a limit entry")
    if plan.position_mode == "hedge":
        what.append("hedge mode")
    if plan.counterparties:
        what.append("counterparties")
    if what:
        raise NotModelled(
            f"{plan.name}: the portfolio-margin replay takes market entries (with stops and "
            f"take-profits); not modelled yet: {'; '.join(what)} (the isolated and cross "
            "replay model them)"
        )


def replay_portfolio(
    plan: Plan,
    rules: UnifiedRules | str,
    *,
    collateral: str | None = None,
    haircuts: Mapping[str, object] | None = None,
    market: MarketData | None = None,
    venue: Venue | None = None,
    contingency: Mapping[str, Number] | None = None,
    price_moves: Mapping[str, Number] | None = None,
    interest: Mapping[str, Number] | None = None,
) -> PortfolioRun:
    """Replay ``plan`` under the unified-account ``rules`` (see the module docstring).

    ``collateral``: the asset the plan's balance is held in (default the settle asset);
    ``haircuts``: haircut tables per asset for rules that publish none (as
    :class:`UnifiedAccount`'s ``collateral``); ``contingency``, ``price_moves``: risk-based
    rules' rates and price ranges (as :class:`UnifiedAccount` takes them); ``interest``:
    hourly rates per asset charged on what the account owes at each full hour
    (:meth:`UnifiedAccount.accrue_interest`; without it nothing is charged, said).
    """
    _refuse_unmodelled(plan)
    data = market if market is not None else load_market(plan)
    v = venue if venue is not None else load_venue(plan.venue)
    check_dated(data, v, plan.symbols)
    specs = {s: v.symbol(s) for s in plan.symbols}
    quote = specs[plan.symbols[0]].settle
    if any(spec.inverse_value is not None or spec.settle != quote for spec in specs.values()):
        raise NotModelled(f"{plan.name}: the portfolio replay takes linear {quote} contracts")
    quantities = [size_position(plan, v, data, p)[0] for p in plan.positions]
    bases = {specs[s].base: s for s in plan.symbols}
    first = {s: data.mark[s][0][0] for s in plan.symbols}
    index0 = {quote: Decimal(1), **{b: first[s] for b, s in bases.items()}}
    held = (collateral or quote).upper()
    if held != quote and held not in bases:
        raise NotModelled(
            f"collateral {held}: the plan has no {held} bars to price it (its bases: "
            f"{', '.join(sorted(bases))})"
        )
    with engine_context():
        amount = (
            plan.balance
            if held == quote
            else round_to_step(plan.balance / index0[held], ASSET_STEP, "down")
        )
    account = UnifiedAccount(
        rules, {held: amount}, index0, collateral=haircuts, venues=[v],
        contingency=contingency, price_moves=price_moves,
    )  # fmt: skip
    run = PortfolioRun(account, pd.DataFrame(), {held: amount})
    run.notes.append(
        f"valued in {quote}; each base asset's index price is its symbol's mark"
        + (f"; the {plan.balance} {quote} balance held as {amount} {held}" if held != quote else "")
    )
    if v.id not in account.rules.futures:
        run.notes.append(
            f"the plan's {v.id} contracts under {account.rules.id}'s account rules (its own "
            f"futures: {', '.join(account.rules.futures)})"
        )
    if any(p.add_margin for p in plan.positions):
        run.notes.append("margin triggers top up isolated positions: none in a unified account")
    walk = _Walk(plan, data, account, specs, bases, run)
    if interest:
        account.accrue_interest(interest, 0)  # the rates are checked before the walk
        walk.interest = dict(interest)
    else:
        run.notes.append("no interest is charged on what the account owes (pass hourly rates)")
    walk.walk(quantities)
    return run


_HOUR_MS = 3_600_000


class _Walk:
    """The bars walked as the exact replay walks them (:class:`perpmargin.sim.replay`):
    each bar marked at its open (a jump from the last close), the entries due filled at
    the open's last price with their stop and take-profit placed (:class:`perpmargin.
    engine.orders.Order`: the same trigger and fill rules), the funding due settled, then
    open -> adverse extreme ->
    favourable extreme -> close on the mark and last series together, stopping exactly
    at each order's trigger and at the first liquidating mark on the tick grid."""

    def __init__(
        self,
        plan: Plan,
        data: MarketData,
        account: UnifiedAccount,
        specs: Mapping[str, SymbolSpec],
        bases: Mapping[str, str],
        run: PortfolioRun,
    ) -> None:
        self.plan, self.data, self.account, self.out = plan, data, account, run
        self.symbols = list(plan.symbols)
        self.ticks = {s: specs[s].tick_size for s in self.symbols}
        self.bases = bases
        self.orders: list[Order] = []
        self.mark = {s: data.mark[s][0][0] for s in self.symbols}
        self.last = {s: data.trade[s][0][0] for s in self.symbols}
        self.time = int(data.times[0])
        self.interest: dict[str, Number] = {}

    def walk(self, quantities: list[Decimal]) -> None:
        data, plan = self.data, self.plan
        entries: dict[int, list[int]] = {}
        for k, p in enumerate(plan.positions):
            entries.setdefault(entry_index(plan, data, p), []).append(k)
        rows = []
        for i in range(len(data)):
            self.time = t = int(data.times[i])
            self._jump({s: data.mark[s][i][0] for s in self.symbols},
                       {s: data.trade[s][i][0] for s in self.symbols})  # fmt: skip
            for k in entries.get(i, []):
                if self.out.liquidated_at is None:
                    self._enter(plan.positions[k], quantities[k], i)
            hours = (t // _HOUR_MS) - (int(data.times[i - 1]) // _HOUR_MS) if i else 0
            if self.interest and hours > 0 and self.out.liquidated_at is None:
                self._after(self.account.accrue_interest(self.interest, hours), dict(self.mark))
            for s, rate in sorted(data.funding.get(i, {}).items()):
                if self.out.liquidated_at is None and any(
                    s == sym for sym, *_ in self.account.positions()
                ):
                    self._after(self.account.settle_funding(s, rate), dict(self.mark))
            signs = {s: 1 if side == "long" else -1 for s, side, _, _ in self.account.positions()}
            paths = {
                s: (waypoints(*data.trade[s][i], exposure=signs.get(s, 0), order=plan.intrabar),
                    waypoints(*data.mark[s][i], exposure=signs.get(s, 0), order=plan.intrabar))
                for s in self.symbols
            }  # fmt: skip
            for step in (1, 2, 3):
                self._segment({s: paths[s][1][step] for s in self.symbols},
                              {s: paths[s][0][step] for s in self.symbols})  # fmt: skip
            r = self.account.reading()
            rows.append({
                "time": t,
                "equity": float(r.equity),
                "adjusted_equity": float(r.adjusted_equity),
                "maintenance": float(r.maintenance),
                "ratio": float("nan") if r.ratio is None else float(r.ratio),
            })  # fmt: skip
        self.out.series = pd.DataFrame(rows)
        self.out.final = self.account.reading()

    def _index(self, marks: Mapping[str, Decimal]) -> dict[str, Decimal]:
        return {b: marks[s] for b, s in self.bases.items()}

    def _enter(self, pos: PositionPlan, quantity: Decimal, i: int) -> None:
        price = self.last[pos.symbol]
        try:
            self.account.open(pos.symbol, pos.side, quantity, price)
        except InsufficientMargin as exc:  # the account is unchanged
            self.out.notes.append(f"entry of bar {i} refused: {exc}")
            return
        self.out.exits.append((self.time, pos.symbol, "entry", price))
        close_side: Literal["buy", "sell"] = "sell" if pos.side == "long" else "buy"
        kinds: tuple[tuple[OrderType, Decimal | None], ...] = (
            ("stop_market", pos.stop), ("take_profit_market", pos.take_profit))  # fmt: skip
        for kind, price_ in kinds:
            if price_ is not None:
                self.orders.append(Order(len(self.orders), pos.symbol, close_side, kind,
                                         quantity, stop_price=price_, reduce_only=True,
                                         trigger_by=pos.stop_trigger
                                         if kind == "stop_market" else "last"))  # fmt: skip

    def _after(self, reading: UnifiedReading, marks: Mapping[str, Decimal]) -> None:
        """Record the first liquidation (or flag) a call brought."""
        if reading.liquidated and self.out.liquidated_at is None:
            self.out.liquidated_at, self.out.liquidation_marks = self.time, dict(marks)
            self.out.liquidation_reading = reading
            if self.out.flagged_only:
                self.out.notes.append(
                    f"{self.account.rules.id} publishes no liquidation steps: the account "
                    "reached its trigger and is flagged, not closed; its positions are held "
                    "after it, so the final equity is that of holding them"
                )
        if not self.account.positions() or (reading.liquidated and not self.out.flagged_only):
            self.orders = []  # reduce-only orders with nothing left to reduce

    def _fill(self, marks: Mapping[str, Decimal], last: Mapping[str, Decimal]) -> None:
        """Fill every order its price triggers at these prices (one per symbol)."""
        held = {s for s, *_ in self.account.positions()}
        for order in list(self.orders):
            if order not in self.orders or order.symbol not in held:
                continue
            seen = (marks if order.trigger_by == "mark" else last)[order.symbol]
            hit = order.check(seen)
            if hit is None:
                continue
            self.account.close(order.symbol, hit[0])
            kind = "stop" if order.type == "stop_market" else "take-profit"
            self.out.exits.append((self.time, order.symbol, kind, hit[0]))
            self.orders = [o for o in self.orders if o.symbol != order.symbol]
            held.discard(order.symbol)

    def _jump(self, marks: Mapping[str, Decimal], last: Mapping[str, Decimal]) -> None:
        """The bar's open: a jump from the last close (a gap), as the exact replay marks
        it: a liquidation or an order it triggers happens at the open's prices (a stop
        gapped through fills at the open, worse than its price)."""
        marks, last = dict(marks), dict(last)
        if self.out.liquidated_at is None and self.account.positions():
            self._after(self.account.reading(marks, self._index(marks)), marks)
        self.mark, self.last = marks, last
        self.account.mark(marks, self._index(marks))
        if not self.account.positions():
            self.orders = []
        self._fill(marks, last)

    def _segment(self, end_mark: Mapping[str, Decimal], end_last: Mapping[str, Decimal]) -> None:
        """Move every price in a straight line to the segment's end, stopping exactly at
        each order's trigger price and at the first liquidating mark on the tick grid."""
        start_mark, start_last = dict(self.mark), dict(self.last)

        def at(u: Decimal) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
            if u == 1:
                return dict(end_mark), dict(end_last)
            with engine_context():
                return (
                    {s: nearest_step(start_mark[s] + (end_mark[s] - start_mark[s]) * u,
                                     self.ticks[s]) for s in self.symbols},
                    {s: nearest_step(start_last[s] + (end_last[s] - start_last[s]) * u,
                                     self.ticks[s]) for s in self.symbols},
                )  # fmt: skip

        u0 = Decimal(0)
        while u0 < 1:
            u_next, pin = Decimal(1), None
            for order in self.orders:
                s, on_mark = order.symbol, order.trigger_by == "mark"
                a, b = (start_mark[s], end_mark[s]) if on_mark else (start_last[s], end_last[s])
                assert order.stop_price is not None
                if a != b:
                    with engine_context():
                        u = (order.stop_price - a) / (b - a)
                    if u0 < u < u_next:
                        u_next, pin = u, (s, on_mark, order.stop_price)
            marks, last = at(u_next)
            if pin is not None:  # exactly at the trigger price
                (marks if pin[1] else last)[pin[0]] = pin[2]
            live = self.out.liquidated_at is None and self.account.positions()
            if live and self.account.reading(marks, self._index(marks)).liquidated:
                u_next = first_liquidation(
                    lambda m: self.account.reading(m, self._index(m)).liquidated,
                    start_mark, u0, u_next, at,
                )  # fmt: skip
                marks, last = at(u_next)
                self._after(self.account.reading(marks, self._index(marks)), marks)
            self.mark, self.last = marks, last
            self.account.mark(marks, self._index(marks))
            if not self.account.positions():
                self.orders = []  # closed by the liquidation: nothing left to reduce
            self._fill(marks, last)
            u0 = u_next


def portfolio_run_dict(run: PortfolioRun) -> dict[str, object]:
    """A portfolio run as JSON-ready values (Decimals as strings)."""
    final = run.final
    assert final is not None
    return {
        "rules": run.account.rules.id,
        "start_balances": {a: str(x) for a, x in run.start_balances.items()},
        "final_equity": str(final.equity),
        "final_adjusted_equity": str(final.adjusted_equity),
        "final_balances": {a: str(x) for a, x in run.account.balances.items()},
        "liquidated_at": run.liquidated_at,
        "liquidation_marks": None
        if run.liquidation_marks is None
        else {s: str(p) for s, p in run.liquidation_marks.items()},
        "insurance_fund_net": {a: str(x) for a, x in run.account.insurance_fund_net.items()},
        "fills": [{"time": t, "symbol": s, "kind": k, "price": str(p)} for t, s, k, p in run.exits],
        "notes": list(run.notes),
    }
