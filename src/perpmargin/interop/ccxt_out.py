"""Export an account as ccxt unified structures, so ccxt-based code reads them unchanged.

Field meanings follow ccxt's Position structure (https://docs.ccxt.com, "Position
Structure"); money in the settle asset:

- ``contracts`` = quantity / ``contractSize``; ``notional`` = quantity x mark; for an
  inverse (coin-margined) contract ``contracts`` is the quantity, ``contractSize`` its
  USD value, and ``notional`` the value in the coin (contracts x size / mark), as ccxt
  reports Binance COIN-M's ``notionalValue``;
- ``collateral``: what the position can lose — isolated: its margin + uPnL; cross: the
  whole cross margin balance (cross wallet + every cross uPnL), which is exactly the
  isolated-vs-cross difference;
- ``initialMargin``: notional / leverage at the mark (as ccxt's Binance parser fills it);
  ``positionMargin``: an isolated position's own margin without uPnL (None for cross);
- ``maintenanceMargin``: tiered requirement at the mark (plus the fee to close where the
  venue counts it); ``marginRatio`` = maintenance / margin balance of its pool (>= 1 is
  liquidation; cross: the account's);
- ``liquidationPrice``: perpmargin's, on the tick grid (``None`` when no price liquidates).

``info`` carries what ccxt has no field for: bankruptcy price, tier, isolated margin
without uPnL (``isolatedWallet``, as Binance names it), venue file and version.
Numbers are floats by default (as ccxt returns them); ``numbers="str"`` keeps every
digit as a decimal string.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any, Literal

from perpmargin._version import __version__
from perpmargin.engine.account import Account
from perpmargin.numeric import engine_context

__all__ = ["balance_to_ccxt", "positions_to_ccxt"]

NumberStyle = Literal["float", "str"]


def _num(value: Decimal | None, style: NumberStyle) -> float | str | None:
    if value is None:
        return None
    if style == "str":
        return str(value)
    return float(value)


def _time(account: Account) -> tuple[int | None, str | None]:
    ms = account.time
    if ms is None:
        return None, None
    text = _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.UTC).isoformat(timespec="milliseconds")
    return ms, text.replace("+00:00", "Z")


def positions_to_ccxt(account: Account, *, numbers: NumberStyle = "float") -> list[dict[str, Any]]:
    """Every open position as a ccxt unified position dict (see the module docstring)."""
    if numbers not in ("float", "str"):
        raise ValueError(f"numbers must be 'float' or 'str', was {numbers!r}")
    ms, text = _time(account)
    hedged = account.position_mode == "hedge"
    out = []
    with engine_context():
        cross_equity = account.cross_equity
        for view in account.positions():
            spec = account.venue.symbol(view.symbol)
            size = spec.contract_value if spec.contract_value is not None else Decimal(1)
            contracts = view.quantity if spec.inverse_value is not None else view.quantity / size
            if view.margin_mode == "isolated":
                collateral = view.isolated_margin + view.unrealized_pnl
            else:
                collateral = cross_equity
            n = view.notional
            im = n / view.leverage

            def num(value: Decimal | None) -> float | str | None:
                return _num(value, numbers)

            out.append(
                {
                    "info": {
                        "source": f"perpmargin {__version__}",
                        "venue": account.venue.id,
                        "venueVersion": account.venue.version,
                        "bankruptcyPrice": num(view.bankruptcy_price),
                        "isolatedWallet": num(view.isolated_margin),
                        "tier": view.tier,
                        "symbol": view.symbol,
                    },
                    "id": None,
                    "symbol": view.ccxt_symbol,
                    "timestamp": ms,
                    "datetime": text,
                    "lastUpdateTimestamp": ms,
                    "hedged": hedged,
                    "side": view.side,
                    "contracts": num(contracts),
                    "contractSize": num(size),
                    "entryPrice": num(view.entry_price),
                    "markPrice": num(view.mark_price),
                    "lastPrice": None,
                    "notional": num(n),
                    "leverage": num(view.leverage),
                    "collateral": num(collateral),
                    "initialMargin": num(im),
                    "positionMargin": (
                        num(view.isolated_margin) if view.margin_mode == "isolated" else None
                    ),
                    "initialMarginPercentage": num(im / n),
                    "maintenanceMargin": num(view.maintenance_margin),
                    "maintenanceMarginPercentage": num(view.maintenance_margin / n),
                    "unrealizedPnl": num(view.unrealized_pnl),
                    "realizedPnl": None,
                    "liquidationPrice": num(view.liquidation_price),
                    "marginMode": view.margin_mode,
                    "marginRatio": num(view.margin_ratio),
                    "percentage": num(view.unrealized_pnl / im * 100),
                    "stopLossPrice": None,
                    "takeProfitPrice": None,
                }
            )
    return out


def balance_to_ccxt(account: Account, *, numbers: NumberStyle = "float") -> dict[str, Any]:
    """The account's settle-asset balance as a ccxt Balance structure.

    ``total`` is the margin balance (wallet + uPnL), ``free`` the available balance,
    ``used`` the rest; ``info.walletBalance`` the wallet without uPnL.
    """
    settle = account.settle
    ms, text = _time(account)
    with engine_context():
        total = account.equity
        free = account.available_balance
        used = total - free
    row = {"free": _num(free, numbers), "used": _num(used, numbers), "total": _num(total, numbers)}
    return {
        "info": {
            "source": f"perpmargin {__version__}",
            "walletBalance": _num(account.wallet_balance, numbers),
        },
        "timestamp": ms,
        "datetime": text,
        settle: row,
        "free": {settle: row["free"]},
        "used": {settle: row["used"]},
        "total": {settle: row["total"]},
    }
