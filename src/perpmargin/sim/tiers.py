"""Venue tier tables as arrays for the kernels (:class:`TierArrays`).

``S`` symbols padded to ``K`` tiers: ``upper[S, K]`` (upper bound of each tier; ``inf``
for the last tier of a symbol and for padding), ``mmr[S, K]``, ``amount[S, K]``
(maintenance amount), ``n_tiers[S]``, ``by_qty[S]`` (the table is looked up by quantity,
bounds ``(lo, hi]``, instead of notional, bounds ``[lo, hi)``), ``fee[S]`` (the fee to close
counted in maintenance, 0 when the venue counts none), ``fee_bk[S]`` (that fee is valued
at the bankruptcy price, Bybit, instead of the mark: :func:`perpmargin.formulas.close_fee_price`),
``liquidation_fee[S]`` and ``contract_value[S]`` (USD per contract of inverse symbols, 0
for linear ones).

The last tier holds every larger position, as :meth:`perpmargin.venues.TierTable.tier_for`
does: a table's cap limits what the engine lets a trader open, not the requirement of a
position that has grown past it (a short whose price rises).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from perpmargin.errors import InvalidInput, NotModelled
from perpmargin.venues.schema import Venue

__all__ = ["TierArrays"]


@dataclass(frozen=True)
class TierArrays:
    """Tier tables of ``symbols`` padded to the longest (see the module text)."""

    symbols: tuple[str, ...]
    upper: np.ndarray
    mmr: np.ndarray
    amount: np.ndarray
    n_tiers: np.ndarray
    by_qty: np.ndarray
    fee: np.ndarray
    fee_bk: np.ndarray
    liquidation_fee: np.ndarray
    contract_value: np.ndarray | None = None
    """USD per contract of inverse symbols (0 for linear ones); None: all linear."""

    @classmethod
    def from_venue(cls, venue: Venue, symbols: Sequence[str] | None = None) -> TierArrays:
        """Arrays of ``venue``'s tiers (by default the symbols its file lists itself,
        :attr:`~perpmargin.venues.schema.Venue.featured`, sorted; a tier snapshot's
        hundreds of others are taken when named)."""
        names = symbols or sorted(venue.featured)
        return cls.from_symbols([(venue, s) for s in names])

    @classmethod
    def from_symbols(cls, symbols: Sequence[tuple[Venue, str]]) -> TierArrays:
        """Arrays of each ``(venue, symbol)``'s tiers, its fee to close by its own venue's
        rules (a unified account trades on several venues: Binance USD-M and COIN-M)."""
        specs = [venue.symbol(s) for venue, s in symbols]
        scaled = [f"{sp.symbol} on {v.id}" for (v, _), sp in zip(symbols, specs, strict=True)
                  if sp.tiers.size_scaled]  # fmt: skip
        if scaled:
            raise NotModelled(
                f"{', '.join(scaled)}: margin rates that grow with the position's size are "
                "not on the fast path (its tier arrays hold fixed rates); use the exact "
                "engine (pm.Account, replay)"
            )
        k = max(len(sp.tiers.tiers) for sp in specs)
        shape = (len(specs), k)
        upper = np.full(shape, np.inf)
        mmr = np.zeros(shape)
        amount = np.zeros(shape)
        for i, sp in enumerate(specs):
            tiers = sp.tiers.tiers
            for j, t in enumerate(tiers):
                last = j == len(tiers) - 1
                upper[i, j] = np.inf if t.upper is None or last else float(t.upper)
                mmr[i, j] = float(t.maintenance_margin_rate)
                amount[i, j] = float(t.maintenance_amount)
        rules = [v.liquidation for v, _ in symbols]
        return cls(
            symbols=tuple(sp.symbol for sp in specs),
            upper=upper,
            mmr=mmr,
            amount=amount,
            n_tiers=np.array([len(sp.tiers.tiers) for sp in specs], dtype=np.int64),
            by_qty=np.array([sp.tiers.basis == "quantity" for sp in specs], dtype=np.bool_),
            fee=np.array(
                [
                    float(v.taker_fee_rate) if r.close_fee_in_maintenance else 0.0
                    for (v, _), r in zip(symbols, rules, strict=True)
                ]
            ),
            fee_bk=np.array(
                [r.close_fee_in_maintenance and r.close_fee_basis == "bankruptcy" for r in rules],
                dtype=np.bool_,
            ),
            liquidation_fee=np.array([float(sp.liquidation_fee_rate) for sp in specs]),
            contract_value=np.array([float(sp.inverse_value or 0.0) for sp in specs]),
        )

    def index(self, symbol: str) -> int:
        """Column of ``symbol``."""
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise InvalidInput(f"{symbol!r} is not one of {self.symbols}") from None

    def args(self) -> tuple[np.ndarray, ...]:
        """The arrays in kernel order: upper, mmr, amount, n_tiers, by_qty, fee, fee_bk."""
        return (self.upper, self.mmr, self.amount, self.n_tiers, self.by_qty, self.fee, self.fee_bk)

    def linear(self) -> TierArrays:
        """The same tables for positions already linear in x = 1/P (no contract values)."""
        return TierArrays(
            self.symbols,
            self.upper,
            self.mmr,
            self.amount,
            self.n_tiers,
            self.by_qty,
            self.fee,
            self.fee_bk,
            self.liquidation_fee,
            None,
        )

    def tiled(self, copies: int) -> TierArrays:
        """``copies`` copies of every symbol (``SYMBOL#c``): one book per scenario cell."""

        def rep(a: np.ndarray) -> np.ndarray:
            return np.tile(a, (copies,) + (1,) * (a.ndim - 1))

        cv = self.contract_value
        return TierArrays(
            symbols=tuple(f"{s}#{c}" for c in range(copies) for s in self.symbols),
            upper=rep(self.upper),
            mmr=rep(self.mmr),
            amount=rep(self.amount),
            n_tiers=rep(self.n_tiers),
            by_qty=rep(self.by_qty),
            fee=rep(self.fee),
            fee_bk=rep(self.fee_bk),
            liquidation_fee=rep(self.liquidation_fee),
            contract_value=None if cv is None else rep(cv),
        )
