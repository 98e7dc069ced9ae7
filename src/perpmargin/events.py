"""Ledger event types (re-exported from :mod:`perpmargin.engine.events`)."""

from perpmargin.engine.events import *  # noqa: F403
from perpmargin.engine.events import __all__ as __all__
