"""The parity matrix: every rule x every implementation x every bundled venue.

Reference: the exact Decimal engine (:class:`perpmargin.Account`; the exact replay for the
sweep). Each cell runs the same deterministic books (``tests/parity/books.py``: 1 to 3
legs, linear and inverse, Bybit's bankruptcy-valued fee to close) through one
implementation and compares:

====================  =========================================  ==========================
rule                  implementations                            compared with the engine
====================  =========================================  ==========================
revaluation           fast numpy / numba / cuda (sim.) / dask     isolated flag per leg,
                                                                 cross equity, requirement
                                                                 and flag
liquidation price     calculator (Decimal), fast numpy / numba /  isolated and cross, exact
                      cuda (sim.) / dask                          (unrounded) prices
bankruptcy price      calculator (Decimal), fast numpy / numba /  isolated and cross
                      cuda (sim.) / dask
pool check at held    Monte Carlo numpy / numba / cuda (sim.)     liquidated at step 0 or
prices                                                           not, final equity, per mode
shock cell            stress grid numpy / numba                   equity after the move,
                                                                 liquidated legs, per reading
one position on       sweep numba / cuda (sim.)                  liquidation bar and final
real bars                                                        equity, per mode
====================  =========================================  ==========================

Tolerances (the rule of :mod:`perpmargin.sim.fast`): money and prices within 1e-9
relative (the engine rounds each booked amount to the settle precision: a few units of
it absolute); a flag may differ only at a tie, equity within 1e-9 x notional of the
requirement; discrete outcomes (which leg, which step or bar) exactly.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

import perpmargin as pm
from perpmargin.sim.fast import (
    bankruptcy_prices,
    liquidation_prices,
    portfolio_from_accounts,
    revalue,
)
from perpmargin.sim.montecarlo import Setup, montecarlo
from perpmargin.sim.stress import stress_cell_exact, stress_grid
from perpmargin.sim.tiers import TierArrays
from tests.parity.books import REFERENCE, VENUES, Book, books

FAST = ["numpy", "numba", "cuda", "dask"]


def _close(exact, fast, rel=1e-9, unit=0.0):
    if exact is None or (isinstance(exact, float) and math.isnan(exact)):
        return fast is None or math.isnan(fast)
    if fast is None or math.isnan(fast):
        return False
    return abs(float(exact) - float(fast)) <= rel * max(abs(float(exact)), 1.0) + unit


def _marks(book: Book, tiers: TierArrays) -> np.ndarray:
    held = book.marks
    return np.array(
        [float(held.get(s, REFERENCE[book.venue.symbol(s).base])) for s in tiers.symbols]
    )


def _tie(view) -> bool:
    """Equity within 1e-9 x notional of the requirement: either flag is right."""
    balance = view.isolated_margin + view.unrealized_pnl
    return abs(balance - view.maintenance_margin) <= Decimal("1e-9") * view.notional


def _scheduler(backend, request):
    return request.getfixturevalue("dask_client") if backend == "dask" else None


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("venue", VENUES)
def test_revaluation(venue, backend, request):
    scheduler = _scheduler(backend, request)
    for book in books(venue):
        tiers = TierArrays.from_venue(book.venue)
        marks = _marks(book, tiers)
        iso, cross = book.account("isolated"), book.account("cross")
        rev = revalue(portfolio_from_accounts([iso], tiers), marks, tiers, backend=backend,
                      scheduler=scheduler)  # fmt: skip
        for i, view in enumerate(iso.positions()):
            exact = view.isolated_margin + view.unrealized_pnl <= view.maintenance_margin
            assert bool(rev.iso_liquidated[i]) == exact or _tie(view), (book, view)
        rev = revalue(portfolio_from_accounts([cross], tiers), marks, tiers, backend=backend,
                      scheduler=scheduler)  # fmt: skip
        assert _close(cross.cross_equity, rev.cross_equity[0], 1e-12), book
        assert _close(cross.cross_maintenance_margin, rev.cross_maintenance[0], 1e-12), book
        assert bool(rev.cross_liquidated[0]) == cross.liquidates_at(book.marks), book


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("venue", VENUES)
def test_liquidation_and_bankruptcy_prices(venue, backend, request):
    scheduler = _scheduler(backend, request)
    kwargs = {"backend": backend, "scheduler": scheduler}
    for book in books(venue):
        tiers = TierArrays.from_venue(book.venue)
        marks = _marks(book, tiers)
        for mode in ("isolated", "cross"):
            acct = book.account(mode)
            if mode == "cross" and acct.liquidates_at(book.marks):
                continue  # the engine answers "now" (the mark) for a pool already past it
            p = portfolio_from_accounts([acct], tiers)
            liq = liquidation_prices(p, marks, tiers, mode, **kwargs)
            bk = bankruptcy_prices(p, marks, tiers, mode, **kwargs)
            for i, view in enumerate(acct.positions()):
                exact = acct.liquidation_price(view.symbol, exact=True)
                if mode == "isolated" and exact == view.mark_price:
                    continue  # already past it at the mark: "now"
                assert _close(exact, liq[i]), (mode, book, view.symbol, exact, liq[i])
                exact_bk = acct.bankruptcy_price(view.symbol, exact=True)
                assert _close(exact_bk, bk[i]), (mode, book, view.symbol, exact_bk, bk[i])


@pytest.mark.parametrize("venue", VENUES)
def test_stateless_calculator(venue):
    """pm.liquidation_price / pm.bankruptcy_price, given what the account holds."""
    for book in books(venue):
        for mode in ("isolated", "cross"):
            acct = book.account(mode)
            for view in acct.positions():
                common = {"symbol": view.symbol, "mark_price": view.mark_price, "exact": True}
                if mode == "isolated":  # the leverage sizes a fee held in the margin (Bybit)
                    args = (view.isolated_margin,)
                    common["leverage"] = view.leverage
                else:
                    others = [
                        {"symbol": o.symbol, "side": o.side, "entry_price": o.entry_price,
                         "quantity": o.quantity, "mark_price": o.mark_price}
                        for o in acct.positions() if o.symbol != view.symbol
                    ]  # fmt: skip
                    args = (acct.cross_wallet_balance,)
                    common["other_positions"] = others
                call = (book.venue, mode, view.side, view.entry_price, view.quantity, *args)
                assert pm.liquidation_price(*call, **common) == acct.liquidation_price(
                    view.symbol, exact=True
                ), (mode, book)
                assert pm.bankruptcy_price(*call, **common) == acct.bankruptcy_price(
                    view.symbol, exact=True
                ), (mode, book)


def _held_fee(venue: pm.Venue, leg) -> float:
    """What the engine holds of a leg's isolated margin as the fee to close (Bybit)."""
    from perpmargin.engine import math as pmath
    from perpmargin.numeric import engine_context, round_to_step

    if not venue.liquidation.close_fee_in_initial_margin:
        return 0.0
    with engine_context():
        fee = pmath.estimated_close_fee(
            1 if leg.side == "long" else -1, leg.quantity, leg.entry, leg.leverage,
            venue.taker_fee_rate, venue.symbol(leg.symbol).inverse_value,
        )  # fmt: skip
        return float(round_to_step(fee, venue.settle_precision, "up"))


