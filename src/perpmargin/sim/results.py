"""What the exact replay returns: per margin mode an outcome, a series and the ledger.

:class:`PlanResult` holds a plan's sizes and pre-trade checks and one :class:`ModeRun`
per margin mode; a run's :class:`Outcome` sums up the money (settle asset; + is a gain or
a payment in) with the liquidations (:class:`LiquidationInfo`), partial liquidations
(:class:`PartialInfo`) and fills (:class:`TradeInfo`) on the trader's account, and
:class:`CounterpartyOutcome` says how each counterparty account ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from perpmargin.engine.account import Account
from perpmargin.engine.clearing import Clearinghouse, Deleveraging
from perpmargin.engine.events import Event
from perpmargin.numeric import ZERO
from perpmargin.risk.pretrade import TradeCheck
from perpmargin.sim.market import MarketData
from perpmargin.sim.plan import MarginModeName, Plan

__all__ = [
    "CounterpartyOutcome",
    "LiquidationInfo",
    "ModeRun",
    "Outcome",
    "PartialInfo",
    "PlanResult",
    "TradeInfo",
]


@dataclass(frozen=True)
class LiquidationInfo:
    """A liquidation: when (ms), which leg, at what mark, and what it cost (settle asset)."""

    time: int
    symbol: str
    side: str
    mark_price: Decimal
    bankruptcy_price: Decimal | None
    loss: Decimal
    liquidation_fee: Decimal


@dataclass(frozen=True)
class PartialInfo:
    """A partial liquidation step: part of a leg closed by the venue's process."""

    time: int
    symbol: str
    side: str
    mark_price: Decimal
    quantity: Decimal
    quantity_after: Decimal
    realized_pnl: Decimal
    reason: str


@dataclass(frozen=True)
class TradeInfo:
    """A fill on the trader's account: ``kind`` is entry, stop, take_profit, or adl (the
    venue closed part of the position against a bankrupt counterparty)."""

    time: int
    kind: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True)
class Outcome:
    """What one margin mode did to the money (settle asset; + is a gain or a payment in).

    ``funding`` + is paid by the account; ``insurance_fund_net`` + went into the fund
    (fees and remaining margin), ``insurance_fund_draws`` is what the fund paid to cover
    deficits (>= 0). ``deleveraged`` is the size of the trader's bankrupt legs the
    counterparties took (auto-deleveraging); ``adl`` lists every deleveraging fill the
    trader was in, on either side. ``max_drawdown`` is the largest fall of equity from a
    running peak over every point the replay evaluated (intrabar included).
    """

    mode: MarginModeName
    start_balance: Decimal
    final_equity: Decimal
    final_wallet: Decimal
    pnl: Decimal
    min_equity: Decimal
    min_equity_time: int
    max_drawdown: Decimal
    max_drawdown_pct: Decimal
    liquidations: tuple[LiquidationInfo, ...]
    trades: tuple[TradeInfo, ...]
    fees: Decimal
    funding: Decimal
    liquidation_fees: Decimal
    insurance_fund_net: Decimal
    insurance_fund_draws: Decimal
    margin_added: Decimal
    notes: tuple[str, ...]
    partial_liquidations: tuple[PartialInfo, ...] = ()
    deleveraged: Decimal = ZERO
    adl: tuple[Deleveraging, ...] = ()
    settle: str = ""
    """The asset the money is in (``"USDT"``, ``"BTC"``)."""

    @property
    def liquidated(self) -> bool:
        """Whether any position was liquidated in full (see also
        :attr:`partially_liquidated`)."""
        return bool(self.liquidations)

    @property
    def partially_liquidated(self) -> bool:
        """Whether the venue's process cut any position in part."""
        return bool(self.partial_liquidations)

    @property
    def hit_by_liquidation(self) -> bool:
        """Whether any liquidation, full or partial, happened."""
        return self.liquidated or self.partially_liquidated

    @property
    def first_liquidation_time(self) -> int | None:
        """Time (ms) of the first liquidation, or None."""
        return self.liquidations[0].time if self.liquidations else None


@dataclass(frozen=True)
class CounterpartyOutcome:
    """How one counterparty account ended a mode's run (settle asset).

    ``deleveraged`` is the size taken from its legs by auto-deleveraging (it was the
    profitable side); ``bankrupt_deleveraged`` the size of its own bankrupt legs the
    others took.
    """

    name: str
    margin_mode: str
    start_balance: Decimal
    final_equity: Decimal
    liquidations: tuple[LiquidationInfo, ...]
    partial_liquidations: int
    deleveraged: Decimal
    bankrupt_deleveraged: Decimal
    notes: tuple[str, ...]

    @property
    def pnl(self) -> Decimal:
        """Final equity less the starting balance."""
        return self.final_equity - self.start_balance


@dataclass
class ModeRun:
    """One mode's replay: the account (with its whole ledger), the outcome and the series.

    ``series`` has one row per bar (at the bar's close): ``time`` (ms), ``equity``,
    ``equity_low`` (lowest equity inside the bar), ``wallet``, ``margin_ratio`` (the
    highest pool ratio inside the bar; 1 = liquidation), and per position ``<SYMBOL side>
    margin`` (isolated margin, or notional / leverage in cross) and ``<SYMBOL side> liq``
    (liquidation price, NaN when none), as float64.

    With counterparties in the plan: ``counterparties`` says how each ended,
    ``deleveragings`` lists every auto-deleveraging fill in order, and ``clearinghouse``
    holds every account (``account`` is its ``"trader"``).

    ``quiet_bars``: how many bars were read at once as quiet stretches
    (:mod:`perpmargin.sim.quiet`) instead of walked point by point; the numbers are the
    same either way.
    """

    mode: MarginModeName
    account: Account
    outcome: Outcome
    series: pd.DataFrame
    counterparties: tuple[CounterpartyOutcome, ...] = ()
    deleveragings: tuple[Deleveraging, ...] = ()
    clearinghouse: Clearinghouse | None = None
    quiet_bars: int = 0

    @property
    def events(self) -> list[Event]:
        """The ledger without mark updates."""
        return [e for e in self.account.ledger if type(e).__name__ != "MarksUpdated"]


@dataclass
class PlanResult:
    """A plan replayed under each of its modes, with the sizes and pre-trade checks."""

    plan: Plan
    market: MarketData
    quantities: tuple[Decimal, ...]
    entry_prices: tuple[Decimal, ...]
    checks: tuple[TradeCheck | None, ...]
    runs: dict[str, ModeRun] = field(default_factory=dict)
    counterparty_quantities: tuple[tuple[Decimal, ...], ...] = ()
