"""The stateless calculator against each venue's published method, and against the engine."""

import contextlib
from dataclasses import replace
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

import perpmargin as pm
from perpmargin.events import Liquidation
from perpmargin.numeric import engine_context
from tests.engine.test_venue_examples import _binance_closed_form


def _already_liquidatable(side, liquidation, entry):
    """The closed form's root is on the wrong side of entry: liquidatable at entry already.

    A short's equity falls as the price rises, so a root below entry (even a negative one)
    means it is underwater at entry; a long's negative root means no positive price.
    """
    return 0 < liquidation >= entry if side == "long" else liquidation <= entry


qty = st.decimals(min_value=D("0.001"), max_value=D("5"), places=3)
price = st.decimals(min_value=D("5000"), max_value=D("90000"), places=1)
margin = st.decimals(min_value=D("1"), max_value=D("50000"), places=2)
side = st.sampled_from(["long", "short"])


@given(
    side=side,
    q=st.decimals(min_value=D("0.0001"), max_value=D("5"), places=4),
    entry=price,
    m=margin,
)
def test_gate_help_27724_formula(side, q, entry, m):
    """Gate: LP = (entry -/+ margin / size) / (1 -/+ (MMR + taker)) (gate.json, help 27724).

    Tier 1 of BTC_USDT (MMR 0.3 %, no deduction) with the 0.075 % taker rate.
    """
    lp = pm.liquidation_price(
        "gate-futures", "isolated", side, entry, q, m, symbol="BTC_USDT", exact=True
    )
    with engine_context():
        k = D("0.003") + D("0.00075")
        expected = (entry - m / q) / (1 - k) if side == "long" else (entry + m / q) / (1 + k)
    if _already_liquidatable(side, expected, entry):
        assert lp == entry  # liquidatable at entry: the reference price is returned
    elif expected <= 0:
        assert lp is None  # a long that no positive price liquidates
    elif expected * q < 500_000:  # the formula is for one tier; stay in tier 1
        assert abs(lp - expected) < D("1e-30")


@given(side=side, lots=st.integers(min_value=1, max_value=100_000), entry=price, m=margin)
def test_okx_margin_ratio_rule(side, lots, entry, m):
    """OKX isolated: equity = ctVal x |contracts| x mark x (tier MMR + taker) (okx.json).

    Tiers by size: BTC-USDT-SWAP tier 1 covers up to 10 BTC at MMR 0.4 %, tier 2 to 50 BTC
    at 0.5 %, tier 3 to 200 BTC at 0.75 % (contracts x 0.01).
    """
    q = D(lots) / 10000
    lp = pm.liquidation_price(
        "okx-swap", "isolated", side, entry, q, m, symbol="BTC-USDT-SWAP", exact=True
    )
    mmr = D("0.004") if q <= 10 else D("0.005") if q <= 50 else D("0.0075")
    with engine_context():
        k = mmr + D("0.0005")
        expected = (
            (q * entry - m) / (q * (1 - k)) if side == "long" else ((q * entry + m) / (q * (1 + k)))
        )
    if _already_liquidatable(side, expected, entry):
        assert lp == entry
    elif expected <= 0:
        assert lp is None
    else:
        assert abs(lp - expected) < D("1e-30")


@given(
    side=side,
    q=st.decimals(min_value=D("0.0001"), max_value=D("50"), places=4),
    entry=price,
    wallet=margin,
    eth_q=st.decimals(min_value=D("-200"), max_value=D("200"), places=3),
    eth_mark=st.decimals(min_value=D("1000"), max_value=D("5000"), places=1),
)
def test_dydx_total_account_value_rule(side, q, entry, wallet, eth_q, eth_mark):
    """dYdX v4 (concepts/trading/margin): liquidatable when Q + sum(S x P) <= sum(|S| P MMF).

    Q is the USDC balance after paying for the positions (wallet - S x entry). BTC-USD MMF
    1.2 %, ETH-USD MMF 3 % (dydx.json). Closed form for the BTC price:
    P = -(Q + S_eth P_eth - |S_eth| P_eth MMF_eth) / (S - |S| MMF).
    """
    if eth_q == 0:
        return
    s = q if side == "long" else -q
    eth_side = "long" if eth_q > 0 else "short"
    others = [
        {
            "symbol": "ETH-USD",
            "side": eth_side,
            "entry_price": "2000",
            "quantity": abs(eth_q),
            "mark_price": eth_mark,
        }
    ]
    lp = pm.liquidation_price(
        "dydx-v4",
        "cross",
        side,
        entry,
        q,
        wallet,
        other_positions=others,
        symbol="BTC-USD",
        exact=True,
    )
    with engine_context():
        big_q = wallet - s * entry - eth_q * D(2000)
        rest = big_q + eth_q * eth_mark - abs(eth_q) * eth_mark * D("0.03")
        expected = -rest / (s - abs(s) * D("0.012"))
    if _already_liquidatable(side, expected, entry):
        assert lp == entry
    elif expected <= 0:
        assert lp is None
    else:
        assert abs(lp - expected) < D("1e-30")


