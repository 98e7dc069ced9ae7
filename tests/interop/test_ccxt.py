"""ccxt import / export / reconcile on recorded-shape fixtures with hand-computed answers.

The fixture ``binance-bundle.json`` is a constructed Binance USDⓈ-M account in ccxt's
unified shapes: BTCUSDT long 0.5 @ 60,000, isolated 10x with 3,000 of margin, mark
62,000; ETHUSDT short 10 @ 3,000, cross 20x, mark 3,100; wallet 10,000 USDT. Its
``liquidationPrice`` values are Binance's documented closed form
(support/faq/b3c689c1f50a44cabb3a84e663b81d93), recomputed below:

- BTC isolated, tier 1 (MMR 0.4 %, cum 0): 3,000 + 0.5 (P - 60,000) = 0.5 P x 0.004
  -> P = 27,000 / 0.498 = 54,216.8674...
- ETH cross (7,000 cross wallet): 7,000 - 10 (P - 3,000) = 10 P x 0.004
  -> P = 37,000 / 10.04 = 3,685.2589...
"""

import copy
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

import perpmargin as pm
from perpmargin import interop
from perpmargin.interop import CcxtFormatError

FIXTURES = Path(__file__).parent / "fixtures"
BUNDLE = FIXTURES / "binance-bundle.json"


@pytest.fixture
def bundle():
    return json.loads(BUNDLE.read_text())


def _import(doc, **kw):
    return interop.import_bundle(doc, **kw)


def test_import_builds_the_account(bundle):
    imp = _import(bundle)
    acct = imp.account
    assert imp.venue.id == "binance-usdm"  # from the file's ccxt exchange id
    assert imp.wallet_balance == D("10000")  # total 10,000 - (1,000 - 1,000) of uPnL
    btc, eth = acct.position("BTCUSDT"), acct.position("ETHUSDT")
    assert (btc.side, btc.margin_mode, btc.quantity, btc.isolated_margin) == (
        "long", "isolated", D("0.5"), D("3000"),
    )  # fmt: skip
    assert (eth.side, eth.margin_mode, eth.leverage, eth.mark_price) == (
        "short", "cross", D("20"), D("3100"),
    )  # fmt: skip
    assert acct.cross_wallet_balance == D("7000")
    assert acct.equity == D("10000")
    assert any("0 contracts" in n for n in imp.notes)
    assert acct.fees_paid == 0


def test_reconcile_against_binance_closed_form(bundle):
    imp = _import(bundle)
    rows = {(r.symbol, r.field): r for r in interop.reconcile(imp)}
    btc_lp = D(27000) / D("0.498")
    eth_lp = D(37000) / D("10.04")
    r = rows[("BTCUSDT", "liquidationPrice")]
    assert r.computed == D("54216.8")  # rounded down to the tick: liquidates when marked
    assert abs(r.reported - btc_lp) < D("1e-8")
    assert r.diff == r.reported - D("54216.8")
    assert r.status == "match"
    assert abs(r.ticks) < 1
    r = rows[("ETHUSDT", "liquidationPrice")]
    assert r.computed == D("3685.26")  # a short's price rounds up
    assert abs(r.reported - eth_lp) < D("1e-8")
    assert r.status == "match"
    assert rows[("BTCUSDT", "maintenanceMargin")].diff == 0  # 31,000 x 0.4 %
    assert rows[("ETHUSDT", "unrealizedPnl")].diff == 0


def test_reconcile_reports_a_known_difference(bundle):
    bundle["positions"][0]["liquidationPrice"] = 54300.0  # e.g. a stale or other-tier figure
    rows = {(r.symbol, r.field): r for r in interop.reconcile(_import(bundle))}
    r = rows[("BTCUSDT", "liquidationPrice")]
    assert r.status == "differs"
    assert r.diff == D("83.2")
    assert r.ticks == D("832")
    assert interop.largest_difference(list(rows.values())) == D("83.2") / D("54216.8")


