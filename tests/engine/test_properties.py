"""Invariants over random event sequences (hypothesis).

After every operation, successful or refused:
- money is conserved to the last unit: cross wallet + isolated margins + insurance-fund
  net + fees + counterparty PnL = opening balance;
- the ledger replays to exactly the account's state;
- no wallet goes below zero: every isolated margin >= 0, cross equity >= 0 while cross
  legs are open and the cross wallet >= 0 when none are (the fund absorbs the rest);
- an isolated leg never loses more than the margin put into it plus its fees;
- a refused call (typed error) leaves the account identical.
"""

from dataclasses import replace
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

import perpmargin as pm
from perpmargin.events import (
    Fill,
    InsuranceFundTransfer,
    LeverageChanged,
    Liquidation,
    MarginChanged,
)

SYMBOLS = ("BTCUSDT", "ETHUSDT")
START = {"BTCUSDT": D("50000"), "ETHUSDT": D("3000")}

setup_op = st.one_of(
    st.tuples(st.just("mode"), st.sampled_from(SYMBOLS), st.sampled_from(["isolated", "cross"])),
    st.tuples(st.just("leverage"), st.sampled_from(SYMBOLS), st.integers(5, 50)),
    st.tuples(
        st.just("open"),
        st.sampled_from(SYMBOLS),
        st.sampled_from(["long", "short"]),
        st.integers(min_value=200, max_value=3000),
    ),
)

op = st.one_of(
    st.tuples(
        st.just("open"),
        st.sampled_from(SYMBOLS),
        st.sampled_from(["long", "short"]),
        st.integers(min_value=1, max_value=3000),  # lots of 0.001
    ),
    st.tuples(
        st.just("open"),
        st.sampled_from(SYMBOLS),
        st.sampled_from(["long", "short"]),
        st.integers(min_value=1, max_value=3000),
    ),
    st.tuples(
        st.just("close"),
        st.sampled_from(SYMBOLS),
        st.integers(min_value=0, max_value=3),
        st.integers(min_value=-40, max_value=40),  # fill away from the mark, percent
    ),
    st.tuples(
        st.just("mark"),
        st.integers(min_value=-35, max_value=35),  # percent moves
        st.integers(min_value=-35, max_value=35),
    ),
    st.tuples(st.just("funding"), st.sampled_from(SYMBOLS), st.integers(-300, 300)),
    st.tuples(st.just("add"), st.sampled_from(SYMBOLS), st.integers(1, 2000)),
    st.tuples(st.just("remove"), st.sampled_from(SYMBOLS), st.integers(1, 2000)),
    st.tuples(st.just("mode"), st.sampled_from(SYMBOLS), st.sampled_from(["isolated", "cross"])),
    st.tuples(st.just("leverage"), st.sampled_from(SYMBOLS), st.integers(1, 125)),
    st.tuples(
        st.just("stop"),
        st.sampled_from(SYMBOLS),
        st.sampled_from(["buy", "sell"]),
        st.integers(min_value=-20, max_value=20),
        st.booleans(),
    ),
    st.tuples(st.just("position_mode"), st.sampled_from(["one-way", "hedge"])),
    # walk the mark to (or a few ticks past) a leg's liquidation price: the band between
    # liquidation and bankruptcy, where fees and remainders are paid
    st.tuples(st.just("mark_liq"), st.sampled_from(SYMBOLS), st.integers(0, 30)),
    st.tuples(st.just("mark_liq"), st.sampled_from(SYMBOLS), st.integers(0, 30)),
    st.tuples(
        st.just("close"),
        st.sampled_from(SYMBOLS),
        st.integers(min_value=0, max_value=3),
        st.integers(min_value=-40, max_value=40),
    ),
)