def setup_held_still(book: Book) -> Setup:
    """A Monte Carlo of the book with prices held at its marks (no volatility), both modes
    on the same positions: isolated legs with their margins, cross legs on the wallet."""
    venue = book.venue
    symbols = tuple(sorted(book.marks))
    tiers = TierArrays.from_venue(venue, symbols)
    inverse = np.array([venue.symbol(s).inverse_value is not None for s in symbols])
    x0 = np.array([float(book.marks[s]) for s in symbols])
    sym, qty, entry, margin = [], [], [], []
    for leg in book.legs:
        spec = venue.symbol(leg.symbol)
        signed = float(leg.quantity) * (1 if leg.side == "long" else -1)
        e = float(leg.entry)
        if spec.inverse_value is not None:  # linear in x = 1 / price
            signed, e = pm.formulas.to_reciprocal(signed, e, float(spec.contract_value))
        sym.append(symbols.index(leg.symbol))
        qty.append(signed)
        entry.append(e)
        margin.append(float(leg.margin))
    n = len(symbols)
    return Setup(
        symbols=symbols,
        log_s0=np.where(inverse, -np.log(x0), np.log(x0)),
        step_vol=np.zeros(n),
        corr=np.eye(n),
        jump_prob=np.zeros(n),
        jump_mu=np.zeros(n),
        jump_sigma=np.zeros(n),
        returns=np.zeros((4, n)),
        step_ms=60_000,
        tiers=tiers.linear(),
        sym=np.array(sym, dtype=np.int32),
        qty=np.array(qty),
        entry=np.array(entry),
        margin=np.array(margin),
        reserve=np.array([_held_fee(book.venue, leg) for leg in book.legs]),
        balance=float(book.wallet),
        remainder_to_trader=venue.liquidation.remainder_to == "trader",
        open_fees=0.0,
        inverse=inverse,
    )


@pytest.mark.parametrize("backend", ["numpy", "numba", "cuda"])
@pytest.mark.parametrize("venue", VENUES)
def test_monte_carlo_pool_check_at_held_prices(venue, backend):
    """With prices held still, the Monte Carlo's first step is the engine at the marks:
    liquidated or not (per mode), and the account's equity when not. (A pool already past
    liquidation is settled at its static liquidation price by the Monte Carlo, at the
    mark by the engine: only the flag is compared there.)"""
    for book in books(venue):
        res = montecarlo(setup_held_still(book), paths=1, steps=1, backend=backend)
        unit = 4 * float(book.venue.settle_precision) * len(book.legs)
        for mode, step, final in (
            ("isolated", res.iso_step[0], res.iso_final[0]),
            ("cross", res.cross_step[0], res.cross_final[0]),
        ):
            acct = book.account(mode)
            if mode == "isolated":
                exact = any(
                    v.isolated_margin + v.unrealized_pnl <= v.maintenance_margin
                    for v in acct.positions()
                )
            else:
                exact = acct.liquidates_at(book.marks)
            assert (step == 0) == exact, (mode, book)
            if not exact:
                assert _close(acct.equity, final, unit=unit), (mode, book, acct.equity, final)


