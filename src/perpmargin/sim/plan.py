"""Trading plans for the replay: Python objects, or a TOML scenario file.

A plan is what a trader would write down before a trade: the account, the venue, the
positions with their entry, stop, take-profit, size rule and leverage, margin to add if
things go wrong, and which margin modes to compare. The same plan is replayed once per
mode, with the same quantities in every mode (sizes are resolved once, from the plan's
balance, before the runs).

A scenario file (all money in the venue's settle asset, prices in quote units, times as
ISO-8601 strings in UTC or ms since the epoch)::

    name = "BTC long 10x on 2020-03-12"
    venue = "binance-usdm"          # a bundled venue id (perpmargin venues)
    balance = 10000
    modes = ["isolated", "cross"]   # the default
    intrabar = "conservative"       # or "optimistic" (see perpmargin.sim.intrabar)
    start = "2020-03-12T00:00:00Z"  # optional window inside the data
    end = "2020-03-12T23:59:00Z"

    [bars]                          # trade-price OHLC bars per symbol (CSV or Parquet)
    BTCUSDT = "binance-btcusdt-perp-1m-2020-03-12.csv"   # a bundled file or a path
    [funding]                       # optional: funding settlements per symbol
    BTCUSDT = "binance-btcusdt-perp-funding-2020-03-12.csv"
    [marks]                         # optional: mark-price bars; else trade bars stand in

    [[positions]]
    symbol = "BTCUSDT"
    side = "long"
    leverage = 10
    size = { margin = 500 }         # or { qty = 0.1 }, { notional = 5000 }, { risk = "1%" }
    entry = "market"                # or a limit price
    at = "2020-03-12T00:00:00Z"     # optional: when to enter (default: the first bar)
    stop = 7000                     # optional stop-market (reduce-only), by last price
    stop_trigger = "last"           # or "mark"
    take_profit = 9000              # optional take-profit-market
    add_margin = [{ at_price = 7500, amount = 200 }]   # or { at_margin_ratio = 0.8, ... }

    insurance_fund = 0              # optional: the shared fund's opening balance
    [[counterparties]]              # optional: other accounts on the venue (needs
    name = "whale long 15x"         #   liquidation_model = "venue"): who gets
    balance = 250000                #   auto-deleveraged, who goes bankrupt
    margin_mode = "cross"           # or "isolated" (the same in every mode of the run)
    positions = [{ symbol = "BTCUSDT", side = "long", leverage = 15,
                   size = { notional = 3000000 }, at = "2025-10-10T21:00:00Z" }]

    [[variants]]                    # optional: the same plan with some fields changed
    name = "... at 5x"
    positions = [{ leverage = 5 }]  # merged into positions by index

Relative paths are resolved against the scenario file's folder. Every problem raises
:class:`PlanError` naming the file and the field.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from perpmargin.errors import InvalidInput
from perpmargin.numeric import to_decimal
from perpmargin.sim.intrabar import IntrabarOrder

__all__ = [
    "Counterparty",
    "MarginTrigger",
    "Plan",
    "PlanError",
    "PositionPlan",
    "Setting",
    "Size",
    "bundled_scenarios",
    "load_plans",
    "plan_from_dict",
]

SizeKind = Literal["qty", "notional", "margin", "risk"]
MarginModeName = Literal["isolated", "cross"]


class PlanError(InvalidInput):
    """A plan or scenario file is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class Setting:
    """How each position of a plan is held, in the plan's order: its margin mode, and the
    margin added to it when it opens if it is isolated (settle asset, >= 0; on top of the
    initial margin its leverage sets). The replay of one setting mixes modes in one
    account, as venues allow; the mode advisor searches over settings."""

    modes: tuple[MarginModeName, ...]
    extra_margin: tuple[Decimal, ...]

    def __post_init__(self) -> None:
        modes = tuple(self.modes)
        extra = tuple(
            to_decimal(x, f"extra_margin[{i}]", non_negative=True)
            for i, x in enumerate(self.extra_margin)
        )
        if not modes or len(modes) != len(extra):
            raise InvalidInput(
                f"a setting needs one mode and one extra margin per position, was "
                f"{len(modes)} and {len(extra)}"
            )
        for m in modes:
            if m not in ("isolated", "cross"):
                raise InvalidInput(f"a position's mode is 'isolated' or 'cross', was {m!r}")
        for m, x in zip(modes, extra, strict=True):
            if m == "cross" and x != 0:
                raise InvalidInput("margin can be added only to an isolated position")
        object.__setattr__(self, "modes", modes)
        object.__setattr__(self, "extra_margin", extra)


