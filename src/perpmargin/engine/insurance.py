"""The insurance fund: receives liquidation fees and remaining margin, covers deficits."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from perpmargin.numeric import Number, to_decimal

__all__ = ["InsuranceFund"]


@dataclass
class InsuranceFund:
    """A balance in the settle asset, shared by every account that points at it.

    The base model lets the balance go below zero and reports it (:attr:`shortfall`);
    auto-deleveraging of counterparties is a separate liquidation model.
    """

    balance: Decimal = Decimal(0)
    history: list[tuple[int | None, Decimal, str]] = field(default_factory=list)

    @classmethod
    def with_balance(cls, balance: Number) -> InsuranceFund:
        """Create a fund holding ``balance`` (>= 0)."""
        return cls(balance=to_decimal(balance, "insurance fund balance", non_negative=True))

    def apply(self, delta: Decimal, reason: str, time: int | None) -> None:
        """Move ``delta`` into (+) or out of (-) the fund."""
        self.balance += delta
        self.history.append((time, delta, reason))

    @property
    def shortfall(self) -> Decimal:
        """How far the fund is below zero (0 when solvent)."""
        return -self.balance if self.balance < 0 else Decimal(0)
