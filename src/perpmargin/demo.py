"""``make demo``: the seed's worked example on the real 2020-03-12 crash, both modes.

Drives the exact engine through Binance USDⓈ-M BTCUSDT (and ETHUSDT) perpetual bars of
12-13 March 2020, bundled in ``perpmargin/data/market`` (see its SOURCES.md). The bars
are last-trade prices, not mark prices: Binance's mark was smoother, so liquidations here
come a little earlier and deeper than on the exchange. Each bar is walked open -> adverse
extreme -> favourable extreme -> close (the conservative order for the position held).
Funding is settled at the real funding times with the real rates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from rich.console import Console
from rich.table import Table

from perpmargin.engine.account import Account
from perpmargin.events import FundingSettled, Liquidation
from perpmargin.sim import data
from perpmargin.venues import load_venue

__all__ = ["main", "run_scenario"]

Bar = tuple[int, Decimal, Decimal, Decimal, Decimal]


def load_bars(name: str) -> list[Bar]:
    """Bundled bars, validated (:func:`perpmargin.sim.load_bars`), as exact Decimals."""
    frame = data.load_bars(name).frame
    return [
        (int(t), _dec(o), _dec(h), _dec(lo), _dec(c))
        for t, o, h, lo, c in frame[["timestamp", "open", "high", "low", "close"]].itertuples(
            index=False
        )
    ]


def load_funding(name: str) -> list[tuple[int, Decimal]]:
    """Bundled funding settlements: (funding time ms, rate per interval)."""
    frame = data.load_funding(name).frame
    return [(int(t), _dec(r)) for t, r in frame.itertuples(index=False)]


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))  # the shortest repr is the file's decimal text


@dataclass(frozen=True)
class Leg:
    """One position of a scenario: margin (settle asset) at a leverage."""

    symbol: str
    side: Literal["long", "short"]
    margin: Decimal
    leverage: int


@dataclass
class Outcome:
    """What one mode did over the replay (money in USDT)."""

    mode: str
    liquidations: list[str]
    min_equity: Decimal
    final_equity: Decimal
    fees: Decimal
    funding: Decimal
    insurance_fund: Decimal


def _path(bar: Bar, long_exposure: bool) -> list[Decimal]:
    _, o, h, lo, c = bar
    return [o, lo, h, c] if long_exposure else [o, h, lo, c]


def run_scenario(
    legs: list[Leg],
    bars: dict[str, list[Bar]],
    funding: dict[str, list[tuple[int, Decimal]]],
    mode: Literal["isolated", "cross"],
    balance: Decimal = Decimal(10000),
) -> Outcome:
    """Open ``legs`` at the first bar's open and replay every bar under ``mode``."""
    venue = load_venue("binance-usdm")
    acct = Account(venue, balance=balance, time=bars[legs[0].symbol][0][0])
    first = {s: b[0][1] for s, b in bars.items()}
    for leg in legs:
        spec = venue.symbol(leg.symbol)
        acct.set_margin_mode(leg.symbol, mode)
        acct.set_leverage(leg.symbol, leg.leverage)
        qty = (leg.margin * leg.leverage / first[leg.symbol]).quantize(spec.step_size)
        acct.open(leg.symbol, leg.side, qty, first[leg.symbol])
    long_exposure = legs[0].side == "long"
    symbols = sorted(bars)
    n = len(bars[symbols[0]])
    pending = {s: list(funding.get(s, [])) for s in symbols}
    min_equity = acct.equity
    for i in range(n):
        t = bars[symbols[0]][i][0]
        paths = {
            s: _path(bars[s][i], long_exposure if s == legs[0].symbol else not long_exposure)
            for s in symbols
        }
        rates = {}
        for s in symbols:
            while pending[s] and pending[s][0][0] <= t:
                rates[s] = pending[s].pop(0)[1]
        for step in range(4):
            marks = {s: paths[s][step] for s in symbols}
            acct.mark(marks, time=t, funding_rates=rates if step == 0 else None)
            min_equity = min(min_equity, acct.equity)
    liqs = [
        f"{e.symbol} {e.position_side} @ {e.mark_price} ({_hhmm(e.time)})"
        for e in acct.ledger
        if isinstance(e, Liquidation)
    ]
    funding_paid = sum((e.amount for e in acct.ledger if isinstance(e, FundingSettled)), Decimal(0))
    return Outcome(
        mode=mode,
        liquidations=liqs,
        min_equity=min_equity,
        final_equity=acct.equity,
        fees=acct.fees_paid,
        funding=funding_paid,
        insurance_fund=acct.insurance_fund_net,
    )


