"""The exact reference account: one perpetual-futures account on one venue.

Model (all money Decimal, in the venue's settle asset):

- **Cross wallet** holds deposits, realised PnL, fees and funding of cross positions,
  and is what isolated margin is carved out of. ``wallet_balance`` = cross wallet +
  every isolated margin (as Binance reports it).
- **Isolated** leg: its own margin (initial margin at open + added - removed - funding).
  It is liquidated alone when ``margin + uPnL(mark) <= requirement(mark)``; its loss
  is capped at its margin (a deficit is covered by the insurance fund).
- **Cross** legs share ``cross wallet + sum(uPnL)``; when that is ``<=`` the sum of
  their requirements, every cross leg is liquidated (the base model). Isolated legs
  are untouched by a cross liquidation and an isolated loss never reaches the cross
  wallet.
- **Requirement** = tiered maintenance margin at the notional at mark (MMR x notional -
  maintenance amount), plus the taker fee to close where the venue counts it.
- **Liquidation** closes at the trigger mark; the trader's collateral is then
  collateral + PnL, of which the liquidation fee (capped at what is left) goes to the
  insurance fund, and the remainder to the fund or back to the trader per venue rule.
  Economically the trader is closed at the bankruptcy price when the remainder goes to
  the fund. A negative remainder is a deficit the insurance fund pays, so the trader
  never owes money.
- **Rounding** (one place, :meth:`Account._round`): to the venue's settle precision,
  in the venue's favour: fees and funding paid round up, PnL and released margin round
  down. The counterparty books exactly the negative of what the trader books.

Every public mutator is atomic: a typed error leaves the account exactly as it was.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any, Literal

from perpmargin import formulas as F
from perpmargin.engine import liquidation
from perpmargin.engine import math as pmath
from perpmargin.engine.events import (
    AccountOpened,
    Event,
    Fill,
    FundingSettled,
    InsuranceFundTransfer,
    LeverageChanged,
    Liquidation,
    MarginChanged,
    MarginModeChanged,
    MarksUpdated,
    OrderCancelled,
    OrderPlaced,
    PartialLiquidation,
    PositionModeChanged,
    PositionRestored,
)
from perpmargin.engine.insurance import InsuranceFund
from perpmargin.engine.ledger import AccountState, LegState
from perpmargin.engine.liquidation import LegKey
from perpmargin.engine.orders import Order, OrderSide, OrderType, TriggerBy
from perpmargin.engine.position import Leg, PositionSide, PositionView
from perpmargin.errors import (
    InsufficientMargin,
    InvalidInput,
    LeverageChangeError,
    LeverageTooHigh,
    MarginRemovalNotAllowed,
    ModeSwitchError,
    NoPosition,
    OrderError,
    PerpMarginError,
    PositionTooLarge,
)
from perpmargin.numeric import ONE, ZERO, Number, engine_context, is_on_grid, round_to_step
from perpmargin.numeric import to_decimal as _to_decimal
from perpmargin.venues.schema import (
    LiquidationProcess,
    MarginMode,
    PositionMode,
    SymbolSpec,
    Venue,
)

__all__ = ["Account"]

TimeLike = int | _dt.datetime | None
LiquidationModel = Literal["full", "venue"]
DeleverageHook = Callable[["Account", str, PositionSide, Decimal, Decimal], Decimal]
"""(liquidated account, symbol, side of the bankrupt leg, quantity, bankruptcy price) ->
quantity the opposite side took over (see :class:`perpmargin.engine.clearing.Clearinghouse`)."""


def pool_ratio(requirement: Decimal, balance: Decimal) -> Decimal:
    """A pool's margin ratio (:func:`perpmargin.formulas.margin_ratio`) in the engine's
    context."""
    with engine_context():
        return F.margin_ratio(requirement, balance)


def _time_ms(time: TimeLike) -> int | None:
    if time is None:
        return None
    if isinstance(time, _dt.datetime):
        if time.tzinfo is None:
            time = time.replace(tzinfo=_dt.UTC)
        return int(time.timestamp() * 1000)
    if isinstance(time, bool) or not isinstance(time, int):
        raise InvalidInput(f"time must be ms since the epoch (int) or a datetime, was {time!r}")
    return time


def _side(side: object) -> PositionSide:
    if side not in ("long", "short"):
        raise InvalidInput(f"side must be 'long' or 'short', was {side!r}")
    return "long" if side == "long" else "short"


class _Book:
    """The account as the liquidation process sees it (:class:`perpmargin.engine.
    liquidation.Book`): reads at the marks, and bookings that change the state and append
    the event in one step. The only door from that module to the account's state."""

    __slots__ = ("_a",)

    def __init__(self, account: Account) -> None:
        self._a = account

    @property
    def venue(self) -> Venue:
        return self._a._venue

    @property
    def process(self) -> LiquidationProcess:
        return self._a._process

    @property
    def venue_model(self) -> bool:
        return self._a._liquidation_model == "venue"

    @property
    def time(self) -> int | None:
        return self._a._time

    @property
    def cross_wallet(self) -> Decimal:
        return self._a._cross_wallet

    @property
    def insurance_fund_balance(self) -> Decimal:
        return self._a._insurance_fund.balance

    @property
    def can_deleverage(self) -> bool:
        return self._a._deleverage_hook is not None

    def legs(self) -> Mapping[LegKey, Leg]:
        return dict(self._a._legs)

    def cross_legs(self) -> list[Leg]:
        return self._a._cross_legs()

    def spec(self, symbol: str) -> SymbolSpec:
        return self._a._spec(symbol)

    def mark(self, symbol: str) -> Decimal:
        return self._a._marks[symbol]

    def previous_mark(self, symbol: str) -> Decimal | None:
        return self._a._previous_marks.get(symbol)

    def upnl(self, leg: Leg) -> Decimal:
        return self._a._upnl(leg)

    def requirement(self, leg: Leg) -> Decimal:
        return self._a._requirement(leg, self._a._marks[leg.symbol])

    def value(self, symbol: str, quantity: Decimal, price: Decimal) -> Decimal:
        return self._a._value(symbol, quantity, price)

    def round(self, amount: Decimal, direction: Literal["up", "down"]) -> Decimal:
        return self._a._round(amount, direction)

    def bankruptcy_price(self, leg: Leg) -> Decimal | None:
        return self._a._solve(leg, with_requirement=False, exact=False)

    def cooling_down(self, pool: str) -> bool:
        until = self._a._cooldown_until.get(pool)
        now = self._a._time
        return until is not None and now is not None and now < until

    def start_cooldown(self, pool: str, seconds: int) -> None:
        if self._a._time is not None:
            self._a._cooldown_until[pool] = self._a._time + seconds * 1000

    def end_cooldown(self, pool: str) -> None:
        self._a._cooldown_until.pop(pool, None)

    def deleverage(self, leg: Leg, quantity: Decimal, price: Decimal) -> Decimal:
        hook = self._a._deleverage_hook
        return ZERO if hook is None else hook(self._a, leg.symbol, leg.side, quantity, price)

    def book_partial(
        self, leg: Leg, quantity: Decimal, pnl: Decimal, fee: Decimal, reason: str
    ) -> None:
        a = self._a
        cross_delta = iso_delta = ZERO
        if leg.margin_mode == "cross":
            cross_delta = pnl - fee
            a._cross_wallet += cross_delta
        else:
            iso_delta = pnl - fee
        a._counterparty_pnl -= pnl
        a._fees_paid += fee
        a._legs[(leg.symbol, leg.side)] = replace(
            leg, quantity=leg.quantity - quantity, isolated_margin=leg.isolated_margin + iso_delta
        )
        a._emit(
            PartialLiquidation,
            symbol=leg.symbol,
            position_side=leg.side,
            margin_mode=leg.margin_mode,
            quantity=quantity,
            quantity_after=leg.quantity - quantity,
            mark_price=a._marks[leg.symbol],
            realized_pnl=pnl,
            fee=fee,
            cross_wallet_delta=cross_delta,
            isolated_margin_delta=iso_delta,
            reason=reason,
        )

    def book_liquidation(
        self,
        leg: Leg,
        *,
        pnl: Decimal,
        fee: Decimal,
        cross_delta: Decimal,
        fund_delta: Decimal,
        bankruptcy_price: Decimal | None,
        process: str,
        deleveraged: Decimal,
    ) -> None:
        a = self._a
        isolated = leg.margin_mode == "isolated"
        a._counterparty_pnl -= pnl
        del a._legs[(leg.symbol, leg.side)]
        a._cross_wallet += cross_delta
        a._fund(fund_delta, "liquidation")
        a._emit(
            Liquidation,
            symbol=leg.symbol,
            position_side=leg.side,
            margin_mode=leg.margin_mode,
            quantity=leg.quantity,
            entry_price=leg.entry_price,
            mark_price=a._marks[leg.symbol],
            bankruptcy_price=bankruptcy_price,
            realized_pnl=pnl,
            liquidation_fee=fee,
            cross_wallet_delta=cross_delta,
            isolated_margin_delta=-leg.isolated_margin if isolated else ZERO,
            insurance_fund_delta=fund_delta,
            process=process,
            deleveraged=deleveraged,
        )
        for oid, order in sorted(a._orders.items()):
            if order.symbol == leg.symbol and (
                order.position_side in (None, leg.side) or not isolated
            ):
                del a._orders[oid]
                a._emit(OrderCancelled, order_id=oid, reason="liquidation")

    def transfer(self, reason: str, amount: Decimal) -> None:
        a = self._a
        a._fund(amount, reason)
        a._cross_wallet -= amount
        a._emit(InsuranceFundTransfer, reason=reason, amount=amount, cross_wallet_delta=-amount)