@dataclass(frozen=True)
class Size:
    """How big a position is.

    ``qty``: base units (contracts for inverse symbols). ``notional``: settle asset at the
    entry price (the coin for inverse symbols). ``margin``:
    initial margin (notional = margin x leverage). ``risk``: what a stop-out may cost
    (an amount, or ``"1%"`` of the balance); needs a stop, and is sized by the
    pre-trade check (fees to open and to close at the stop included).
    """

    kind: SizeKind
    value: Decimal
    percent: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("qty", "notional", "margin", "risk"):
            raise PlanError(f"size must be qty, notional, margin or risk, was {self.kind!r}")
        value = to_decimal(self.value, f"size.{self.kind}", positive=True)
        if self.percent and (self.kind != "risk" or value >= 100):
            raise PlanError("a percentage size is only for risk, and must be below 100%")
        object.__setattr__(self, "value", value)

    @property
    def risk_text(self) -> str:
        """The risk as :func:`perpmargin.check_trade` takes it (``"1%"`` or an amount)."""
        return f"{self.value}%" if self.percent else str(self.value)


@dataclass(frozen=True)
class MarginTrigger:
    """Add ``amount`` of isolated margin once, when the mark reaches ``at_price`` (in the
    adverse direction) or the position's margin ratio reaches ``at_margin_ratio``.

    In cross mode the whole wallet already backs the position, so a trigger is noted
    and does nothing.
    """

    amount: Decimal
    at_price: Decimal | None = None
    at_margin_ratio: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount, "amount", positive=True))
        if (self.at_price is None) == (self.at_margin_ratio is None):
            raise PlanError("add_margin needs exactly one of at_price or at_margin_ratio")
        if self.at_price is not None:
            object.__setattr__(
                self, "at_price", to_decimal(self.at_price, "at_price", positive=True)
            )
        if self.at_margin_ratio is not None:
            ratio = to_decimal(self.at_margin_ratio, "at_margin_ratio", positive=True)
            if ratio >= 1:
                raise PlanError(f"at_margin_ratio must be below 1 (liquidation), was {ratio}")
            object.__setattr__(self, "at_margin_ratio", ratio)


@dataclass(frozen=True)
class PositionPlan:
    """One position of a plan. Prices in quote units; ``None`` means not used.

    ``entry`` None is a market entry at the open of the entry bar (``at``, or the first
    bar); a price is a limit order placed then. ``stop`` and ``take_profit`` are
    reduce-only market orders for the whole position, placed when the entry fills.
    """

    symbol: str
    side: Literal["long", "short"]
    leverage: Decimal
    size: Size
    entry: Decimal | None = None
    at: int | None = None
    stop: Decimal | None = None
    take_profit: Decimal | None = None
    stop_trigger: Literal["last", "mark"] = "last"
    add_margin: tuple[MarginTrigger, ...] = ()

    def __post_init__(self) -> None:
        if self.side not in ("long", "short"):
            raise PlanError(f"side must be 'long' or 'short', was {self.side!r}")
        if self.stop_trigger not in ("last", "mark"):
            raise PlanError(f"stop_trigger must be 'last' or 'mark', was {self.stop_trigger!r}")
        lev = to_decimal(self.leverage, "leverage", positive=True)
        if lev < 1:
            raise PlanError(f"leverage must be >= 1, was {lev}")
        object.__setattr__(self, "leverage", lev)
        for name in ("entry", "stop", "take_profit"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, to_decimal(value, name, positive=True))
        if self.size.kind == "risk" and self.stop is None:
            raise PlanError(f"{self.symbol}: a risk size needs a stop")
        sign = 1 if self.side == "long" else -1
        if self.entry is not None:
            if self.stop is not None and (self.entry - self.stop) * sign <= 0:
                raise PlanError(f"{self.symbol}: stop {self.stop} is not beyond entry {self.entry}")
            if self.take_profit is not None and (self.take_profit - self.entry) * sign <= 0:
                raise PlanError(
                    f"{self.symbol}: take_profit {self.take_profit} is not beyond entry "
                    f"{self.entry}"
                )
        object.__setattr__(self, "add_margin", tuple(self.add_margin))

    @property
    def sign(self) -> int:
        """+1 long, -1 short."""
        return 1 if self.side == "long" else -1


