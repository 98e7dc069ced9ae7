"""Each venue's liquidation process (``liquidation_model="venue"``) against the base model.

Rules under test, as the venue files cite them:
- Binance / Bybit / OKX / Gate: reduce tier by tier at the mark and stop once above
  maintenance; in the lowest tier close everything (binance-usdm.json process source).
- Hyperliquid: 20 % of a position above 100k USDC per step, 30 s cooldown; below 2/3 of
  maintenance the liquidator takes the pool and its margin (hyperliquid.json).
- ADL: only when the insurance fund cannot cover the deficit; opposite positions ranked
  by PnL ratio x effective leverage, closed at the bankrupt position's bankruptcy price
  with no fee (binance-usdm.json adl source).
"""

import json
from dataclasses import replace as dc_replace
from decimal import Decimal as D
from importlib import resources

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import perpmargin as pm
from perpmargin.engine.clearing import Clearinghouse
from perpmargin.events import Fill, Liquidation, PartialLiquidation
from perpmargin.numeric import engine_context
from perpmargin.sim.plan import load_plans
from perpmargin.sim.replay import replay


def _big_isolated_long(venue, model, qty="30", leverage=10, balance=200_000):
    acct = pm.Account(venue, balance, liquidation_model=model)
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_leverage("BTCUSDT", leverage)
    acct.open("BTCUSDT", "long", qty, 50000)
    return acct


def test_the_base_model_closes_everything_and_binance_reduces_one_tier(binance):
    full = _big_isolated_long(binance, "full")
    liq = full.position("BTCUSDT").liquidation_price
    full.mark({"BTCUSDT": liq})
    assert full.positions() == []

    venue = _big_isolated_long(binance, "venue")
    before = venue.position("BTCUSDT")
    assert before.tier == 3
    events = venue.mark({"BTCUSDT": liq})
    (step,) = [e for e in events if isinstance(e, PartialLiquidation)]
    assert not [e for e in events if isinstance(e, Liquidation)]
    after = venue.position("BTCUSDT")
    assert after.tier == 2
    # the largest size whose value at the mark is below tier 2's cap (600,000)
    cap = binance.symbol("BTCUSDT").tiers.tiers[1].upper
    assert after.quantity * liq < cap <= (after.quantity + D("0.001")) * liq
    assert step.quantity + after.quantity == before.quantity
    assert after.margin_ratio < 1  # above maintenance again
    # the pool kept its money: margin + uPnL fell by exactly the taker fee of the step
    with engine_context():
        fee = (step.quantity * liq * binance.taker_fee_rate).quantize(D("0.00000001"))
        assert step.fee == fee
    assert venue.snapshot().total_money == 200_000
    assert pm.replay(venue.ledger) == venue.snapshot()


def test_lowest_tier_is_closed_at_once_even_under_the_venue_model(binance):
    acct = _big_isolated_long(binance, "venue", qty="0.5", leverage=50)  # 25k: tier 1
    liq = acct.position("BTCUSDT").liquidation_price
    events = acct.mark({"BTCUSDT": liq})
    assert not [e for e in events if isinstance(e, PartialLiquidation)]
    assert [e for e in events if isinstance(e, Liquidation)]


def test_a_gap_through_bankruptcy_skips_the_partial_steps(binance):
    acct = _big_isolated_long(binance, "venue")
    bankrupt = acct.position("BTCUSDT").bankruptcy_price
    events = acct.mark({"BTCUSDT": bankrupt - 100})
    assert not [e for e in events if isinstance(e, PartialLiquidation)]
    (liq,) = [e for e in events if isinstance(e, Liquidation)]
    assert liq.quantity == 30


def test_inverse_positions_are_reduced_by_coin_tiers():
    coinm = pm.load_venue("binance-coinm")
    acct = pm.Account(coinm, "20", liquidation_model="venue")
    acct.set_margin_mode("BTCUSD_PERP", "isolated")
    acct.set_leverage("BTCUSD_PERP", 20)
    acct.open("BTCUSD_PERP", "long", 15000, 50000)  # 30 BTC of value: bracket 4
    liq = acct.position("BTCUSD_PERP").liquidation_price
    events = acct.mark({"BTCUSD_PERP": liq})
    assert [e for e in events if isinstance(e, PartialLiquidation)]
    after = acct.position("BTCUSD_PERP")
    assert after.notional < 20  # bracket 3 holds value below 20 BTC
    assert after.margin_ratio < 1
    assert acct.snapshot().total_money == 20