def test_export_gives_back_the_imported_fields(bundle):
    imp = _import(bundle)
    out = {p["symbol"]: p for p in interop.positions_to_ccxt(imp.account)}
    for src in bundle["positions"][:2]:
        got = out[src["symbol"]]
        for key in ("side", "contracts", "contractSize", "entryPrice", "markPrice", "notional",
                    "leverage", "collateral", "unrealizedPnl", "marginMode", "hedged",
                    "maintenanceMargin", "initialMargin", "timestamp", "datetime"):  # fmt: skip
            assert got[key] == src[key], key
        tick = float(imp.venue.symbol(src["symbol"]).tick_size)
        assert abs(got["liquidationPrice"] - src["liquidationPrice"]) <= tick
    assert out["BTC/USDT:USDT"]["initialMargin"] == 3100.0  # notional / leverage at the mark
    assert out["BTC/USDT:USDT"]["positionMargin"] == 3000.0  # the isolated margin itself
    assert out["ETH/USDT:USDT"]["initialMargin"] == 1550.0
    assert out["ETH/USDT:USDT"]["positionMargin"] is None
    assert out["ETH/USDT:USDT"]["marginRatio"] == pytest.approx(124 / 6000)


@pytest.mark.parametrize("numbers", ["float", "str"])
def test_round_trip_export_import_is_exact(bundle, numbers):
    imp = _import(bundle)
    doc = {
        "positions": interop.positions_to_ccxt(imp.account, numbers=numbers),
        "balance": interop.balance_to_ccxt(imp.account, numbers=numbers),
    }
    doc = json.loads(json.dumps(doc))
    again = _import(doc, venue="binance-usdm")
    assert again.account.snapshot().legs == imp.account.snapshot().legs
    assert again.account.snapshot().marks == imp.account.snapshot().marks
    assert again.wallet_balance == imp.wallet_balance
    assert interop.positions_to_ccxt(again.account, numbers=numbers) == doc["positions"]


def _ccxt_tiers(venue, symbol, with_cum):
    rows = []
    for t in venue.symbol(symbol).tiers.tiers:
        row = {
            "tier": t.tier,
            "symbol": venue.symbol(symbol).ccxt_symbol,
            "currency": "USDT",
            "minNotional": float(t.lower),
            "maxNotional": None if t.upper is None else float(t.upper),
            "maintenanceMarginRate": float(t.maintenance_margin_rate),
            "maxLeverage": float(t.max_leverage),
            "info": {"bracket": str(t.tier)},
        }
        if with_cum:
            row["info"]["cum"] = str(t.maintenance_amount)
        rows.append(row)
    return rows


def test_tiers_without_cum_derive_binance_maintenance_amounts(bundle, binance):
    """Binance's cum is what continuity gives: deriving it reproduces the bundled table."""
    bundle["leverage_tiers"] = {"BTC/USDT:USDT": _ccxt_tiers(binance, "BTCUSDT", False)}
    imp = _import(bundle)
    assert imp.venue.symbol("BTCUSDT").tiers == binance.symbol("BTCUSDT").tiers
    assert imp.venue.symbol("BTCUSDT").tiers_source == "ccxt fetch_leverage_tiers"


def test_imported_tiers_replace_the_venue_file(bundle, binance):
    tiers = _ccxt_tiers(binance, "BTCUSDT", False)  # amounts derived by continuity
    tiers[0]["maintenanceMarginRate"] = 0.005  # a different table on the venue today
    bundle["leverage_tiers"] = {"BTC/USDT:USDT": tiers}
    imp = _import(bundle)
    btc = imp.account.position("BTCUSDT")
    assert btc.maintenance_margin == D("155")  # 31,000 x 0.5 %
    # 3,000 + 0.5 (P - 60,000) = 0.0025 P -> P = 27,000 / 0.4975, rounded down
    assert btc.liquidation_price == D("54271.3")
    rows = {(r.symbol, r.field): r for r in interop.reconcile(imp)}
    assert rows[("BTCUSDT", "maintenanceMargin")].status == "differs"


