"""Resting orders: limit, stop-market and take-profit-market, optionally reduce-only.

Trigger rules (``price`` is the mark or the last price, as the order's ``trigger_by``
says; without a last price the mark is used):

=====================  =====================  ==================================
type                   buy fills when         fill price
=====================  =====================  ==================================
limit                  price <= limit         the limit price (maker)
stop_market            price >= stop          max(stop, price): a gap fills worse
take_profit_market     price <= stop          the stop price (taker)
=====================  =====================  ==================================

Sells mirror buys. A triggered order fills in full; if the fill is refused (a
reduce-only order with nothing to reduce, not enough margin) it is cancelled with the
reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

__all__ = ["Order", "OrderSide", "OrderType", "TriggerBy"]

OrderSide = Literal["buy", "sell"]
OrderType = Literal["limit", "stop_market", "take_profit_market"]
TriggerBy = Literal["mark", "last"]


@dataclass(frozen=True, slots=True)
class Order:
    """A resting order. Quantity in base units; prices in the settle asset."""

    order_id: int
    symbol: str
    side: OrderSide
    type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    trigger_by: TriggerBy = "last"
    position_side: Literal["long", "short"] | None = None

    def check(self, price: Decimal) -> tuple[Decimal, Literal["maker", "taker"]] | None:
        """Return (fill price, liquidity) if ``price`` triggers this order, else None."""
        buy = self.side == "buy"
        if self.type == "limit":
            assert self.price is not None
            hit = price <= self.price if buy else price >= self.price
            return (self.price, "maker") if hit else None
        assert self.stop_price is not None
        stop = self.stop_price
        if self.type == "stop_market":
            hit = price >= stop if buy else price <= stop
            fill = max(stop, price) if buy else min(stop, price)
            return (fill, "taker") if hit else None
        hit = price <= stop if buy else price >= stop
        return (stop, "taker") if hit else None
