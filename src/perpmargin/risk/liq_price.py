"""Stateless liquidation and bankruptcy prices, per venue, isolated and cross.

Every venue below liquidates when, at the mark price P of the position's symbol::

    collateral + sum(side * qty * (P - entry))  <=  sum(MM(P) + close_fee(P))
    MM(P) = qty * P * MMR_tier(P) - maintenance_amount_tier(P)

with ``collateral`` the isolated margin (isolated) or the wallet balance plus the other
contracts' uPnL minus their requirement at their marks (cross). The tier is the one
that holds the position *at P*, not at entry. The account and this calculator build the
same pool (:class:`perpmargin.engine.math.Pool`) and ask one solver
(:func:`perpmargin.engine.math.pool_price`), which solves the piecewise-linear equation
exactly over all tier boundaries (it does not iterate; it finds the root in the segment
where the tier is consistent).

How each venue's published method maps onto it (sources in each venue data file):

- **Binance USDⓈ-M**: the FAQ closed form (support/faq/b3c689c1f50a44cabb3a84e663b81d93)
  with WB, TMM1, UPNL1, cum, MMR per leg; hedge legs of one symbol give one price.
  The closed form is checked against this solver in the tests.
- **Bybit linear**: maintenance margin by risk-limit tier plus the estimated taker fee to
  close, valued at the bankruptcy price (bybit-linear.json ``close_fee_basis``); for other
  cross symbols at their own bankruptcy price, as the engine does.
- **OKX swap**: margin ratio = equity / (MM + liquidation fee), isolated denominator
  ctVal x |contracts| x mark x (tier MMR + taker rate) (okx.json); tiers by size.
- **Gate futures**: LP = (entry - margin / size) / (1 - (MMR + taker)) for a long and
  (entry + margin / size) / (1 + MMR + taker) for a short (Gate help 27724, quoted in
  gate.json); tier deduction kept.
- **Hyperliquid**: MMR = 1 / (2 x max leverage); liq = price - side x margin_available /
  size / (1 - l x side) (hyperliquid.gitbook.io, trading/liquidations).
- **dYdX v4**: total account value Q + sum(S x P) against sum(|S| x P x MMF) (v4 docs,
  concepts/trading/margin); one tier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from perpmargin import formulas as F
from perpmargin.engine import math as pmath
from perpmargin.errors import InvalidInput, LeverageTooHigh
from perpmargin.numeric import ONE, ZERO, Number, engine_context, round_to_step, to_decimal
from perpmargin.venues.loader import load_venue, parse_tiers
from perpmargin.venues.schema import SymbolSpec, Tier, TierTable, Venue

__all__ = ["OtherPosition", "bankruptcy_price", "liquidation_price", "liquidation_rows"]


@dataclass(frozen=True, slots=True)
class OtherPosition:
    """Another cross position in the same account (validated form of the dict input)."""

    symbol: str
    side: Literal["long", "short"]
    entry_price: Decimal
    quantity: Decimal
    mark_price: Decimal | None
    maintenance_margin_rate: Decimal | None = None
    maintenance_amount: Decimal = ZERO


def _venue(venue: str | Venue) -> Venue:
    if isinstance(venue, Venue):
        return venue
    if not isinstance(venue, str):
        raise InvalidInput(f"venue must be a name, a file path or a Venue, was {venue!r}")
    return load_venue(venue)


def _fixed_table(mmr: Decimal, amount: Decimal) -> TierTable:
    if not (ZERO < mmr < ONE):
        raise InvalidInput(f"maintenance_margin_rate must be in (0, 1), was {mmr}")
    return TierTable("notional", (Tier(1, ZERO, None, mmr, amount, ONE / mmr),))


def _side(side: object, name: str = "side") -> Literal["long", "short"]:
    if side == "long":
        return "long"
    if side == "short":
        return "short"
    raise InvalidInput(f"{name} must be 'long' or 'short', was {side!r}")


def _other(raw: object, i: int) -> OtherPosition:
    if isinstance(raw, OtherPosition):
        return raw
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"other_positions[{i}] must be a mapping, was {type(raw).__name__}")
    where = f"other_positions[{i}]"
    for key in ("symbol", "side", "entry_price", "quantity"):
        if key not in raw:
            raise InvalidInput(f"{where}.{key} is missing")
    mmr = raw.get("maintenance_margin_rate")
    mark = raw.get("mark_price")
    return OtherPosition(
        symbol=str(raw["symbol"]),
        side=_side(raw["side"], f"{where}.side"),
        entry_price=to_decimal(raw["entry_price"], f"{where}.entry_price", positive=True),
        quantity=to_decimal(raw["quantity"], f"{where}.quantity", positive=True),
        mark_price=None if mark is None else to_decimal(mark, f"{where}.mark_price", positive=True),
        maintenance_margin_rate=None
        if mmr is None
        else to_decimal(mmr, f"{where}.maintenance_margin_rate", positive=True),
        maintenance_amount=to_decimal(
            raw.get("maintenance_amount", 0), f"{where}.maintenance_amount", non_negative=True
        ),
    )


# complexity waived (C901): a public calculator's validation: one typed error per argument
def _solve(  # noqa: C901
    venue: str | Venue,
    margin_mode: str,
    side: str,
    entry_price: Number,
    quantity: Number,
    collateral: Number | None,
    *,
    leverage: Number | None,
    max_leverage: Number | None,
    maintenance_margin_rate: Number | None,
    maintenance_amount: Number | None,
    tiers: Sequence[Mapping[str, Any]] | None,
    taker_fee_rate: Number | None,
    mark_price: Number | None,
    other_positions: Iterable[Mapping[str, Any] | OtherPosition],
    position_mode: str,
    symbol: str | None,
    exact: bool,
    with_requirement: bool,
) -> Decimal | None:
    with engine_context():
        v = _venue(venue)
        if margin_mode not in ("isolated", "cross"):
            raise InvalidInput(f"margin_mode must be 'isolated' or 'cross', was {margin_mode!r}")
        if position_mode not in ("one-way", "hedge"):
            raise InvalidInput(f"position_mode must be 'one-way' or 'hedge', was {position_mode!r}")
        this_side = _side(side)
        entry = to_decimal(entry_price, "entry_price", positive=True)
        qty = to_decimal(quantity, "quantity", positive=True)
        spec: SymbolSpec | None = None if symbol is None else v.symbol(symbol)
        lev = None if leverage is None else to_decimal(leverage, "leverage", positive=True)
        if lev is not None and lev < ONE:
            raise InvalidInput(f"leverage must be >= 1, was {lev}")
        table = _table(v, spec, maintenance_margin_rate, maintenance_amount, tiers, max_leverage)
        cv = None if spec is None else spec.inverse_value
        value = pmath.position_value(qty, entry, cv)
        if lev is not None:
            max_lev = table.max_leverage_for(qty, value)
            if lev > max_lev:
                raise LeverageTooHigh(
                    f"leverage {lev} is above the tier maximum {max_lev} for a "
                    f"{value} notional position; use {max_lev} or less"
                )
        # the estimated fee to close held in the initial margin (Bybit), at this leverage
        reserve = ZERO
        if (
            margin_mode == "isolated"
            and lev is not None
            and v.liquidation.close_fee_in_initial_margin
            and v.liquidation.close_fee_in_maintenance
        ):
            rate = (
                v.taker_fee_rate
                if taker_fee_rate is None
                else to_decimal(taker_fee_rate, "taker_fee_rate", non_negative=True)
            )
            sign = 1 if this_side == "long" else -1
            reserve = round_to_step(
                pmath.estimated_close_fee(sign, qty, entry, lev, rate, cv), v.settle_precision, "up"
            )
        if collateral is None:
            if margin_mode == "isolated" and lev is not None:
                coll = F.initial_margin(value, lev) + reserve
            else:
                raise InvalidInput(
                    "collateral is required (isolated: the position's margin, or give leverage; "
                    "cross: the wallet balance)"
                )
        else:
            coll = to_decimal(collateral, "collateral", non_negative=True)
        fee = ZERO
        if with_requirement and v.liquidation.close_fee_in_maintenance:
            fee = (
                v.taker_fee_rate
                if taker_fee_rate is None
                else to_decimal(taker_fee_rate, "taker_fee_rate", non_negative=True)
            )
            if fee >= ONE:
                raise InvalidInput(f"taker_fee_rate must be a fraction, was {fee}")
        reference = (
            entry if mark_price is None else to_decimal(mark_price, "mark_price", positive=True)
        )
        sign = 1 if this_side == "long" else -1
        legs = [pmath.SolverLeg(sign, qty, entry, table, contract_value=cv)]
        others = [_other(o, i) for i, o in enumerate(other_positions)]
        if others and margin_mode == "isolated":
            raise InvalidInput("other_positions apply to cross margin only")
        this_symbol = None if spec is None else spec.symbol
        elsewhere: list[tuple[str, pmath.SolverLeg, Decimal]] = []  # other symbols, at marks
        for i, o in enumerate(others):
            o_spec = v.symbol(o.symbol) if o.maintenance_margin_rate is None else None
            o_symbol = o_spec.symbol if o_spec is not None else o.symbol
            o_table = (
                o_spec.tiers
                if o_spec is not None
                else _fixed_table(o.maintenance_margin_rate or ZERO, o.maintenance_amount)
            )
            o_cv = None if o_spec is None else o_spec.inverse_value
            if o_spec is not None and spec is not None and o_spec.settle != spec.settle:
                raise InvalidInput(
                    f"other_positions[{i}] ({o_symbol}) settles in {o_spec.settle}, not in this "
                    "position's collateral pool"
                )
            o_leg = pmath.SolverLeg(
                1 if o.side == "long" else -1,
                o.quantity,
                o.entry_price,
                o_table,
                contract_value=o_cv,
            )
            if this_symbol is not None and o_symbol == this_symbol:
                if position_mode != "hedge" or o.side == this_side:
                    raise InvalidInput(
                        f"other_positions[{i}] is in {o_symbol} too: only the opposite leg in "
                        "hedge mode may share the symbol"
                    )
                legs.append(replace(o_leg, table=table, contract_value=cv))
                continue
            if o.mark_price is None:
                raise InvalidInput(f"other_positions[{i}].mark_price is required (cross uPnL)")
            elsewhere.append((o_symbol, o_leg, o.mark_price))
        this_key = this_symbol if this_symbol is not None else "<this position>"
        marks = {this_key: reference}
        for o_symbol, _, o_mark in elsewhere:
            if marks.setdefault(o_symbol, o_mark) != o_mark:
                raise InvalidInput(f"other_positions give {o_symbol} two mark prices")
        pool = pmath.Pool(
            collateral=coll,
            legs=(*((this_key, g) for g in legs), *((s, g) for s, g, _ in elsewhere)),
            marks=marks,
            fee_rate=fee,
            fee_at_bankruptcy=v.liquidation.close_fee_basis == "bankruptcy",
            fee_reserve=reserve,
        )
        price = pmath.pool_price(pool, this_key, with_requirement=with_requirement)
        if price is None or exact:
            return price
        favourable = (
            not with_requirement and v.liquidation.bankruptcy_price_rounding == "favourable"
        )
        # without a symbol there is no tick: 12 significant digits, rounded the same way
        tick = spec.tick_size if spec is not None else Decimal(1).scaleb(price.adjusted() - 11)
        return pmath.round_liquidation_price(
            price, legs, reference, tick, towards_reference=favourable
        )


def _table(
    v: Venue,
    spec: SymbolSpec | None,
    mmr: Number | None,
    amount: Number | None,
    tiers: Sequence[Mapping[str, Any]] | None,
    max_leverage: Number | None,
) -> TierTable:
    if tiers is not None:
        return parse_tiers(list(tiers), "notional", "tiers=")
    if mmr is not None:
        return _fixed_table(
            to_decimal(mmr, "maintenance_margin_rate", positive=True),
            ZERO if amount is None else to_decimal(amount, "maintenance_amount", non_negative=True),
        )
    if spec is not None:
        return spec.tiers
    if (
        max_leverage is not None
        and v.liquidation.maintenance_rule == "half_initial_at_max_leverage"
    ):
        max_lev = to_decimal(max_leverage, "max_leverage", positive=True)
        if max_lev < ONE:
            raise InvalidInput(f"max_leverage must be >= 1, was {max_lev}")
        return _fixed_table(ONE / (2 * max_lev), ZERO)
    raise InvalidInput(
        "give symbol= (tiers from the venue), tiers=, or maintenance_margin_rate="
        + (" or max_leverage=" if v.liquidation.maintenance_rule != "tiers" else "")
    )


def liquidation_price(
    venue: str | Venue,
    margin_mode: str,
    side: str,
    entry_price: Number,
    quantity: Number,
    collateral: Number | None = None,
    *,
    leverage: Number | None = None,
    max_leverage: Number | None = None,
    maintenance_margin_rate: Number | None = None,
    maintenance_amount: Number | None = None,
    tiers: Sequence[Mapping[str, Any]] | None = None,
    taker_fee_rate: Number | None = None,
    mark_price: Number | None = None,
    other_positions: Iterable[Mapping[str, Any] | OtherPosition] = (),
    position_mode: str = "one-way",
    symbol: str | None = None,
    exact: bool = False,
) -> Decimal | None:
    """Mark price at which the position is liquidated, or None if no positive price does.

    Parameters
    ----------
    venue
        Bundled venue name, venue file path, or :class:`~perpmargin.Venue`.
    margin_mode
        ``"isolated"`` (``collateral`` is the position's margin) or ``"cross"``
        (``collateral`` is the wallet balance, shared with ``other_positions``).
    side, entry_price, quantity
        The position: ``"long"``/``"short"``, entry price, size in base units (linear) or
        in contracts (inverse symbols: collateral and amounts are then in the coin).
    leverage
        Checked against the tier's maximum; for isolated without ``collateral`` the margin
        is notional / leverage, plus the estimated fee to close where the venue holds it in
        the initial margin (Bybit). An isolated ``collateral`` is the position's margin as
        the venue shows it (on Bybit that fee included).
    max_leverage
        Hyperliquid: derive MMR = 1 / (2 x max leverage) when no symbol or tiers are given.
    maintenance_margin_rate, maintenance_amount, tiers
        Override the venue's tier table: a fixed rate, or a table of
        ``{min_notional, max_notional, maintenance_margin_rate, maintenance_amount,
        max_leverage}`` rows.
    taker_fee_rate
        Fee to close counted in the requirement, for venues that count it (Bybit, OKX,
        Gate); defaults to the venue's taker rate.
    mark_price
        Current mark of this position: the root nearest it is returned.
    other_positions
        Cross only: ``{symbol, side, entry_price, quantity, mark_price,
        maintenance_margin_rate?, maintenance_amount?}``. A same-symbol entry (the other
        leg in hedge mode) moves with the price and needs no mark.
    symbol
        Venue id or ccxt symbol; selects tiers and the tick for rounding.
    exact
        Return the unrounded solution. Otherwise the price is rounded to the tick so that
        marking at it liquidates (a long's down, a short's up); without a symbol it is
        returned unrounded.

    Raises
    ------
    InvalidInput, UnknownSymbol, UnknownVenue, LeverageTooHigh
    """
    return _solve(
        venue, margin_mode, side, entry_price, quantity, collateral,
        leverage=leverage, max_leverage=max_leverage,
        maintenance_margin_rate=maintenance_margin_rate, maintenance_amount=maintenance_amount,
        tiers=tiers, taker_fee_rate=taker_fee_rate, mark_price=mark_price,
        other_positions=other_positions, position_mode=position_mode, symbol=symbol,
        exact=exact, with_requirement=True,
    )  # fmt: skip


def bankruptcy_price(
    venue: str | Venue,
    margin_mode: str,
    side: str,
    entry_price: Number,
    quantity: Number,
    collateral: Number | None = None,
    *,
    leverage: Number | None = None,
    max_leverage: Number | None = None,
    maintenance_margin_rate: Number | None = None,
    maintenance_amount: Number | None = None,
    tiers: Sequence[Mapping[str, Any]] | None = None,
    taker_fee_rate: Number | None = None,
    mark_price: Number | None = None,
    other_positions: Iterable[Mapping[str, Any] | OtherPosition] = (),
    position_mode: str = "one-way",
    symbol: str | None = None,
    exact: bool = False,
) -> Decimal | None:
    """Mark price at which the collateral backing the position is exactly zero.

    Same inputs as :func:`liquidation_price`; maintenance margin and fees are ignored
    except that other cross positions still count with their uPnL at their marks.
    """
    return _solve(
        venue, margin_mode, side, entry_price, quantity, collateral,
        leverage=leverage, max_leverage=max_leverage,
        maintenance_margin_rate=maintenance_margin_rate, maintenance_amount=maintenance_amount,
        tiers=tiers, taker_fee_rate=taker_fee_rate, mark_price=mark_price,
        other_positions=other_positions, position_mode=position_mode, symbol=symbol,
        exact=exact, with_requirement=False,
    )  # fmt: skip


def liquidation_rows(
    venue: str | Venue,
    mode: str,
    side: str,
    entry_price: Number,
    quantity: Number,
    *,
    collateral: Number | None = None,
    leverage: Number | None = None,
    other_positions: Iterable[Mapping[str, Any] | OtherPosition] = (),
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Liquidation and bankruptcy price per margin mode, as ``perpmargin liq`` shows them.

    ``mode`` is ``"isolated"``, ``"cross"`` or ``"both"``. With ``"both"`` and a
    ``leverage``, the isolated margin is notional / leverage and ``collateral`` is the
    cross wallet; ``other_positions`` count in cross only. Other keyword arguments go to
    :func:`liquidation_price`. Rows: ``{margin_mode, liquidation_price, bankruptcy_price}``
    (Decimal or None).
    """
    if mode not in ("isolated", "cross", "both"):
        raise InvalidInput(f"mode must be isolated, cross or both, was {mode!r}")
    modes = ["isolated", "cross"] if mode == "both" else [mode]
    others = list(other_positions)
    rows = []
    for m in modes:
        iso_from_leverage = m == "isolated" and len(modes) == 2 and leverage is not None
        args: dict[str, Any] = {
            **kwargs,
            "collateral": None if iso_from_leverage else collateral,
            "leverage": leverage,
            "other_positions": others if m == "cross" else [],
        }
        rows.append(
            {
                "margin_mode": m,
                "liquidation_price": liquidation_price(
                    venue, m, side, entry_price, quantity, **args
                ),
                "bankruptcy_price": bankruptcy_price(venue, m, side, entry_price, quantity, **args),
            }
        )
    return rows
