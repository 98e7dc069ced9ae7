"""The stress grid against the exact engine: the bundled mixed portfolio cell by cell,
and random portfolios on every venue (inverse included)."""

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import perpmargin as pm
from perpmargin.sim.stress import SCENARIOS, stress_cell_exact, stress_grid
from tests.parity.books import VENUES  # every bundled venue, inverse included


def test_every_cell_agrees_with_the_exact_engine(mixed, grid):
    venue = mixed.venue
    for name in SCENARIOS:
        for iy in range(grid.shocks_y.size):
            for ix in range(grid.shocks_x.size):
                marks = grid.cell_marks(iy, ix, venue)
                equity, gone, cross_taken = stress_cell_exact(mixed, name, marks)
                assert grid.equity[name][iy, ix] == pytest.approx(float(equity), abs=1e-6)
                flags = grid.liquidated[name][iy, ix]
                assert sorted(gone) == sorted(
                    leg for leg, f in zip(grid.legs, flags, strict=False) if f
                )
                assert bool(grid.cross_liquidated[name][iy, ix]) == cross_taken
                assert bool(grid.wiped_out[name][iy, ix]) == (equity <= 0)


def _leg(venue, base):
    return next((s for s in venue.symbols.values() if s.base == base), None)


@given(
    venue_name=st.sampled_from(VENUES),
    legs=st.lists(
        st.tuples(
            st.sampled_from(["BTC", "ETH"]),
            st.sampled_from(["long", "short"]),
            st.sampled_from(["isolated", "cross"]),
            st.integers(1, 40),  # lots of 0.01 BTC / 0.1 ETH
            st.integers(2, 20),  # leverage
            st.integers(-15, 15),  # mark vs entry, %
        ),
        min_size=1,
        max_size=2,
        unique_by=lambda t: t[0],
    ),
    shocks=st.tuples(st.integers(-50, 50), st.integers(-50, 50)),
    cash=st.integers(0, 5000),
)
@settings(max_examples=40)
def test_random_portfolios_agree_with_the_engine(venue_name, legs, shocks, cash):
    venue = pm.load_venue(venue_name)
    entries = {"BTC": D(60000), "ETH": D(3000)}
    lots = {"BTC": D("0.01"), "ETH": D("0.1")}
    step = venue.settle_precision
    coin = False
    margins, rows = D(0), []
    for base, side, mode, n, lev, move in legs:
        spec = _leg(venue, base)
        if spec is None:
            continue  # the venue file does not list this asset
        lev = min(D(lev), spec.tiers.tiers[0].max_leverage)
        entry = entries[base]
        cv = spec.inverse_value
        if cv is None:
            qty = lots[base] * n
            value = qty * entry
        else:  # the same dollar size in contracts, money in the coin
            coin = True
            qty = (lots[base] * n * entry / cv).quantize(D(1)).max(D(1))
            value = qty * cv / entry
        mark = entry * (100 + move) / 100
        margin = (value / lev).quantize(step) if mode == "isolated" else None
        margins += margin or 0
        rows.append((spec.symbol, side, qty, entry, mode, lev, margin, mark))
    if not rows:
        return
    modes = {r[4] for r in rows}
    if venue.rules.margin_mode_scope == "account" and len(modes) > 1:
        return  # Bybit: one mode for the whole account
    extra = D(cash + 100) / (entries["BTC"] if coin else 1)
    acct = pm.Account(venue, margins + extra.quantize(step))
    for symbol, side, qty, entry, mode, lev, margin, mark in rows:
        acct.restore_position(symbol, side, qty, entry, margin_mode=mode, leverage=lev,
                              isolated_margin=margin, mark_price=mark)  # fmt: skip
    if acct.liquidates_at(dict(acct.marks)):
        return  # already past liquidation: a stress starts from a live account
    g = stress_grid(acct, shocks=[shocks[0] / 100], shocks_y=[shocks[1] / 100])
    marks = g.cell_marks(0, 0, venue)
    for name in g.scenarios:
        try:
            equity, gone, _ = stress_cell_exact(acct, name, marks)
        except pm.PerpMarginError:
            continue
        unit = 4 * float(step) * len(rows)
        assert g.equity[name][0, 0] == pytest.approx(float(equity), rel=1e-9, abs=unit)
        flags = g.liquidated[name][0, 0]
        assert sorted(gone) == sorted(leg for leg, f in zip(g.legs, flags, strict=True) if f)
