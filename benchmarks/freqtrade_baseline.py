"""Freqtrade baseline: how fast freqtrade backtests one perp and computes liquidation prices.

This is a reference figure for perpmargin's own benchmarks, measured with freqtrade itself on
the same machine. It is run with a separate interpreter that has freqtrade installed and
does not import perpmargin (nor is it imported by the test suite):

    /tmp/ftvenv/bin/python benchmarks/freqtrade_baseline.py [--quick] [--days N]

What it measures (best of 3 repeats; 1 with ``--quick``):

1. ``backtest_bars_per_s``: freqtrade's backtesting engine
   (``freqtrade.optimize.backtesting.Backtesting``, driven in-process, configured through
   the same configuration path as ``freqtrade backtesting``) on BTC/USDT:USDT perpetual,
   1-minute candles, futures, isolated margin (``..._cross`` for cross margin), dry-run.
   The strategy enters long on the first candle (leverage 2, stoploss -0.99, no ROI exit),
   so one trade stays open over every bar. Only ``Backtesting.backtest()`` (the bar loop,
   its list preparation and result frame) is timed: ``backtest_seconds``. Loading the
   candles, mark and funding data (``load_seconds``), building the engine
   (``init_seconds``) and computing the signals (``signals_seconds``) are reported apart.
   Bars = 1-minute candles in the backtest range. The bundled day (1,440 bars) is short,
   so the same day is also tiled to ``--days`` days (default 30) as ``..._30d``.
2. ``isolated_liq_calls_per_s`` / ``cross_liq_calls_per_s``: Binance's liquidation price
   (``freqtrade.exchange.binance.Binance.dry_run_liquidation_price``, with the maintenance
   tier lookup it does on every call) in a tight single-thread loop: one BTC long
   (isolated), and the same long with a cross wallet and 9 other open positions (cross).
   ``liq_check`` gives the value for Binance's documented example (wallet 500 USDT, cross,
   long 0.02 BTC at 50,000, maintenance rate 0.4 %, amount 0: Binance says 25,100.40).

Nothing is downloaded and the exchange is never contacted: the Binance market for
BTC/USDT:USDT is static data in this file (freqtrade's market loader is replaced), the
leverage tiers are the file freqtrade ships (``binance_leverage_tiers.json``, which it
reads in dry-run), and every socket connect / DNS lookup raises (``network_attempts``
counts tries). The data are the bundled real Binance 1-minute bars of 2020-03-12, written
to a temporary user_data directory in freqtrade's feather format; the mark candles are the
trade candles resampled to 1 hour and the funding rates are the day's real 8-hourly rates.

One JSON line is printed last on stdout; freqtrade's logs (warnings only) go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import platform
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import numpy as np
    import pandas as pd
    from freqtrade import __version__ as freqtrade_version
    from freqtrade.commands.optimize_commands import setup_optimize_configuration
    from freqtrade.data.converter import trim_dataframes
    from freqtrade.data.history import get_datahandler, get_timerange
    from freqtrade.enums import CandleType, RunMode, TradingMode
    from freqtrade.exchange import Exchange
    from freqtrade.optimize.backtesting import Backtesting
    from freqtrade.persistence import LocalTrade
    from freqtrade.resolvers import ExchangeResolver
except ImportError as exc:  # pragma: no cover - wrong interpreter
    raise SystemExit(
        f"freqtrade is not importable ({exc}): run this with a Python that has freqtrade "
        "installed, e.g. /tmp/ftvenv/bin/python"
    ) from exc

MARKET_DIR = Path(__file__).resolve().parents[1] / "src" / "perpmargin" / "data" / "market"
BARS_CSV = MARKET_DIR / "binance-btcusdt-perp-1m-2020-03-12.csv"
FUNDING_CSV = MARKET_DIR / "binance-btcusdt-perp-funding-2020-03-12.csv"

PAIR = "BTC/USDT:USDT"
LEVERAGE = 2.0
STAKE_AMOUNT = 1000.0
WALLET = 10_000.0
STRATEGY = "BaselineHoldLong"

# Binance USDⓈ-M BTCUSDT perpetual as ccxt describes it (static: nothing is fetched).
MARKET: dict[str, Any] = {
    "id": "BTCUSDT",
    "symbol": PAIR,
    "base": "BTC",
    "quote": "USDT",
    "settle": "USDT",
    "baseId": "BTC",
    "quoteId": "USDT",
    "settleId": "USDT",
    "type": "swap",
    "spot": False,
    "margin": False,
    "swap": True,
    "future": False,
    "option": False,
    "active": True,
    "contract": True,
    "linear": True,
    "inverse": False,
    "subType": "linear",
    "taker": 0.0005,
    "maker": 0.0002,
    "contractSize": 1.0,
    "expiry": None,
    "expiryDatetime": None,
    "strike": None,
    "optionType": None,
    "precision": {"amount": 0.001, "price": 0.1, "cost": None, "base": None, "quote": None},
    "limits": {
        "leverage": {"min": 1.0, "max": 125.0},
        "amount": {"min": 0.001, "max": 1000.0},
        "price": {"min": 556.8, "max": 4529764.0},
        "cost": {"min": 100.0, "max": None},
        "market": {"min": 0.001, "max": 120.0},
    },
    "created": 1569398400000,
    "info": {"symbol": "BTCUSDT", "contractType": "PERPETUAL"},
}

# The other positions of the cross wallet: (pair, entry price), each 1,000 USDT notional.
OTHER_POSITIONS = (
    ("ETH/USDT:USDT", 3000.0),
    ("SOL/USDT:USDT", 150.0),
    ("XRP/USDT:USDT", 0.6),
    ("BNB/USDT:USDT", 600.0),
    ("DOGE/USDT:USDT", 0.15),
    ("ADA/USDT:USDT", 0.45),
    ("LTC/USDT:USDT", 80.0),
    ("LINK/USDT:USDT", 15.0),
    ("AVAX/USDT:USDT", 30.0),
)

STRATEGY_SOURCE = f'''
from pandas import DataFrame

from freqtrade.strategy import IStrategy


class {STRATEGY}(IStrategy):
    """Long on the first candle, then hold: no ROI exit, no exit signal, stoploss -99 %."""

    INTERFACE_VERSION = 3
    timeframe = "1m"
    can_short = False
    minimal_roi = {{"0": 100}}
    stoploss = -0.99
    use_exit_signal = False
    startup_candle_count = 0

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 0
        dataframe.loc[dataframe.index[0], "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe

    def leverage(self, pair, current_time, current_rate, proposed_leverage, max_leverage,
                 entry_tag, side, **kwargs) -> float:
        return {LEVERAGE}
'''

# Only warnings reach stderr; the collector keeps them for the JSON line.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "freqtrade %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "level": "WARNING",
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}


class WarningCollector(logging.Handler):
    """Keeps each distinct freqtrade warning once."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message not in self.messages:
            self.messages.append(message)


