"""Bounds on inputs shared by the Python API, the command line and the HTTP API, so all
three refuse the same values (one number each; ``perpmargin.risk.pretrade``,
``perpmargin.cli`` and ``perpmargin.web.schemas`` use them)."""

from __future__ import annotations

from decimal import Decimal

from perpmargin.errors import InvalidInput
from perpmargin.numeric import Number, to_decimal

__all__ = ["FUNDING_RATE_LIMIT", "funding_rate"]

FUNDING_RATE_LIMIT = Decimal(1)
"""A funding rate per interval lies strictly between ``-FUNDING_RATE_LIMIT`` and
``FUNDING_RATE_LIMIT`` (100 % of the notional per interval)."""


def funding_rate(value: Number, name: str = "funding_rate") -> Decimal:
    """``value`` as a funding rate per interval (0.0001 = 0.01 %), or
    :class:`InvalidInput` naming ``name`` when it is not a number or not strictly within
    ±:data:`FUNDING_RATE_LIMIT`."""
    rate = to_decimal(value, name)
    if not -FUNDING_RATE_LIMIT < rate < FUNDING_RATE_LIMIT:
        raise InvalidInput(
            f"{name} must be strictly between -{FUNDING_RATE_LIMIT} and {FUNDING_RATE_LIMIT} "
            f"(a rate per funding interval, 0.0001 = 0.01 %), was {value}"
        )
    return rate