# ---------------------------------------------------------------- Hyperliquid


@pytest.fixture(scope="module")
def hyperliquid():
    return pm.load_venue("hyperliquid")


def test_hyperliquid_takes_20_percent_then_everything_within_30_seconds(hyperliquid):
    """Hyperliquid (announcement 307, in hyperliquid.json): "only 20% of the position will
    be sent as a market liquidation order ... After a block where any position of a user is
    partially liquidated, there is a cooldown period of 30 seconds. During this cooldown
    period, all market liquidation orders for that user will be for the entire position"."""
    acct = pm.Account(hyperliquid, 100_000, liquidation_model="venue", time=0)
    acct.set_leverage("BTC", 20)
    acct.open("BTC", "long", 10, 50000, time=0)  # 500k: above the 100k threshold
    liq = acct.position("BTC").liquidation_price
    (step,) = [e for e in acct.mark({"BTC": liq}, time=1_000) if isinstance(e, PartialLiquidation)]
    assert step.quantity == 2  # 20 %
    assert step.reason == "fraction"
    assert acct.margin_ratio >= D("0.8")
    deeper = liq - 150
    assert acct.liquidates_at({"BTC": deeper})
    # below maintenance again 20 s later, inside the cooldown: the whole position goes
    events = acct.mark({"BTC": deeper}, time=21_000)
    (taken,) = [e for e in events if isinstance(e, Liquidation)]
    assert taken.quantity == 8
    assert not [e for e in events if isinstance(e, PartialLiquidation)]
    assert acct.positions() == []


def test_hyperliquid_steps_again_after_the_cooldown(hyperliquid):
    acct = pm.Account(hyperliquid, 100_000, liquidation_model="venue", time=0)
    acct.set_leverage("BTC", 20)
    acct.open("BTC", "long", 10, 50000, time=0)
    liq = acct.position("BTC").liquidation_price
    acct.mark({"BTC": liq}, time=1_000)
    events = acct.mark({"BTC": liq - 150}, time=31_000)  # 30 s later: a new 20 % step
    (step,) = [e for e in events if isinstance(e, PartialLiquidation)]
    assert step.quantity == D("1.6")  # 20 % of 8


def test_okx_partial_liquidation_reduces_two_tiers_at_a_time():
    """OKX help 'V. Forced Partial or Full Liquidation': "For position at Tier 3 or above
    (Number of Swaps>=12,001, e.g. 15,000) ... The relevant position will be liquidated
    until it is at Tier 1 ... the Number of Swaps to be closed = 15,000-2,000=13,000"
    (tier 1 up to 2,000 swaps, tier 2 up to 12,000; tier 3 MMR 2 %). One tier at a time
    would close 3,000 first."""
    okx = pm.load_venue("okx-swap")
    spec = okx.symbol("BTC-USDT-SWAP")
    table = pm.venues.schema.TierTable(
        "quantity",
        (
            pm.venues.schema.Tier(1, D(0), D(2000), D("0.005"), D(0), D(100)),
            pm.venues.schema.Tier(2, D(2000), D(12000), D("0.01"), D(0), D(50)),
            pm.venues.schema.Tier(3, D(12000), None, D("0.02"), D(0), D(30)),
        ),
    )
    swaps = dc_replace(spec, tiers=table, step_size=D(1), min_quantity=D(1), max_quantity=D(10**6))
    venue = dc_replace(okx, symbols={"BTC-USDT-SWAP": swaps})
    acct = pm.Account(venue, 3_000_000, liquidation_model="venue")
    acct.set_margin_mode("BTC-USDT-SWAP", "isolated")
    acct.set_leverage("BTC-USDT-SWAP", 20)
    acct.open("BTC-USDT-SWAP", "long", 15000, 100)  # tier 3, margin 75,000
    liq = acct.liquidation_price("BTC-USDT-SWAP")
    events = acct.mark({"BTC-USDT-SWAP": liq})
    (step,) = [e for e in events if isinstance(e, PartialLiquidation)]
    assert step.quantity == 13000
    assert step.quantity_after == 2000