# complexity waived (C901): one branch per kind of random step
def _apply(acct: pm.Account, step: tuple) -> None:  # noqa: C901
    kind = step[0]
    marks = dict(acct.marks) or dict(START)
    if kind == "open":
        _, sym, side, lots = step
        acct.open(sym, side, D(lots) / 1000, marks.get(sym, START[sym]))
    elif kind == "close":
        _, sym, part, slip = step
        pos = acct.positions()
        legs = [p for p in pos if p.symbol == sym]
        if not legs:
            acct.close(sym, marks.get(sym, START[sym]))  # raises NoPosition
            return
        leg = legs[0]
        qty = (
            None if part == 0 else max(D("0.001"), (leg.quantity / (part + 1)).quantize(D("0.001")))
        )
        tick = D("0.1") if sym == "BTCUSDT" else D("0.01")
        price = max(tick, (leg.mark_price * (1 + D(slip) / 100)).quantize(tick))
        acct.close(sym, price, qty=qty, side=leg.side if len(legs) > 1 else None)
    elif kind == "mark":
        _, db, de = step
        new = {
            "BTCUSDT": (marks.get("BTCUSDT", START["BTCUSDT"]) * (1 + D(db) / 100)).quantize(
                D("0.1")
            ),
            "ETHUSDT": (marks.get("ETHUSDT", START["ETHUSDT"]) * (1 + D(de) / 100)).quantize(
                D("0.01")
            ),
        }
        acct.mark({k: max(v, D("1")) for k, v in new.items()})
    elif kind == "mark_liq":
        _, sym, ticks = step
        legs = [p for p in acct.positions() if p.symbol == sym]
        if not legs or legs[0].liquidation_price is None:
            return
        tick = D("0.1") if sym == "BTCUSDT" else D("0.01")
        sign = 1 if legs[0].side == "long" else -1
        acct.mark({sym: max(tick, legs[0].liquidation_price - sign * ticks * tick)})
    elif kind == "funding":
        _, sym, bps = step
        acct.settle_funding(sym, D(bps) / 100000)
    elif kind == "add":
        acct.add_margin(step[1], D(step[2]))
    elif kind == "remove":
        acct.remove_margin(step[1], D(step[2]))
    elif kind == "mode":
        acct.set_margin_mode(step[1], step[2])
    elif kind == "leverage":
        acct.set_leverage(step[1], step[2])
    elif kind == "stop":
        _, sym, side, off, reduce_only = step
        tick = D("0.1") if sym == "BTCUSDT" else D("0.01")
        stop = (marks.get(sym, START[sym]) * (1 + D(off) / 100)).quantize(tick)
        position_side = None
        if acct.position_mode == "hedge":
            position_side = "long" if (side == "sell") == reduce_only else "short"
        acct.place_order(
            sym,
            side,
            "stop_market",
            "0.05",
            stop_price=stop,
            reduce_only=reduce_only,
            position_side=position_side,
        )
    elif kind == "position_mode":
        acct.set_position_mode(step[1])


def _check_invariants(acct: pm.Account, opening: D) -> None:
    state = acct.snapshot()
    assert state.total_money == opening
    assert pm.replay(acct.ledger) == state
    for leg in state.legs.values():
        assert leg.isolated_margin >= 0
    if any(leg.margin_mode == "cross" for leg in state.legs.values()):
        assert acct.cross_equity >= 0
    else:
        assert acct.cross_wallet_balance >= 0
    _check_isolated_loss_cap(acct)


def _check_isolated_loss_cap(acct: pm.Account) -> None:
    """Per isolated leg life: what the cross wallet lost <= margin put in + fees paid.

    A life ends at the fill that closes the leg or at its liquidation; a deficit the fund
    covers for a fill beyond the bankruptcy price follows that fill directly, as an
    InsuranceFundTransfer naming the symbol.
    """
    lives: dict[tuple, dict[str, D]] = {}
    ended: list[dict[str, D]] = []
    previous_fill: dict[str, D] | None = None
    for ev in acct.ledger:
        key = (getattr(ev, "symbol", None), getattr(ev, "position_side", None))
        if isinstance(ev, Fill) and ev.margin_mode == "isolated":
            life = lives.setdefault(key, {"wallet": D(0), "margin_in": D(0), "fees": D(0)})
            life["wallet"] += ev.cross_wallet_delta
            life["margin_in"] += max(ev.isolated_margin_delta, D(0))
            life["fees"] += ev.fee
            previous_fill = life
            if ev.quantity_after == 0:
                ended.append(lives.pop(key))
            continue
        elif isinstance(ev, MarginChanged) and key in lives:
            lives[key]["wallet"] -= ev.amount
            lives[key]["margin_in"] += ev.amount
        elif isinstance(ev, LeverageChanged) and ev.position_side is not None and key in lives:
            lives[key]["wallet"] += ev.cross_wallet_delta
            lives[key]["margin_in"] += ev.isolated_margin_delta
        elif isinstance(ev, InsuranceFundTransfer) and previous_fill is not None:
            previous_fill["wallet"] += ev.cross_wallet_delta  # deficit of that isolated fill
        elif isinstance(ev, Liquidation) and ev.margin_mode == "isolated":
            assert ev.cross_wallet_delta >= 0  # never draws on the wallet
            life = lives.pop(key)
            life["wallet"] += ev.cross_wallet_delta
            ended.append(life)
        previous_fill = None
    for life in ended:
        assert -life["wallet"] <= life["margin_in"] + life["fees"]


