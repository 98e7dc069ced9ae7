"""Simulation: market data in (validated), plans, and the exact replay of a plan."""

from perpmargin.sim.data import (
    Bars,
    DataError,
    Funding,
    align,
    bundled_market_files,
    load_bars,
    load_funding,
)
from perpmargin.sim.intrabar import waypoints
from perpmargin.sim.market import MarketData, load_market
from perpmargin.sim.plan import (
    MarginTrigger,
    Plan,
    PlanError,
    PositionPlan,
    Size,
    bundled_scenarios,
    load_plans,
)
from perpmargin.sim.replay import replay as replay_plan
from perpmargin.sim.results import ModeRun, Outcome, PlanResult

__all__ = [
    "Bars",
    "DataError",
    "Funding",
    "MarginTrigger",
    "MarketData",
    "ModeRun",
    "Outcome",
    "Plan",
    "PlanError",
    "PlanResult",
    "PositionPlan",
    "Size",
    "align",
    "bundled_market_files",
    "bundled_scenarios",
    "load_bars",
    "load_funding",
    "load_market",
    "load_plans",
    "replay_plan",
    "waypoints",
]
