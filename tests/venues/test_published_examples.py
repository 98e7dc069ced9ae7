"""Venues' own published numbers, reproduced to the precision they print.

Each test names the page (title, address, date or version) and quotes the numbers; the
hand calculation is in the comments. Where a page contradicts itself or an older version,
the test says which version it follows. Methods differ between pages: current Binance,
Bybit (UTA), Gate, Hyperliquid and dYdX pages take maintenance margin at the liquidation
price, as perpmargin does; older Bybit pages take it on the entry value, and
:func:`test_bybit_usdt_liquidation_price_page_takes_mm_on_the_entry_value` shows the
difference rather than hiding it.

More venue examples live beside their rules: tests/formulas/*, tests/engine/
test_venue_examples.py (Binance FAQ closed form), tests/engine/test_inverse.py (a real
Binance COIN-M positionRisk), tests/risk/test_liq_price.py (Gate help 27724, OKX margin
ratio, dYdX account value), tests/engine/test_liquidation_process.py (OKX's 13,000 swaps,
Hyperliquid's cooldown and previous-oracle ADL).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_DOWN
from decimal import Decimal as D

import pytest

import perpmargin as pm
from perpmargin.engine.clearing import Clearinghouse
from perpmargin.numeric import engine_context


def _2dp(x: D) -> D:
    return x.quantize(D("0.01"))


# ------------------------------------------------------------------------------ Binance


def test_binance_cost_to_open_with_open_loss():
    """Binance FAQ "How to Calculate Cost Required to Open a Position in Perpetual Futures
    Contracts" (support/faq/87fa7ee33b574f7084d42bd2ce2e463b, 2020-07-08, updated
    2024-08-14): order price 9,253.30, 1 BTC, 20x, mark 9,259.84. "Initial Margin =
    (9,253.30 * 1 BTC) / 20 = 462.66" (462.665, printed to the cent, down); "Open Loss ...
    short ... = 1 * 6.54 = 6.54", long 0; "Cost = Initial Margin + Open Loss"."""
    kwargs = {"symbol": "BTCUSDT", "entry": "9253.30", "leverage": 20, "balance": "100000",
                  "quantity": 1, "venue": "binance-usdm", "mark_price": "9259.84"}  # fmt: skip
    short = pm.check_trade(side="short", stop="9400", **kwargs).venues[0]
    long = pm.check_trade(side="long", stop="9100", **kwargs).venues[0]
    assert short.modes[0].initial_margin.quantize(D("0.01"), rounding=ROUND_DOWN) == D("462.66")
    assert short.open_loss == D("6.54")
    assert long.open_loss == 0
    assert short.cost_to_open == D("462.665") + D("6.54")
    assert long.cost_to_open == D("462.665")


def test_binance_cross_liquidation_price_faq():
    """Binance FAQ 25edcd7fe0e544839d0847b8cbb2e400: "wallet balance of 500 USDT ... a long
    BTCUSDT position worth 1,000 USDT with 20x leverage at $50,000 ... your liquidation
    price will be $25,100.40" (the first bracket: 0.4 %, amount 0). The page's second
    number (35,857.67 after adding 1,000 USDT at 45,000) does not follow from its own
    inputs (35,668.99 at 0.4 %), so it is not pinned."""
    price = pm.liquidation_price("binance-usdm", "cross", "long", 50000, "0.02", 500,
                                 symbol="BTCUSDT")  # fmt: skip
    assert _2dp(price) == D("25100.40")


def test_binance_coinm_maintenance_examples():
    """Binance FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts"
    (ceccfcfb4e3a45e3b48b0b1bb1a8ae46, 2021-02-05): "100 * 100 / 25,000 = 0.4 BTC, which
    is in margin level 1 ... Maintenance Margin = 100 * 100 / 25,000 * 0.4% - 0 =
    0.0016 BTC"; "300 BTC ... 12.5% ... the Maintenance Amount would be 11.605 BTC" (the
    newer version; an older one says 11.81 BTC: we follow 11.605, as binance-coinm.json)."""
    venue = pm.load_venue("binance-coinm")
    acct = pm.Account(venue, "1")
    acct.restore_position("BTCUSD_PERP", "long", 100, "25000", margin_mode="cross", leverage=10)
    assert acct.position("BTCUSD_PERP").maintenance_margin == D("0.0016")
    spec = venue.symbol("BTCUSD_PERP")
    tier = spec.tiers.tier_for(D(300) * 50000 / 100, D(300))
    assert (tier.maintenance_margin_rate, tier.maintenance_amount) == (D("0.125"), D("11.605"))


