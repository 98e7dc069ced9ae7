"""The unified (portfolio-margin) account: the venues' worked examples, hand-computed
readings, the liquidation rule as data, bad input, and money conservation."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal as D

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import perpmargin as pm
from perpmargin.engine.unified import ASSET_STEP, UnifiedAccount
from perpmargin.errors import (
    InsufficientMargin,
    InvalidInput,
    MissingParameter,
    NoPosition,
    UnknownSymbol,
)
from perpmargin.numeric import engine_context

INDEX = {"USDT": "1", "BTC": "50000", "ETH": "3000"}
BYBIT_BTC = [("0", "10", "0.98"), ("10", "20", "0.95"), ("20", "30", "0.9"),
             ("30", "40", "0.85"), ("40", "50", "0.8"), ("50", "", "0")]  # fmt: skip


def snapshot(acct: UnifiedAccount):
    return acct.balances, acct.ledger, acct.positions(), acct.reading()


def test_binance_fixed_rate_over_three_wallets():
    """E-BN-2, Binance (Classic) PM FAQ 146ac090... (2022-04-18): 1 BTC in each of three
    wallets at 0.95 -> 2.85 BTC of margin value (one asset, one net balance here)."""
    acct = UnifiedAccount("binance-pm", {"BTC": 3}, INDEX)
    r = acct.reading()
    assert r.adjusted_equity == D("2.85") * D(50000)
    assert r.equity == D(150000)
    assert r.ratio is None  # no maintenance: uniMMR undefined, said
    assert not r.liquidated


def test_binance_tiered_rates_in_usd_value():
    """E-BN-1, Binance "Cross Margin Collateral Haircuts" (FAQ 4bec9126...): 6,000 BTC at
    20,000 under USD-value tiers -> 119,500,000 USDT."""
    tiers = [("0", "100000000", "1.00"), ("100000000", "120000000", "0.975"),
             ("120000000", "150000000", "0.95"), ("150000000", "180000000", "0.90"),
             ("180000000", "200000000", "0.85")]  # fmt: skip
    acct = UnifiedAccount(
        "binance-pm", {"BTC": 6000}, {"BTC": "20000", "USDT": "1"}, collateral={"BTC": tiers}
    )
    assert acct.reading().adjusted_equity == D(119500000)


def test_bybit_coin_tiers_and_its_missing_tables():
    """E-BY-2, Bybit "Understanding Collateral Value Ratios in UTA" (2025-09-18, its
    illustrative table): 25 BTC -> 23.8 BTC. Bybit's mainnet tables were not found, so
    the bundled rules hold none and say how to supply them."""
    with pytest.raises(MissingParameter, match="no collateral rate for BTC"):
        UnifiedAccount("bybit-uta", {"BTC": 25}, INDEX)
    acct = UnifiedAccount("bybit-uta", {"BTC": 25}, INDEX, collateral={"BTC": BYBIT_BTC})
    assert acct.reading().adjusted_equity == D("23.8") * D(50000)


def test_okx_usd_tiers_from_a_users_own_rules_file(tmp_path):
    """E-OKX-3 (third-party restatement of OKX's multi-currency page, prjmp.com 3320):
    11,000,000 USDT under USD tiers 1 / 0.975 / 0.95 -> 10,825,000."""
    doc = json.loads(
        (
            __import__("importlib.resources", fromlist=["files"]).files("perpmargin.venues")
            / "data"
            / "unified"
            / "okx-multi-currency.json"
        ).read_text()
    )
    doc["collateral"]["unit"] = "usd_value"
    doc["collateral"]["assets"] = {
        "USDT": [["0", "5000000", "1"], ["5000000", "10000000", "0.975"], ["10000000", "", "0.95"]]
    }
    path = tmp_path / "okx-usd-tiers.json"
    path.write_text(json.dumps(doc))
    acct = UnifiedAccount(str(path), {"USDT": 11000000}, {"USDT": "1"})
    assert acct.reading().adjusted_equity == D(10825000)


def test_uni_mmr_by_hand():
    """10,000 USDT, long 1 BTCUSDT at 50,000 (Binance USDⓈ-M: taker 0.05 %, tier 1 MMR
    0.4 %, no amount): fee 25 USDT; at mark 48,000: uPnL -2,000, USDT net 7,975 at
    0.9999 -> 7,974.2025; MM 0.4 % x 48,000 = 192; uniMMR = 7,974.2025 / 192."""
    acct = UnifiedAccount("binance-pm", {"USDT": 10000}, INDEX)
    acct.open("BTCUSDT", "long", "1", "50000")
    assert acct.balances["USDT"] == D(9975)
    r = acct.reading({"BTCUSDT": "48000"})
    assert r.adjusted_equity == D("7974.2025")
    assert r.maintenance == D(192)
    with engine_context():
        assert r.ratio == D("7974.2025") / D(192)
    (pos,) = r.positions
    assert pos.unrealized_pnl == D(-2000)
    assert "uniMMR 41.5323" in r.words()


def test_collateral_and_position_fall_together():
    """Issue 24's two-collateral case: BTC held as collateral beside a BTC long. With 1 BTC
    (0.95) behind a 1 BTC long the account goes near a 48.6 % fall; with the same value in
    USDT it survives any fall (the collateral does not move)."""
    btc = UnifiedAccount("binance-pm", {"BTC": 1}, INDEX)
    btc.open("BTCUSDT", "long", "1", "50000")
    down, up = btc.liquidation_moves()["BTC"]
    assert up is None
    assert D("-0.49") < down < D("-0.48")
    # at that move the reading says liquidated, a little less does not
    assert btc._moved("BTC", down).liquidated
    assert not btc._moved("BTC", down + D("0.001")).liquidated
    usdt = UnifiedAccount("binance-pm", {"USDT": 50000}, INDEX)
    usdt.open("BTCUSDT", "long", "1", "50000")
    assert usdt.liquidation_moves()["BTC"] == (None, None)


def test_binance_liquidation_closes_every_position_at_its_mark():
    acct = UnifiedAccount("binance-pm", {"BTC": 1}, INDEX)
    acct.open("BTCUSDT", "long", "1", "50000")
    acct.open("ETHUSDT", "short", "1", "3000")
    r = acct.mark({"BTCUSDT": "25000", "ETHUSDT": "3000"}, {"BTC": "25000"})
    assert acct.positions() == []
    assert any("every position closed" in n for n in r.notes)
    fees = [b for b in acct.ledger if b.kind == "liquidation_fee"]
    assert [b.symbol for b in fees] == ["BTCUSDT", "ETHUSDT"]
    # Binance USDⓈ-M's liquidation (clearance) fee on each closed notional
    assert fees[0].amount == -D("25000") * D("0.0125")
    assert fees[1].amount == -D("3000") * D("0.0125")


def test_a_venue_whose_liquidation_is_not_published_is_flagged_only():
    acct = UnifiedAccount(
        "bybit-uta", {"BTC": 1}, INDEX, collateral={"BTC": BYBIT_BTC, "USDT": [("0", "", "1")]}
    )
    acct.open("BTCUSDT", "long", "1", "50000")
    r = acct.mark({"BTCUSDT": "25000"}, {"BTC": "25000"})
    assert r.liquidated
    assert r.ratio >= 1  # Bybit's account MM rate: maintenance / margin balance
    assert acct.positions() == [("BTCUSDT", "long", D(1), D(50000))]
    assert any("not published" in n for n in r.notes)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda a: a.deposit("BTC", "-1"), InvalidInput),
        (lambda a: a.deposit("BTC", "NaN"), InvalidInput),
        (lambda a: a.deposit("SOL", "1"), InvalidInput),  # no index price
        (lambda a: a.deposit("", "1"), InvalidInput),
        (lambda a: a.withdraw("BTC", "2"), InsufficientMargin),
        (lambda a: a.withdraw("BTC", "1"), InsufficientMargin),  # the long would liquidate
        (lambda a: a.convert("BTC", "BTC", "0.1"), InvalidInput),
        (lambda a: a.convert("BTC", "USDT", "5"), InsufficientMargin),
        (lambda a: a.open("NOPEUSDT", "long", "1", "1"), UnknownSymbol),
        (lambda a: a.open("BTCUSDT", "long", "0.0001", "50000"), InvalidInput),
        (lambda a: a.open("BTCUSDT", "long", "1", "0"), InvalidInput),
        (lambda a: a.open("BTCUSDT", "up", "1", "50000"), InvalidInput),
        (lambda a: a.open("BTCUSDT", "long", "300", "50000"), InsufficientMargin),
        (lambda a: a.close("ETHUSDT", "3000"), NoPosition),
        (lambda a: a.mark({"BTCUSDT": "-1"}), InvalidInput),
        (lambda a: a.mark(index_prices={"BTC": "inf"}), InvalidInput),
    ],
)
def test_bad_input_is_a_typed_error_and_changes_nothing(call, error):
    acct = UnifiedAccount("binance-pm", {"BTC": 1}, INDEX)
    acct.open("BTCUSDT", "long", "1", "50000")
    before = snapshot(acct)
    with pytest.raises(error):
        call(acct)
    assert snapshot(acct) == before


actions = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.sampled_from(["USDT", "BTC", "ETH"]),
                  st.decimals("0.001", "5000", places=3)),
        st.tuples(st.just("withdraw"), st.sampled_from(["USDT", "BTC", "ETH"]),
                  st.decimals("0.001", "5000", places=3)),
        st.tuples(st.just("convert"), st.sampled_from(["USDT", "BTC", "ETH"]),
                  st.decimals("0.001", "50", places=3)),
        st.tuples(st.just("open"), st.sampled_from(["BTCUSDT", "ETHUSDT"]),
                  st.sampled_from(["long", "short"]), st.decimals("0.001", "2", places=3)),
        st.tuples(st.just("close"), st.sampled_from(["BTCUSDT", "ETHUSDT"])),
        st.tuples(st.just("mark"), st.decimals("0.5", "1.5", places=3)),
        st.tuples(st.just("funding"), st.sampled_from(["BTCUSDT", "ETHUSDT"]),
                  st.decimals("-0.003", "0.003", places=6)),
        st.tuples(st.just("interest"), st.decimals("0", "0.001", places=6),
                  st.integers(1, 48)),
    ),
    max_size=25,
)  # fmt: skip


def _act(acct: UnifiedAccount, step, prices) -> None:
    kind = step[0]
    if kind == "deposit":
        acct.deposit(step[1], step[2])
    elif kind == "withdraw":
        acct.withdraw(step[1], step[2])
    elif kind == "convert":
        to = "USDT" if step[1] != "USDT" else "BTC"
        price = {a.asset: a.index_price for a in acct.reading().assets}
        got = acct.convert(step[1], to, step[2])
        with engine_context():
            given_value = step[2] * price[step[1]]
            assert got * price[to] <= given_value < (got + ASSET_STEP) * price[to]
    elif kind == "open":
        acct.open(step[1], step[2], step[3], prices[step[1]])
    elif kind == "close":
        acct.close(step[1], prices[step[1]])
    elif kind == "funding":
        acct.settle_funding(step[1], step[2])
    elif kind == "interest":
        acct.accrue_interest({"USDT": step[1], "BTC": step[1]}, step[2])
    else:
        with engine_context():
            btc = (D(50000) * step[1]).quantize(D("0.1"))
        prices["BTCUSDT"] = btc
        reading = acct.mark({"BTCUSDT": btc}, {"BTC": btc})
        if any("every position closed" in n for n in reading.notes):
            # a liquidated account owes nothing: its assets repaid, else the fund
            assert all(x >= 0 for x in acct.balances.values())


ALL_TIERS = {"USDT": [("0", "", "1")], "BTC": [("0", "1", "0.95"), ("1", "", "0.8")],
             "ETH": [("0", "", "0.9")]}  # fmt: skip


@settings(max_examples=60)
@given(actions, st.sampled_from(["binance-pm", "bybit-uta", "bybit-pm", "okx-pm",
                                 "okx-multi-currency"]))  # fmt: skip
def test_money_is_conserved_to_the_last_unit(steps, rules):
    """Per asset: wallet + the venue's fees + the counterparties' PnL + the insurance
    fund's cover = what came in and went out (deposits, withdrawals, conversions); every
    balance is its bookings' sum; a conversion loses less than one unit of what it
    credits; a liquidated account owes nothing. Under every kind of rules: Binance's
    closing liquidation, rules that only flag, risk-based maintenance (Bybit PM, OKX PM)."""
    acct = UnifiedAccount(rules, {"USDT": 20000, "BTC": 1}, INDEX, collateral=ALL_TIERS,
                          contingency={"BTC": "0.001", "ETH": "0.002"})  # fmt: skip
    prices = {"BTCUSDT": D(50000), "ETHUSDT": D(3000)}
    for step in steps:
        with contextlib.suppress(InsufficientMargin, NoPosition, InvalidInput):
            _act(acct, step, prices)
    flows: dict[str, D] = {}
    for b in acct.ledger:
        if b.kind in ("deposit", "withdraw", "convert"):
            flows[b.asset] = flows.get(b.asset, D(0)) + b.amount
    for asset, balance in acct.balances.items():
        assert balance == sum((b.amount for b in acct.ledger if b.asset == asset), D(0))
        paid = acct.venue_income.get(asset, D(0)) + acct.counterparty_pnl.get(asset, D(0))
        fund = acct.insurance_fund_net.get(asset, D(0))
        assert balance + paid + fund == flows.get(asset, D(0))


def test_a_bankrupt_account_is_covered_by_its_assets_then_the_fund():
    acct = UnifiedAccount("binance-pm", {"BTC": 1}, INDEX)
    acct.open("BTCUSDT", "long", "3", "50000")
    acct.mark({"BTCUSDT": "20000"}, {"BTC": "20000"})  # far past bankrupt
    assert acct.positions() == []
    assert all(x >= 0 for x in acct.balances.values())
    assert acct.balances["BTC"] == 0  # sold to repay the USDT loss
    assert acct.insurance_fund_net["USDT"] < 0  # the fund took over the rest


BYBIT_TIERS = {"USDT": [("0", "", "1")], "BTC": [("0", "", "0.95")]}


def bybit_pm(balances, contingency="0.001"):
    return UnifiedAccount("bybit-pm", balances, {"USDT": "1", "BTC": "50000"},
                          collateral=BYBIT_TIERS, contingency={"BTC": contingency})  # fmt: skip


def test_risk_based_maintenance_is_the_worst_scenario_plus_contingency():
    """Bybit PM (risk unit BTC, moves -10 % .. +10 % in 2 % steps, IM = 1.2 x MM as in
    Bybit's API example E-BY-1): a 1 BTC long at 50,000 loses 5,000 at -10 %; the
    contingency 0.001 x 1 BTC x 50,000 = 50; MM 5,050, IM 6,060."""
    acct = bybit_pm({"USDT": 10000})
    acct.restore("BTCUSDT", "long", "1", "50000", "50000")
    (unit,) = acct.reading().units
    assert unit.max_loss == D(5000)
    assert unit.worst_move == D("-0.10")
    assert unit.contingency == D(50)
    assert unit.maintenance == D(5050)
    assert unit.initial_margin == D(6060)
    assert acct.reading().maintenance == D(5050)


@settings(max_examples=40)
@given(
    qty=st.decimals("0.001", "20", places=3),
    mark=st.decimals("20000", "90000", places=1),
    entry=st.decimals("20000", "90000", places=1),
)
def test_a_hedged_book_needs_less_under_portfolio_margin_than_cross(qty, mark, entry):
    """A BTCUSDT long hedged by BTCUSD (inverse) shorts worth as much at entry: its USD value
    does not move with BTC, so the worst scenario loses nothing and the unit needs only its
    contingency; Bybit's regular (cross) margin charges each leg its bracket maintenance.
    (Bybit: portfolio margin nets the positions of one underlying; cross does not.)"""
    contracts = (qty * entry).quantize(D(1))  # the short's coin value moves as qty BTC does
    assume(contracts >= 1)
    books = []
    for rules in ("bybit-pm", "bybit-uta"):
        kw = {"contingency": {"BTC": "0.001"}} if rules == "bybit-pm" else {}
        acct = UnifiedAccount(rules, {"USDT": 100000}, {"USDT": "1", "BTC": mark},
                              collateral=BYBIT_TIERS, **kw)  # fmt: skip
        acct.restore("BTCUSDT", "long", qty, entry, mark)
        acct.restore("BTCUSD", "short", contracts, entry, mark)
        books.append(acct.reading())
    pm_reading, cross = books
    (unit,) = pm_reading.units
    # what rounding the contracts to whole dollars leaves unhedged: at most half a
    # dollar of entry value, moved 10 % at the mark
    assert unit.max_loss <= mark * D("0.1") * D("0.5") / entry + D("1e-30")
    assert pm_reading.maintenance <= cross.maintenance


def test_risk_based_rules_ask_for_what_is_not_published():
    acct = UnifiedAccount("bybit-pm", {"USDT": 1000}, {"USDT": "1", "BTC": "50000"},
                          collateral=BYBIT_TIERS)  # fmt: skip
    acct.restore("BTCUSDT", "long", "0.01", "50000", "50000")
    with pytest.raises(MissingParameter, match="contingency rate of the BTC risk unit"):
        acct.reading()


def test_okx_portfolio_margin_of_a_btc_short():
    """OKX PM (2025-01-06 parameters): BTC's MR1 spot shocks +-4/8/12 %, MR6 = 0.5 x the
    loss at +-24 %, IMR = 1.3 x MMR (E-OKX-1's structure: imr = 1.3 mmr, mr6 = 0.5 |pnl|).
    A 0.1 BTC short at 100,000: MR1 = 0.1 x 100,000 x 12 % = 1,200 = MR6; with an MR4
    add-on at the user's 0.0002: + 2; MMR 1,202, IMR 1,562.6."""
    acct = UnifiedAccount("okx-pm", {"USDT": 5000}, {"USDT": "1", "BTC": "100000"},
                          collateral={"USDT": [("0", "", "1")]},
                          contingency={"BTC": "0.0002"})  # fmt: skip
    acct.restore("BTC-USDT-SWAP", "short", "0.1", "100000", "100000")
    (unit,) = acct.reading().units
    assert unit.max_loss == D(1200)
    assert unit.worst_move == D("0.12")
    assert unit.maintenance == D(1202)
    assert unit.initial_margin == D("1562.6")
    r = acct.reading()
    with engine_context():
        assert r.ratio == D(5000) / D(1202)  # margin ratio: adjusted equity / MMR
    # a coin OKX lists in no group gets the 'others' row: +-8/16/25 %, extreme +-50 %
    assert acct.rules.scenario.moves("XYZ")[-1] == D("0.25")
    assert acct.rules.scenario.extreme_move("XYZ") == D("0.50")


def test_deribit_portfolio_margin_takes_the_users_range_in_nine_buckets():
    """Deribit S:PM ('Portfolio Margin', support article 25944756247837): the maximum
    price move cut into 9 evenly spaced buckets, 0 included; its example +-16 % gives
    -16, -12, ..., +16 %. The current ranges are not published in a stored copy: the
    user gives them. A 10 BTC_USDC long at 100,000 loses 160,000 at -16 %, and a 500
    SOL short at 200 loses 20,000 at +20 %: risk units do not net."""
    acct = UnifiedAccount("deribit-pm", {"USDC": "1000000"},
                          {"USDC": "1", "BTC": "100000", "SOL": "200"},
                          contingency={"BTC": "0", "SOL": "0.01"},
                          price_moves={"BTC": "0.16", "SOL": "0.2"})  # fmt: skip
    assert acct.rules.scenario.moves("BTC", {"BTC": D("0.16")}) == tuple(
        D(k) * D("0.04") for k in range(-4, 5)
    )
    acct.restore("BTC_USDC-PERPETUAL", "long", "10", "100000", "100000")
    acct.restore("SOL_USDC-PERPETUAL", "short", "500", "200", "200")
    btc, sol = acct.reading().units
    assert (btc.max_loss, btc.worst_move, btc.maintenance) == (D(160000), D("-0.16"), D(160000))
    # SOL: 500 x 200 x 20 % = 20,000, + the user's contingency 0.01 x 500 x 200 = 1,000
    assert (sol.max_loss, sol.worst_move, sol.contingency) == (D(20000), D("0.2"), D(1000))
    assert btc.initial_margin is None  # the IM/MM relation is not published
    r = acct.reading()
    with engine_context():
        assert r.ratio == D(181000) / D(1000000)
    assert not r.liquidated
    # a price that takes the ratio to 100 % is flagged (the rounds are not published)
    acct.mark({"BTC_USDC-PERPETUAL": "2000"}, index_prices={"BTC": "2000"})  # ratio 1.21
    assert acct.reading().liquidated
    assert len(acct.positions()) == 2  # flagged, not liquidated by a guess


def test_price_moves_are_checked():
    base = ("deribit-pm", {"USDC": "1000"}, {"USDC": "1", "BTC": "100000"})
    acct = UnifiedAccount(*base)
    with pytest.raises(MissingParameter, match=r"price_moves=\{'BTC'"):
        acct.open("BTC_USDC-PERPETUAL", "long", "0.01", "100000")
    assert acct.positions() == []
    assert acct.balances["USDC"] == 1000
    for bad in ({"BTC": "1.5"}, {"BTC": "-0.1"}, {"BTC": "nan"}):
        with pytest.raises(InvalidInput):
            UnifiedAccount(*base, price_moves=bad)
    with pytest.raises(InvalidInput, match="not risk-based"):
        UnifiedAccount("binance-pm", {"USDT": "1"}, {"USDT": "1"}, price_moves={"BTC": "0.1"})
    # a step grid (Bybit, 2 %) takes a range that is a whole number of steps
    ok = bybit_pm({"USDT": 10000})
    assert ok.rules.scenario.moves("BTC", {"BTC": D("0.04")}) == (
        D("-0.04"), D("-0.02"), D(0), D("0.02"), D("0.04"))  # fmt: skip
    with pytest.raises(InvalidInput, match="whole number"):
        UnifiedAccount("bybit-pm", {"USDT": 1}, {"USDT": "1", "BTC": "1"},
                       collateral=BYBIT_TIERS, price_moves={"BTC": "0.05"})  # fmt: skip


def test_hyperliquid_portfolio_margin_borrowable_is_the_ltv_value():
    """E-HL-1, Hyperliquid FAQ 'Portfolio margin': 10,000 units of collateral at 40, LTV
    50 % -> 200,000 USDC borrowable: the collateral value the account margins with."""
    acct = UnifiedAccount("hyperliquid-pm", {"HYPE": "10000"}, {"HYPE": "40", "USDC": "1"})
    r = acct.reading()
    (hype,) = r.assets
    assert hype.value == D(400000)
    assert hype.collateral == D(200000)
    assert r.adjusted_equity == D(200000)
    # BTC is the FAQ's other collateral at 50 %; an asset it does not list is refused
    assert acct.rules.tiers("BTC")[0].rate == D("0.5")
    with pytest.raises(MissingParameter):
        UnifiedAccount("hyperliquid-pm", {"ETH": "1"}, {"ETH": "3000", "USDC": "1"})
    # a BTC long on HYPE collateral: the ratio trips at 95 % and is flagged only
    acct.open("BTC", "long", "20", "100000")
    assert not acct.reading().liquidated
    acct.mark({"BTC": "91000"}, index_prices={"HYPE": "40"})
    r = acct.reading()
    assert r.ratio >= D("0.95")
    assert r.liquidated
    assert acct.positions()  # flagged, not closed: Hyperliquid's PM steps are not published


def test_funding_is_paid_to_the_counterparties_at_the_mark():
    """1 BTC long marked at 60,000 at +0.01 %: pays 6 USDT; a short at the same rate
    receives; a refused call (no position, rate not a fraction) changes nothing."""
    acct = UnifiedAccount("binance-pm", {"USDT": 20000}, INDEX)
    acct.open("BTCUSDT", "long", "1", "50000")
    acct.mark({"BTCUSDT": "60000"}, {"BTC": "60000"})
    before = acct.balances["USDT"]
    acct.settle_funding("BTCUSDT", "0.0001")
    assert acct.balances["USDT"] == before - 6
    assert acct.ledger[-1].kind == "funding"
    assert acct.counterparty_pnl["USDT"] >= 6
    acct.close("BTCUSDT", "60000")
    acct.open("BTCUSDT", "short", "1", "60000")
    before = acct.balances["USDT"]
    acct.settle_funding("BTCUSDT", "0.0001")
    assert acct.balances["USDT"] == before + 6
    snap = (acct.balances, len(acct.ledger))
    with pytest.raises(NoPosition):
        acct.settle_funding("ETHUSDT", "0.0001")
    with pytest.raises(InvalidInput):
        acct.settle_funding("BTCUSDT", "1.5")
    assert (acct.balances, len(acct.ledger)) == snap


def test_interest_is_charged_on_what_is_owed_at_the_users_rate():
    """A BTC-collateral account whose USDT-margined long lost 5,000 USDT owes 5,000
    USDT: 24 hours at 0.0005 % an hour costs 0.6 USDT, to the venue; an asset it does
    not owe costs nothing; bad rates change nothing."""
    acct = UnifiedAccount("binance-pm", {"BTC": 1}, INDEX)
    acct.open("BTCUSDT", "long", "1", "50000")
    acct.close("BTCUSDT", "45000")
    owed = -acct.balances["USDT"]
    assert owed > 5000  # the loss and the fees
    income = acct.venue_income["USDT"]
    acct.accrue_interest({"USDT": "0.000005", "BTC": "0.01"}, 24)
    with engine_context():
        charge = (owed * D("0.000005") * 24).quantize(D("1e-8"), "ROUND_CEILING")
    assert acct.balances["USDT"] == -owed - charge
    assert acct.venue_income["USDT"] == income + charge
    assert acct.balances["BTC"] == 1  # held, not owed: no interest
    assert acct.ledger[-1].kind == "interest"
    snap = (acct.balances, len(acct.ledger))
    for bad in ({"USDT": "-0.1"}, {"USDT": "1.5"}, {"USDT": "nan"}):
        with pytest.raises(InvalidInput):
            acct.accrue_interest(bad)
    assert (acct.balances, len(acct.ledger)) == snap


same_trades = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.sampled_from(["BTCUSDT", "ETHUSDT"]),
                  st.sampled_from(["long", "short"]), st.decimals("0.001", "3", places=3)),
        st.tuples(st.just("close"), st.sampled_from(["BTCUSDT", "ETHUSDT"])),
        st.tuples(st.just("mark"), st.decimals("0.8", "1.25", places=6)),
        st.tuples(st.just("funding"), st.sampled_from(["BTCUSDT", "ETHUSDT"]),
                  st.decimals("-0.001", "0.001", places=8)),
    ),
    max_size=20,
)  # fmt: skip


