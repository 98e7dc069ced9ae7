"""Load and validate venue files (bundled under ``venues/data`` or the user's own).

A venue file is JSON with ``schema: "perpmargin.venue/1"``. Numbers are strings so they
parse exactly. Every error names the file and the field that failed.
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, cast

from perpmargin.errors import UnknownVenue, VenueDataError
from perpmargin.numeric import ONE, ZERO, to_decimal
from perpmargin.venues.schema import (
    AdlRules,
    LiquidationProcess,
    LiquidationRules,
    SymbolSpec,
    Tier,
    TierBasis,
    TierTable,
    Venue,
    VenueRules,
)

__all__ = ["bundled_venues", "load_venue", "parse_tiers", "venue_summary", "with_snapshot"]

SCHEMA = "perpmargin.venue/1"
_MM_CONTINUITY_TOLERANCE = Decimal("0.01")  # settle-asset units; data rounded MMRs (Hyperliquid)


def bundled_venues() -> list[str]:
    """Names of the venue files shipped with the package."""
    return list(_bundled_names())


@functools.cache
def _bundled_names() -> tuple[str, ...]:
    # the package's files do not change while it runs: one directory listing a process
    root = resources.files("perpmargin.venues") / "data"
    return tuple(
        sorted(p.name[: -len(".json")] for p in root.iterdir() if p.name.endswith(".json"))
    )


def load_venue(name_or_path: str | Path, *, as_of: str | None = None) -> Venue:
    """Load a bundled venue by name (``"binance-usdm"``) or a venue JSON file by path.

    ``as_of`` (``"2022-11-08"``): the tier tables of that day for the symbols whose
    history is bundled (``venues/data/history/<venue>.json``: Binance USDⓈ-M BTCUSDT and
    ETHUSDT since 2022-02), each symbol's ``tiers_source`` saying which version; a day
    before the first known table gets the first, said there too.

    Raises
    ------
    UnknownVenue
        No bundled venue of that name and no such file.
    VenueDataError
        The file fails validation (the message names the file and the field), or
        ``as_of`` is not a date.
    """
    if as_of is not None:
        day = _day(as_of)
        if isinstance(name_or_path, str) and name_or_path in _bundled_names():
            return _bundled_as_of(name_or_path, day)
        return _as_of(load_venue(name_or_path), day)
    if isinstance(name_or_path, str) and name_or_path in _bundled_names():
        return _bundled(name_or_path)
    return _load(name_or_path)


def _day(text: str) -> str:
    import datetime as dt

    try:
        return dt.date.fromisoformat(str(text)[:10]).isoformat()
    except ValueError:
        raise VenueDataError(f"as_of must be a date like 2022-11-08, was {text!r}") from None


@functools.cache
def _history(venue_id: str) -> dict[str, Any] | None:
    res = resources.files("perpmargin.venues") / "data" / "history" / f"{venue_id}.json"
    if not res.is_file():
        return None
    doc = json.loads(res.read_text(encoding="utf-8"))
    if doc.get("schema") != "perpmargin.tier-history/1":
        raise VenueDataError(f"history/{venue_id}.json: not a perpmargin tier history")
    return cast(dict[str, Any], doc)


@functools.lru_cache(maxsize=64)
def _bundled_as_of(name: str, day: str) -> Venue:
    return _as_of(_bundled(name), day)


def _as_of(venue: Venue, day: str) -> Venue:
    """``venue`` with each historied symbol's table in force on ``day``."""
    doc = _history(venue.id)
    if doc is None:
        return venue
    symbols = dict(venue.symbols)
    for sym, versions in doc["symbols"].items():
        if sym not in symbols or not versions:
            continue
        earlier = [v for v in versions if v["since"] <= day]
        chosen = earlier[-1] if earlier else versions[0]
        where = f"history/{venue.id}.json {sym} since {chosen['since']}"
        said = (
            f"the table first seen {chosen['since']} (commit {chosen['commit'][:12]}) of "
            f"{doc['source']}"
        )
        if not earlier:
            said = f"no table known for {day}; the earliest known: " + said
        symbols[sym] = replace(
            symbols[sym],
            tiers=parse_tiers(chosen["tiers"], "notional", where),
            tiers_source=said,
            tiers_as_of=chosen["since"],
        )
    return replace(venue, symbols=symbols)