class Account:
    """A perpetual-futures account on ``venue`` with ``balance`` in its wallet.

    Parameters
    ----------
    venue
        A :class:`~perpmargin.venues.Venue` (see :func:`perpmargin.load_venue`).
    balance
        Starting wallet balance in the settle asset (int, str or Decimal; a float is
        converted through its repr).
    insurance_fund
        Fund that receives liquidation fees and covers deficits; may be shared by
        several accounts. A new empty fund by default.
    settle
        The collateral pool: the settle asset of every symbol this account trades
        (``"USDT"``, or ``"BTC"`` for coin-margined BTC contracts). Needed only when the
        venue lists symbols settled in more than one asset; venues keep one pool per
        settle asset, so a linear and an inverse position live in two accounts (Binance
        USDⓈ-M and COIN-M are separate wallets; Bybit margins inverse contracts in the
        coin).
    liquidation_model
        ``"full"`` (default, the base model): a pool at maintenance is closed at once
        at the mark. ``"venue"``: the venue's own process from its data file
        (``liquidation.process``): partial liquidation tier by tier (Binance, Bybit, OKX,
        Gate), a fraction at a time with a cooldown (Hyperliquid, dYdX), Hyperliquid's
        backstop takeover, and auto-deleveraging of counterparties when the insurance
        fund cannot cover a bankrupt position (accounts of a
        :class:`~perpmargin.engine.clearing.Clearinghouse`).
    time
        Creation time (ms since the epoch or datetime), recorded in the ledger.
    deleverage_hook
        Who takes over a bankrupt position when the insurance fund cannot (auto-
        deleveraging): set by a :class:`~perpmargin.engine.clearing.Clearinghouse` for
        the accounts it opens; None (no counterparties) otherwise.
    """

    def __init__(
        self,
        venue: Venue,
        balance: Number,
        *,
        insurance_fund: InsuranceFund | None = None,
        time: TimeLike = None,
        settle: str | None = None,
        liquidation_model: LiquidationModel = "full",
        deleverage_hook: DeleverageHook | None = None,
    ) -> None:
        if not isinstance(venue, Venue):
            raise InvalidInput(f"venue must be a Venue (see load_venue), was {type(venue)}")
        settles = sorted({spec.settle for spec in venue.symbols.values()})
        if settle is None:
            if len(settles) > 1 and venue.default_settle in settles:
                settle = venue.default_settle
            elif len(settles) > 1:
                raise InvalidInput(
                    f"{venue.id} settles symbols in {', '.join(settles)}: pass settle= to pick "
                    "this account's collateral pool (one account per settle asset)"
                )
            else:
                settle = settles[0]
        elif settle not in settles:
            raise InvalidInput(
                f"{venue.id} has no symbol settled in {settle!r}; "
                f"it settles in {', '.join(settles)}"
            )
        if liquidation_model not in ("full", "venue"):
            raise InvalidInput(
                f"liquidation_model must be 'full' or 'venue', was {liquidation_model!r}"
            )
        self._settle = settle
        self._liquidation_model: LiquidationModel = liquidation_model
        self._process = (
            venue.liquidation.process if liquidation_model == "venue" else LiquidationProcess()
        )
        self._deleverage_hook = deleverage_hook
        self._cooldown_until: dict[str, int] = {}
        self._book = _Book(self)
        self._specs: dict[str, SymbolSpec] = {}
        self._venue = venue
        self._step = venue.settle_precision
        with engine_context():
            amount = _to_decimal(balance, "balance", non_negative=True)
            if not is_on_grid(amount, self._step):
                raise InvalidInput(
                    f"balance {amount} has more decimals than the settle precision {self._step}"
                )
        self._cross_wallet = amount
        self._legs: dict[LegKey, Leg] = {}
        self._margin_modes: dict[str, MarginMode] = {}
        self._leverage: dict[str, Decimal] = {}
        self._position_mode: PositionMode = venue.rules.default_position_mode
        self._marks: dict[str, Decimal] = {}
        self._previous_marks: dict[str, Decimal] = {}  # each symbol's mark before the latest
        self._last: dict[str, Decimal] = {}
        self._orders: dict[int, Order] = {}
        self._next_order_id = 1
        self._ledger: list[Event] = []
        self._insurance_fund = insurance_fund if insurance_fund is not None else InsuranceFund()
        self._insurance_net = ZERO
        self._fees_paid = ZERO
        self._counterparty_pnl = ZERO
        self._time: int | None = _time_ms(time)
        self._revision = 0
        self._emit(
            AccountOpened,
            venue=venue.id,
            venue_version=venue.version,
            balance=amount,
            position_mode=self._position_mode,
            margin_mode_default=venue.rules.default_margin_mode,
        )

    # ------------------------------------------------------------------ plumbing

    def _emit(self, cls: type[Event], **fields: Any) -> Event:
        """Append an event; a mark update right after another one replaces it (the
        ledger's compact mark log: between two changes of state only the latest marks of
        each symbol are kept, and the replaced update's ``seq`` is reused)."""
        ledger = self._ledger
        if cls is MarksUpdated and ledger and type(ledger[-1]) is MarksUpdated:
            prev = ledger[-1]
            assert isinstance(prev, MarksUpdated)
            merged = MarksUpdated(
                seq=prev.seq,
                time=self._time,
                marks={**prev.marks, **fields["marks"]},
                last={**prev.last, **fields["last"]},
            )
            ledger[-1] = merged
            return merged
        event = cls(seq=len(ledger), time=self._time, **fields)
        ledger.append(event)
        if cls is not MarksUpdated:
            self._revision += 1
        return event

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        """Run a block inside the engine's Decimal context; undo everything on error."""
        saved = (
            self._cross_wallet,
            dict(self._legs),
            dict(self._margin_modes),
            dict(self._leverage),
            self._position_mode,
            dict(self._marks),
            dict(self._previous_marks),
            dict(self._last),
            dict(self._orders),
            self._next_order_id,
            len(self._ledger),
            self._ledger[-1] if self._ledger else None,
            self._insurance_fund.balance,
            len(self._insurance_fund.history),
            self._insurance_net,
            self._fees_paid,
            self._counterparty_pnl,
            self._time,
            self._revision,
            dict(self._cooldown_until),
        )
        try:
            with engine_context():
                yield
        except BaseException:
            (
                self._cross_wallet,
                self._legs,
                self._margin_modes,
                self._leverage,
                self._position_mode,
                self._marks,
                self._previous_marks,
                self._last,
                self._orders,
                self._next_order_id,
                ledger_len,
                last_event,
                fund_balance,
                fund_hist_len,
                self._insurance_net,
                self._fees_paid,
                self._counterparty_pnl,
                self._time,
                self._revision,
                self._cooldown_until,
            ) = saved
            del self._ledger[ledger_len:]
            if last_event is not None:  # a mark update merged into it is undone too
                self._ledger[-1] = last_event
            self._insurance_fund.balance = fund_balance
            del self._insurance_fund.history[fund_hist_len:]
            raise

    def _round(self, value: Decimal, direction: Literal["up", "down"]) -> Decimal:
        """Round money to the settle precision; ``up`` for what the trader pays."""
        return round_to_step(value, self._step, direction)

    def _set_marks(self, marks: Mapping[str, Decimal]) -> None:
        for symbol, mark in marks.items():
            if symbol in self._marks and self._marks[symbol] != mark:
                self._previous_marks[symbol] = self._marks[symbol]
            self._marks[symbol] = mark

    def _set_time(self, time: TimeLike) -> None:
        t = _time_ms(time)
        if t is not None:
            self._time = t

    def _fund(self, delta: Decimal, reason: str) -> None:
        if delta:
            self._insurance_fund.apply(delta, reason, self._time)
            self._insurance_net += delta

    def _spec(self, symbol: str) -> SymbolSpec:
        """The symbol's spec, checked to settle in this account's pool (cached: the venue
        is immutable and this is on the revaluation path)."""
        cached = self._specs.get(symbol)
        if cached is not None:
            return cached
        spec = self._venue.symbol(symbol)
        if spec.settle != self._settle:
            raise InvalidInput(
                f"{spec.symbol} settles in {spec.settle}, but this account's collateral is "
                f"{self._settle}: venues keep a separate pool per settle asset; use another "
                "Account for it (one per settle asset)"
            )
        if isinstance(symbol, str):
            self._specs[symbol] = spec
        return spec

    def _price(self, value: Number, name: str = "price") -> Decimal:
        return _to_decimal(value, name, positive=True)

    def _quantity(self, spec: SymbolSpec, value: Number) -> Decimal:
        qty = _to_decimal(value, "quantity", positive=True)
        if not is_on_grid(qty, spec.step_size):
            lo = round_to_step(qty, spec.step_size, "down")
            hi = round_to_step(qty, spec.step_size, "up")
            raise InvalidInput(
                f"quantity {qty} is not a multiple of {spec.symbol}'s step {spec.step_size}; "
                f"use {lo} or {hi}"
            )
        if qty < spec.min_quantity:
            raise InvalidInput(
                f"quantity {qty} is below {spec.symbol}'s minimum {spec.min_quantity}"
            )
        if qty > spec.max_quantity:
            raise InvalidInput(
                f"quantity {qty} is above {spec.symbol}'s maximum order size {spec.max_quantity}"
            )
        return qty

    def _requirement(self, leg: Leg, price: Decimal) -> Decimal:
        spec = self._spec(leg.symbol)
        fee, fee_price = self._close_fee(leg)
        return pmath.requirement(
            spec.tiers, leg.quantity, price, fee, fee_price, spec.inverse_value
        )

    def _close_fee(self, leg: Leg) -> tuple[Decimal, Decimal | None]:
        """The close-fee rate counted in the requirement, and the price it is valued at."""
        rules = self._venue.liquidation
        if not rules.close_fee_in_maintenance:
            return ZERO, None
        if rules.close_fee_basis == "liquidation":
            return self._venue.taker_fee_rate, None
        return self._venue.taker_fee_rate, pmath.fee_bankruptcy_price(self._pool(leg), leg.symbol)

    def _fee_reserve(
        self, symbol: str, side: PositionSide, quantity: Decimal, entry: Decimal, lev: Decimal
    ) -> Decimal:
        """The estimated fee to close held in the initial margin (Bybit), rounded up; 0
        where the venue holds none."""
        if not self._venue.liquidation.close_fee_in_initial_margin:
            return ZERO
        fee = pmath.estimated_close_fee(
            1 if side == "long" else -1,
            quantity,
            entry,
            lev,
            self._venue.taker_fee_rate,
            self._spec(symbol).inverse_value,
        )
        return self._round(fee, "up")

    def _leg_reserve(self, leg: Leg) -> Decimal:
        return self._fee_reserve(leg.symbol, leg.side, leg.quantity, leg.entry_price, leg.leverage)

    def _upnl(self, leg: Leg, price: Decimal | None = None) -> Decimal:
        p = self._marks[leg.symbol] if price is None else price
        cv = self._spec(leg.symbol).inverse_value
        return pmath.unrealized_pnl(leg.sign, leg.quantity, leg.entry_price, p, cv)

    def _value(self, symbol: str, quantity: Decimal, price: Decimal) -> Decimal:
        """Position value (notional) in the settle asset: linear q x P, inverse q x cv / P."""
        return pmath.position_value(quantity, price, self._spec(symbol).inverse_value)

    def _legs_of(self, symbol: str) -> list[Leg]:
        return [leg for (s, _), leg in sorted(self._legs.items()) if s == symbol]

    def _cross_legs(self) -> list[Leg]:
        return [leg for _, leg in sorted(self._legs.items()) if leg.margin_mode == "cross"]

    def _order_margin(self) -> Decimal:
        """Initial margin reserved by resting limit orders that can open positions."""
        total = ZERO
        for o in self._orders.values():
            if o.type == "limit" and not o.reduce_only and o.price is not None:
                total += self._value(o.symbol, o.quantity, o.price) / self.leverage(o.symbol)
        return total

    # ------------------------------------------------------------------ read-only state

    @property
    def venue(self) -> Venue:
        """The venue whose rules this account follows."""
        return self._venue

    @property
    def liquidation_model(self) -> LiquidationModel:
        """``"full"`` (close a pool at once) or ``"venue"`` (the venue's own process)."""
        return self._liquidation_model

    @property
    def settle(self) -> str:
        """The settle asset every balance and amount of this account is in."""
        return self._settle

    @property
    def position_mode(self) -> PositionMode:
        """``"one-way"`` or ``"hedge"`` (the venue's default until changed)."""
        return self._position_mode

    def margin_mode(self, symbol: str) -> MarginMode:
        """Margin mode of ``symbol``: as set, else the venue's default."""
        spec = self._spec(symbol)
        return self._margin_modes.get(spec.symbol, self._venue.rules.default_margin_mode)

    def leverage(self, symbol: str) -> Decimal:
        """Leverage of ``symbol``: as set, else the venue default capped at tier 1's max."""
        spec = self._spec(symbol)
        if spec.symbol in self._leverage:
            return self._leverage[spec.symbol]
        return min(self._venue.rules.default_leverage, spec.tiers.tiers[0].max_leverage)

    @property
    def marks(self) -> Mapping[str, Decimal]:
        """Latest mark price per symbol."""
        return dict(self._marks)

    @property
    def cross_wallet_balance(self) -> Decimal:
        """Wallet balance outside isolated margins (settle asset)."""
        return self._cross_wallet

    @property
    def wallet_balance(self) -> Decimal:
        """Cross wallet + every isolated margin (settle asset); excludes uPnL."""
        return self._cross_wallet + sum((leg.isolated_margin for leg in self._legs.values()), ZERO)

    @property
    def unrealized_pnl(self) -> Decimal:
        """Sum of every leg's uPnL at its mark (+ is a gain)."""
        with engine_context():
            return sum((self._upnl(leg) for leg in self._legs.values()), ZERO)

    @property
    def equity(self) -> Decimal:
        """Wallet balance + unrealised PnL ("margin balance")."""
        return self.equity_at()

    def equity_at(self, prices: Mapping[str, Decimal] | None = None) -> Decimal:
        """Equity if the marks were ``prices`` (symbol -> mark; other symbols held at
        their marks); changes nothing. Without ``prices``: :attr:`equity`."""
        at = self._marks if not prices else {**self._marks, **prices}
        with engine_context():
            upnl = sum((self._upnl(leg, at[leg.symbol]) for leg in self._legs.values()), ZERO)
        return self.wallet_balance + upnl

    @property
    def cross_equity(self) -> Decimal:
        """Cross wallet + uPnL of the cross legs: what the cross legs share."""
        with engine_context():
            return self._cross_wallet + sum((self._upnl(leg) for leg in self._cross_legs()), ZERO)

    @property
    def cross_maintenance_margin(self) -> Decimal:
        """Sum of the cross legs' requirements at their marks (0 with none)."""
        reading = self.pool_readings().get("cross")
        return ZERO if reading is None else reading[0]

    @property
    def available_balance(self) -> Decimal:
        """What new margin or withdrawals can use (>= 0).

        Cross equity minus the cross legs' initial margin at mark (notional /
        leverage) minus margin reserved by resting limit orders.
        """
        with engine_context():
            return max(ZERO, self._available())

    def _available(self) -> Decimal:
        im = sum(
            (
                F.initial_margin(
                    self._value(leg.symbol, leg.quantity, self._marks[leg.symbol]), leg.leverage
                )
                + self._leg_reserve(leg)
                for leg in self._cross_legs()
            ),
            ZERO,
        )
        return self.cross_equity - im - self._order_margin()

    @property
    def margin_ratio(self) -> Decimal:
        """Cross maintenance requirement / cross equity; >= 1 means liquidation.

        0 with no cross position. When cross equity is <= 0 with positions open the
        ratio is reported as 1 (the account is liquidatable).
        """
        reading = self.pool_readings().get("cross")
        return ZERO if reading is None else pool_ratio(*reading)

    def net_quantity(self, symbol: str) -> Decimal:
        """Signed base quantity held in ``symbol`` (longs +, shorts -; 0 when flat)."""
        spec = self._spec(symbol)
        return sum((leg.sign * leg.quantity for leg in self._legs_of(spec.symbol)), ZERO)

    def liquidates_at(self, prices: Mapping[str, Number]) -> bool:
        """Whether marking at ``prices`` (symbol -> mark; other marks held) would liquidate.

        Looks at the isolated legs of those symbols and at the cross account when it
        holds any of them; changes nothing. Equity minus requirement is concave along a
        straight move of the marks (linear PnL minus a convex tiered requirement), so
        if neither end of such a move liquidates, no point in between does.
        """
        with engine_context():
            moved = {
                self._spec(s).symbol: self._price(p, f"price of {s}") for s, p in prices.items()
            }
            for (symbol, _), leg in self._legs.items():
                if leg.margin_mode != "isolated" or symbol not in moved:
                    continue
                p = moved[symbol]
                if leg.isolated_margin + self._upnl(leg, p) <= self._requirement(leg, p):
                    return True
            cross = self._cross_legs()
            if not any(leg.symbol in moved for leg in cross):
                return False
            equity = self._cross_wallet
            mm = ZERO
            for leg in cross:
                at = moved.get(leg.symbol, self._marks[leg.symbol])
                equity += self._upnl(leg, at)
                mm += self._requirement(leg, at)
            return equity <= mm

    def margin_ratios(self) -> dict[str, Decimal]:
        """Maintenance requirement / margin balance of every margin pool, at the marks.

        Keys: ``"cross"`` (when cross legs are open) and ``"SYMBOL side"`` for each
        isolated leg. A pool is liquidated at >= 1; a pool with no balance left is 1.
        """
        return {key: pool_ratio(*reading) for key, reading in self.pool_readings().items()}

    def pool_readings(
        self, prices: Mapping[str, Decimal] | None = None
    ) -> dict[str, tuple[Decimal, Decimal]]:
        """(maintenance requirement, margin balance) of every margin pool if the marks were
        ``prices`` (symbol -> mark; others held); changes nothing. Keys as
        :meth:`margin_ratios`, whose ratios are :func:`pool_ratio` of these."""
        at = self._marks if not prices else {**self._marks, **prices}
        with engine_context():
            out: dict[str, tuple[Decimal, Decimal]] = {}
            cross = self._cross_legs()
            if cross:
                balance = self._cross_wallet
                mm = ZERO
                for leg in cross:
                    balance += self._upnl(leg, at[leg.symbol])
                    mm += self._requirement(leg, at[leg.symbol])
                out["cross"] = (mm, balance)
            for (symbol, side), leg in sorted(self._legs.items()):
                if leg.margin_mode != "isolated":
                    continue
                out[f"{symbol} {side}"] = (
                    self._requirement(leg, at[symbol]),
                    leg.isolated_margin + self._upnl(leg, at[symbol]),
                )
            return out

    @property
    def insurance_fund(self) -> InsuranceFund:
        """The insurance fund this account's liquidations pay into and draw on."""
        return self._insurance_fund

    @property
    def fees_paid(self) -> Decimal:
        """Trading fees paid by this account (collected by the venue)."""
        return self._fees_paid

    @property
    def counterparty_pnl(self) -> Decimal:
        """PnL booked by the other side of every fill and funding payment."""
        return self._counterparty_pnl

    @property
    def insurance_fund_net(self) -> Decimal:
        """Net amount this account moved into (+) the insurance fund."""
        return self._insurance_net

    @property
    def revision(self) -> int:
        """Count of state-changing events so far (every event but a mark update).

        Two reads with the same revision saw the same positions, margins and wallet;
        only the marks may differ. Useful as a cache key.
        """
        return self._revision

    @property
    def time(self) -> int | None:
        """Time of the latest event that carried one (ms since the epoch), or None."""
        return self._time

    @property
    def ledger(self) -> tuple[Event, ...]:
        """Every event, in order (append-only)."""
        return tuple(self._ledger)

    def events_since(self, seq: int) -> list[Event]:
        """The events with ``seq`` >= ``seq`` (cheap: the ledger is not copied whole).

        ``events_since(n)`` with ``n`` = the ledger's length before a call gives that
        call's events, including those another account caused (auto-deleveraging).
        """
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise InvalidInput(f"seq must be an int >= 0, was {seq!r}")
        return self._ledger[seq:]

    @property
    def next_seq(self) -> int:
        """The ``seq`` the next event will carry (the ledger's length)."""
        return len(self._ledger)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Resting orders, optionally for one symbol, by id."""
        sym = None if symbol is None else self._spec(symbol).symbol
        return [o for _, o in sorted(self._orders.items()) if sym is None or o.symbol == sym]

    def _leg_for(self, symbol: str, side: PositionSide | None) -> Leg | None:
        spec = self._spec(symbol)
        legs = self._legs_of(spec.symbol)
        if side is not None:
            return self._legs.get((spec.symbol, _side(side)))
        if len(legs) > 1:
            raise InvalidInput(
                f"{spec.symbol} has a long and a short leg (hedge mode); pass side='long' "
                "or side='short'"
            )
        return legs[0] if legs else None

    def position(self, symbol: str, side: PositionSide | None = None) -> PositionView | None:
        """The open position in ``symbol`` (``side`` for one leg in hedge mode), or None."""
        leg = self._leg_for(symbol, side)
        return None if leg is None else self._view(leg)

    def positions(self) -> list[PositionView]:
        """Every open leg, sorted by symbol and side."""
        return [self._view(leg) for _, leg in sorted(self._legs.items())]

    def _view(self, leg: Leg) -> PositionView:
        with engine_context():
            spec = self._spec(leg.symbol)
            mark = self._marks[leg.symbol]
            notional = self._value(leg.symbol, leg.quantity, mark)
            tier = spec.tiers.tier_for(leg.quantity, notional)
            mm = self._requirement(leg, mark)
            upnl = self._upnl(leg)
            if leg.margin_mode == "isolated":
                balance = leg.isolated_margin + upnl
                ratio = F.margin_ratio(mm, balance)
            else:
                ratio = self.margin_ratio
            return PositionView(
                symbol=leg.symbol,
                ccxt_symbol=spec.ccxt_symbol,
                side=leg.side,
                quantity=leg.quantity,
                entry_price=leg.entry_price,
                mark_price=mark,
                notional=notional,
                unrealized_pnl=upnl,
                margin_mode=leg.margin_mode,
                leverage=leg.leverage,
                isolated_margin=leg.isolated_margin,
                initial_margin=(
                    leg.isolated_margin
                    if leg.margin_mode == "isolated"
                    else F.initial_margin(notional, leg.leverage) + self._leg_reserve(leg)
                ),
                maintenance_margin=mm,
                maintenance_margin_rate=tier.maintenance_margin_rate,
                tier=tier.tier,
                margin_ratio=ratio,
                liquidation_price=self._solve(leg, with_requirement=True, exact=False),
                bankruptcy_price=self._solve(leg, with_requirement=False, exact=False),
                close_fee_reserve=self._leg_reserve(leg),
            )

    # ------------------------------------------------------------------ liquidation price

    def liquidation_price(
        self,
        symbol: str,
        side: PositionSide | None = None,
        *,
        exact: bool = False,
        marks: Mapping[str, Decimal] | None = None,
    ) -> Decimal | None:
        """Mark price of ``symbol`` at which the position is liquidated, others held.

        Isolated: the leg alone with its margin. Cross: every cross leg shares the cross
        wallet; other symbols are held at their marks, and both legs of ``symbol`` (hedge
        mode) move with the price. The tier is the one at the liquidation price.

        Rounded to the tick in the direction that makes the returned price liquidate
        when marked (a long's price rounds down, a short's up); ``exact=True`` returns
        the unrounded solution. ``None``: no position, or no positive price liquidates.
        ``marks``: solve as if the other symbols were marked so (changes nothing).
        """
        leg = self._leg_for(symbol, side)
        if leg is None:
            return None
        with engine_context():
            return self._solve(leg, with_requirement=True, exact=exact, marks=marks)

    def bankruptcy_price(
        self, symbol: str, side: PositionSide | None = None, *, exact: bool = False
    ) -> Decimal | None:
        """Mark price of ``symbol`` at which the collateral backing it is exactly zero."""
        leg = self._leg_for(symbol, side)
        if leg is None:
            return None
        with engine_context():
            return self._solve(leg, with_requirement=False, exact=exact)

    def _pool(self, leg: Leg, marks: Mapping[str, Decimal] | None = None) -> pmath.Pool:
        """The pool that backs ``leg``: its own margin, or the cross wallet it shares
        (at the account's marks, or at ``marks`` where given)."""
        at = self._marks if not marks else {**self._marks, **marks}
        members = [leg] if leg.margin_mode == "isolated" else self._cross_legs()
        legs = []
        for m in members:
            spec = self._spec(m.symbol)
            solver = pmath.SolverLeg(
                m.sign, m.quantity, m.entry_price, spec.tiers, contract_value=spec.inverse_value
            )
            legs.append((m.symbol, solver))
        rules = self._venue.liquidation
        return pmath.Pool(
            collateral=leg.isolated_margin if leg.margin_mode == "isolated" else self._cross_wallet,
            legs=tuple(legs),
            marks={s: at[s] for s, _ in legs},
            fee_rate=self._venue.taker_fee_rate if rules.close_fee_in_maintenance else ZERO,
            fee_at_bankruptcy=rules.close_fee_basis == "bankruptcy",
            fee_reserve=self._leg_reserve(leg) if leg.margin_mode == "isolated" else ZERO,
        )

    def _solve(
        self,
        leg: Leg,
        *,
        with_requirement: bool,
        exact: bool,
        marks: Mapping[str, Decimal] | None = None,
    ) -> Decimal | None:
        pool = self._pool(leg, marks)
        price = pmath.pool_price(pool, leg.symbol, with_requirement=with_requirement)
        if price is None or exact:
            return price
        tick = self._spec(leg.symbol).tick_size
        moving = pool.legs_of(leg.symbol)
        favourable = (
            not with_requirement
            and self._venue.liquidation.bankruptcy_price_rounding == "favourable"
        )
        return pmath.round_liquidation_price(
            price, moving, pool.marks[leg.symbol], tick, towards_reference=favourable
        )

    # ------------------------------------------------------------------ modes and leverage

    def set_position_mode(self, mode: PositionMode, *, time: TimeLike = None) -> list[Event]:
        """Switch one-way / hedge mode (account-wide).

        Raises
        ------
        ModeSwitchError
            The venue lacks the mode, a position is open, or (where the venue says so)
            an order is open.
        """
        with self._atomic():
            if mode not in ("one-way", "hedge"):
                raise InvalidInput(f"position mode must be 'one-way' or 'hedge', was {mode!r}")
            if mode not in self._venue.rules.position_modes:
                raise ModeSwitchError(f"{self._venue.id} does not offer {mode} mode")
            if self._legs:
                raise ModeSwitchError(
                    f"position mode can change only with no open position; close "
                    f"{', '.join(sorted({s for s, _ in self._legs}))} first"
                )
            if self._orders and self._venue.rules.position_mode_switch_blocked_by_open_orders:
                raise ModeSwitchError(
                    "position mode can change only with no open order; cancel them first"
                )
            self._set_time(time)
            start = len(self._ledger)
            if mode != self._position_mode:
                self._position_mode = mode
                self._emit(PositionModeChanged, mode=mode)
            return self._ledger[start:]

    def set_margin_mode(
        self, symbol: str, mode: MarginMode, *, time: TimeLike = None
    ) -> list[Event]:
        """Set ``symbol``'s margin mode to ``"isolated"`` or ``"cross"``.

        On venues whose mode is account-wide (Bybit UTA) every symbol changes.

        Raises
        ------
        ModeSwitchError
            A position (or, where the venue says so, an order) is open in an affected
            symbol, or the symbol does not offer the mode.
        """
        with self._atomic():
            spec = self._spec(symbol)
            if mode not in ("isolated", "cross"):
                raise InvalidInput(f"margin mode must be 'isolated' or 'cross', was {mode!r}")
            if mode not in spec.margin_modes:
                raise ModeSwitchError(
                    f"{spec.symbol} on {self._venue.id} is {spec.margin_modes[0]} only"
                )
            scope = self._venue.rules.margin_mode_scope
            affected = sorted(self._venue.symbols) if scope == "account" else [spec.symbol]
            for s in affected:
                if any(k[0] == s for k in self._legs):
                    where = "any symbol (the mode is account-wide)" if scope == "account" else s
                    raise ModeSwitchError(
                        f"margin mode can change only with no open position in {where}; "
                        f"close the {s} position first"
                    )
                if self._venue.rules.margin_mode_switch_blocked_by_open_orders and any(
                    o.symbol == s for o in self._orders.values()
                ):
                    raise ModeSwitchError(
                        f"margin mode can change only with no open order in {s}; cancel them first"
                    )
            self._set_time(time)
            start = len(self._ledger)
            for s in affected:
                if self._margin_modes.get(s) != mode:
                    self._margin_modes[s] = mode
                    self._emit(MarginModeChanged, symbol=s, mode=mode)
            return self._ledger[start:]

    def set_leverage(self, symbol: str, leverage: Number, *, time: TimeLike = None) -> list[Event]:
        """Set ``symbol``'s leverage (>= 1, <= the tier's max for the current notional).

        With a position open, raising applies to later increases; lowering is refused
        where the venue refuses it (Binance isolated), and otherwise needs the larger
        initial margin to fit: an isolated leg is topped up from the cross wallet.

        Raises
        ------
        LeverageTooHigh, LeverageChangeError, InsufficientMargin, InvalidInput
        """
        with self._atomic():
            spec = self._spec(symbol)
            lev = _to_decimal(leverage, "leverage", positive=True)
            if lev < ONE:
                raise InvalidInput(f"leverage must be >= 1, was {lev}")
            legs = self._legs_of(spec.symbol)
            biggest = max(legs, key=lambda g: g.quantity, default=None)
            if biggest is None:
                tier = spec.tiers.tiers[0]
            else:
                q = biggest.quantity
                tier = spec.tiers.tier_for(q, self._value(spec.symbol, q, self._marks[spec.symbol]))
            if lev > tier.max_leverage:
                raise LeverageTooHigh(
                    f"leverage {lev} is above {tier.max_leverage}, the maximum of tier {tier.tier} "
                    f"of {spec.symbol} on {self._venue.id}; use {tier.max_leverage} or less"
                )
            self._set_time(time)
            start = len(self._ledger)
            current = self.leverage(spec.symbol)
            self._leverage[spec.symbol] = lev
            self._emit(LeverageChanged, symbol=spec.symbol, leverage=lev)
            rules = self._venue.rules
            for leg in legs:
                if lev < current:
                    allowed = (
                        rules.isolated_leverage_decrease_with_position
                        if leg.margin_mode == "isolated"
                        else rules.cross_leverage_decrease_with_position
                    )
                    if not allowed:
                        raise LeverageChangeError(
                            f"{self._venue.id} does not lower {leg.margin_mode} leverage while a "
                            f"position is open ({spec.symbol} {leg.side}); close it first"
                        )
                top_up = ZERO
                if leg.margin_mode == "isolated" and lev < current:
                    value = self._value(leg.symbol, leg.quantity, leg.entry_price)
                    needed = self._round(F.initial_margin(value, lev), "up") + self._fee_reserve(
                        leg.symbol, leg.side, leg.quantity, leg.entry_price, lev
                    )
                    top_up = max(ZERO, needed - leg.isolated_margin)
                self._legs[(leg.symbol, leg.side)] = replace(
                    leg, leverage=lev, isolated_margin=leg.isolated_margin + top_up
                )
                self._cross_wallet -= top_up
                if top_up:
                    self._emit(
                        LeverageChanged,
                        symbol=spec.symbol,
                        leverage=lev,
                        position_side=leg.side,
                        isolated_margin_delta=top_up,
                        cross_wallet_delta=-top_up,
                    )
            if legs and self._available() < 0:
                raise InsufficientMargin(
                    f"lowering {spec.symbol} leverage to {lev} needs more margin than is "
                    "available; add balance or reduce the position"
                )
            return self._ledger[start:]

    # ------------------------------------------------------------------ trading

    def open(
        self,
        symbol: str,
        side: PositionSide,
        qty: Number,
        price: Number,
        *,
        time: TimeLike = None,
        liquidity: Literal["maker", "taker"] = "taker",
    ) -> list[Event]:
        """Buy (``long``) or sell (``short``) ``qty`` at ``price``, a market fill.

        One-way mode: an opposite position is reduced first and any rest flips it.
        Hedge mode: adds to the ``side`` leg. The initial margin is notional /
        leverage; an isolated leg's margin is moved out of the cross wallet. The fee is
        notional x taker (or maker) rate.

        Raises
        ------
        InvalidInput, UnknownSymbol, LeverageTooHigh, PositionTooLarge, InsufficientMargin
        """
        with self._atomic():
            position_side = _side(side)
            spec = self._spec(symbol)
            q = self._quantity(spec, qty)
            p = self._price(price)
            self._set_time(time)
            expiry = spec.expiry_ms
            if expiry is not None and self._time is not None and self._time >= expiry:
                raise InvalidInput(
                    f"{spec.symbol} was delivered at {spec.expiry}: it trades no more"
                )
            start = len(self._ledger)
            order_side: OrderSide = "buy" if position_side == "long" else "sell"
            leg_side = position_side if self._position_mode == "hedge" else None
            self._trade(spec, order_side, q, p, liquidity, leg_side, reduce_only=False)
            liquidation.check(self._book)
            return self._ledger[start:]

    def close(
        self,
        symbol: str,
        price: Number,
        qty: Number | None = None,
        *,
        side: PositionSide | None = None,
        time: TimeLike = None,
        liquidity: Literal["maker", "taker"] = "taker",
    ) -> list[Event]:
        """Reduce (``qty``) or close (``qty=None``) the position at ``price``.

        Raises
        ------
        NoPosition, InvalidInput
        """
        with self._atomic():
            spec = self._spec(symbol)
            leg = self._leg_for(spec.symbol, side)
            if leg is None:
                raise NoPosition(f"no open {side + ' ' if side else ''}position in {spec.symbol}")
            p = self._price(price)
            q = leg.quantity if qty is None else self._quantity(spec, qty)
            if q > leg.quantity:
                raise InvalidInput(
                    f"cannot close {q} of a {leg.quantity} {spec.symbol} {leg.side} position"
                )
            self._set_time(time)
            start = len(self._ledger)
            order_side: OrderSide = "sell" if leg.side == "long" else "buy"
            self._trade(
                spec,
                order_side,
                q,
                p,
                liquidity,
                leg.side if self._position_mode == "hedge" else None,
                reduce_only=True,
            )
            liquidation.check(self._book)
            return self._ledger[start:]

    def deliver(self, symbol: str, price: Number, *, time: TimeLike = None) -> list[Event]:
        """Deliver a dated future: every leg of ``symbol`` closed at the delivery
        ``price`` (the venue's delivery price: Binance averages the index over the last
        hour), its PnL settled. No fee is charged: the venue files hold no delivery fee
        (a venue that charges one is not modelled here, said).

        Raises
        ------
        InvalidInput (a perpetual), NoPosition
        """
        with self._atomic():
            spec = self._spec(symbol)
            if not spec.dated:
                raise InvalidInput(f"{spec.symbol} is a perpetual: it is never delivered")
            p = self._price(price)
            legs = self._legs_of(spec.symbol)
            if not legs:
                raise NoPosition(f"no open position in {spec.symbol} to deliver")
            self._set_time(time)
            start = len(self._ledger)
            for leg in legs:
                self._reduce(leg, leg.quantity, p, "delivery", None)
            liquidation.check(self._book)
            return self._ledger[start:]

    # complexity waived (C901): an import's validation: one typed error per field
    def restore_position(  # noqa: C901
        self,
        symbol: str,
        side: PositionSide,
        qty: Number,
        entry_price: Number,
        *,
        margin_mode: MarginMode,
        leverage: Number,
        isolated_margin: Number | None = None,
        mark_price: Number | None = None,
        time: TimeLike = None,
    ) -> list[Event]:
        """Put an existing position on the books (an import), without a trade or a fee.

        The symbol's margin mode and leverage become the position's. An isolated leg's
        ``isolated_margin`` (its margin without uPnL, > 0) moves out of the cross wallet,
        so create the account with the venue's *wallet* balance (cross wallet + isolated
        margins). ``mark_price`` (default: the entry) becomes the symbol's mark. Nothing
        is liquidated here, even a position already past its liquidation price: call
        :meth:`mark` to let the engine act.

        Raises
        ------
        InvalidInput
            Bad numbers, a quantity off the step grid, margin given for a cross leg or
            missing for an isolated one, a leg that is already open, or a second leg of a
            symbol in one-way mode (or with another margin mode).
        UnknownSymbol, LeverageTooHigh, ModeSwitchError, InsufficientMargin
        """
        with self._atomic():
            position_side = _side(side)
            spec = self._spec(symbol)
            q = _to_decimal(qty, "quantity", positive=True)
            if not is_on_grid(q, spec.step_size):
                raise InvalidInput(
                    f"quantity {q} is not a multiple of {spec.symbol}'s step {spec.step_size}"
                )
            entry = self._price(entry_price, "entry price")
            mark = entry if mark_price is None else self._price(mark_price, "mark price")
            if margin_mode not in ("isolated", "cross"):
                raise InvalidInput(
                    f"margin mode must be 'isolated' or 'cross', was {margin_mode!r}"
                )
            if margin_mode not in spec.margin_modes:
                raise ModeSwitchError(
                    f"{spec.symbol} on {self._venue.id} is {spec.margin_modes[0]} only"
                )
            lev = _to_decimal(leverage, "leverage", positive=True)
            top = max(t.max_leverage for t in spec.tiers.tiers)
            if lev < ONE or lev > top:
                raise LeverageTooHigh(
                    f"leverage {lev} of the {spec.symbol} position is outside 1..{top}, the "
                    f"range {self._venue.id} offers"
                )
            if (spec.symbol, position_side) in self._legs:
                raise InvalidInput(f"the {spec.symbol} {position_side} position is already open")
            others = self._legs_of(spec.symbol)
            if others and self._position_mode == "one-way":
                raise InvalidInput(
                    f"{spec.symbol} already has a {others[0].side} position and the account is "
                    "in one-way mode; set hedge mode first to hold both sides"
                )
            if others and others[0].margin_mode != margin_mode:
                raise InvalidInput(
                    f"both {spec.symbol} legs must use one margin mode "
                    f"({others[0].margin_mode}, not {margin_mode})"
                )
            if margin_mode == "cross":
                if isolated_margin is not None and _to_decimal(isolated_margin, "margin") != 0:
                    raise InvalidInput("a cross position has no isolated margin of its own")
                margin = ZERO
            else:
                if isolated_margin is None:
                    raise InvalidInput(
                        f"the isolated {spec.symbol} position needs its isolated_margin"
                    )
                margin = _to_decimal(isolated_margin, "isolated margin", positive=True)
                if not is_on_grid(margin, self._step):
                    margin = self._round(margin, "down")
                if margin > self._cross_wallet:
                    raise InsufficientMargin(
                        f"the isolated {spec.symbol} margin {margin} is more than the wallet "
                        f"has left ({self._cross_wallet}); pass the wallet balance including "
                        "isolated margins"
                    )
            self._set_time(time)
            start = len(self._ledger)
            self._margin_modes[spec.symbol] = margin_mode
            self._leverage[spec.symbol] = lev
            self._marks[spec.symbol] = mark
            self._cross_wallet -= margin
            self._legs[(spec.symbol, position_side)] = Leg(
                spec.symbol, position_side, q, entry, margin_mode, lev, margin
            )
            self._emit(
                PositionRestored,
                symbol=spec.symbol,
                position_side=position_side,
                quantity=q,
                entry_price=entry,
                margin_mode=margin_mode,
                leverage=lev,
                isolated_margin=margin,
                cross_wallet_delta=-margin,
                mark_price=mark,
            )
            return self._ledger[start:]

    def _trade(
        self,
        spec: SymbolSpec,
        order_side: OrderSide,
        qty: Decimal,
        price: Decimal,
        liquidity: Literal["maker", "taker"],
        leg_side: PositionSide | None,
        *,
        reduce_only: bool,
        order_id: int | None = None,
    ) -> None:
        if liquidity not in ("maker", "taker"):
            raise InvalidInput(f"liquidity must be 'maker' or 'taker', was {liquidity!r}")
        self._marks.setdefault(spec.symbol, price)
        opening_side: PositionSide = "long" if order_side == "buy" else "short"
        if self._position_mode == "hedge":
            if leg_side is None:
                raise InvalidInput("hedge mode needs position_side='long' or 'short'")
            if leg_side == opening_side:
                if reduce_only:
                    raise OrderError(f"a reduce-only {order_side} cannot add to the {leg_side} leg")
                self._increase(spec, leg_side, qty, price, liquidity, order_id)
                return
            leg = self._legs.get((spec.symbol, leg_side))
            if leg is not None and reduce_only:
                qty = min(qty, leg.quantity)
            if leg is None or qty > leg.quantity:
                have = ZERO if leg is None else leg.quantity
                raise InvalidInput(
                    f"a {order_side} of {qty} would reduce the {spec.symbol} {leg_side} leg "
                    f"below zero (it holds {have})"
                )
            self._reduce(leg, qty, price, liquidity, order_id)
            return
        existing = self._legs_of(spec.symbol)
        leg = existing[0] if existing else None
        if leg is not None and leg.side != opening_side:
            reduce_qty = min(qty, leg.quantity)
            self._reduce(leg, reduce_qty, price, liquidity, order_id)
            qty -= reduce_qty
        elif reduce_only:
            raise OrderError(f"reduce-only {order_side} on {spec.symbol}: nothing to reduce")
        if qty > 0 and not reduce_only:
            self._increase(spec, opening_side, qty, price, liquidity, order_id)

    def _fee_rate(self, liquidity: Literal["maker", "taker", "adl", "delivery"]) -> Decimal:
        if liquidity in ("adl", "delivery"):
            return ZERO  # deleveraged at the bankruptcy price / delivered: no trading fee
        return self._venue.maker_fee_rate if liquidity == "maker" else self._venue.taker_fee_rate

    def _increase(
        self,
        spec: SymbolSpec,
        side: PositionSide,
        qty: Decimal,
        price: Decimal,
        liquidity: Literal["maker", "taker"],
        order_id: int | None,
    ) -> None:
        mode = self.margin_mode(spec.symbol)
        lev = self.leverage(spec.symbol)
        old = self._legs.get((spec.symbol, side))
        old_qty = ZERO if old is None else old.quantity
        new_qty = old_qty + qty
        cv = spec.inverse_value
        entry = (
            price
            if old is None
            else pmath.average_entry(old.quantity, old.entry_price, qty, price, cv)
        )
        notional = pmath.position_value(new_qty, price, cv)
        traded = pmath.position_value(qty, price, cv)
        if spec.tiers.exceeds_cap(new_qty, notional):
            cap = spec.tiers.tiers[-1].upper
            raise PositionTooLarge(
                f"{spec.symbol} position of {new_qty} ({notional} notional) is beyond the largest "
                f"tier ({cap} {spec.tiers.basis}) on {self._venue.id}"
            )
        max_lev = spec.tiers.max_leverage_for(new_qty, notional)
        if lev > max_lev:
            raise LeverageTooHigh(
                f"{spec.symbol} at {notional} notional is in a tier with max leverage {max_lev}, "
                f"but leverage is {lev}; lower leverage to {max_lev} or trade less"
            )
        fee = self._round(F.trade_fee(traded, self._fee_rate(liquidity)), "up")
        margin = ZERO
        if mode == "isolated":  # + the estimated fee to close where it is in the margin
            held = ZERO if old is None else self._leg_reserve(old)
            reserve = self._fee_reserve(spec.symbol, side, new_qty, entry, lev)
            margin = self._round(F.initial_margin(traded, lev), "up") + max(ZERO, reserve - held)
        if mode == "isolated" and margin + fee > self._cross_wallet:
            raise InsufficientMargin(
                f"isolated {side} {qty} {spec.symbol} at {price} needs {margin + fee} of margin "
                f"and fees in cash; the cross wallet holds {self._cross_wallet}"
            )
        self._cross_wallet -= fee + margin
        self._fees_paid += fee
        iso = (ZERO if old is None else old.isolated_margin) + margin
        self._legs[(spec.symbol, side)] = Leg(spec.symbol, side, new_qty, entry, mode, lev, iso)
        self._emit(
            Fill,
            symbol=spec.symbol,
            position_side=side,
            order_side="buy" if side == "long" else "sell",
            quantity=qty,
            price=price,
            liquidity=liquidity,
            fee=fee,
            realized_pnl=ZERO,
            cross_wallet_delta=-(fee + margin),
            isolated_margin_delta=margin,
            quantity_after=new_qty,
            entry_price_after=entry,
            margin_mode=mode,
            leverage=lev,
            order_id=order_id,
        )
        if self._available() < 0:
            need = margin + fee if mode == "isolated" else traded / lev + fee
            raise InsufficientMargin(
                f"{side} {qty} {spec.symbol} at {price} needs {need:.8f} of margin and fees; "
                f"available balance is {max(ZERO, self._available() + need):.8f}"
            )

    def _reduce(
        self,
        leg: Leg,
        qty: Decimal,
        price: Decimal,
        liquidity: Literal["maker", "taker", "adl", "delivery"],
        order_id: int | None,
    ) -> None:
        cv = self._spec(leg.symbol).inverse_value
        pnl = self._round(pmath.unrealized_pnl(leg.sign, qty, leg.entry_price, price, cv), "down")
        value = pmath.position_value(qty, price, cv)
        fee = self._round(F.trade_fee(value, self._fee_rate(liquidity)), "up")
        closing_all = qty == leg.quantity
        released = ZERO
        deficit = ZERO
        if leg.margin_mode == "isolated":
            released = (
                leg.isolated_margin
                if closing_all
                else self._round(leg.isolated_margin * qty / leg.quantity, "down")
            )
            # the isolated leg's loss is capped at its margin (a deficit beyond it)
            fee, cross_delta, deficit = F.settle_isolated_close(released, pnl, fee)
        else:
            cross_delta = pnl - fee
        self._cross_wallet += cross_delta
        self._fees_paid += fee
        self._counterparty_pnl -= pnl
        remaining = leg.quantity - qty
        if remaining == 0:
            del self._legs[(leg.symbol, leg.side)]
        else:
            self._legs[(leg.symbol, leg.side)] = replace(
                leg, quantity=remaining, isolated_margin=leg.isolated_margin - released
            )
        self._emit(
            Fill,
            symbol=leg.symbol,
            position_side=leg.side,
            order_side="sell" if leg.side == "long" else "buy",
            quantity=qty,
            price=price,
            liquidity=liquidity,
            fee=fee,
            realized_pnl=pnl,
            cross_wallet_delta=cross_delta - deficit,
            isolated_margin_delta=-released,
            quantity_after=remaining,
            entry_price_after=leg.entry_price,
            margin_mode=leg.margin_mode,
            leverage=leg.leverage,
            order_id=order_id,
        )
        if leg.margin_mode == "cross" and self.cross_equity < 0:
            # closed beyond the cross account's bankruptcy: the fund covers the hole, in
            # whole units of the settle asset (uPnL of the open legs is not on the grid)
            deficit = self._round(F.shortfall(self.cross_equity), "up")
            self._cross_wallet += deficit
        if deficit:
            self._fund(-deficit, "deficit")
            self._emit(
                InsuranceFundTransfer,
                reason="deficit",
                amount=-deficit,
                cross_wallet_delta=deficit,
                symbol=leg.symbol,
            )
        if remaining == 0:
            self._cancel_reduce_only(leg.symbol, leg.side)

    def _cancel_reduce_only(self, symbol: str, side: PositionSide) -> None:
        for oid, order in sorted(self._orders.items()):
            if (
                order.symbol == symbol
                and order.reduce_only
                and (order.position_side in (None, side))
            ):
                del self._orders[oid]
                self._emit(OrderCancelled, order_id=oid, reason="position closed")

    # ------------------------------------------------------------------ margin

    def _isolated_leg(self, symbol: str, side: PositionSide | None, action: str) -> Leg:
        spec = self._spec(symbol)
        leg = self._leg_for(spec.symbol, side)
        if leg is None:
            raise NoPosition(f"cannot {action} margin: no open position in {spec.symbol}")
        if leg.margin_mode != "isolated":
            raise MarginRemovalNotAllowed(
                f"cannot {action} margin on a cross position ({spec.symbol}); only isolated "
                "positions have their own margin"
            )
        return leg

    def add_margin(
        self,
        symbol: str,
        amount: Number,
        *,
        side: PositionSide | None = None,
        time: TimeLike = None,
    ) -> list[Event]:
        """Move ``amount`` from the available balance into an isolated position's margin.

        Raises
        ------
        NoPosition, MarginRemovalNotAllowed (cross position), InsufficientMargin
        """
        with self._atomic():
            leg = self._isolated_leg(symbol, side, "add")
            value = _to_decimal(amount, "amount", positive=True)
            if not is_on_grid(value, self._step):
                raise InvalidInput(f"amount {value} is finer than the precision {self._step}")
            available = min(self._available(), self._cross_wallet)
            if value > available:
                raise InsufficientMargin(
                    f"cannot add {value}: available balance is {max(ZERO, available)}"
                )
            self._set_time(time)
            start = len(self._ledger)
            self._cross_wallet -= value
            self._legs[(leg.symbol, leg.side)] = replace(
                leg, isolated_margin=leg.isolated_margin + value
            )
            self._emit(MarginChanged, symbol=leg.symbol, position_side=leg.side, amount=value)
            return self._ledger[start:]

    def max_removable_margin(self, symbol: str, side: PositionSide | None = None) -> Decimal:
        """Most isolated margin that can be removed now (Binance's rule).

        ``max(0, min(margin - maintenance, margin + uPnL - notional_at_mark / leverage))``
        (https://binance.com/en/support/articles/360038447311), rounded down; the initial
        margin includes the fee to close where the venue holds it there (Bybit).
        """
        leg = self._isolated_leg(symbol, side, "remove")
        with engine_context():
            mark = self._marks[leg.symbol]
            mm = self._requirement(leg, mark)
            value = self._value(leg.symbol, leg.quantity, mark)
            im_at_mark = F.initial_margin(value, leg.leverage) + self._leg_reserve(leg)
            room = min(leg.isolated_margin - mm, leg.isolated_margin + self._upnl(leg) - im_at_mark)
            return self._round(max(ZERO, room), "down")

    def remove_margin(
        self,
        symbol: str,
        amount: Number,
        *,
        side: PositionSide | None = None,
        time: TimeLike = None,
    ) -> list[Event]:
        """Move ``amount`` out of an isolated position's margin back to the wallet.

        Raises
        ------
        MarginRemovalNotAllowed
            Cross position, a venue that forbids removal, or more than
            :meth:`max_removable_margin`.
        """
        with self._atomic():
            leg = self._isolated_leg(symbol, side, "remove")
            if not self._venue.rules.remove_margin:
                raise MarginRemovalNotAllowed(f"{self._venue.id} does not allow removing margin")
            value = _to_decimal(amount, "amount", positive=True)
            if not is_on_grid(value, self._step):
                raise InvalidInput(f"amount {value} is finer than the precision {self._step}")
            limit = self.max_removable_margin(leg.symbol, leg.side)
            if value > limit:
                raise MarginRemovalNotAllowed(
                    f"cannot remove {value} from the {leg.symbol} {leg.side} margin; at most "
                    f"{limit} can be removed at mark {self._marks[leg.symbol]}"
                )
            self._set_time(time)
            start = len(self._ledger)
            self._cross_wallet += value
            self._legs[(leg.symbol, leg.side)] = replace(
                leg, isolated_margin=leg.isolated_margin - value
            )
            self._emit(MarginChanged, symbol=leg.symbol, position_side=leg.side, amount=-value)
            return self._ledger[start:]

    # ------------------------------------------------------------------ orders

    def place_order(
        self,
        symbol: str,
        side: OrderSide,
        type: OrderType,
        qty: Number,
        *,
        price: Number | None = None,
        stop_price: Number | None = None,
        reduce_only: bool = False,
        trigger_by: TriggerBy = "last",
        position_side: PositionSide | None = None,
        time: TimeLike = None,
    ) -> Order:
        """Place a resting order (see :mod:`perpmargin.engine.orders` for trigger rules).

        ``price`` is required for limit orders and ``stop_price`` for stop-market and
        take-profit-market orders, on the symbol's tick grid. A limit order that can
        open reserves its initial margin. In hedge mode ``position_side`` is required.
        """
        with self._atomic():
            spec = self._spec(symbol)
            if side not in ("buy", "sell"):
                raise InvalidInput(f"order side must be 'buy' or 'sell', was {side!r}")
            if type not in ("limit", "stop_market", "take_profit_market"):
                raise InvalidInput(
                    f"order type must be limit, stop_market or take_profit_market, was {type!r}"
                )
            if trigger_by not in ("mark", "last"):
                raise InvalidInput(f"trigger_by must be 'mark' or 'last', was {trigger_by!r}")
            q = self._quantity(spec, qty)
            lim = None if price is None else self._price(price, "price")
            stop = None if stop_price is None else self._price(stop_price, "stop_price")
            if type == "limit" and lim is None:
                raise InvalidInput("a limit order needs price=")
            if type != "limit" and stop is None:
                raise InvalidInput(f"a {type} order needs stop_price=")
            for name, value in (("price", lim), ("stop_price", stop)):
                if value is not None and not is_on_grid(value, spec.tick_size):
                    raise InvalidInput(
                        f"{name} {value} is off {spec.symbol}'s tick {spec.tick_size}"
                    )
            if self._position_mode == "hedge":
                if position_side is None:
                    raise InvalidInput("hedge mode needs position_side='long' or 'short'")
                position_side = _side(position_side)
            elif position_side is not None:
                raise InvalidInput("position_side is only for hedge mode")
            self._set_time(time)
            oid = self._next_order_id
            self._next_order_id += 1
            order = Order(
                oid,
                spec.symbol,
                side,
                type,
                q,
                lim,
                stop,
                bool(reduce_only),
                trigger_by,
                position_side,
            )
            self._orders[oid] = order
            self._emit(
                OrderPlaced,
                order_id=oid,
                symbol=spec.symbol,
                order_side=side,
                order_type=type,
                quantity=q,
                price=lim,
                stop_price=stop,
                reduce_only=bool(reduce_only),
                trigger_by=trigger_by,
                position_side=position_side,
            )
            if self._available() < 0:
                raise InsufficientMargin(
                    f"not enough available balance for the margin of limit order {oid}"
                )
            return order

    def cancel_order(self, order_id: int, *, time: TimeLike = None) -> list[Event]:
        """Cancel a resting order by id."""
        with self._atomic():
            if order_id not in self._orders:
                raise OrderError(f"no open order with id {order_id!r}")
            self._set_time(time)
            start = len(self._ledger)
            del self._orders[order_id]
            self._emit(OrderCancelled, order_id=order_id, reason="cancelled by user")
            return self._ledger[start:]

    def _process_orders(self) -> None:
        for oid, order in sorted(self._orders.items()):
            if oid not in self._orders:
                continue
            source = self._last if order.trigger_by == "last" else self._marks
            price = source.get(order.symbol, self._marks.get(order.symbol))
            if price is None:
                continue
            hit = order.check(price)
            if hit is None:
                continue
            fill_price, liquidity = hit
            del self._orders[oid]
            try:
                with self._atomic():
                    self._trade(
                        self._spec(order.symbol),
                        order.side,
                        order.quantity,
                        fill_price,
                        liquidity,
                        order.position_side,
                        reduce_only=order.reduce_only,
                        order_id=oid,
                    )
            except PerpMarginError as exc:
                self._emit(OrderCancelled, order_id=oid, reason=f"rejected at trigger: {exc}")

    # ------------------------------------------------------------------ marks, funding

    def mark(
        self,
        prices: Mapping[str, Number],
        *,
        time: TimeLike = None,
        last_prices: Mapping[str, Number] | None = None,
        funding_rates: Mapping[str, Number] | None = None,
    ) -> list[Event]:
        """Revalue at new mark prices, settle funding if rates are given, liquidate, trigger.

        Order of work: marks, funding (``funding_rates`` settles one funding payment
        per symbol at its new mark), liquidation checks (isolated legs one by one, then
        the cross account), then resting orders (by mark or last price), then
        liquidation checks again. Liquidation comes before stops: a mark that jumps
        through both liquidates.

        Returns the events this call appended.
        """
        if not isinstance(prices, Mapping):
            raise InvalidInput("prices must be a mapping of symbol to mark price")
        with self._atomic():
            marks = {
                self._spec(s).symbol: self._price(p, f"mark price of {s}")
                for s, p in prices.items()
            }
            last = {
                self._spec(s).symbol: self._price(p, f"last price of {s}")
                for s, p in (last_prices or {}).items()
            }
            rates = {
                self._spec(s).symbol: _to_decimal(r, f"funding rate of {s}")
                for s, r in (funding_rates or {}).items()
            }
            for s, r in rates.items():
                if abs(r) >= ONE:
                    raise InvalidInput(f"funding rate of {s} must be a fraction, was {r}")
            self._set_time(time)
            self._set_marks(marks)
            self._last.update(last)
            start = self._emit(MarksUpdated, marks=marks, last=last).seq
            for s, r in sorted(rates.items()):
                self._settle_funding(s, r)
            liquidation.check(self._book, set(marks) | set(rates))
            before = len(self._ledger)
            self._process_orders()
            if len(self._ledger) != before:  # a fill changed the state: check everything
                liquidation.check(self._book)
            return self._ledger[start:]

    def settle_funding(
        self,
        symbol: str,
        rate: Number,
        *,
        mark_price: Number | None = None,
        time: TimeLike = None,
    ) -> list[Event]:
        """Settle one funding payment on ``symbol`` at ``rate`` (a fraction).

        Each leg pays ``side x qty x mark x rate`` (longs pay shorts when the rate is
        positive), rounded up against the trader. Cross legs pay from the cross wallet,
        isolated legs from their margin. Liquidations are checked afterwards.
        """
        with self._atomic():
            spec = self._spec(symbol)
            if spec.dated:
                raise InvalidInput(f"{spec.symbol} is a dated future: it pays no funding")
            r = _to_decimal(rate, "funding rate")
            if abs(r) >= ONE:
                raise InvalidInput(f"funding rate must be a fraction, was {r}")
            self._set_time(time)
            start = len(self._ledger)
            if mark_price is not None:
                mark = self._price(mark_price, "mark_price")
                self._set_marks({spec.symbol: mark})
                start = self._emit(MarksUpdated, marks={spec.symbol: mark}, last={}).seq
            self._settle_funding(spec.symbol, r)
            liquidation.check(self._book)
            return self._ledger[start:]

    def _settle_funding(self, symbol: str, rate: Decimal) -> None:
        for leg in self._legs_of(symbol):
            mark = self._marks[symbol]
            value = self._value(symbol, leg.quantity, mark)
            amount = self._round(F.funding_payment(leg.sign * value, rate), "up")
            if amount == 0:
                continue
            self._counterparty_pnl += amount
            cross_delta = iso_delta = fund_delta = ZERO
            if leg.margin_mode == "cross":
                cross_delta = -amount
                self._cross_wallet -= amount
            else:
                from_margin, from_fund = F.settle_isolated_funding(amount, leg.isolated_margin)
                iso_delta, fund_delta = -from_margin, -from_fund
                self._legs[(symbol, leg.side)] = replace(
                    leg, isolated_margin=leg.isolated_margin + iso_delta
                )
                self._fund(fund_delta, "deficit")
            self._emit(
                FundingSettled,
                symbol=symbol,
                position_side=leg.side,
                rate=rate,
                mark_price=mark,
                amount=amount,
                cross_wallet_delta=cross_delta,
                isolated_margin_delta=iso_delta,
                insurance_fund_delta=fund_delta,
            )

    def deleverage(
        self, symbol: str, side: PositionSide, quantity: Number, price: Number
    ) -> list[Event]:
        """Close ``quantity`` of the ``side`` leg at ``price`` with no fee: this account is
        the counterparty of a bankrupt position (auto-deleveraging). Called by a
        :class:`~perpmargin.engine.clearing.Clearinghouse`; returns the events."""
        with self._atomic():
            leg = self._leg_for(symbol, _side(side))
            if leg is None:
                raise NoPosition(f"no {side} position in {symbol} to deleverage")
            qty = _to_decimal(quantity, "quantity", positive=True)
            if qty > leg.quantity:
                raise InvalidInput(f"cannot deleverage {qty}: the leg holds {leg.quantity}")
            start = len(self._ledger)
            self._reduce(leg, qty, self._price(price), "adl", None)
            return self._ledger[start:]

    def adl_score(
        self, symbol: str, side: PositionSide, *, mark: Number | None = None
    ) -> Decimal | None:
        """Auto-deleveraging rank of a leg (higher is deleveraged first), or None.

        At ``mark`` when given (the price the bankrupt account was just marked at: the
        ranking is of that moment), else at the leg's own mark.

        uPnL / collateral x effective leverage for a profit, uPnL / collateral /
        effective leverage for a loss; effective leverage = value / (collateral + uPnL),
        collateral = the isolated margin or the cross wallet (Binance's LeveragePnL); on a
        venue ranking by set leverage (Gate), uPnL / collateral x the leg's leverage.
        """
        leg = self._legs.get((self._spec(symbol).symbol, _side(side)))
        if leg is None:
            return None
        with engine_context():
            collateral = (
                leg.isolated_margin if leg.margin_mode == "isolated" else self._cross_wallet
            )
            price = self._marks[leg.symbol] if mark is None else self._price(mark, "mark")
            upnl = self._upnl(leg, price)
            value = self._value(leg.symbol, leg.quantity, price)
            if collateral <= 0 or collateral + upnl <= 0:
                return Decimal("1e30") if upnl > 0 else Decimal("-1e30")
            adl = self._venue.liquidation.adl
            if adl is not None and adl.ranking == "pnl_ratio_x_set_leverage":
                return F.adl_score_set_leverage(upnl, collateral, leg.leverage)
            return F.adl_score(upnl, collateral, value)

    # ------------------------------------------------------------------ snapshot

    def snapshot(self) -> AccountState:
        """Return the state as a value (compare with :func:`perpmargin.replay`)."""
        return AccountState(
            position_mode=self._position_mode,
            margin_modes=dict(sorted(self._margin_modes.items())),
            leverage=dict(sorted(self._leverage.items())),
            cross_wallet=self._cross_wallet,
            legs={
                k: LegState(
                    leg.quantity,
                    leg.entry_price,
                    leg.margin_mode,
                    leg.leverage,
                    leg.isolated_margin,
                )
                for k, leg in sorted(self._legs.items())
            },
            marks=dict(sorted(self._marks.items())),
            open_orders=tuple(sorted(self._orders)),
            insurance_fund_net=self._insurance_net,
            fees_paid=self._fees_paid,
            counterparty_pnl=self._counterparty_pnl,
        )

    def __repr__(self) -> str:
        return (
            f"Account({self._venue.id}, wallet={self.wallet_balance}, "
            f"positions={len(self._legs)}, orders={len(self._orders)})"
        )
