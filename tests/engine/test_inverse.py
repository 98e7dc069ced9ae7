"""Inverse (coin-margined) contracts: documented numbers, closed forms, invariants.

Sources:
- Binance COIN-M position (GET /dapi/v1/positionRisk, BTCUSD_PERP, isolated, 2x), quoted
  in ccxt 4.5.90 python/ccxt/binance.py ``parse_position_risk``: positionAmt 2,
  entryPrice 37643.10000021, markPrice 38103.05510455, unRealizedProfit 0.00006413,
  liquidationPrice 25119.97445760, isolatedWallet 0.00268058, isolatedMargin 0.00274471,
  notionalValue 0.00524892.
- Binance FAQ ceccfcfb4e3a45e3b48b0b1bb1a8ae46 (COIN-M leverage and margin): a 300 BTC
  position is in the 12.5 % bracket with maintenance amount 11.605 BTC.
"""

from decimal import ROUND_DOWN
from decimal import Decimal as D

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import perpmargin as pm
from perpmargin.engine import math as pmath
from perpmargin.numeric import engine_context

ENTRY = D("37643.10000021")
MARK = D("38103.05510455")
WALLET = D("0.00268058")


@pytest.fixture(scope="module")
def coinm() -> pm.Venue:
    return pm.load_venue("binance-coinm")


def _8dp(x: D) -> D:
    return x.quantize(D("0.00000001"), rounding=ROUND_DOWN)


def test_binance_coinm_position_risk_is_reproduced(coinm):
    acct = pm.Account(coinm, "0.01")
    acct.restore_position(
        "BTCUSD_PERP",
        "long",
        2,
        entry_price=ENTRY,
        margin_mode="isolated",
        leverage=2,
        isolated_margin=WALLET,
        mark_price=MARK,
    )
    pos = acct.position("BTCUSD_PERP")
    assert _8dp(pos.unrealized_pnl) == D("0.00006413")
    assert _8dp(pos.notional) == D("0.00524892")
    assert _8dp(pos.isolated_margin + pos.unrealized_pnl) == D("0.00274471")
    assert _8dp(acct.liquidation_price("BTCUSD_PERP", exact=True)) == D("25119.97445760")
    # the stateless calculator gives the same price
    liq = pm.liquidation_price(
        coinm, "isolated", "long", ENTRY, 2, WALLET, symbol="BTCUSD_PERP", exact=True
    )
    assert _8dp(liq) == D("25119.97445760")
    # and the tick-rounded one liquidates when marked, a tick above does not
    rounded = acct.liquidation_price("BTCUSD_PERP")
    assert acct.liquidates_at({"BTCUSD_PERP": rounded})
    assert not acct.liquidates_at({"BTCUSD_PERP": rounded + D("0.1")})


def test_binance_coinm_bracket_example(coinm):
    spec = coinm.symbol("BTCUSD_PERP")
    price = D("50000")
    contracts = D(300) * price / spec.contract_value  # 300 BTC of position value
    with engine_context():
        mm = pmath.requirement(spec.tiers, contracts, price, contract_value=spec.contract_value)
    assert mm == D(300) * D("0.125") - D("11.605")


@given(
    entry=st.integers(min_value=1000, max_value=200_000),
    contracts=st.integers(min_value=1, max_value=400),
    leverage=st.integers(min_value=2, max_value=100),
    side=st.sampled_from(["long", "short"]),
)
def test_isolated_price_matches_the_closed_form(coinm, entry, contracts, leverage, side):
    """Margin-ratio definition solved by hand (single bracket at the solution):
    long  LP = n*cv*(1 + MMR) / (WB + cum + n*cv/E)
    short LP = n*cv*(1 - MMR) / (n*cv/E - WB - cum)  (none when the denominator <= 0)."""
    spec = coinm.symbol("BTCUSD_PERP")
    cv, e, n = spec.contract_value, D(entry), D(contracts)
    with engine_context():
        assume(leverage <= spec.tiers.max_leverage_for(n, n * cv / e))  # a position one can open
        wb = n * cv / e / leverage
    got = pm.liquidation_price(coinm, "isolated", side, e, n, wb, symbol="BTCUSD_PERP", exact=True)
    with engine_context():
        for tier in spec.tiers.tiers:
            mmr, cum = tier.maintenance_margin_rate, tier.maintenance_amount
            if side == "long":
                lp = n * cv * (1 + mmr) / (wb + cum + n * cv / e)
            else:
                den = n * cv / e - wb - cum
                if den <= 0:
                    continue
                lp = n * cv * (1 - mmr) / den
            value = n * cv / lp
            if tier.lower <= value and (tier.upper is None or value < tier.upper):
                assert got is not None
                assert abs(got - lp) <= lp * D("1e-20")
                return
    assert got is None