@functools.cache
def _bundled(name: str) -> Venue:
    """A bundled venue, parsed once a process (Venue and its tables are immutable;
    Binance's 682-symbol tier snapshot takes ~0.1 s to read)."""
    return _load(name)


def _load(name_or_path: str | Path) -> Venue:
    text: str
    label: str
    if isinstance(name_or_path, str) and name_or_path in bundled_venues():
        res = resources.files("perpmargin.venues") / "data" / f"{name_or_path}.json"
        text = res.read_text(encoding="utf-8")
        label = f"{name_or_path}.json"
        folder: Any = resources.files("perpmargin.venues") / "data" / "snapshots"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise UnknownVenue(
                f"no bundled venue and no file named {str(name_or_path)!r}; "
                f"bundled: {', '.join(bundled_venues())}"
            )
        text = path.read_text(encoding="utf-8")
        label = str(path)
        folder = path.parent  # a user's file names a snapshot beside it (or a bundled one)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VenueDataError(f"{label}: not valid JSON ({exc})") from None
    if isinstance(doc, dict) and "tier_snapshot" in doc:
        doc = with_snapshot(doc, folder, label)
    if isinstance(doc, dict) and "dated_futures" in doc:
        doc = with_dated_futures(doc, label)
    return parse_venue(doc, label)


def with_dated_futures(doc: dict[str, Any], label: str) -> dict[str, Any]:
    """``doc`` with its ``dated_futures`` (symbols with an ``expiry``) among its symbols,
    not among those it features (:attr:`~perpmargin.venues.schema.Venue.featured`: the
    perpetuals the fast paths and pickers start from)."""
    dated = doc["dated_futures"]
    if not isinstance(dated, Mapping) or not all(
        isinstance(v, Mapping) and v.get("expiry") for v in dated.values()
    ):
        raise VenueDataError(f"{label}.dated_futures maps a symbol to a contract with an expiry")
    symbols = dict(_req(doc, "symbols", label))
    clash = sorted(set(symbols) & set(dated))
    if clash:
        raise VenueDataError(f"{label}.dated_futures repeats symbols: {', '.join(clash)}")
    listed = doc.get("_listed") or sorted(symbols)
    out = {k: v for k, v in doc.items() if k != "dated_futures"}
    return {**out, "symbols": {**symbols, **dated}, "_listed": listed}


_SNAPSHOT_GRID = (
    "unknown: the tier snapshot holds no price or quantity grid, so prices and sizes of "
    "this symbol are not rounded to the venue's (tick and step 1e-8) and no order-size "
    "limit is applied"
)