TRADER = "trader"
"""The name of the plan's own account among the counterparties of a replay."""


@dataclass(frozen=True)
class Counterparty:
    """Another account on the venue, holding positions the trader's plan does not control.

    Counterparties share the clearinghouse and the insurance fund with the trader: their
    bankruptcies can deleverage the trader, and the trader's can deleverage them. Their
    positions are market entries at ``at`` (or the first bar) with a ``qty``, ``notional``
    or ``margin`` size, held to the end (no stops, no margin triggers). ``margin_mode``
    is theirs, the same in every mode the plan compares.
    """

    name: str
    balance: Decimal
    positions: tuple[PositionPlan, ...]
    margin_mode: MarginModeName = "cross"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or self.name == TRADER:
            raise PlanError(f"a counterparty needs a name other than {TRADER!r}, was {self.name!r}")
        object.__setattr__(self, "balance", to_decimal(self.balance, "balance", positive=True))
        if self.margin_mode not in ("isolated", "cross"):
            raise PlanError(
                f"{self.name}: margin_mode must be isolated or cross, was {self.margin_mode!r}"
            )
        positions = tuple(self.positions)
        if not positions:
            raise PlanError(f"{self.name}: a counterparty needs at least one position")
        for p in positions:
            if p.size.kind == "risk" or p.entry is not None:
                raise PlanError(
                    f"{self.name}: {p.symbol}: counterparties enter at market with a qty, "
                    "notional or margin size"
                )
            if p.stop is not None or p.take_profit is not None or p.add_margin:
                raise PlanError(
                    f"{self.name}: {p.symbol}: counterparties hold their positions (no stop, "
                    "take_profit or add_margin)"
                )
        if len({p.symbol for p in positions}) != len(positions):
            raise PlanError(f"{self.name}: one position per symbol (one-way mode)")
        object.__setattr__(self, "positions", positions)