def test_markets_add_a_symbol_the_venue_file_lacks(bundle):
    bundle["markets"] = [
        {
            "id": "SOLUSDT", "symbol": "SOL/USDT:USDT", "base": "SOL", "quote": "USDT",
            "settle": "USDT", "type": "swap", "swap": True, "linear": True, "inverse": False,
            "contractSize": 1.0, "precision": {"amount": 1.0, "price": 0.01},
            "limits": {"amount": {"min": 1.0, "max": 100000.0}},
        },
        {"id": "BTCUSDT", "symbol": "BTC/USDT", "type": "spot", "swap": False},
    ]  # fmt: skip
    bundle["leverage_tiers"] = {
        "SOL/USDT:USDT": [
            {"tier": 1, "minNotional": 0, "maxNotional": 10000, "maintenanceMarginRate": 0.005,
             "maxLeverage": 75},
            {"tier": 2, "minNotional": 10000, "maxNotional": 100000,
             "maintenanceMarginRate": 0.01, "maxLeverage": 50},
        ]
    }  # fmt: skip
    bundle["positions"].append(
        {"symbol": "SOL/USDT:USDT", "side": "long", "contracts": 100.0, "contractSize": 1.0,
         "entryPrice": 150.0, "markPrice": 150.0, "leverage": 10.0, "marginMode": "cross",
         "unrealizedPnl": 0.0}
    )  # fmt: skip
    imp = _import(bundle)
    spec = imp.venue.symbol("SOL/USDT:USDT")
    assert (spec.symbol, spec.tick_size, spec.step_size) == ("SOLUSDT", D("0.01"), D("1"))
    t2 = spec.tiers.tiers[1]
    assert t2.maintenance_amount == D("50")  # 10,000 x (1 % - 0.5 %)
    sol = imp.account.position("SOLUSDT")
    assert sol.maintenance_margin == D("15000") * D("0.01") - 50


def test_contracts_times_contract_size_on_okx():
    doc = {
        "positions": [
            {"symbol": "BTC/USDT:USDT", "side": "short", "contracts": 50.0,
             "contractSize": 0.01, "entryPrice": 60000.0, "markPrice": 60000.0,
             "leverage": 10.0, "marginMode": "isolated", "collateral": 3000.0,
             "unrealizedPnl": 0.0}
        ],
        "wallet_balance": "5000",
    }  # fmt: skip
    imp = _import(doc, venue="okx-swap")
    pos = imp.account.position("BTC/USDT:USDT")
    assert pos.quantity == D("0.5")
    assert pos.isolated_margin == D("3000")
    out = interop.positions_to_ccxt(imp.account)[0]
    assert out["contracts"] == 50.0
    assert out["contractSize"] == 0.01


def test_hedged_positions_set_hedge_mode(bundle):
    long_leg = copy.deepcopy(bundle["positions"][1])
    long_leg.update(side="long", contracts=5.0, unrealizedPnl=500.0, hedged=True)
    bundle["positions"][1]["hedged"] = True
    bundle["positions"].append(long_leg)
    imp = _import(bundle)
    assert imp.account.position_mode == "hedge"
    assert imp.account.net_quantity("ETHUSDT") == D("-5")
    assert imp.wallet_balance == D("9500")  # 10,000 - (1,000 - 1,000 + 500)


def _set(doc, path, value):
    *head, last = path
    for key in head:
        doc = doc[key]
    if value is _DELETE:
        del doc[last]
    else:
        doc[last] = value


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "error", "message"),
    [
        (("positions", 0, "entryPrice"), _DELETE, CcxtFormatError, r"positions\[0\]\.entryPrice"),
        (("positions", 0, "entryPrice"), -5.0, CcxtFormatError, r"positions\[0\]\.entryPrice"),
        (
            ("positions", 1, "markPrice"),
            float("nan"),
            CcxtFormatError,
            r"positions\[1\]\.markPrice",
        ),
        (("positions", 0, "side"), "buy", CcxtFormatError, r"positions\[0\]\.side"),
        (("positions", 1, "marginMode"), None, CcxtFormatError, r"positions\[1\]\.marginMode"),
        (("positions", 0, "contracts"), "lots", CcxtFormatError, r"positions\[0\]\.contracts"),
        (("positions", 0, "contracts"), 0.0005, CcxtFormatError, r"positions\[0\].*step"),
        (
            ("positions", 0, "symbol"),
            "NOSUCH/USDT:USDT",
            pm.UnknownSymbol,
            r"positions\[0\]\.symbol",
        ),
        (("positions", 0, "hedged"), "yes", CcxtFormatError, r"positions\[0\]\.hedged"),
        (
            ("positions", 1, "unrealizedPnl"),
            _DELETE,
            CcxtFormatError,
            r"positions\[1\]\.unrealizedPnl",
        ),
        (("positions", 0, "collateral"), _DELETE, CcxtFormatError, r"positions\[0\].*isolated"),
        (("positions", 0, "info"), {}, CcxtFormatError, r"positions\[0\].*isolated"),
        (("balance", "USDT"), _DELETE, None, None),  # falls back to balance.total.USDT
        (("balance", "total"), _DELETE, None, None),
        (("balance",), 42, CcxtFormatError, "balance must be an object"),
        (("positions",), {"a": 1}, CcxtFormatError, "positions must be a list"),
        (("positions", 0, "leverage"), 500.0, pm.LeverageTooHigh, r"positions\[0\]"),
    ],
)
def test_bad_or_partial_ccxt_json_is_rejected_naming_the_field(bundle, path, value, error,
                                                               message):  # fmt: skip
    _set(bundle, path, value)
    if path[-1] == "collateral" or path[-1] == "info":
        bundle["positions"][0].pop("initialMargin")
        bundle["positions"][0]["info"] = {}
        if path[-1] == "info":
            bundle["positions"][0].pop("collateral")
    if error is None:
        assert _import(bundle).wallet_balance == D("10000")
        return
    with pytest.raises(error, match=message):
        _import(bundle)


