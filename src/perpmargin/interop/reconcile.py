"""Compare perpmargin's figures with what the venue reported for the same positions.

For every imported position and every figure the venue reported (ccxt's
``liquidationPrice``, ``maintenanceMargin``, ``unrealizedPnl``), the difference
reported - perpmargin, in units and relative, and for prices in ticks. A price within
one tick, or money within one settle unit plus 1e-6 relative, is a ``match``.

A difference has a reason worth reading: the venue's tiers or fee-in-maintenance rule
differ from the venue file (pass ``fetch_leverage_tiers``), a cross position's price
depends on the other cross legs' marks (a snapshot taken at different moments), or the
venue rounds differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from perpmargin.interop.ccxt_in import ImportedAccount
from perpmargin.numeric import ZERO, engine_context

__all__ = ["ReconcileRow", "reconcile"]

Status = Literal["match", "differs", "missing"]
_FIELDS = ("liquidationPrice", "maintenanceMargin", "unrealizedPnl")


@dataclass(frozen=True)
class ReconcileRow:
    """One figure of one position. ``diff`` = reported - perpmargin."""

    symbol: str
    side: str
    margin_mode: str
    field: str
    reported: Decimal | None
    computed: Decimal | None
    diff: Decimal | None
    relative: Decimal | None
    ticks: Decimal | None
    status: Status

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (Decimals as strings)."""
        return {
            k: (str(v) if isinstance(v, Decimal) else v)
            for k, v in (
                ("symbol", self.symbol),
                ("side", self.side),
                ("marginMode", self.margin_mode),
                ("field", self.field),
                ("reported", self.reported),
                ("perpmargin", self.computed),
                ("diff", self.diff),
                ("relative", self.relative),
                ("ticks", self.ticks),
                ("status", self.status),
            )
        }


def reconcile(imported: ImportedAccount) -> list[ReconcileRow]:
    """Rows for every reported liquidation price, maintenance margin and uPnL."""
    account = imported.account
    step = imported.venue.settle_precision
    rows: list[ReconcileRow] = []
    with engine_context():
        for pos in imported.positions:
            view = account.position(pos.symbol, pos.side)
            assert view is not None
            tick = imported.venue.symbol(pos.symbol).tick_size
            ours = {
                "liquidationPrice": view.liquidation_price,
                "maintenanceMargin": view.maintenance_margin,
                "unrealizedPnl": view.unrealized_pnl,
            }
            for name in _FIELDS:
                if name not in pos.reported:
                    continue
                reported = pos.reported[name]
                computed = ours[name]
                # ccxt reports "no liquidation price" as 0 or None
                if name == "liquidationPrice" and reported == 0:
                    rep: Decimal | None = None
                else:
                    rep = reported
                if rep is None or computed is None:
                    status: Status = "match" if rep is None and computed is None else "missing"
                    rows.append(
                        ReconcileRow(
                            pos.symbol, pos.side, pos.margin_mode, name, rep, computed,
                            None, None, None, status,
                        )
                    )  # fmt: skip
                    continue
                diff = rep - computed
                relative = diff / computed if computed != 0 else None
                ticks = diff / tick if name == "liquidationPrice" else None
                if ticks is not None:
                    ok = abs(ticks) <= 1
                else:
                    ok = abs(diff) <= step + abs(computed) * Decimal("1e-6")
                rows.append(
                    ReconcileRow(
                        pos.symbol, pos.side, pos.margin_mode, name, rep, computed, diff,
                        relative, ticks, "match" if ok else "differs",
                    )
                )  # fmt: skip
    return rows


def largest_difference(rows: list[ReconcileRow], field: str = "liquidationPrice") -> Decimal:
    """Largest |relative| difference of ``field`` (0 when none was reported)."""
    values = [abs(r.relative) for r in rows if r.field == field and r.relative is not None]
    return max(values, default=ZERO)