@dataclass(frozen=True)
class Plan:
    """A whole scenario: account, venue, data, positions, and the modes to compare.

    ``bars``/``funding``/``marks`` map a symbol to a bundled file name or a path.
    ``start``/``end`` (ms, inclusive) cut a window out of the data.
    """

    name: str
    venue: str
    balance: Decimal
    bars: Mapping[str, str | Path]
    positions: tuple[PositionPlan, ...]
    funding: Mapping[str, str | Path] = field(default_factory=dict)
    marks: Mapping[str, str | Path] = field(default_factory=dict)
    modes: tuple[MarginModeName, ...] = ("isolated", "cross")
    intrabar: IntrabarOrder = "conservative"
    position_mode: Literal["one-way", "hedge"] | None = None
    liquidation_model: Literal["full", "venue"] = "full"
    start: int | None = None
    end: int | None = None
    description: str = ""
    source: str = "<python>"
    counterparties: tuple[Counterparty, ...] = ()
    insurance_fund: Decimal = Decimal(0)

    # complexity waived (C901): one check per field of a plan
    def __post_init__(self) -> None:  # noqa: C901
        if not self.name:
            raise PlanError("a plan needs a name")
        object.__setattr__(self, "balance", to_decimal(self.balance, "balance", positive=True))
        object.__setattr__(
            self,
            "insurance_fund",
            to_decimal(self.insurance_fund, "insurance_fund", non_negative=True),
        )
        counterparties = tuple(self.counterparties)
        object.__setattr__(self, "counterparties", counterparties)
        if counterparties and self.liquidation_model != "venue":
            raise PlanError(
                f"{self.name}: counterparties need liquidation_model = 'venue' (auto-"
                "deleveraging is part of the venue's process)"
            )
        if len({c.name for c in counterparties}) != len(counterparties):
            raise PlanError(f"{self.name}: counterparty names repeat")
        for c in counterparties:
            for p in c.positions:
                if p.symbol not in self.bars:
                    raise PlanError(f"{self.name}: {c.name}: no bars for {p.symbol}")
        modes = tuple(self.modes)
        if not modes or any(m not in ("isolated", "cross") for m in modes):
            raise PlanError(f"modes must be a non-empty list of isolated/cross, was {modes!r}")
        if len(set(modes)) != len(modes):
            raise PlanError(f"modes repeat: {modes!r}")
        object.__setattr__(self, "modes", modes)
        if self.intrabar not in ("conservative", "optimistic"):
            raise PlanError(
                f"intrabar must be 'conservative' or 'optimistic', was {self.intrabar!r}"
            )
        if self.liquidation_model not in ("full", "venue"):
            raise PlanError(
                f"liquidation_model must be 'full' or 'venue', was {self.liquidation_model!r}"
            )
        if self.position_mode not in (None, "one-way", "hedge"):
            raise PlanError(f"position_mode must be one-way or hedge, was {self.position_mode!r}")
        positions = tuple(self.positions)
        if not positions:
            raise PlanError(f"{self.name}: a plan needs at least one position")
        object.__setattr__(self, "positions", positions)
        for p in positions:
            if p.symbol not in self.bars:
                raise PlanError(f"{self.name}: no bars for {p.symbol} (add it under [bars])")
        for table in ("funding", "marks"):
            extra = set(getattr(self, table)) - set(self.bars)
            if extra:
                raise PlanError(f"{self.name}: [{table}] names symbols without bars: {extra}")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise PlanError(f"{self.name}: end is before start")
        sides = {(p.symbol, p.side) for p in positions}
        if len(sides) != len(positions):
            raise PlanError(f"{self.name}: one position per symbol and side")
        symbols = {p.symbol for p in positions}
        if len(sides) > len(symbols) and self.position_mode != "hedge":
            raise PlanError(
                f"{self.name}: a long and a short in the same symbol need position_mode = 'hedge'"
            )

    @property
    def symbols(self) -> list[str]:
        """Symbols with bars, in the plan's order (positions first)."""
        order = [p.symbol for p in self.positions] + list(self.bars)
        return list(dict.fromkeys(order))


# ---------------------------------------------------------------------------- TOML

_TOP_KEYS = {
    "name",
    "description",
    "venue",
    "balance",
    "modes",
    "intrabar",
    "liquidation_model",
    "position_mode",
    "start",
    "end",
    "bars",
    "funding",
    "marks",
    "positions",
    "variants",
    "counterparties",
    "insurance_fund",
}
_POSITION_KEYS = {
    "symbol",
    "side",
    "leverage",
    "size",
    "entry",
    "at",
    "stop",
    "take_profit",
    "stop_trigger",
    "add_margin",
}


