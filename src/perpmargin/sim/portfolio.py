"""A plan replayed under portfolio margin (a unified account) on real bars.

The third mode beside the exact replay's isolated and cross runs
(:mod:`perpmargin.sim.replay`): the plan's positions, with the same quantities, held in a
:class:`perpmargin.engine.unified.UnifiedAccount` whose money is the plan's balance,
either in the settle asset or converted at the first bar into another collateral asset
(``collateral="BTC"``: the two-collateral case, where the collateral falls with a BTC
long). Every bar is walked open -> adverse extreme -> favourable extreme -> close, as the
exact replay walks it; each symbol's mark is the bar's price, and the index price of a
symbol's base asset moves with it (the bars are the only prices there are; said in the
notes). Money is valued in the bars' quote asset (USDT): its index is 1 by definition.
Along each segment the first point on the tick grid where the account is liquidated is
found by bisection, and the venue's rule acts there (Binance: every position closed at
its mark with the liquidation fee; a venue whose steps are not published: flagged).

Not modelled here (refused, not skipped): stops, take-profits, limit entries, margin
triggers, hedge mode, counterparties. Funding is not applied (said in the notes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from perpmargin.engine.unified import ASSET_STEP, UnifiedAccount, UnifiedReading
from perpmargin.errors import InsufficientMargin, NotModelled
from perpmargin.numeric import Number, engine_context, nearest_step, round_to_step
from perpmargin.sim.intrabar import waypoints
from perpmargin.sim.market import MarketData, load_market
from perpmargin.sim.plan import Plan
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
        if p.stop is not None or p.take_profit is not None:
            what.append(f"{p.symbol}: a stop or take-profit")
        if p.add_margin:
            what.append(f"{p.symbol}: margin triggers")
    if plan.position_mode == "hedge":
        what.append("hedge mode")
    if plan.counterparties:
        what.append("counterparties")
    if what:
        raise NotModelled(
            f"{plan.name}: the portfolio-margin replay takes market entries held to the end; "
            f"not modelled yet: {'; '.join(what)} (the isolated and cross replay model them)"
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
) -> PortfolioRun:
    """Replay ``plan`` under the unified-account ``rules`` (see the module docstring).

    ``collateral``: the asset the plan's balance is held in (default the settle asset);
    ``haircuts``: haircut tables per asset for rules that publish none (as
    :class:`UnifiedAccount`'s ``collateral``); ``contingency``, ``price_moves``: risk-based
    rules' rates and price ranges (as :class:`UnifiedAccount` takes them).
    """
    _refuse_unmodelled(plan)
    data = market if market is not None else load_market(plan)
    v = venue if venue is not None else load_venue(plan.venue)
    specs = {s: v.symbol(s) for s in plan.symbols}
    quote = specs[plan.symbols[0]].settle
    if any(spec.inverse_value is not None or spec.settle != quote for spec in specs.values()):
        raise NotModelled(f"{plan.name}: the portfolio replay takes linear {quote} contracts")
    quantities = [size_position(plan, v, data, p)[0] for p in plan.positions]
    bases = {specs[s].base: s for s in plan.symbols}
    first = {s: data.trade[s][0][0] for s in plan.symbols}
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
        f"valued in {quote}; each base asset's index price is its symbol's bar price"
        + (f"; the {plan.balance} {quote} balance held as {amount} {held}" if held != quote else "")
    )
    if v.id not in account.rules.futures:
        run.notes.append(
            f"the plan's {v.id} contracts under {account.rules.id}'s account rules (its own "
            f"futures: {', '.join(account.rules.futures)})"
        )
    if any(data.funding.values()):
        run.notes.append("funding is not applied in the portfolio run")
    _walk(plan, data, account, specs, bases, quantities, run)
    return run


def _walk(
    plan: Plan,
    data: MarketData,
    account: UnifiedAccount,
    specs: Mapping[str, SymbolSpec],
    bases: Mapping[str, str],
    quantities: list[Decimal],
    run: PortfolioRun,
) -> None:
    entries: dict[int, list[int]] = {}
    for k, p in enumerate(plan.positions):
        entries.setdefault(entry_index(plan, data, p), []).append(k)
    ticks = {s: specs[s].tick_size for s in plan.symbols}
    rows = []
    now = {s: data.trade[s][0][0] for s in plan.symbols}
    for i in range(len(data)):
        t = int(data.times[i])
        opening = {s: data.trade[s][i][0] for s in plan.symbols}
        _move(account, now, opening, bases, ticks, run, t)
        now = opening
        for k in entries.get(i, []):
            p = plan.positions[k]
            if run.liquidated_at is None:
                try:
                    account.open(p.symbol, p.side, quantities[k], now[p.symbol])
                except InsufficientMargin as exc:  # the account is unchanged
                    run.notes.append(f"entry of bar {i} refused: {exc}")
        # each symbol's path through the bar, as the exact replay fixes it at the open
        signs = {s: 1 if side == "long" else -1 for s, side, _, _ in account.positions()}
        paths = {
            s: waypoints(*data.trade[s][i], exposure=signs.get(s, 0), order=plan.intrabar)
            for s in plan.symbols
        }
        for step in (1, 2, 3):
            target = {s: paths[s][step] for s in plan.symbols}
            _move(account, now, target, bases, ticks, run, t)
            now = target
        r = account.reading()
        rows.append({
            "time": t,
            "equity": float(r.equity),
            "adjusted_equity": float(r.adjusted_equity),
            "maintenance": float(r.maintenance),
            "ratio": float("nan") if r.ratio is None else float(r.ratio),
        })  # fmt: skip
    run.series = pd.DataFrame(rows)
    run.final = account.reading()


def _move(
    account: UnifiedAccount,
    start: Mapping[str, Decimal],
    end: Mapping[str, Decimal],
    bases: Mapping[str, str],
    ticks: Mapping[str, Decimal],
    run: PortfolioRun,
    t: int,
) -> None:
    """Mark the account along a straight move of every price, stopping at the first
    liquidating point on the tick grid."""

    def at(u: Decimal) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        with engine_context():
            marks = {s: end[s] if u == 1 else nearest_step(start[s] + (end[s] - start[s]) * u,
                                                          ticks[s]) for s in start}  # fmt: skip
        return marks, {b: marks[s] for b, s in bases.items()}

    marks, index = at(Decimal(1))
    settled = run.liquidated_at is not None or not account.positions()
    if settled or not account.reading(marks, index).liquidated:
        account.mark(marks, index)
        return
    lo, hi = Decimal(0), Decimal(1)  # lo does not liquidate, hi does (rounded to the tick)
    for _ in range(50):
        mid = (lo + hi) / 2
        if account.reading(*at(mid)).liquidated:
            hi = mid
        else:
            lo = mid
    first = at(hi)
    run.liquidated_at, run.liquidation_marks = t, first[0]
    run.liquidation_reading = account.mark(*first)
    if run.flagged_only:
        run.notes.append(
            f"{account.rules.id} publishes no liquidation steps: the account reached its "
            "trigger and is flagged, not closed; its positions are held after it, so the "
            "final equity is that of holding them"
        )
    account.mark(marks, index)


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
        "notes": list(run.notes),
    }
