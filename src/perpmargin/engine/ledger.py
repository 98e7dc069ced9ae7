"""Fold a ledger back into account state.

:func:`replay` rebuilds, from the events alone, everything an
:class:`~perpmargin.engine.account.Account` holds: wallet, legs, modes, leverage, marks,
open orders, and the money that left for fees, the insurance fund and counterparties.
It uses only the amounts the events carry, so a state change the engine forgot to
record makes the replay differ from :meth:`Account.snapshot`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from perpmargin.engine.events import (
    AccountOpened,
    Event,
    Fill,
    FundingSettled,
    InsuranceFundTransfer,
    LeverageChanged,
    Liquidation,
    MarginChanged,
    MarginModeChanged,
    MarksUpdated,
    OrderCancelled,
    OrderPlaced,
    PartialLiquidation,
    PositionModeChanged,
    PositionRestored,
)
from perpmargin.errors import InvalidInput
from perpmargin.numeric import ZERO

__all__ = ["AccountState", "LegState", "replay"]


@dataclass(frozen=True, slots=True)
class LegState:
    """One leg: quantity (base), entry price, margin mode, leverage, isolated margin."""

    quantity: Decimal
    entry_price: Decimal
    margin_mode: str
    leverage: Decimal
    isolated_margin: Decimal


@dataclass(frozen=True)
class AccountState:
    """An account as a comparable value. Money in the settle asset.

    ``insurance_fund_net`` is what this account moved into the fund (+);
    ``counterparty_pnl`` is what the other side of its trades and funding booked.
    Conservation: cross_wallet + isolated margins + insurance_fund_net + fees_paid +
    counterparty_pnl equals the opening balance.
    """

    position_mode: str
    margin_modes: dict[str, str]
    leverage: dict[str, Decimal]
    cross_wallet: Decimal
    legs: dict[tuple[str, str], LegState]
    marks: dict[str, Decimal]
    open_orders: tuple[int, ...]
    insurance_fund_net: Decimal
    fees_paid: Decimal
    counterparty_pnl: Decimal
    opening_balance: Decimal = field(default=ZERO, compare=False)

    @property
    def total_money(self) -> Decimal:
        """Everything this account's opening balance became, wherever it went."""
        return (
            self.cross_wallet
            + sum((leg.isolated_margin for leg in self.legs.values()), ZERO)
            + self.insurance_fund_net
            + self.fees_paid
            + self.counterparty_pnl
        )


# complexity waived (C901): one branch per event type
def replay(events: Iterable[Event]) -> AccountState:  # noqa: C901
    """Rebuild the state an account reached from its ledger events (in order)."""
    it = iter(events)
    first = next(it, None)
    if not isinstance(first, AccountOpened):
        raise InvalidInput("a ledger must start with AccountOpened")
    position_mode = first.position_mode
    margin_modes: dict[str, str] = {}
    leverage: dict[str, Decimal] = {}
    cross = first.balance
    legs: dict[tuple[str, str], LegState] = {}
    marks: dict[str, Decimal] = {}
    orders: set[int] = set()
    fund = fees = counterparty = ZERO

    def adjust_leg(key: tuple[str, str], delta: Decimal) -> None:
        leg = legs[key]
        legs[key] = LegState(
            leg.quantity,
            leg.entry_price,
            leg.margin_mode,
            leg.leverage,
            leg.isolated_margin + delta,
        )

    for ev in it:
        if isinstance(ev, PositionModeChanged):
            position_mode = ev.mode
        elif isinstance(ev, MarginModeChanged):
            margin_modes[ev.symbol] = ev.mode
        elif isinstance(ev, LeverageChanged):
            leverage[ev.symbol] = ev.leverage
            for key, leg in list(legs.items()):
                if key[0] == ev.symbol:
                    legs[key] = LegState(
                        leg.quantity,
                        leg.entry_price,
                        leg.margin_mode,
                        ev.leverage,
                        leg.isolated_margin,
                    )
            if ev.position_side is not None:
                adjust_leg((ev.symbol, ev.position_side), ev.isolated_margin_delta)
            cross += ev.cross_wallet_delta
        elif isinstance(ev, MarksUpdated):
            marks.update(ev.marks)
        elif isinstance(ev, Fill):
            key = (ev.symbol, ev.position_side)
            marks.setdefault(ev.symbol, ev.price)
            cross += ev.cross_wallet_delta
            fees += ev.fee
            counterparty -= ev.realized_pnl
            iso = (legs[key].isolated_margin if key in legs else ZERO) + ev.isolated_margin_delta
            if ev.quantity_after == 0:
                legs.pop(key, None)
            else:
                legs[key] = LegState(
                    ev.quantity_after, ev.entry_price_after, ev.margin_mode, ev.leverage, iso
                )
            if ev.order_id is not None:
                orders.discard(ev.order_id)
        elif isinstance(ev, PositionRestored):
            margin_modes[ev.symbol] = ev.margin_mode
            leverage[ev.symbol] = ev.leverage
            marks[ev.symbol] = ev.mark_price
            cross += ev.cross_wallet_delta
            legs[(ev.symbol, ev.position_side)] = LegState(
                ev.quantity, ev.entry_price, ev.margin_mode, ev.leverage, ev.isolated_margin
            )
        elif isinstance(ev, FundingSettled):
            cross += ev.cross_wallet_delta
            if ev.isolated_margin_delta:
                adjust_leg((ev.symbol, ev.position_side), ev.isolated_margin_delta)
            counterparty += ev.amount
            fund += ev.insurance_fund_delta
        elif isinstance(ev, MarginChanged):
            cross -= ev.amount
            adjust_leg((ev.symbol, ev.position_side), ev.amount)
        elif isinstance(ev, Liquidation):
            cross += ev.cross_wallet_delta
            counterparty -= ev.realized_pnl
            fund += ev.insurance_fund_delta
            legs.pop((ev.symbol, ev.position_side), None)
        elif isinstance(ev, PartialLiquidation):
            key = (ev.symbol, ev.position_side)
            cross += ev.cross_wallet_delta
            counterparty -= ev.realized_pnl
            fees += ev.fee
            leg = legs[key]
            legs[key] = LegState(
                ev.quantity_after,
                leg.entry_price,
                leg.margin_mode,
                leg.leverage,
                leg.isolated_margin + ev.isolated_margin_delta,
            )
        elif isinstance(ev, InsuranceFundTransfer):
            cross += ev.cross_wallet_delta
            fund += ev.amount
        elif isinstance(ev, OrderPlaced):
            orders.add(ev.order_id)
        elif isinstance(ev, OrderCancelled):
            orders.discard(ev.order_id)
    return AccountState(
        position_mode=position_mode,
        margin_modes=dict(sorted(margin_modes.items())),
        leverage=dict(sorted(leverage.items())),
        cross_wallet=cross,
        legs=dict(sorted(legs.items())),
        marks=dict(sorted(marks.items())),
        open_orders=tuple(sorted(orders)),
        insurance_fund_net=fund,
        fees_paid=fees,
        counterparty_pnl=counterparty,
        opening_balance=first.balance,
    )
