"""Import ccxt's unified ``fetch_positions`` / ``fetch_balance`` / ``fetch_leverage_tiers`` /
``fetch_markets`` output (saved as JSON) into an exact :class:`~perpmargin.Account`.

What is read, per ccxt structure (https://docs.ccxt.com, Unified API):

- **Position**: ``symbol``, ``side``, ``contracts`` (x ``contractSize`` = base quantity
  for a linear contract; an inverse contract's quantity is the contracts themselves,
  each worth ``contractSize`` USD),
  ``entryPrice``, ``markPrice`` (or ``lastPrice``), ``marginMode`` (or the older
  ``isolated`` flag), ``leverage``, ``hedged``; for an isolated position its margin
  without uPnL is ``info.isolatedWallet`` (Binance's raw field), else ``positionMargin``
  (ccxt fills it from that field), else ``collateral - unrealizedPnl`` (ccxt's
  collateral is "affected by pnl": isolatedWallet + uPnL on Binance), else
  ``initialMargin`` (noted). ``liquidationPrice``, ``maintenanceMargin``, ``unrealizedPnl``,
  ``initialMargin``, ``collateral``, ``marginRatio`` are kept as *reported* values for
  :func:`perpmargin.interop.reconcile`.
- **Balance**: the settle currency's ``total`` (``balance[settle]["total"]`` or
  ``balance["total"][settle]``). ccxt fills it with the venue's margin balance (wallet +
  uPnL) on Binance USDⓈ-M, so by default (``balance_kind="equity"``) the wallet is
  ``total - sum(unrealizedPnl)`` of the imported positions; ``balance_kind="wallet"``
  takes it as the wallet. A wallet balance in ``info`` wins when present (Binance's raw
  ``info.assets[].walletBalance``, or ``info.walletBalance`` as perpmargin exports it).
- **Leverage tiers**: ``minNotional``, ``maxNotional``, ``maintenanceMarginRate``,
  ``maxLeverage`` per tier; the maintenance amount is Binance's ``info.cum`` when present,
  else derived so maintenance margin is continuous at each boundary (how the venues
  define it). For a venue whose tiers are by quantity (OKX), ccxt's tier bounds are in
  contracts and are multiplied by the contract size.
- **Market**: ``id``, ``symbol``, ``base``, ``quote``, ``settle``, ``linear``/``inverse``,
  ``contractSize``, ``precision.price`` / ``precision.amount`` (tick sizes, ccxt 4's
  ``TICK_SIZE`` precision mode; amounts in contracts), ``limits.amount.min/max``.
  Inverse (coin-margined) markets keep quantities in contracts and their tiers in the
  coin (Binance COIN-M brackets, Bybit inverse risk limits).
- **Hyperliquid** (ccxt passes ``clearinghouseState`` through in ``info``): ccxt leaves
  ``markPrice`` empty, so the mark is ``|positionValue / szi|`` of ``info.position``
  (noted); an isolated position's margin without uPnL is ``leverage.rawUsd + szi x
  entryPx`` (what the venue's own liquidation price is computed from), else
  ``marginUsed - unrealizedPnl``; the position's ``maxLeverage`` gives its margin tier
  (maintenance rate ``1 / (2 x maxLeverage)``, one tier; noted) unless the bundle has
  ``leverage_tiers`` for it. The balance's ``info.marginSummary`` gives the wallet:
  ``totalRawUsd + sum(szi x entryPx)`` over its ``assetPositions`` (= ``accountValue``
  minus the exact uPnL), else ccxt's ``total`` (``accountValue``) minus the positions' uPnL.
- **Symbols** a venue file lacks come from the bundle's ``markets`` and
  ``leverage_tiers``; without them the refusal names the keys to add. OKX inverse swaps
  (``BTC/USD:BTC``) have no bundled venue file: they are built from the bundle's market
  and tiers on okx-swap's rules.
- **Balance and money** are in the positions' settle currency (USDT, USDC, or the coin
  of inverse contracts); one import is one collateral pool.

The venue's rules (fees, liquidation process, mode switching) come from the bundled or
given venue file; imported tiers and markets replace that file's tables for their
symbols, and markets the file does not list are added (with their tiers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, cast

from perpmargin.engine.account import Account
from perpmargin.engine.insurance import InsuranceFund
from perpmargin.errors import InvalidInput, PerpMarginError, UnknownSymbol, VenueDataError
from perpmargin.interop.ccxt_format import CcxtFormatError, field_decimal, field_text, read_json
from perpmargin.numeric import ZERO, engine_context, is_on_grid, round_to_step
from perpmargin.venues.loader import load_venue, parse_tiers
from perpmargin.venues.schema import MarginMode, SymbolSpec, TierBasis, Venue

__all__ = [
    "CCXT_EXCHANGE_VENUES",
    "CCXT_INVERSE_VENUES",
    "ImportedAccount",
    "ImportedPosition",
    "account_from_ccxt",
    "load_ccxt_bundle",
    "parse_position",
    "venue_for_exchange",
    "venue_from_ccxt",
]

CCXT_EXCHANGE_VENUES: Mapping[str, str] = {
    "binance": "binance-usdm",
    "binanceusdm": "binance-usdm",
    "binancecoinm": "binance-coinm",
    "bybit": "bybit-linear",
    "okx": "okx-swap",
    "gate": "gate-futures",
    "gateio": "gate-futures",
    "hyperliquid": "hyperliquid",
    "dydx": "dydx-v4",
}
"""ccxt exchange id -> bundled venue file."""

_REPORTED = (
    "liquidationPrice",
    "maintenanceMargin",
    "unrealizedPnl",
    "initialMargin",
    "collateral",
    "marginRatio",
    "notional",
)


CCXT_INVERSE_VENUES: Mapping[str, str] = {
    "binance": "binance-coinm",
    "binancecoinm": "binance-coinm",
    "bybit": "bybit-inverse",
}
"""ccxt exchange id -> bundled venue file of its inverse (coin-margined) perpetuals."""


def _inverse_symbol(ccxt_symbol: str) -> bool:
    """``BASE/QUOTE:SETTLE`` with the settle currency the base (``BTC/USD:BTC``)."""
    base, _, rest = ccxt_symbol.partition("/")
    return bool(base) and rest.partition(":")[2] == base


def venue_for_exchange(exchange_id: str, symbols: Sequence[str] = ()) -> str:
    """The bundled venue for a ccxt exchange id (``"binanceusdm"`` -> ``"binance-usdm"``);
    when every one of ``symbols`` (ccxt symbols) is coin-margined (``BTC/USD:BTC``), the
    exchange's inverse venue (``"bybit"`` -> ``"bybit-inverse"``)."""
    if symbols and all(_inverse_symbol(s) for s in symbols):
        inverse = CCXT_INVERSE_VENUES.get(exchange_id)
        if inverse is not None:
            return inverse
    try:
        return CCXT_EXCHANGE_VENUES[exchange_id]
    except KeyError:
        known = ", ".join(sorted(CCXT_EXCHANGE_VENUES))
        raise InvalidInput(
            f"no bundled venue for ccxt exchange {exchange_id!r}; known: {known} "
            "(or pass a venue file)"
        ) from None


