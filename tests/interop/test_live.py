"""The live path with a stand-in ccxt module: keys from the environment only, never
echoed; only read calls; the fetched bundle imports like a saved file."""

import json
import logging
import sys
import types
from pathlib import Path
from typing import ClassVar

import pytest

import perpmargin as pm
from perpmargin import interop
from perpmargin.interop import LiveImportError

KEY, SECRET = "AKIA-test-key-123", "s3cr3t-value-xyz"
BUNDLE = json.loads((Path(__file__).parent / "fixtures" / "binance-bundle.json").read_text())


class FakeExchange:
    calls: ClassVar[list[str]] = []
    fail = False

    def __init__(self, config):
        self.config = config
        self.has = {"fetchLeverageTiers": True}

    def __getattr__(self, name):  # any method not listed here is a write: record and refuse
        FakeExchange.calls.append(name)
        raise AssertionError(f"unexpected call {name}")

    def load_markets(self):
        FakeExchange.calls.append("load_markets")
        return {
            "BTC/USDT:USDT": {"symbol": "BTC/USDT:USDT", "swap": True, "type": "swap"},
            "BTC/USDT": {"symbol": "BTC/USDT", "swap": False, "type": "spot"},
        }

    def fetch_positions(self, symbols=None):
        FakeExchange.calls.append("fetch_positions")
        if FakeExchange.fail:
            raise RuntimeError(f"binanceusdm 401 invalid key {self.config['apiKey']}")
        return BUNDLE["positions"]

    def fetch_balance(self):
        FakeExchange.calls.append("fetch_balance")
        return BUNDLE["balance"]

    def fetch_leverage_tiers(self, symbols=None):
        FakeExchange.calls.append("fetch_leverage_tiers")
        return None


@pytest.fixture
def fake_ccxt(monkeypatch):
    mod = types.ModuleType("ccxt")
    mod.binanceusdm = FakeExchange
    monkeypatch.setitem(sys.modules, "ccxt", mod)
    FakeExchange.calls = []
    FakeExchange.fail = False
    monkeypatch.setenv("PERPMARGIN_API_KEY", KEY)
    monkeypatch.setenv("PERPMARGIN_API_SECRET", SECRET)
    return mod


def test_fetches_read_only_and_imports(fake_ccxt, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    doc = interop.fetch_bundle("binanceusdm")
    assert FakeExchange.calls == [
        "load_markets", "fetch_positions", "fetch_balance", "fetch_leverage_tiers",
    ]  # fmt: skip
    text = json.dumps(doc)
    assert KEY not in text
    assert SECRET not in text
    assert [m["symbol"] for m in doc["markets"]] == ["BTC/USDT:USDT"]  # swaps only
    imp = interop.import_bundle({k: v for k, v in doc.items() if k != "markets"})
    assert imp.venue.id == "binance-usdm"
    assert len(imp.account.positions()) == 2
    out = capsys.readouterr()
    assert KEY not in out.out + out.err + caplog.text
    assert SECRET not in out.out + out.err + caplog.text


def test_errors_never_echo_a_key(fake_ccxt):
    FakeExchange.fail = True
    with pytest.raises(LiveImportError) as info:
        interop.fetch_bundle("binanceusdm")
    assert KEY not in str(info.value)
    assert "***" in str(info.value)


def test_keys_only_from_the_environment(fake_ccxt, monkeypatch):
    monkeypatch.delenv("PERPMARGIN_API_SECRET")
    with pytest.raises(LiveImportError, match="PERPMARGIN_API_SECRET"):
        interop.fetch_bundle("binanceusdm")
    assert FakeExchange.calls == []
    with pytest.raises(pm.InvalidInput, match="no exchange"):
        interop.fetch_bundle("nosuchexchange")


def test_missing_ccxt_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ccxt", None)
    with pytest.raises(LiveImportError, match=r"perpmargin\[live\]"):
        interop.fetch_bundle("binanceusdm")
