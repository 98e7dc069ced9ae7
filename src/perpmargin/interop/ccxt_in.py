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
def _position(  # noqa: C901
    doc: Any, i: int, venue: Venue, notes: list[str]
) -> tuple[ImportedPosition | None, bool]:
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
        raise UnknownSymbol(
            f"{where}.symbol {sym!r} is not listed by {venue.id}; pass fetch_markets and "
            "fetch_leverage_tiers output for it"
        ) from None
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
    if mark is None:
        raise CcxtFormatError(f"{where}.markPrice is missing (and no lastPrice)")
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
        if wallet is not None:
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
    rules = venue_from_ccxt(
        venue,
        markets=read_json(markets, "markets") if markets is not None else None,
        leverage_tiers=(
            read_json(leverage_tiers, "leverage_tiers") if leverage_tiers is not None else None
        ),
    )
    docs = read_json(positions, "positions")
    if isinstance(docs, Mapping) and "positions" in docs:
        docs = docs["positions"]
    if not isinstance(docs, list):
        raise CcxtFormatError("positions must be a list of ccxt position objects")
    notes: list[str] = []
    imported: list[ImportedPosition] = []
    hedge = False
    for i, doc in enumerate(docs):
        pos, hedged = _position(doc, i, rules, notes)
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
    }
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise CcxtFormatError(f"{path}: unknown key {unknown[0]!r} (allowed: {sorted(allowed)})")
    return dict(doc)