def _hhmm(ms: int | None) -> str:
    if ms is None:
        return "?"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%m-%d %H:%M")


SCENARIOS: list[tuple[str, list[Leg], str]] = [
    (
        "Seed example: BTC long 10x, $500 margin",
        [Leg("BTCUSDT", "long", Decimal(500), 10)],
        "1m",
    ),
    (
        "BTC long 10x, $5,000 margin (half the account)",
        [Leg("BTCUSDT", "long", Decimal(5000), 10)],
        "1m",
    ),
    (
        "BTC long 10x $3,000 + ETH short 10x $1,000",
        [Leg("BTCUSDT", "long", Decimal(3000), 10), Leg("ETHUSDT", "short", Decimal(1000), 10)],
        "15m",
    ),
]


def main() -> None:
    """Print the side-by-side table for the bundled scenarios."""
    console = Console(width=170) if not Console().is_terminal else Console()
    funding = {
        "BTCUSDT": load_funding("binance-btcusdt-perp-funding-2020-03-12.csv"),
        "ETHUSDT": load_funding("binance-ethusdt-perp-funding-2020-03-12.csv"),
    }
    data = {
        "1m": {"BTCUSDT": load_bars("binance-btcusdt-perp-1m-2020-03-12.csv")},
        "15m": {
            "BTCUSDT": load_bars("binance-btcusdt-perp-15m-2020-03-12.csv"),
            "ETHUSDT": load_bars("binance-ethusdt-perp-15m-2020-03-12.csv"),
        },
    }
    table = Table(
        title="$10,000 account on Binance USDⓈ-M, 2020-03-12 crash (real bars): isolated vs cross",
        show_lines=True,
    )
    for col in (
        "scenario",
        "mode",
        "liquidated",
        "lowest equity",
        "final equity",
        "fees",
        "funding paid",
        "to insurance fund",
    ):
        table.add_column(
            col, justify="left" if col in ("scenario", "mode", "liquidated") else "right"
        )
    for title, legs, res in SCENARIOS:
        bars = {leg.symbol: data[res][leg.symbol] for leg in legs}
        modes: tuple[Literal["isolated", "cross"], ...] = ("isolated", "cross")
        for mode in modes:
            out = run_scenario(legs, bars, funding, mode)
            table.add_row(
                f"{title}\n({res} bars)" if mode == "isolated" else "",
                mode,
                "\n".join(out.liquidations) or "no",
                f"{out.min_equity:,.2f}",
                f"{out.final_equity:,.2f}",
                f"{out.fees:,.2f}",
                f"{out.funding:,.2f}",
                f"{out.insurance_fund:,.2f}",
            )
    console.print(table)
    console.print(
        "Isolated caps the loss at the position's margin; cross survives deeper falls by "
        "drawing on the whole balance, and when it goes, it takes every cross position.\n"
        "Prices are last-trade bars (no mark-price series is bundled); each bar is walked "
        "open, adverse extreme, favourable extreme, close. Data: Binance USDⓈ-M archive "
        "(perpmargin/data/market/SOURCES.md).\nThe ETH short's isolated liquidation at "
        "323.00 is a one-off last-trade print in Binance's own archive (03-13 02:30): a venue "
        "liquidating on its smoother mark price would not have fired there."
    )


if __name__ == "__main__":
    main()
