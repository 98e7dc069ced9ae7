"""Request and response models of the HTTP API (pydantic; Decimal values are strings).

Numbers in requests may be JSON numbers or decimal strings (``"50000.5"``); NaN,
infinities, signs and magnitudes outside the stated bounds are refused with a 422 that
names the field. Venues, symbols, bundled scenarios and market files are names checked
against what is bundled: no value of a request is ever used as a file path.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from perpmargin.limits import FUNDING_RATE_LIMIT

__all__ = [
    "AdviseRequest",
    "CheckRequest",
    "CustomPlan",
    "ErrorBody",
    "JobStatus",
    "LiqRequest",
    "LiqRow",
    "MonteCarloRequest",
    "OtherPositionIn",
    "PlanChoice",
    "PortfolioPositionIn",
    "PortfolioRequest",
    "ReplayRequest",
    "SaveRequest",
]

_BIG = Decimal("1e12")

Price = Annotated[Decimal, Field(gt=0, lt=_BIG, allow_inf_nan=False, description="Quote units.")]
Quantity = Annotated[Decimal, Field(gt=0, lt=_BIG, allow_inf_nan=False, description="Base units.")]
Money = Annotated[
    Decimal, Field(gt=0, lt=Decimal("1e15"), allow_inf_nan=False, description="Settle asset.")
]
Leverage = Annotated[Decimal, Field(ge=1, le=1000, allow_inf_nan=False)]
Side = Literal["long", "short"]


def _not_a_boolean(value: Any) -> Any:
    """JSON's true is not the count 1 (``"paths": true`` ran one path)."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true or false")
    return value


Count = Annotated[int, BeforeValidator(_not_a_boolean)]
"""A whole number (paths, steps, a seed, a variant): a boolean is refused."""


def _not_a_boolean_number(value: Any) -> Any:
    """JSON's true is not the number 1 (``"beta": true`` would read as 1.0)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


Real = Annotated[float, BeforeValidator(_not_a_boolean_number), Field(allow_inf_nan=False)]
"""A finite number (a JSON number or a decimal string): a boolean is refused."""
Name = Annotated[str, Field(min_length=1, max_length=80)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every 4xx answer: the error's type and a message naming the field or value."""

    error: str
    detail: Any


class OtherPositionIn(_Model):
    """Another open position of the cross account (its mark defaults to the entry)."""

    symbol: Name
    side: Side
    quantity: Quantity
    entry_price: Price
    mark_price: Price | None = None
    leverage: Leverage = Decimal(10)


class LiqRequest(_Model):
    """``perpmargin liq``: liquidation and bankruptcy price of one position."""

    venue: Name
    symbol: Name | None = None
    side: Side
    entry: Price
    qty: Quantity
    mode: Literal["isolated", "cross", "both"] = "isolated"
    collateral: Money | None = Field(None, description="Isolated margin, or cross wallet.")
    leverage: Leverage | None = None
    mark: Price | None = None
    mmr: Annotated[Decimal, Field(gt=0, lt=1, allow_inf_nan=False)] | None = None
    max_leverage: Leverage | None = None
    other_positions: Annotated[list[OtherPositionIn], Field(max_length=20)] = []
    hedge: bool = False


class LiqRow(BaseModel):
    """One mode's answer (None: no positive price liquidates it)."""

    venue: str
    symbol: str | None
    margin_mode: str
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None


class CheckRequest(_Model):
    """``perpmargin check``: sizing and the PASS/WARN/FAIL checklist per venue and mode.

    ``risk``: a percentage of the balance (``"1%"``) or an amount. With
    ``other_positions`` the check runs on one venue, on an account that holds them.
    """

    symbol: Name
    side: Side
    entry: Price
    stop: Price
    leverage: Leverage
    balance: Money
    risk: Annotated[str, Field(pattern=r"^\d{1,12}(\.\d{1,8})?%?$")] = "1%"
    venues: Annotated[list[Name], Field(min_length=1, max_length=10)] = ["binance-usdm"]
    take_profit: Price | None = None
    buffer: Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)] = Decimal("0.5")
    funding_rate: Annotated[
        Decimal, Field(gt=-FUNDING_RATE_LIMIT, lt=FUNDING_RATE_LIMIT, allow_inf_nan=False)
    ] = Decimal("0.0001")
    hold_hours: Annotated[Decimal, Field(ge=0, le=100_000, allow_inf_nan=False)] = Decimal(24)
    other_positions: Annotated[list[OtherPositionIn], Field(max_length=20)] = []
    portfolio: UnifiedAccountIn | None = Field(
        None,
        description="A unified account: adds the portfolio-margin mode (the trade opened in "
        "a copy of it) beside isolated and cross",
    )


class CustomPlan(_Model):
    """One position held through a bundled day of bars (or uploaded bars)."""

    venue: Name = "binance-usdm"
    symbol: Name = "BTCUSDT"
    data: Name = Field(
        "binance-btcusdt-perp-15m-2020-03-12.csv",
        description="A bundled market file (GET /api/v1/market); ignored with an upload.",
    )
    side: Side = "long"
    leverage: Leverage = Decimal(10)
    margin: Money = Decimal(1000)
    balance: Money = Decimal(10000)
    stop: Price | None = None
    take_profit: Price | None = None


class PlanChoice(_Model):
    """A bundled scenario (and which of its variants), or a custom plan."""

    scenario: Name | None = Field(None, description="A bundled scenario (GET /api/v1/scenarios).")
    variant: Annotated[Count, Field(ge=0, le=50)] = 0
    plan: CustomPlan | None = None
    bars_csv: Annotated[str, Field(max_length=5_000_000)] | None = Field(
        None,
        description="CSV text of bars (timestamp ms, open, high, low, close[, volume]) "
        "for a custom plan's symbol, instead of its bundled data.",
    )


