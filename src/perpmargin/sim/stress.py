"""Portfolio stress tests by margin mode: shock grids and historical crash days.

Two questions about an account as it stands (imported from a venue, or built by hand):

1. **Shock grid** (:func:`stress_grid`): every combination of price shocks of one or
   two assets (e.g. BTC -60 %..+60 % x ETH -60 %..+60 %), the other symbols held. For
   each cell and each margin reading — ``"current"`` (the account's own modes),
   ``"all isolated"`` and ``"all cross"`` — the equity after the move, which positions
   are liquidated, whether the cross pool is taken, and whether the account is wiped
   out. The move is a straight line from today's marks to the shocked ones; equity
   minus requirement is concave along it, so a pool liquidated anywhere on the way is
   liquidated at the end too, and the flags are exact for that path. Liquidation is
   settled at the shocked mark (a gap), which is what the engine does when marked
   there. Computed on the fast float64 kernels (:mod:`perpmargin.sim.fast`); cells are
   checked against the exact engine in the tests (:func:`stress_cell_exact`).
2. **Historical day** (:func:`historical_stress`): a bundled crash day's relative path
   (each 15-minute bar's open, extremes and close over the day's first open) applied to
   today's marks and walked through the exact engine, bar by bar, as the replay does
   (adverse extreme first; liquidation at the first tick that triggers it).

The three readings:

- ``"current"``: as the account is.
- ``"all isolated"``: every cross position becomes isolated with margin = its notional
  at entry / its leverage (what opening it isolated would have allocated), taken from
  the wallet; scaled down pro rata when the wallet holds less (noted).
- ``"all cross"``: every position shares the whole wallet (isolated margins returned).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import numpy as np

from perpmargin import formulas as F
from perpmargin.engine import math as pmath
from perpmargin.engine.account import Account
from perpmargin.engine.events import Liquidation, PartialLiquidation
from perpmargin.engine.position import PositionView
from perpmargin.errors import InvalidInput, PerpMarginError
from perpmargin.numeric import ZERO, engine_context, nearest_step, round_to_step
from perpmargin.venues.schema import Venue

__all__ = [
    "SCENARIOS",
    "HistoricalResult",
    "ScenarioPath",
    "StressGrid",
    "historical_days",
    "historical_stress",
    "scenario_account",
    "stress_cell_exact",
    "stress_grid",
]

Scenario = Literal["current", "all isolated", "all cross"]
SCENARIOS: tuple[Scenario, ...] = ("current", "all isolated", "all cross")


# ----------------------------------------------------------------------------- scenarios


def _legs(account: Account) -> list[PositionView]:
    legs = account.positions()
    if not legs:
        raise InvalidInput("the account holds no position to stress")
    return legs


def scenario_account(
    account: Account, scenario: Scenario, notes: list[str] | None = None
) -> Account:
    """A fresh account holding the same positions under ``scenario``'s margin modes.

    Wallet balance, entries, leverage, marks, position mode and liquidation model (the
    base model or the venue's process) are the original's; the insurance fund is a new
    one (so stressing never touches the original's).

    Raises
    ------
    InvalidInput
        Unknown scenario. ModeSwitchError: the venue does not offer the mode.
    """
    if scenario not in SCENARIOS:
        raise InvalidInput(f"scenario must be one of {SCENARIOS}, was {scenario!r}")
    legs = _legs(account)
    venue = account.venue
    step = venue.settle_precision
    with engine_context():
        # isolated legs keep their margin; cross legs made isolated get entry IM
        kept: dict[tuple[str, str], Decimal] = {}
        converted: dict[tuple[str, str], Decimal] = {}
        for v in legs:
            if v.margin_mode == "isolated" and scenario != "all cross":
                kept[(v.symbol, v.side)] = v.isolated_margin
            elif v.margin_mode == "cross" and scenario == "all isolated":
                cv = venue.symbol(v.symbol).inverse_value
                value = pmath.position_value(v.quantity, v.entry_price, cv)
                im = round_to_step(F.initial_margin(value, v.leverage), step, "up")
                if venue.liquidation.close_fee_in_initial_margin:  # Bybit: + the fee to close
                    fee = pmath.estimated_close_fee(
                        1 if v.side == "long" else -1,
                        v.quantity,
                        v.entry_price,
                        v.leverage,
                        venue.taker_fee_rate,
                        cv,
                    )
                    im += round_to_step(fee, step, "up")
                converted[(v.symbol, v.side)] = im
        wallet = account.wallet_balance
        room = wallet - sum(kept.values(), ZERO)
        new = sum(converted.values(), ZERO)
        if new > room and new > 0:
            scale = max(room, ZERO) / new
            converted = {k: round_to_step(m * scale, step, "down") for k, m in converted.items()}
            if notes is not None:
                notes.append(
                    f"{scenario}: the wallet holds {room} for {new} of isolated margin; "
                    f"margins scaled by {scale:.4f}"
                )
        margins = kept | converted
    out = Account(venue, wallet, time=account.time, liquidation_model=account.liquidation_model)
    if account.position_mode != out.position_mode:
        out.set_position_mode(account.position_mode)
    for v in legs:
        key = (v.symbol, v.side)
        isolated = key in margins and margins[key] > 0
        out.restore_position(
            v.symbol,
            v.side,
            v.quantity,
            v.entry_price,
            margin_mode="isolated" if isolated else "cross",
            leverage=v.leverage,
            isolated_margin=margins[key] if isolated else None,
            mark_price=v.mark_price,
        )
    return out


def _readings(
    account: Account, scenarios: Sequence[Scenario], notes: list[str]
) -> Iterator[tuple[Scenario, Account]]:
    """Each reading's account; a reading the venue cannot take is skipped with a note."""
    for name in scenarios:
        try:
            yield name, scenario_account(account, name, notes)
        except PerpMarginError as exc:
            notes.append(f"{name}: not available on {account.venue.id} ({exc})")


def _symbol_for(account: Account, asset: str) -> str:
    """A portfolio symbol by venue id, ccxt symbol or base asset (``BTC``)."""
    held = sorted({v.symbol for v in account.positions()})
    for s in held:
        spec = account.venue.symbol(s)
        if asset in (s, spec.ccxt_symbol, spec.base):
            return s
    raise InvalidInput(f"the portfolio holds no {asset!r}; it holds {', '.join(held)}")


def _shocked(venue: Venue, symbol: str, mark: Decimal, shock: float) -> Decimal:
    """``mark`` x (1 + shock) on the tick grid (half-even), at least one tick."""
    tick = venue.symbol(symbol).tick_size
    with engine_context():
        return max(nearest_step(mark * (1 + Decimal(repr(shock))), tick), tick)


# ----------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class StressGrid:
    """Results of :func:`stress_grid`. Arrays are (len(shocks_y), len(shocks_x)).

    ``equity``: the account's equity after the move (settle asset, float64);
    ``liquidated``: per leg (last axis, in ``legs`` order); ``cross_liquidated``: the
    cross pool was taken; ``wiped_out``: nothing is left (equity <= 1e-9 x the start).
    """

    assets: tuple[str, ...]
    shocks_x: np.ndarray
    shocks_y: np.ndarray
    marks: Mapping[str, float]
    legs: tuple[str, ...]
    start_equity: float
    equity: Mapping[str, np.ndarray]
    liquidated: Mapping[str, np.ndarray]
    cross_liquidated: Mapping[str, np.ndarray]
    wiped_out: Mapping[str, np.ndarray]
    settle: str
    notes: tuple[str, ...] = ()

    @property
    def scenarios(self) -> tuple[str, ...]:
        """The readings computed, in order."""
        return tuple(self.equity)

    def cell_marks(self, iy: int, ix: int, venue: Venue) -> dict[str, Decimal]:
        """The shocked marks of cell (iy, ix), exactly as the grid used them."""
        out = {}
        for s, shock in zip(self.assets, (self.shocks_x[ix], self.shocks_y[iy]), strict=False):
            out[s] = _shocked(venue, s, Decimal(repr(self.marks[s])), float(shock))
        return out

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per reading: worst equity and where, share of cells wiped out or with a
        liquidation, and the smallest |shock| (max over the axes) that wipes out."""
        out: dict[str, dict[str, Any]] = {}
        gx, gy = np.meshgrid(self.shocks_x, self.shocks_y)
        size = np.maximum(np.abs(gx), np.abs(gy))
        for name, eq in self.equity.items():
            iy, ix = np.unravel_index(int(np.argmin(eq)), eq.shape)
            wiped = self.wiped_out[name]
            any_liq = self.liquidated[name].any(axis=-1)
            out[name] = {
                "worst_equity": float(eq[iy, ix]),
                "worst_shock": [float(self.shocks_x[ix]), float(self.shocks_y[iy])][
                    : len(self.assets)
                ],
                "cells_wiped_out": float(wiped.mean()),
                "cells_with_liquidation": float(any_liq.mean()),
                "smallest_wipe_out_shock": float(size[wiped].min()) if wiped.any() else None,
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "assets": list(self.assets),
            "shocks_x": self.shocks_x.tolist(),
            "shocks_y": self.shocks_y.tolist(),
            "marks": dict(self.marks),
            "legs": list(self.legs),
            "settle": self.settle,
            "start_equity": self.start_equity,
            "summary": self.summary(),
            "equity": {k: v.tolist() for k, v in self.equity.items()},
            "wiped_out": {k: v.astype(int).tolist() for k, v in self.wiped_out.items()},
            "cross_liquidated": {
                k: v.astype(int).tolist() for k, v in self.cross_liquidated.items()
            },
            "liquidated_legs": {
                k: [[[self.legs[j] for j in np.flatnonzero(c)] for c in row] for row in v]
                for k, v in self.liquidated.items()
            },
            "notes": list(self.notes),
        }


def _shock_axis(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0 or arr.size > 401:
        raise InvalidInput(f"{name}: give 1 to 401 shocks, got {arr.size}")
    if not np.isfinite(arr).all() or (arr <= -1).any() or (arr > 10).any():
        raise InvalidInput(f"{name}: shocks are fractions in (-1, 10] (-0.6 = -60 %)")
    return arr


def _cell_marks(
    account: Account, chosen: Sequence[str], xs: np.ndarray, ys: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """The legs' symbols and their marks per cell, shape (len(ys) x len(xs), symbols),
    row ``iy * len(xs) + ix``: the held marks, the shocked ones on the tick grid
    (:func:`_shocked`, once per shock: a grid of 501 x 501 cells rounds 1,002 prices)."""
    venue = account.venue
    symbols = sorted({v.symbol for v in account.positions()})
    held = account.marks
    grid = np.tile(np.array([float(held[s]) for s in symbols]), (ys.size * xs.size, 1))
    for k, (symbol, shocks) in enumerate(zip(chosen, (xs, ys), strict=False)):
        moved = np.array([float(_shocked(venue, symbol, held[symbol], float(x))) for x in shocks])
        # x runs along each row of cells, y down the rows
        grid[:, symbols.index(symbol)] = (
            np.tile(moved, ys.size) if k == 0 else np.repeat(moved, xs.size)
        )
    return symbols, grid


def _pool_values(
    account: Account,
    symbols: Sequence[str],
    cell_marks: np.ndarray,
    backend: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equity after the move per cell, liquidated flag per (cell, leg), cross flag per cell.

    ``cell_marks``: per cell the mark of each of ``symbols`` (the legs' symbols, sorted).
    Two portfolios on the fast kernels, one account per cell: the isolated legs (their
    own margins) and the cross legs (the cross wallet). Inverse legs are linear in x =
    1/P (:func:`perpmargin.formulas.to_reciprocal`): money in the coin throughout.
    """
    from perpmargin.sim import kernels
    from perpmargin.sim.fast import Portfolio, revalue
    from perpmargin.sim.tiers import TierArrays

    legs = account.positions()
    venue = account.venue
    base = TierArrays.from_venue(venue, list(symbols))
    n_cells, n_sym = cell_marks.shape
    tiled = base.linear().tiled(n_cells)
    inverse = np.array([venue.symbol(s).inverse_value is not None for s in symbols])
    marks = cell_marks.ravel()
    marks = np.where(np.tile(inverse, n_cells), F.reciprocal(marks), marks)
    col = {s: i for i, s in enumerate(symbols)}
    leg_col = np.array([col[v.symbol] for v in legs])
    signed = np.array([float(v.quantity) * (1 if v.side == "long" else -1) for v in legs])
    entry = np.array([float(v.entry_price) for v in legs])
    cv = np.array([float(venue.symbol(v.symbol).inverse_value or 1) for v in legs])
    x_qty, x_entry = F.to_reciprocal(signed, entry, cv)
    qty = np.where(inverse[leg_col], x_qty, signed)
    entry = np.where(inverse[leg_col], x_entry, entry)
    margin = np.array([float(v.isolated_margin) for v in legs])
    reserve = np.array([float(v.close_fee_reserve) for v in legs])  # a fee held in margins
    iso = np.array([v.margin_mode == "isolated" for v in legs])
    liq_rate = base.liquidation_fee[leg_col]
    to_trader = venue.liquidation.remainder_to == "trader"
    cell_idx = np.arange(n_cells)

    def book(mask: np.ndarray, balance: np.ndarray) -> tuple[Portfolio, np.ndarray]:
        k = int(mask.sum())
        sym = (cell_idx[:, None] * n_sym + leg_col[mask][None, :]).ravel().astype(np.int32)
        p = Portfolio(
            np.arange(n_cells + 1, dtype=np.int64) * k,
            sym,
            np.tile(qty[mask], n_cells),
            np.tile(entry[mask], n_cells),
            np.tile(margin[mask], n_cells),
            balance,
            np.tile(reserve[mask], n_cells),
        )
        return p, marks[sym].reshape(n_cells, k)

    def liquidation_fees(mask: np.ndarray, m: np.ndarray) -> np.ndarray:
        fees: np.ndarray = F.trade_fee(F.position_value(np.abs(qty[mask]), m), liq_rate[mask])
        return fees

    liquidated = np.zeros((n_cells, len(legs)), dtype=bool)
    total = np.zeros(n_cells)
    cross_flag = np.zeros(n_cells, dtype=bool)
    # isolated legs are checked first: what a liquidated one gives back joins the wallet
    wallet = np.full(n_cells, float(account.cross_wallet_balance))
    if iso.any():
        p, m = book(iso, np.zeros(n_cells))
        r = revalue(p, marks, tiled, backend=backend)  # type: ignore[arg-type]
        flags = r.iso_liquidated.reshape(n_cells, -1).astype(bool)
        equity = margin[iso] + F.unrealized_pnl(qty[iso], entry[iso], m)
        kept = kernels.trader_keeps(
            equity.ravel(), liquidation_fees(iso, m).ravel(), to_trader
        ).reshape(equity.shape)
        total += np.where(flags, 0.0, equity).sum(axis=1)
        wallet += np.where(flags, kept, 0.0).sum(axis=1)
        liquidated[:, iso] = flags
    if (~iso).any():
        p, m = book(~iso, wallet)
        r = revalue(p, marks, tiled, backend=backend)  # type: ignore[arg-type]
        cross_flag = r.cross_liquidated.astype(bool)
        fees = liquidation_fees(~iso, m).sum(axis=1)
        taken = kernels.trader_keeps(r.cross_equity, fees, to_trader)
        total += np.where(cross_flag, taken, r.cross_equity)
        liquidated[:, ~iso] = cross_flag[:, None]
    else:
        total += wallet
    return total, liquidated, cross_flag


def stress_grid(
    account: Account,
    *,
    assets: Sequence[str] | None = None,
    shocks: Any = None,
    shocks_y: Any = None,
    scenarios: Sequence[Scenario] = SCENARIOS,
    backend: str = "numpy",
) -> StressGrid:
    """Equity and liquidations of ``account`` over a grid of price shocks, per reading.

    Parameters
    ----------
    assets
        One or two portfolio symbols (venue id, ccxt symbol or base asset such as
        ``"BTC"``) to shock; by default the two largest by notional (one if only one is
        held). Other symbols keep their marks.
    shocks, shocks_y
        Fractions (``-0.6`` = -60 %) for the first and second asset; default -60 %..+60 %
        in 5 % steps; ``shocks_y`` defaults to ``shocks``.
    scenarios
        Any of ``"current"``, ``"all isolated"``, ``"all cross"``.
    backend
        Fast-kernel backend (``"numpy"``, ``"numba"``, ``"cuda"``, ``"dask"``).

    Raises
    ------
    NotModelled
        The account holds a long and a short in one symbol (hedge mode); an account on
        the venue's liquidation process is stressed with the base model, said in ``notes``.
    """
    from perpmargin.sim.support import account_asks, notes_for

    legs = _legs(account)
    support_notes = notes_for("stress", account_asks(account))
    if assets is None:
        notional: dict[str, Decimal] = {}
        for v in legs:
            notional[v.symbol] = notional.get(v.symbol, ZERO) + v.notional
        chosen = sorted(notional, key=lambda s: (-notional[s], s))[:2]
    else:
        if not 1 <= len(assets) <= 2:
            raise InvalidInput("stress one or two assets at a time")
        chosen = [_symbol_for(account, a) for a in assets]
        if len(set(chosen)) != len(chosen):
            raise InvalidInput("the two stressed assets must differ")
    xs = _shock_axis(
        np.round(np.arange(-0.6, 0.6001, 0.05), 10) if shocks is None else shocks, "shocks"
    )
    ys = (
        _shock_axis(shocks_y if shocks_y is not None else xs, "shocks_y")
        if len(chosen) == 2
        else np.zeros(1)
    )
    venue = account.venue
    marks = dict(account.marks)
    symbols, cell_marks = _cell_marks(account, chosen, xs, ys)
    notes: list[str] = list(support_notes)
    equity: dict[str, np.ndarray] = {}
    liq: dict[str, np.ndarray] = {}
    cross: dict[str, np.ndarray] = {}
    wiped: dict[str, np.ndarray] = {}
    start = float(account.equity)
    shape = (ys.size, xs.size)
    for name, acct in _readings(account, scenarios, notes):
        total, flags, cflag = _pool_values(acct, symbols, cell_marks, backend)
        equity[name] = total.reshape(shape)
        liq[name] = flags.reshape((*shape, len(legs)))
        cross[name] = cflag.reshape(shape)
        wiped[name] = equity[name] <= 1e-9 * max(start, 1.0)
    return StressGrid(
        assets=tuple(chosen),
        shocks_x=xs,
        shocks_y=ys,
        marks={s: float(p) for s, p in marks.items()},
        legs=tuple(f"{v.symbol} {v.side}" for v in legs),
        start_equity=start,
        equity=equity,
        liquidated=liq,
        cross_liquidated=cross,
        wiped_out=wiped,
        settle=venue.symbol(legs[0].symbol).settle,
        notes=tuple(notes),
    )


def stress_cell_exact(
    account: Account, scenario: Scenario, marks: Mapping[str, Decimal]
) -> tuple[Decimal, list[str], bool]:
    """The exact engine's answer for one cell: (equity after, liquidated legs, cross taken)."""
    acct = scenario_account(account, scenario)
    had_cross = any(v.margin_mode == "cross" for v in acct.positions())
    events = acct.mark(dict(marks))
    gone = [f"{e.symbol} {e.position_side}" for e in events if isinstance(e, Liquidation)]
    cross_taken = had_cross and not any(v.margin_mode == "cross" for v in acct.positions())
    return acct.equity, gone, cross_taken


# ----------------------------------------------------------------------------- history


def historical_days() -> list[str]:
    """Bundled crash days with 15-minute BTC and ETH bars (``YYYY-MM-DD``)."""
    from perpmargin.sim.data import bundled_market_files

    days = set()
    for name in bundled_market_files():
        if "-15m-" in name and name.endswith(".csv"):
            days.add(name.rsplit("-15m-", 1)[1].removesuffix(".csv"))
    return sorted(days)


@dataclass(frozen=True)
class ScenarioPath:
    """One reading walked through a historical day (exact engine). ``liquidations``:
    (time, leg, mark) of every liquidation, full or partial (a partial cut's leg reads
    ``"BTCUSDT long partly (0.5 cut)"``)."""

    scenario: str
    final_equity: Decimal
    min_equity: Decimal
    min_time: int
    liquidations: tuple[tuple[int, str, Decimal], ...]
    wiped_out_time: int | None
    times: np.ndarray
    equity: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (money as strings)."""
        from perpmargin.sim.data import utc_text

        return {
            "scenario": self.scenario,
            "final_equity": str(self.final_equity),
            "min_equity": str(self.min_equity),
            "min_time": utc_text(self.min_time),
            "liquidations": [
                {"time": utc_text(t), "leg": leg, "mark": str(m)} for t, leg, m in self.liquidations
            ],
            "wiped_out": None if self.wiped_out_time is None else utc_text(self.wiped_out_time),
        }


@dataclass(frozen=True)
class HistoricalResult:
    """A bundled day's move applied to today's portfolio, per reading."""

    day: str
    moves: Mapping[str, tuple[float, float, float]]
    proxies: Mapping[str, str]
    runs: Mapping[str, ScenarioPath]
    start_equity: Decimal
    paths: Mapping[str, np.ndarray] = field(default_factory=dict)
    notes: tuple[str, ...] = field(default=())

    def trace(self, symbol: str) -> np.ndarray:
        """``symbol``'s bar closes over the day's first open - 1, in % (for charts)."""
        return (np.asarray(self.paths[symbol])[:, 3] - 1.0) * 100.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "day": self.day,
            "moves": {
                s: {"worst_low": lo, "best_high": hi, "close": c}
                for s, (lo, hi, c) in self.moves.items()
            },
            "proxies": dict(self.proxies),
            "start_equity": str(self.start_equity),
            "runs": {k: v.to_dict() for k, v in self.runs.items()},
            "notes": list(self.notes),
        }


def _day_paths(
    account: Account, day: str
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, str], list[str]]:
    """Times and per-symbol relative OHLC (bar / first open) for ``day``."""
    from perpmargin.sim.data import load_bars

    if day not in historical_days():
        raise InvalidInput(f"no bundled day {day!r}; bundled: {', '.join(historical_days())}")
    data = {}
    for asset in ("btc", "eth"):
        bars = load_bars(f"binance-{asset}usdt-perp-15m-{day}.csv")
        f = bars.frame
        ohlc = f[["open", "high", "low", "close"]].to_numpy(dtype=np.float64)
        data[asset.upper()] = (f["timestamp"].to_numpy(dtype=np.int64), ohlc / ohlc[0, 0])
    times = data["BTC"][0]
    paths, proxies, notes = {}, {}, []
    for s in sorted({v.symbol for v in account.positions()}):
        base = account.venue.symbol(s).base.upper()
        if base not in data:
            proxies[s] = "BTC"
            notes.append(f"{s}: no bundled {base} data; it follows BTC's relative path")
            base = "BTC"
        paths[s] = data[base][1]
    return times, paths, proxies, notes


def _walk(
    acct: Account, end: dict[str, Decimal], ticks: Mapping[str, Decimal], t: int
) -> list[list[Any]]:
    """Move every mark in a straight line to ``end``, stopping at each first tick that
    liquidates (one stop per pool at most); returns the events of each mark call."""
    from perpmargin.sim.intrabar import first_liquidation

    out: list[list[Any]] = []
    for _ in range(len(acct.positions()) + 1):
        if not acct.positions() or not acct.liquidates_at(end):
            break
        start = dict(acct.marks)

        def at(
            u: Decimal, start: dict[str, Decimal] = start
        ) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
            if u == 1:
                return dict(end), {}
            return {s: nearest_step(start[s] + (end[s] - start[s]) * u, ticks[s]) for s in end}, {}

        with engine_context():
            u = first_liquidation(acct, start, ZERO, Decimal(1), at)
        out.append(acct.mark(at(u)[0], time=t))
    out.append(acct.mark(end, time=t))
    return out


def historical_stress(
    account: Account,
    day: str,
    *,
    scenarios: Sequence[Scenario] = SCENARIOS,
) -> HistoricalResult:
    """Apply bundled ``day``'s relative path to today's marks; walk it in the exact engine.

    Each symbol's mark follows mark_today x (bar price / the day's first open); BTC and
    ETH use their own bars, other assets follow BTC (noted). Per bar: a gap to the open,
    then open -> adverse extreme -> other extreme -> close as straight segments, all
    symbols together, stopping at the first tick that liquidates.
    """
    from perpmargin.sim.intrabar import waypoints

    times, paths, proxies, notes = _day_paths(account, day)
    venue = account.venue
    base = dict(account.marks)
    symbols = sorted(paths)
    ticks = {s: venue.symbol(s).tick_size for s in symbols}

    def price(s: str, rel: float) -> Decimal:
        return _shocked(venue, s, base[s], rel - 1.0)

    runs: dict[str, ScenarioPath] = {}
    for name, acct in _readings(account, scenarios, notes):
        low, low_t = acct.equity, int(times[0])
        liqs: list[tuple[int, str, Decimal]] = []
        wiped: int | None = None
        eq_series = np.empty(times.size)
        for i, t in enumerate(times):
            t = int(t)
            pts = {}
            for s in symbols:
                net = acct.net_quantity(s)
                exposure = 1 if net > 0 else -1 if net < 0 else 0
                pts[s] = waypoints(*paths[s][i], exposure=exposure)
            targets = [{s: price(s, float(pts[s][k])) for s in symbols} for k in range(4)]
            events = list(acct.mark(targets[0], time=t))
            for k in (1, 2, 3):
                low, low_t = min((low, low_t), (acct.equity, t))
                for step in _walk(acct, targets[k], ticks, t):
                    events += step
                    low, low_t = min((low, low_t), (acct.equity, t))
            for e in events:
                if isinstance(e, Liquidation):
                    liqs.append((t, f"{e.symbol} {e.position_side}", e.mark_price))
                elif isinstance(e, PartialLiquidation):  # counted too: a cut is a liquidation
                    leg = f"{e.symbol} {e.position_side} partly ({e.quantity} cut)"
                    liqs.append((t, leg, e.mark_price))
            if wiped is None and acct.equity <= 0:
                wiped = t
            eq_series[i] = float(acct.equity)
        runs[name] = ScenarioPath(
            scenario=name,
            final_equity=acct.equity,
            min_equity=low,
            min_time=low_t,
            liquidations=tuple(liqs),
            wiped_out_time=wiped,
            times=times.copy(),
            equity=eq_series,
        )
    moves = {
        s: (float(p[:, 2].min() - 1), float(p[:, 1].max() - 1), float(p[-1, 3] - 1))
        for s, p in paths.items()
    }
    return HistoricalResult(
        day=day,
        moves=moves,
        proxies=proxies,
        runs=runs,
        start_equity=account.equity,
        paths=paths,
        notes=tuple(dict.fromkeys(notes)),
    )
