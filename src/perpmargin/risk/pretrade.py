"""The pre-trade check: size from risk, liquidation vs stop, worst case, per mode and venue.

For each venue asked about, the position is sized from the risk accepted and the stop
distance (fees to open and to close at the stop included, rounded down to the venue's
step), then, for isolated and cross side by side: initial margin, liquidation and
bankruptcy price (other open positions of the account count in cross), the distance from
the stop to liquidation (price, % of entry, multiples of ATR when bars are given), the
worst-case loss and the funding cost of holding. Each check returns PASS / WARN / FAIL
with the reason, with values in it.

Status rules:

- liquidation before (or at) the stop: FAIL; closer to the stop than ``buffer`` x the
  stop distance (or ``buffer_atr`` x ATR, when bars are given): WARN;
- leverage above the tier maximum for the notional: FAIL;
- stop on the wrong side of entry: FAIL; take-profit on the wrong side: FAIL;
- size below the venue's minimum, or margin + fee above what is available: FAIL;
- cross: WARN, since the whole cross balance backs the position and can be lost with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

from perpmargin import formulas as F
from perpmargin import limits
from perpmargin.display import money, places_for
from perpmargin.engine import math as pmath
from perpmargin.engine.account import Account
from perpmargin.engine.unified import UnifiedAccount
from perpmargin.errors import InvalidInput, PerpMarginError, UnknownSymbol
from perpmargin.numeric import ONE, ZERO, Number, engine_context, round_to_step, to_decimal
from perpmargin.risk.liq_price import OtherPosition, bankruptcy_price, liquidation_price
from perpmargin.venues.loader import bundled_venues, load_venue
from perpmargin.venues.schema import SymbolSpec, Venue

__all__ = ["CheckItem", "ModeCheck", "TradeCheck", "VenueCheck", "check_trade"]

Status = Literal["PASS", "WARN", "FAIL"]
_ORDER = {"PASS": 0, "WARN": 1, "FAIL": 2}


def _worst(statuses: Iterable[Status]) -> Status:
    worst: Status = "PASS"
    for s in statuses:
        if _ORDER[s] > _ORDER[worst]:
            worst = s
    return worst


@dataclass(frozen=True)
class CheckItem:
    """One line of the checklist."""

    name: str
    status: Status
    reason: str


@dataclass(frozen=True)
class ModeCheck:
    """The trade under one margin mode on one venue (money in the settle asset).

    ``stop_to_liquidation`` is how far beyond the stop the liquidation price lies, in
    the adverse direction (+ is safe: the stop fills first); None when nothing
    liquidates. ``worst_case_loss``: isolated, its margin plus fees; cross, the whole
    cross balance where a positive bankruptcy price exists, else the loss at the most
    adverse price (capped by the balance); ``worst_case_basis`` says which.
    ``funding_cost``: + is paid.
    """

    margin_mode: Literal["isolated", "cross", "portfolio"]
    initial_margin: Decimal
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    stop_to_liquidation: Decimal | None
    stop_to_liquidation_pct: Decimal | None
    stop_to_liquidation_atr: Decimal | None
    loss_at_stop: Decimal
    worst_case_loss: Decimal
    funding_cost: Decimal
    status: Status
    checklist: tuple[CheckItem, ...]
    worst_case_basis: str = ""
    """What ``worst_case_loss`` assumes, in words (also the checklist's "worst case")."""


@dataclass(frozen=True)
class VenueCheck:
    """Sizing on one venue and the result under each mode."""

    venue: str
    symbol: str
    quantity: Decimal
    notional: Decimal
    risk_amount: Decimal
    open_fee: Decimal
    close_fee_at_stop: Decimal
    max_leverage: Decimal
    modes: tuple[ModeCheck, ...]
    status: Status
    error: str | None = None
    open_loss: Decimal = Decimal(0)
    """The loss the position shows at once at the mark, where the venue counts it in the
    cost to open (Binance; needs ``mark_price``)."""
    cost_to_open: Decimal | None = None
    """Initial margin + open loss (Binance's "Cost Required to Open a Position"); fees
    apart."""


@dataclass(frozen=True)
class TradeCheck:
    """The whole check: one :class:`VenueCheck` per venue, and which goes first."""

    side: Literal["long", "short"]
    entry: Decimal
    stop: Decimal
    take_profit: Decimal | None
    reward_to_risk: Decimal | None
    atr: Decimal | None
    venues: tuple[VenueCheck, ...]
    status: Status
    first_to_liquidate: tuple[str, str, Decimal] | None = None
    liquidation_spread: dict[str, Decimal] = field(default_factory=dict)
    not_listed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; Decimals become strings."""
        return _jsonable(asdict(self))  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _atr(bars: Sequence[Any], period: int = 14) -> Decimal:
    """Average true range of the last ``period`` bars (each high, low, close)."""
    rows: list[tuple[Decimal, Decimal, Decimal]] = []
    for i, bar in enumerate(bars):
        if isinstance(bar, Mapping):
            h, lo, c = bar.get("high"), bar.get("low"), bar.get("close")
        else:
            try:
                h, lo, c = bar[-3], bar[-2], bar[-1]
            except (TypeError, IndexError):
                raise InvalidInput(f"bars[{i}] must hold high, low, close") from None
        hd = to_decimal(h, f"bars[{i}].high", positive=True)
        ld = to_decimal(lo, f"bars[{i}].low", positive=True)
        cd = to_decimal(c, f"bars[{i}].close", positive=True)
        if hd < ld:
            raise InvalidInput(f"bars[{i}]: high {hd} is below low {ld}")
        rows.append((hd, ld, cd))
    if len(rows) < 2:
        raise InvalidInput("bars needs at least 2 rows (high, low, close) for a volatility")
    ranges = [
        max(h - lo, abs(h - prev_c), abs(lo - prev_c))
        for (h, lo, _), (_, _, prev_c) in zip(rows[1:], rows[:-1], strict=True)
    ]
    window = ranges[-period:]
    return sum(window, ZERO) / len(window)


def _risk_amount(risk: Number, balance: Decimal) -> Decimal:
    if isinstance(risk, str) and risk.strip().endswith("%"):
        pct = to_decimal(risk.strip()[:-1], "risk percent", positive=True)
        if pct > 100:
            raise InvalidInput(f"risk must be at most 100% of the balance, was {risk}")
        return balance * pct / 100
    amount = to_decimal(risk, "risk amount", positive=True)
    if amount > balance:
        raise InvalidInput(f"risk amount {amount} is more than the balance {balance}")
    return amount


def _symbol_on(venue: Venue, symbol: str) -> SymbolSpec:
    try:
        return venue.symbol(symbol)
    except UnknownSymbol:
        base = symbol.split("/")[0].upper()
        for suffix in ("USDT", "USDC", "-USD", "_USDT", "-USDT-SWAP"):
            if base.endswith(suffix) and len(base) > len(suffix):
                base = base[: -len(suffix)]
        # by base asset, linear contracts only: an inverse contract's balance and risk
        # are in the coin, so it is checked only when named
        matches = [
            s for s in venue.symbols.values() if s.base.upper() == base and s.contract == "linear"
        ]
        if len(matches) > 1:  # BTCUSDT and BTCUSDC: the venue's default collateral
            matches = [s for s in matches if s.settle == venue.default_settle]
        if len(matches) == 1:
            return matches[0]
        raise


def check_trade(
    *,
    symbol: str,
    side: str,
    entry: Number,
    stop: Number,
    leverage: Number,
    risk: Number = "1%",
    balance: Number | None = None,
    account: Account | None = None,
    venue: str | Venue | None = None,
    venues: Sequence[str | Venue] | str | None = None,
    take_profit: Number | None = None,
    quantity: Number | None = None,
    margin_modes: Sequence[str] = ("isolated", "cross"),
    buffer: Number = "0.5",
    buffer_atr: Number = "1",
    bars: Sequence[Any] | None = None,
    funding_rate: Number = "0.0001",
    hold_hours: Number = 24,
    mark_price: Number | None = None,
    portfolio: UnifiedAccount | None = None,
) -> TradeCheck:
    """Check a planned trade on one or several venues, isolated and cross side by side
    (and portfolio margin, given a unified account).

    Parameters
    ----------
    symbol
        Venue id or ccxt symbol; on other venues the symbol with the same base asset.
    side, entry, stop, take_profit
        The plan; prices in the settle asset.
    leverage
        Leverage to open with (checked against the tier maximum for the notional).
    risk
        What a stop-out may cost: ``"1%"`` of the balance or an amount.
    balance, account
        The wallet balance, or an :class:`~perpmargin.Account` whose cross wallet and open
        cross positions (at their marks) are used for cross.
    venue, venues
        One venue, several, or ``"all"`` (every bundled venue).
    quantity
        A fixed size instead of sizing from risk.
    buffer, buffer_atr
        WARN when liquidation is closer to the stop than ``buffer`` x stop distance, or
        than ``buffer_atr`` x ATR(14) of ``bars`` when bars are given.
    funding_rate, hold_hours
        Funding per venue interval (+: longs pay) and how long the trade is held.
    mark_price
        The mark now, for a limit entry away from it: where the venue counts it (Binance),
        the cost to open adds the position's open loss at the mark
        (:func:`perpmargin.formulas.open_loss`).
    portfolio
        A :class:`~perpmargin.UnifiedAccount`: adds the ``"portfolio"`` mode on the venues
        it trades on: the trade opened (taker fee) in a copy of the account, its
        liquidation price the nearest adverse move of its underlying that liquidates the
        whole account (collateral held in that underlying moving too).
    """
    with engine_context():
        if side not in ("long", "short"):
            raise InvalidInput(f"side must be 'long' or 'short', was {side!r}")
        trade_side: Literal["long", "short"] = "long" if side == "long" else "short"
        sign = 1 if trade_side == "long" else -1
        entry_d = to_decimal(entry, "entry", positive=True)
        stop_d = to_decimal(stop, "stop", positive=True)
        tp_d = (
            None if take_profit is None else to_decimal(take_profit, "take_profit", positive=True)
        )
        lev = to_decimal(leverage, "leverage", positive=True)
        if lev < 1:
            raise InvalidInput(f"leverage must be >= 1, was {lev}")
        if portfolio is not None and "portfolio" not in margin_modes:
            margin_modes = (*margin_modes, "portfolio")
        for m in margin_modes:
            if m not in ("isolated", "cross", "portfolio"):
                raise InvalidInput(
                    f"margin mode must be 'isolated', 'cross' or 'portfolio', was {m!r}"
                )
        if "portfolio" in margin_modes and portfolio is None:
            raise InvalidInput("the 'portfolio' mode needs portfolio= (a UnifiedAccount)")
        if (account is None) == (balance is None):
            raise InvalidInput("give exactly one of balance= or account=")
        if account is not None:
            bal = account.cross_wallet_balance
        else:
            bal = to_decimal(balance, "balance", positive=True)
        risk_amount = _risk_amount(risk, bal)
        buf = to_decimal(buffer, "buffer", non_negative=True)
        buf_atr = to_decimal(buffer_atr, "buffer_atr", non_negative=True)
        rate = limits.funding_rate(funding_rate)
        hours = to_decimal(hold_hours, "hold_hours", non_negative=True)
        mark_d = None if mark_price is None else to_decimal(mark_price, "mark_price", positive=True)
        atr = None if bars is None else _atr(bars)
        fixed_qty = None if quantity is None else to_decimal(quantity, "quantity", positive=True)
        venue_list = _venues(venue, venues, account)
        stop_distance = (entry_d - stop_d) * sign
        reward = None if tp_d is None else (tp_d - entry_d) * sign
        results = []
        not_listed = []
        for v in venue_list:
            try:
                spec = _symbol_on(v, symbol)
            except UnknownSymbol as exc:
                if venues == "all":  # venues without the asset are reported, not failed
                    not_listed.append(v.id)
                else:
                    results.append(
                        VenueCheck(
                            v.id,
                            symbol,
                            ZERO,
                            ZERO,
                            risk_amount,
                            ZERO,
                            ZERO,
                            ZERO,
                            (),
                            "FAIL",
                            error=str(exc),
                        )
                    )
                continue
            results.append(
                _check_venue(
                    v,
                    spec,
                    trade_side,
                    entry_d,
                    stop_d,
                    tp_d,
                    lev,
                    risk_amount,
                    bal,
                    account,
                    fixed_qty,
                    margin_modes,
                    buf,
                    buf_atr,
                    atr,
                    rate,
                    hours,
                    mark_d,
                    portfolio,
                )
            )
        first, spread = _compare(results, trade_side)
        return TradeCheck(
            side=trade_side,
            entry=entry_d,
            stop=stop_d,
            take_profit=tp_d,
            # none where the stop or the take-profit is on the wrong side (a FAIL says so)
            reward_to_risk=None
            if reward is None or reward <= 0 or stop_distance <= 0
            else (reward / stop_distance).quantize(Decimal("0.01")),
            atr=atr,
            venues=tuple(results),
            status=_worst(r.status for r in results),
            first_to_liquidate=first,
            liquidation_spread=spread,
            not_listed=tuple(not_listed),
        )


def _venues(
    venue: str | Venue | None, venues: Sequence[str | Venue] | str | None, account: Account | None
) -> list[Venue]:
    if venues == "all":
        return [load_venue(n) for n in bundled_venues()]
    names: list[str | Venue] = []
    if venue is not None:
        names.append(venue)
    if venues is not None and not isinstance(venues, str):
        names.extend(venues)
    elif isinstance(venues, str):
        names.append(venues)
    if not names:
        if account is None:
            raise InvalidInput("give venue=, venues=[...] or venues='all'")
        return [account.venue]
    return [n if isinstance(n, Venue) else load_venue(n) for n in names]


def _check_venue(
    v: Venue,
    spec: SymbolSpec,
    side: Literal["long", "short"],
    entry: Decimal,
    stop: Decimal,
    tp: Decimal | None,
    lev: Decimal,
    risk_amount: Decimal,
    balance: Decimal,
    account: Account | None,
    fixed_qty: Decimal | None,
    margin_modes: Sequence[str],
    buf: Decimal,
    buf_atr: Decimal,
    atr: Decimal | None,
    rate: Decimal,
    hours: Decimal,
    mark: Decimal | None = None,
    portfolio: UnifiedAccount | None = None,
) -> VenueCheck:
    sign = 1 if side == "long" else -1
    taker = v.taker_fee_rate
    stop_distance = (entry - stop) * sign
    items: list[CheckItem] = []
    if stop_distance <= 0:
        items.append(
            CheckItem(
                "stop placed",
                "FAIL",
                f"a {side} stop must be {'below' if sign > 0 else 'above'} "
                f"the entry {entry}, was {stop}",
            )
        )
    else:
        items.append(
            CheckItem(
                "stop placed",
                "PASS",
                f"stop {stop} is {stop_distance} ({stop_distance / entry:.2%}) from entry",
            )
        )
    if tp is not None and (tp - entry) * sign <= 0:
        items.append(
            CheckItem(
                "take-profit placed",
                "FAIL",
                f"a {side} take-profit must be beyond the entry, was {tp}",
            )
        )
    cv = spec.inverse_value  # inverse: sizes in contracts, money in the coin
    loss_per_unit = (
        abs(pmath.unrealized_pnl(sign, ONE, entry, stop, cv))
        + (pmath.position_value(ONE, entry, cv) + pmath.position_value(ONE, stop, cv)) * taker
    )
    unit = "contracts" if cv is not None else spec.base
    sized_at: int | None = None
    if spec.grid_source.startswith("unknown"):  # a fact beside the numbers, not a check
        items.append(
            CheckItem(
                "price grid",
                "WARN",
                f"{v.id} publishes no tick or step for {spec.symbol} in the data bundled "
                "(its tier table comes from a snapshot): size and prices are not rounded "
                "to the venue's grid; refresh the venue (perpmargin venues refresh) for them",
            )
        )
    if fixed_qty is not None:
        qty = round_to_step(fixed_qty, spec.step_size, "down")
        items.append(
            CheckItem("size from risk", "WARN", f"fixed size {qty} given, not sized from risk")
        )
    else:
        qty = round_to_step(risk_amount / loss_per_unit, spec.step_size, "down")
        if qty < spec.min_quantity:
            items.append(
                CheckItem(
                    "size from risk",
                    "FAIL",
                    f"risking {_m(risk_amount, spec)} over a {abs(entry - stop)} stop "
                    f"buys {qty}, below {spec.symbol}'s minimum "
                    f"{spec.min_quantity}",
                )
            )
            qty = spec.min_quantity
        else:  # its words quote the loss at the stop as booked: filled in below
            sized_at = len(items)
            items.append(CheckItem("size from risk", "PASS", ""))
    qty = min(qty, spec.max_quantity)
    # money at the settle asset's unit, as the engine books it: fees and margin up (an
    # inverse contract's value in the coin is a quotient: no 50-digit figures)
    unit_step = v.settle_precision
    notional = _to_unit(pmath.position_value(qty, entry, cv), unit_step, "down")
    open_fee = _to_unit(pmath.position_value(qty, entry, cv) * taker, unit_step, "up")
    close_fee = _to_unit(pmath.position_value(qty, stop, cv) * taker, unit_step, "up")
    max_lev = spec.tiers.max_leverage_for(qty, notional)
    if lev > max_lev:
        items.append(
            CheckItem(
                "leverage vs tier max",
                "FAIL",
                f"{lev}x is above {max_lev}x, the maximum for {_m(notional, spec)} "
                f"notional on {v.id}",
            )
        )
    else:
        items.append(
            CheckItem("leverage vs tier max", "PASS", f"{lev}x within the tier maximum {max_lev}x")
        )
    im = F.initial_margin(pmath.position_value(qty, entry, cv), lev)
    if v.liquidation.close_fee_in_initial_margin and v.liquidation.close_fee_in_maintenance:
        # Bybit: the estimated fee to close is part of the initial margin
        im += pmath.estimated_close_fee(sign, qty, entry, lev, taker, cv)
    im = _to_unit(im, unit_step, "up")
    open_loss = ZERO
    if mark is not None and v.rules.open_loss_in_cost:
        open_loss = (
            F.open_loss(sign * qty, entry, mark)
            if cv is None
            else F.open_loss(*F.to_reciprocal(sign * qty, entry, cv), F.reciprocal(mark))
        )
    available = balance if account is None else min(account.available_balance, balance)
    if im + open_loss + open_fee > available:
        what = "margin, open loss and fee" if open_loss else "margin and fee"
        items.append(
            CheckItem(
                "margin available",
                "FAIL",
                f"needs {_m(im + open_loss + open_fee, spec)} of {what}, "
                f"{_m(available, spec)} available",
            )
        )
    loss_at_stop = _to_unit(
        abs(pmath.unrealized_pnl(sign, qty, entry, stop, cv)) + open_fee + close_fee,
        unit_step,
        "up",
    )
    if sized_at is not None:
        items[sized_at] = CheckItem(
            "size from risk",
            "PASS",
            f"{qty} {unit} loses {_m(loss_at_stop, spec)} at the stop, fees included "
            f"(risk {_m(risk_amount, spec)})",
        )
    intervals = hours / spec.funding_interval_hours
    funding_cost = _to_unit(sign * notional * rate * intervals, unit_step, "up")
    others = _others(account, spec) if account is not None else []
    modes = [
        _mode_check(
            v, spec, mode, side, entry, stop, qty, im, open_fee, close_fee, lev, balance,
            others, items, buf, buf_atr, atr, loss_at_stop, funding_cost, account,
        )
        for mode in margin_modes
        if mode != "portfolio"
    ]  # fmt: skip
    if portfolio is not None and "portfolio" in margin_modes:
        modes.append(_portfolio_check(
            portfolio, v, spec, side, entry, stop, qty, im, loss_at_stop, funding_cost, items,
            buf, buf_atr, atr,
        ))  # fmt: skip
    return VenueCheck(
        venue=v.id,
        symbol=spec.symbol,
        quantity=qty,
        notional=notional,
        risk_amount=risk_amount,
        open_fee=open_fee,
        close_fee_at_stop=close_fee,
        max_leverage=max_lev,
        open_loss=open_loss,
        cost_to_open=im + open_loss,
        modes=tuple(modes),
        status=_worst(m.status for m in modes)
        if modes
        else _worst(i.status for i in items if i.name not in _FACTS),
    )


def _m(value: Decimal, spec: SymbolSpec) -> str:
    """Money in the words of a check: the settle asset's decimals (see :func:`places_for`)."""
    return money(value, places_for(spec.settle))


def _to_unit(value: Decimal, step: Decimal, direction: Literal["up", "down"]) -> Decimal:
    """``value`` as it is when it is a whole number of ``step`` (the settle asset's unit),
    else rounded to one in ``direction`` (fees and losses up, as the engine books them)."""
    return value if value % step == 0 else round_to_step(value, step, direction)


def _others(account: Account, spec: SymbolSpec) -> list[OtherPosition]:
    out = []
    for p in account.positions():
        if p.symbol == spec.symbol:
            raise InvalidInput(
                f"the account already holds {spec.symbol}; the check sizes a new position "
                "(close it or check another symbol)"
            )
        if p.margin_mode == "cross":
            out.append(OtherPosition(p.symbol, p.side, p.entry_price, p.quantity, p.mark_price))
    return out


def _liquidation_item(
    liq: Decimal | None,
    stop: Decimal,
    entry: Decimal,
    sign: int,
    buf: Decimal,
    buf_atr: Decimal,
    atr: Decimal | None,
) -> tuple[CheckItem, Decimal | None, Decimal | None, Decimal | None]:
    """The "liquidation distance" check of a mode, and the distance beyond the stop (in
    price, % of entry, ATRs): FAIL before the stop, WARN closer than ``buf`` x the stop
    distance (or ``buf_atr`` ATRs), else PASS."""
    stop_distance = abs(entry - stop)
    if liq is None:
        dist = dist_pct = dist_atr = None
        liq_item = CheckItem(
            "liquidation distance", "PASS", "no positive price liquidates this position"
        )
    else:
        dist = (stop - liq) * sign
        dist_pct = dist / entry * 100
        dist_atr = None if atr is None or atr == 0 else dist / atr
        if dist <= 0:
            liq_item = CheckItem(
                "liquidation distance",
                "FAIL",
                f"liquidation at {liq} comes before the stop at {stop}: lower "
                "the leverage, add margin or move the stop",
            )
        elif dist < buf * stop_distance or (dist_atr is not None and dist_atr < buf_atr):
            how = (
                f"{dist_atr:.2f} ATR"
                if dist_atr is not None
                else f"{dist / stop_distance:.2f}x the stop distance"
            )
            liq_item = CheckItem(
                "liquidation distance",
                "WARN",
                f"liquidation at {liq} is only {dist} ({how}) beyond the stop",
            )
        else:
            liq_item = CheckItem(
                "liquidation distance",
                "PASS",
                f"liquidation at {liq} is {dist} ({dist_pct:.2f}% of entry) beyond the stop",
            )
    return liq_item, dist, dist_pct, dist_atr


def _mode_check(
    v: Venue,
    spec: SymbolSpec,
    mode: str,
    side: Literal["long", "short"],
    entry: Decimal,
    stop: Decimal,
    qty: Decimal,
    im: Decimal,
    open_fee: Decimal,
    close_fee: Decimal,
    lev: Decimal,
    balance: Decimal,
    others: list[OtherPosition],
    common: list[CheckItem],
    buf: Decimal,
    buf_atr: Decimal,
    atr: Decimal | None,
    loss_at_stop: Decimal,
    funding_cost: Decimal,
    account: Account | None,
) -> ModeCheck:
    sign = 1 if side == "long" else -1
    margin_mode: Literal["isolated", "cross"] = "isolated" if mode == "isolated" else "cross"
    if margin_mode == "isolated":
        collateral = im
        other_positions: list[OtherPosition] = []
    else:
        collateral = balance - open_fee
        other_positions = others
    args: dict[str, Any] = {
        "symbol": spec.symbol,
        "other_positions": other_positions,
        "mark_price": entry,
    }
    try:
        liq = liquidation_price(v, margin_mode, side, entry, qty, collateral, **args)
        bankrupt = bankruptcy_price(v, margin_mode, side, entry, qty, collateral, **args)
    except PerpMarginError as exc:
        liq = bankrupt = None
        common = [*common, CheckItem("liquidation distance", "FAIL", str(exc))]
    liq_item, dist, dist_pct, dist_atr = _liquidation_item(
        liq, stop, entry, sign, buf, buf_atr, atr
    )
    worst, basis = _worst_case(
        margin_mode, side, entry, stop, qty, im, open_fee, close_fee, loss_at_stop, liq,
        bankrupt, spec, balance if account is None else account.cross_wallet_balance, others,
    )  # fmt: skip
    if margin_mode == "isolated":
        capped = f"isolated: the loss is capped at the margin {_m(im, spec)} plus fees"
        mode_item = CheckItem("mode chosen", "PASS", capped)
    else:
        wallet = balance if account is None else account.cross_wallet_balance
        extra = f" and {len(others)} other cross position(s)" if others else ""
        mode_item = CheckItem(
            "mode chosen",
            "WARN",
            f"cross: the whole cross balance {_m(wallet, spec)}{extra} backs this position; "
            f"it can lose {_m(worst, spec)} with it",
        )
    checklist = (mode_item, liq_item, *common, CheckItem("worst case", "PASS", basis))
    return _mode_result(margin_mode, im, liq, bankrupt, (dist, dist_pct, dist_atr),
                        loss_at_stop, worst, funding_cost, checklist, basis)  # fmt: skip


def _mode_result(
    margin_mode: Literal["isolated", "cross", "portfolio"],
    im: Decimal,
    liq: Decimal | None,
    bankrupt: Decimal | None,
    distances: tuple[Decimal | None, Decimal | None, Decimal | None],
    loss_at_stop: Decimal,
    worst: Decimal,
    funding_cost: Decimal,
    checklist: tuple[CheckItem, ...],
    basis: str,
) -> ModeCheck:
    """A mode's result: the distances beyond the stop (price, % and ATRs, these two to
    0.01) and the status its checks (not its facts) give."""
    dist, dist_pct, dist_atr = distances
    return ModeCheck(
        margin_mode=margin_mode,
        initial_margin=im,
        liquidation_price=liq,
        bankruptcy_price=bankrupt,
        stop_to_liquidation=dist,
        stop_to_liquidation_pct=None if dist_pct is None else dist_pct.quantize(Decimal("0.01")),
        stop_to_liquidation_atr=None if dist_atr is None else dist_atr.quantize(Decimal("0.01")),
        loss_at_stop=loss_at_stop,
        worst_case_loss=worst,
        funding_cost=funding_cost,
        status=_worst(i.status for i in checklist if i.name not in _FACTS),
        checklist=checklist,
        worst_case_basis=basis,
    )


def _portfolio_check(
    account: UnifiedAccount,
    v: Venue,
    spec: SymbolSpec,
    side: Literal["long", "short"],
    entry: Decimal,
    stop: Decimal,
    qty: Decimal,
    im: Decimal,
    loss_at_stop: Decimal,
    funding_cost: Decimal,
    common: list[CheckItem],
    buf: Decimal,
    buf_atr: Decimal,
    atr: Decimal | None,
) -> ModeCheck:
    """The trade under portfolio margin: opened (taker fee) in a copy of the unified
    account; its liquidation price is the mark moved by the nearest adverse move of its
    underlying that liquidates the whole account; the whole adjusted equity backs it."""
    sign = 1 if side == "long" else -1
    before = account.reading()
    items = list(common)
    liq: Decimal | None = None
    try:
        if account.venue_of(spec.symbol).id != v.id:
            raise InvalidInput(f"the unified account trades {spec.symbol} on another venue")
        twin = account.copy()
        twin.open(spec.symbol, side, qty, entry)
        mark = next(p.mark_price for p in twin.reading().positions if p.symbol == spec.symbol)
        down, up = twin.liquidation_moves()[spec.base]
        move = down if side == "long" else up
        if move is not None:
            direction: Literal["up", "down"] = "down" if side == "long" else "up"
            liq = round_to_step(mark * (1 + move), spec.tick_size, direction)
    except PerpMarginError as exc:
        items.append(CheckItem("liquidation distance", "FAIL", f"portfolio: {exc}"))
    liq_item, dist, dist_pct, dist_atr = _liquidation_item(
        liq, stop, entry, sign, buf, buf_atr, atr
    )
    held = [a.asset for a in before.assets if a.net > 0]
    falls = f"; {spec.base} held as collateral falls with it" if spec.base in held else ""
    mode_item = CheckItem(
        "mode chosen",
        "WARN",
        f"portfolio ({account.rules.id}): the whole unified account ({', '.join(held)} at "
        f"their haircuts, adjusted equity {before.adjusted_equity:,.2f} USD) backs this "
        f"position{falls}",
    )
    basis = (
        f"portfolio: every asset backs it; the adjusted equity {before.adjusted_equity:,.2f} "
        "USD can go with it, and what it cannot cover the insurance fund takes"
    )
    checklist = (mode_item, liq_item, *items, CheckItem("worst case", "PASS", basis))
    worst = max(before.adjusted_equity, ZERO)
    return _mode_result("portfolio", im, liq, None, (dist, dist_pct, dist_atr), loss_at_stop,
                        worst, funding_cost, checklist, basis)  # fmt: skip


_FACTS = ("mode chosen", "worst case", "price grid")
"""Checklist items that state a fact of the mode, not a check: they never set the status."""


def _worst_case(
    margin_mode: str,
    side: Literal["long", "short"],
    entry: Decimal,
    stop: Decimal,
    qty: Decimal,
    im: Decimal,
    open_fee: Decimal,
    close_fee: Decimal,
    loss_at_stop: Decimal,
    liq: Decimal | None,
    bankrupt: Decimal | None,
    spec: SymbolSpec,
    wallet: Decimal,
    others: list[OtherPosition],
) -> tuple[Decimal, str]:
    """The most this position can cost under the mode (settle asset), and what that
    assumes, in words.

    Isolated: the margin plus the fees (liquidation ends the loss there). Cross: the
    whole cross balance where a positive bankruptcy price exists (there nothing is
    left); otherwise the loss at the most adverse price (a long's price at 0, an inverse
    short's price without bound: the position's value at entry) plus the fee to open,
    capped by the balance. Other cross positions are held at their marks.
    """
    held = " (the other cross positions held at their marks)" if others else ""
    if margin_mode == "isolated":
        worst = im + open_fee + close_fee
        if liq is None:
            return (
                worst,
                f"no positive price liquidates it; the loss is at most the margin {_m(im, spec)} "
                "plus the fees",
            )
        text = f"the margin {_m(im, spec)} plus the fees: liquidation at {liq} ends the loss there"
        if (stop - liq) * (1 if side == "long" else -1) <= 0:
            text += (
                f"; the stop at {stop} is never reached (liquidation comes first), so the "
                f"loss at the stop ({_m(loss_at_stop, spec)}) cannot happen"
            )
        return worst, text
    if bankrupt is not None:
        move = abs(bankrupt - entry) / entry * 100
        return wallet, (
            f"the whole cross balance {_m(wallet, spec)}: at the bankruptcy price {bankrupt} "
            f"({move:.2f}% from entry) nothing is left{held}"
        )
    extreme = "falls to 0" if side == "long" else "rises without bound"
    at_extreme = pmath.position_value(qty, entry, spec.inverse_value) + open_fee
    worst = min(wallet, at_extreme)
    return worst, (
        f"no positive price bankrupts the account: if the price {extreme} the loss is "
        f"{_m(at_extreme, spec)} (the position's value at entry and the fee to open){held}"
    )


def _compare(
    results: Sequence[VenueCheck], side: Literal["long", "short"]
) -> tuple[tuple[str, str, Decimal] | None, dict[str, Decimal]]:
    """Which venue and mode liquidates first (nearest to entry), and the spread per mode."""
    sign = 1 if side == "long" else -1
    candidates = [
        (r.venue, m.margin_mode, m.liquidation_price)
        for r in results
        for m in r.modes
        if m.liquidation_price is not None
    ]
    first = max(candidates, key=lambda c: c[2] * sign) if candidates else None
    spread: dict[str, Decimal] = {}
    for mode in ("isolated", "cross", "portfolio"):
        prices = [c[2] for c in candidates if c[1] == mode]
        if len(prices) > 1:
            spread[mode] = max(prices) - min(prices)
    return first, spread
