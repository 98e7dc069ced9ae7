"""Unified (portfolio-margin) accounts from ccxt: ``fetch_balance`` + ``fetch_positions``.

Each venue's unified balance, as ccxt shapes it (read in ccxt 4.5's parsers), gives the
wallet of every asset net of loans; the positions are ccxt's unified positions, parsed as
:func:`perpmargin.interop.account_from_ccxt` parses them, on the rules' futures venues.

- **Binance Portfolio Margin** (``fetch_balance(params={"portfolioMargin": True})``):
  ``info`` is the list of ``/papi/v1/balance`` entries; wallet = ``totalWalletBalance``
  (margin + USDⓈ-M + COIN-M wallets) - ``crossMarginBorrowed`` - ``crossMarginInterest``.
  ccxt's ``total`` adds the futures uPnL, which perpmargin computes from the positions.
- **Bybit UTA**: ccxt's ``total`` per coin is its ``walletBalance``; ``debt`` (borrowed +
  interest) is taken off.
- **OKX**: ``info.data[0].details[]``: wallet = ``cashBal`` (negative when borrowed);
  ccxt's ``total`` (``eq``) includes the uPnL.

Without those raw fields, ``total`` less the positions' own ``unrealizedPnl`` stands in
(said in the notes). Index prices are the user's (``index_prices``): ccxt's balance
carries none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from perpmargin.engine.unified import UnifiedAccount
from perpmargin.errors import InvalidInput, UnknownSymbol
from perpmargin.interop.ccxt_format import CcxtFormatError
from perpmargin.interop.ccxt_in import ImportedPosition, parse_position
from perpmargin.numeric import ZERO, to_decimal
from perpmargin.venues.loader import load_venue
from perpmargin.venues.schema import Venue
from perpmargin.venues.unified import UnifiedRules, load_unified

__all__ = ["RULES_FOR_EXCHANGE", "unified_from_ccxt"]

RULES_FOR_EXCHANGE: Mapping[str, str] = {
    "binance": "binance-pm",
    "binanceusdm": "binance-pm",
    "bybit": "bybit-uta",
    "okx": "okx-multi-currency",
}


def _dec(value: Any, where: str) -> Decimal:
    try:
        return to_decimal("0" if value in (None, "") else value, where)
    except InvalidInput as exc:
        raise CcxtFormatError(str(exc)) from None


def _binance_wallets(info: Any) -> dict[str, Decimal] | None:
    if not isinstance(info, list) or not all(isinstance(e, Mapping) for e in info):
        return None
    out = {}
    for k, e in enumerate(info):
        if "asset" not in e or "totalWalletBalance" not in e:
            return None
        where = f"balance.info[{k}]"
        out[str(e["asset"])] = (
            _dec(e["totalWalletBalance"], f"{where}.totalWalletBalance")
            - _dec(e.get("crossMarginBorrowed"), f"{where}.crossMarginBorrowed")
            - _dec(e.get("crossMarginInterest"), f"{where}.crossMarginInterest")
        )
    return out


def _okx_wallets(info: Any) -> dict[str, Decimal] | None:
    data = info.get("data") if isinstance(info, Mapping) else None
    if not isinstance(data, list) or not data or not isinstance(data[0], Mapping):
        return None
    details = data[0].get("details")
    if not isinstance(details, list):
        return None
    out = {}
    for k, d in enumerate(details):
        if not isinstance(d, Mapping) or "ccy" not in d or "cashBal" not in d:
            return None
        out[str(d["ccy"])] = _dec(d["cashBal"], f"balance.info.data[0].details[{k}].cashBal")
    return out


def _bybit_wallets(balance: Mapping[str, Any]) -> dict[str, Decimal] | None:
    out = {}
    for code, entry in balance.items():
        if code in ("info", "free", "used", "total", "debt", "timestamp", "datetime"):
            continue
        if not isinstance(entry, Mapping) or "total" not in entry:
            continue
        out[code] = _dec(entry["total"], f"balance.{code}.total") - _dec(
            entry.get("debt"), f"balance.{code}.debt"
        )
    return out or None


def _totals_less_upnl(
    balance: Mapping[str, Any], positions: Sequence[Mapping[str, Any]], settle_of: Mapping[int, str]
) -> dict[str, Decimal]:
    total = balance.get("total")
    if not isinstance(total, Mapping):
        raise CcxtFormatError("balance has no 'total' per asset (a ccxt fetch_balance result)")
    out = {str(a): _dec(v, f"balance.total.{a}") for a, v in total.items() if v is not None}
    for k, pos in enumerate(positions):
        if k in settle_of and pos.get("unrealizedPnl") is not None:
            asset = settle_of[k]
            upnl = _dec(pos["unrealizedPnl"], f"positions[{k}].unrealizedPnl")
            out[asset] = out.get(asset, ZERO) - upnl
    return out


def _positions(
    positions: Sequence[Mapping[str, Any]], venues: Sequence[Venue], notes: list[str]
) -> list[tuple[int, ImportedPosition]]:
    """Each ccxt position parsed on the first of ``venues`` that lists its symbol."""
    parsed: list[tuple[int, ImportedPosition]] = []
    for k, doc in enumerate(positions):
        for venue in venues:
            try:
                pos, hedged = parse_position(doc, k, venue, notes)
            except UnknownSymbol:
                continue
            if hedged:
                raise InvalidInput(f"positions[{k}]: hedge mode is not modelled here")
            if pos is not None:
                parsed.append((k, pos))
            break
        else:
            listed = ", ".join(v.id for v in venues)
            raise UnknownSymbol(f"positions[{k}] ({doc.get('symbol')!r}) is on none of {listed}")
    return parsed


def unified_from_ccxt(
    balance: Mapping[str, Any],
    positions: Sequence[Mapping[str, Any]],
    index_prices: Mapping[str, Any],
    *,
    exchange: str | None = None,
    rules: UnifiedRules | str | None = None,
    collateral: Mapping[str, Any] | None = None,
) -> tuple[UnifiedAccount, list[str]]:
    """A :class:`UnifiedAccount` from ccxt's ``fetch_balance`` and ``fetch_positions``
    results, and the notes on how it was read. ``rules`` default from ``exchange``
    (:data:`RULES_FOR_EXCHANGE`)."""
    if rules is None:
        if exchange is None or exchange not in RULES_FOR_EXCHANGE:
            raise InvalidInput(
                f"give rules= or an exchange of {', '.join(sorted(RULES_FOR_EXCHANGE))}"
            )
        rules = RULES_FOR_EXCHANGE[exchange]
    found = rules if isinstance(rules, UnifiedRules) else load_unified(rules)
    if not isinstance(balance, Mapping) or not isinstance(positions, list):
        raise CcxtFormatError("balance is a fetch_balance object, positions a list")
    venues = [load_venue(v) for v in found.futures]
    notes: list[str] = []
    parsed = _positions(positions, venues, notes)
    settle_of = {
        k: next(v.symbol(p.symbol).settle for v in venues if p.symbol in v.symbols)
        for k, p in parsed
    }
    info = balance.get("info")
    wallets = (
        _binance_wallets(info) if found.id.startswith("binance")
        else _okx_wallets(info) if found.id.startswith("okx")
        else _bybit_wallets(balance)
    )  # fmt: skip
    if wallets is None:
        wallets = _totals_less_upnl(balance, positions, settle_of)
        notes.append("wallets read as ccxt's total less each position's unrealizedPnl "
                     "(the venue's raw balance fields were not in the file)")  # fmt: skip
    account = UnifiedAccount(found, {}, index_prices, collateral=collateral, venues=venues)
    for asset, amount in sorted(wallets.items()):
        if amount != 0:
            account.restore_balance(asset, amount)
    for _, p in parsed:
        account.restore(p.symbol, p.side, p.quantity, p.entry_price, p.mark_price)
    return account, notes
