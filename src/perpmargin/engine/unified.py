"""A unified (portfolio-margin) account: several assets, one collateral pool, one ratio.

The third margin mode of the large venues (Binance Portfolio Margin, Bybit's Unified
Trading Account, OKX multi-currency margin): every asset the account holds backs every
position. Per asset, the net balance X = wallet + the uPnL of the futures that settle
in it is valued at the asset's USD index price; a positive X counts at the venue's
haircut (:func:`perpmargin.formulas.haircut_slice`, tiered in coin or in USD value), a
negative X (a liability) in full (:func:`perpmargin.formulas.collateral_value`). The
sum is the adjusted equity. Each position's maintenance margin is its futures venue's
own tiered requirement (:func:`perpmargin.engine.math.requirement`) in its settle asset,
times that asset's index price. The venue's ratio (:class:`UnifiedRules`: Binance's
uniMMR = adjusted equity / maintenance, Bybit's account MM rate = maintenance / margin
balance, OKX's margin ratio) and its trigger say whether the account is liquidated; an
account whose adjusted equity is negative is liquidated too (Binance's second trigger;
Bybit's ratio reads 1 there).

So a BTC balance held as collateral beside a BTC long falls twice when BTC falls, and a
USDT-margined position's loss is a USDT liability counted against every other asset.

Money is exact (Decimal); every change of a balance is a :class:`Booking` in the ledger,
so each asset's balance is its bookings' sum and what the trader pays the venue (fees)
or the counterparties (PnL) is booked against them (:attr:`UnifiedAccount.venue_income`,
:attr:`UnifiedAccount.counterparty_pnl`). Every mutator is atomic: a refused call
(typed error) changes nothing.

Not modelled yet (said in the rules' notes and in errors): margin loans and their MM,
open orders (Binance's OpenLoss, Bybit's order loss), borrowing limits and the MM of margin
loans. Interest on what is owed is charged at the user's rates (:meth:`UnifiedAccount.
accrue_interest`): the venues publish them live only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from perpmargin import formulas as F
from perpmargin.engine import math as pmath
from perpmargin.errors import (
    InsufficientMargin,
    InvalidInput,
    MissingParameter,
    NoPosition,
    UnknownSymbol,
)
from perpmargin.numeric import ZERO, Number, engine_context, round_to_step, to_decimal
from perpmargin.venues.loader import load_venue
from perpmargin.venues.schema import SymbolSpec, Venue
from perpmargin.venues.unified import (
    CollateralTier,
    UnifiedRules,
    load_unified,
    parse_collateral_tiers,
)

__all__ = [
    "AssetReading",
    "Booking",
    "PositionReading",
    "UnifiedAccount",
    "UnifiedReading",
    "UnitReading",
]

Side = Literal["long", "short"]
ASSET_STEP = Decimal("1e-8")
"""Smallest unit of an asset balance a conversion credits (8 decimals, as the venues'
coin balances)."""


@dataclass(frozen=True)
class Booking:
    """One change of one asset balance (asset units; + credits the trader)."""

    seq: int
    kind: Literal[
        "opening",
        "deposit",
        "withdraw",
        "convert",
        "fee",
        "realized_pnl",
        "funding",
        "interest",
        "liquidation_fee",
        "insurance_fund",
    ]
    asset: str
    amount: Decimal
    symbol: str | None = None
    note: str = ""


@dataclass(frozen=True)
class AssetReading:
    """One asset of a reading: asset units, then USD (index price x)."""

    asset: str
    wallet: Decimal
    unrealized_pnl: Decimal
    net: Decimal
    index_price: Decimal
    value: Decimal
    collateral: Decimal


@dataclass(frozen=True)
class PositionReading:
    """One position of a reading (settle-asset units; maintenance also in USD)."""

    symbol: str
    side: Side
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal
    settle: str
    unrealized_pnl: Decimal
    maintenance: Decimal
    maintenance_usd: Decimal


@dataclass(frozen=True)
class UnitReading:
    """A risk unit of risk-based portfolio margin (one underlying), USD: the worst loss
    over the price-move grid and the move it is at, the contingency, maintenance (their
    sum) and initial margin (x the IM factor; None where the factor is not known)."""

    base: str
    max_loss: Decimal
    worst_move: Decimal
    contingency: Decimal
    maintenance: Decimal
    initial_margin: Decimal | None


@dataclass(frozen=True)
class UnifiedReading:
    """The account at a set of prices: equity without and with haircuts, maintenance
    (USD), the venue's ratio (None when it is undefined: no maintenance on an
    equity-over-requirement ratio) and whether the account is liquidated."""

    rules: str
    ratio_name: str
    ratio: Decimal | None
    liquidated: bool
    trigger: str
    equity: Decimal
    adjusted_equity: Decimal
    maintenance: Decimal
    assets: tuple[AssetReading, ...]
    positions: tuple[PositionReading, ...]
    notes: tuple[str, ...] = ()
    units: tuple[UnitReading, ...] = ()
    """Risk units, under risk-based portfolio margin (their maintenance is the account's;
    the positions' own bracket maintenance is then shown for reference only)."""

    def words(self) -> str:
        """The reading in one line, its numbers as printed beside it."""
        ratio = "undefined (no maintenance)" if self.ratio is None else f"{self.ratio:.4f}"
        state = "LIQUIDATED" if self.liquidated else "not liquidated"
        return (
            f"{self.ratio_name} {ratio} ({self.trigger}): {state}; adjusted equity "
            f"{self.adjusted_equity:,.2f} USD of {self.equity:,.2f}, maintenance "
            f"{self.maintenance:,.2f} USD"
        )


@dataclass
class _Leg:
    spec: SymbolSpec
    venue: Venue
    side: Side
    quantity: Decimal
    entry: Decimal


@dataclass
class _State:
    balances: dict[str, Decimal]
    index: dict[str, Decimal]
    marks: dict[str, Decimal]
    legs: dict[str, _Leg]
    ledger: list[Booking] = field(default_factory=list)
    venue_income: dict[str, Decimal] = field(default_factory=dict)
    counterparty: dict[str, Decimal] = field(default_factory=dict)
    fund: dict[str, Decimal] = field(default_factory=dict)


def _number(value: Number, name: str, **kw: bool) -> Decimal:
    return to_decimal(value, name, **kw)


def _asset_name(asset: object) -> str:
    if not isinstance(asset, str) or not asset.strip() or not asset.isascii():
        raise InvalidInput(f"an asset is named by its ticker (e.g. 'BTC'), not {asset!r}")
    return asset.strip().upper()


class UnifiedAccount:
    """A unified account on one venue's rules (see the module docstring).

    Parameters
    ----------
    rules
        :class:`UnifiedRules` or a bundled name (``"binance-pm"``, ``"bybit-uta"``,
        ``"okx-multi-currency"``) or a file path.
    balances
        Opening wallet balance per asset (asset units, >= 0).
    index_prices
        USD index price per asset held (every asset needs one, stablecoins included:
        nothing is assumed to be worth 1).
    collateral
        Haircut tiers per asset (``[(floor, cap, rate), ...]`` in the rules' unit, cap
        ``""`` = none), replacing or adding to the rules' own: how a user supplies the
        rates a venue publishes only live.
    venues
        The futures venues to trade (default: the rules' ``futures`` files).
    contingency
        Risk-based rules only (``bybit-pm``): the contingency rate per underlying
        (contingency = rate x sum |quantity| x index), which no venue publishes.
    price_moves
        Risk-based rules only: the largest price move per underlying (a fraction: 0.16
        for +-16 %), replacing the rules' own and cut into their step or buckets (Deribit
        PM publishes its current ranges only on a live page: give them here).
    """

    def __init__(
        self,
        rules: UnifiedRules | str,
        balances: Mapping[str, Number],
        index_prices: Mapping[str, Number],
        *,
        collateral: Mapping[str, Any] | None = None,
        venues: Sequence[Venue] | None = None,
        contingency: Mapping[str, Number] | None = None,
        price_moves: Mapping[str, Number] | None = None,
    ) -> None:
        self._rules = rules if isinstance(rules, UnifiedRules) else load_unified(rules)
        self._contingency = {
            _asset_name(b): _number(r, f"contingency rate of {b}", non_negative=True)
            for b, r in (contingency or {}).items()
        }
        self._price_moves = {
            _asset_name(b): _number(m, f"price move of {b}", positive=True)
            for b, m in (price_moves or {}).items()
        }
        if self._price_moves:
            scenario = self._rules.scenario
            if scenario is None:
                raise InvalidInput(
                    f"{self._rules.id} is not risk-based: price_moves are for scenario rules"
                )
            for move in self._price_moves.values():
                scenario.grid_of(move)  # a fraction in the rules' spacing, or say so
        self._venues = (
            tuple(venues)
            if venues is not None
            else tuple(load_venue(v) for v in self._rules.futures)
        )
        self._collateral: dict[str, tuple[CollateralTier, ...]] = {}
        for asset, rows in (collateral or {}).items():
            name = _asset_name(asset)
            self._collateral[name] = parse_collateral_tiers(
                [list(r) if isinstance(r, tuple) else r for r in rows], f"collateral.{name}"
            )
        if not isinstance(balances, Mapping) or not isinstance(index_prices, Mapping):
            raise InvalidInput("balances and index_prices are mappings of asset to number")
        state = _State({}, {}, {}, {})
        for asset, price in index_prices.items():
            state.index[_asset_name(asset)] = _number(price, f"index price of {asset}",
                                                      positive=True)  # fmt: skip
        self._state = state
        for asset, amount in balances.items():
            if _number(amount, f"balance of {asset}", non_negative=True) > 0:
                self.deposit(asset, amount)
        self.reading()  # every asset has a price and a haircut, or say so now

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> UnifiedAccount:
        """An account from a plain document (a JSON object)::

            {"rules": "binance-pm", "balances": {"BTC": "1"},
             "index_prices": {"BTC": "50000", "USDT": "1"},
             "positions": [{"symbol": "BTCUSDT", "side": "long", "quantity": "1",
                            "entry_price": "50000", "mark_price": "50000"}],
             "collateral": {"BTC": [["0", "", "0.95"]]}}

        ``collateral`` is optional (the rules' own tables otherwise), ``contingency``
        too (risk-based rules only); positions are restored as held (no fee)."""
        if not isinstance(doc, Mapping):
            raise InvalidInput("a unified account is a JSON object")
        allowed = {"rules", "balances", "index_prices", "positions", "collateral", "contingency",
                   "price_moves"}  # fmt: skip
        unknown = sorted(set(doc) - allowed)
        if unknown:
            raise InvalidInput(
                f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: "
                f"{', '.join(sorted(allowed))}"
            )
        for key in ("rules", "balances", "index_prices"):
            if key not in doc:
                raise InvalidInput(f"the account needs {key!r}")
        acct = cls(
            doc["rules"], doc["balances"], doc["index_prices"], collateral=doc.get("collateral"),
            contingency=doc.get("contingency"), price_moves=doc.get("price_moves"),
        )  # fmt: skip
        positions = doc.get("positions", [])
        if not isinstance(positions, list):
            raise InvalidInput("positions is a list of objects")
        keys = {"symbol", "side", "quantity", "entry_price", "mark_price"}
        for k, pos in enumerate(positions):
            if not isinstance(pos, Mapping) or set(pos) != keys:
                raise InvalidInput(f"positions[{k}] needs exactly {', '.join(sorted(keys))}")
            acct.restore(pos["symbol"], pos["side"], pos["quantity"], pos["entry_price"],
                         pos["mark_price"])  # fmt: skip
        return acct

    def copy(self) -> UnifiedAccount:
        """An independent account in the same state (a what-if: trade it, mark it)."""
        twin = object.__new__(UnifiedAccount)
        twin._rules, twin._venues = self._rules, self._venues
        twin._collateral = dict(self._collateral)
        twin._contingency = dict(self._contingency)
        twin._price_moves = dict(self._price_moves)
        s = self._state
        twin._state = _State(
            dict(s.balances), dict(s.index), dict(s.marks),
            {k: replace(leg) for k, leg in s.legs.items()}, list(s.ledger),
            dict(s.venue_income), dict(s.counterparty), dict(s.fund),
        )  # fmt: skip
        return twin

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        saved = self.copy()._state
        try:
            with engine_context():
                yield
        except BaseException:
            self._state = saved
            raise

    def _book(
        self, kind: Any, asset: str, amount: Decimal, symbol: str | None = None, note: str = ""
    ) -> None:
        s = self._state
        s.balances[asset] = s.balances.get(asset, ZERO) + amount
        s.ledger.append(Booking(len(s.ledger), kind, asset, amount, symbol, note))
        if kind in ("fee", "liquidation_fee", "interest"):
            s.venue_income[asset] = s.venue_income.get(asset, ZERO) - amount
        elif kind in ("realized_pnl", "funding"):
            s.counterparty[asset] = s.counterparty.get(asset, ZERO) - amount
        elif kind == "insurance_fund":
            s.fund[asset] = s.fund.get(asset, ZERO) - amount

    def _spec(self, symbol: str) -> tuple[SymbolSpec, Venue]:
        for venue in self._venues:
            if symbol in venue.symbols:
                return venue.symbol(symbol), venue
        listed = ", ".join(v.id for v in self._venues)
        raise UnknownSymbol(f"{symbol!r} is not listed by {listed}")

    def _tiers(self, asset: str) -> tuple[CollateralTier, ...]:
        found = self._collateral.get(asset)
        return found if found is not None else self._rules.tiers(asset)

    def collateral_tiers(self, asset: str) -> tuple[CollateralTier, ...]:
        """The haircut tiers ``asset`` counts at: the account's own, else the rules'
        (raises MissingParameter when neither has them)."""
        return self._tiers(_asset_name(asset))

    def _price(self, asset: str, index: Mapping[str, Decimal]) -> Decimal:
        price = index.get(asset)
        if price is None:
            raise InvalidInput(f"no index price for {asset}: pass index_prices={{'{asset}': ...}}")
        return price

    # ------------------------------------------------------------------ readings

    @property
    def rules(self) -> UnifiedRules:
        """The venue's unified-account rules this account follows."""
        return self._rules

    @property
    def index_prices(self) -> dict[str, Decimal]:
        """The USD index price of every asset the account knows (a copy)."""
        return dict(self._state.index)

    @property
    def balances(self) -> dict[str, Decimal]:
        """Wallet balance per asset (asset units; negative: owed)."""
        return dict(self._state.balances)

    @property
    def ledger(self) -> tuple[Booking, ...]:
        """Every balance change, in order."""
        return tuple(self._state.ledger)

    @property
    def venue_income(self) -> dict[str, Decimal]:
        """Fees the venue collected, per asset."""
        return dict(self._state.venue_income)

    @property
    def insurance_fund_net(self) -> dict[str, Decimal]:
        """What the insurance fund received (+) or paid to cover a bankrupt account (-),
        per asset."""
        return dict(self._state.fund)

    @property
    def counterparty_pnl(self) -> dict[str, Decimal]:
        """PnL the other side of every close booked, per asset."""
        return dict(self._state.counterparty)

    def positions(self) -> list[tuple[str, Side, Decimal, Decimal]]:
        """(symbol, side, quantity, entry) of every open position."""
        return [
            (s, leg.side, leg.quantity, leg.entry) for s, leg in sorted(self._state.legs.items())
        ]

    def reading(
        self,
        marks: Mapping[str, Number] | None = None,
        index_prices: Mapping[str, Number] | None = None,
    ) -> UnifiedReading:
        """The account at its prices, or at ``marks`` / ``index_prices`` given here
        (others held); changes nothing."""
        s = self._state
        with engine_context():
            at_marks = {**s.marks, **{k: _number(v, f"mark of {k}", positive=True)
                                      for k, v in (marks or {}).items()}}  # fmt: skip
            index = {**s.index, **{_asset_name(k): _number(v, f"index price of {k}", positive=True)
                                   for k, v in (index_prices or {}).items()}}  # fmt: skip
            upnl: dict[str, Decimal] = {}
            positions = []
            maintenance = ZERO
            for symbol, leg in sorted(s.legs.items()):
                mark = at_marks[symbol]
                sign = 1 if leg.side == "long" else -1
                cv = leg.spec.inverse_value
                u = pmath.unrealized_pnl(sign, leg.quantity, leg.entry, mark, cv)
                mm = pmath.requirement(leg.spec.tiers, leg.quantity, mark, contract_value=cv)
                settle = leg.spec.settle
                upnl[settle] = upnl.get(settle, ZERO) + u
                mm_usd = mm * self._price(settle, index)
                maintenance += mm_usd
                positions.append(PositionReading(symbol, leg.side, leg.quantity, leg.entry,
                                                 mark, settle, u, mm, mm_usd))  # fmt: skip
            assets = []
            equity = adjusted = ZERO
            for asset in sorted(set(s.balances) | set(upnl)):
                wallet = s.balances.get(asset, ZERO)
                u = upnl.get(asset, ZERO)
                net = wallet + u
                price = self._price(asset, index)
                value = net * price
                counted = F.collateral_value(value, self._haircut(asset, net, price))
                equity += value
                adjusted += counted
                assets.append(AssetReading(asset, wallet, u, net, price, value, counted))
            units: tuple[UnitReading, ...] = ()
            if self._rules.scenario is not None:
                units = self._units(at_marks, index)
                maintenance = sum((u.maintenance for u in units), ZERO)
            return self._judge(equity, adjusted, maintenance, tuple(assets), tuple(positions),
                               units)  # fmt: skip

    def _units(
        self, marks: Mapping[str, Decimal], index: Mapping[str, Decimal]
    ) -> tuple[UnitReading, ...]:
        """Risk-based maintenance per underlying: the worst USD loss of its positions
        over its grid of moves (each position's PnL change valued at its settle asset's
        index, which moves too when it is the underlying), or the weighted loss at the
        extreme move when larger, plus the add-on at the user's rate."""
        scenario = self._rules.scenario
        assert scenario is not None
        by_base: dict[str, list[_Leg]] = {}
        for leg in self._state.legs.values():
            by_base.setdefault(leg.spec.base, []).append(leg)
        out = []
        for base, legs in sorted(by_base.items()):
            moves, extreme, rate = self.risk_unit_rules(base)
            worst, at = max((self._scenario_loss(legs, base, m, marks, index), m) for m in moves)
            far, far_at, weight = ZERO, at, ZERO
            if extreme is not None and scenario.extreme_weight > 0:
                far, far_at = max(
                    (self._scenario_loss(legs, base, m, marks, index), m)
                    for m in (-extreme, extreme)
                )
                weight = scenario.extreme_weight
            size = sum((_base_quantity(leg, marks) for leg in legs), ZERO)
            counted, contingency = F.risk_unit_requirement(
                worst, far, weight, rate, size, self._price(base, index)
            )
            if counted != max(worst, ZERO):  # the weighted extreme move counts
                at = far_at
            worst, mm = counted, counted + contingency
            factor = scenario.factor(base)
            out.append(UnitReading(base, worst, at, contingency, mm,
                                   None if factor is None else mm * factor))  # fmt: skip
        return tuple(out)

    def risk_unit_rules(self, base: str) -> tuple[tuple[Decimal, ...], Decimal | None, Decimal]:
        """Risk-based rules only: the risk unit of ``base``'s price moves (0 and each move
        up and down; the user's ``price_moves`` where given), its extreme move (None:
        none) and its contingency rate (the user's). Raises MissingParameter where the
        rules publish none and the user gave none."""
        scenario = self._rules.scenario
        if scenario is None:
            raise InvalidInput(f"{self._rules.id} is not risk-based: it has no risk units")
        moves = scenario.moves(base, self._price_moves)
        if moves is None:
            listed = ", ".join(sorted(scenario.grid)) or "none"
            raise MissingParameter(
                f"{self._rules.id} publishes no price-move grid for {base} that was found "
                f"(listed: {listed}): pass price_moves={{'{base}': largest move}} or "
                "give your own rules file"
            )
        rate = self._contingency.get(base)
        if rate is None:
            raise MissingParameter(
                f"{self._rules.id}: the contingency rate of the {base} risk unit is not "
                f"published: pass contingency={{'{base}': rate}}"
            )
        return moves, scenario.extreme_move(base), rate

    def _scenario_loss(
        self,
        legs: Sequence[_Leg],
        base: str,
        move: Decimal,
        marks: Mapping[str, Decimal],
        index: Mapping[str, Decimal],
    ) -> Decimal:
        """The USD loss (+) of ``legs`` if ``base`` moved by ``move``
        (:func:`perpmargin.formulas.scenario_loss` summed)."""
        loss = ZERO
        for leg in legs:
            mark = marks[leg.spec.symbol]
            sign = 1 if leg.side == "long" else -1
            cv = leg.spec.inverse_value
            settle = leg.spec.settle
            now = pmath.unrealized_pnl(sign, leg.quantity, leg.entry, mark, cv)
            then = pmath.unrealized_pnl(sign, leg.quantity, leg.entry, mark * (1 + move), cv)
            loss += F.scenario_loss(
                now, then, self._price(settle, index), move if settle == base else ZERO
            )
        return loss

    def _haircut(self, asset: str, net: Decimal, price: Decimal) -> Decimal:
        """The haircut value (USD) of a positive net holding."""
        if net <= 0:
            return net * price
        usd = self._rules.haircut_unit == "usd_value"
        amount = net * price if usd else net
        counted = sum(
            (F.haircut_slice(amount, t.floor, t.cap, t.rate) for t in self._tiers(asset)), ZERO
        )
        return counted if usd else counted * price

    def _judge(
        self,
        equity: Decimal,
        adjusted: Decimal,
        maintenance: Decimal,
        assets: tuple[AssetReading, ...],
        positions: tuple[PositionReading, ...],
        units: tuple[UnitReading, ...] = (),
    ) -> UnifiedReading:
        rules = self._rules
        notes = list(rules.notes)
        ratio: Decimal | None
        if rules.ratio_kind == "equity_over_requirement":
            ratio = F.equity_ratio(adjusted, maintenance) if maintenance > 0 else None
        else:
            ratio = F.margin_ratio(maintenance, adjusted)
        liquidated = adjusted < 0 or (ratio is not None and rules.liquidated(ratio))
        if liquidated and adjusted < 0 and (ratio is None or not rules.liquidated(ratio)):
            notes.append("adjusted equity is below 0: liquidated whatever the ratio")
        return UnifiedReading(rules.id, rules.ratio_name, ratio, liquidated,
                              rules.trigger_words(), equity, adjusted, maintenance, assets,
                              positions, tuple(notes), units)  # fmt: skip

    def liquidation_moves(
        self, *, step: Number = "0.01", lowest: Number = "-0.99", highest: Number = "10"
    ) -> dict[str, tuple[Decimal | None, Decimal | None]]:
        """The account's liquidation surface along each underlying: per base asset B (of
        the positions and of the collateral held), the nearest move of B's price down
        and up (a fraction: -0.25 is a 25 % fall) at which the account is liquidated,
        every other price held. B's move applies to its index price (so collateral held
        in B moves too) and to the mark of every symbol on B. None: not liquidated
        within ``lowest``..``highest``. Scanned in ``step``s, then bisected to 1e-6."""
        with engine_context():
            grid = _number(step, "step", positive=True)
            low = _number(lowest, "lowest")
            high = _number(highest, "highest", positive=True)
        if not (-1 < low < 0 < high) or grid >= high:
            raise InvalidInput("moves need -1 < lowest < 0 < highest and step < highest")
        if self.reading().liquidated:
            return dict.fromkeys(self._underlyings(), (ZERO, ZERO))
        out = {}
        for base in self._underlyings():
            out[base] = (self._nearest(base, -grid, low), self._nearest(base, grid, high))
        return out

    def _underlyings(self) -> list[str]:
        s = self._state
        bases = {leg.spec.base for leg in s.legs.values()}
        bases |= {a for a, x in s.balances.items() if x != 0 and a in s.index}
        return sorted(bases)

    def _moved(self, base: str, move: Decimal) -> UnifiedReading:
        s = self._state
        factor = 1 + move
        marks = {sym: s.marks[sym] * factor for sym, leg in s.legs.items() if leg.spec.base == base}
        index = {base: s.index[base] * factor} if base in s.index else {}
        return self.reading(marks, index)

    def _nearest(self, base: str, step: Decimal, end: Decimal) -> Decimal | None:
        safe = ZERO
        move = step
        while (move <= end) if step > 0 else (move >= end):
            if self._moved(base, move).liquidated:
                hit = move
                for _ in range(40):  # bisect between the last safe and the first hit
                    mid = (safe + hit) / 2
                    if self._moved(base, mid).liquidated:
                        hit = mid
                    else:
                        safe = mid
                    if abs(hit - safe) < Decimal("1e-6"):
                        break
                return hit.quantize(Decimal("1e-6"))
            safe = move
            move += step
        return None

    # ------------------------------------------------------------------ money in and out

    def deposit(self, asset: str, amount: Number) -> None:
        """Credit ``amount`` (> 0) of ``asset``; its index price must be known."""
        with self._atomic():
            name = _asset_name(asset)
            value = _number(amount, f"deposit of {name}", positive=True)
            self._price(name, self._state.index)
            self._tiers(name)
            self._book("deposit", name, value)

    def restore_balance(self, asset: str, amount: Number) -> None:
        """Set up a balance the account already holds (an imported snapshot); negative
        for an asset owed. Only once per asset, before any other booking of it."""
        with self._atomic():
            name = _asset_name(asset)
            value = _number(amount, f"balance of {name}")
            if any(b.asset == name for b in self._state.ledger):
                raise InvalidInput(f"{name} already has bookings: restore each balance once")
            self._price(name, self._state.index)
            if value > 0:
                self._tiers(name)
            self._book("opening", name, value)

    def withdraw(self, asset: str, amount: Number) -> None:
        """Debit ``amount`` (> 0) of ``asset``: at most its wallet balance, and never so
        much that the account would be liquidated (raises InsufficientMargin)."""
        with self._atomic():
            name = _asset_name(asset)
            value = _number(amount, f"withdrawal of {name}", positive=True)
            if value > self._state.balances.get(name, ZERO):
                raise InsufficientMargin(
                    f"cannot withdraw {value} {name}: the wallet holds "
                    f"{self._state.balances.get(name, ZERO)}"
                )
            self._book("withdraw", name, -value)
            self._refuse_if_liquidated(f"withdrawing {value} {name}")

    def convert(self, from_asset: str, to_asset: str, amount: Number) -> Decimal:
        """Exchange ``amount`` of ``from_asset`` for ``to_asset`` at their index prices
        (the credit rounded down to 1e-8); returns the amount credited. At most the
        wallet balance, and never into liquidation."""
        with self._atomic():
            src, dst = _asset_name(from_asset), _asset_name(to_asset)
            if src == dst:
                raise InvalidInput(f"cannot convert {src} into itself")
            value = _number(amount, f"conversion of {src}", positive=True)
            held = self._state.balances.get(src, ZERO)
            if value > held:
                raise InsufficientMargin(f"cannot convert {value} {src}: the wallet holds {held}")
            index = self._state.index
            got = round_to_step(
                value * self._price(src, index) / self._price(dst, index), ASSET_STEP, "down"
            )
            if got <= 0:
                raise InvalidInput(f"{value} {src} is worth less than {ASSET_STEP} {dst}")
            self._tiers(dst)
            self._book("convert", src, -value, note=f"into {dst}")
            self._book("convert", dst, got, note=f"from {src}")
            self._refuse_if_liquidated(f"converting {value} {src}")
            return got

    def _refuse_if_liquidated(self, what: str) -> None:
        after = self.reading()
        if after.liquidated:
            raise InsufficientMargin(f"{what} would leave the account liquidated: {after.words()}")

    # ------------------------------------------------------------------ trading

    def open(self, symbol: str, side: Side, quantity: Number, price: Number) -> None:
        """Trade ``quantity`` of ``symbol`` at ``price`` as a taker (one-way: a trade
        against the position reduces it first). The fee is the venue's taker rate on the
        value, in the settle asset, rounded up to its precision; a reduced part books its
        PnL. Refused (nothing changes) when the account would be liquidated after it.
        Unified accounts check the whole account, not an order's own margin (Binance PM:
        "no margin check at the order level")."""
        with self._atomic():
            if side not in ("long", "short"):
                raise InvalidInput(f"side must be 'long' or 'short', was {side!r}")
            spec, venue = self._spec(symbol)
            qty = _number(quantity, "quantity", positive=True)
            if qty % spec.step_size or qty < spec.min_quantity or qty > spec.max_quantity:
                raise InvalidInput(
                    f"quantity {qty} of {symbol} must be a multiple of {spec.step_size} "
                    f"within {spec.min_quantity}..{spec.max_quantity}"
                )
            px = _number(price, "price", positive=True)  # any price: old bars had finer ticks
            self._price(spec.settle, self._state.index)
            self._tiers(spec.settle)
            self._trade(spec, venue, side, qty, px, "fee", venue.taker_fee_rate)
            self._state.marks.setdefault(symbol, px)
            self._refuse_if_liquidated(f"{side} {qty} {symbol} at {px}")

    def restore(
        self, symbol: str, side: Side, quantity: Number, entry_price: Number, mark_price: Number
    ) -> None:
        """Add a position the account already holds (an imported snapshot): no trade,
        no fee; refused (nothing changes) if the symbol is already held."""
        with self._atomic():
            if side not in ("long", "short"):
                raise InvalidInput(f"side must be 'long' or 'short', was {side!r}")
            spec, venue = self._spec(symbol)
            if symbol in self._state.legs:
                raise InvalidInput(f"{symbol} is already held: restore each symbol once")
            qty = _number(quantity, "quantity", positive=True)
            entry = _number(entry_price, "entry price", positive=True)
            mark = _number(mark_price, "mark price", positive=True)
            self._price(spec.settle, self._state.index)
            self._tiers(spec.settle)
            self._state.legs[symbol] = _Leg(spec, venue, side, qty, entry)
            self._state.marks[symbol] = mark

    def venue_of(self, symbol: str) -> Venue:
        """The futures venue whose rules the position in ``symbol`` follows."""
        return self._spec(symbol)[1]

    def close(self, symbol: str, price: Number) -> None:
        """Close the whole position in ``symbol`` at ``price`` as a taker."""
        with self._atomic():
            leg = self._state.legs.get(symbol)
            if leg is None:
                raise NoPosition(f"no open position in {symbol}")
            px = _number(price, "price", positive=True)
            other: Side = "short" if leg.side == "long" else "long"
            self._trade(leg.spec, leg.venue, other, leg.quantity, px, "fee",
                        leg.venue.taker_fee_rate)  # fmt: skip

    def settle_funding(self, symbol: str, rate: Number) -> UnifiedReading:
        """Settle one funding payment on ``symbol`` at ``rate`` (a fraction): the position
        pays ``side x value at its mark x rate`` (:func:`perpmargin.formulas.
        funding_payment`; longs pay shorts when the rate is positive) in its settle
        asset, rounded up against the trader, to the counterparties. Returns the reading
        after the payment; where it is liquidated the venue's process then runs (as
        :meth:`mark`: every position closed, or the account flagged)."""
        with self._atomic():
            leg = self._state.legs.get(symbol)
            if leg is None:
                raise NoPosition(f"no open position in {symbol}")
            if leg.spec.dated:
                raise InvalidInput(f"{symbol} is a dated future: it pays no funding")
            r = _number(rate, "funding rate")
            if abs(r) >= 1:
                raise InvalidInput(f"funding rate must be a fraction, was {r}")
            sign = 1 if leg.side == "long" else -1
            value = pmath.position_value(
                leg.quantity, self._state.marks[symbol], leg.spec.inverse_value
            )
            amount = round_to_step(
                F.funding_payment(sign * value, r), leg.venue.settle_precision, "up"
            )
            if amount:
                self._book("funding", leg.spec.settle, -amount, symbol)
            paid = self.reading()
            if paid.liquidated:
                self.mark()
            return paid

    def deliver(self, symbol: str, price: Number) -> UnifiedReading:
        """Deliver a dated future: the position closed at the delivery ``price``, its
        PnL booked, no fee (the venue files hold no delivery fee). Returns the reading
        after it."""
        with self._atomic():
            leg = self._state.legs.get(symbol)
            if leg is None:
                raise NoPosition(f"no open position in {symbol}")
            if not leg.spec.dated:
                raise InvalidInput(f"{symbol} is a perpetual: it is never delivered")
            px = _number(price, "delivery price", positive=True)
            other: Side = "short" if leg.side == "long" else "long"
            self._trade(leg.spec, leg.venue, other, leg.quantity, px, "fee", ZERO)
            self._state.marks[symbol] = px
            return self.reading()

    def accrue_interest(self, rates: Mapping[str, Number], periods: Number = 1) -> UnifiedReading:
        """Charge interest on what the account owes: per asset whose balance is negative,
        ``-balance x rate x periods`` (the rate per period the venue charges, e.g. an
        hourly rate for ``periods`` hours; venues publish them live only: the user's),
        rounded up to the asset unit against the trader, to the venue. Returns the
        reading after it; where it is liquidated the venue's process then runs (as
        :meth:`mark`). Assets without a rate owe nothing here."""
        with self._atomic():
            n = _number(periods, "periods", non_negative=True)
            parsed = {_asset_name(a): _number(r, f"interest rate of {a}", non_negative=True)
                      for a, r in rates.items()}  # fmt: skip
            if any(r >= 1 for r in parsed.values()):
                raise InvalidInput("an interest rate per period is a fraction below 1")
            for asset, rate in sorted(parsed.items()):
                owed = -self._state.balances.get(asset, ZERO)
                if owed > 0 and rate > 0:
                    charge = round_to_step(owed * rate * n, ASSET_STEP, "up")
                    self._book("interest", asset, -charge)
            charged = self.reading()
            if charged.liquidated:
                self.mark()
            return charged

    def _trade(
        self,
        spec: SymbolSpec,
        venue: Venue,
        side: Side,
        qty: Decimal,
        px: Decimal,
        fee_kind: str,
        fee_rate: Decimal,
    ) -> None:
        s = self._state
        cv = spec.inverse_value
        fee = round_to_step(
            F.trade_fee(pmath.position_value(qty, px, cv), fee_rate), venue.settle_precision, "up"
        )
        if fee:
            self._book(fee_kind, spec.settle, -fee, spec.symbol)
        leg = s.legs.get(spec.symbol)
        if leg is None or leg.side == side:
            if leg is None:
                s.legs[spec.symbol] = _Leg(spec, venue, side, qty, px)
            else:
                total = leg.quantity + qty
                leg.entry = (
                    F.average_entry(leg.quantity, leg.entry, qty, px)
                    if cv is None
                    else F.inverse_average_entry(leg.quantity, leg.entry, qty, px)
                )
                leg.quantity = total
            return
        closed = min(qty, leg.quantity)
        sign = 1 if leg.side == "long" else -1
        pnl = round_to_step(
            pmath.unrealized_pnl(sign, closed, leg.entry, px, cv), venue.settle_precision, "down"
        )
        self._book("realized_pnl", spec.settle, pnl, spec.symbol)
        rest = leg.quantity - closed
        if rest > 0:
            leg.quantity = rest
        else:
            del s.legs[spec.symbol]
            if qty > closed:
                s.legs[spec.symbol] = _Leg(spec, venue, side, qty - closed, px)

    # ------------------------------------------------------------------ prices

    def mark(
        self,
        marks: Mapping[str, Number] | None = None,
        index_prices: Mapping[str, Number] | None = None,
    ) -> UnifiedReading:
        """Move to new marks (per symbol) and index prices (per asset) and return the
        reading. When it is liquidated and the venue's process is published
        (``close_all_at_mark``), every position is closed at its mark with the futures
        venue's liquidation fee, and the reading after that is returned (its notes say
        so); when it is not published, the account is only flagged."""
        with self._atomic():
            before = self.reading(marks, index_prices)
            s = self._state
            s.marks.update({p.symbol: p.mark_price for p in before.positions})
            s.marks.update({k: _number(v, f"mark of {k}", positive=True)
                            for k, v in (marks or {}).items()})  # fmt: skip
            s.index.update({a.asset: a.index_price for a in before.assets})
            s.index.update({_asset_name(k): _number(v, f"index price of {k}", positive=True)
                            for k, v in (index_prices or {}).items()})  # fmt: skip
            if not before.liquidated or not s.legs:
                return before
            if self._rules.liquidation == "not_published":
                return _with_note(before, "the venue's liquidation steps are not published: "
                                  "flagged, not liquidated")  # fmt: skip
            for symbol, leg in sorted(s.legs.items()):
                other: Side = "short" if leg.side == "long" else "long"
                self._trade(leg.spec, leg.venue, other, leg.quantity, s.marks[symbol],
                            "liquidation_fee", leg.spec.liquidation_fee_rate)  # fmt: skip
            covered = self._cover_liabilities()
            said = f"every position closed at its mark{covered}"
            return _with_note(self.reading(), f"liquidated at {before.ratio_name} "
                              f"{before.ratio}: {said}")  # fmt: skip

    def _cover_liabilities(self) -> str:
        """After a liquidation: sell the other assets (largest value first, at index)
        to repay every negative balance; what they cannot repay the insurance fund
        takes over, so the account owes nothing (Binance: "the margin liquidation engine
        takes over the assets and sells them to cover the liabilities"; the order it
        sells in is not published)."""
        s = self._state
        said = ""
        for asset in sorted(a for a, x in s.balances.items() if x < 0):
            price = s.index[asset]
            for source in sorted(
                (a for a, x in s.balances.items() if x > 0),
                key=lambda a: (-s.balances[a] * s.index[a], a),
            ):
                owed = -s.balances[asset]
                if owed <= 0:
                    break
                rate = s.index[source] / price
                sell = min(s.balances[source], round_to_step(owed / rate, ASSET_STEP, "up"))
                got = min(owed, round_to_step(sell * rate, ASSET_STEP, "down"))
                self._book("convert", source, -sell, note=f"sold to repay {asset}")
                self._book("convert", asset, got, note=f"from {source}")
            if s.balances[asset] < 0:
                self._book("insurance_fund", asset, -s.balances[asset],
                           note="the fund takes over what the assets cannot repay")  # fmt: skip
                said = "; the insurance fund covered the rest"
        return said


def _base_quantity(leg: _Leg, marks: Mapping[str, Decimal]) -> Decimal:
    """A position's size in its underlying: base units (linear), or the coin its
    contracts are worth at the mark (inverse)."""
    cv = leg.spec.inverse_value
    if cv is None:
        return leg.quantity
    return pmath.position_value(leg.quantity, marks[leg.spec.symbol], cv)


def _with_note(reading: UnifiedReading, note: str) -> UnifiedReading:
    return replace(reading, notes=(*reading.notes, note))
