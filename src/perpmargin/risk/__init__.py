"""Risk tools over the exact engine: stateless liquidation prices and the pre-trade check."""

from perpmargin.risk.liq_price import OtherPosition, bankruptcy_price, liquidation_price
from perpmargin.risk.pretrade import CheckItem, ModeCheck, TradeCheck, VenueCheck, check_trade

__all__ = [
    "CheckItem",
    "ModeCheck",
    "OtherPosition",
    "TradeCheck",
    "VenueCheck",
    "bankruptcy_price",
    "check_trade",
    "liquidation_price",
]