WARNINGS = WarningCollector()
NETWORK_ATTEMPTS: list[str] = []


def block_network() -> None:
    """Make every outbound connection and DNS lookup fail (and count the tries)."""

    def refuse(what: str) -> Callable[..., Any]:
        def _refuse(*args: Any, **kwargs: Any) -> Any:
            NETWORK_ATTEMPTS.append(what)
            raise OSError(f"network disabled by freqtrade_baseline ({what})")

        return _refuse

    socket.socket.connect = refuse("connect")  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse("connect_ex")  # type: ignore[method-assign]
    socket.getaddrinfo = refuse("getaddrinfo")
    socket.create_connection = refuse("create_connection")


def use_static_markets() -> None:
    """Replace freqtrade's market download with the static BTC/USDT:USDT market."""

    def load_static_markets(self: Exchange, reload: bool = False) -> None:
        self._api_async.set_markets([dict(MARKET)])

    Exchange._load_async_markets = load_static_markets  # type: ignore[method-assign]


def read_day() -> pd.DataFrame:
    """The bundled 1-minute bars as freqtrade candles (UTC dates)."""
    raw = pd.read_csv(BARS_CSV)
    bars = raw[["open", "high", "low", "close", "volume"]].astype(float)
    bars.insert(0, "date", pd.to_datetime(raw["timestamp"], unit="ms", utc=True))
    return bars.reset_index(drop=True)


def day_funding_rates(day_start: pd.Timestamp) -> pd.DataFrame:
    """The real funding rates settled on that day, on the hour (the archive adds ~1 ms)."""
    raw = pd.read_csv(FUNDING_CSV)
    dates = pd.to_datetime(raw["funding_time"], unit="ms", utc=True).dt.floor("h")
    keep = (dates >= day_start) & (dates < day_start + pd.Timedelta(days=1))
    return pd.DataFrame({"date": dates[keep], "funding_rate": raw["funding_rate"][keep]})


