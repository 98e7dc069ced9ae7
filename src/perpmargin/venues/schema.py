"""Venue rules as frozen values: tiers, symbols, fees, liquidation and switching rules.

Units: notional and amounts are in the symbol's settle asset (USDT, USDC for linear
contracts; the coin, e.g. BTC, for inverse ones). Quantities are in the base asset (BTC,
ETH) for linear contracts and in contracts (each worth ``contract_value`` USD) for
inverse ones. Rates are fractions (``0.004`` = 0.4 %).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from typing import Literal

from perpmargin import formulas as F
from perpmargin.errors import InvalidInput, UnknownSymbol
from perpmargin.numeric import ONE, ZERO, Number, to_decimal

__all__ = [
    "AdlRules",
    "ContractType",
    "LiquidationProcess",
    "LiquidationRules",
    "MarginMode",
    "PositionMode",
    "SymbolSpec",
    "Tier",
    "TierBasis",
    "TierTable",
    "Venue",
    "VenueRules",
]

_LEVERAGE_STEP = Decimal("0.01")

MarginMode = Literal["isolated", "cross"]
PositionMode = Literal["one-way", "hedge"]
TierBasis = Literal["notional", "quantity"]
ContractType = Literal["linear", "inverse"]


@dataclass(frozen=True, slots=True)
class Tier:
    """One risk tier (Binance 'bracket', Bybit 'risk limit', OKX 'position tier').

    ``lower``/``upper`` bound the position notional (settle asset) or quantity (base
    asset), depending on the table's basis; ``upper`` is ``None`` for no cap.
    Maintenance margin in this tier = notional x ``maintenance_margin_rate`` -
    ``maintenance_amount``.

    ``rate_per_quantity`` (0 on tiered venues): each unit of position quantity adds this
    to both the maintenance and the initial margin rate (Deribit's standard margin:
    0.005 % per BTC, :func:`perpmargin.formulas.size_scaled_rate`); the rates and the
    maximum leverage stored are then those of a position of size 0, and
    :meth:`TierTable.tier_for` returns the tier at the position's size.
    """

    tier: int
    lower: Decimal
    upper: Decimal | None
    maintenance_margin_rate: Decimal
    maintenance_amount: Decimal
    max_leverage: Decimal
    initial_margin_rate: Decimal | None = None
    rate_per_quantity: Decimal = ZERO

    def at_size(self, quantity: Decimal) -> Tier:
        """This tier's rates for a position of ``quantity`` (>= 0): itself unless its rates
        grow with size; then MMR and IMR at that size and max leverage = 1 / IMR, rounded
        down to 0.01 (as venues print leverage; a leverage within it holds at least the
        IM rate)."""
        if not self.rate_per_quantity:
            return self
        assert self.initial_margin_rate is not None  # the loader requires it
        imr = F.size_scaled_rate(self.initial_margin_rate, self.rate_per_quantity, quantity)
        return replace(
            self,
            maintenance_margin_rate=F.size_scaled_rate(
                self.maintenance_margin_rate, self.rate_per_quantity, quantity
            ),
            initial_margin_rate=imr,
            max_leverage=(ONE / imr).quantize(_LEVERAGE_STEP, rounding=ROUND_DOWN),
            rate_per_quantity=ZERO,
        )


@dataclass(frozen=True, slots=True)
class TierTable:
    """Contiguous tiers looked up by notional or by quantity.

    Notional-based tables hold ``[lower, upper)``; quantity-based tables (OKX, where the
    source gives tiers in contracts) hold ``(lower, upper]``, as their sources do.
    """

    basis: TierBasis
    tiers: tuple[Tier, ...]

    def tier_for(self, quantity: Decimal, notional: Decimal) -> Tier:
        """Return the tier holding this position (the last tier beyond the table's cap),
        with its rates at the position's size (:meth:`Tier.at_size`)."""
        return self.tiers[self.index_for(quantity, notional)].at_size(quantity)

    def index_for(self, quantity: Decimal, notional: Decimal) -> int:
        """Index in :attr:`tiers` of the tier holding this position."""
        if self.basis == "notional":
            for i, t in enumerate(self.tiers):
                if t.upper is None or notional < t.upper:
                    return i
        else:
            for i, t in enumerate(self.tiers):
                if t.upper is None or quantity <= t.upper:
                    return i
        return len(self.tiers) - 1

    @property
    def size_scaled(self) -> bool:
        """True when a tier's rates grow with the position's size (Deribit)."""
        return any(t.rate_per_quantity for t in self.tiers)

    def exceeds_cap(self, quantity: Decimal, notional: Decimal) -> bool:
        """Return True when the position is beyond the largest tier."""
        cap = self.tiers[-1].upper
        if cap is None:
            return False
        return notional > cap if self.basis == "notional" else quantity > cap

    def maintenance_margin(self, quantity: Decimal, price: Decimal) -> Decimal:
        """Maintenance margin of a position of ``quantity`` (>= 0) marked at ``price``."""
        notional = quantity * price
        t = self.tier_for(quantity, notional)
        return notional * t.maintenance_margin_rate - t.maintenance_amount

    def max_leverage_for(self, quantity: Decimal, notional: Decimal) -> Decimal:
        """Maximum leverage allowed for a position of this size."""
        return self.tier_for(quantity, notional).max_leverage


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """A perpetual contract as the venue lists it."""

    symbol: str
    ccxt_symbol: str
    base: str
    quote: str
    settle: str
    contract: ContractType
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    max_quantity: Decimal
    liquidation_fee_rate: Decimal
    funding_interval_hours: int
    tiers: TierTable
    margin_modes: tuple[MarginMode, ...] = ("isolated", "cross")
    tiers_source: str = ""
    tiers_as_of: str = ""
    contract_value: Decimal | None = None
    grid_source: str = ""
    """Where the tick, step and size limits were read; "unknown: ..." when the venue
    file has none for the symbol (a tier snapshot's), so nothing is rounded to a grid."""
    expiry: str = ""
    """A dated future's delivery time (ISO 8601, UTC, e.g. ``2026-03-27T08:00:00Z``);
    "" for a perpetual. A dated future pays no funding and is delivered (closed at the
    delivery price) at its expiry."""
    expiry_source: str = ""

    @property
    def dated(self) -> bool:
        """True for a dated (delivery) future, False for a perpetual."""
        return bool(self.expiry)

    @property
    def expiry_ms(self) -> int | None:
        """The delivery time in ms since the epoch (None for a perpetual)."""
        if not self.expiry:
            return None
        import datetime as dt

        when = dt.datetime.fromisoformat(self.expiry.replace("Z", "+00:00"))
        return int(when.timestamp() * 1000)

    @property
    def inverse_value(self) -> Decimal | None:
        """USD value of one contract when the contract is inverse (coin-margined), else None.

        Inverse: position value in the coin = contracts x contract value / price, PnL =
        side x contracts x contract value x (1 / entry - 1 / price), in the coin.
        """
        return self.contract_value if self.contract == "inverse" else None


@dataclass(frozen=True, slots=True)
class LiquidationProcess:
    """How the venue takes a position down once it is at maintenance (``liquidation_model=
    "venue"``; the base model ``"full"`` closes everything at once).

    ``kind``:

    - ``"full"``: every leg of the pool closes at once (the base model).
    - ``"tiered_partial"`` (Binance, Bybit, OKX, Gate): reduce the position ``tiers_per_step``
      risk tiers lower at the mark (1; OKX: 2), step after step, and stop as soon as the
      pool is above maintenance again; in the lowest tier, or still short, close what is
      left.
    - ``"fractional"`` (Hyperliquid, dYdX): close ``fraction`` of each leg worth more than
      ``min_notional`` (smaller pools close fully); for ``cooldown_seconds`` after such a
      step any liquidation of that pool takes it entire (Hyperliquid: "During this
      cooldown period, all market liquidation orders for that user will be for the
      entire position").

    ``backstop_ratio``: when pool equity falls below this share of its maintenance
    margin, the pool (all its positions and collateral) is taken over by the venue's
    liquidator (Hyperliquid's vault: 2/3); the trader keeps nothing.
    """

    kind: Literal["full", "tiered_partial", "fractional"] = "full"
    tiers_per_step: int = 1
    fraction: Decimal = Decimal(1)
    min_notional: Decimal = Decimal(0)
    cooldown_seconds: int = 0
    backstop_ratio: Decimal | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class AdlRules:
    """Auto-deleveraging: when the insurance fund cannot cover a bankrupt position,
    opposite positions ranked by ``ranking`` are closed at its bankruptcy price, no fee.

    ``"pnl_ratio_x_effective_leverage"``: score = uPnL / collateral x value / (collateral
    + uPnL) for a profit, uPnL / collateral / effective leverage for a loss (Binance's
    LeveragePnL, OKX's PnL% x effective leverage); the highest score goes first.
    ``"pnl_ratio_x_set_leverage"``: uPnL / collateral x the leverage the position was set to
    (Gate).

    ``price``: where the deleveraged positions are closed: ``"bankruptcy"`` (the bankrupt
    leg's bankruptcy price: Binance, Bybit, OKX, Gate, dYdX) or ``"previous_mark"`` (the
    mark before the one that bankrupted it: Hyperliquid's "previous oracle price").
    """

    ranking: Literal["pnl_ratio_x_effective_leverage", "pnl_ratio_x_set_leverage"] = (
        "pnl_ratio_x_effective_leverage"
    )
    source: str = ""
    price: Literal["bankruptcy", "previous_mark"] = "bankruptcy"


@dataclass(frozen=True, slots=True)
class LiquidationRules:
    """How the venue liquidates (base model).

    Attributes
    ----------
    fee_rate
        Default clearance-fee rate on the liquidated notional at the liquidation mark
        (a symbol may override it).
    remainder_to
        Who keeps the margin left after the fee when the position is closed before its
        bankruptcy price: ``"insurance_fund"`` (Binance, Bybit, Gate) or ``"trader"``.
    close_fee_in_maintenance
        True when the venue adds the taker fee to close to the maintenance requirement
        (Bybit, OKX, Gate): the trigger is margin + uPnL <= MM + notional x taker rate.
    close_fee_basis
        Price at which a counted fee to close is valued: the liquidation price itself
        (``"liquidation"``: OKX, Gate) or the bankruptcy price (``"bankruptcy"``: Bybit).
    close_fee_in_initial_margin
        The estimated fee to close (valued at the bankruptcy price the position's leverage
        implies: :func:`perpmargin.formulas.estimated_close_fee`) is part of the initial
        margin too (Bybit): an isolated position is opened with it on top of its margin,
        a cross one reserves it from the available balance; the fee in maintenance is
        then valued at the bankruptcy price of the rest of the collateral, so with no
        margin added the two cancel in the liquidation price.
    bankruptcy_price_rounding
        How a reported bankruptcy price is rounded to the tick: ``"adverse"`` as a
        liquidation price (a long's down), or ``"favourable"`` (Bybit: a long's up, a
        short's down).
    maintenance_rule
        ``"tiers"``, or ``"half_initial_at_max_leverage"`` (Hyperliquid: MMR = 1 / (2 x
        max leverage)), used when a calculator call gives only a max leverage.
    """

    fee_rate: Decimal
    remainder_to: Literal["insurance_fund", "trader"]
    close_fee_in_maintenance: bool
    trigger: Literal["mark"] = "mark"
    maintenance_rule: Literal["tiers", "half_initial_at_max_leverage"] = "tiers"
    close_fee_basis: Literal["liquidation", "bankruptcy"] = "liquidation"
    close_fee_in_initial_margin: bool = False
    bankruptcy_price_rounding: Literal["adverse", "favourable"] = "adverse"
    source: str = ""
    process: LiquidationProcess = field(default_factory=LiquidationProcess)
    adl: AdlRules | None = None


@dataclass(frozen=True, slots=True)
class VenueRules:
    """Mode defaults and switching rules (see ``RULES.md`` sources in each venue file)."""

    default_margin_mode: MarginMode
    default_position_mode: PositionMode
    position_modes: tuple[PositionMode, ...]
    margin_mode_scope: Literal["symbol", "account"]
    margin_mode_switch_blocked_by_open_orders: bool
    position_mode_switch_blocked_by_open_orders: bool
    isolated_leverage_decrease_with_position: bool
    cross_leverage_decrease_with_position: bool
    remove_margin: bool
    default_leverage: Decimal = Decimal(20)
    sources: Mapping[str, str] = field(default_factory=dict)
    open_loss_in_cost: bool = False
    """The cost to open a position counts its open loss at the mark (Binance:
    :func:`perpmargin.formulas.open_loss`)."""


@dataclass(frozen=True, slots=True)
class Venue:
    """A venue's rules, loaded from a versioned data file (see :func:`load_venue`)."""

    id: str
    name: str
    version: str
    as_of: str
    source: str
    settle_precision: Decimal
    rules: VenueRules
    maker_fee_rate: Decimal
    taker_fee_rate: Decimal
    fees_source: str
    liquidation: LiquidationRules
    funding_interval_hours: int
    symbols: Mapping[str, SymbolSpec]
    path: str = ""
    default_settle: str | None = None
    """The collateral an account opens in when its symbols settle in several assets
    and none is named (the settle asset of the symbols the venue file lists itself)."""
    listed: tuple[str, ...] = ()
    """The symbols the venue file lists itself, with their grids (the rest come from a
    tier snapshot: see :func:`perpmargin.venues.loader.with_snapshot`); empty: all."""

    @property
    def featured(self) -> tuple[str, ...]:
        """:attr:`listed`, or every symbol when the file has no snapshot."""
        return self.listed or tuple(sorted(self.symbols))

    def symbol(self, name: str) -> SymbolSpec:
        """Return the spec for a venue id (``BTCUSDT``) or ccxt symbol (``BTC/USDT:USDT``)."""
        if not isinstance(name, str):
            raise InvalidInput(f"symbol must be a string, was {type(name).__name__}")
        spec = self.symbols.get(name)
        if spec is not None:
            return spec
        for s in self.symbols.values():
            if s.ccxt_symbol == name:
                return s
        names = sorted(self.symbols)
        if len(names) <= 12:
            known = f"known: {', '.join(names)}"
        else:  # a whole venue: the nearest names, not hundreds
            near = difflib.get_close_matches(name.upper(), names, n=5, cutoff=0.6)
            known = f"{len(names)} symbols" + (f"; nearest: {', '.join(near)}" if near else "")
        raise UnknownSymbol(f"{self.id} lists no symbol {name!r}; {known}")

    def with_tiers(self, symbol: str, tiers: Sequence[Mapping[str, object]]) -> Venue:
        """Return a copy whose ``symbol`` uses ``tiers`` (what-if work, old tables).

        Each tier is a mapping with ``min_notional``, ``max_notional`` (``None`` = no
        cap), ``maintenance_margin_rate``, ``maintenance_amount`` and ``max_leverage``.
        The table is validated like a bundled file.
        """
        from perpmargin.venues.loader import parse_tiers  # local: loader imports schema

        spec = self.symbol(symbol)
        table = parse_tiers(list(tiers), "notional", f"{self.id}.with_tiers({symbol!r})")
        new_spec = replace(spec, tiers=table, tiers_source="user-supplied", tiers_as_of="")
        symbols = dict(self.symbols)
        symbols[spec.symbol] = new_spec
        return replace(self, symbols=symbols, version=self.version + "+what-if")

    def with_fees(
        self,
        *,
        maker: Number | None = None,
        taker: Number | None = None,
        liquidation: Number | None = None,
    ) -> Venue:
        """Return a copy with other maker / taker / liquidation-fee rates (fractions)."""
        maker_d = self.maker_fee_rate if maker is None else to_decimal(maker, "maker fee rate")
        taker_d = self.taker_fee_rate if taker is None else to_decimal(taker, "taker fee rate")
        if not (-1 < maker_d < 1) or not (0 <= taker_d < 1):
            raise InvalidInput(
                f"fee rates must be fractions (maker in (-1, 1), taker in [0, 1)), "
                f"were maker={maker_d}, taker={taker_d}"
            )
        venue = replace(self, maker_fee_rate=maker_d, taker_fee_rate=taker_d)
        if liquidation is not None:
            rate = to_decimal(liquidation, "liquidation fee rate", non_negative=True)
            if rate >= 1:
                raise InvalidInput(f"liquidation fee rate must be < 1, was {rate}")
            symbols = {k: replace(v, liquidation_fee_rate=rate) for k, v in self.symbols.items()}
            venue = replace(
                venue, symbols=symbols, liquidation=replace(self.liquidation, fee_rate=rate)
            )
        return replace(venue, version=self.version + "+what-if")

    def describe(self) -> str:
        """One line: id, version and source date."""
        return f"{self.id} {self.version} (as of {self.as_of})"