def test_both_balance_readings_missing_names_the_field(bundle):
    del bundle["balance"]["USDT"]
    del bundle["balance"]["total"]
    with pytest.raises(CcxtFormatError, match=r"balance\.USDT\.total is missing"):
        _import(bundle)


def test_bad_tiers_and_markets_are_rejected(bundle, binance):
    bad = _ccxt_tiers(binance, "BTCUSDT", True)
    bad[1]["minNotional"] = 40000.0  # overlaps tier 1
    bundle["leverage_tiers"] = {"BTC/USDT:USDT": bad}
    with pytest.raises(CcxtFormatError, match=r"leverage_tiers\['BTC/USDT:USDT'\]"):
        _import(bundle)
    bundle["leverage_tiers"] = {"BTC/USDT:USDT": []}
    with pytest.raises(CcxtFormatError, match="non-empty"):
        _import(bundle)
    del bundle["leverage_tiers"]
    bundle["markets"] = [{"symbol": "BTC/USD:BTC", "type": "swap", "inverse": True}]
    with pytest.raises(CcxtFormatError, match="inverse"):
        _import(bundle)


def test_files_and_bundle_keys(tmp_path, bundle):
    (tmp_path / "pos.json").write_text(json.dumps(bundle["positions"]))
    (tmp_path / "bal.json").write_text(json.dumps(bundle["balance"]))
    imp = interop.account_from_ccxt(
        tmp_path / "pos.json", balance=tmp_path / "bal.json", venue="binance-usdm"
    )
    assert imp.wallet_balance == D("10000")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(CcxtFormatError, match="not valid JSON"):
        interop.load_ccxt_bundle(tmp_path / "broken.json")
    (tmp_path / "extra.json").write_text(json.dumps({**bundle, "apiKey": "x"}))
    with pytest.raises(CcxtFormatError, match="unknown key 'apiKey'"):
        interop.load_ccxt_bundle(tmp_path / "extra.json")
    with pytest.raises(pm.InvalidInput, match="venue"):
        interop.import_bundle({"positions": bundle["positions"], "balance": bundle["balance"]})
    with pytest.raises(pm.InvalidInput, match="no bundled venue"):
        interop.venue_for_exchange("kraken")


def test_mixed_settle_currencies_are_refused(bundle):
    bundle["markets"] = [
        {"id": "BTCUSDC", "symbol": "BTC/USDC:USDC", "base": "BTC", "quote": "USDC",
         "settle": "USDC", "type": "swap", "swap": True, "linear": True,
         "contractSize": 1.0, "precision": {"amount": 0.001, "price": 0.1}}
    ]  # fmt: skip
    bundle["leverage_tiers"] = {
        "BTC/USDC:USDC": [{"minNotional": 0, "maxNotional": None,
                           "maintenanceMarginRate": 0.004, "maxLeverage": 50}]
    }  # fmt: skip
    pos = copy.deepcopy(bundle["positions"][1])
    pos.update(symbol="BTC/USDC:USDC", contracts=0.1, entryPrice=60000.0, markPrice=60000.0)
    bundle["positions"].append(pos)
    with pytest.raises(pm.InvalidInput, match="USDC, USDT"):
        _import(bundle)


# ---------------------------------------------------------------- inverse (coin-margined)

COINM = FIXTURES / "binance-coinm-bundle.json"


@pytest.fixture
def coinm_bundle():
    return json.loads(COINM.read_text())