def mirror_tile(day: pd.DataFrame, copies: int) -> pd.DataFrame:
    """Repeat the day forwards, backwards, forwards...: contiguous minutes and prices."""
    backwards = day.iloc[::-1].reset_index(drop=True)
    backwards = backwards.rename(columns={"open": "close", "close": "open"})[day.columns]
    minutes = pd.to_timedelta(np.arange(len(day) * copies), unit="min")
    tiled = pd.concat([backwards if k % 2 else day for k in range(copies)], ignore_index=True)
    tiled["date"] = day["date"].iloc[0] + minutes
    return tiled


def tile_funding(rates: pd.DataFrame, day_start: pd.Timestamp, copies: int) -> pd.DataFrame:
    """The day's funding rates again at the same hours of every tiled day."""
    offsets = rates["date"] - day_start
    frames = [
        pd.DataFrame(
            {
                "date": day_start + pd.Timedelta(days=k) + offsets,
                "funding_rate": rates["funding_rate"],
            }
        )
        for k in range(copies)
    ]
    return pd.concat(frames, ignore_index=True)


def write_dataset(datadir: Path, bars: pd.DataFrame, funding: pd.DataFrame) -> None:
    """Futures candles, 1h mark candles and funding rates in freqtrade's feather layout."""
    (datadir / "futures").mkdir(parents=True)
    handler = get_datahandler(datadir, "feather")
    handler.ohlcv_store(PAIR, "1m", bars, CandleType.FUTURES)
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    mark = bars.set_index("date").resample("1h").agg(agg).reset_index()
    handler.ohlcv_store(PAIR, "1h", mark, CandleType.MARK)
    handler.ohlcv_store(PAIR, "1h", funding, CandleType.FUNDING_RATE)


def freqtrade_config(workdir: Path, datadir: Path, margin_mode: str) -> dict[str, Any]:
    """A backtest configuration, built the way `freqtrade backtesting -c file` builds it."""
    settings = {
        "max_open_trades": 1,
        "stake_currency": "USDT",
        "stake_amount": STAKE_AMOUNT,
        "dry_run_wallet": WALLET,
        "tradable_balance_ratio": 1.0,
        "timeframe": "1m",
        "dry_run": True,
        "trading_mode": "futures",
        "margin_mode": margin_mode,
        "exchange": {
            "name": "binance",
            "key": "",
            "secret": "",
            "pair_whitelist": [PAIR],
            "pair_blacklist": [],
        },
        "entry_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
        "exit_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
        "pairlists": [{"method": "StaticPairList"}],
        "dataformat_ohlcv": "feather",
        "export": "none",
        "backtest_cache": "none",
        "log_config": LOG_CONFIG,
    }
    path = workdir / f"config-{margin_mode}.json"
    path.write_text(json.dumps(settings, indent=2))
    args = {
        "config": [str(path)],
        "user_data_dir": str(workdir),
        "datadir": str(datadir),
        "strategy": STRATEGY,
        "strategy_path": str(workdir / "strategies"),
        "export": "none",
    }
    config = setup_optimize_configuration(args, RunMode.BACKTEST)
    # freqtrade re-installs its logging with each configuration; keep collecting warnings.
    logging.getLogger().addHandler(WARNINGS)
    return config


