"""Quiet stretches of the exact replay: runs of bars in which nothing can happen, read at once.

The replay (:mod:`perpmargin.sim.replay`) walks every bar through the Decimal engine:
four marks a bar (open, first extreme, second extreme, close), each checked for
liquidation and triggers. Most bars of most plans change nothing but the marks. A
stretch of bars is *quiet* when, from the account's state at its start,

- no planned entry, funding time or counterparty falls inside it;
- no resting order, stop, take-profit or price trigger lies inside the hull of the
  current price and the stretch's lows and highs (on the series it watches: last or mark);
- the account does not liquidate at the stretch's adverse corner: every symbol at its
  worst mark of the stretch (a long's lowest low, a short's highest high). A pool's
  equity minus requirement is, per symbol, linear PnL minus a convex tiered requirement
  whose slope is below the PnL's (rates < 1), so it is lowest at that corner; the engine
  itself (:meth:`Account.liquidates_at`) answers the corner.

Over a quiet stretch the engine's state (wallet, positions, margins, orders) cannot
change, so instead of marking it at every point the replay reads the numbers it records
from the engine's own functions, probed: for linear contracts the engine's equity
(:meth:`Account.equity_at`) is affine in each mark, and each pool's requirement and
balance (:meth:`Account.pool_readings`) are affine while the marks stay inside one tier
(checked on the stretch: a convex requirement that meets its chord at the midpoint is
that chord; the probed lines are checked at both corners too). Evaluated in exact integers
at the data's decimal scale, they give every point's equity, each bar's low, margin
ratio (the rule :func:`perpmargin.formulas.margin_ratio`, here always requirement /
balance: a quiet pool has balance above its requirement) and the run's drawdown, the
same numbers to the last bit as the walk (``tests/sim/test_quiet.py`` replays every
bundled scenario and random plans both ways). The engine is then marked once at the
stretch's end (twice where a symbol's previous mark, which Hyperliquid's
auto-deleveraging prices at, must be the walk's).

A leg of a cross pool of several symbols is charted with its liquidation price at every
bar's close, the other legs held there: the others shift the pool by an exact amount a
bar, and near the root the pool is a line in the leg's own price read from the engine,
so each bar's root is the quotient of the same exact numbers the engine divides (checked
against the engine's own solve at the stretch's end and at its two extreme bars).

Not read at once (the walk goes on bar by bar): plans with counterparties, hedge mode,
inverse contracts (their PnL is not affine in the mark), Bybit's cross pools of several
symbols (each leg's fee to close is valued at a bankruptcy price the other legs move),
margin triggers on a ratio, and stretches whose checks fail.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from perpmargin.numeric import engine_context
from perpmargin.sim.market import OHLC, MarketData

__all__ = [
    "Probe",
    "ScaledBars",
    "exact_floats",
    "make_probe",
    "places_of",
    "prepend",
    "scaled_bars",
    "scaled_on_floats",
    "to_decimal",
]

_INT_LIMIT = 2**62
"""Largest magnitude kept in int64 arrays; larger numbers use Python integers."""

_CACHE: dict[int, dict[str, ScaledBars]] = {}


@dataclass(frozen=True)
class ScaledBars:
    """One symbol's bars as exact integers: ``price x 10**places``.

    ``trade`` and ``mark`` have shape (bars, 4): open, high, low, close (int64, or Python
    integers in an object array when a price needs more than 62 bits).
    """

    places: int
    trade: np.ndarray
    mark: np.ndarray

    def to_int(self, price: Decimal) -> int | None:
        """``price`` at this scale, or None when it has more decimals than the bars."""
        scaled = price.scaleb(self.places)
        return int(scaled) if scaled == scaled.to_integral_value() else None


def places_of(value: Decimal) -> int:
    """Decimal places of ``value`` (0 for an integer)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def to_decimal(scaled: int | np.integer[Any], places: int) -> Decimal:
    """The exact Decimal of an integer at scale ``10**places``."""
    return Decimal(int(scaled)).scaleb(-places)


def _array(rows: Sequence[Sequence[int]]) -> np.ndarray:
    flat = [abs(x) for row in rows for x in row]
    if flat and max(flat) >= _INT_LIMIT:
        out = np.empty((len(rows), 4), dtype=object)
        out[:] = [list(r) for r in rows]
        return out
    return np.array(rows, dtype=np.int64).reshape(len(rows), 4)


def scaled_bars(market: MarketData, symbol: str) -> ScaledBars:
    """``symbol``'s trade and mark bars as exact integers (cached while ``market`` lives)."""
    cache = _CACHE.get(id(market))
    if cache is None:
        cache = _CACHE[id(market)] = {}
        weakref.finalize(market, _CACHE.pop, id(market), None)
    found = cache.get(symbol)
    if found is None:
        trade, mark = market.trade[symbol], market.mark[symbol]
        scaled_trade = scaled_on_floats(trade)
        if scaled_trade is not None and mark is not trade:
            scaled_mark = scaled_on_floats(mark, scaled_trade[0])
            if scaled_mark is not None and scaled_mark[0] != scaled_trade[0]:
                scaled_trade = scaled_on_floats(trade, scaled_mark[0])
        else:
            scaled_mark = scaled_trade
        if scaled_trade is None or scaled_mark is None:
            found = _scaled_exactly(trade, mark)
        else:
            found = ScaledBars(scaled_trade[0], scaled_trade[1], scaled_mark[1])
        cache[symbol] = found
    return found