def test_binance_coinm_position_risk():
    """A real Binance COIN-M positionRisk (BTCUSD_PERP, isolated, 2x), quoted in ccxt
    4.5.90 python/ccxt/binance.py: liquidationPrice 25119.97445760, unRealizedProfit
    0.00006413, notionalValue 0.00524892 (8 decimals, truncated)."""
    acct = pm.Account(pm.load_venue("binance-coinm"), "0.01")
    acct.restore_position("BTCUSD_PERP", "long", 2, "37643.10000021", margin_mode="isolated",
                          leverage=2, isolated_margin="0.00268058",
                          mark_price="38103.05510455")  # fmt: skip
    pos = acct.position("BTCUSD_PERP")
    eight = D("0.00000001")
    assert pos.unrealized_pnl.quantize(eight, rounding=ROUND_DOWN) == D("0.00006413")
    assert pos.notional.quantize(eight, rounding=ROUND_DOWN) == D("0.00524892")
    liq = acct.liquidation_price("BTCUSD_PERP", exact=True)
    assert liq.quantize(eight, rounding=ROUND_DOWN) == D("25119.97445760")


# ------------------------------------------------------------------------------ Bybit


def test_bybit_initial_margin_holds_the_fee_to_close():
    """Bybit "Initial Margin Calculation (USDC Perpetual & Futures)" (2025-09-02): "0.5 BTC
    contract for $50,000 with 10x leverage. Assuming the Mark price is now $50,500. Initial
    Margin = 0.5 x 50,500 / 10 = 2,525 ... Estimated Fee to close position = 0.5 x 50,000
    x (1 - 1 / 10) x 0.055% = 12.375 ... the initial margin for the position is (2,525 +
    12.375), or 2,537.375" (the position tab of a cross position)."""
    acct = pm.Account(pm.load_venue("bybit-linear"), 10000)
    acct.set_leverage("BTCUSDT", 10)
    acct.open("BTCUSDT", "long", "0.5", "50000")
    acct.mark({"BTCUSDT": "50500"})
    assert acct.position("BTCUSDT").initial_margin == D("2537.375")
    assert acct.position("BTCUSDT").close_fee_reserve == D("12.375")


def test_bybit_uta_isolated_inverse_liquidation_price():
    """Bybit "Liquidation Price Calculation under Isolated Mode (Unified Trading Account)"
    (updated 2026-05-27): IM = value / leverage + estimated fee to close, MM = value x MMR
    - deduction + estimated fee to close; 60,000 USD of BTCUSD long at 50,000, 10x, MMR
    0.5 %, no extra margin: "Liquidation Price (Long) = [Position Size x (MM Rate + 1)] /
    [(Position Size / Entry Price) + (Position Size / Entry Price / Leverage) + ...]" =
    60,000 x 1.005 / 1.32 = 45,681.82. (The 2024-09-10 version of the page takes MM on
    the entry value, 60,000 / (1.2 + 0.12 - 0.006) = 45,662.10; we follow the current one.)
    """
    acct = pm.Account(pm.load_venue("bybit-inverse"), 1)
    acct.set_margin_mode("BTCUSD", "isolated")
    acct.set_leverage("BTCUSD", 10)
    acct.open("BTCUSD", "long", 60000, "50000")
    # margin 0.12 BTC + the fee to close at 50,000 / 1.1: 60,000 x 1.1 / 50,000 x 0.055 %
    assert acct.position("BTCUSD").isolated_margin == D("0.12") + D("0.000726")
    assert _2dp(acct.liquidation_price("BTCUSD", exact=True)) == D("45681.82")
    calc = pm.liquidation_price("bybit-inverse", "isolated", "long", 50000, 60000, leverage=10,
                                symbol="BTCUSD", exact=True)  # fmt: skip
    assert _2dp(calc) == D("45681.82")


def test_bybit_usdt_liquidation_price_page_takes_mm_on_the_entry_value():
    """Bybit "Liquidation Price (USDT Contract)": "1 BTC at 20,000 USDT with 50x ... MMR
    0.5% ... Initial Margin = 400 USDT; Maintenance Margin = 1 x 20,000 x 0.5% - 0 = 100
    USDT; LP = 20,000 USDT - (400 - 100) = 19,700 USDT". This page takes the maintenance
    margin on the entry value and leaves the fee to close out; perpmargin takes it at the
    liquidation price, as Bybit's UTA pages and the venue do: 400 + (P - 20,000) =
    0.005 P -> 19,698.49 (1.51 lower, what MM at 19,700 instead of 20,000 frees)."""
    with engine_context():
        page = D(20000) - (D(400) - D(20000) * D("0.005"))
        ours = pm.liquidation_price("bybit-linear", "isolated", "long", 20000, 1, 400,
                                    maintenance_margin_rate="0.005", taker_fee_rate=0,
                                    exact=True)  # fmt: skip
        assert ours == D(19600) / D("0.995")
    assert page == D(19700)
    assert _2dp(ours) == D("19698.49")