def test_hyperliquid_from_max_leverage_only():
    """MMR = 1/(2 x 40) = 1.25 %: 500 + 0.1 (P - 50,000) = 0.00125 P -> P = 4,500 / 0.09875."""
    lp = pm.liquidation_price(
        "hyperliquid", "isolated", "long", "50000", "0.1", "500", max_leverage=40, exact=True
    )
    with engine_context():
        assert lp == D(4500) / D("0.09875")
    with pytest.raises(pm.InvalidInput, match="max_leverage"):
        pm.liquidation_price("hyperliquid", "isolated", "long", "50000", "0.1", "500")


def test_binance_cross_with_several_positions_matches_faq_formula():
    venue = pm.load_venue("binance-usdm")
    others = [
        {
            "symbol": "ETHUSDT",
            "side": "short",
            "entry_price": "3000",
            "quantity": "20",
            "mark_price": "3100",
        },
        {
            "symbol": "XRPUSDT",
            "side": "long",
            "entry_price": "0.5",
            "quantity": "10000",
            "mark_price": "0.45",
            "maintenance_margin_rate": "0.01",
            "maintenance_amount": "0",
        },
    ]
    lp = pm.liquidation_price(
        venue,
        "cross",
        "long",
        "50000",
        "1",
        "8000",
        other_positions=others,
        symbol="BTCUSDT",
        exact=True,
    )
    with engine_context():
        eth_mm = D(20) * D(3100) * D("0.005") - 50  # 62,000 notional: tier 2
        xrp_mm = D(10000) * D("0.45") * D("0.01")
        upnl = D(20) * (3000 - 3100) + D(10000) * (D("0.45") - D("0.5"))
        table = venue.symbol("BTCUSDT").tiers
        expected = _binance_closed_form(
            D(8000), eth_mm + xrp_mm, upnl, [("BOTH", 1, D(1), D(50000), table)]
        )
    assert expected
    assert abs(lp - expected[0]) < D("1e-30")


def test_binance_hedge_both_legs_give_one_price():
    other = [{"symbol": "BTCUSDT", "side": "short", "entry_price": "52000", "quantity": "0.3"}]
    long_lp = pm.liquidation_price(
        "binance-usdm",
        "cross",
        "long",
        "50000",
        "1",
        "5000",
        other_positions=other,
        position_mode="hedge",
        symbol="BTCUSDT",
        exact=True,
    )
    short_lp = pm.liquidation_price(
        "binance-usdm",
        "cross",
        "short",
        "52000",
        "0.3",
        "5000",
        other_positions=[
            {"symbol": "BTCUSDT", "side": "long", "entry_price": "50000", "quantity": "1"}
        ],
        position_mode="hedge",
        symbol="BTCUSDT",
        exact=True,
    )
    assert long_lp == short_lp
    table = pm.load_venue("binance-usdm").symbol("BTCUSDT").tiers
    with engine_context():
        expected = _binance_closed_form(
            D(5000),
            D(0),
            D(0),
            [("LONG", 1, D(1), D(50000), table), ("SHORT", -1, D("0.3"), D(52000), table)],
        )
    assert abs(long_lp - expected[0]) < D("1e-30")


def test_tier_at_the_liquidation_price_not_at_entry():
    # see tests/engine/test_math.py: 0.9 BTC short, 10,000 margin crosses into tier 2
    lp = pm.liquidation_price(
        "binance-usdm", "isolated", "short", "50000", "0.9", "10000", symbol="BTCUSDT", exact=True
    )
    with engine_context():
        assert lp == D("55050") / D("0.9045")
    fixed = pm.liquidation_price(
        "binance-usdm",
        "isolated",
        "short",
        "50000",
        "0.9",
        "10000",
        maintenance_margin_rate="0.004",
        exact=True,
    )
    assert fixed > lp  # the entry tier alone would overstate the distance


def test_user_tiers_override_the_venue():
    tiers = [
        {
            "min_notional": "0",
            "max_notional": None,
            "maintenance_margin_rate": "0.01",
            "maintenance_amount": "0",
            "max_leverage": "50",
        }
    ]
    lp = pm.liquidation_price(
        "binance-usdm", "isolated", "long", "50000", "0.1", "500", tiers=tiers, exact=True
    )
    with engine_context():
        assert lp == D(4500) / D("0.099")


