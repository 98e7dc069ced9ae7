"""Simulation: market data in (validated), and, later, replay and vectorised kernels."""

from perpmargin.sim.data import (
    Bars,
    DataError,
    Funding,
    align,
    bundled_market_files,
    load_bars,
    load_funding,
)

__all__ = [
    "Bars",
    "DataError",
    "Funding",
    "align",
    "bundled_market_files",
    "load_bars",
    "load_funding",
]
