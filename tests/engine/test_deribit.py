"""Deribit's standard margin: rates that grow with the position's size, in the engine.

Source: Deribit support "Linear Perpetual" (support.deribit.com/hc/en-us/articles/
25944738177565, undated; collected 2026-12-04 as E-DB-1..3 in shared/data/portfolio-margin):
BTC_USDC IM rate 2 % + size_BTC x 0.005 %, MM rate 1 % + size_BTC x 0.005 %; SOL_USDC
4 % / 2 % + size_SOL x 0.0005 %. Worked examples: 25 BTC at 100,000 -> IM 53,125, MM
28,125 USDC; 350 BTC -> IM 1,312,500; 25 SOL at 200 -> IM 200.625, MM 100.625; 6,000 SOL
-> IM 84,000. The rates depend on the size only, so the requirement stays a line in the
price and the cross liquidation price has the closed form checked below.
"""

import json
from decimal import Decimal as D
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import perpmargin as pm
from perpmargin.errors import NotModelled, VenueDataError
from perpmargin.numeric import round_to_step
from perpmargin.venues.loader import parse_venue

BTC, SOL = "BTC_USDC-PERPETUAL", "SOL_USDC-PERPETUAL"


@pytest.fixture(scope="module")
def deribit():
    return pm.load_venue("deribit")


def _opened(venue, symbol, size, price, *, leverage, balance="10000000"):
    acct = pm.Account(venue, balance)
    acct.set_leverage(symbol, leverage)
    acct.open(symbol, "long", size, price)
    return acct


@pytest.mark.parametrize(
    ("symbol", "size", "price", "im", "mm"),
    [
        (BTC, "25", "100000", "53125", "28125"),  # E-DB-1
        (BTC, "350", "100000", "1312500", None),  # E-DB-2
        (SOL, "25", "200", "200.625", "100.625"),  # E-DB-3
        (SOL, "6000", "200", "84000", None),  # E-DB-3
    ],
)
def test_published_examples_in_the_engine(deribit, symbol, size, price, im, mm):
    """The rates the engine looks up at the size give Deribit's IM and MM; the engine's
    maintenance margin is Deribit's; a leverage above 1 / IM rate at the size is refused
    (Deribit has no leverage setting: its IM is the rate)."""
    spec = deribit.symbol(symbol)
    value = D(size) * D(price)
    tier = spec.tiers.tier_for(D(size), value)
    assert value * tier.initial_margin_rate == D(im)
    acct = _opened(deribit, symbol, size, price, leverage=10)
    view = acct.position(symbol)
    assert view.initial_margin == value / 10
    if mm is not None:
        assert view.maintenance_margin == D(mm)
        assert view.maintenance_margin_rate == tier.maintenance_margin_rate
    with pytest.raises(pm.errors.LeverageTooHigh):
        _opened(deribit, symbol, size, price, leverage=tier.max_leverage + D("0.01"))


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(1, 2000).map(lambda n: D(n) / 10),
    entry=st.integers(20000, 120000),
    leverage=st.integers(2, 20),
)
def test_cross_liquidation_price_has_the_closed_form(size, entry, leverage):
    """A lone cross long: wallet W (after the fee), W + q (P - E) = (a + b q) q P, so
    P = (q E - W) / (q (1 - a - b q)), rounded down to the tick (marking there liquidates)."""
    venue = pm.load_venue("deribit")
    balance = round_to_step(size * entry / leverage * 2, D("0.000001"), "down")
    acct = _opened(venue, BTC, size, entry, leverage=leverage, balance=balance)
    wallet = acct.wallet_balance
    rate = D("0.01") + D("0.00005") * size
    exact = (size * entry - wallet) / (size * (1 - rate))
    found = acct.position(BTC).liquidation_price
    if exact <= 0:
        assert found is None
        return
    assert found == round_to_step(exact, D(1), "down")


def test_rates_that_grow_with_size_are_checked_on_load(deribit):
    doc = json.loads((resources.files("perpmargin.venues") / "data" / "deribit.json").read_text())
    sym = doc["symbols"][BTC]
    row = sym["tiers"][0]
    bad = [
        {**sym, "tiers": [dict(row), {**row, "min_quantity": "1"}]},  # one tier only
        {**sym, "tiers": [{k: v for k, v in row.items() if k != "initial_margin_rate"}]},
        {**sym, "max_quantity": "19600"},  # the IM rate reaches 100 % there
        {**sym, "contract": "inverse", "contract_value": "10", "tier_basis": "notional",
         "tiers": [{**{k: v for k, v in row.items() if "quantity" not in k or k ==
                    "rate_per_quantity"}, "min_notional": "0", "max_notional": None}]},
    ]  # fmt: skip
    for symbol_doc in bad:
        with pytest.raises(VenueDataError):
            parse_venue({**doc, "symbols": {BTC: symbol_doc}}, "test")


def test_the_fast_paths_refuse_size_scaled_rates(deribit):
    """The kernels' tier arrays hold fixed rates: every fast path builds them with
    TierArrays.from_venue, which says so, instead of pricing Deribit at the size-0 rates;
    the account is unchanged."""
    from perpmargin.sim.stress import stress_grid
    from perpmargin.sim.tiers import TierArrays

    with pytest.raises(NotModelled, match="grow with the position's size"):
        TierArrays.from_venue(deribit)
    acct = _opened(deribit, BTC, "25", "100000", leverage=10)
    before = acct.position(BTC)
    with pytest.raises(NotModelled, match="grow with the position's size"):
        stress_grid(acct, shocks=[-0.05])
    assert acct.position(BTC) == before


def test_a_replay_on_deribit_reads_quiet_stretches_as_the_walk(tmp_path):
    """The exact replay takes size-scaled rates: a 20x BTC_USDC long on synthetic bars
    liquidated in both modes, the quiet reading equal to walking every bar."""
    import math

    from perpmargin.sim.plan import load_plans
    from perpmargin.sim.replay import replay

    rows, price = ["timestamp,open,high,low,close,volume"], 50000.0
    for k in range(200):
        close = price * (1 + 0.004 * math.sin(k / 7) - 0.002)
        high, low = max(price, close) * 1.001, min(price, close) * 0.999
        rows.append(f"{1700000100000 + k * 900_000},{price:.0f},{high:.0f},{low:.0f},{close:.0f},1")
        price = close
    (tmp_path / "b.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "p.toml").write_text(
        'name = "deribit"\nvenue = "deribit"\nbalance = 10000\nmodes = ["isolated", "cross"]\n'
        '[bars]\nBTC_USDC-PERPETUAL = "b.csv"\n[[positions]]\nsymbol = "BTC_USDC-PERPETUAL"\n'
        'side = "long"\nleverage = 20\nsize = { margin = 2000 }\n'
    )
    plan = load_plans(str(tmp_path / "p.toml"))[0]
    quick, walked = replay(plan), replay(plan, skip_quiet=False)
    for mode in ("isolated", "cross"):
        a, b = quick.runs[mode].outcome, walked.runs[mode].outcome
        assert a.final_equity == b.final_equity
        assert [x.mark_price for x in a.liquidations] == [x.mark_price for x in b.liquidations]
        assert a.liquidations
    assert quick.runs["cross"].quiet_bars > 100