BAD = [
    ({"entry_price": "nan"}, pm.InvalidInput, "finite"),
    ({"quantity": "-1"}, pm.InvalidInput, "> 0"),
    ({"collateral": "-5"}, pm.InvalidInput, ">= 0"),
    ({"venue": "nowhere"}, pm.UnknownVenue, "bundled"),
    ({"symbol": "NOSUCHUSDT"}, pm.UnknownSymbol, "NOSUCHUSDT"),
    ({"leverage": "200"}, pm.LeverageTooHigh, "125"),
    ({"margin_mode": "portfolio"}, pm.InvalidInput, "margin_mode"),
    ({"side": "up"}, pm.InvalidInput, "side"),
    ({"collateral": None}, pm.InvalidInput, "collateral is required"),
    ({"other_positions": [{"symbol": "ETHUSDT"}]}, pm.InvalidInput, "side is missing"),
    (
        {
            "margin_mode": "cross",
            "other_positions": [
                {"symbol": "ETHUSDT", "side": "long", "entry_price": 1, "quantity": 1}
            ],
        },
        pm.InvalidInput,
        "mark_price is required",
    ),
    (
        {
            "margin_mode": "cross",
            "other_positions": [
                {"symbol": "BTCUSDT", "side": "short", "entry_price": 1, "quantity": 1}
            ],
        },
        pm.InvalidInput,
        "hedge mode",
    ),
    (
        {
            "other_positions": [
                {
                    "symbol": "ETHUSDT",
                    "side": "long",
                    "entry_price": 1,
                    "quantity": 1,
                    "mark_price": 1,
                }
            ]
        },
        pm.InvalidInput,
        "cross margin only",
    ),
    ({"tiers": [{"min_notional": "5"}]}, pm.VenueDataError, "tiers"),
]


@pytest.mark.parametrize(("change", "error", "text"), BAD)
def test_bad_input_is_typed(change, error, text):
    args = {
        "venue": "binance-usdm",
        "margin_mode": "isolated",
        "side": "long",
        "entry_price": "50000",
        "quantity": "0.1",
        "collateral": "500",
        "symbol": "BTCUSDT",
    }
    args.update(change)
    with pytest.raises(error, match=text):
        pm.liquidation_price(**args)


@st.composite
def account_state(draw):
    name = draw(st.sampled_from(["binance-usdm", "okx-swap", "hyperliquid", "bybit-linear"]))
    venue = pm.load_venue(name)
    if name == "bybit-linear":  # one bundled symbol: add a second with other tiers for cross
        btc = venue.symbol("BTCUSDT")
        alt = replace(btc, symbol="ALTUSDT", ccxt_symbol="ALT/USDT:USDT")
        venue = replace(venue, symbols={**venue.symbols, "ALTUSDT": alt})
    symbols = sorted(venue.featured)[:2]
    acct = pm.Account(venue, balance=draw(st.integers(1000, 500_000)))
    hedge = "hedge" in venue.rules.position_modes and draw(st.booleans())
    if hedge:
        acct.set_position_mode("hedge")
    base = {s: D(draw(st.integers(100, 90_000))) for s in symbols}
    for s in symbols:
        acct.set_margin_mode(s, draw(st.sampled_from(["isolated", "cross"])))
        acct.set_leverage(s, draw(st.integers(1, 20)))
    for _ in range(draw(st.integers(1, 4))):
        s = draw(st.sampled_from(symbols))
        spec = venue.symbol(s)
        q = spec.min_quantity * draw(st.integers(1, 300))
        with contextlib.suppress(pm.PerpMarginError):
            acct.open(s, draw(side), q, base[s])
    marks = {}
    for s in symbols:
        tick = venue.symbol(s).tick_size
        marks[s] = (base[s] * (1 + D(draw(st.integers(-8, 8))) / 100)).quantize(tick)
    acct.mark(marks)
    return acct


def _calc_args(acct, pos):
    venue = acct.venue
    if pos.margin_mode == "isolated":  # (Bybit: the leverage sizes the fee held in the margin)
        return {"collateral": pos.isolated_margin, "other_positions": [], "leverage": pos.leverage}
    others = [
        {
            "symbol": p.symbol,
            "side": p.side,
            "entry_price": p.entry_price,
            "quantity": p.quantity,
            "mark_price": p.mark_price,
        }
        for p in acct.positions()
        if p.margin_mode == "cross" and (p.symbol, p.side) != (pos.symbol, pos.side)
    ]
    del venue
    return {"collateral": acct.cross_wallet_balance, "other_positions": others}