def test_a_real_coinm_position_is_imported_and_reconciles(coinm_bundle):
    """Binance's own figures for the position (see the fixture's comment): the liquidation
    price to within a tick, the uPnL and the isolated margin to the satoshi."""
    imp = _import(coinm_bundle)
    assert imp.venue.id.startswith("binance-coinm")  # chosen from BTC/USD:BTC
    assert imp.settle == "BTC"
    assert imp.account.settle == "BTC"
    view = imp.account.position("BTCUSD_PERP")
    assert view.quantity == 2  # contracts, not contracts x 100
    assert view.isolated_margin == D("0.00268058")
    assert view.unrealized_pnl.quantize(D("1e-8"), rounding="ROUND_DOWN") == D("0.00006413")
    rows = {r.field: r for r in interop.reconcile(imp)}
    liq = rows["liquidationPrice"]
    assert liq.status == "match"
    assert liq.computed == D("25119.9")  # a long's price rounded down to the 0.1 tick
    assert rows["unrealizedPnl"].status == "match"
    assert "maintenanceMargin" not in rows


def test_inverse_export_keeps_contracts_and_the_coin_notional(coinm_bundle):
    imp = _import(coinm_bundle)
    (out,) = interop.positions_to_ccxt(imp.account, numbers="str")
    src = coinm_bundle["positions"][0]
    assert D(out["contracts"]) == src["contracts"]
    assert D(out["contractSize"]) == src["contractSize"]
    # Binance prints notionalValue to 8 places (2 x 100 / mark = 0.0052489229...)
    assert D(out["notional"]).quantize(D("1e-8"), rounding="ROUND_DOWN") == D("0.00524892")
    assert interop.balance_to_ccxt(imp.account)["info"]["walletBalance"] == pytest.approx(0.01)
    assert "BTC" in interop.balance_to_ccxt(imp.account)
    doc = json.loads(json.dumps({"positions": [out], "wallet_balance": "0.01"}))
    again = _import(doc, venue="binance-coinm")
    assert again.account.snapshot().legs == imp.account.snapshot().legs


def test_an_inverse_market_is_read_as_one(coinm_bundle):
    """A COIN-M market added to a USDⓈ-M venue file becomes an inverse spec with steps in
    contracts; a market whose kind contradicts the venue file is refused."""
    market = coinm_bundle["markets"][0]
    tiers = {"BTC/USD:BTC": [{"minNotional": 0, "maxNotional": 5, "maintenanceMarginRate": 0.004,
                              "maxLeverage": 125}]}  # fmt: skip
    v = interop.venue_from_ccxt("binance-usdm", markets=[market], leverage_tiers=tiers)
    spec = v.symbol("BTC/USD:BTC")
    assert spec.contract == "inverse"
    assert spec.inverse_value == 100
    assert (spec.step_size, spec.min_quantity) == (1, 1)
    linear = dict(market, linear=True, inverse=False)
    with pytest.raises(CcxtFormatError, match="linear but binance-coinm lists"):
        interop.venue_from_ccxt("binance-coinm", markets=[linear])
    with pytest.raises(CcxtFormatError, match="both"):
        interop.venue_from_ccxt("binance-coinm", markets=[dict(market, linear=True)])
    no_size = {k: v for k, v in market.items() if k != "contractSize"}
    with pytest.raises(CcxtFormatError, match="contractSize"):
        interop.venue_from_ccxt("binance-usdm", markets=[no_size], leverage_tiers=tiers)


def test_bad_inverse_positions_are_refused(coinm_bundle):
    doc = copy.deepcopy(coinm_bundle)
    doc["positions"][0]["contractSize"] = 10
    with pytest.raises(CcxtFormatError, match="contractSize 10 differs"):
        _import(doc)
    doc = copy.deepcopy(coinm_bundle)
    doc["positions"][0]["contracts"] = 2.5
    with pytest.raises(CcxtFormatError, match="not a multiple"):
        _import(doc)
    with pytest.raises(pm.UnknownSymbol):  # the linear venue does not list it
        _import(coinm_bundle, venue="binance-usdm")
    assert interop.venue_for_exchange("bybit", ["BTC/USD:BTC"]) == "bybit-inverse"
    assert interop.venue_for_exchange("bybit", ["BTC/USD:BTC", "ETH/USDT:USDT"]) == "bybit-linear"
