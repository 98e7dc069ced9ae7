"""Venue rule data: loader, schema and the bundled, versioned venue files."""

from perpmargin.venues.loader import bundled_venues, load_venue, parse_tiers, venue_summary
from perpmargin.venues.schema import (
    LiquidationRules,
    SymbolSpec,
    Tier,
    TierTable,
    Venue,
    VenueRules,
)

__all__ = [
    "LiquidationRules",
    "SymbolSpec",
    "Tier",
    "TierTable",
    "Venue",
    "VenueRules",
    "bundled_venues",
    "load_venue",
    "parse_tiers",
    "venue_summary",
]
