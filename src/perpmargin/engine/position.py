"""Position state (internal, immutable) and the public read-only view."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

__all__ = ["Leg", "PositionSide", "PositionView"]

PositionSide = Literal["long", "short"]


@dataclass(frozen=True, slots=True)
class Leg:
    """One open position leg: quantity > 0 in base units, entry in the settle asset.

    ``isolated_margin`` is the margin allocated to an isolated leg (0 for cross).
    """

    symbol: str
    side: PositionSide
    quantity: Decimal
    entry_price: Decimal
    margin_mode: Literal["isolated", "cross"]
    leverage: Decimal
    isolated_margin: Decimal

    @property
    def sign(self) -> int:
        """+1 for a long, -1 for a short."""
        return 1 if self.side == "long" else -1


@dataclass(frozen=True, slots=True)
class PositionView:
    """What a venue's position panel shows, at the current mark.

    Money in the settle asset; ``unrealized_pnl`` + is a gain; ``margin_ratio`` is
    maintenance requirement / margin balance (isolated: of this position; cross: of
    the whole cross account) and liquidation happens at >= 1.
    """

    symbol: str
    ccxt_symbol: str
    side: PositionSide
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal
    notional: Decimal
    unrealized_pnl: Decimal
    margin_mode: Literal["isolated", "cross"]
    leverage: Decimal
    isolated_margin: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    maintenance_margin_rate: Decimal
    tier: int
    margin_ratio: Decimal
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    close_fee_reserve: Decimal = Decimal(0)
    """The estimated fee to close held in the initial margin where the venue holds it
    (Bybit; part of ``isolated_margin`` for an isolated leg), else 0."""
