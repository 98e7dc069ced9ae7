"""Typed errors. Every failed call leaves the account exactly as it was.

Tree::

    PerpMarginError
    ├── InvalidInput (also ValueError)       a value is malformed: NaN, inf, <= 0, off-grid, ...
    │   ├── UnknownSymbol (also KeyError)     a symbol the venue does not list
    │   ├── UnknownVenue                      a venue name or file that cannot be found
    │   ├── VenueDataError                    a venue file that fails validation
    │   └── NotModelled                       a fast path asked for what it does not model
    ├── LeverageTooHigh                       leverage above the tier's maximum for the notional
    ├── PositionTooLarge                      notional or quantity beyond the venue's largest tier
    ├── ModeSwitchError                       a mode switch the venue refuses
    ├── LeverageChangeError                   a leverage change refused with a position open
    ├── InsufficientMargin                    not enough available balance for margin and fees
    ├── MarginRemovalNotAllowed               removing more isolated margin than allowed
    ├── NoPosition                            an action that needs an open position found none
    └── OrderError                            an order that cannot be placed or cancelled
"""

from __future__ import annotations

__all__ = [
    "InsufficientMargin",
    "InvalidInput",
    "LeverageChangeError",
    "LeverageTooHigh",
    "MarginRemovalNotAllowed",
    "MissingParameter",
    "ModeSwitchError",
    "NoPosition",
    "NotModelled",
    "OrderError",
    "PerpMarginError",
    "PositionTooLarge",
    "UnknownSymbol",
    "UnknownVenue",
    "VenueDataError",
]


class PerpMarginError(Exception):
    """Base class of every error perpmargin raises on purpose."""


class InvalidInput(PerpMarginError, ValueError):
    """A value is malformed or out of its allowed range."""


class UnknownSymbol(InvalidInput, KeyError):
    """The venue does not list this symbol."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownVenue(InvalidInput):
    """No bundled venue of that name and no such file."""


class MissingParameter(InvalidInput):
    """A rule needs a venue parameter that no source publishes (or that the loaded file
    leaves out): the message says which, and how to supply it."""


class NotModelled(InvalidInput):
    """A fast path (Monte Carlo, sweep, stress grid) was asked for something it does not
    model (hedge pairs, the venue's partial liquidation in the sweep, ...); the message
    says what, and which exact path (the replay, the engine) does."""


class VenueDataError(InvalidInput):
    """A venue file fails validation; the message names the file and field."""


class LeverageTooHigh(PerpMarginError):
    """Leverage above the maximum of the tier the notional falls in."""


class PositionTooLarge(PerpMarginError):
    """The position would exceed the venue's largest tier or maximum quantity."""


class ModeSwitchError(PerpMarginError):
    """A margin-mode or position-mode switch the venue would refuse."""


class LeverageChangeError(PerpMarginError):
    """A leverage change the venue refuses while a position is open."""


class InsufficientMargin(PerpMarginError):
    """Available balance does not cover the required margin and fees."""


class MarginRemovalNotAllowed(PerpMarginError):
    """Removing isolated margin beyond what the venue allows (or on a cross position)."""


class NoPosition(PerpMarginError):
    """The action needs an open position and there is none."""


class OrderError(PerpMarginError):
    """An order cannot be placed, or an order id is unknown."""
