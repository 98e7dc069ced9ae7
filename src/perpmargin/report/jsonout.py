"""Replay results as plain JSON-ready dicts (Decimals as strings, times in ms)."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from perpmargin.report.common import liquidation_status, verdict

if TYPE_CHECKING:
    from perpmargin.sim.results import PlanResult

__all__ = ["jsonable", "plan_result_dict"]


def jsonable(value: Any) -> Any:
    """Decimals to strings, dataclasses to dicts, tuples to lists, NaN to None."""
    if isinstance(value, Decimal):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def plan_result_dict(result: PlanResult, *, series: bool = False) -> dict[str, Any]:
    """Summary of one replayed plan: plan, sizes, checks, and each mode's outcome."""
    plan = result.plan
    out: dict[str, Any] = {
        "name": plan.name,
        "description": plan.description,
        "venue": plan.venue,
        "balance": str(plan.balance),
        "intrabar": plan.intrabar,
        "liquidation_model": plan.liquidation_model,
        "insurance_fund": str(plan.insurance_fund),
        "bars": len(result.market),
        "bar_ms": result.market.step_ms,
        "first_bar": int(result.market.times[0]),
        "last_bar": int(result.market.times[-1]),
        "mark_source": dict(result.market.mark_source),
        "data": dict(result.market.sources),
        "positions": [
            {
                "symbol": p.symbol,
                "side": p.side,
                "leverage": str(p.leverage),
                "quantity": str(q),
                "entry": str(e),
                "stop": None if p.stop is None else str(p.stop),
                "take_profit": None if p.take_profit is None else str(p.take_profit),
                "check": None
                if c is None
                else {
                    m.margin_mode: {
                        "status": m.status,
                        "liquidation_price": jsonable(m.liquidation_price),
                        "checklist": jsonable(m.checklist),
                    }
                    for m in c.venues[0].modes
                },
            }
            for p, q, e, c in zip(
                plan.positions, result.quantities, result.entry_prices, result.checks, strict=True
            )
        ],
        "modes": {},
    }
    judged = verdict(result)
    out["verdict"] = {
        "better": judged.better,
        "by": str(judged.by),
        "text": judged.text,
    }
    for mode, run in result.runs.items():
        entry = jsonable(run.outcome)
        entry["liquidation_status"] = liquidation_status(run.outcome)
        entry["liquidation_count"] = len(run.outcome.liquidations) + len(
            run.outcome.partial_liquidations
        )
        if run.counterparties:
            entry["counterparties"] = [
                {**jsonable(c), "pnl": str(c.pnl)} for c in run.counterparties
            ]
            entry["deleveragings"] = jsonable(run.deleveragings)
        if series:
            entry["series"] = {c: jsonable(run.series[c].tolist()) for c in run.series.columns}
        out["modes"][mode] = entry
    return out
