"""Random books of positions on every bundled venue, built by the exact engine.

Deterministic (a seeded numpy generator per venue), so the parity matrix draws the same
books in every checkout; ``make fuzz`` runs the hypothesis tests with fresh seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from functools import cache

import numpy as np

import perpmargin as pm

SIZE_SCALED = sorted(
    v
    for v in pm.bundled_venues()
    if any(pm.load_venue(v).symbol(s).tiers.size_scaled for s in pm.load_venue(v).featured)
)
"""Venues whose margin rates grow with the position's size (Deribit): the fast paths
refuse them (tests/parity/test_refusals.py), so they are not in the matrix."""

VENUES = sorted(set(pm.bundled_venues()) - set(SIZE_SCALED))
"""Every other bundled venue: linear (USDT, USDC) and inverse (Binance COIN-M, Bybit
inverse)."""

REFERENCE = {"BTC": 60000, "ETH": 3000, "SOL": 150, "XRP": Decimal("0.6")}


@dataclass(frozen=True)
class LegSpec:
    symbol: str
    side: str
    quantity: Decimal
    entry: Decimal
    leverage: Decimal
    mark: Decimal
    margin: Decimal  # isolated margin: value at entry / leverage


@dataclass(frozen=True)
class Book:
    venue: pm.Venue
    legs: tuple[LegSpec, ...]
    wallet: Decimal  # wallet balance (cross wallet + isolated margins) in the settle asset

    @property
    def marks(self) -> dict[str, Decimal]:
        return {leg.symbol: leg.mark for leg in self.legs}

    def account(self, mode: str) -> pm.Account:
        """The book with every leg ``mode`` ("isolated" or "cross"), at its marks."""
        acct = pm.Account(self.venue, self.wallet)
        for leg in self.legs:
            acct.restore_position(
                leg.symbol,
                leg.side,
                leg.quantity,
                leg.entry,
                margin_mode=mode,
                leverage=leg.leverage,
                isolated_margin=leg.margin if mode == "isolated" else None,
                mark_price=leg.mark,
            )
        return acct


def _round(x: float, step: Decimal, minimum: Decimal) -> Decimal:
    d = (Decimal(repr(x)) / step).to_integral_value(rounding=ROUND_DOWN) * step
    return max(d, minimum)


def _book(venue: pm.Venue, rng: np.random.Generator, spread: float) -> Book:
    symbols = sorted(venue.featured)
    n = int(rng.integers(1, min(3, len(symbols)) + 1))
    chosen = [symbols[i] for i in sorted(rng.choice(len(symbols), n, replace=False))]
    legs = []
    settle = venue.settle_precision
    for s in chosen:
        spec = venue.symbol(s)
        ref = float(REFERENCE[spec.base])
        entry = _round(ref * rng.uniform(0.8, 1.2), spec.tick_size, spec.tick_size)
        usd = float(rng.choice([300.0, 3_000.0, 30_000.0, 300_000.0])) * rng.uniform(0.5, 2)
        if spec.inverse_value is not None:
            qty = _round(usd / float(spec.contract_value), spec.step_size, spec.min_quantity)
            value = qty * spec.contract_value / entry
        else:
            qty = _round(usd / float(entry), spec.step_size, spec.min_quantity)
            value = qty * entry
        top = min(int(spec.tiers.max_leverage_for(qty, value)), 50)
        lev = Decimal(int(rng.integers(1, top + 1)))
        mark = _round(float(entry) * rng.uniform(1 - spread, 1 + spread), spec.tick_size,
                      spec.tick_size)  # fmt: skip
        margin = max((value / lev).quantize(settle, rounding="ROUND_UP"), settle)
        side = "long" if rng.random() < 0.5 else "short"
        legs.append(LegSpec(spec.symbol, side, qty, entry, lev, mark, margin))
    margins = sum((leg.margin for leg in legs), Decimal(0))
    wallet = (margins * Decimal(repr(rng.uniform(1.0, 3.0)))).quantize(settle)
    return Book(venue, tuple(legs), wallet)


@cache
def books(venue_id: str, count: int = 16, spread: float = 0.15, seed: int = 7) -> tuple[Book, ...]:
    """``count`` books on ``venue_id``: 1 to 3 legs of random sides and sizes (300 to
    600,000 USD), leverage up to the tier's maximum (50 at most), marks within
    ``spread`` of the entries (some books are past liquidation there, most are not)."""
    venue = pm.load_venue(venue_id)
    rng = np.random.default_rng([seed, VENUES.index(venue_id)])
    return tuple(_book(venue, rng, spread) for _ in range(count))