def with_snapshot(doc: dict[str, Any], folder: Any, label: str) -> dict[str, Any]:
    """``doc`` with every symbol of its ``tier_snapshot`` (a gzip JSON file in ``folder``)
    that it does not list itself: the snapshot's tiers, a linear contract settled in
    its quote, and no price or size grid (said in ``grid_source``). Symbols the venue
    file lists keep their own tables."""
    name = doc["tier_snapshot"]
    if not isinstance(name, str) or "/" in name or "\\" in name or not name.endswith(".json.gz"):
        raise VenueDataError(f"{label}.tier_snapshot must be a file name ending .json.gz")
    bundled = resources.files("perpmargin.venues") / "data" / "snapshots" / name
    here = folder / name
    try:
        # a user's copy of a bundled file may name the bundled snapshot without copying it
        raw = (here if here.is_file() or not bundled.is_file() else bundled).read_bytes()
        snap = json.loads(gzip.decompress(raw))
    except (OSError, ValueError) as exc:
        raise VenueDataError(f"{label}.tier_snapshot {name}: cannot be read ({exc})") from None
    where = f"{label}.tier_snapshot {name}"
    if not isinstance(snap, dict) or snap.get("schema") != "perpmargin.tier-snapshot/1":
        raise VenueDataError(f"{where}: not a perpmargin tier snapshot")
    symbols = dict(_req(doc, "symbols", label))
    for sym, entry in _req(snap, "symbols", where).items():
        if sym in symbols:
            continue
        ccxt_symbol = str(_req(entry, "ccxt_symbol", f"{where}.{sym}"))
        pair, _, settle = ccxt_symbol.partition(":")
        base, _, quote = pair.partition("/")
        symbols[sym] = {
            "ccxt_symbol": ccxt_symbol,
            "base": base,
            "quote": quote,
            "settle": settle,
            "contract": "linear",
            "tick_size": "0.00000001",
            "step_size": "0.00000001",
            "min_quantity": "0.00000001",
            "max_quantity": "1000000000000",
            "grid_source": _SNAPSHOT_GRID,
            "tier_basis": "notional",
            "tiers": _req(entry, "tiers", f"{where}.{sym}"),
            "tiers_source": str(_req(snap, "source", where)),
            "tiers_as_of": str(_req(snap, "as_of", where)),
        }
    own = {str(s.get("settle")) for s in doc["symbols"].values() if isinstance(s, Mapping)}
    default = doc.get("default_settle", own.pop() if len(own) == 1 else None)
    listed = sorted(doc["symbols"])
    return {**doc, "symbols": symbols, "default_settle": default, "_listed": listed}


_KEYS: dict[str, frozenset[str]] = {
    "venue": frozenset(
        ("schema", "id", "name", "version", "as_of", "source", "settle_precision", "rules",
         "fees", "liquidation", "funding", "symbols", "historical_tiers", "missing",
         "tier_snapshot", "default_settle", "_listed", "dated_futures")
    ),
    "rules": frozenset(
        ("default_leverage", "default_margin_mode", "default_position_mode",
         "leverage_decrease_with_position", "margin_mode_scope",
         "margin_mode_switch_blocked_by_open_orders", "open_loss_in_cost",
         "position_mode_switch_blocked_by_open_orders", "position_modes", "remove_margin",
         "sources")
    ),
    "fees": frozenset(("maker", "taker", "source")),
    "funding": frozenset(("interval_hours", "source")),
    "liquidation": frozenset(
        ("adl", "as_of", "bankruptcy_price_rounding", "bankruptcy_price_rounding_source",
         "close_fee_basis", "close_fee_in_initial_margin", "close_fee_in_initial_margin_source",
         "close_fee_in_maintenance", "fee_basis", "fee_rate", "maintenance_rule", "process",
         "remainder_to", "source", "trigger")
    ),
    "process": frozenset(
        ("kind", "fraction", "min_notional", "cooldown_seconds", "backstop_ratio",
         "tiers_per_step", "source")
    ),
    "adl": frozenset(("ranking", "price", "source")),
    "symbol": frozenset(
        ("base", "quote", "settle", "ccxt_symbol", "contract", "contract_value", "tick_size",
         "step_size", "min_quantity", "max_quantity", "liquidation_fee_rate", "margin_modes",
         "funding_interval_hours", "tier_basis", "tiers", "tiers_as_of", "tiers_source",
         "grid_source", "expiry", "expiry_source")
    ),
    "tier": frozenset(
        ("tier", "min_notional", "max_notional", "min_quantity", "max_quantity",
         "maintenance_margin_rate", "maintenance_amount", "max_leverage", "initial_margin_rate",
         "rate_per_quantity")
    ),
}  # fmt: skip
"""The fields each object of a venue file may have (data, and where it was read:
``source``, ``as_of``, ``missing``). Anything else is refused: a misspelt field would
otherwise load silently as its default."""