def test_hyperliquid_backstop_takes_the_whole_cross_pool(hyperliquid):
    acct = pm.Account(hyperliquid, 100_000, liquidation_model="venue", time=0)
    acct.set_leverage("BTC", 20)
    acct.open("BTC", "long", 10, 50000, time=0)
    liq = acct.position("BTC").liquidation_price
    acct.mark({"BTC": liq}, time=1_000)
    # find a mark where equity is below 2/3 of maintenance but still positive
    price = liq
    while True:
        price -= 10
        with engine_context():
            leg = acct.position("BTC")
            equity = acct.cross_wallet_balance + leg.quantity * (price - leg.entry_price)
            mm = leg.quantity * price * leg.maintenance_margin_rate
        if equity < mm * 2 / 3:
            break
    assert equity > 0
    events = acct.mark({"BTC": price}, time=2_000)  # inside the cooldown: backstop anyway
    (taken,) = [e for e in events if isinstance(e, Liquidation)]
    assert taken.process == "backstop"
    assert acct.positions() == []
    assert acct.cross_wallet_balance == 0  # the trader keeps nothing of the pool
    assert acct.insurance_fund.balance > 0  # the liquidator holds what was left
    assert acct.snapshot().total_money == 100_000


def test_book_liquidation_of_a_small_position_returns_the_rest(hyperliquid):
    acct = pm.Account(hyperliquid, 10_000, liquidation_model="venue", time=0)
    acct.set_leverage("BTC", 20)
    acct.open("BTC", "long", 1, 50000, time=0)  # 50k: below the threshold, closes in full
    liq = acct.position("BTC").liquidation_price
    events = acct.mark({"BTC": liq}, time=1_000)
    (taken,) = [e for e in events if isinstance(e, Liquidation)]
    assert taken.process == "full"
    assert acct.cross_wallet_balance > 0  # no clearance fee, the rest is the trader's


# ---------------------------------------------------------------- ADL


def _bankrupt_long_and_two_shorts(binance, fund_balance):
    house = Clearinghouse(binance, insurance_fund=pm.InsuranceFund.with_balance(fund_balance))
    a = house.open_account("A", 10_000)
    b = house.open_account("B", 30_000)
    c = house.open_account("C", 3_000)
    for acct, lev in ((a, 20), (b, 5), (c, 20)):
        acct.set_margin_mode("BTCUSDT", "isolated")
        acct.set_leverage("BTCUSDT", lev)
    a.open("BTCUSDT", "long", 2, 50000)
    b.open("BTCUSDT", "short", 2, 50000)
    c.open("BTCUSDT", "short", 1, 50000)
    return house, a, b, c


def test_the_fund_pays_when_it_can(binance):
    house, a, b, c = _bankrupt_long_and_two_shorts(binance, 1_000_000)
    house.mark({"BTCUSDT": 45000})  # A's 2 BTC long at 20x is far past bankruptcy
    assert house.deleveragings == []
    (liq,) = [e for e in a.ledger if isinstance(e, Liquidation)]
    assert liq.deleveraged == 0
    assert house.insurance_fund.balance < 1_000_000  # it covered the deficit
    assert b.position("BTCUSDT").quantity == 2
    assert c.position("BTCUSDT").quantity == 1


def test_adl_when_the_fund_is_short_ranks_by_profit_and_leverage(binance):
    house, a, b, c = _bankrupt_long_and_two_shorts(binance, 0)
    margin = a.position("BTCUSDT").isolated_margin
    # at 45,000: B (5x) uPnL 10,000 on 20,000 -> 0.5 x 90,000 / 30,000 = 1.5;
    #            C (20x) uPnL 5,000 on 2,500 -> 2 x 45,000 / 7,500 = 12: C goes first
    b.mark({"BTCUSDT": 45000})
    c.mark({"BTCUSDT": 45000})
    assert c.adl_score("BTCUSDT", "short") == 12
    assert b.adl_score("BTCUSDT", "short") == D("1.5")
    house.mark({"BTCUSDT": 45000})
    first, second = house.deleveragings
    assert (first.counterparty, first.quantity) == ("C", 1)
    assert (second.counterparty, second.quantity) == ("B", 1)
    # the bankrupt long lost exactly its margin; the fund neither paid nor received
    (liq,) = [e for e in a.ledger if isinstance(e, Liquidation)]
    assert liq.deleveraged == 2
    assert -liq.realized_pnl == margin
    assert house.insurance_fund.balance == 0
    assert first.price == liq.bankruptcy_price == D(47500)
    # counterparties closed at that price without a fee
    adl_fills = [e for e in c.ledger if isinstance(e, Fill) and e.liquidity == "adl"]
    assert adl_fills[0].price == D(47500)
    assert adl_fills[0].fee == 0
    assert house.total_money() == 43_000


