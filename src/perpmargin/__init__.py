"""perpmargin: perpetual-futures accounts as real venues model them.

Isolated and cross margin, exactly (Decimal money), on venue rules loaded from
versioned data files::

    import perpmargin as pm

    venue = pm.load_venue("binance-usdm")
    acct = pm.Account(venue, balance="10000")
    acct.set_margin_mode("BTCUSDT", "isolated")
    acct.set_leverage("BTCUSDT", 10)
    acct.open("BTCUSDT", "long", qty="0.1", price="50000")
    events = acct.mark({"BTCUSDT": "45000"})

    # the same plan under isolated and cross on real bars (a bundled scenario or a TOML)
    for result in map(pm.replay_plan, pm.load_plans("seed-2020-03-12")):
        print(result.runs["isolated"].outcome, result.runs["cross"].outcome)

    # a real account saved from ccxt, stressed under its modes, all isolated, all cross
    imported = pm.account_from_ccxt("positions.json", balance="balance.json",
                                    venue="binance-usdm")
    grid = pm.stress_grid(imported.account, assets=["BTC", "ETH"])
"""

from perpmargin import events
from perpmargin._version import __version__
from perpmargin.engine import (
    Account,
    AccountState,
    InsuranceFund,
    Order,
    PositionView,
    replay,
)
from perpmargin.engine.unified import UnifiedAccount, UnifiedReading
from perpmargin.errors import (
    InsufficientMargin,
    InvalidInput,
    LeverageChangeError,
    LeverageTooHigh,
    MarginRemovalNotAllowed,
    MissingParameter,
    ModeSwitchError,
    NoPosition,
    OrderError,
    PerpMarginError,
    PositionTooLarge,
    UnknownSymbol,
    UnknownVenue,
    VenueDataError,
)
from perpmargin.interop import account_from_ccxt, positions_to_ccxt, reconcile
from perpmargin.risk import (
    CheckItem,
    ModeCheck,
    OtherPosition,
    TradeCheck,
    VenueCheck,
    bankruptcy_price,
    check_trade,
    liquidation_price,
)
from perpmargin.risk.modes import ModeComparison, compare_modes
from perpmargin.sim import Plan, PlanError, PositionPlan, Size, load_plans, replay_plan
from perpmargin.sim.advisor import Advice, advise
from perpmargin.sim.plan import Setting
from perpmargin.sim.replay import replay_setting
from perpmargin.sim.stress import historical_stress, stress_grid
from perpmargin.venues import Venue, bundled_venues, load_venue
from perpmargin.venues.unified import UnifiedRules, bundled_unified, load_unified

__all__ = [
    "Account",
    "AccountState",
    "Advice",
    "CheckItem",
    "InsufficientMargin",
    "InsuranceFund",
    "InvalidInput",
    "LeverageChangeError",
    "LeverageTooHigh",
    "MarginRemovalNotAllowed",
    "MissingParameter",
    "ModeCheck",
    "ModeComparison",
    "ModeSwitchError",
    "NoPosition",
    "Order",
    "OrderError",
    "OtherPosition",
    "PerpMarginError",
    "Plan",
    "PlanError",
    "PositionPlan",
    "PositionTooLarge",
    "PositionView",
    "Setting",
    "Size",
    "TradeCheck",
    "UnifiedAccount",
    "UnifiedReading",
    "UnifiedRules",
    "UnknownSymbol",
    "UnknownVenue",
    "Venue",
    "VenueCheck",
    "VenueDataError",
    "__version__",
    "account_from_ccxt",
    "advise",
    "bankruptcy_price",
    "bundled_unified",
    "bundled_venues",
    "check_trade",
    "compare_modes",
    "events",
    "historical_stress",
    "liquidation_price",
    "load_plans",
    "load_unified",
    "load_venue",
    "positions_to_ccxt",
    "reconcile",
    "replay",
    "replay_plan",
    "replay_setting",
    "stress_grid",
]