def test_bybit_bankruptcy_price():
    """Bybit "Bankruptcy Price (USDT Contract)": "a 1BTC Long position with an entry price at
    10,000USDT, leverage is 50x. Bankruptcy Price= 10,000 x (1 - 2%) = 9,800 USDT"."""
    price = pm.bankruptcy_price("bybit-linear", "isolated", "long", 10000, 1, 200,
                                symbol="BTCUSDT")  # fmt: skip
    assert price == D("9800")


def test_bybit_order_cost():
    """Bybit "Order Cost (USDT Contract)" (bybitglobal.com copy, 2022-07-25): long 1 BTC at
    50,000, 10x, taker 0.06 % then: "Initial Margin = 5,000; Fee to Open = 1 x 50,000 x
    0.06% = 30; Fee to Close = 1 x 50,000 x (10 - 1) / 10 x 0.06% = 27; Order Cost =
    5,057 USDT"."""
    venue = pm.load_venue("bybit-linear").with_fees(taker="0.0006")
    check = pm.check_trade(
        symbol="BTCUSDT",
        side="long",
        entry=50000,
        stop=48000,
        leverage=10,
        balance=100000,
        quantity=1,
        venue=venue,
    ).venues[0]
    assert check.open_fee == D(30)
    assert check.cost_to_open == D(5027)  # IM with the fee to close held in it
    assert check.cost_to_open + check.open_fee == D(5057)


# ------------------------------------------------------------------------------ dYdX v4


def test_dydx_isolated_liquidation_price():
    """dYdX v4 docs, Liquidations, "Isolated Liquidation Price" (dydxprotocol/
    v4-documentation, 2025-11-03): deposit 1,000, short 3 ETH at 3,000, MMF 5 %: "p' =
    (1000 + 9000) / (0.15 + 3) ... ≈ 3174.60 ... 3 * 3174.6 * 0.05 ≈ 476.2"."""
    price = pm.liquidation_price("dydx-v4", "isolated", "short", 3000, 3, 1000,
                                 maintenance_margin_rate="0.05", exact=True)  # fmt: skip
    assert _2dp(price) == D("3174.60")
    assert (3 * D("3174.6") * D("0.05")).quantize(D("0.1")) == D("476.2")


def test_dydx_cross_liquidation_price():
    """Same page, "Cross Liquidation Price": deposit 1,000, short 1.5 ETH at 3,000 (MMF
    5 %) and long 1,000 STRK at 1.75 (MMF 10 %): "MMR_o = 1000 * 1.75 * 0.10 = 175 ...
    p' = (1000 + 4500 - 175) / 1.575 ≈ 3380.95"."""
    strk = {"symbol": "STRK-USD", "side": "long", "entry_price": "1.75", "quantity": 1000,
            "mark_price": "1.75", "maintenance_margin_rate": "0.10"}  # fmt: skip
    price = pm.liquidation_price("dydx-v4", "cross", "short", 3000, "1.5", 1000,
                                 maintenance_margin_rate="0.05", other_positions=[strk],
                                 exact=True)  # fmt: skip
    assert _2dp(price) == D("3380.95")


def test_dydx_deleveraging_at_the_bankruptcy_price():
    """dYdX v4 docs, "Contract loss mechanism" (2025-09-19): "A deposits $100 and goes long
    500 ABC contracts at $1. B deposits $100 and goes short 500 ABC contracts at $1. The
    price jumps from $1 to $2 ... B's bankruptcy price is $1.2, so A's position is closed
    at $1.2, resulting in a $100 profit for A and a $100 loss for B, leaving B's account
    value at $0" (fees left out, as the example does)."""
    base = pm.load_venue("dydx-v4")
    spec = base.symbol("ETH-USD")
    abc = replace(spec, symbol="ABC-USD", ccxt_symbol="ABC/USD:USD", base="ABC",
                  tick_size=D("0.0001"), step_size=D(1), min_quantity=D(1),
                  max_quantity=D(10**9))  # fmt: skip
    venue = replace(base.with_fees(maker=0, taker=0, liquidation=0), symbols={"ABC-USD": abc})
    house = Clearinghouse(venue, insurance_fund=pm.InsuranceFund(), liquidation_model="venue")
    a = house.open_account("A", 100)
    b = house.open_account("B", 100)
    for acct in (a, b):
        acct.set_leverage("ABC-USD", 5)
    a.open("ABC-USD", "long", 500, 1)
    b.open("ABC-USD", "short", 500, 1)
    house.mark({"ABC-USD": 2})
    (dl,) = house.deleveragings
    assert dl.price == D("1.2")
    assert a.wallet_balance == 200  # a $100 profit
    assert b.wallet_balance == 0
    assert b.equity == 0