adl_step = st.one_of(
    st.tuples(
        st.just("open"),
        st.integers(0, 3),
        st.sampled_from(["long", "short"]),
        st.integers(1, 1000),  # lots of 0.005
        st.sampled_from(["isolated", "cross"]),
        st.integers(2, 50),
    ),
    st.tuples(st.just("mark"), st.integers(-30, 30)),
    st.tuples(st.just("mark"), st.integers(-3, 3)),  # small moves: into the band first
    st.tuples(st.just("mark"), st.integers(-3, 3)),
    st.tuples(st.just("close"), st.integers(0, 3)),
)


@given(
    fund=st.sampled_from([0, 100, 10**9]),
    balances=st.lists(st.integers(100, 200_000), min_size=4, max_size=4),
    setup=st.lists(
        st.tuples(
            st.sampled_from(["long", "short"]),
            st.integers(1, 1000),
            st.sampled_from(["isolated", "cross"]),
            st.integers(2, 15),
        ),
        min_size=4,
        max_size=4,
    ),
    steps=st.lists(adl_step, min_size=10, max_size=40),
    venue=st.sampled_from(["binance-usdm", "hyperliquid", "bybit-linear"]),
)
def test_money_is_conserved_across_accounts_fund_and_adl(fund, balances, setup, steps, venue):
    """Sum of every account's money + the fund's opening balance is constant; each
    ledger replays; no pool goes below zero; a huge fund means no ADL ever; a pool
    left open after a tiered process is above maintenance."""
    v = pm.load_venue(venue)
    symbol = "BTCUSDT" if venue != "hyperliquid" else "BTC"
    step = v.symbol(symbol).step_size
    house = Clearinghouse(v, insurance_fund=pm.InsuranceFund.with_balance(fund))
    accounts = [house.open_account(f"a{i}", b, time=0) for i, b in enumerate(balances)]
    opening = sum(D(b) for b in balances)
    price, now = D(50000), 0
    opens = [("open", i, side, lots, mode, lev) for i, (side, lots, mode, lev) in enumerate(setup)]
    for s in opens + steps:
        now += 60_000
        try:
            if s[0] == "open":
                _, who, side, lots, mode, lev = s
                acct = accounts[who]
                if not acct.positions():
                    acct.set_margin_mode(symbol, mode)
                    acct.set_leverage(symbol, min(lev, 40))
                qty = max(step, (D(lots) * D("0.005")).quantize(step))
                acct.open(symbol, side, qty, acct.marks.get(symbol, price), time=now)
            elif s[0] == "mark":
                price = max(D(100), (price * (100 + s[1]) / 100).quantize(D("0.1")))
                house.mark({symbol: price}, time=now)
            else:
                accounts[s[1]].close(symbol, accounts[s[1]].marks.get(symbol, price), time=now)
        except pm.PerpMarginError:
            pass
        assert house.total_money() == opening
        assert house.insurance_fund.balance == D(fund) + sum(
            (x.insurance_fund_net for x in accounts), D(0)
        )
        for acct in accounts:
            assert pm.replay(acct.ledger) == acct.snapshot()
            assert acct.cross_wallet_balance >= 0 or any(
                p.margin_mode == "cross" for p in acct.positions()
            )
            if any(p.margin_mode == "cross" for p in acct.positions()):
                assert acct.cross_equity >= 0
            if v.liquidation.process.kind == "tiered_partial":
                for ratio in acct.margin_ratios().values():
                    assert ratio < 1
    if fund == 10**9:
        assert house.deleveragings == []
    event("adl" if house.deleveragings else "no adl")
    kinds = {type(e).__name__ for x in accounts for e in x.ledger}
    event("partial" if "PartialLiquidation" in kinds else "no partial")


# ---------------------------------------------------------------- replay


