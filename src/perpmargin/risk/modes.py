"""Isolated, cross and portfolio margin side by side, for one book and the same money.

Given a unified account (:class:`perpmargin.engine.unified.UnifiedAccount`: its assets,
their prices and haircuts, its positions), each position's liquidation price under

- **isolated**: the position alone with its initial margin at ``leverage`` (the rest of
  the money does not back it), from the exact calculator;
- **cross**: the venue's single-asset cross margin: only the wallet of the position's
  settle asset backs it, shared with the other positions settling there (other assets
  do not count, as in a classic cross account);
- **portfolio** (unified): every asset at its haircut backs every position; the price is
  the mark moved by the nearest adverse move of the position's underlying that
  liquidates the whole account (:meth:`UnifiedAccount.liquidation_moves`), which moves
  collateral held in that underlying too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from perpmargin import formulas as F
from perpmargin.engine import math as pmath
from perpmargin.engine.unified import PositionReading, UnifiedAccount, UnifiedReading
from perpmargin.errors import PerpMarginError
from perpmargin.numeric import ZERO, Number, engine_context, round_to_step, to_decimal
from perpmargin.risk.liq_price import liquidation_price
from perpmargin.venues.schema import Venue

__all__ = ["ModeComparison", "PositionModes", "compare_modes", "comparison_dict"]


@dataclass(frozen=True)
class PositionModes:
    """One position's liquidation price under each mode (None: no price liquidates it,
    or the moves scanned do not reach one); money in the settle asset."""

    symbol: str
    side: str
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal
    settle: str
    isolated_margin: Decimal
    isolated_liquidation: Decimal | None
    cross_wallet: Decimal
    cross_liquidation: Decimal | None
    portfolio_move: Decimal | None
    portfolio_liquidation: Decimal | None


@dataclass(frozen=True)
class ModeComparison:
    """Every position under the three modes, the unified reading and its surface."""

    positions: tuple[PositionModes, ...]
    unified: UnifiedReading
    surface: Mapping[str, tuple[Decimal | None, Decimal | None]]
    leverage: Decimal
    notes: tuple[str, ...]


def _cross(
    account: UnifiedAccount, reading: UnifiedReading, me: PositionReading, venue: Venue
) -> tuple[Decimal, Decimal | None]:
    """The settle asset's wallet and the position's cross liquidation price on it, the
    other positions settling there held at their marks."""
    wallet = account.balances.get(me.settle, ZERO)
    others = [
        {"symbol": p.symbol, "side": p.side, "entry_price": p.entry_price,
         "quantity": p.quantity, "mark_price": p.mark_price}
        for p in reading.positions
        if p.symbol != me.symbol and p.settle == me.settle and p.symbol in venue.symbols
    ]  # fmt: skip
    if wallet <= 0:
        return wallet, me.mark_price  # nothing backs it: liquidated now
    price = liquidation_price(
        venue, "cross", me.side, me.entry_price, me.quantity, wallet,
        mark_price=me.mark_price, other_positions=others, symbol=me.symbol,
    )  # fmt: skip
    return wallet, price


def compare_modes(account: UnifiedAccount, *, leverage: Number = 10) -> ModeComparison:
    """Each position of ``account`` under isolated (initial margin at ``leverage``),
    cross (its settle asset's wallet) and portfolio margin (the whole account)."""
    lev = to_decimal(leverage, "leverage", positive=True)
    surface = account.liquidation_moves()
    reading = account.reading()
    out = []
    for p in reading.positions:
        venue = account.venue_of(p.symbol)
        spec = venue.symbol(p.symbol)
        with engine_context():
            value = pmath.position_value(p.quantity, p.entry_price, spec.inverse_value)
            margin = F.initial_margin(value, lev)
        try:
            iso = liquidation_price(venue, "isolated", p.side, p.entry_price, p.quantity, margin,
                                    mark_price=p.mark_price, symbol=p.symbol)  # fmt: skip
        except PerpMarginError:
            iso = None
        wallet, cross = _cross(account, reading, p, venue)
        base = spec.base
        down, up = surface.get(base, (None, None))
        move = down if p.side == "long" else up
        portfolio = None
        if move is not None:  # rounded to the tick so that marking at it liquidates
            direction: Literal["up", "down"] = "down" if p.side == "long" else "up"
            portfolio = round_to_step(p.mark_price * (1 + move), spec.tick_size, direction)
        out.append(PositionModes(
            p.symbol, p.side, p.quantity, p.entry_price, p.mark_price, p.settle, margin, iso,
            wallet, cross, move, portfolio,
        ))  # fmt: skip
    notes = (
        f"isolated: each position alone with its initial margin at {lev}x; the rest of "
        "the money does not back it",
        "cross: only the wallet of the position's settle asset backs it (a classic cross "
        "account counts no other asset)",
        f"portfolio ({account.rules.name}): every asset at its haircut backs every "
        "position; the price is the mark moved by the nearest adverse move of the "
        "underlying that liquidates the account, collateral held in it moving too",
    )
    return ModeComparison(tuple(out), reading, surface, lev, notes)


def comparison_dict(result: ModeComparison, notes: tuple[str, ...] = ()) -> dict[str, object]:
    """``result`` as JSON-ready values (Decimals as strings), as the CLI and the web app
    answer it; ``notes`` go first (how the account was read)."""
    reading = result.unified

    def text(value: object) -> str | None:
        return None if value is None else str(value)

    return {
        "rules": reading.rules,
        "ratio_name": reading.ratio_name,
        "ratio": text(reading.ratio),
        "liquidated": reading.liquidated,
        "trigger": reading.trigger,
        "words": reading.words(),
        "equity_usd": str(reading.equity),
        "adjusted_equity_usd": str(reading.adjusted_equity),
        "maintenance_usd": str(reading.maintenance),
        "leverage": str(result.leverage),
        "assets": [{k: text(v) for k, v in vars(a).items()} for a in reading.assets],
        "surface": {b: [text(m) for m in moves] for b, moves in result.surface.items()},
        "positions": [{k: text(v) for k, v in vars(p).items()} for p in result.positions],
        "risk_units": [{k: text(v) for k, v in vars(u).items()} for u in reading.units],
        "notes": [*notes, *result.notes, *reading.notes],
    }
