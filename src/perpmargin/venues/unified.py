"""Unified-account (portfolio-margin) rules as data: which ratio, its trigger, haircuts.

A unified account holds several assets as one collateral pool (Binance Portfolio
Margin, Bybit's Unified Trading Account in regular cross margin, OKX multi-currency
margin). Its rules are a JSON file with ``schema: "perpmargin.unified/1"``, bundled
under ``venues/data/unified/`` or the user's own:

- ``futures``: the venue files whose symbols the account trades (tiers, fees, liquidation
  fee: the per-position maintenance margin of a unified account is the futures
  bracket's own);
- ``ratio``: its name, ``kind`` (``equity_over_requirement``, e.g. Binance's uniMMR =
  adjusted equity / maintenance, or ``requirement_over_equity``, e.g. Bybit's account
  MM rate), the threshold and whether the account is liquidated ``below``,
  ``at_or_below`` or ``at_or_above`` it; ``levels``: the other published bands;
- ``collateral``: the haircut ``unit`` (``coin`` or ``usd_value``) and, per asset, its
  tiers ``[{floor, cap ("" = no cap), rate}]`` with their source; ``default_rate`` for
  assets not listed (null: an unlisted asset is refused). Only published values are
  bundled: where a venue's tables were not found, none are, and the account asks for
  them (:class:`perpmargin.errors.MissingParameter`);
- ``scenario`` (optional): risk-based maintenance (Bybit PM): the price-move grid per
  underlying and the IM factor (:class:`ScenarioMargin`);
- ``liquidation``: what the venue does when the ratio trips (``close_all_at_mark`` with
  the futures' liquidation fee, or ``not_published``: the account is flagged, never
  liquidated by a guess).

Every value is a string so it parses exactly; every table names its source and date.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from perpmargin.errors import MissingParameter, UnknownVenue, VenueDataError
from perpmargin.numeric import ZERO, to_decimal

__all__ = [
    "CollateralTier",
    "ScenarioMargin",
    "UnifiedRules",
    "bundled_unified",
    "load_unified",
    "parse_collateral_tiers",
]

SCHEMA = "perpmargin.unified/1"

RatioKind = Literal["equity_over_requirement", "requirement_over_equity"]
Trigger = Literal["below", "at_or_below", "at_or_above"]
HaircutUnit = Literal["coin", "usd_value"]
LiquidationAction = Literal["close_all_at_mark", "not_published"]

_INFINITY = Decimal("Infinity")


@dataclass(frozen=True)
class CollateralTier:
    """A slice ``[floor, cap)`` of a holding (in the rules' unit) counted at ``rate``."""

    floor: Decimal
    cap: Decimal
    rate: Decimal


@dataclass(frozen=True)
class Level:
    """A published band of the account ratio and what the venue does there."""

    at: Decimal
    meaning: str
    source: str


@dataclass(frozen=True)
class ScenarioMargin:
    """Risk-based portfolio margin (Bybit PM, OKX PM): positions grouped by underlying
    into risk units. A unit's maintenance is the worst loss over its price moves
    (``grid``: the moves up and down, 0 included; per underlying, ``"*"`` for the rest),
    or ``extreme_weight`` x the worst loss at ``+-extreme`` when that is larger (OKX's
    MR6), plus an add-on of ``rate x sum |quantity| x index`` whose rate no venue
    publishes (Bybit's contingency, OKX's MR4 basis charge: the user's); initial margin =
    maintenance x ``im_factor``."""

    grid: Mapping[str, tuple[Decimal, ...]]
    im_factor: Mapping[str, Decimal]
    source: str
    extreme: Mapping[str, Decimal] = field(default_factory=dict)
    extreme_weight: Decimal = ZERO
    step: Decimal | None = None
    """A regular grid's spacing (Bybit: 2 %), for a range the user gives."""
    buckets: int | None = None
    """A grid of this many evenly spaced moves from -range to +range, 0 included
    (Deribit: 9), for the ranges listed or given by the user."""

    def moves(
        self, base: str, given: Mapping[str, Decimal] | None = None
    ) -> tuple[Decimal, ...] | None:
        """The moves of ``base``'s grid (each up and down; 0 too), or None. ``given``:
        the user's maximum move per underlying, which replaces the rules' own and is cut
        into the rules' ``step`` or ``buckets``."""
        if given and base in given:
            found: tuple[Decimal, ...] | None = self.grid_of(given[base])
        else:
            found = self.grid.get(base, self.grid.get("*"))
        if found is None:
            return None
        return tuple(sorted({ZERO, *found, *(-m for m in found)}))

    def grid_of(self, largest: Decimal) -> tuple[Decimal, ...]:
        """The positive moves up to ``largest`` (a fraction) in the rules' spacing."""
        if not 0 < largest < 1:
            raise VenueDataError(f"a price range is a fraction in (0, 1), was {largest}")
        if self.buckets is not None:
            half = (self.buckets - 1) // 2
            return tuple(largest * k / half for k in range(1, half + 1))
        if self.step is None:
            raise MissingParameter(
                "these rules list their moves one by one (no step or bucket count): give "
                "your own rules file to change them"
            )
        n = largest / self.step
        if n != int(n):
            raise VenueDataError(
                f"a price range of {largest} is not a whole number of the grid's {self.step} steps"
            )
        return tuple(self.step * k for k in range(1, int(n) + 1))

    def extreme_move(self, base: str) -> Decimal | None:
        """``base``'s extreme move (None: no extreme-move term)."""
        return self.extreme.get(base, self.extreme.get("*"))

    def factor(self, base: str) -> Decimal | None:
        """``base``'s IM factor (None: not known)."""
        return self.im_factor.get(base, self.im_factor.get("*"))


@dataclass(frozen=True)
class UnifiedRules:
    """One venue's unified-account rules (see the module docstring for the fields)."""

    id: str
    name: str
    version: str
    source: str
    futures: tuple[str, ...]
    ratio_name: str
    ratio_kind: RatioKind
    liquidation_at: Decimal
    trigger: Trigger
    ratio_source: str
    levels: tuple[Level, ...]
    haircut_unit: HaircutUnit
    collateral: Mapping[str, tuple[CollateralTier, ...]]
    collateral_source: str
    default_rate: Decimal | None
    liquidation: LiquidationAction
    liquidation_source: str
    notes: tuple[str, ...] = ()
    scenario: ScenarioMargin | None = None
    """Risk-based maintenance (None: each position's bracket maintenance, summed)."""

    def tiers(self, asset: str) -> tuple[CollateralTier, ...]:
        """The haircut tiers of ``asset`` (the default rate for an unlisted one).

        Raises
        ------
        MissingParameter
            The venue publishes no rate for ``asset`` that was found, and the file has no
            default: supply it (``UnifiedAccount(collateral=...)`` or your own file).
        """
        found = self.collateral.get(asset)
        if found is not None:
            return found
        if self.default_rate is not None:
            return (CollateralTier(ZERO, _INFINITY, self.default_rate),)
        listed = ", ".join(sorted(self.collateral)) or "none"
        raise MissingParameter(
            f"{self.id} has no collateral rate for {asset} (listed: {listed}; "
            f"{self.collateral_source}): pass collateral={{'{asset}': [(floor, cap, rate), "
            "...]}} to the account, or load a unified file of your own"
        )

    def liquidated(self, ratio: Decimal) -> bool:
        """Whether an account at ``ratio`` is past the venue's trigger."""
        if self.trigger == "below":
            return ratio < self.liquidation_at
        if self.trigger == "at_or_below":
            return ratio <= self.liquidation_at
        return ratio >= self.liquidation_at

    def trigger_words(self) -> str:
        """The trigger in words: ``"liquidated below 1.05"``."""
        how = {"below": "below", "at_or_below": "at or below", "at_or_above": "at or above"}
        return f"liquidated {how[self.trigger]} {self.liquidation_at}"


def bundled_unified() -> list[str]:
    """Names of the unified-account rule files shipped with the package."""
    return list(_names())


@functools.cache
def _names() -> tuple[str, ...]:
    root = resources.files("perpmargin.venues") / "data" / "unified"
    return tuple(sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".json")))