@contextlib.contextmanager
def stopwatch(out: dict[str, float], key: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    out[key] = time.perf_counter() - start


def time_backtest(workdir: Path, datadir: Path, margin_mode: str, repeats: int) -> dict[str, Any]:
    """Best-of-`repeats` timing of Backtesting.backtest() over the data in `datadir`."""
    config = freqtrade_config(workdir, datadir, margin_mode)
    once: dict[str, float] = {}
    with stopwatch(once, "init_seconds"):
        backtesting = Backtesting(config)
    with stopwatch(once, "load_seconds"):
        data, timerange = backtesting.load_bt_data()
    strategy = backtesting.strategylist[0]
    backtesting._set_strategy(strategy)

    best: dict[str, float] = {}
    for _ in range(repeats):
        run: dict[str, float] = {}
        with stopwatch(run, "signals_seconds"):
            processed = strategy.advise_all_indicators(data)
        trimmed = trim_dataframes(processed, timerange, backtesting.required_startup)
        start, end = get_timerange(trimmed)
        with stopwatch(run, "backtest_seconds"):
            result = backtesting.backtest(processed=processed, start_date=start, end_date=end)
        for key, seconds in run.items():
            best[key] = min(seconds, best.get(key, seconds))
    Backtesting.cleanup()

    bars = len(trimmed[PAIR])
    trades = result["results"]
    first = trades.iloc[0] if len(trades) else None
    return {
        "bars": bars,
        **{key: round(value, 4) for key, value in {**once, **best}.items()},
        "bars_per_s": round(bars / best["backtest_seconds"]),
        "trades": len(trades),
        "trade": None
        if first is None
        else {
            "open_date": str(first["open_date"]),
            "close_date": str(first["close_date"]),
            "exit_reason": first["exit_reason"],
            "leverage": float(first["leverage"]),
            "funding_fees": round(float(first["funding_fees"]), 4),
        },
    }


def calls_per_second(
    call: Callable[[], object], min_seconds: float, repeats: int
) -> dict[str, Any]:
    """Calls/s of `call` in a plain loop: enough calls for `min_seconds`, best of `repeats`."""
    calls = 20_000
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            call()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            break
        calls = int(calls * 1.2 * min_seconds / max(elapsed, 1e-3)) + 1
    for _ in range(repeats - 1):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        elapsed = min(elapsed, time.perf_counter() - start)
    return {"calls_per_s": round(calls / elapsed), "calls": calls, "seconds": round(elapsed, 4)}


def open_trade(pair: str, price: float, notional: float) -> LocalTrade:
    """An open long as freqtrade's backtester holds it (leverage 2)."""
    return LocalTrade(
        pair=pair,
        open_rate=price,
        amount=notional / price,
        stake_amount=notional / LEVERAGE,
        leverage=LEVERAGE,
        open_date=pd.Timestamp("2020-03-12", tz="UTC").to_pydatetime(),
        fee_open=0.0005,
        fee_close=0.0005,
        exchange="binance",
        is_short=False,
        is_open=True,
        trading_mode=TradingMode.FUTURES,
    )


def time_liquidation(
    workdir: Path, datadir: Path, min_seconds: float, repeats: int
) -> dict[str, Any]:
    """Binance.dry_run_liquidation_price: isolated and cross calls/s and the FAQ example."""
    exchanges = {
        mode: ExchangeResolver.load_exchange(
            freqtrade_config(workdir, datadir, mode), load_leverage_tiers=True
        )
        for mode in ("isolated", "cross")
    }
    btc = open_trade(PAIR, 7954.32, 2 * STAKE_AMOUNT)
    others = [open_trade(pair, price, 2 * STAKE_AMOUNT) for pair, price in OTHER_POSITIONS]
    position = {
        "pair": PAIR,
        "open_rate": btc.open_rate,
        "is_short": False,
        "amount": btc.amount,
        "stake_amount": btc.stake_amount,
        "leverage": LEVERAGE,
    }
    # As freqtrade's update_liquidation_prices calls it: isolated gets the trade's stake as
    # wallet; cross gets the wallet's collateral and every open trade (itself included).
    isolated = functools.partial(
        exchanges["isolated"].dry_run_liquidation_price,
        **position,
        wallet_balance=btc.stake_amount,
        open_trades=[],
    )
    cross = functools.partial(
        exchanges["cross"].dry_run_liquidation_price,
        **position,
        wallet_balance=WALLET,
        open_trades=[btc, *others],
    )

    # Binance's documented example; freqtrade picks the tier by stake (500), not notional.
    example = {
        "pair": PAIR,
        "open_rate": 50_000.0,
        "is_short": False,
        "amount": 0.02,
        "stake_amount": 500.0,
        "leverage": 2.0,
        "wallet_balance": 500.0,
    }
    mm_rate, mm_amount = exchanges["cross"].get_maintenance_ratio_and_amt(PAIR, 500.0)
    check = {
        "input": "wallet 500 USDT, cross, long 0.02 BTC at 50000, no other positions",
        "maintenance_rate_used": mm_rate,
        "maintenance_amount_used": mm_amount,
        "dry_run_liquidation_price": round(
            exchanges["cross"].dry_run_liquidation_price(**example, open_trades=[]), 2
        ),
        "get_liquidation_price_with_5pct_buffer": round(
            exchanges["cross"].get_liquidation_price(**example, open_trades=[]), 2
        ),
        "binance_faq": 25100.40,
        "isolated_value_btc_case": round(isolated(), 2),
        "cross_value_btc_case": round(cross(), 2),
        "cross_value_note": "below 0 = never liquidated: freqtrade's cross formula puts the "
        "whole wallet behind this long (other positions add only their maintenance and uPnL)",
    }
    result = {
        "isolated": calls_per_second(isolated, min_seconds, repeats),
        "cross": calls_per_second(cross, min_seconds, repeats),
        "check": check,
    }
    for exchange in exchanges.values():
        exchange.close()
    return result


def prepare(workdir: Path, days: int) -> dict[str, Path]:
    """Write the strategy and the 1-day and tiled datasets; return their data dirs."""
    (workdir / "strategies").mkdir()
    (workdir / "strategies" / "baseline_hold_long.py").write_text(STRATEGY_SOURCE)
    day = read_day()
    day_start = day["date"].iloc[0]
    funding = day_funding_rates(day_start)
    dirs = {"1d": workdir / "data-1d", "tiled": workdir / "data-tiled"}
    write_dataset(dirs["1d"], day, funding)
    write_dataset(dirs["tiled"], mirror_tile(day, days), tile_funding(funding, day_start, days))
    return dirs


def measure(workdir: Path, days: int, repeats: int, liq_seconds: float) -> dict[str, Any]:
    dirs = prepare(workdir, days)
    runs = {
        f"{name}_{mode}": time_backtest(workdir, datadir, mode, repeats)
        for name, datadir in dirs.items()
        for mode in ("isolated", "cross")
    }
    liq = time_liquidation(workdir, dirs["1d"], liq_seconds, repeats)
    day, tiled = runs["1d_isolated"], runs["tiled_isolated"]
    return {
        "backtest_bars_per_s": day["bars_per_s"],
        "backtest_bars_per_s_cross": runs["1d_cross"]["bars_per_s"],
        "backtest_bars": day["bars"],
        "backtest_seconds": day["backtest_seconds"],
        "load_seconds": day["load_seconds"],
        "backtest_bars_per_s_30d": tiled["bars_per_s"],
        "backtest_bars_per_s_30d_cross": runs["tiled_cross"]["bars_per_s"],
        "backtest_bars_30d": tiled["bars"],
        "backtest_seconds_30d": tiled["backtest_seconds"],
        "load_seconds_30d": tiled["load_seconds"],
        "backtest_runs": runs,
        "isolated_liq_calls_per_s": liq["isolated"]["calls_per_s"],
        "cross_liq_calls_per_s": liq["cross"]["calls_per_s"],
        "cross_other_positions": len(OTHER_POSITIONS),
        "liq_timing": {"isolated": liq["isolated"], "cross": liq["cross"]},
        "liq_check": liq["check"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat, shorter loops")
    parser.add_argument("--days", type=int, default=30, help="days in the tiled run")
    options = parser.parse_args()
    repeats = 1 if options.quick else 3
    liq_seconds = 0.3 if options.quick else 1.0

    block_network()
    use_static_markets()
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="ft-baseline-") as tmp,
        contextlib.redirect_stdout(sys.stderr),
    ):
        figures = measure(Path(tmp), options.days, repeats, liq_seconds)

    report = {
        "freqtrade_version": freqtrade_version,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "quick": options.quick,
        "repeats": repeats,
        "backtest_how": (
            "in-process: Backtesting(config) with the config built by freqtrade's "
            "setup_optimize_configuration; timed Backtesting.backtest() only, best of repeats"
        ),
        "data": (
            "bundled Binance BTCUSDT perp 1m bars 2020-03-12 (1440) in feather; mark = trade "
            "candles resampled to 1h; funding = the day's real 8h rates; 30d = the day tiled "
            f"{options.days}x, alternately reversed in time so prices and minutes are contiguous"
        ),
        "strategy": "long on first candle, leverage 2, stoploss -0.99, minimal_roi {'0': 100}",
        **figures,
        "liq_function": "freqtrade.exchange.binance.Binance.dry_run_liquidation_price",
        "offline": "static BTC/USDT:USDT market (Exchange._load_async_markets replaced); "
        "leverage tiers from freqtrade's bundled binance_leverage_tiers.json",
        "network_attempts": len(NETWORK_ATTEMPTS),
        "freqtrade_warnings": WARNINGS.messages,
        "total_seconds": round(time.perf_counter() - started, 2),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