def test_partial_liquidation_changes_the_outcome_between_modes():
    """Bundled scenario on real 1-minute bars: Binance's process keeps the isolated long
    alive through the 2025-10-10 wick; the base model closes it; cross survives both."""
    venue_plan, full_plan = load_plans("partial-2025-10-10")
    with_process = replay(venue_plan).runs
    base = replay(full_plan).runs
    assert with_process["isolated"].outcome.partial_liquidations
    assert not with_process["isolated"].outcome.liquidated
    assert base["isolated"].outcome.liquidated
    assert not base["cross"].outcome.liquidated
    assert not with_process["cross"].outcome.liquidated
    assert base["cross"].outcome.final_equity == with_process["cross"].outcome.final_equity
    gap_full = base["cross"].outcome.final_equity - base["isolated"].outcome.final_equity
    gap_venue = (
        with_process["cross"].outcome.final_equity - with_process["isolated"].outcome.final_equity
    )
    assert gap_venue < gap_full / 2 + 1
    # the insurance fund's balance is recorded bar by bar
    series = base["isolated"].series["insurance_fund"]
    assert series.iloc[0] == 0
    assert series.iloc[-1] > 0


@given(
    btc=st.integers(2, 40),
    leverage=st.integers(2, 20),
    mode=st.sampled_from(["isolated", "cross"]),
    side=st.sampled_from(["long", "short"]),
    # per-mille moves drifting against the position: the mark walks into the band
    # between liquidation and bankruptcy instead of jumping past it
    moves=st.lists(st.integers(-4, 2), min_size=80, max_size=200),
    venue=st.sampled_from(["binance-usdm", "okx-swap", "binance-coinm"]),
)
def test_a_partial_step_never_leaves_the_pool_at_or_below_maintenance(
    btc, leverage, mode, side, moves, venue
):
    """Tiered venues: after every mark, each pool still open is above maintenance."""
    v = pm.load_venue(venue)
    symbol = {"binance-usdm": "BTCUSDT", "okx-swap": "BTC-USDT-SWAP"}.get(venue, "BTCUSD_PERP")
    spec = v.symbol(symbol)
    inverse = spec.inverse_value is not None
    price = D(50000)
    qty = D(btc) * price / spec.contract_value if inverse else D(btc)
    balance = (D(btc) * 2) if inverse else D(btc) * price * 2
    acct = pm.Account(v, balance, liquidation_model="venue")
    acct.set_margin_mode(symbol, mode)
    try:
        acct.set_leverage(symbol, leverage)
        acct.open(symbol, side, qty, price)
    except pm.PerpMarginError:
        return
    for m in moves:
        move = m if side == "long" else -m
        price = max(spec.tick_size, (price * (1000 + move) / 1000).quantize(spec.tick_size))
        acct.mark({symbol: price})
        for ratio in acct.margin_ratios().values():
            assert ratio < 1
        assert acct.snapshot().total_money == balance
    assert pm.replay(acct.ledger) == acct.snapshot()
    kinds = {type(e).__name__ for e in acct.ledger}
    event("partial" if "PartialLiquidation" in kinds else "no partial")


# ---------------------------------------------------------------- bad input


def test_new_entry_points_refuse_bad_input_and_change_nothing(binance, tmp_path):
    from perpmargin.sim.plan import PlanError

    with pytest.raises(pm.InvalidInput, match="liquidation_model"):
        pm.Account(binance, 1000, liquidation_model="partial")
    with pytest.raises(pm.InvalidInput, match="settled in 'BTC'"):
        pm.Account(binance, 1000, settle="BTC")
    house = Clearinghouse(binance)
    house.open_account("A", 1000)
    with pytest.raises(pm.InvalidInput, match="new non-empty"):
        house.open_account("A", 1000)
    acct = house.accounts["A"]
    acct.open("BTCUSDT", "long", "0.01", 50000)
    before, n = acct.snapshot(), len(acct.ledger)
    with pytest.raises(pm.InvalidInput, match=r"holds 0\.01"):
        acct.deleverage("BTCUSDT", "long", "0.02", 49000)
    with pytest.raises(pm.NoPosition):
        acct.deleverage("BTCUSDT", "short", "0.01", 49000)
    assert acct.snapshot() == before
    assert len(acct.ledger) == n
    # a venue file with an unknown process is refused, naming the field
    bundled = resources.files("perpmargin.venues").joinpath("data/binance-usdm.json")
    raw = json.loads(bundled.read_text(encoding="utf-8"))
    path = tmp_path / "v.json"
    raw["liquidation"]["process"] = {"kind": "gentle"}
    path.write_text(json.dumps(raw))
    with pytest.raises(pm.VenueDataError, match=r"process\.kind"):
        pm.load_venue(path)
    raw["liquidation"]["process"] = {"kind": "fractional", "fraction": "1.5"}
    path.write_text(json.dumps(raw))
    with pytest.raises(pm.VenueDataError, match="fraction"):
        pm.load_venue(path)
    plan = load_plans("partial-2025-10-10")[0]
    with pytest.raises(PlanError, match="liquidation_model"):
        dc_replace(plan, liquidation_model="gentle")