def load_unified(name_or_path: str | Path) -> UnifiedRules:
    """Load bundled unified-account rules by name (``"binance-pm"``) or a file by path.

    Raises
    ------
    UnknownVenue
        No bundled rules of that name and no such file.
    VenueDataError
        The file fails validation; the message names the file and the field.
    """
    name = str(name_or_path)
    if isinstance(name_or_path, str) and name in _names():
        return _bundled(name)
    path = Path(name_or_path)
    if not path.is_file():
        raise UnknownVenue(
            f"no unified-account rules {name!r}: bundled are {', '.join(_names())}, or give "
            "a file path"
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VenueDataError(f"{path}: not readable JSON ({exc})") from None
    return parse_unified(doc, str(path))


@functools.cache
def _bundled(name: str) -> UnifiedRules:
    res = resources.files("perpmargin.venues") / "data" / "unified" / f"{name}.json"
    return parse_unified(json.loads(res.read_text(encoding="utf-8")), f"unified/{name}.json")


def _get(doc: Any, key: str, where: str) -> Any:
    if not isinstance(doc, Mapping):
        raise VenueDataError(f"{where} must be an object")
    if key not in doc:
        raise VenueDataError(f"{where}.{key} is missing")
    return doc[key]


def _text(doc: Any, key: str, where: str) -> str:
    value = _get(doc, key, where)
    if not isinstance(value, str) or not value.strip():
        raise VenueDataError(f"{where}.{key} must be a non-empty string")
    return value


def _number(value: Any, where: str, **kw: bool) -> Decimal:
    if isinstance(value, float | bool):
        raise VenueDataError(f"{where} must be a string or integer, not {value!r}")
    try:
        return to_decimal(value, where, **kw)
    except Exception as exc:
        raise VenueDataError(str(exc)) from None


def _only(doc: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise VenueDataError(
            f"{where} has unknown field(s) {', '.join(map(repr, unknown))}; allowed: "
            f"{', '.join(sorted(allowed))}"
        )


def _choice(doc: Any, key: str, where: str, allowed: tuple[str, ...]) -> Any:
    value = _get(doc, key, where)
    if value not in allowed:
        raise VenueDataError(f"{where}.{key} must be one of {allowed}, was {value!r}")
    return value


def parse_collateral_tiers(rows: Any, where: str) -> tuple[CollateralTier, ...]:
    """Validate a haircut table: slices from 0, contiguous, caps rising, rates in [0, 1].

    Each row is ``{"floor", "cap", "rate"}`` or ``[floor, cap, rate]``; a cap of ``""``
    or None is no cap (the last slice only).
    """
    if not isinstance(rows, list) or not rows:
        raise VenueDataError(f"{where} must be a non-empty list of tiers")
    out: list[CollateralTier] = []
    for k, row in enumerate(rows):
        at = f"{where}[{k}]"
        if isinstance(row, Mapping):
            _only(row, {"floor", "cap", "rate"}, at)
            raw = (_get(row, "floor", at), _get(row, "cap", at), _get(row, "rate", at))
        elif isinstance(row, list | tuple) and len(row) == 3:
            raw = (row[0], row[1], row[2])
        else:
            raise VenueDataError(f"{at} must be {{floor, cap, rate}} or [floor, cap, rate]")
        floor = _number(raw[0], f"{at}.floor", non_negative=True)
        cap = _INFINITY if raw[1] in ("", None) else _number(raw[1], f"{at}.cap", positive=True)
        rate = _number(raw[2], f"{at}.rate", non_negative=True)
        if rate > 1:
            raise VenueDataError(f"{at}.rate must be at most 1 (a haircut), was {rate}")
        expected = out[-1].cap if out else ZERO
        if floor != expected:
            raise VenueDataError(f"{at}.floor must be {expected} (tiers are contiguous from 0)")
        if cap <= floor:
            raise VenueDataError(f"{at}.cap must be above its floor {floor}")
        if cap == _INFINITY and k != len(rows) - 1:
            raise VenueDataError(f"{at}: only the last tier may have no cap")
        out.append(CollateralTier(floor, cap, rate))
    return tuple(out)


_TOP = {
    "schema", "id", "name", "version", "source", "futures", "ratio", "levels", "collateral",
    "liquidation", "notes", "scenario",
}  # fmt: skip


def _fractions(doc: Any, where: str) -> dict[str, Decimal]:
    if not isinstance(doc, Mapping):
        raise VenueDataError(f"{where} maps an underlying (or '*') to a number")
    out = {str(b): _number(m, f"{where}.{b}", positive=True) for b, m in doc.items()}
    if any(m >= 1 for m in out.values()):
        raise VenueDataError(f"{where}: moves must be fractions below 1 (0.10 = 10 %)")
    return out


def _scenario(doc: Any, where: str) -> ScenarioMargin | None:
    """``moves`` + ``step`` (a regular grid: Bybit), ``moves`` + ``buckets`` (that many
    evenly spaced moves, 0 included: Deribit; ``moves`` may be empty when no range is
    published) or ``grid`` (the moves: OKX)."""
    if doc is None:
        return None
    if not isinstance(doc, Mapping):
        raise VenueDataError(f"{where} must be an object")
    _only(doc, {"moves", "step", "buckets", "grid", "extreme", "extreme_weight", "im_factor",
                "source"}, where)  # fmt: skip
    grid: dict[str, tuple[Decimal, ...]] = {}
    step: Decimal | None = None
    buckets: int | None = None
    if "buckets" in doc:
        buckets = doc["buckets"]
        if (
            not isinstance(buckets, int)
            or isinstance(buckets, bool)
            or buckets < 3
            or (buckets % 2 == 0)
        ):
            raise VenueDataError(f"{where}.buckets must be an odd whole number >= 3 (0 included)")
        if "step" in doc or "grid" in doc:
            raise VenueDataError(f"{where}: give buckets, step or grid, one of them")
        moves = _fractions(_get(doc, "moves", where), f"{where}.moves")
        half = (buckets - 1) // 2
        for b, m in moves.items():
            grid[b] = tuple(m * k / half for k in range(1, half + 1))
    elif "grid" in doc:
        rows = doc["grid"]
        if not isinstance(rows, Mapping):
            raise VenueDataError(f"{where}.grid maps an underlying (or '*') to its moves")
        for b, moves in rows.items():
            if not isinstance(moves, list) or not moves:
                raise VenueDataError(f"{where}.grid.{b} must be a non-empty list of moves")
            grid[str(b)] = tuple(_fractions({str(k): m for k, m in enumerate(moves)},
                                            f"{where}.grid.{b}").values())  # fmt: skip
    else:
        moves = _fractions(_get(doc, "moves", where), f"{where}.moves")
        step = _number(_get(doc, "step", where), f"{where}.step", positive=True)
        for b, m in moves.items():
            n = int(m / step)
            grid[b] = tuple(step * k for k in range(1, n + 1))
    return ScenarioMargin(
        grid,
        {str(b): _number(f, f"{where}.im_factor.{b}", positive=True)
         for b, f in dict(doc.get("im_factor", {})).items()},
        _text(doc, "source", where),
        _fractions(doc.get("extreme", {}), f"{where}.extreme"),
        _number(doc.get("extreme_weight", "0"), f"{where}.extreme_weight", non_negative=True),
        step,
        buckets,
    )  # fmt: skip


def parse_unified(doc: Any, label: str) -> UnifiedRules:
    """Validate a parsed unified-rules document (see the module docstring)."""
    if not isinstance(doc, Mapping):
        raise VenueDataError(f"{label}: the document must be an object")
    _only(doc, _TOP, label)
    if doc.get("schema") != SCHEMA:
        raise VenueDataError(f"{label}: schema must be {SCHEMA!r}, was {doc.get('schema')!r}")
    futures = _get(doc, "futures", label)
    if not isinstance(futures, list) or not futures or not all(isinstance(f, str) for f in futures):
        raise VenueDataError(f"{label}.futures must be a non-empty list of venue names or paths")
    ratio = _get(doc, "ratio", label)
    where = f"{label}.ratio"
    if not isinstance(ratio, Mapping):
        raise VenueDataError(f"{where} must be an object")
    _only(ratio, {"name", "kind", "liquidation_at", "trigger", "source"}, where)
    levels = []
    for k, row in enumerate(doc.get("levels", [])):
        at = f"{label}.levels[{k}]"
        if not isinstance(row, Mapping):
            raise VenueDataError(f"{at} must be an object")
        _only(row, {"at", "meaning", "source"}, at)
        levels.append(
            Level(
                _number(_get(row, "at", at), f"{at}.at", positive=True),
                _text(row, "meaning", at),
                _text(row, "source", at),
            )
        )
    coll = _get(doc, "collateral", label)
    cwhere = f"{label}.collateral"
    if not isinstance(coll, Mapping):
        raise VenueDataError(f"{cwhere} must be an object")
    _only(coll, {"unit", "source", "assets", "default_rate"}, cwhere)
    assets = _get(coll, "assets", cwhere)
    if not isinstance(assets, Mapping):
        raise VenueDataError(f"{cwhere}.assets must be an object (asset -> tiers)")
    default = coll.get("default_rate")
    liq = _get(doc, "liquidation", label)
    lwhere = f"{label}.liquidation"
    if not isinstance(liq, Mapping):
        raise VenueDataError(f"{lwhere} must be an object")
    _only(liq, {"action", "source"}, lwhere)
    notes = doc.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise VenueDataError(f"{label}.notes must be a list of strings")
    return UnifiedRules(
        id=_text(doc, "id", label),
        name=_text(doc, "name", label),
        version=_text(doc, "version", label),
        source=_text(doc, "source", label),
        futures=tuple(futures),
        ratio_name=_text(ratio, "name", where),
        ratio_kind=_choice(ratio, "kind", where, get_args(RatioKind)),
        liquidation_at=_number(
            _get(ratio, "liquidation_at", where), f"{where}.liquidation_at", positive=True
        ),
        trigger=_choice(ratio, "trigger", where, get_args(Trigger)),
        ratio_source=_text(ratio, "source", where),
        levels=tuple(levels),
        haircut_unit=_choice(coll, "unit", cwhere, get_args(HaircutUnit)),
        collateral={
            str(a): parse_collateral_tiers(rows, f"{cwhere}.assets.{a}")
            for a, rows in assets.items()
        },
        collateral_source=_text(coll, "source", cwhere),
        default_rate=None
        if default is None
        else _number(default, f"{cwhere}.default_rate", non_negative=True),
        liquidation=_choice(liq, "action", lwhere, get_args(LiquidationAction)),
        liquidation_source=_text(liq, "source", lwhere),
        notes=tuple(notes),
        scenario=_scenario(doc.get("scenario"), f"{label}.scenario"),
    )
