"""A plan's market data: its bars (and mark bars, and funding) aligned, as exact Decimals.

:func:`load_market` loads the files a plan names (or the ones given instead), checks them
(:mod:`perpmargin.sim.data`), keeps the plan's ``start``..``end`` window and turns every
price and funding rate into the Decimal of its shortest float text, which is what the
exact replay (:mod:`perpmargin.sim.replay`) walks. Funding rates are placed in the bar
whose time span holds their settlement time; rates outside the window are counted, not
kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from perpmargin.errors import InvalidInput, NotModelled
from perpmargin.sim.data import Bars, DataError, Funding, align, load_bars, load_funding
from perpmargin.sim.plan import Plan
from perpmargin.venues.schema import Venue

__all__ = ["OHLC", "MarketData", "check_dated", "load_market"]

OHLC = tuple[Decimal, Decimal, Decimal, Decimal]
"""One bar's (open, high, low, close), exact."""


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))  # the shortest repr is the file's decimal text


@dataclass(frozen=True)
class MarketData:
    """Aligned bars for every symbol of a plan, as exact Decimals.

    ``trade[s][i]`` and ``mark[s][i]`` are (open, high, low, close) of bar ``i``;
    ``funding[i]`` maps symbol to the rate settled inside bar ``i``. ``mark_source[s]``
    is ``"mark bars"`` or ``"trade bars"`` (trade bars standing in for the mark).
    """

    times: np.ndarray
    step_ms: int
    trade: Mapping[str, list[OHLC]]
    mark: Mapping[str, list[OHLC]]
    funding: Mapping[int, Mapping[str, Decimal]]
    mark_source: Mapping[str, str]
    sources: Mapping[str, str]
    funding_outside: int = 0

    def __len__(self) -> int:
        return len(self.times)


def _ohlc(bars: Bars, keep: np.ndarray) -> list[OHLC]:
    frame = bars.frame.loc[keep, ["open", "high", "low", "close"]]
    return [(_dec(o), _dec(h), _dec(lo), _dec(c)) for o, h, lo, c in frame.to_numpy()]


def _path(ref: object) -> str | Path:
    if isinstance(ref, str | Path):
        return ref
    raise DataError(f"not a file name or path: {ref!r}")


def _window(plan: Plan, times: np.ndarray) -> np.ndarray:
    keep = np.ones(len(times), dtype=bool)
    if plan.start is not None:
        keep &= times >= plan.start
    if plan.end is not None:
        keep &= times <= plan.end
    return keep


def load_market(
    plan: Plan,
    *,
    bars: Mapping[str, str | Path | Bars] | None = None,
    funding: Mapping[str, str | Path | Funding] | None = None,
    marks: Mapping[str, str | Path | Bars] | None = None,
) -> MarketData:
    """Load, validate and align the plan's data (``bars``/``funding``/``marks`` override
    the plan's files per symbol).

    Raises
    ------
    DataError
        A malformed file (see :mod:`perpmargin.sim.data`), symbols whose timestamps
        differ, mark bars not matching trade bars, or a window with fewer than 2 bars.
    """
    overrides = {"bars": bars or {}, "funding": funding or {}, "marks": marks or {}}
    for table, given in overrides.items():
        unknown = set(given) - set(plan.bars)
        if unknown:
            raise DataError(f"--data/{table} for symbols the plan does not use: {unknown}")
    sources: dict[str, str] = {}

    def _bars(table: str, symbol: str, ref: Any) -> Bars:
        loaded = ref if isinstance(ref, Bars) else load_bars(ref)
        sources[f"{table}:{symbol}"] = loaded.source
        return loaded

    trade = {s: _bars("bars", s, overrides["bars"].get(s, plan.bars[s])) for s in plan.symbols}
    align(trade)
    first = trade[plan.symbols[0]]
    times = first.frame["timestamp"].to_numpy()
    keep = _window(plan, times)
    if keep.sum() < 2:
        raise DataError(
            f"{plan.name}: the window start..end leaves {int(keep.sum())} bar(s) of "
            f"{first.source}; need at least 2"
        )
    mark_bars: dict[str, Bars] = {}
    for s in plan.symbols:
        ref = overrides["marks"].get(s, plan.marks.get(s))
        if ref is not None:
            mark_bars[s] = _bars("marks", s, ref)
            align({s: trade[s], f"{s} (mark)": mark_bars[s]})
    rates: dict[int, dict[str, Decimal]] = {}
    outside = 0
    kept_times = times[keep]
    t0, step = int(kept_times[0]), first.step_ms
    for s in plan.symbols:
        ref = overrides["funding"].get(s, plan.funding.get(s))
        if ref is None:
            continue
        loaded = ref if isinstance(ref, Funding) else load_funding(_path(ref))
        sources[f"funding:{s}"] = loaded.source
        for ft, rate in loaded.frame.itertuples(index=False):
            i = (int(ft) - t0) // step
            if 0 <= i < len(kept_times):
                rates.setdefault(int(i), {})[s] = _dec(rate)
            else:
                outside += 1
    trade_ohlc = {s: _ohlc(trade[s], keep) for s in plan.symbols}
    return MarketData(
        times=kept_times.astype("int64"),
        step_ms=step,
        trade=trade_ohlc,
        mark={s: _ohlc(mark_bars[s], keep) if s in mark_bars else trade_ohlc[s] for s in trade},
        funding=rates,
        mark_source={s: "mark bars" if s in mark_bars else "trade bars" for s in trade},
        sources=sources,
        funding_outside=outside,
    )


def check_dated(market: MarketData, venue: Venue, symbols: Sequence[str]) -> None:
    """Refuse bars a dated future cannot have: past its delivery (the replay does not
    deliver: give bars up to it), or funding (it pays none)."""
    for name in symbols:
        spec = venue.symbol(name)
        expiry = spec.expiry_ms
        if expiry is None:
            continue
        if len(market) and int(market.times[-1]) >= expiry:
            raise NotModelled(
                f"{spec.symbol} is delivered at {spec.expiry} and the bars run past it: the "
                "replay does not deliver (pm.Account.deliver does); give bars up to it"
            )
        if market.funding and any(spec.symbol in f for f in market.funding.values()):
            raise InvalidInput(f"{spec.symbol} is a dated future: it pays no funding")