def _time(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise PlanError(f"{where}: not a time: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return int(stamp.timestamp() * 1000)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise PlanError(f"{where}: not an ISO-8601 time: {value!r}") from None
        return _time(parsed, where)
    raise PlanError(f"{where}: not a time: {value!r}")


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise PlanError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _size(raw: Any, where: str) -> Size:
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise PlanError(f"{where}.size: one of {{qty|notional|margin|risk = value}}, was {raw!r}")
    ((kind, value),) = raw.items()
    if kind not in ("qty", "notional", "margin", "risk"):
        raise PlanError(f"{where}.size: unknown size rule {kind!r}")
    percent = isinstance(value, str) and value.strip().endswith("%")
    if percent:
        value = value.strip()[:-1]
    return Size(kind, value, percent=percent)


def _position(raw: Any, where: str) -> PositionPlan:
    if not isinstance(raw, Mapping):
        raise PlanError(f"{where}: a position is a table, was {raw!r}")
    _check_keys(raw, _POSITION_KEYS, where)
    for key in ("symbol", "side", "leverage", "size"):
        if key not in raw:
            raise PlanError(f"{where}: missing {key}")
    entry = raw.get("entry", "market")
    if entry == "market":
        entry = None
    triggers = []
    for j, t in enumerate(raw.get("add_margin", [])):
        if not isinstance(t, Mapping):
            raise PlanError(f"{where}.add_margin[{j}]: a table, was {t!r}")
        _check_keys(t, {"amount", "at_price", "at_margin_ratio"}, f"{where}.add_margin[{j}]")
        if "amount" not in t:
            raise PlanError(f"{where}.add_margin[{j}]: missing amount")
        triggers.append(MarginTrigger(t["amount"], t.get("at_price"), t.get("at_margin_ratio")))
    return PositionPlan(
        symbol=str(raw["symbol"]),
        side=raw["side"],
        leverage=raw["leverage"],
        size=_size(raw["size"], where),
        entry=entry,
        at=None if raw.get("at") is None else _time(raw["at"], f"{where}.at"),
        stop=raw.get("stop"),
        take_profit=raw.get("take_profit"),
        stop_trigger=raw.get("stop_trigger", "last"),
        add_margin=tuple(triggers),
    )


def _counterparty(raw: Any, where: str) -> Counterparty:
    if not isinstance(raw, Mapping):
        raise PlanError(f"{where}: a counterparty is a table, was {raw!r}")
    _check_keys(raw, {"name", "balance", "margin_mode", "positions"}, where)
    for key in ("name", "balance", "positions"):
        if key not in raw:
            raise PlanError(f"{where}: missing {key}")
    positions = raw["positions"]
    if not isinstance(positions, Sequence) or isinstance(positions, str):
        raise PlanError(f"{where}: positions must be an array of tables")
    return Counterparty(
        name=raw["name"],
        balance=raw["balance"],
        margin_mode=raw.get("margin_mode", "cross"),
        positions=tuple(_position(p, f"{where}.positions[{i}]") for i, p in enumerate(positions)),
    )


def _files(raw: Any, table: str, base: Path | None) -> dict[str, str | Path]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise PlanError(f"[{table}] maps a symbol to a file, was {raw!r}")
    out: dict[str, str | Path] = {}
    for symbol, name in raw.items():
        if not isinstance(name, str):
            raise PlanError(f"[{table}].{symbol}: a file name, was {name!r}")
        path = Path(name)
        if base is not None and ("/" in name or (base / path).is_file()):
            out[str(symbol)] = path if path.is_absolute() else base / path
        else:
            out[str(symbol)] = name
    return out


def plan_from_dict(raw: Mapping[str, Any], *, base: Path | None = None, source: str = "") -> Plan:
    """Build a :class:`Plan` from a parsed scenario (``variants`` are not applied here)."""
    where = source or "plan"
    _check_keys(raw, _TOP_KEYS, where)
    for key in ("name", "venue", "balance", "bars", "positions"):
        if key not in raw:
            raise PlanError(f"{where}: missing {key}")
    positions = raw["positions"]
    if not isinstance(positions, Sequence) or isinstance(positions, str):
        raise PlanError(f"{where}: positions must be an array of tables")
    counterparties = raw.get("counterparties", [])
    if not isinstance(counterparties, Sequence) or isinstance(counterparties, str):
        raise PlanError(f"{where}: counterparties must be an array of tables")
    try:
        return Plan(
            name=str(raw["name"]),
            description=str(raw.get("description", "")),
            venue=str(raw["venue"]),
            balance=raw["balance"],
            bars=_files(raw["bars"], "bars", base),
            funding=_files(raw.get("funding"), "funding", base),
            marks=_files(raw.get("marks"), "marks", base),
            positions=tuple(
                _position(p, f"{where}: positions[{i}]") for i, p in enumerate(positions)
            ),
            modes=tuple(raw.get("modes", ("isolated", "cross"))),
            intrabar=raw.get("intrabar", "conservative"),
            position_mode=raw.get("position_mode"),
            liquidation_model=raw.get("liquidation_model", "full"),
            start=None if raw.get("start") is None else _time(raw["start"], f"{where}: start"),
            end=None if raw.get("end") is None else _time(raw["end"], f"{where}: end"),
            source=source or "<dict>",
            counterparties=tuple(
                _counterparty(c, f"{where}: counterparties[{i}]")
                for i, c in enumerate(counterparties)
            ),
            insurance_fund=raw.get("insurance_fund", 0),
        )
    except PlanError as exc:
        msg = str(exc)
        raise PlanError(msg if msg.startswith(where) else f"{where}: {msg}") from None
    except InvalidInput as exc:
        raise PlanError(f"{where}: {exc}") from None


def _merge(base: Mapping[str, Any], variant: Mapping[str, Any], where: str) -> dict[str, Any]:
    out = dict(base)
    out.pop("variants", None)
    for key, value in variant.items():
        if key == "positions":
            if not isinstance(value, Sequence) or len(value) > len(base["positions"]):
                raise PlanError(f"{where}: positions must be a list no longer than the base's")
            merged = [dict(p) for p in base["positions"]]
            for i, change in enumerate(value):
                merged[i].update(change)
            out["positions"] = merged
        elif key in ("bars", "funding", "marks"):
            out[key] = {**base.get(key, {}), **value}
        else:
            out[key] = value
    return out


def _bundled_dir() -> Any:
    return resources.files("perpmargin") / "scenarios"


def bundled_scenarios() -> list[str]:
    """Names of the scenario files shipped with the package (without ``.toml``)."""
    return sorted(p.name[:-5] for p in _bundled_dir().iterdir() if p.name.endswith(".toml"))


def load_plans(source: str | Path) -> list[Plan]:
    """Read a scenario file (a path, or a bundled name) into its plans.

    The file's own plan comes first, then one plan per ``[[variants]]`` entry.
    """
    name = str(source)
    if isinstance(source, str) and name.removesuffix(".toml") in bundled_scenarios():
        res = _bundled_dir() / f"{name.removesuffix('.toml')}.toml"
        text = res.read_text(encoding="utf-8")
        base: Path | None = None
        label = f"scenario {name.removesuffix('.toml')}"
    else:
        path = Path(source)
        if not path.is_file():
            raise PlanError(
                f"no scenario file {name!r} (bundled: {', '.join(bundled_scenarios())})"
            )
        text = path.read_text(encoding="utf-8")
        base = path.parent
        label = str(path)
    try:
        raw = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{label}: not valid TOML ({exc})") from None
    plans = [plan_from_dict(raw, base=base, source=label)]
    variants = raw.get("variants", [])
    if not isinstance(variants, list):
        raise PlanError(f"{label}: variants must be an array of tables")
    for i, variant in enumerate(variants):
        where = f"{label}: variants[{i}]"
        if not isinstance(variant, Mapping) or "name" not in variant:
            raise PlanError(f"{where}: a variant is a table with a name")
        _check_keys(variant, _TOP_KEYS - {"variants"}, where)
        plans.append(plan_from_dict(_merge(raw, variant, where), base=base, source=where))
    return plans
