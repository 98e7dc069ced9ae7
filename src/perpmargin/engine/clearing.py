"""Several accounts on one venue: one insurance fund, and auto-deleveraging between them.

A :class:`Clearinghouse` stands for the rest of the market as far as a simulation needs
it: the accounts that hold the other side. When a bankrupt position's deficit is more
than the insurance fund holds (and the venue deleverages, ``liquidation.adl`` in its
file), the opposite positions in the same symbol are ranked by the venue's rule and
closed at the bankrupt position's bankruptcy price, with no fee, until its size is
covered. The fund is left untouched; the ranked counterparties give up the profit
between that price and the mark. Every account still conserves its own money to the
last unit; with the fund, the sum over accounts does too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from perpmargin.engine.account import Account, LiquidationModel, TimeLike
from perpmargin.engine.events import Event
from perpmargin.engine.insurance import InsuranceFund
from perpmargin.engine.position import PositionSide
from perpmargin.errors import InvalidInput
from perpmargin.numeric import ZERO, Number
from perpmargin.venues.schema import Venue

__all__ = ["Clearinghouse", "Deleveraging"]


@dataclass(frozen=True, slots=True)
class Deleveraging:
    """One auto-deleveraging fill: who was bankrupt, who took the other side (``side``
    is the counterparty's leg that was reduced), how much and at what price."""

    bankrupt: str
    counterparty: str
    symbol: str
    side: PositionSide
    quantity: Decimal
    price: Decimal
    time: int | None


class Clearinghouse:
    """Accounts on one venue sharing an insurance fund, with auto-deleveraging.

    Parameters
    ----------
    venue
        The venue; its ``liquidation.adl`` rules (or their absence) decide ADL.
    insurance_fund
        The shared fund (a new empty one by default: ADL then starts at the first
        deficit).
    liquidation_model
        Passed to every account (``"venue"`` by default: the venue's process and ADL).
    """

    def __init__(
        self,
        venue: Venue,
        *,
        insurance_fund: InsuranceFund | None = None,
        liquidation_model: LiquidationModel = "venue",
    ) -> None:
        self._venue = venue
        self._fund = insurance_fund if insurance_fund is not None else InsuranceFund()
        self._model: LiquidationModel = liquidation_model
        self._accounts: dict[str, Account] = {}
        self._names: dict[int, str] = {}
        self.deleveragings: list[Deleveraging] = []

    @property
    def insurance_fund(self) -> InsuranceFund:
        """The fund every account pays into and draws on."""
        return self._fund

    @property
    def accounts(self) -> Mapping[str, Account]:
        """The accounts by name, in the order they were opened."""
        return dict(self._accounts)

    def open_account(
        self, name: str, balance: Number, *, settle: str | None = None, time: TimeLike = None
    ) -> Account:
        """Create an account on this clearinghouse (shared fund, ADL wired in)."""
        if not isinstance(name, str) or not name or name in self._accounts:
            raise InvalidInput(f"account name must be a new non-empty string, was {name!r}")
        account = Account(
            self._venue,
            balance,
            insurance_fund=self._fund,
            time=time,
            settle=settle,
            liquidation_model=self._model,
            deleverage_hook=self._deleverage,
        )
        self._accounts[name] = account
        self._names[id(account)] = name
        return account

    def mark(
        self,
        prices: Mapping[str, Number],
        *,
        time: TimeLike = None,
        last_prices: Mapping[str, Number] | None = None,
        funding_rates: Mapping[str, Number] | None = None,
    ) -> dict[str, list[Event]]:
        """Mark every account (in the order opened) and return each one's new events,
        including those a later account's bankruptcy caused it (auto-deleveraging)."""
        starts = {name: a.next_seq for name, a in self._accounts.items()}
        for account in self._accounts.values():
            held = {s: p for s, p in prices.items() if _holds_symbol(account, s)}
            if not held:
                continue
            last = rates = None
            if last_prices is not None:
                last = {s: p for s, p in last_prices.items() if s in held}
            if funding_rates is not None:
                rates = {s: r for s, r in funding_rates.items() if s in held}
            account.mark(held, time=time, last_prices=last, funding_rates=rates)
        return {name: a.events_since(starts[name]) for name, a in self._accounts.items()}

    def total_money(self) -> Decimal:
        """Every account's money wherever it went, plus the fund's opening balance
        (constant over any sequence of operations)."""
        return sum((a.snapshot().total_money for a in self._accounts.values()), ZERO)

    def _deleverage(
        self, source: Account, symbol: str, side: PositionSide, quantity: Decimal, price: Decimal
    ) -> Decimal:
        opposite: PositionSide = "short" if side == "long" else "long"
        ranked: list[tuple[Decimal, int, Account]] = []
        for order, account in enumerate(self._accounts.values()):
            if account is source or not _holds_symbol(account, symbol):
                continue
            # ranked at the bankrupt account's mark: an account marked later in the same
            # call still has the previous one
            score = account.adl_score(symbol, opposite, mark=source.marks[symbol])
            if score is not None:
                ranked.append((score, order, account))
        ranked.sort(key=lambda r: (-r[0], r[1]))
        left = quantity
        for _, _, account in ranked:
            if left <= 0:
                break
            leg = account.position(symbol, opposite)
            if leg is None:
                continue
            take = min(left, leg.quantity)
            account.deleverage(symbol, opposite, take, price)
            self.deleveragings.append(
                Deleveraging(
                    self._names[id(source)],
                    self._names[id(account)],
                    symbol,
                    opposite,
                    take,
                    price,
                    source.time,
                )
            )
            left -= take
        return quantity - left


def _holds_symbol(account: Account, symbol: str) -> bool:
    try:
        spec = account.venue.symbol(symbol)
    except InvalidInput:
        return False
    return spec.settle == account.settle