def test_a_1x_inverse_short_never_liquidates_and_a_1x_long_does_near_half(coinm):
    """The coin is the collateral: a 1x short is a hedge, a 1x long is 2x long the coin."""
    e, n = D(60000), D(600)
    wb = n * 100 / e
    assert pm.liquidation_price(coinm, "isolated", "short", e, n, wb, symbol="BTCUSD_PERP") is None
    long_liq = pm.liquidation_price(
        coinm, "isolated", "long", e, n, wb, symbol="BTCUSD_PERP", exact=True
    )
    assert long_liq == e * (1 + D("0.004")) / 2


def test_money_is_in_the_coin(coinm):
    acct = pm.Account(coinm, "1")
    acct.set_leverage("BTCUSD_PERP", 10)
    acct.open("BTCUSD_PERP", "long", 1000, 50000)  # 100,000 USD = 2 BTC
    fee = D("2") * D("0.0005")
    assert acct.fees_paid == fee
    acct.settle_funding("BTCUSD_PERP", "0.0001", mark_price=40000)  # 2.5 BTC of value
    funding = D("2.5") * D("0.0001")
    acct.close("BTCUSD_PERP", 40000)
    pnl = D(1000) * 100 * (D(1) / 50000 - D(1) / 40000)  # -0.5 BTC
    close_fee = D("2.5") * D("0.0005")
    assert acct.wallet_balance == 1 + pnl - fee - funding - close_fee
    assert acct.snapshot().total_money == 1


def test_averaging_in_uses_the_harmonic_mean(coinm):
    acct = pm.Account(coinm, "1")
    acct.open("BTCUSD_PERP", "long", 100, 40000)
    acct.open("BTCUSD_PERP", "long", 100, 60000)
    with engine_context():
        expected = D(200) / (D(100) / 40000 + D(100) / 60000)
    assert acct.position("BTCUSD_PERP").entry_price == expected  # 48,000, not 50,000


def test_linear_and_inverse_need_separate_pools(coinm):
    acct = pm.Account(coinm, "1")
    assert acct.settle == "BTC"
    usdm = pm.load_venue("binance-usdm")
    with pytest.raises(pm.InvalidInput, match="settle"):
        pm.Account(usdm, 1000, settle="BTC")


def test_pretrade_sizes_in_contracts_from_a_coin_risk(coinm):
    check = pm.check_trade(
        symbol="BTCUSD_PERP",
        side="long",
        entry=60000,
        stop=57000,
        leverage=20,
        risk="1%",
        balance="0.5",
        venue=coinm,
    )
    v = check.venues[0]
    iso = v.modes[0]
    assert v.quantity == v.quantity.to_integral_value()
    assert iso.loss_at_stop <= D("0.005")  # 1 % of 0.5 BTC, fees included
    one_more = iso.loss_at_stop * (v.quantity + 1) / v.quantity
    assert one_more > D("0.005")
    with engine_context():
        assert iso.worst_case_loss == iso.initial_margin + v.open_fee + v.close_fee_at_stop