def _mixed(book: Book) -> pm.Account:
    """The book with alternate legs isolated and cross (one mode where the venue's mode
    is account-wide)."""
    acct = pm.Account(book.venue, book.wallet)
    account_wide = book.venue.rules.margin_mode_scope == "account"
    for i, leg in enumerate(book.legs):
        isolated = i % 2 == 0 and not account_wide
        acct.restore_position(
            leg.symbol, leg.side, leg.quantity, leg.entry,
            margin_mode="isolated" if isolated else "cross", leverage=leg.leverage,
            isolated_margin=leg.margin if isolated else None, mark_price=leg.mark,
        )  # fmt: skip
    return acct


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("venue", VENUES)
def test_stress_grid_cells(venue, backend):
    checked = 0
    for book in books(venue):
        acct = _mixed(book)
        if acct.liquidates_at(book.marks):
            continue  # a stress starts from a live account
        grid = stress_grid(acct, shocks=[-0.3, -0.05, 0.1], shocks_y=[-0.2, 0.15],
                           backend=backend)  # fmt: skip
        unit = 4 * float(book.venue.settle_precision) * len(book.legs)
        for iy in range(grid.shocks_y.size):
            for ix in range(grid.shocks_x.size):
                marks = grid.cell_marks(iy, ix, book.venue)
                for name in grid.scenarios:
                    equity, gone, taken = stress_cell_exact(acct, name, marks)
                    fast = grid.equity[name][iy, ix]
                    assert _close(equity, fast, unit=unit), (name, book, marks, equity, fast)
                    flags = grid.liquidated[name][iy, ix]
                    named = [leg for leg, f in zip(grid.legs, flags, strict=True) if f]
                    assert sorted(gone) == sorted(named), (name, book, marks)
                    assert bool(grid.cross_liquidated[name][iy, ix]) == taken, (name, book)
                    checked += 1
    assert checked


def _sweep_plan(venue_id: str, side: str, leverage: int, stop: float | None):
    from perpmargin.sim.plan import plan_from_dict

    venue = pm.load_venue(venue_id)
    spec = next(s for s in venue.symbols.values() if s.base == "BTC")
    inverse = spec.inverse_value is not None
    position = {"symbol": spec.symbol, "side": side, "leverage": leverage,
                "size": {"margin": "0.05" if inverse else "3000"}}  # fmt: skip
    if stop is not None:
        position["stop"] = stop
    return plan_from_dict(
        {
            "name": f"{venue_id}-{side}-{leverage}",
            "venue": venue_id,
            "balance": "0.2" if inverse else "12000",
            "bars": {spec.symbol: "binance-btcusdt-perp-15m-2020-03-12.csv"},
            "funding": {spec.symbol: "binance-btcusdt-perp-funding-2020-03-12.csv"},
            "positions": [position],
        }
    )


@pytest.mark.parametrize("backend", ["numba", "cuda"])
@pytest.mark.parametrize("venue", VENUES)
def test_sweep_one_position_on_real_bars(venue, backend):
    from perpmargin.sim.replay import replay
    from perpmargin.sim.sweep import sweep

    for side, leverage, stop in (("long", 5, None), ("long", 20, 7000.0), ("short", 10, None)):
        plan = _sweep_plan(venue, side, leverage, stop)
        exact = replay(plan)
        unit = 4 * float(pm.load_venue(venue).settle_precision)
        fast = sweep(plan, backend=backend)
        for _, row in fast.iterrows():
            outcome = exact.runs[row["mode"]].outcome
            bar = -1
            if outcome.liquidations:
                bar = int(np.searchsorted(exact.market.times, outcome.liquidations[0].time))
            assert row["liquidation_bar"] == bar, (plan.name, row["mode"])
            assert _close(outcome.final_equity, row["final_equity"], unit=unit), (
                plan.name, row["mode"], outcome.final_equity, row["final_equity"],
            )  # fmt: skip


def test_the_matrix_reaches_both_outcomes():
    """The books exercise both answers of every flag on every venue (the matrix can fail)."""
    for venue in VENUES:
        seen_iso, seen_cross = set(), set()
        for book in books(venue):
            iso = book.account("isolated")
            seen_iso |= {v.isolated_margin + v.unrealized_pnl <= v.maintenance_margin
                         for v in iso.positions()}  # fmt: skip
            seen_cross.add(book.account("cross").liquidates_at(book.marks))
        assert seen_iso == {True, False}, venue
        assert seen_cross == {True, False}, venue