@settings(max_examples=60)
@given(same_trades)
def test_a_usdt_unified_account_keeps_the_books_of_a_cross_account(steps):
    """The same trades, marks and funding in a classic Binance cross account and in a
    Binance PM account holding the same USDT: fees, realised PnL and funding are booked
    alike, so the two equities agree to the last unit at every step (neither is
    liquidated: the balance is large). Two engines, one set of rules."""
    cross = pm.Account(pm.load_venue("binance-usdm"), "200000")
    unified = UnifiedAccount("binance-pm", {"USDT": "200000"}, INDEX)
    prices = {"BTCUSDT": D(50000), "ETHUSDT": D(3000)}
    cross.mark(prices)
    for step in steps:
        kind = step[0]
        if kind == "open":
            cross.open(step[1], step[2], step[3], prices[step[1]])
            unified.open(step[1], step[2], step[3], prices[step[1]])
        elif kind == "close":
            if cross.position(step[1]) is None:
                continue
            cross.close(step[1], prices[step[1]])
            unified.close(step[1], prices[step[1]])
        elif kind == "mark":
            with engine_context():
                prices = {"BTCUSDT": (D(50000) * step[1]).quantize(D("0.1")),
                          "ETHUSDT": (D(3000) * step[1]).quantize(D("0.01"))}  # fmt: skip
            cross.mark(prices)
            unified.mark(prices, {"BTC": prices["BTCUSDT"], "ETH": prices["ETHUSDT"]})
        else:
            if cross.position(step[1]) is None:
                continue
            cross.settle_funding(step[1], step[2])
            unified.settle_funding(step[1], step[2])
        assert unified.reading().equity == cross.equity
        assert not unified.reading().liquidated
    assert unified.balances.get("USDT", D(0)) == cross.wallet_balance