@given(
    balance=st.integers(min_value=0, max_value=20_000),
    setup=st.lists(setup_op, min_size=2, max_size=6),
    steps=st.lists(op, min_size=1, max_size=40),
    venue=st.sampled_from(["binance-usdm", "no-fee-remainder-to-fund", "remainder-to-trader"]),
)
def test_random_sequences_keep_every_invariant(binance, balance, setup, steps, venue):
    v = binance
    if venue != "binance-usdm":  # Bybit-like (no clearance fee) and Hyperliquid-like rules
        v = binance.with_fees(taker="0.00075", maker="-0.0001", liquidation="0")
        if venue == "remainder-to-trader":
            v = replace(v, liquidation=replace(v.liquidation, remainder_to="trader"))
    acct = pm.Account(v, balance=balance)
    opening = D(balance)
    for step in setup + steps:
        before = acct.snapshot()
        ledger_len = len(acct.ledger)
        try:
            _apply(acct, step)
        except pm.PerpMarginError:
            assert acct.snapshot() == before
            assert len(acct.ledger) == ledger_len
        _check_invariants(acct, opening)


@given(
    collateral=st.integers(min_value=100, max_value=100_000),
    extra=st.integers(min_value=1, max_value=5_000),
    side=st.sampled_from(["long", "short"]),
    lots=st.integers(min_value=1, max_value=2000),
)
def test_more_collateral_moves_a_long_liquidation_down(binance, collateral, extra, side, lots):
    def liq(amount):
        acct = pm.Account(binance, balance="1000000")
        acct.set_margin_mode("BTCUSDT", "isolated")
        acct.set_leverage("BTCUSDT", 1)
        acct.open("BTCUSDT", side, D(lots) / 1000, "50000")
        return acct.liquidation_price("BTCUSDT", exact=True), acct

    price, acct = liq(collateral)
    acct.add_margin("BTCUSDT", extra)
    after = acct.liquidation_price("BTCUSDT", exact=True)
    if side == "long":
        assert after is None or price is None or after < price
    else:
        assert after > price


@given(
    side=st.sampled_from(["long", "short"]),
    lots=st.integers(min_value=1, max_value=20_000),
    lev=st.integers(min_value=1, max_value=100),
    mode=st.sampled_from(["isolated", "cross"]),
)
def test_marking_at_the_liquidation_price_liquidates_and_a_tick_before_does_not(
    binance, side, lots, lev, mode
):
    acct = pm.Account(binance, balance="20000")
    acct.set_margin_mode("BTCUSDT", mode)
    acct.set_leverage("BTCUSDT", lev)
    try:
        acct.open("BTCUSDT", side, D(lots) / 1000, "50000")
    except pm.PerpMarginError:
        return
    liq = acct.liquidation_price("BTCUSDT")
    bankrupt = acct.bankruptcy_price("BTCUSDT")
    if liq is None:
        return
    assert bankrupt is None or (bankrupt <= liq if side == "long" else bankrupt >= liq)
    tick = D("0.1") if side == "long" else D("-0.1")
    safe = acct.mark({"BTCUSDT": liq + tick})
    assert not any(isinstance(e, Liquidation) for e in safe)
    hit = acct.mark({"BTCUSDT": liq})
    (event,) = [e for e in hit if isinstance(e, Liquidation)]
    assert event.mark_price == liq