@dataclass(frozen=True)
class ImportedPosition:
    """One imported position and what the venue reported for it (Decimals, settle asset)."""

    symbol: str
    ccxt_symbol: str
    side: Literal["long", "short"]
    contracts: Decimal
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal
    margin_mode: MarginMode
    leverage: Decimal
    isolated_margin: Decimal
    reported: Mapping[str, Decimal]
    index: int


@dataclass
class ImportedAccount:
    """An :class:`Account` rebuilt from ccxt data, with what the venue reported."""

    account: Account
    venue: Venue
    positions: tuple[ImportedPosition, ...]
    wallet_balance: Decimal
    balance_source: str
    settle: str
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- venue


def _as_list(doc: Any, label: str) -> list[Any]:
    if isinstance(doc, Mapping):
        return list(doc.values())
    if isinstance(doc, list):
        return doc
    raise CcxtFormatError(f"{label} must be a list (or an object keyed by symbol)")


def _market_fields(market: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The SymbolSpec fields a market gives (tick, step, limits in base units, size)."""
    if not isinstance(market, Mapping):
        raise CcxtFormatError(f"{where} must be an object")
    inverse = _is_inverse(market, where)
    csize = field_decimal(market, "contractSize", where, required=False, positive=True)
    if inverse and csize is None:
        raise CcxtFormatError(f"{where}.contractSize (USD per contract) is needed for inverse")
    csize = csize if csize is not None else Decimal(1)
    unit = Decimal(1) if inverse else csize  # quantities: contracts (inverse) or base units
    precision = market.get("precision") or {}
    if not isinstance(precision, Mapping):
        raise CcxtFormatError(f"{where}.precision must be an object")
    tick = field_decimal(precision, "price", f"{where}.precision", required=False, positive=True)
    step_c = field_decimal(precision, "amount", f"{where}.precision", required=False, positive=True)
    limits = (market.get("limits") or {}).get("amount") or {}
    if not isinstance(limits, Mapping):
        raise CcxtFormatError(f"{where}.limits.amount must be an object")
    min_c = field_decimal(limits, "min", f"{where}.limits.amount", required=False, positive=True)
    max_c = field_decimal(limits, "max", f"{where}.limits.amount", required=False, positive=True)
    fields: dict[str, Any] = {"contract": "inverse" if inverse else "linear"}
    if tick is not None:
        fields["tick_size"] = tick
    if step_c is not None:
        fields["step_size"] = step_c * unit
    if min_c is not None:
        fields["min_quantity"] = min_c * unit
    if max_c is not None:
        fields["max_quantity"] = max_c * unit
    if "contractSize" in market and market["contractSize"] is not None:
        fields["contract_value"] = csize
    return fields


def _is_inverse(market: Mapping[str, Any], where: str) -> bool:
    inverse, linear = market.get("inverse"), market.get("linear")
    for name, value in (("inverse", inverse), ("linear", linear)):
        if value is not None and not isinstance(value, bool):
            raise CcxtFormatError(f"{where}.{name} must be true, false or null, was {value!r}")
    if inverse is not None and linear is not None and inverse == linear:
        raise CcxtFormatError(f"{where}: linear and inverse are both {inverse}")
    return inverse is True or linear is False


def _tier_rows(
    rows: Any, where: str, basis: TierBasis, contract_size: Decimal
) -> list[dict[str, Any]]:
    if not isinstance(rows, list) or not rows:
        raise CcxtFormatError(f"{where} must be a non-empty list of tiers")
    parsed = []
    for i, row in enumerate(rows):
        w = f"{where}[{i}]"
        if not isinstance(row, Mapping):
            raise CcxtFormatError(f"{w} must be an object")
        lo = cast(Decimal, field_decimal(row, "minNotional", w, non_negative=True))
        hi = field_decimal(row, "maxNotional", w, required=False, positive=True)
        mmr = cast(Decimal, field_decimal(row, "maintenanceMarginRate", w, positive=True))
        lev = cast(Decimal, field_decimal(row, "maxLeverage", w, positive=True))
        info: Mapping[str, Any] = row["info"] if isinstance(row.get("info"), Mapping) else {}
        cum = field_decimal(info, "cum", f"{w}.info", required=False, non_negative=True)
        parsed.append((lo, hi, mmr, lev, cum, row.get("tier", i + 1)))
    parsed.sort(key=lambda r: r[0])
    out: list[dict[str, Any]] = []
    amount = ZERO
    for i, (lo, hi, mmr, lev, cum, tier) in enumerate(parsed):
        if i > 0 and basis == "notional":
            prev_mmr = parsed[i - 1][2]
            amount = amount + lo * (mmr - prev_mmr)
        amount = cum if cum is not None else amount
        if basis == "notional":
            out.append(
                {
                    "tier": tier,
                    "min_notional": lo,
                    "max_notional": hi,
                    "maintenance_margin_rate": mmr,
                    "maintenance_amount": amount,
                    "max_leverage": lev,
                }
            )
        else:
            out.append(
                {
                    "tier": tier,
                    "min_quantity": lo * contract_size,
                    "max_quantity": None if hi is None else hi * contract_size,
                    "maintenance_margin_rate": mmr,
                    "maintenance_amount": ZERO,
                    "max_leverage": lev,
                }
            )
    return out


# complexity waived (C901): one branch per field of ccxt's market shapes
def venue_from_ccxt(  # noqa: C901
    venue: Venue | str | Path,
    *,
    markets: Any = None,
    leverage_tiers: Any = None,
) -> Venue:
    """The venue's rules with tables taken from ccxt's markets and leverage tiers.

    ``markets``: ``fetch_markets()`` output (a list) or ``exchange.markets`` (keyed by
    symbol). ``leverage_tiers``: ``fetch_leverage_tiers()`` output (keyed by symbol).
    Symbols the venue file lacks are added when both a market and tiers are given.
    """
    base = venue if isinstance(venue, Venue) else load_venue(venue)
    symbols = dict(base.symbols)
    by_ccxt = {s.ccxt_symbol: s for s in symbols.values()}
    market_fields: dict[str, tuple[Mapping[str, Any], dict[str, Any]]] = {}
    if markets is not None:
        for i, market in enumerate(_as_list(markets, "markets")):
            where = f"markets[{i}]"
            if not isinstance(market, Mapping):
                raise CcxtFormatError(f"{where} must be an object")
            if market.get("swap") is False or market.get("type") not in (None, "swap"):
                continue  # spot, futures with expiry, options: not perpetuals
            sym = field_text(market, "symbol", where)
            assert sym is not None
            market_fields[sym] = (market, _market_fields(market, where))
    tiers_doc: Mapping[str, Any] = {}
    if leverage_tiers is not None:
        if not isinstance(leverage_tiers, Mapping):
            raise CcxtFormatError("leverage_tiers must be an object keyed by ccxt symbol")
        tiers_doc = leverage_tiers
    for sym in sorted(set(market_fields) | set(tiers_doc)):
        spec = by_ccxt.get(sym)
        market, fields = market_fields.get(sym, ({}, {}))
        if spec is None:
            if sym not in tiers_doc or not market:
                continue  # nothing to model it with; only an error if a position uses it
            spec = _new_spec(sym, market, fields, base)
        else:
            if "contract" in fields and fields["contract"] != spec.contract:
                raise CcxtFormatError(
                    f"markets: {sym} is {fields['contract']} but {base.id} lists "
                    f"{spec.symbol} as {spec.contract}"
                )
            spec = replace(spec, **fields)
        if sym in tiers_doc:
            csize = spec.contract_value if spec.contract_value is not None else Decimal(1)
            if spec.contract == "inverse":
                csize = Decimal(1)  # quantity tiers of inverse contracts are in contracts
            where = f"leverage_tiers[{sym!r}]"
            rows = _tier_rows(tiers_doc[sym], where, spec.tiers.basis, csize)
            try:
                table = parse_tiers(rows, spec.tiers.basis, where)
            except VenueDataError as exc:
                raise CcxtFormatError(str(exc)) from None
            spec = replace(spec, tiers=table, tiers_source="ccxt fetch_leverage_tiers")
        if spec.max_quantity < spec.min_quantity:
            raise CcxtFormatError(f"markets: {sym} has limits.amount.max below min")
        symbols[spec.symbol] = spec
        by_ccxt[sym] = spec
    if symbols == dict(base.symbols):
        return base
    return replace(base, symbols=symbols, version=base.version + "+ccxt")


def _new_spec(
    sym: str, market: Mapping[str, Any], fields: Mapping[str, Any], venue: Venue
) -> SymbolSpec:
    where = f"markets[{sym!r}]"
    for key in ("tick_size", "step_size"):
        if key not in fields:
            raise CcxtFormatError(f"{where}.precision lacks the {key.split('_')[0]} tick size")
    template = next(iter(venue.symbols.values()))  # its tier basis; tiers are replaced next
    step = fields["step_size"]
    return SymbolSpec(
        symbol=cast(str, field_text(market, "id", where)),
        ccxt_symbol=sym,
        base=cast(str, field_text(market, "base", where)),
        quote=cast(str, field_text(market, "quote", where)),
        settle=cast(str, field_text(market, "settle", where)),
        contract=fields["contract"],
        tick_size=fields["tick_size"],
        step_size=step,
        min_quantity=fields.get("min_quantity", step),
        max_quantity=fields.get("max_quantity", Decimal(10) ** 12),
        liquidation_fee_rate=venue.liquidation.fee_rate,
        funding_interval_hours=venue.funding_interval_hours,
        tiers=template.tiers,
        contract_value=fields.get("contract_value"),
        tiers_source="ccxt",
    )


# ----------------------------------------------------------------------------- positions


def _margin_mode(doc: Mapping[str, Any], where: str) -> MarginMode:
    mode = doc.get("marginMode")
    if mode is None and isinstance(doc.get("isolated"), bool):
        mode = "isolated" if doc["isolated"] else "cross"
    if mode not in ("isolated", "cross"):
        raise CcxtFormatError(f"{where}.marginMode must be 'isolated' or 'cross', was {mode!r}")
    return cast(MarginMode, mode)


# complexity waived (C901): one branch per field of ccxt's position shapes and their venue variants
def parse_position(  # noqa: C901
    doc: Any, i: int, venue: Venue, notes: list[str], given: _Given | None = None
) -> tuple[ImportedPosition | None, bool]:
    """``positions[i]``, a ccxt unified position on ``venue``: the position (None when it
    holds 0 contracts, noted) and whether it is one leg of a hedge."""
    where = f"positions[{i}]"
    if not isinstance(doc, Mapping):
        raise CcxtFormatError(f"{where} must be an object")
    sym = field_text(doc, "symbol", where)
    assert sym is not None
    contracts = field_decimal(doc, "contracts", where, non_negative=True)
    assert contracts is not None
    if contracts == 0:
        notes.append(f"{where} ({sym}) has 0 contracts: skipped")
        return None, False
    try:
        spec = venue.symbol(sym)
    except UnknownSymbol:
        raise UnknownSymbol(_unlisted(where, sym, venue, given)) from None
    side = doc.get("side")
    if side not in ("long", "short"):
        raise CcxtFormatError(f"{where}.side must be 'long' or 'short', was {side!r}")
    csize = field_decimal(doc, "contractSize", where, required=False, positive=True)
    if csize is None:
        csize = spec.contract_value if spec.contract_value is not None else Decimal(1)
    if spec.inverse_value is not None:  # inverse: the quantity is in contracts
        if csize != spec.inverse_value:
            raise CcxtFormatError(
                f"{where}.contractSize {csize} differs from {spec.symbol}'s "
                f"{spec.inverse_value} USD per contract"
            )
        quantity = contracts
    else:
        with engine_context():
            quantity = contracts * csize
    if not is_on_grid(quantity, spec.step_size):
        raise CcxtFormatError(
            f"{where}: {contracts} contracts = {quantity} "
            f"{'contracts' if spec.inverse_value is not None else spec.base} is not a "
            f"multiple of {spec.symbol}'s step {spec.step_size}"
        )
    entry = field_decimal(doc, "entryPrice", where, positive=True)
    mark = field_decimal(doc, "markPrice", where, required=False, positive=True)
    if mark is None:
        mark = field_decimal(doc, "lastPrice", where, required=False, positive=True)
    hl = _hyperliquid_info(doc)
    if mark is None and hl is not None:
        mark = _hyperliquid_mark(hl, f"{where}.info.position")
        if mark is not None:
            notes.append(
                f"{where} ({sym}): mark {mark} = |positionValue / szi| of info.position "
                "(ccxt gives no markPrice for Hyperliquid)"
            )
    if mark is None:
        raise CcxtFormatError(
            f"{where}.markPrice is missing (and no lastPrice, nor Hyperliquid's "
            "info.position.positionValue and szi)"
        )
    mode = _margin_mode(doc, where)
    leverage = field_decimal(doc, "leverage", where, required=False, positive=True)
    if leverage is None:
        leverage = min(venue.rules.default_leverage, spec.tiers.tiers[0].max_leverage)
        notes.append(f"{where}.leverage missing: {spec.symbol} uses the default {leverage}")
    reported = {
        key: value
        for key in _REPORTED
        if (value := field_decimal(doc, key, where, required=False)) is not None
    }
    margin = ZERO
    if mode == "isolated":
        info: Mapping[str, Any] = doc["info"] if isinstance(doc.get("info"), Mapping) else {}
        wallet = field_decimal(info, "isolatedWallet", f"{where}.info", required=False)
        position_margin = field_decimal(doc, "positionMargin", where, required=False)
        hl_margin = None if hl is None else _hyperliquid_margin(hl, f"{where}.info.position")
        if hl_margin is not None:
            margin, how = hl_margin
            notes.append(f"{where} ({sym}): isolated margin {margin} = {how}")
        elif wallet is not None:
            margin = wallet
        elif position_margin is not None:
            margin = position_margin
        elif "collateral" in reported and "unrealizedPnl" in reported:
            margin = reported["collateral"] - reported["unrealizedPnl"]
        elif "initialMargin" in reported:
            margin = reported["initialMargin"]
            notes.append(f"{where}: isolated margin taken from initialMargin (no collateral)")
        else:
            raise CcxtFormatError(
                f"{where}: an isolated position needs positionMargin, or collateral and "
                "unrealizedPnl, or initialMargin (or Binance's info.isolatedWallet)"
            )
        if margin <= 0:
            raise CcxtFormatError(f"{where}: isolated margin must be > 0, was {margin}")
    hedged = doc.get("hedged")
    if hedged is not None and not isinstance(hedged, bool):
        raise CcxtFormatError(f"{where}.hedged must be true, false or null, was {hedged!r}")
    assert entry is not None
    return (
        ImportedPosition(
            symbol=spec.symbol,
            ccxt_symbol=spec.ccxt_symbol,
            side=cast(Literal["long", "short"], side),
            contracts=contracts,
            quantity=quantity,
            entry_price=entry,
            mark_price=mark,
            margin_mode=mode,
            leverage=leverage,
            isolated_margin=margin,
            reported=reported,
            index=i,
        ),
        bool(hedged),
    )


# ----------------------------------------------------------------------------- hyperliquid


def _hyperliquid_info(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Hyperliquid's raw ``assetPositions[]`` entry as ccxt keeps it in ``info``: its
    ``position`` (``coin``, ``szi``, ``positionValue``, ...), or ``info`` itself."""
    info = doc.get("info")
    if not isinstance(info, Mapping):
        return None
    inner = info.get("position")
    if isinstance(inner, Mapping) and "szi" in inner:
        return inner
    return info if "szi" in info and "positionValue" in info else None


def _hyperliquid_mark(hl: Mapping[str, Any], where: str) -> Decimal | None:
    szi = field_decimal(hl, "szi", where, required=False)
    value = field_decimal(hl, "positionValue", where, required=False, non_negative=True)
    if szi is None or value is None or szi == 0 or value == 0:
        return None
    with engine_context():
        return abs(value / szi)


def _hyperliquid_margin(hl: Mapping[str, Any], where: str) -> tuple[Decimal, str] | None:
    """An isolated position's margin without uPnL: ``rawUsd + szi x entryPx`` (exact),
    else ``marginUsed - unrealizedPnl`` (the venue's uPnL is rounded to 6 places)."""
    lev = hl.get("leverage")
    if not isinstance(lev, Mapping) or lev.get("type") != "isolated":
        return None
    szi = field_decimal(hl, "szi", where, required=False)
    entry = field_decimal(hl, "entryPx", where, required=False, positive=True)
    raw = field_decimal(lev, "rawUsd", f"{where}.leverage", required=False)
    with engine_context():
        if raw is not None and szi is not None and entry is not None:
            return raw + szi * entry, "info.position.leverage.rawUsd + szi x entryPx"
        used = field_decimal(hl, "marginUsed", where, required=False)
        upnl = field_decimal(hl, "unrealizedPnl", where, required=False)
        if used is not None and upnl is not None:
            return used - upnl, "info.position.marginUsed - unrealizedPnl"
    return None


def _hyperliquid_wallet(info: Mapping[str, Any], summary: Mapping[str, Any]) -> Decimal | None:
    """``totalRawUsd + sum(szi x entryPx)``: the account value less the exact uPnL."""
    raw = field_decimal(summary, "totalRawUsd", "balance.info.marginSummary", required=False)
    legs = info.get("assetPositions")
    if raw is None or not isinstance(legs, list):
        return None
    total = raw
    with engine_context():
        for j, leg in enumerate(legs):
            pos = leg.get("position") if isinstance(leg, Mapping) else None
            if not isinstance(pos, Mapping):
                return None
            w = f"balance.info.assetPositions[{j}].position"
            szi = field_decimal(pos, "szi", w, required=False)
            if szi is None or szi == 0:
                continue
            entry = field_decimal(pos, "entryPx", w, required=False, positive=True)
            if entry is None:
                return None
            total += szi * entry
    if total < 0:
        raise CcxtFormatError(f"balance.info.marginSummary gives a negative wallet {total}")
    return total


def _hyperliquid_tiers(docs: Sequence[Any], venue: Venue, tiers: Any, notes: list[str]) -> Any:
    """Add a one-tier table from each Hyperliquid position's ``maxLeverage`` (the margin
    tier the venue applied when the snapshot was taken) for symbols without tiers."""
    if venue.liquidation.maintenance_rule != "half_initial_at_max_leverage":
        return tiers
    have = dict(tiers) if isinstance(tiers, Mapping) else {}
    added: dict[str, Any] = {}
    for i, doc in enumerate(docs):
        if not isinstance(doc, Mapping) or not isinstance(doc.get("symbol"), str):
            continue
        hl = _hyperliquid_info(doc)
        sym = doc["symbol"]
        if hl is None or sym in have or sym in added:
            continue
        where = f"positions[{i}].info.position"
        max_lev = field_decimal(hl, "maxLeverage", where, required=False, positive=True)
        if max_lev is None:
            continue
        with engine_context():
            mmr = 1 / (2 * max_lev)
        added[sym] = [
            {"tier": 1, "minNotional": 0, "maxNotional": None,
             "maintenanceMarginRate": str(mmr), "maxLeverage": str(max_lev)}
        ]  # fmt: skip
        notes.append(
            f"{sym}: margin tier from {where}.maxLeverage {max_lev} (maintenance rate "
            f"1 / (2 x {max_lev}) = {mmr}); one tier: the venue's tiers for larger "
            "notionals are not in the snapshot (add leverage_tiers to use them)"
        )
    if not added:
        return tiers
    return {**have, **added}


@dataclass(frozen=True)
class _Given:
    """Which ccxt symbols the bundle has a market / leverage tiers for."""

    markets: frozenset[str]
    tiers: frozenset[str]

    @staticmethod
    def of(markets: Any, tiers: Any) -> _Given:
        syms: set[str] = set()
        if isinstance(markets, Mapping | list):
            for m in markets.values() if isinstance(markets, Mapping) else markets:
                if isinstance(m, Mapping) and isinstance(m.get("symbol"), str):
                    syms.add(m["symbol"])
        tier_syms = frozenset(str(k) for k in tiers) if isinstance(tiers, Mapping) else frozenset()
        return _Given(frozenset(syms), tier_syms)


def _unlisted(where: str, sym: str, venue: Venue, given: _Given | None) -> str:
    """Why ``sym`` cannot be modelled, and which bundle keys to add."""
    g = given or _Given(frozenset(), frozenset())
    missing = [
        (fn, key)
        for fn, key, have in (
            ("fetch_markets", "markets", sym in g.markets),
            ("fetch_leverage_tiers", "leverage_tiers", sym in g.tiers),
        )
        if not have
    ]
    if not missing:
        return (
            f"{where}.symbol {sym!r} is not listed by {venue.id}, and the bundle's 'markets' "
            f"entry for it is not a perpetual swap (type 'swap'): add the swap's fetch_markets "
            "output"
        )
    what = " and ".join(fn for fn, _ in missing)
    keys = " and ".join(repr(key) for _, key in missing)
    msg = (
        f"{where}.symbol {sym!r} is not listed by {venue.id}; add the output of {what} for "
        f"{sym} to the bundle (key{'s' if len(missing) > 1 else ''} {keys})"
    )
    if len(missing) == 1:
        have_fn = "fetch_leverage_tiers" if missing[0][1] == "markets" else "fetch_markets"
        msg += f"; the bundle has its {have_fn} output only"
    settles = {s.settle for s in venue.symbols.values()}
    if _inverse_symbol(sym) and not any(s.contract == "inverse" for s in venue.symbols.values()):
        msg += (
            f" ({sym} is an inverse, coin-margined contract; {venue.id} lists "
            f"{'/'.join(sorted(settles))}-settled contracts only and no bundled venue file "
            "holds this exchange's inverse contracts, so they are built from the bundle's "
            f"markets and leverage_tiers on {venue.id}'s rules)"
        )
    return msg


def _settle_total(balance: Mapping[str, Any], settle: str) -> Decimal:
    entry = balance.get(settle)
    if isinstance(entry, Mapping) and entry.get("total") is not None:
        value = field_decimal(entry, "total", f"balance.{settle}", non_negative=True)
    else:
        totals = balance.get("total")
        if not isinstance(totals, Mapping):
            raise CcxtFormatError(f"balance.{settle}.total is missing")
        value = field_decimal(totals, settle, "balance.total", non_negative=True)
    assert value is not None
    return value


def _raw_wallet(balance: Mapping[str, Any], settle: str) -> Decimal | None:
    info = balance.get("info")
    if not isinstance(info, Mapping):
        return None
    if "walletBalance" in info:  # written by perpmargin's balance_to_ccxt
        return field_decimal(info, "walletBalance", "balance.info", non_negative=True)
    summary = info.get("marginSummary")
    if isinstance(summary, Mapping):  # Hyperliquid clearinghouseState
        return _hyperliquid_wallet(info, summary)
    assets = info.get("assets")
    if not isinstance(assets, list):
        return None
    for j, asset in enumerate(assets):
        if isinstance(asset, Mapping) and asset.get("asset") == settle:
            return field_decimal(
                asset, "walletBalance", f"balance.info.assets[{j}]", non_negative=True
            )
    return None


def _wallet(
    balance: Any,
    settle: str,
    positions: Sequence[ImportedPosition],
    kind: Literal["equity", "wallet"],
) -> tuple[Decimal, str]:
    if not isinstance(balance, Mapping):
        raise CcxtFormatError("balance must be an object (fetch_balance output)")
    raw = _raw_wallet(balance, settle)
    if raw is not None:
        info = balance.get("info")
        if isinstance(info, Mapping) and isinstance(info.get("marginSummary"), Mapping):
            return raw, (
                "balance.info.marginSummary.totalRawUsd + sum(szi x entryPx) of "
                "balance.info.assetPositions (Hyperliquid: accountValue - exact uPnL)"
            )
        return raw, f"balance.info wallet balance of {settle}"
    total = _settle_total(balance, settle)
    if kind == "wallet":
        return total, f"balance.{settle}.total (taken as the wallet balance)"
    missing = [p.index for p in positions if "unrealizedPnl" not in p.reported]
    if missing:
        raise CcxtFormatError(
            f"positions[{missing[0]}].unrealizedPnl is missing: needed to turn the balance's "
            "total (margin balance) into a wallet balance; or pass balance_kind='wallet'"
        )
    with engine_context():
        upnl = sum((p.reported["unrealizedPnl"] for p in positions), ZERO)
        wallet = total - upnl
    if wallet < 0:
        raise CcxtFormatError(
            f"balance.{settle}.total {total} minus the positions' uPnL {upnl} is negative"
        )
    return wallet, f"balance.{settle}.total - sum(unrealizedPnl)"


# complexity waived (C901): one branch per part of a ccxt bundle
def account_from_ccxt(  # noqa: C901
    positions: Any,
    *,
    venue: Venue | str | Path,
    balance: Any = None,
    leverage_tiers: Any = None,
    markets: Any = None,
    wallet_balance: Any = None,
    balance_kind: Literal["equity", "wallet"] = "equity",
    insurance_fund: InsuranceFund | None = None,
) -> ImportedAccount:
    """Build an exact account from ccxt structures (parsed JSON or paths to JSON files).

    Parameters
    ----------
    positions
        ``fetch_positions()`` output: a list of ccxt position dicts. Positions with 0
        contracts are skipped (noted).
    venue
        The venue whose rules apply (a bundled name such as ``"binance-usdm"``, a file,
        or a :class:`Venue`).
    balance
        ``fetch_balance()`` output; or give ``wallet_balance`` (settle asset) directly.
    leverage_tiers, markets
        ``fetch_leverage_tiers()`` / ``fetch_markets()`` output: replace the venue
        file's tables for those symbols (see :func:`venue_from_ccxt`).
    balance_kind
        How to read the balance's ``total``: ``"equity"`` (wallet + uPnL, what ccxt
        reports for Binance USDⓈ-M; the default) or ``"wallet"``.

    Raises
    ------
    CcxtFormatError
        A missing or malformed field; the message names it (``positions[1].entryPrice``).
    UnknownSymbol, InvalidInput, ModeSwitchError, InsufficientMargin, LeverageTooHigh
    """
    if balance_kind not in ("equity", "wallet"):
        raise InvalidInput(f"balance_kind must be 'equity' or 'wallet', was {balance_kind!r}")
    base = venue if isinstance(venue, Venue) else load_venue(venue)
    markets_doc = read_json(markets, "markets") if markets is not None else None
    tiers_doc = read_json(leverage_tiers, "leverage_tiers") if leverage_tiers is not None else None
    docs = read_json(positions, "positions")
    if isinstance(docs, Mapping) and "positions" in docs:
        docs = docs["positions"]
    if not isinstance(docs, list):
        raise CcxtFormatError("positions must be a list of ccxt position objects")
    notes: list[str] = []
    tiers_doc = _hyperliquid_tiers(docs, base, tiers_doc, notes)
    rules = venue_from_ccxt(base, markets=markets_doc, leverage_tiers=tiers_doc)
    given = _Given.of(markets_doc, tiers_doc)
    imported: list[ImportedPosition] = []
    hedge = False
    for i, doc in enumerate(docs):
        pos, hedged = parse_position(doc, i, rules, notes, given)
        if pos is not None:
            imported.append(pos)
            hedge = hedge or hedged
    settles = {rules.symbol(p.symbol).settle for p in imported}
    if len(settles) > 1:
        raise InvalidInput(
            f"positions settle in {', '.join(sorted(settles))}: one account holds one "
            "collateral pool; import each settle currency separately"
        )
    settle = settles.pop() if settles else next(iter(rules.symbols.values())).settle
    if wallet_balance is not None:
        wallet = field_decimal({"wallet_balance": wallet_balance}, "wallet_balance", "argument")
        source = "wallet_balance argument"
    elif balance is not None:
        wallet, source = _wallet(read_json(balance, "balance"), settle, imported, balance_kind)
    else:
        raise InvalidInput("pass balance (fetch_balance output) or wallet_balance")
    assert wallet is not None
    on_grid = round_to_step(wallet, rules.settle_precision, "down")
    if on_grid != wallet:
        notes.append(f"wallet {wallet} rounded down to the settle precision: {on_grid}")
    times = [
        int(d["timestamp"])
        for d in docs
        if isinstance(d, Mapping) and isinstance(d.get("timestamp"), int | float)
    ]
    account = Account(
        rules,
        on_grid,
        insurance_fund=insurance_fund,
        time=max(times) if times else None,
        settle=settle,
    )
    if hedge:
        account.set_position_mode("hedge")
    for pos in sorted(imported, key=lambda p: (p.symbol, p.side)):
        try:
            account.restore_position(
                pos.symbol,
                pos.side,
                pos.quantity,
                pos.entry_price,
                margin_mode=pos.margin_mode,
                leverage=pos.leverage,
                isolated_margin=pos.isolated_margin if pos.margin_mode == "isolated" else None,
                mark_price=pos.mark_price,
            )
        except PerpMarginError as exc:
            raise type(exc)(f"positions[{pos.index}]: {exc}") from None
    for pos in imported:
        if account.liquidates_at({pos.symbol: pos.mark_price}):
            notes.append(
                f"positions[{pos.index}] ({pos.symbol} {pos.side}) is at or past its "
                "liquidation at the imported mark"
            )
    return ImportedAccount(
        account=account,
        venue=rules,
        positions=tuple(imported),
        wallet_balance=on_grid,
        balance_source=source,
        settle=settle,
        notes=notes,
    )


def load_ccxt_bundle(path: str | Path) -> dict[str, Any]:
    """Read a saved bundle: either a bare ``fetch_positions`` list, or an object with
    ``positions`` and optional ``balance``, ``leverage_tiers``, ``markets``,
    ``exchange`` (ccxt id) / ``venue`` (perpmargin venue) and ``wallet_balance``."""
    doc = read_json(path, str(path))
    if isinstance(doc, list):
        return {"positions": doc}
    if not isinstance(doc, Mapping) or "positions" not in doc:
        raise CcxtFormatError(
            f"{path}: expected a list of positions or an object with a 'positions' key"
        )
    allowed = {
        "positions",
        "balance",
        "leverage_tiers",
        "markets",
        "exchange",
        "venue",
        "wallet_balance",
        "balance_kind",
        "comment",
        "source",
        "_source",
    }
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise CcxtFormatError(f"{path}: unknown key {unknown[0]!r} (allowed: {sorted(allowed)})")
    return dict(doc)
