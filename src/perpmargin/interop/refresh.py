"""Refresh a bundled venue's tables from the exchange's public API through ccxt.

``refresh_venue("bybit-linear")`` reads the exchange's perpetual swaps of the venue's
kind (``load_markets``) and their leverage tiers (``fetch_leverage_tiers``, or
``fetch_market_leverage_tiers`` per symbol where ccxt has only that), with no API keys,
and writes a venue document of the same schema as the bundled files: the bundled
venue's rules, fees and liquidation process, the fetched grids and tiers, each table
dated and naming where it was read. The document is checked by the same loader
(:func:`perpmargin.venues.loader.parse_venue`) before it is returned.

Where ccxt has no public tiers endpoint for the exchange (or the endpoint needs keys),
the bundled tiers are kept for the bundled symbols and marked so in ``tiers_source``;
symbols the bundled file does not list cannot be added without tiers and are left out
(noted).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

from perpmargin.errors import InvalidInput
from perpmargin.interop.ccxt_format import CcxtFormatError
from perpmargin.interop.ccxt_in import venue_from_ccxt
from perpmargin.venues.loader import load_venue, parse_venue
from perpmargin.venues.schema import SymbolSpec, Tier, TierTable, Venue

__all__ = [
    "REFRESH_EXCHANGES",
    "RefreshError",
    "RefreshResult",
    "TierChange",
    "VenueDiff",
    "check_refreshable",
    "diff_venues",
    "make_exchange",
    "refresh_venue",
]


@dataclass(frozen=True)
class _Target:
    exchange: str
    kind: str  # "linear" | "inverse"
    settles: frozenset[str] | None  # settle currencies of the venue's kind; None: any
    endpoint: str  # the raw endpoint behind ccxt's tiers call, where known


REFRESH_EXCHANGES: Mapping[str, _Target] = {
    "binance-usdm": _Target(
        "binanceusdm", "linear", frozenset({"USDT", "USDC"}), "GET /fapi/v1/leverageBracket"
    ),
    "binance-coinm": _Target("binancecoinm", "inverse", None, "GET /dapi/v2/leverageBracket"),
    "bybit-linear": _Target("bybit", "linear", frozenset({"USDT"}), "GET /v5/market/risk-limit"),
    "bybit-inverse": _Target("bybit", "inverse", None, "GET /v5/market/risk-limit"),
    "okx-swap": _Target("okx", "linear", frozenset({"USDT"}), "GET /api/v5/public/position-tiers"),
    "gate-futures": _Target("gate", "linear", frozenset({"USDT"}), ""),
    "hyperliquid": _Target("hyperliquid", "linear", frozenset({"USDC"}), ""),
    "dydx-v4": _Target("dydx", "linear", frozenset({"USDC"}), ""),
}
"""Bundled venue -> the ccxt exchange, market kind and settle currencies it covers."""

_LIVE_HINT = "refresh needs the internet (the live extra: pip install 'perpmargin[live]')"
_TABLE_KEYS = ("symbols", "missing", "tier_snapshot", "_listed", "dated_futures")
_NOT_PUBLIC = ("AuthenticationError", "PermissionDenied", "NotSupported")
_DECIMAL_PLACES = 2  # ccxt's precisionMode constants
_TICK_SIZE = 4


class RefreshError(InvalidInput):
    """The exchange cannot be reached, refused a read, or gave data that cannot be used."""


@dataclass(frozen=True)
class TierChange:
    """One symbol both venues list: whether its tier table changed, and where first."""

    symbol: str
    changed: bool
    first_difference: str = ""
    old: Tier | None = None
    new: Tier | None = None


@dataclass(frozen=True)
class VenueDiff:
    """Refreshed venue against the bundled one (symbols by the venue's names)."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    tiers: tuple[TierChange, ...]

    @property
    def changed(self) -> tuple[str, ...]:
        """Common symbols whose tier table changed."""
        return tuple(c.symbol for c in self.tiers if c.changed)


@dataclass
class RefreshResult:
    """The refreshed venue document (schema ``perpmargin.venue/1``), it parsed, and the
    diff against the bundled venue."""

    document: dict[str, Any]
    venue: Venue
    diff: VenueDiff
    exchange: str
    tiers_public: bool
    kept_bundled_tiers: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- exchange


def make_exchange(venue_id: str) -> Any:
    """A ccxt exchange for ``venue_id``'s market kind, with no API keys."""
    target = _target(venue_id)
    try:
        ccxt = importlib.import_module("ccxt")
    except ImportError:
        raise RefreshError(
            f"refresh reads {target.exchange}'s public API through ccxt, which is not "
            "installed: pip install 'perpmargin[live]'"
        ) from None
    cls = getattr(ccxt, target.exchange, None)
    if cls is None:
        raise RefreshError(f"this ccxt ({_ccxt_version()}) has no exchange {target.exchange!r}")
    return cls(
        {
            "enableRateLimit": True,
            "options": {"defaultType": "swap", "defaultSubType": target.kind},
        }
    )


def check_refreshable(venue_id: str) -> None:
    """Raise :class:`RefreshError` unless ``venue_id`` is a venue :func:`refresh_venue`
    knows the exchange of."""
    _target(venue_id)


def _target(venue_id: str) -> _Target:
    try:
        return REFRESH_EXCHANGES[venue_id]
    except KeyError:
        raise RefreshError(
            f"cannot refresh {venue_id!r}: not a bundled venue; refreshable: "
            f"{', '.join(sorted(REFRESH_EXCHANGES))}"
        ) from None


def _ccxt_version() -> str:
    try:
        return "ccxt " + importlib.metadata.version("ccxt")
    except importlib.metadata.PackageNotFoundError:
        return "ccxt (version unknown: not installed)"


def _class_names(exc: BaseException) -> set[str]:
    return {c.__name__ for c in type(exc).__mro__}


class _NotPublic(Exception):
    """The read needs API keys or ccxt does not implement it for this exchange."""


def _call(exchange_id: str, what: str, fn: Callable[[], Any], *, optional: bool = False) -> Any:
    """Run one read; an unreachable exchange or a refusal is one clear line. With
    ``optional``, a read that needs keys or is not supported raises :class:`_NotPublic`."""
    try:
        return fn()
    except Exception as exc:  # ccxt raises its own tree
        text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        if "NetworkError" in _class_names(exc) or isinstance(exc, OSError):
            raise RefreshError(
                f"cannot reach {exchange_id}'s public API: {text}; {_LIVE_HINT}"
            ) from None
        if optional and _class_names(exc) & set(_NOT_PUBLIC):
            raise _NotPublic(text) from None
        raise RefreshError(f"{exchange_id} refused {what}: {text}") from None


# ----------------------------------------------------------------------------- fetch


def _fixed_precision(market: Mapping[str, Any], mode: Any) -> dict[str, Any]:
    """The market with ``precision`` as tick sizes (ccxt's ``TICK_SIZE`` mode)."""
    out = dict(market)
    if mode in (None, _TICK_SIZE):
        return out
    if mode != _DECIMAL_PLACES:
        raise RefreshError(f"ccxt precisionMode {mode!r} is not supported (tick sizes needed)")
    precision = dict(market.get("precision") or {})
    for key in ("price", "amount"):
        if isinstance(precision.get(key), int):
            precision[key] = format(Decimal(10) ** -precision[key], "f")
    out["precision"] = precision
    return out


def _perpetuals(markets: Any, target: _Target, mode: Any) -> dict[str, dict[str, Any]]:
    """ccxt symbol -> market, for the active perpetual swaps of the venue's kind."""
    rows = list(markets.values()) if isinstance(markets, Mapping) else markets
    if not isinstance(rows, list):
        raise RefreshError("load_markets() did not return markets (a dict or a list)")
    out: dict[str, dict[str, Any]] = {}
    for m in rows:
        if not isinstance(m, Mapping) or not isinstance(m.get("symbol"), str):
            continue
        if m.get("swap") is not True or m.get("type", "swap") != "swap":
            continue
        if m.get("active") is False or m.get("expiry") is not None:
            continue
        if m.get(target.kind) is not True:
            continue
        if target.settles is not None and m.get("settle") not in target.settles:
            continue
        out[m["symbol"]] = _fixed_precision(m, mode)
    return out


def _pick(
    wanted: Sequence[str] | None, perps: Mapping[str, Mapping[str, Any]], base: Venue
) -> list[str]:
    """The ccxt symbols to refresh: all perpetuals, or those named (venue name, ccxt
    symbol or exchange market id)."""
    if not wanted:
        return sorted(perps)
    by_id = {str(m.get("id")): s for s, m in perps.items()}
    by_name = {s.symbol: s.ccxt_symbol for s in base.symbols.values()}
    picked: list[str] = []
    for name in wanted:
        sym = name if name in perps else by_id.get(name) or by_name.get(name)
        if sym is None or sym not in perps:
            raise RefreshError(
                f"{name!r} is not a perpetual the exchange lists for {base.id} "
                "(give the venue's name, e.g. BTCUSDT, or the ccxt symbol, e.g. BTC/USDT:USDT)"
            )
        if sym not in picked:
            picked.append(sym)
    return picked


def _fetch_tiers(
    exchange: Any, exchange_id: str, symbols: list[str], notes: list[str]
) -> Mapping[str, Any] | None:
    """ccxt leverage tiers keyed by symbol, or None where no public endpoint serves them."""
    has = getattr(exchange, "has", None) or {}
    try:
        if has.get("fetchLeverageTiers"):
            tiers = _call(
                exchange_id,
                "fetch_leverage_tiers",
                lambda: exchange.fetch_leverage_tiers(symbols),
                optional=True,
            )
        elif has.get("fetchMarketLeverageTiers"):
            tiers = {
                s: _call(
                    exchange_id,
                    f"fetch_market_leverage_tiers({s})",
                    functools.partial(exchange.fetch_market_leverage_tiers, s),
                    optional=True,
                )
                for s in symbols
            }
        else:
            notes.append(f"ccxt's {exchange_id} has no leverage-tiers endpoint")
            return None
    except _NotPublic as exc:
        notes.append(f"{exchange_id}'s leverage tiers are not public ({exc})")
        return None
    if not isinstance(tiers, Mapping):
        raise RefreshError(f"{exchange_id} fetch_leverage_tiers did not return a dict by symbol")
    return tiers


# ----------------------------------------------------------------------------- document


def _num(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _tier_rows(table: TierTable) -> list[dict[str, Any]]:
    lo, hi = (
        ("min_notional", "max_notional")
        if table.basis == "notional"
        else ("min_quantity", "max_quantity")
    )
    rows = []
    for t in table.tiers:
        row: dict[str, Any] = {
            "tier": t.tier,
            lo: _num(t.lower),
            hi: _num(t.upper),
            "maintenance_margin_rate": _num(t.maintenance_margin_rate),
            "maintenance_amount": _num(t.maintenance_amount),
            "max_leverage": _num(t.max_leverage),
        }
        if t.initial_margin_rate is not None:
            row["initial_margin_rate"] = _num(t.initial_margin_rate)
        if t.rate_per_quantity:
            row["rate_per_quantity"] = _num(t.rate_per_quantity)
        rows.append(row)
    return rows


def _symbol_doc(
    spec: SymbolSpec, bundled: Mapping[str, Any] | None, grid_source: str
) -> dict[str, Any]:
    doc: dict[str, Any] = dict(bundled or {})
    doc.update(
        {
            "base": spec.base,
            "quote": spec.quote,
            "settle": spec.settle,
            "ccxt_symbol": spec.ccxt_symbol,
            "contract": spec.contract,
            "tick_size": _num(spec.tick_size),
            "step_size": _num(spec.step_size),
            "min_quantity": _num(spec.min_quantity),
            "max_quantity": _num(spec.max_quantity),
            "grid_source": grid_source,
            "tier_basis": spec.tiers.basis,
            "tiers": _tier_rows(spec.tiers),
            "tiers_source": spec.tiers_source,
            "tiers_as_of": spec.tiers_as_of,
        }
    )
    if spec.contract_value is not None:
        doc["contract_value"] = _num(spec.contract_value)
    else:
        doc.pop("contract_value", None)
    return doc


def _bundled_doc(venue_id: str) -> dict[str, Any]:
    res = resources.files("perpmargin.venues") / "data" / f"{venue_id}.json"
    doc: dict[str, Any] = json.loads(res.read_text(encoding="utf-8"))
    return doc


def _next_version(old: str, today: str) -> str:
    stem, _, n = old.partition(".")
    if stem == today and n.isdigit():
        return f"{today}.{int(n) + 1}"
    return f"{today}.1"


# ----------------------------------------------------------------------------- diff


_FIELDS = ("lower", "upper", "maintenance_margin_rate", "maintenance_amount", "max_leverage",
           "rate_per_quantity")  # fmt: skip


def _plain(value: Decimal | None) -> str:
    """``0.0065``, ``125``, ``no cap``: a number as it reads, not as it was written."""
    return "no cap" if value is None else format(value.normalize(), "f")


def _first_difference(old: TierTable, new: TierTable) -> tuple[str, Tier | None, Tier | None]:
    if old.basis != new.basis:
        return f"tiers by {old.basis} -> by {new.basis}", None, None
    for i in range(max(len(old.tiers), len(new.tiers))):
        a = old.tiers[i] if i < len(old.tiers) else None
        b = new.tiers[i] if i < len(new.tiers) else None
        if a is None or b is None:
            what = "added" if a is None else "removed"
            return f"tier {i + 1} {what}", a, b
        fields = [f for f in _FIELDS if getattr(a, f) != getattr(b, f)]
        imrs = (a.initial_margin_rate, b.initial_margin_rate)
        if None not in imrs and imrs[0] != imrs[1]:
            fields.append("initial_margin_rate")
        if fields:
            parts = ", ".join(
                f"{f} {_plain(getattr(a, f))} -> {_plain(getattr(b, f))}" for f in fields
            )
            return f"tier {i + 1}: {parts}", a, b
    return "", None, None


def diff_venues(old: Venue, new: Venue, *, delisted: Sequence[str] | None = None) -> VenueDiff:
    """Symbols added and removed (matched by ccxt symbol) and, for each symbol both list,
    whether its tier table changed and the first differing tier. ``delisted``: the old
    venue's symbols to report as removed (default: every one ``new`` lacks)."""
    old_by = {s.ccxt_symbol: s for s in old.symbols.values()}
    new_by = {s.ccxt_symbol: s for s in new.symbols.values()}
    added = tuple(sorted(new_by[c].symbol for c in set(new_by) - set(old_by)))
    if delisted is None:
        removed = tuple(sorted(old_by[c].symbol for c in set(old_by) - set(new_by)))
    else:
        removed = tuple(sorted(delisted))
    changes = []
    for c in sorted(set(old_by) & set(new_by)):
        text, a, b = _first_difference(old_by[c].tiers, new_by[c].tiers)
        changes.append(TierChange(new_by[c].symbol, bool(text), text, a, b))
    return VenueDiff(added=added, removed=removed, tiers=tuple(changes))


# ----------------------------------------------------------------------------- refresh


def refresh_venue(
    venue_id: str,
    *,
    exchange: Any = None,
    symbols: Sequence[str] | None = None,
    today: date | str | None = None,
) -> RefreshResult:
    """Read ``venue_id``'s markets and leverage tiers from the exchange's public API.

    Parameters
    ----------
    venue_id
        A bundled venue (``"binance-usdm"``, ``"bybit-linear"``, ...; see
        :data:`REFRESH_EXCHANGES`).
    exchange
        A ccxt exchange object (or a stand-in with ``id``, ``has``, ``load_markets`` and
        ``fetch_leverage_tiers``); by default one is made by :func:`make_exchange`.
    symbols
        Refresh only these (venue names such as ``BTCUSDT`` or ccxt symbols); default:
        every perpetual of the venue's kind the exchange lists.
    today
        The date written as ``as_of`` (default: today).

    Raises
    ------
    RefreshError
        Unknown venue, ccxt missing, the exchange unreachable or refusing, or no symbol
        with tiers to write.
    """
    target = _target(venue_id)
    base = load_venue(venue_id)
    raw = _bundled_doc(venue_id)
    day = today.isoformat() if isinstance(today, date) else (today or date.today().isoformat())
    ex = exchange if exchange is not None else make_exchange(venue_id)
    ex_id = str(getattr(ex, "id", target.exchange))
    version = _ccxt_version()
    notes: list[str] = []

    markets = _call(ex_id, "load_markets", ex.load_markets)
    perps = _perpetuals(markets, target, getattr(ex, "precisionMode", None))
    if not perps:
        raise RefreshError(f"{ex_id} lists no {target.kind} perpetual swaps for {venue_id}")
    picked = _pick(symbols, perps, base)
    tiers = _fetch_tiers(ex, ex_id, picked, notes)
    tiers_public = tiers is not None

    bundled_by = {s.ccxt_symbol: s for s in base.symbols.values()}
    delisted = sorted(s.symbol for c, s in bundled_by.items() if c not in perps)
    left_out = sorted(s.symbol for c, s in bundled_by.items() if c in perps and c not in picked)
    if left_out:
        notes.append(f"not asked for, left out: {', '.join(left_out)}")
    endpoint = f" = {target.endpoint}" if target.endpoint else ""
    tiers_source = f"{version} {ex_id}.fetch_leverage_tiers (public{endpoint}), read {day}"
    grid_source = f"{version} {ex_id}.load_markets (precision, limits.amount), read {day}"

    docs: dict[str, dict[str, Any]] = {}
    specs: dict[str, SymbolSpec] = {}
    kept: list[str] = []
    no_tiers: list[str] = []
    for sym in picked:
        rows = None if tiers is None else tiers.get(sym)
        got: Venue | None = None
        for attempt in (rows,) if not rows else (rows, None):
            try:
                got = venue_from_ccxt(
                    base,
                    markets=[perps[sym]],
                    leverage_tiers={sym: attempt} if attempt else None,
                )
                rows = attempt
                break
            except CcxtFormatError as exc:
                notes.append(f"{sym}: {exc}")
        spec = (
            None
            if got is None
            else next((s for s in got.symbols.values() if s.ccxt_symbol == sym), None)
        )
        if spec is None:  # unusable, or not bundled and no tiers to model it with
            no_tiers.append(sym)
            continue
        old = bundled_by.get(sym)
        if rows:
            spec = _with_source(spec, tiers_source, day)
        else:
            assert old is not None
            kept.append(spec.symbol)
            spec = _with_source(
                spec,
                f"kept from bundled {venue_id}.json version {base.version}: {ex_id} served "
                f"no public tiers for it ({version}). {old.tiers_source}",
                old.tiers_as_of,
            )
        specs[spec.symbol] = spec
        docs[spec.symbol] = _symbol_doc(
            spec, raw["symbols"].get(old.symbol) if old else None, grid_source
        )
    if no_tiers:
        notes.append(
            f"no tiers, so not added ({len(no_tiers)}): {', '.join(no_tiers[:10])}"
            + (" ..." if len(no_tiers) > 10 else "")
        )
    if not docs:
        raise RefreshError(f"nothing to write: {ex_id} served no tiers for {', '.join(picked)}")

    # the bundled file's tables (its own symbols, a tier snapshot, what it lacked) are
    # replaced by what was read; its rules, fees and liquidation process are kept
    document = {k: v for k, v in raw.items() if k not in _TABLE_KEYS}
    if document.get("default_settle") not in {s.settle for s in specs.values()}:
        document.pop("default_settle", None)
    document.update(
        {
            "version": _next_version(base.version, day),
            "as_of": day,
            "source": (
                f"{version} {ex_id} public API (load_markets"
                f"{', fetch_leverage_tiers' if tiers_public else ''}), read {day}; rules, fees "
                f"and liquidation process from bundled {venue_id}.json version {base.version}"
            ),
            "symbols": docs,
        }
    )
    if notes:
        document["missing"] = "; ".join(notes)
    venue = parse_venue(document, f"refreshed {venue_id}")
    return RefreshResult(
        document=document,
        venue=venue,
        diff=diff_venues(base, venue, delisted=delisted),
        exchange=ex_id,
        tiers_public=tiers_public,
        kept_bundled_tiers=tuple(kept),
        notes=notes,
    )


def _with_source(spec: SymbolSpec, source: str, as_of: str) -> SymbolSpec:
    return replace(spec, tiers_source=source, tiers_as_of=as_of)