def _only(doc: Any, kind: str, where: str) -> None:
    """Refuse a field :data:`_KEYS` does not name for objects of ``kind``."""
    if isinstance(doc, Mapping):
        unknown = sorted(set(doc) - _KEYS[kind])
        if unknown:
            raise VenueDataError(
                f"{where} has unknown field(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(sorted(_KEYS[kind]))}"
            )


def _req(doc: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(doc, Mapping):
        raise VenueDataError(f"{where} must be an object")
    if key not in doc:
        raise VenueDataError(f"{where}.{key} is missing")
    return doc[key]


def _dec(doc: Mapping[str, Any], key: str, where: str, **kw: bool) -> Decimal:
    value = _req(doc, key, where)
    if isinstance(value, float):
        raise VenueDataError(f"{where}.{key} must be a string or integer, not a float ({value})")
    try:
        return to_decimal(value, f"{where}.{key}", **kw)
    except VenueDataError:
        raise
    except Exception as exc:
        raise VenueDataError(str(exc)) from None


def _choice(doc: Mapping[str, Any], key: str, where: str, allowed: tuple[str, ...]) -> str:
    value = _req(doc, key, where)
    if value not in allowed:
        raise VenueDataError(f"{where}.{key} must be one of {allowed}, was {value!r}")
    return cast(str, value)


# complexity waived (C901): one check per column of a tier table
def parse_tiers(rows: list[Any], basis: TierBasis, where: str) -> TierTable:  # noqa: C901
    """Validate a tier list and build a :class:`TierTable`.

    Checks: at least one tier; the first starts at 0; each starts where the previous
    ends; bounds increase; only the last may be uncapped; 0 < MMR < 1/max leverage;
    MMR does not fall and max leverage does not rise with size; for notional tiers the
    maintenance amounts keep maintenance margin continuous at each boundary.
    """
    if not isinstance(rows, list) or not rows:
        raise VenueDataError(f"{where}: tiers must be a non-empty list")
    lo_key, hi_key = (
        ("min_notional", "max_notional")
        if basis == "notional"
        else ("min_quantity", "max_quantity")
    )
    tiers: list[Tier] = []
    for i, row in enumerate(rows):
        w = f"{where}.tiers[{i}]"
        _only(row, "tier", w)
        lower = _dec(row, lo_key, w, non_negative=True)
        upper_raw = _req(row, hi_key, w)
        upper = None if upper_raw is None else _dec(row, hi_key, w, positive=True)
        mmr = _dec(row, "maintenance_margin_rate", w, positive=True)
        amount = _dec(row, "maintenance_amount", w, non_negative=True)
        lev = _dec(row, "max_leverage", w, positive=True)
        imr = (
            _dec(row, "initial_margin_rate", w, positive=True)
            if row.get("initial_margin_rate") is not None
            else None
        )
        slope = (
            _dec(row, "rate_per_quantity", w, non_negative=True)
            if row.get("rate_per_quantity") is not None
            else ZERO
        )
        if slope:
            if len(rows) != 1:
                raise VenueDataError(
                    f"{w}.rate_per_quantity: a rate that grows with size takes a table of one "
                    f"tier (it has {len(rows)})"
                )
            if imr is None or imr * lev > ONE:
                raise VenueDataError(
                    f"{w}: a tier with rate_per_quantity needs initial_margin_rate, and "
                    "max_leverage at most 1 / initial_margin_rate"
                )
        if lev < ONE:
            raise VenueDataError(f"{w}.max_leverage must be >= 1, was {lev}")
        if mmr * lev >= ONE:
            raise VenueDataError(
                f"{w}.maintenance_margin_rate {mmr} must be below 1/max_leverage ({ONE / lev:.6f})"
            )
        if upper is not None and upper <= lower:
            raise VenueDataError(f"{w}.{hi_key} {upper} must be above {lo_key} {lower}")
        if i == 0 and lower != ZERO:
            raise VenueDataError(f"{w}.{lo_key} must be 0 for the first tier, was {lower}")
        if i > 0:
            prev = tiers[-1]
            if prev.upper is None:
                raise VenueDataError(f"{where}.tiers[{i - 1}].{hi_key} is null but is not last")
            if lower != prev.upper:
                raise VenueDataError(
                    f"{w}.{lo_key} {lower} must equal the previous tier's {hi_key} {prev.upper} "
                    "(tiers must be contiguous)"
                )
            if mmr < prev.maintenance_margin_rate:
                raise VenueDataError(f"{w}.maintenance_margin_rate must not fall with size")
            if lev > prev.max_leverage:
                raise VenueDataError(f"{w}.max_leverage must not rise with size")
            if basis == "notional":
                expected = prev.maintenance_amount + lower * (mmr - prev.maintenance_margin_rate)
                if abs(expected - amount) > _MM_CONTINUITY_TOLERANCE:
                    raise VenueDataError(
                        f"{w}.maintenance_amount {amount} breaks maintenance-margin continuity "
                        f"at {lower} (expected {expected})"
                    )
        tiers.append(
            Tier(
                tier=int(row.get("tier", i + 1)),
                lower=lower,
                upper=upper,
                maintenance_margin_rate=mmr,
                maintenance_amount=amount,
                max_leverage=lev,
                initial_margin_rate=imr,
                rate_per_quantity=slope,
            )
        )
    return TierTable(basis=basis, tiers=tuple(tiers))


def _parse_symbol(
    name: str, doc: Mapping[str, Any], where: str, default_liq_fee: Decimal, funding_h: int
) -> SymbolSpec:
    _only(doc, "symbol", where)
    contract = _choice(doc, "contract", where, ("linear", "inverse"))
    basis = cast(TierBasis, _choice(doc, "tier_basis", where, ("notional", "quantity")))
    if contract == "inverse":
        if basis != "notional":
            raise VenueDataError(f"{where}: an inverse contract's tiers are by notional (coin)")
        if doc.get("contract_value") is None:
            raise VenueDataError(f"{where}.contract_value (USD per contract) is required")
        _dec(doc, "contract_value", where, positive=True)
    step = _dec(doc, "step_size", where, positive=True)
    min_q = _dec(doc, "min_quantity", where, positive=True)
    max_q = _dec(doc, "max_quantity", where, positive=True)
    if max_q < min_q:
        raise VenueDataError(f"{where}.max_quantity must be >= min_quantity")
    modes = tuple(doc.get("margin_modes", ("isolated", "cross")))
    for m in modes:
        if m not in ("isolated", "cross"):
            raise VenueDataError(f"{where}.margin_modes has unknown mode {m!r}")
    liq_fee = (
        _dec(doc, "liquidation_fee_rate", where, non_negative=True)
        if "liquidation_fee_rate" in doc
        else default_liq_fee
    )
    interval = int(doc.get("funding_interval_hours", funding_h))
    if interval <= 0:
        raise VenueDataError(f"{where}.funding_interval_hours must be > 0")
    cv = doc.get("contract_value")
    expiry = _expiry(doc, where)
    tiers = parse_tiers(_req(doc, "tiers", where), basis, where)
    if tiers.size_scaled:
        if contract != "linear":
            raise VenueDataError(
                f"{where}: rate_per_quantity is for linear contracts (an inverse position's "
                "size in the coin moves with the price)"
            )
        top = tiers.tier_for(max_q, ZERO)
        if top.initial_margin_rate is None or top.initial_margin_rate >= ONE:
            raise VenueDataError(
                f"{where}: at max_quantity {max_q} the initial margin rate grown with size "
                f"reaches {top.initial_margin_rate}; lower max_quantity below 100 %"
            )
    return SymbolSpec(
        symbol=name,
        ccxt_symbol=str(_req(doc, "ccxt_symbol", where)),
        base=str(_req(doc, "base", where)),
        quote=str(_req(doc, "quote", where)),
        settle=str(_req(doc, "settle", where)),
        contract=cast(Any, contract),
        tick_size=_dec(doc, "tick_size", where, positive=True),
        step_size=step,
        min_quantity=min_q,
        max_quantity=max_q,
        liquidation_fee_rate=liq_fee,
        funding_interval_hours=interval,
        tiers=tiers,
        margin_modes=cast(Any, modes),
        tiers_source=str(doc.get("tiers_source", "")),
        tiers_as_of=str(doc.get("tiers_as_of", "")),
        contract_value=None if cv is None else to_decimal(cv, f"{where}.contract_value"),
        grid_source=str(doc.get("grid_source", "")),
        expiry=expiry,
        expiry_source=str(doc.get("expiry_source", "")),
    )


def _expiry(doc: Mapping[str, Any], where: str) -> str:
    """A dated future's ``expiry`` (ISO 8601 in UTC, with its ``expiry_source``), or ""."""
    expiry = str(doc.get("expiry", ""))
    if not expiry:
        return ""
    import datetime as dt

    try:
        when = dt.datetime.fromisoformat(expiry.replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.utcoffset() != dt.timedelta(0):
        raise VenueDataError(
            f"{where}.expiry must be an ISO time in UTC like 2026-03-27T08:00:00Z, was {expiry!r}"
        )
    if not doc.get("expiry_source"):
        raise VenueDataError(f"{where}.expiry_source: say where the delivery time is from")
    return expiry


def _flag(doc: Mapping[str, Any], key: str, where: str) -> bool:
    """An optional true/false field (false when absent)."""
    value = doc.get(key, False)
    if not isinstance(value, bool):
        raise VenueDataError(f"{where}.{key} must be true or false, was {value!r}")
    return value


def _parse_process(doc: Any, where: str) -> LiquidationProcess:
    if doc is None:
        return LiquidationProcess()
    _only(doc, "process", where)
    kind = _choice(doc, "kind", where, ("full", "tiered_partial", "fractional"))
    fraction = _dec(doc, "fraction", where, positive=True) if "fraction" in doc else ONE
    if fraction > ONE:
        raise VenueDataError(f"{where}.fraction must be in (0, 1], was {fraction}")
    ratio = None
    if doc.get("backstop_ratio") is not None:
        raw = doc["backstop_ratio"]
        if isinstance(raw, str) and "/" in raw:  # "2/3" as the venue states it
            num, _, den = raw.partition("/")
            ratio = to_decimal(num, f"{where}.backstop_ratio") / to_decimal(
                den, f"{where}.backstop_ratio", positive=True
            )
        else:
            ratio = _dec(doc, "backstop_ratio", where, positive=True)
        if not ZERO < ratio < ONE:
            raise VenueDataError(f"{where}.backstop_ratio must be in (0, 1), was {raw}")
    cooldown = doc.get("cooldown_seconds", 0)
    if isinstance(cooldown, bool) or not isinstance(cooldown, int) or cooldown < 0:
        raise VenueDataError(f"{where}.cooldown_seconds must be a whole number >= 0")
    step = doc.get("tiers_per_step", 1)
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise VenueDataError(f"{where}.tiers_per_step must be a whole number >= 1, was {step!r}")
    return LiquidationProcess(
        kind=cast(Any, kind),
        tiers_per_step=step,
        fraction=fraction,
        min_notional=_dec(doc, "min_notional", where, non_negative=True)
        if "min_notional" in doc
        else ZERO,
        cooldown_seconds=cooldown,
        backstop_ratio=ratio,
        source=str(doc.get("source", "")),
    )


def _parse_adl(doc: Any, where: str) -> AdlRules | None:
    if doc is None:
        return None
    _only(doc, "adl", where)
    ranking = _choice(
        doc, "ranking", where, ("pnl_ratio_x_effective_leverage", "pnl_ratio_x_set_leverage")
    )
    price = doc.get("price", "bankruptcy")
    if price not in ("bankruptcy", "previous_mark"):
        raise VenueDataError(
            f"{where}.price must be 'bankruptcy' or 'previous_mark', was {price!r}"
        )
    return AdlRules(
        ranking=cast(Any, ranking), source=str(doc.get("source", "")), price=cast(Any, price)
    )


def parse_venue(doc: Any, label: str) -> Venue:
    """Validate a parsed venue document; ``label`` names it in errors."""
    if not isinstance(doc, Mapping):
        raise VenueDataError(f"{label}: top level must be an object")
    schema = doc.get("schema")
    if schema != SCHEMA:
        raise VenueDataError(f"{label}: schema must be {SCHEMA!r}, was {schema!r}")
    _only(doc, "venue", label)
    for kind in ("rules", "fees", "funding", "liquidation"):
        _only(doc.get(kind), kind, f"{label}.{kind}")
    for key in ("id", "name", "version", "as_of", "source"):
        if not isinstance(_req(doc, key, label), str) or not doc[key]:
            raise VenueDataError(f"{label}.{key} must be a non-empty string")
    r = _req(doc, "rules", label)
    w = f"{label}.rules"
    lev_dec = _req(r, "leverage_decrease_with_position", w)
    position_modes = tuple(_req(r, "position_modes", w))
    for m in position_modes:
        if m not in ("one-way", "hedge"):
            raise VenueDataError(f"{w}.position_modes has unknown mode {m!r}")
    rules = VenueRules(
        default_margin_mode=cast(Any, _choice(r, "default_margin_mode", w, ("isolated", "cross"))),
        default_position_mode=cast(
            Any, _choice(r, "default_position_mode", w, ("one-way", "hedge"))
        ),
        position_modes=cast(Any, position_modes),
        margin_mode_scope=cast(Any, _choice(r, "margin_mode_scope", w, ("symbol", "account"))),
        margin_mode_switch_blocked_by_open_orders=bool(
            _req(r, "margin_mode_switch_blocked_by_open_orders", w)
        ),
        position_mode_switch_blocked_by_open_orders=bool(
            _req(r, "position_mode_switch_blocked_by_open_orders", w)
        ),
        isolated_leverage_decrease_with_position=bool(_req(lev_dec, "isolated", w)),
        cross_leverage_decrease_with_position=bool(_req(lev_dec, "cross", w)),
        remove_margin=bool(_req(r, "remove_margin", w)),
        default_leverage=_dec(r, "default_leverage", w, positive=True)
        if "default_leverage" in r
        else Decimal(20),
        sources=dict(r.get("sources", {})),
        open_loss_in_cost=_flag(r, "open_loss_in_cost", w),
    )
    if rules.default_position_mode not in rules.position_modes:
        raise VenueDataError(f"{w}.default_position_mode is not in position_modes")
    fees = _req(doc, "fees", label)
    maker = _dec(fees, "maker", f"{label}.fees")
    taker = _dec(fees, "taker", f"{label}.fees", non_negative=True)
    if not (-1 < maker < 1) or taker >= 1:
        raise VenueDataError(f"{label}.fees: rates must be fractions")
    liq = _req(doc, "liquidation", label)
    lw = f"{label}.liquidation"
    liquidation = LiquidationRules(
        fee_rate=_dec(liq, "fee_rate", lw, non_negative=True),
        remainder_to=cast(Any, _choice(liq, "remainder_to", lw, ("insurance_fund", "trader"))),
        close_fee_in_maintenance=bool(_req(liq, "close_fee_in_maintenance", lw)),
        close_fee_in_initial_margin=_flag(liq, "close_fee_in_initial_margin", lw),
        bankruptcy_price_rounding=cast(
            Any,
            _choice(liq, "bankruptcy_price_rounding", lw, ("adverse", "favourable"))
            if "bankruptcy_price_rounding" in liq
            else "adverse",
        ),
        trigger=cast(Any, _choice(liq, "trigger", lw, ("mark",))),
        maintenance_rule=cast(
            Any,
            _choice(liq, "maintenance_rule", lw, ("tiers", "half_initial_at_max_leverage"))
            if "maintenance_rule" in liq
            else "tiers",
        ),
        close_fee_basis=cast(
            Any,
            _choice(liq, "close_fee_basis", lw, ("liquidation", "bankruptcy"))
            if "close_fee_basis" in liq
            else "liquidation",
        ),
        source=str(liq.get("source", "")),
        process=_parse_process(liq.get("process"), f"{lw}.process"),
        adl=_parse_adl(liq.get("adl"), f"{lw}.adl"),
    )
    funding_h = int(_req(_req(doc, "funding", label), "interval_hours", f"{label}.funding"))
    raw_symbols = _req(doc, "symbols", label)
    if not isinstance(raw_symbols, Mapping) or not raw_symbols:
        raise VenueDataError(f"{label}.symbols must be a non-empty object")
    symbols = {
        name: _parse_symbol(name, s, f"{label}.symbols.{name}", liquidation.fee_rate, funding_h)
        for name, s in raw_symbols.items()
    }
    return Venue(
        id=doc["id"],
        name=doc["name"],
        version=doc["version"],
        as_of=doc["as_of"],
        source=doc["source"],
        settle_precision=_dec(doc, "settle_precision", label, positive=True),
        rules=rules,
        maker_fee_rate=maker,
        taker_fee_rate=taker,
        fees_source=str(fees.get("source", "")),
        liquidation=liquidation,
        funding_interval_hours=funding_h,
        symbols=symbols,
        path=label,
        default_settle=_default_settle(doc, label),
        listed=tuple(str(x) for x in doc.get("_listed", ())),
    )


def _default_settle(doc: Mapping[str, Any], label: str) -> str | None:
    value = doc.get("default_settle")
    if value is None:
        return None
    if not isinstance(value, str) or value not in {
        str(s.get("settle")) for s in doc["symbols"].values() if isinstance(s, Mapping)
    }:
        raise VenueDataError(f"{label}.default_settle must be a settle asset of its symbols")
    return value


def venue_summary(venue: Venue, symbols: Sequence[str] | None = None) -> dict[str, Any]:
    """A venue's symbols and tier tables as JSON-ready data (Decimals as strings), with
    where and when each table was read (``perpmargin venues NAME --json``, the web app).

    Tables of ``symbols`` (by default :attr:`~perpmargin.venues.schema.Venue.featured`:
    the file's own, not a snapshot's hundreds); ``all_symbols`` names every one."""
    shown = [venue.symbol(x) for x in (symbols if symbols is not None else venue.featured)]
    return {
        "id": venue.id,
        "name": venue.name,
        "version": venue.version,
        "as_of": venue.as_of,
        "default_margin_mode": venue.rules.default_margin_mode,
        "all_symbols": sorted(venue.symbols),
        "symbols": {
            s.symbol: {
                "ccxt_symbol": s.ccxt_symbol,
                "settle": s.settle,
                "contract": s.contract,
                "contract_value": None if s.contract_value is None else str(s.contract_value),
                "tick_size": str(s.tick_size),
                "step_size": str(s.step_size),
                "liquidation_fee_rate": str(s.liquidation_fee_rate),
                "funding_interval_hours": s.funding_interval_hours,
                "tiers_basis": s.tiers.basis,
                "tiers_source": s.tiers_source,
                "tiers_as_of": s.tiers_as_of,
                "tiers": [
                    {
                        "tier": t.tier,
                        "lower": str(t.lower),
                        "upper": None if t.upper is None else str(t.upper),
                        "maintenance_margin_rate": str(t.maintenance_margin_rate),
                        "maintenance_amount": str(t.maintenance_amount),
                        "max_leverage": str(t.max_leverage),
                        "initial_margin_rate": None
                        if t.initial_margin_rate is None
                        else str(t.initial_margin_rate),
                        "rate_per_quantity": str(t.rate_per_quantity),
                    }
                    for t in s.tiers.tiers
                ],
            }
            for s in shown
        },
    }