# ------------------------------------------------------------------------------ Hyperliquid


def test_hyperliquid_margin_tiers():
    """Hyperliquid docs, "Margin tiers": "maintenance_margin_rate(tier = n) = (Initial Margin
    Rate at Maximum leverage at tier n) / 2"; mainnet BTC: "0-150M -> 40", ">150M -> 20";
    deduction(n) = deduction(n-1) + lower bound(n) x (MMR(n) - MMR(n-1)): 150,000,000 x
    (2.5 % - 1.25 %) = 1,875,000."""
    tiers = pm.load_venue("hyperliquid").symbol("BTC").tiers.tiers
    assert [t.max_leverage for t in tiers] == [D(40), D(20)]
    assert [t.maintenance_margin_rate for t in tiers] == [D(1) / 80, D(1) / 40]
    assert tiers[0].upper == D(150_000_000)
    assert tiers[1].maintenance_amount == D(1_875_000)


# ------------------------------------------------------------------------------ Gate


@pytest.mark.parametrize(("side", "expected"), [("long", "40000"), ("short", "60000")])
def test_gate_liquidation_price_formula_without_fees(side, expected):
    """Gate help 27724 "Liquidation Price & Bankruptcy Price" (as freqtrade's docstring of
    2022-12-31 and Gate's support reply on Gate Square, 2023-07-02, quote it): "Liquidation
    Price = (Entry Price ± Margin / Contract Multiplier / Size) / [ 1 ± (Maintenance Margin
    Ratio + Taker Rate)]". With MMR and taker 0 (no deduction), 1 BTC at 50,000 and 10,000
    of margin: 50,000 ∓ 10,000 = 40,000 (long) or 60,000 (short), exactly."""
    price = pm.liquidation_price("gate-futures", "isolated", side, 50000, 1, 10000,
                                 maintenance_margin_rate="0.000000001", taker_fee_rate=0,
                                 exact=True)  # fmt: skip
    assert price.quantize(D("0.001")) == D(expected)


@pytest.mark.parametrize(
    ("side", "entry", "contracts", "leverage", "printed"),
    [
        ("long", "7500", 1000, 20, "7143"),  # 7,500 x 20 / 21 = 7,142.857..., rounded up
        ("short", "7500", 1000, 20, "7894.50"),  # 7,500 x 20 / 19 = 7,894.736..., down
        ("long", "7890.08", 5000, 50, "7735.50"),  # 7,890.08 x 50 / 51 = 7,735.3725...
    ],
)
def test_bybit_inverse_bankruptcy_prices(side, entry, contracts, leverage, printed):
    """Bybit "Why Is Order Cost Different for Buy and Sell Orders": "BTCUSD 1000 Contract
    Quantity at USD 7500 entry price, 20x leverage ... Bankruptcy Price for Buy Long = 7500
    x [20/(20+1)] = USD 7143; Bankruptcy Price for Sell Short = 7500 x [20/(20-1)] = USD
    7894.50"; old "What is Auto-Deleveraging (ADL)?" (help.bybit.com 900000031623): "5,000
    BTCUSD contracts at 7,890.08 USD on 50x ... Bankruptcy Price = (7,890.08 x 50) / (50+1)
    = 7,735.372549 USD ≈ 7,735.50 USD". The price leaves the fee to close the margin holds
    aside, and Bybit rounds a long's up and a short's down to the 0.5 tick
    (bybit-inverse.json)."""
    price = pm.bankruptcy_price("bybit-inverse", "isolated", side, entry, contracts,
                                leverage=leverage, symbol="BTCUSD")  # fmt: skip
    assert price == D(printed)
    # the account that opens the position reports the same price
    acct = pm.Account(pm.load_venue("bybit-inverse"), 1)
    acct.set_margin_mode("BTCUSD", "isolated")
    acct.set_leverage("BTCUSD", leverage)
    acct.open("BTCUSD", side, contracts, entry)
    assert acct.position("BTCUSD").bankruptcy_price == D(printed)