inverse_step = st.one_of(
    st.tuples(st.just("open"), st.sampled_from(["long", "short"]), st.integers(1, 2000)),
    st.tuples(st.just("close"), st.integers(0, 3)),
    st.tuples(st.just("mark"), st.integers(-45, 60)),
    st.tuples(st.just("funding"), st.integers(-300, 300)),
    st.tuples(st.just("mode"), st.sampled_from(["isolated", "cross"])),
    st.tuples(st.just("leverage"), st.integers(1, 125)),
    st.tuples(st.just("add"), st.integers(1, 10**6)),
    st.tuples(st.just("remove"), st.integers(1, 10**6)),
)


@given(
    balance=st.integers(min_value=0, max_value=10**8),  # in satoshi
    steps=st.lists(inverse_step, min_size=1, max_size=30),
)
def test_inverse_accounts_keep_every_invariant(coinm, balance, steps):
    """Money conserved to the satoshi, ledger replays, no pool below zero, a refusal
    changes nothing: the same invariants as linear accounts."""
    opening = D(balance) / 10**8
    acct = pm.Account(coinm, opening)
    mark = D(50000)
    for step in steps:
        before = acct.snapshot()
        try:
            kind = step[0]
            if kind == "open":
                acct.open("BTCUSD_PERP", step[1], step[2], acct.marks.get("BTCUSD_PERP", mark))
            elif kind == "close":
                pos = acct.position("BTCUSD_PERP")
                qty = None if pos is None or step[1] == 0 else max(1, pos.quantity // 2)
                acct.close("BTCUSD_PERP", acct.marks.get("BTCUSD_PERP", mark), qty=qty)
            elif kind == "mark":
                mark = max(D(100), (mark * (100 + step[1]) / 100).quantize(D("0.1")))
                acct.mark({"BTCUSD_PERP": mark})
            elif kind == "funding":
                acct.settle_funding("BTCUSD_PERP", D(step[1]) / 100000, mark_price=mark)
            elif kind == "mode":
                acct.set_margin_mode("BTCUSD_PERP", step[1])
            elif kind == "leverage":
                acct.set_leverage("BTCUSD_PERP", step[1])
            elif kind == "add":
                acct.add_margin("BTCUSD_PERP", D(step[1]) / 10**8)
            else:
                acct.remove_margin("BTCUSD_PERP", D(step[1]) / 10**8)
        except pm.PerpMarginError:
            assert acct.snapshot() == before
        state = acct.snapshot()
        assert state.total_money == opening
        assert pm.replay(acct.ledger) == state
        for leg in state.legs.values():
            assert leg.isolated_margin >= 0
        if any(leg.margin_mode == "cross" for leg in state.legs.values()):
            assert acct.cross_equity >= 0
        else:
            assert acct.cross_wallet_balance >= 0


def test_replay_of_an_inverse_long_on_the_2020_crash():
    """BTCUSD_PERP marked with the bundled BTCUSDT perpetual bars (the COIN-M perpetual
    tracks the same index; no COIN-M bars are bundled). Isolated loses its 0.3 BTC of
    margin; cross loses the whole 1 BTC wallet: the collateral is the coin that fell."""
    from perpmargin.sim.plan import plan_from_dict
    from perpmargin.sim.replay import replay

    plan = plan_from_dict(
        {
            "name": "inverse",
            "venue": "binance-coinm",
            "balance": "1",
            "bars": {"BTCUSD_PERP": "binance-btcusdt-perp-15m-2020-03-12.csv"},
            "positions": [
                {"symbol": "BTCUSD_PERP", "side": "long", "leverage": 5, "size": {"margin": "0.3"}}
            ],
        }
    )
    result = replay(plan)
    (qty,) = result.quantities
    (entry,) = result.entry_prices
    assert qty == int(D("0.3") * 5 * entry / 100)  # contracts of 100 USD
    iso = result.runs["isolated"].outcome
    cross = result.runs["cross"].outcome
    assert iso.liquidated
    assert cross.liquidated
    assert iso.final_equity > D("0.69")  # 1 - 0.3 margin - fees
    assert cross.final_equity == 0
    assert iso.liquidations[0].mark_price > cross.liquidations[0].mark_price