@given(acct=account_state())
def test_account_and_calculator_agree_on_random_states(acct):
    for pos in acct.positions():
        args = _calc_args(acct, pos)
        for exact in (True, False):
            engine = acct.liquidation_price(pos.symbol, pos.side, exact=exact)
            calc = pm.liquidation_price(
                acct.venue,
                pos.margin_mode,
                pos.side,
                pos.entry_price,
                pos.quantity,
                mark_price=pos.mark_price,
                position_mode=acct.position_mode,
                symbol=pos.symbol,
                exact=exact,
                **args,
            )
            assert engine == calc
            assert acct.bankruptcy_price(pos.symbol, pos.side, exact=exact) == (
                pm.bankruptcy_price(
                    acct.venue,
                    pos.margin_mode,
                    pos.side,
                    pos.entry_price,
                    pos.quantity,
                    mark_price=pos.mark_price,
                    position_mode=acct.position_mode,
                    symbol=pos.symbol,
                    exact=exact,
                    **args,
                )
            )


@given(side=side, q=qty, m=margin, extra=margin)
def test_more_collateral_moves_liquidation_away(side, q, m, extra):
    lp1 = pm.liquidation_price(
        "binance-usdm", "isolated", side, "50000", q, m, symbol="BTCUSDT", exact=True
    )
    lp2 = pm.liquidation_price(
        "binance-usdm", "isolated", side, "50000", q, m + extra, symbol="BTCUSDT", exact=True
    )
    # strictly monotone, except where both are clamped at the reference (liquidatable at
    # entry already, so the entry price is returned for both)
    if lp1 == 50000:
        assert lp2 is None or (lp2 <= lp1 if side == "long" else lp2 >= lp1)
    elif side == "long":
        assert lp2 is None or (lp1 is not None and lp2 < lp1)
    else:
        assert lp2 > lp1
    bp = pm.bankruptcy_price(
        "binance-usdm", "isolated", side, "50000", q, m, symbol="BTCUSDT", exact=True
    )
    if lp1 is not None and bp is not None:
        assert (bp < lp1) if side == "long" else (bp > lp1)  # bankruptcy lies beyond


@given(side=side, lots=st.integers(1, 5000), lev=st.integers(1, 100))
def test_isolated_calculator_price_is_where_the_engine_liquidates(side, lots, lev):
    venue = pm.load_venue("binance-usdm")
    acct = pm.Account(venue, balance="100000")
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_leverage("BTCUSDT", lev)
    q = D(lots) / 1000
    try:
        acct.open("BTCUSDT", side, q, "50000")
    except pm.PerpMarginError:
        return
    margin_ = acct.position("BTCUSDT").isolated_margin
    lp = pm.liquidation_price(venue, "isolated", side, "50000", q, margin_, symbol="BTCUSDT")
    if lp is None:  # a 1x long: no positive price liquidates it
        assert side == "long"
        assert lev == 1
        return
    events = acct.mark({"BTCUSDT": lp})
    (liq,) = [e for e in events if isinstance(e, Liquidation)]
    assert liq.mark_price == lp


def test_bybit_close_fee_is_valued_at_the_bankruptcy_price():
    """Bybit counts the estimated fee to close at the bankruptcy price, in maintenance and
    in the initial margin (bybit-linear.json).

    1 BTC long at 50,000, 10x isolated: margin 5,000 + the fee to close at the bankruptcy
    price its leverage implies, 45,000 x 0.055 % = 24.75, so 5,024.75 is set aside; in
    maintenance the fee is valued where the 5,000 runs out: 45,000 again, 24.75.
    5,024.75 + (P - 50,000) = 0.0033 P + 24.75 -> P = 45,000 / 0.9967: the fee cancels, as
    Bybit's isolated formula says. Given only a 5,000 margin (no leverage: no fee held),
    the fee is a cost on it: 5,000 + (P - 50,000) = 0.0033 P + 24.75 -> 45,024.75 / 0.9967.
    """
    lp = pm.liquidation_price(
        "bybit-linear", "isolated", "long", "50000", "1", leverage=10, symbol="BTCUSDT", exact=True
    )
    with engine_context():
        assert lp == D("45000") / D("0.995")
        bare = pm.liquidation_price(
            "bybit-linear", "isolated", "long", "50000", "1", "5000", symbol="BTCUSDT", exact=True
        )
        assert bare == D("45024.75") / D("0.995")
    acct = pm.Account(pm.load_venue("bybit-linear"), balance="10000")
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_leverage("BTCUSDT", 10)
    acct.open("BTCUSDT", "long", "1", "50000")
    assert acct.position("BTCUSDT").isolated_margin == D("5024.75")
    assert acct.liquidation_price("BTCUSDT", exact=True) == lp
    assert acct.position("BTCUSDT").maintenance_margin == D("0.005") * 50000 + D("24.75")
