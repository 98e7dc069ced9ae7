"""Typed, immutable ledger events.

Every state change of an :class:`~perpmargin.engine.account.Account` appends one or
more events. Each event carries the money it moved, so folding the ledger
(:func:`perpmargin.engine.ledger.replay`) rebuilds the account's state exactly.

Money fields are Decimal in the settle asset. Sign conventions:

- ``cross_wallet_delta`` / ``isolated_margin_delta``: change of that balance (+ in).
- ``fee``: paid by the trader (+ is a cost) and collected by the venue.
- ``realized_pnl``: + is a gain for the trader; the counterparty books the opposite.
- ``funding`` amount: + is paid by the trader (longs pay when the rate is positive).
- ``insurance_fund_delta``: change of the insurance fund (+ into the fund).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from perpmargin.engine.position import PositionSide
from perpmargin.numeric import ZERO

__all__ = [
    "AccountOpened",
    "Event",
    "Fill",
    "FundingSettled",
    "InsuranceFundTransfer",
    "LeverageChanged",
    "Liquidation",
    "MarginChanged",
    "MarginModeChanged",
    "MarksUpdated",
    "OrderCancelled",
    "OrderPlaced",
    "PartialLiquidation",
    "PositionModeChanged",
    "PositionRestored",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Common fields: sequence number in the ledger and event time (ms since epoch)."""

    seq: int
    time: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountOpened(Event):
    """The account was created with ``balance`` in its cross wallet."""

    venue: str
    venue_version: str
    balance: Decimal
    position_mode: str
    margin_mode_default: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionModeChanged(Event):
    """One-way or hedge mode, account-wide."""

    mode: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginModeChanged(Event):
    """Margin mode of ``symbol`` set to ``mode`` (isolated or cross)."""

    symbol: str
    mode: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LeverageChanged(Event):
    """Leverage of ``symbol``; a margin top-up it forced moves money from the cross wallet."""

    symbol: str
    leverage: Decimal
    position_side: PositionSide | None = None
    isolated_margin_delta: Decimal = ZERO
    cross_wallet_delta: Decimal = ZERO


@dataclass(frozen=True, slots=True, kw_only=True)
class MarksUpdated(Event):
    """New mark prices (and last prices used for last-price triggers)."""

    marks: Mapping[str, Decimal]
    last: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill(Event):
    """A trade on one position leg.

    ``quantity_after`` and ``entry_price_after`` describe the leg after the fill
    (quantity 0 when it closed). ``order_side`` is buy or sell.
    """

    symbol: str
    position_side: PositionSide
    order_side: Literal["buy", "sell"]
    quantity: Decimal
    price: Decimal
    liquidity: Literal["maker", "taker", "adl", "delivery"]
    fee: Decimal
    realized_pnl: Decimal
    cross_wallet_delta: Decimal
    isolated_margin_delta: Decimal
    quantity_after: Decimal
    entry_price_after: Decimal
    margin_mode: str
    leverage: Decimal
    order_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionRestored(Event):
    """A position that already exists elsewhere (imported from a venue) put on the books.

    No trade and no fee: the leg appears with its entry price, mode, leverage and, when
    isolated, the margin moved out of the cross wallet (``cross_wallet_delta`` =
    -``isolated_margin``). ``mark_price`` becomes the symbol's mark.
    """

    symbol: str
    position_side: PositionSide
    quantity: Decimal
    entry_price: Decimal
    margin_mode: str
    leverage: Decimal
    isolated_margin: Decimal
    cross_wallet_delta: Decimal
    mark_price: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingSettled(Event):
    """Funding on one leg: ``amount`` = side x qty x mark x rate, + paid by the trader."""

    symbol: str
    position_side: PositionSide
    rate: Decimal
    mark_price: Decimal
    amount: Decimal
    cross_wallet_delta: Decimal
    isolated_margin_delta: Decimal
    insurance_fund_delta: Decimal = ZERO


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginChanged(Event):
    """Isolated margin added (+) or removed (-) by hand."""

    symbol: str
    position_side: PositionSide
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Liquidation(Event):
    """One leg taken over by the liquidation engine.

    The leg is closed at the trigger mark (``realized_pnl``); the trader's collateral for
    it is then worth ``margin_mode`` collateral + PnL, from which ``liquidation_fee``
    goes to the insurance fund. ``bankruptcy_price`` is where that collateral is zero.
    """

    symbol: str
    position_side: PositionSide
    margin_mode: str
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal
    bankruptcy_price: Decimal | None
    realized_pnl: Decimal
    liquidation_fee: Decimal
    cross_wallet_delta: Decimal
    isolated_margin_delta: Decimal
    insurance_fund_delta: Decimal
    process: Literal["full", "backstop"] = "full"
    deleveraged: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class PartialLiquidation(Event):
    """Part of a leg closed by the venue's liquidation process at the mark.

    ``quantity`` is closed, ``quantity_after`` is left (> 0). The close is an order in
    the book, so it pays the taker ``fee`` (no clearance fee: that is charged when the
    engine takes a position over); the realised PnL less the fee stays in the pool (the
    isolated margin, or the cross wallet). ``reason``: ``"tier"`` (down to a lower risk
    tier) or ``"fraction"`` (a fixed share, Hyperliquid / dYdX).
    """

    symbol: str
    position_side: PositionSide
    margin_mode: str
    quantity: Decimal
    quantity_after: Decimal
    mark_price: Decimal
    realized_pnl: Decimal
    fee: Decimal
    cross_wallet_delta: Decimal
    isolated_margin_delta: Decimal
    reason: Literal["tier", "fraction"]


@dataclass(frozen=True, slots=True, kw_only=True)
class InsuranceFundTransfer(Event):
    """Remaining margin into the fund (+), or a deficit the fund covers (-)."""

    reason: Literal["remaining_margin", "deficit"]
    amount: Decimal
    cross_wallet_delta: Decimal
    symbol: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPlaced(Event):
    """A resting order (see :class:`perpmargin.engine.orders.Order`)."""

    order_id: int
    symbol: str
    order_side: Literal["buy", "sell"]
    order_type: str
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    reduce_only: bool
    trigger_by: str
    position_side: PositionSide | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCancelled(Event):
    """An order left the book without (or after a partial) fill; ``reason`` says why."""

    order_id: int
    reason: str
