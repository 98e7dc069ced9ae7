"""Bounds on inputs shared by the command line and the HTTP API, so both refuse the same
values (one number each, imported by ``perpmargin.cli`` and ``perpmargin.web.schemas``)."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["FUNDING_RATE_LIMIT"]

FUNDING_RATE_LIMIT = Decimal(1)
"""A funding rate per interval lies strictly between ``-FUNDING_RATE_LIMIT`` and
``FUNDING_RATE_LIMIT`` (100 % of the notional per interval)."""
