"""Dated (delivery) futures: Binance's quarterly BTCUSDT and ETHUSDT contracts of 2026.

Tiers: freqtrade/freqtrade freqtrade/exchange/binance_leverage_tiers.json at 2832c6b8
(2026-03-05), ccxt's fetch_leverage_tiers() of Binance /fapi/v1/leverageBracket: the
quarterly BTCUSDT_260327 starts at 1 % MMR / 50x up to 50,000 USDT, then 2 % (cum 500)
to 375,000. A dated future pays no funding and is delivered at its expiry.
"""

from decimal import Decimal as D

import pytest

import perpmargin as pm
from perpmargin.engine.unified import UnifiedAccount
from perpmargin.errors import InvalidInput, NoPosition

Q = "BTCUSDT_260327"


@pytest.fixture(scope="module")
def binance():
    return pm.load_venue("binance-usdm")


def test_the_quarterly_contracts_load_with_their_expiry(binance):
    spec = binance.symbol("BTC/USDT:USDT-260327")
    assert spec.symbol == Q
    assert spec.expiry == "2026-03-27T08:00:00Z"
    assert spec.expiry_ms == 1774598400000
    assert spec.dated
    assert not binance.symbol("BTCUSDT").dated
    assert Q not in binance.featured  # the perpetuals lead the pickers
    t = spec.tiers.tier_for(D(1), D(100000))
    assert (t.maintenance_margin_rate, t.maintenance_amount) == (D("0.02"), D(500))
    # MM at 100,000 notional: 2 % - 500 = 1,500 (continuous with 1 % at 50,000)
    assert spec.tiers.maintenance_margin(D(1), D(100000)) == D(1500)


def test_a_dated_future_pays_no_funding_and_is_delivered(binance):
    march_1 = 1772323200000  # 2026-03-01T00:00:00Z
    acct = pm.Account(binance, "10000", time=march_1)
    acct.set_margin_mode(Q, "cross")
    acct.open(Q, "long", "0.1", "90000")
    wallet = acct.wallet_balance
    with pytest.raises(InvalidInput, match="pays no funding"):
        acct.settle_funding(Q, "0.0001")
    assert acct.wallet_balance == wallet
    events = acct.deliver(Q, "91000", time=binance.symbol(Q).expiry_ms)
    assert acct.position(Q) is None
    assert acct.wallet_balance == wallet + 100  # 0.1 x (91,000 - 90,000), no fee
    assert events
    with pytest.raises(NoPosition):
        acct.deliver(Q, "91000")
    with pytest.raises(InvalidInput, match="delivered"):
        acct.open(Q, "long", "0.1", "91000")  # its expiry has passed
    with pytest.raises(InvalidInput, match="perpetual"):
        acct.deliver("BTCUSDT", "91000")


def test_a_calendar_spread_in_a_unified_account():
    """Long the perpetual, short the quarterly: Binance PM sums both legs' bracket
    maintenance (it does not net a calendar spread); at delivery the short is closed at
    the delivery price and only the perpetual is left."""
    acct = UnifiedAccount("binance-pm", {"USDT": "20000"},
                          {"USDT": "1", "BTC": "90000"})  # fmt: skip
    acct.open("BTCUSDT", "long", "1", "90000")
    acct.open(Q, "short", "1", "90500")
    r = acct.reading()
    mm = {p.symbol: p.maintenance_usd for p in r.positions}
    assert mm[Q] == D("90500") * D("0.02") - D("500")  # bracket 2, marked at its fill
    assert r.maintenance == sum(mm.values())
    with pytest.raises(InvalidInput, match="pays no funding"):
        acct.settle_funding(Q, "0.0001")
    before = acct.balances["USDT"]
    acct.deliver(Q, "91000")
    assert acct.balances["USDT"] == before - 500  # short 1 from 90,500, delivered at 91,000
    assert [s for s, *_ in acct.positions()] == ["BTCUSDT"]


def _plan(tmp_path, start_ms, funding=False):
    from perpmargin.sim.plan import load_plans

    rows = ["timestamp,open,high,low,close,volume"]
    for k in range(8):  # 15-minute bars
        rows.append(f"{start_ms + k * 900_000},90000,90100,89900,90000,1")
    (tmp_path / "q.csv").write_text("\n".join(rows) + "\n")
    extra = ""
    if funding:
        (tmp_path / "f.csv").write_text(f"funding_time,funding_rate\n{start_ms + 900_000},0.0001\n")
        extra = '\n[funding]\nBTCUSDT_260327 = "f.csv"\n'
    (tmp_path / "p.toml").write_text(f"""
name = "quarterly"
venue = "binance-usdm"
balance = 10000
modes = ["isolated", "cross"]
[bars]
BTCUSDT_260327 = "q.csv"
{extra}
[[positions]]
symbol = "BTCUSDT_260327"
side = "long"
leverage = 5
size = {{ margin = 1000 }}
""")
    return load_plans(str(tmp_path / "p.toml"))[0]


def test_a_replay_of_a_dated_future_stops_short_of_its_delivery(tmp_path):
    from perpmargin.errors import NotModelled
    from perpmargin.sim.portfolio import replay_portfolio
    from perpmargin.sim.replay import replay

    expiry = pm.load_venue("binance-usdm").symbol(Q).expiry_ms
    before = _plan(tmp_path, expiry - 8 * 900_000)  # the last two hours before it
    result = replay(before)
    assert result.runs["cross"].outcome.final_equity > 0
    run = replay_portfolio(before, "binance-pm", market=result.market)
    assert run.final.equity == result.runs["cross"].outcome.final_equity
    past = _plan(tmp_path, expiry - 4 * 900_000)
    for call in (lambda: replay(past), lambda: replay_portfolio(past, "binance-pm")):
        with pytest.raises(NotModelled, match="delivered at 2026-03-27T08:00:00Z"):
            call()
    with pytest.raises(InvalidInput, match="pays no funding"):
        replay(_plan(tmp_path, expiry - 8 * 900_000, funding=True))


def test_a_bad_expiry_is_refused_on_load():
    import json
    from importlib import resources

    from perpmargin.errors import VenueDataError
    from perpmargin.venues.loader import parse_venue

    doc = json.loads(
        (resources.files("perpmargin.venues") / "data" / "binance-usdm.json").read_text()
    )
    doc.pop("tier_snapshot", None)
    quarterly = doc.pop("dated_futures")[Q]
    for bad in ({"expiry": "2026-03-27"}, {"expiry": "2026-03-27T08:00:00+02:00"},
                {"expiry_source": ""}):  # fmt: skip
        sym = {**quarterly, **bad}
        with pytest.raises(VenueDataError, match="expiry"):
            parse_venue({**doc, "symbols": {Q: sym}}, "test")
    assert parse_venue({**doc, "symbols": {Q: quarterly}}, "test").symbol(Q).dated