def test_events_since_reads_the_ledger_tail_and_refuses_bad_seq(binance):
    acct = pm.Account(binance, 10_000)
    start = acct.next_seq
    acct.open("BTCUSDT", "long", "0.1", 50000)
    assert acct.events_since(start) == list(acct.ledger[start:])
    assert acct.events_since(acct.next_seq) == []
    before = acct.snapshot()
    for bad in (-1, 1.5, "0", True):
        with pytest.raises(pm.InvalidInput, match="seq"):
            acct.events_since(bad)
    assert acct.snapshot() == before


def test_hyperliquid_deleverages_at_the_previous_mark(hyperliquid):
    """Hyperliquid's auto-deleveraging page: "Those traders' positions are closed at the
    previous oracle price against the now underwater user" (hyperliquid.json ``adl``). A
    20x cross long bankrupt in one jump with an empty fund: the short on the other side is
    closed at the mark before the jump, not at the long's bankruptcy price; money is
    conserved over both accounts and the fund."""
    house = Clearinghouse(hyperliquid, insurance_fund=pm.InsuranceFund(), liquidation_model="venue")
    whale = house.open_account("whale", 5_100, time=0)
    short = house.open_account("short", 100_000, time=0)
    whale.set_leverage("BTC", 20)
    short.set_leverage("BTC", 5)
    whale.open("BTC", "long", 2, 50000, time=0)
    short.open("BTC", "short", 2, 50000, time=0)
    house.mark({"BTC": "49000"}, time=1_000)  # whale solvent: 5,055 - 2,000 > MM 1,225
    house.mark({"BTC": "46000"}, time=2_000)  # a jump: 5,055 - 8,000 < 0, bankrupt
    assert [e.process for e in whale.ledger if isinstance(e, Liquidation)] == ["backstop"]
    (dl,) = house.deleveragings
    assert dl.price == D("49000")  # the previous mark, not the bankruptcy price 47,472.5
    fills = [e for e in short.ledger if isinstance(e, Fill) and e.liquidity == "adl"]
    assert [f.price for f in fills] == [D("49000")]
    # at 49,000 the whale still had 3,055: the backstop liquidator (the fund) keeps it
    assert house.insurance_fund.balance == D("3055")
    total = sum((x.snapshot().total_money for x in (whale, short)), D(0))
    assert total == 105_100
    for x in (whale, short):
        assert pm.replay(x.ledger) == x.snapshot()


def test_gate_ranks_auto_deleveraging_by_return_times_set_leverage():
    """Gate announcement 28762 (2022-11-21, gate-futures.json ``adl``): the "Rate of Return
    ... unrealized PNL X Leverage" ranks who is deleveraged. B (set to 20x, margin topped up
    to 10,001) and C (5x, margin 10,000) both short 1 BTC at 50,000, +5,000 at 45,000: by
    return x set leverage B ranks first (0.49995 x 20 = 9.999 against 0.5 x 5 = 2.5); by
    Binance's return x effective leverage C would (both near 0.5 x 3)."""
    gate = pm.load_venue("gate-futures")
    house = Clearinghouse(gate, insurance_fund=pm.InsuranceFund(), liquidation_model="venue")
    a = house.open_account("A", 5_000)
    b = house.open_account("B", 20_000)
    c = house.open_account("C", 20_000)
    for acct, lev in ((a, 20), (b, 20), (c, 5)):
        acct.set_margin_mode("BTC_USDT", "isolated")
        acct.set_leverage("BTC_USDT", lev)
    a.open("BTC_USDT", "long", 1, 50000)
    b.open("BTC_USDT", "short", 1, 50000)
    c.open("BTC_USDT", "short", 1, 50000)
    b.add_margin("BTC_USDT", 10_001 - b.position("BTC_USDT").isolated_margin)
    assert c.position("BTC_USDT").isolated_margin == 10_000
    house.mark({"BTC_USDT": 45000})  # A's long is far past bankruptcy, the fund is empty
    assert [d.counterparty for d in house.deleveragings] == ["B"]
    assert b.position("BTC_USDT") is None
    assert c.position("BTC_USDT").quantity == 1