class ReplayRequest(PlanChoice):
    """``perpmargin replay``: the plan under isolated and cross, side by side."""

    series: bool = Field(False, description="Include the per-bar series.")
    save: bool = Field(False, description="Keep the inputs, result and report in the database.")


class MonteCarloRequest(PlanChoice):
    """``perpmargin montecarlo``: liquidation odds and loss quantiles per mode."""

    paths: Annotated[Count, Field(ge=1, le=100_000_000)] = 10_000
    steps: Annotated[Count, Field(ge=1, le=1_000_000)] | None = None
    model: Literal["gbm", "jump", "bootstrap"] = "gbm"
    seed: Annotated[Count, Field(ge=0, le=2**62)] = 0
    save: bool = False


Mode = Literal["isolated", "cross"]


class AdviseRequest(PlanChoice):
    """``perpmargin.advise``: which positions to isolate (with how much margin) and which
    to pool in cross. Every setting is held on the same simulated paths; the best by the
    objective is compared with your setting, all isolated and all cross, and checked
    against the exact engine."""

    objective: Literal["liquidation", "ruin", "cvar", "growth"] = Field(
        "ruin",
        description="Minimise P(liquidation), P(ruin) or CVaR 95, or maximise the expected "
        "log growth subject to P(ruin) <= beta.",
    )
    paths: Annotated[Count, Field(ge=200, le=10_000_000)] = 10_000
    steps: Annotated[Count, Field(ge=1, le=1_000_000)] | None = None
    model: Literal["gbm", "jump", "bootstrap"] = "jump"
    seed: Annotated[Count, Field(ge=0, le=2**62)] = 0
    beta: Annotated[Real, Field(ge=0, le=1)] = Field(
        0.05, description="The growth objective's bound on P(ruin)."
    )
    ruin_fraction: Annotated[Real, Field(ge=0, le=1)] = Field(
        0.1, description="Ruin: ending with at most this fraction of the starting equity."
    )
    grid: Annotated[
        list[Annotated[Real, Field(ge=1, le=100)]], Field(min_length=1, max_length=12)
    ] = Field(
        [1.0, 1.5, 2.0, 3.0],
        description="Isolated margins tried, as multiples of each position's initial "
        "margin at its leverage.",
    )
    budget: Annotated[Real, Field(ge=0, lt=1e15)] | None = Field(
        None, description="At most this much isolated margin in all (default: the wallet)."
    )
    allowed: (
        Annotated[
            dict[Name, Annotated[list[Mode], Field(min_length=1, max_length=2)]],
            Field(max_length=8),
        ]
        | None
    ) = Field(None, description="Symbol -> the modes it may take (default both).")
    current: Annotated[list[Mode], Field(min_length=1, max_length=8)] | None = Field(
        None,
        description="Your setting, one mode per position (default: the plan's first mode).",
    )
    confirm_paths: Annotated[Count, Field(ge=0, le=20)] = Field(
        4, description="Simulated paths replayed through the exact engine."
    )
    save: bool = False


class JobStatus(BaseModel):
    """A background Monte Carlo or advisor run."""

    id: str
    state: Literal["queued", "running", "done", "failed"]
    done_paths: int
    total_paths: int
    elapsed_s: float
    result: dict[str, Any] | None = None
    error: str | None = None
    saved_id: int | None = None


class SaveRequest(_Model):
    """Save a scenario's inputs (and, optionally, a result) under a name."""

    kind: Literal["calculator", "compare", "odds", "advise"]
    name: Name
    inputs: dict[str, Any]
    summary: dict[str, Any] | None = None


Asset = Annotated[str, Field(min_length=1, max_length=12, pattern=r"^[A-Za-z0-9]+$")]
Balance = Annotated[
    Decimal, Field(ge=0, lt=Decimal("1e15"), allow_inf_nan=False, description="Asset units.")
]
Rate = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]
Bound = Annotated[Decimal, Field(ge=0, lt=Decimal("1e18"), allow_inf_nan=False)]


class CollateralTierIn(_Model):
    """One haircut slice ``[floor, cap)`` (cap None: no cap) counted at ``rate``."""

    floor: Bound
    cap: Bound | None = None
    rate: Rate


class PortfolioPositionIn(_Model):
    """A position the unified account holds."""

    symbol: Name
    side: Side
    quantity: Quantity
    entry_price: Price
    mark_price: Price


class UnifiedAccountIn(_Model):
    """A unified (portfolio-margin) account on bundled rules: balances per asset, index
    prices, positions and the parameters the venue does not publish."""

    rules: Name = Field(description="Bundled unified rules: binance-pm, bybit-uta, ...")
    balances: Annotated[dict[Asset, Balance], Field(max_length=20)]
    index_prices: Annotated[dict[Asset, Price], Field(max_length=20)]
    positions: Annotated[list[PortfolioPositionIn], Field(max_length=20)] = []
    collateral: Annotated[
        dict[Asset, Annotated[list[CollateralTierIn], Field(min_length=1, max_length=20)]],
        Field(max_length=20),
    ] = {}
    contingency: Annotated[dict[Asset, Rate], Field(max_length=20)] = {}
    price_moves: Annotated[
        dict[Asset, Rate],
        Field(max_length=20, description="Risk-based rules: the largest price move per "
              "underlying (0.16 = +-16 %), e.g. Deribit PM's live ranges"),
    ] = {}  # fmt: skip


class PortfolioRequest(UnifiedAccountIn):
    """``perpmargin portfolio``: a unified account (bundled rules only) and its positions
    under isolated, cross and portfolio margin side by side."""

    leverage: Leverage = Decimal(10)


CheckRequest.model_rebuild()  # its portfolio field names a model defined below it