def scaled_on_floats(bars: Sequence[OHLC], places: int = 0) -> tuple[int, np.ndarray] | None:
    """Bars as integers at the fewest decimal places (at least ``places``) that hold every
    price exactly, found on the float64 values; None when that cannot be proven so.

    Each price is the shortest decimal text of a float64 (:mod:`perpmargin.sim.market`).
    ``n / 10**k`` rounding back to the same float for every price proves ``n`` exact when
    ``10**-k`` exceeds twice the float spacing at the largest price (no two k-place
    decimals round to one float there).
    """
    values = np.array([[float(p) for p in bar] for bar in bars], dtype=np.float64)
    if values.size == 0 or not np.isfinite(values).all():
        return None
    top = float(np.max(np.abs(values)))
    for k in range(places, 16):
        scale = 10.0**k
        if 10.0**-k <= 2 * np.spacing(top) or top * scale >= 2**53:
            return None
        ints = np.rint(values * scale)
        if np.array_equal(ints / scale, values):
            return k, ints.astype(np.int64)
    return None


def _scaled_exactly(trade: Sequence[OHLC], mark: Sequence[OHLC]) -> ScaledBars:
    """The Decimal way (any number of digits; slower)."""
    places = max(places_of(p) for bars in (trade, mark) for bar in bars for p in bar)

    def scale(bars: Sequence[OHLC]) -> np.ndarray:
        return _array([[int(p.scaleb(places)) for p in bar] for bar in bars])

    scaled_trade = scale(trade)
    return ScaledBars(places, scaled_trade, scaled_trade if mark is trade else scale(mark))


def prepend(value: int, values: np.ndarray) -> np.ndarray:
    """``[value, *values]``, exact: Python integers when ``value`` does not fit int64."""
    if values.dtype != object and abs(value) >= _INT_LIMIT:
        values = values.astype(object)
    head = np.array([value], dtype=values.dtype)
    return np.concatenate([head, values])


def exact_floats(numerator: np.ndarray, denominator: np.ndarray | int) -> np.ndarray:
    """``numerator / denominator`` of exact integers, each correctly rounded to float64
    (as ``float(Decimal(n) / Decimal(d))`` is for a quotient exact to 50 digits).

    int64 inputs below 2**53 divide in float64 (exact operands, one rounding); larger ones
    divide as Python integers (``int / int`` is correctly rounded).
    """
    num = np.asarray(numerator)
    den = np.asarray(denominator)
    limit = 2**53
    small = (
        num.dtype != object
        and den.dtype != object
        and (num.size == 0 or int(np.max(np.abs(num))) < limit)
        and (den.size == 0 or int(np.max(np.abs(den))) < limit)
    )
    if small:
        return num.astype(np.float64) / den.astype(np.float64)
    pairs = np.broadcast_arrays(num.astype(object), den.astype(object))
    return np.array(
        [int(n) / int(d) for n, d in zip(pairs[0].ravel(), pairs[1].ravel(), strict=True)],
        dtype=np.float64,
    ).reshape(pairs[0].shape)


@dataclass(frozen=True)
class Probe:
    """An affine reading in exact integers: ``value x 10**places = base + sum(slope_s x
    (P_s - P0_s))`` where ``P_s`` is symbol s's price at its bars' scale and ``P0_s`` the
    price the probe started from."""

    places: int
    base: int
    start: Mapping[str, int]
    slopes: Mapping[str, int]

    def at(self, prices: Mapping[str, np.ndarray]) -> np.ndarray:
        """The reading at every point of ``prices`` (symbol -> scaled prices), exact
        (Python integers where int64 could overflow)."""
        first = next(iter(prices.values()))
        moves = {s: prices[s] - self.start[s] for s, slope in self.slopes.items() if slope}
        bound = abs(self.base) + sum(
            abs(self.slopes[s]) * (int(np.max(np.abs(m))) if m.size else 0)
            for s, m in moves.items()
        )
        exact = bound >= _INT_LIMIT or any(m.dtype == object for m in moves.values())
        total: np.ndarray = np.full(first.shape, self.base, dtype=object if exact else np.int64)
        for s, move in moves.items():
            total = total + (move.astype(object) if exact else move) * self.slopes[s]
        return total

    def value_at(self, prices: Mapping[str, Decimal], scales: Mapping[str, int]) -> Decimal:
        """The reading at one point (symbol -> price, any Decimal), exactly."""
        with engine_context():
            total = to_decimal(self.base, self.places)
            for s, slope in self.slopes.items():
                move = prices[s].scaleb(scales[s]) - self.start[s]
                total += to_decimal(slope, self.places) * move
            return total


def make_probe(
    base: Decimal,
    start: Mapping[str, int],
    steps: Mapping[str, Decimal],
    places: int = 0,
) -> Probe:
    """A :class:`Probe` from a reading at the start point and its change for one price
    unit of each symbol (``steps``: reading(start + one unit of s) - reading(start)), at
    ``places`` decimals or more if the numbers need them."""
    places = max([places_of(base), places, *(places_of(d) for d in steps.values())])
    return Probe(
        places,
        int(base.scaleb(places)),
        dict(start),
        {s: int(d.scaleb(places)) for s, d in steps.items()},
    )
