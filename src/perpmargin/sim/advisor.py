"""The mode advisor: which positions to isolate, with how much margin, and which to
pool in cross, so that the account is least likely to be wiped out.

Every *setting* of the plan (each position isolated with a margin from the grid, or in
the cross pool; see :class:`perpmargin.sim.plan.Setting`) is held on the **same**
simulated paths (common random numbers: the Monte Carlo's own paths, stops and
take-profits included), so differences between settings are not noise. Each setting
gets its odds, with intervals:

- ``P(liquidation)``: any of its positions, or its pool, liquidated;
- ``P(ruin)``: the account ends with at most ``ruin_fraction`` of what it started with
  (default 10 %: "wiped out");
- ``CVaR 95``: the mean loss over the worst 5 % of paths (expected shortfall);
- expected log growth ``E[log(final / start)]`` (an account ending at 0 counts as
  ``log(1e-6)``).

The objective picks the best: ``"liquidation"``, ``"ruin"`` and ``"cvar"`` minimise
those; ``"growth"`` maximises the log growth among the settings with ``P(ruin) <= beta``
(Busseti, Ryu and Boyd's risk-constrained Kelly; with none, the least ruinous). The
best is compared with the user's setting and with all isolated / all cross, path by
path: the difference of the objective over 20 batches of paths, with a 95 % t interval;
"significantly better" when the interval excludes zero.

A recommendation is checked against the exact Decimal engine: the settings compared
are replayed (:func:`perpmargin.sim.replay.replay_setting`, full liquidation, no
funding: what the Monte Carlo models) on a sample of the simulated paths, where they
must agree with the fast path's liquidations and money, and on the plan's own bars.

Size of the search: with ``n`` positions and ``G`` margins in the grid there are up to
``(G + 1) ** n`` settings (at most 20,000: 6 positions with a 3-level grid, 5 with 6
levels); a setting whose pool cannot pay its cross positions' initial margin, or whose
isolated margins exceed the budget, is left out.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import numpy as np

from perpmargin import formulas as F
from perpmargin.display import money, places_for
from perpmargin.engine import math as pmath
from perpmargin.errors import InvalidInput
from perpmargin.numeric import round_to_step
from perpmargin.sim import advise_kernels, kernels
from perpmargin.sim.fast import Portfolio, liquidation_prices
from perpmargin.sim.market import MarketData, load_market
from perpmargin.sim.montecarlo import (
    MODEL_CODES,
    Model,
    Setup,
    log_price_paths,
    setup_from_plan,
    wilson_interval,
)
from perpmargin.sim.plan import MarginModeName, Plan, Setting
from perpmargin.sim.replay import replay_setting
from perpmargin.sim.sizing import size_position
from perpmargin.venues.loader import load_venue
from perpmargin.venues.schema import Venue

__all__ = [
    "OBJECTIVES",
    "Advice",
    "Comparison",
    "Confirmation",
    "SettingStats",
    "advise",
    "check_current",
    "path_market",
    "settings_bound",
]

Objective = Literal["liquidation", "ruin", "cvar", "growth"]
OBJECTIVES: tuple[Objective, ...] = ("liquidation", "ruin", "cvar", "growth")
MAX_SETTINGS = 20_000
MAX_POSITIONS = 8
BATCHES = 20
_T_975_19 = 2.093024054408263  # Student t, 97.5 %, 19 degrees of freedom
LOG_FLOOR = 1e-6


# ------------------------------------------------------------------------ results


@dataclass(frozen=True)
class SettingStats:
    """One setting's odds over every path (money in the settle asset)."""

    name: str
    """In words: "BTCUSDT isolated (margin 1,000.00), ETHUSDT cross"."""
    modes: tuple[MarginModeName, ...]
    margins: tuple[float | None, ...]
    """Each isolated position's margin (None: in the pool)."""
    multipliers: tuple[float | None, ...]
    """Each isolated margin as a multiple of the position's initial margin."""
    added: tuple[Decimal, ...]
    """The margin added to each isolated position as it opens (its initial margin
    times the multiple less one, rounded down to the settle asset's unit; 0 in the
    pool): exactly what the simulation holds and the exact replay adds."""
    pool: float
    """What the cross pool holds at the start: the wallet less the isolated margins."""
    liquidation_probability: float
    liquidation_ci: tuple[float, float]
    ruin_probability: float
    ruin_ci: tuple[float, float]
    mean_final_equity: float
    expected_return: float
    """mean final equity / start - 1."""
    cvar95: float
    """Mean loss (start - final) over the worst 5 % of paths."""
    cvar95_ci: tuple[float, float]
    log_growth: float
    log_growth_ci: tuple[float, float]
    median_steps_to_liquidation: float | None
    score: float
    """The objective's value (lower is better; ``inf``: outside the growth constraint)."""

    @property
    def setting(self) -> Setting:
        """As a :class:`Setting` for :func:`~perpmargin.sim.replay.replay_setting`."""
        return Setting(self.modes, self.added)


@dataclass(frozen=True)
class Comparison:
    """The best setting against another, path by path on the same paths."""

    against: str
    """"your setting", "all isolated" or "all cross"."""
    other: str
    metric: str
    difference: float
    """best - other, in the objective's metric (lower is better but for log growth)."""
    ci95: tuple[float, float]
    significant: bool
    saves: int
    """Paths where the other is ruined (for "liquidation": liquidated) and the best is not."""
    costs: int
    """Paths where the best is, and the other is not."""


@dataclass(frozen=True)
class Confirmation:
    """One setting on one path, fast path against the exact engine."""

    path: str
    """"simulated path 17" or "the plan's own bars"."""
    setting: str
    fast_liquidated: bool | None
    exact_liquidated: bool
    fast_final: float | None
    exact_final: float
    exact_first_liquidation: str | None
    """When the exact engine first liquidated: "step 47" on a simulated path (its steps
    count from the entry), the bar's time on the plan's own bars; None: never."""
    agrees: bool | None
    """None on the plan's own bars (the Monte Carlo does not walk them)."""


@dataclass
class Advice:
    """What :func:`advise` found; ``to_dict()`` for JSON."""

    plan: str
    objective: Objective
    beta: float
    ruin_fraction: float
    model: str
    paths: int
    steps: int
    seed: int
    step_ms: int
    start_equity: float
    settle: str
    symbols: tuple[str, ...]
    best: SettingStats
    current: SettingStats | None
    all_isolated: SettingStats | None
    all_cross: SettingStats | None
    ranked: tuple[SettingStats, ...]
    """Every setting, best first."""
    comparisons: tuple[Comparison, ...]
    explanation: tuple[str, ...]
    confirmations: tuple[Confirmation, ...] = ()
    notes: tuple[str, ...] = ()
    settings_count: int = 0
    grid: tuple[float, ...] = ()
    initial_margins: tuple[Decimal, ...] = ()

    @property
    def confirmed(self) -> bool:
        """Every simulated path checked agrees with the exact engine."""
        return all(c.agrees is not False for c in self.confirmations)

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        """JSON-ready: the best ``top`` settings, the baselines, the frontier points."""

        def stats(s: SettingStats | None) -> dict[str, Any] | None:
            if s is None:
                return None
            out = dataclasses.asdict(s)
            out["added"] = [str(x) for x in s.added]
            if not math.isfinite(s.score):  # outside the growth constraint: JSON has no inf
                out["score"] = None
            return out

        return {
            "plan": self.plan,
            "objective": self.objective,
            "beta": self.beta,
            "ruin_fraction": self.ruin_fraction,
            "model": self.model,
            "paths": self.paths,
            "steps": self.steps,
            "seed": self.seed,
            "step_ms": self.step_ms,
            "start_equity": self.start_equity,
            "settle": self.settle,
            "symbols": list(self.symbols),
            "grid": list(self.grid),
            "settings_count": self.settings_count,
            "best": stats(self.best),
            "current": stats(self.current),
            "all_isolated": stats(self.all_isolated),
            "all_cross": stats(self.all_cross),
            "ranked": [stats(s) for s in self.ranked[:top]],
            "frontier": [
                {
                    "name": s.name,
                    "ruin_probability": s.ruin_probability,
                    "expected_return": s.expected_return,
                }
                for s in self.ranked
            ],
            "comparisons": [dataclasses.asdict(c) for c in self.comparisons],
            "explanation": list(self.explanation),
            "confirmations": [dataclasses.asdict(c) for c in self.confirmations],
            "confirmed": self.confirmed,
            "notes": list(self.notes),
        }


# ------------------------------------------------------------------------ search


@dataclass(frozen=True)
class _Grid:
    """Per position and grid level: isolated margin, log liquidation level, return."""

    multipliers: tuple[float, ...]
    added: tuple[tuple[Decimal, ...], ...]  # [n][G] margin added as it opens
    margin: np.ndarray  # [n, G]
    log_liq: np.ndarray  # [n, G]
    back: np.ndarray  # [n, G]


def _grid(
    setup: Setup,
    multipliers: tuple[float, ...],
    initial_margins: Sequence[Decimal],
    unit: Decimal,
) -> _Grid:
    """Each position isolated at each multiple of its initial margin: the margin added
    (Decimal, rounded down to ``unit``) and, for the kernel, margin, log liquidation
    level and what a liquidation returns."""
    n, g_count = setup.sym.size, len(multipliers)
    reserve = setup.reserve if setup.reserve is not None else np.zeros(n)
    added = tuple(
        tuple(round_to_step(im * (Decimal(repr(g)) - 1), unit, "down") for g in multipliers)
        for im in initial_margins
    )
    margin = np.array([[setup.margin[i] + float(x) for x in added[i]] for i in range(n)])
    flat = margin.ravel()
    rep = np.repeat(np.arange(n), g_count)
    book = Portfolio(
        np.array([0, n * g_count], dtype=np.int64),
        setup.sym[rep],
        setup.qty[rep],
        setup.entry[rep],
        flat,
        np.array([setup.balance]),
        reserve[rep],
    )
    liq = liquidation_prices(book, np.exp(setup.log_s0), setup.tiers, "isolated", backend="numpy")
    tiers = setup.tiers
    back = np.array(
        [
            0.0
            if math.isnan(liq[k])
            else kernels.liquidation_return(
                float(flat[k]),
                float(setup.qty[rep[k]]),
                float(setup.entry[rep[k]]),
                float(liq[k]),
                float(tiers.liquidation_fee[setup.sym[rep[k]]]),
                setup.remainder_to_trader,
            )
            for k in range(flat.size)
        ]
    )
    with np.errstate(invalid="ignore"):
        log_liq = np.log(liq)
    return _Grid(multipliers, added, margin, log_liq.reshape(n, g_count), back.reshape(n, g_count))


@dataclass(frozen=True)
class _Candidates:
    grid_index: np.ndarray  # [C, n] grid level of an isolated position, -1: in the pool
    level: np.ndarray  # [C] pool level, -1: nothing in the pool
    pool: np.ndarray  # [C] the pool's money at the start
    level_start: np.ndarray  # [2**n + 1]
    level_pool: np.ndarray  # [L]


def _choices(allowed: Sequence[tuple[MarginModeName, ...]], n_levels: int) -> list[list[int]]:
    """Per position, what a setting may give it: -1 the pool, g >= 0 grid margin g."""
    return [
        ([-1] if "cross" in modes else []) + (list(range(n_levels)) if "isolated" in modes else [])
        for modes in allowed
    ]


def settings_bound(
    symbols: Sequence[str],
    grid: Sequence[float],
    allowed: Mapping[str, Sequence[str]] | None = None,
) -> int:
    """How many settings :func:`advise` searches for positions on ``symbols`` at most
    (before the budget and the wallet leave some out), with its checks of ``grid`` and
    ``allowed`` and its refusal beyond :data:`MAX_SETTINGS`: a caller (the web app) can
    bound the work before running."""
    levels = _levels(grid)
    count = math.prod(len(c) for c in _choices(_allowed(symbols, allowed), len(levels)))
    if count > MAX_SETTINGS:
        raise InvalidInput(
            f"{count:,} settings to search ({len(symbols)} positions, a {len(levels)}-level "
            f"margin grid); at most {MAX_SETTINGS:,}: use a smaller grid or fix some modes"
        )
    return count


def _candidates(
    setup: Setup,
    grid: _Grid,
    allowed: Sequence[tuple[MarginModeName, ...]],
    budget: float,
) -> _Candidates:
    n = setup.sym.size
    wallet = setup.balance
    choices = _choices(allowed, len(grid.multipliers))
    rows, masks, pools = [], [], []
    for combo in itertools.product(*choices):
        iso = sum(grid.margin[i, g] for i, g in enumerate(combo) if g >= 0)
        mask = sum(1 << i for i, g in enumerate(combo) if g < 0)
        pool = wallet - iso
        need = sum(setup.margin[i] for i, g in enumerate(combo) if g < 0)
        if iso > budget + 1e-9 or pool < need - 1e-9 or pool < 0:
            continue
        rows.append(combo)
        masks.append(mask)
        pools.append(pool)
    if not rows:
        raise InvalidInput("no setting fits: the budget or the balance is too small")
    by_mask: dict[int, list[float]] = {}
    for mask, pool in zip(masks, pools, strict=True):
        if mask:
            by_mask.setdefault(mask, []).append(pool)
    level_start = np.zeros((1 << n) + 1, dtype=np.int64)
    level_pool: list[float] = []
    index: dict[tuple[int, float], int] = {}
    for mask in range(1 << n):
        level_start[mask] = len(level_pool)
        for pool in sorted(set(by_mask.get(mask, []))):
            index[(mask, pool)] = len(level_pool)
            level_pool.append(pool)
    level_start[1 << n] = len(level_pool)
    level = np.array([index[(m, p)] if m else -1 for m, p in zip(masks, pools, strict=True)])
    return _Candidates(
        np.array(rows, dtype=np.int64).reshape(len(rows), n),
        level.astype(np.int64),
        np.array(pools),
        level_start,
        np.array(level_pool),
    )


def _simulate(
    setup: Setup,
    grid: _Grid,
    cand: _Candidates,
    model: str,
    seed: int,
    start: int,
    count: int,
    steps: int,
    block: int,
    backend: str = "numba",
) -> tuple[np.ndarray, np.ndarray]:
    """``(final [C, count], first liquidation step [C, count])`` for paths start..
    (the walk on ``backend``: "numba" or "cuda"; the scoring on the CPU)."""
    n, g_count = grid.margin.shape
    levels = cand.level_pool.size
    iso_step = np.empty((count, n, g_count), dtype=np.int64)
    iso_cash = np.empty((count, n, g_count))
    pool_step = np.empty((count, max(levels, 1)), dtype=np.int64)
    pool_final = np.empty((count, max(levels, 1)))
    t = setup.tiers
    kernel: Callable[..., None] = advise_kernels.advise_kernel
    if backend == "cuda":
        from perpmargin.sim.gpu import advise_cuda

        kernel = advise_cuda
    kernel(
        seed, start, count, steps, MODEL_CODES[model], setup.log_s0, setup.drift, setup.chol,
        setup.jump_prob, setup.jump_mu, setup.jump_sigma, setup.returns, block, setup.sym,
        setup.qty, setup.entry, setup.exits, setup.taker, grid.log_liq, grid.margin, grid.back,
        cand.level_start, cand.level_pool, setup.remainder_to_trader, t.liquidation_fee,
        t.upper, t.mmr, t.amount, t.by_qty, t.fee, t.fee_bk, iso_step, iso_cash, pool_step,
        pool_final,
    )  # fmt: skip
    c_count = cand.level.size
    final = np.empty((c_count, count))
    first = np.empty((c_count, count), dtype=np.int64)
    advise_kernels.score_kernel(
        iso_step, iso_cash, pool_step, pool_final, cand.grid_index, cand.level, cand.pool,
        final, first,
    )  # fmt: skip
    return final, first


# ------------------------------------------------------------------------ statistics


@dataclass(frozen=True)
class _Summary:
    counts: np.ndarray  # [C, 2] liquidated, ruined paths
    sums: np.ndarray  # [C, 2] final equity, log growth
    cvar: np.ndarray  # [C]
    batch_growth: np.ndarray  # [C, BATCHES]
    batch_cvar: np.ndarray  # [C, BATCHES]
    median_step: np.ndarray  # [C], NaN: never liquidated


@dataclass(frozen=True)
class _Outcomes:
    """Every setting on every path: final equity (float32, kept for the statistics) and
    the first liquidation step (-1: none)."""

    final: np.ndarray  # [C, N]
    first: np.ndarray  # [C, N]
    start: float
    ruin_level: float

    def liquidated(self, c: int) -> np.ndarray:
        out: np.ndarray = self.first[c] >= 0
        return out

    def ruined(self, c: int) -> np.ndarray:
        out: np.ndarray = self.final[c] <= self.ruin_level
        return out

    def per_path(self, objective: Objective, c: int) -> np.ndarray:
        """The objective's per-path quantity of setting ``c`` (float64)."""
        if objective == "liquidation":
            return self.liquidated(c).astype(np.float64)
        if objective == "ruin":
            return self.ruined(c).astype(np.float64)
        final = self.final[c].astype(np.float64)
        if objective == "cvar":
            loss: np.ndarray = self.start - final
            return loss
        growth: np.ndarray = np.log(np.maximum(final, LOG_FLOOR * self.start) / self.start)
        return growth

    def summary(self) -> _Summary:
        c_count, n = self.final.shape
        bounds = np.concatenate(
            [[0], np.cumsum([len(b) for b in np.array_split(np.arange(n), BATCHES)])]
        )
        s = _Summary(
            counts=np.zeros((c_count, 2), dtype=np.int64),
            sums=np.zeros((c_count, 2)),
            cvar=np.zeros(c_count),
            batch_growth=np.zeros((c_count, BATCHES)),
            batch_cvar=np.zeros((c_count, BATCHES)),
            median_step=np.zeros(c_count),
        )
        advise_kernels.summary_kernel(
            self.final, self.first, self.start, self.ruin_level, LOG_FLOOR * self.start,
            bounds.astype(np.int64), s.counts, s.sums, s.cvar, s.batch_growth, s.batch_cvar,
            s.median_step,
        )  # fmt: skip
        return s


def _batch_ci(per_batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and half-width of a 95 % t interval over the batches (last axis)."""
    b = per_batch.shape[-1]
    mean = per_batch.mean(axis=-1)
    half = _T_975_19 * per_batch.std(axis=-1, ddof=1) / math.sqrt(b)
    return mean, half


def _cvar(loss: np.ndarray) -> np.ndarray:
    """Mean of the worst 5 % (at least one) of each row."""
    n = loss.shape[-1]
    k = max(1, math.ceil(0.05 * n))
    part = np.partition(loss, n - k, axis=-1)[..., n - k :]
    out: np.ndarray = part.mean(axis=-1)
    return out


def _per_batch(values: np.ndarray, reduce: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``reduce`` of each of :data:`BATCHES` contiguous batches of paths: [C, BATCHES]."""
    parts = np.array_split(values, BATCHES, axis=-1)
    return np.stack([reduce(p) for p in parts], axis=-1)


def _name(
    symbols: Sequence[str],
    sides: Sequence[str],
    modes: Sequence[str],
    margins: Sequence[Any],
    places: int = 2,
) -> str:
    parts = []
    for sym, side, mode, m in zip(symbols, sides, modes, margins, strict=True):
        if mode == "isolated":
            parts.append(f"{sym} {side} isolated ({money(m, places)})")
        else:
            parts.append(f"{sym} {side} cross")
    return ", ".join(parts)


# ------------------------------------------------------------------------ the advisor


def advise(
    plan: Plan,
    *,
    objective: Objective = "ruin",
    paths: int = 20_000,
    steps: int | None = None,
    model: Model = "jump",
    seed: int = 0,
    beta: float = 0.05,
    ruin_fraction: float = 0.1,
    grid: Sequence[float] = (1.0, 1.5, 2.0, 3.0),
    budget: float | None = None,
    allowed: Mapping[str, Sequence[str]] | None = None,
    current: Sequence[str] | None = None,
    confirm_paths: int = 4,
    market: MarketData | None = None,
    venue: Venue | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_paths: int = 20_000,
    setup: Setup | None = None,
    backend: str = "numba",
    scheduler: Any = None,
) -> Advice:
    """Search every setting of ``plan`` on the same paths and recommend the best one.

    Parameters
    ----------
    objective
        ``"liquidation"``, ``"ruin"``, ``"cvar"`` (minimise) or ``"growth"`` (maximise
        the expected log growth subject to ``P(ruin) <= beta``).
    paths, steps, model, seed
        The Monte Carlo's (paths: 200 to 1e7, 20 batches of at least 10 for the
        intervals; steps: the plan's bars by default; model: ``"gbm"``, ``"jump"`` or
        ``"bootstrap"``, calibrated on the plan's bars).
    ruin_fraction
        Ruin: ending with at most this fraction of the starting equity (0 to 1).
    grid
        Isolated margins tried, as multiples (>= 1) of each position's initial margin
        at its leverage (1, the plan's own margin, is always tried).
    budget
        At most this much isolated margin in all (settle asset; default: the wallet).
    allowed
        Symbol -> the modes it may take (default both).
    current
        The user's own setting, one mode per position at its initial margin (default:
        the plan's first mode for every position).
    confirm_paths
        Simulated paths replayed through the exact engine for each setting compared.
    progress
        Called with the number of paths in each chunk as it is done (their sum is the
        paths done), then with 0 before each exact-engine replay; it may raise to stop.
    backend, scheduler
        Where the paths are walked: ``"numba"`` (this machine's cores), ``"cuda"`` (one
        GPU thread per path; :mod:`perpmargin.sim.gpu`), ``"dask"`` (chunks of
        ``chunk_paths`` on a cluster: ``scheduler`` as for
        :func:`~perpmargin.sim.montecarlo.montecarlo`). The same numbers on each.
    setup
        A calibration to simulate instead of the one fitted to the plan's bars (e.g. a
        what-if with other volatilities or jumps: ``dataclasses.replace`` of
        :func:`~perpmargin.sim.montecarlo.setup_from_plan`'s); its positions must be the
        plan's.

    Raises
    ------
    InvalidInput
        Bad parameters, too many settings, none that fits the budget.
    NotModelled
        A plan the Monte Carlo refuses (a hedge pair).
    """
    beta, ruin_fraction, levels = _check(
        plan, objective, model, paths, seed, confirm_paths, beta, ruin_fraction, grid
    )
    if isinstance(chunk_paths, bool) or not isinstance(chunk_paths, int) or chunk_paths < 1:
        raise InvalidInput(f"chunk_paths must be a whole number >= 1, was {chunk_paths!r}")
    if backend not in ("numba", "cuda", "dask"):
        raise InvalidInput(f"backend must be 'numba', 'cuda' or 'dask', was {backend!r}")
    data = market if market is not None else load_market(plan)
    v = venue if venue is not None else load_venue(plan.venue)
    setup = _setup(plan, data, v, setup)
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)):
        raise InvalidInput(f"steps must be a whole number, was {steps!r}")
    n_steps = int(steps if steps is not None else setup.returns.shape[0])
    if not 1 <= n_steps <= 10**6:
        raise InvalidInput(f"steps must be from 1 to 1e6, was {steps}")
    block = max(1, min(60, setup.returns.shape[0] - 1))
    if model == "bootstrap" and setup.returns.shape[0] < 3:
        raise InvalidInput("the bootstrap needs at least 3 bars of data")
    symbols = tuple(p.symbol for p in plan.positions)
    sides = tuple(p.side for p in plan.positions)
    settings_bound(symbols, levels, allowed)  # refuses too many settings
    allowed_modes = _allowed(symbols, allowed)
    mine = check_current(plan, current)
    wallet = float(setup.balance)
    cap = wallet if budget is None else _money(budget, "budget")
    im = _initial_margins(plan, v, data)
    g = _grid(setup, levels, im, v.settle_precision)
    cand = _candidates(setup, g, allowed_modes, cap)
    c_count = cand.level.size
    need = c_count * (8 * paths + 16 * min(chunk_paths, paths))  # kept + a chunk's
    if need > 4 * 2**30:
        raise InvalidInput(
            f"{c_count:,} settings x {paths:,} paths need {need / 2**30:.1f} GiB; at most "
            "4 GiB: fewer paths or settings (or a smaller chunk_paths)"
        )
    final = np.empty((c_count, paths), dtype=np.float32)
    first = np.empty((c_count, paths), dtype=np.int32)
    chunks = [
        (setup, g, cand, model, seed, lo, min(chunk_paths, paths - lo), n_steps, block, backend)
        for lo in range(0, paths, chunk_paths)
    ]
    if backend == "dask":
        from perpmargin.sim.distributed import map_chunks

        local = [(*c[:-1], "numba") for c in chunks]
        results = iter(map_chunks(_simulate, local, scheduler))
    else:
        results = (_simulate(*c) for c in chunks)
    for c, (f, s) in zip(chunks, results, strict=True):
        lo, count = c[5], c[6]
        final[:, lo : lo + count] = f
        first[:, lo : lo + count] = s
        if progress is not None:
            progress(count)

    start = wallet + setup.open_fees
    out = _Outcomes(final, first, start, ruin_fraction * start)
    summary = out.summary()
    p_liq, p_ruin = summary.counts[:, 0] / paths, summary.counts[:, 1] / paths
    mean_final = summary.sums[:, 0] / paths
    g_mean = summary.sums[:, 1] / paths
    cvar = summary.cvar
    cvar_half = _batch_ci(summary.batch_cvar)[1]
    g_half = _batch_ci(summary.batch_growth)[1]
    score = _score(objective, beta, p_liq, p_ruin, cvar, g_mean)
    # ties: fewer ruins, fewer liquidations, more money
    order = np.lexsort((-mean_final, p_liq, p_ruin, score))

    def stats(c: int) -> SettingStats:
        row = cand.grid_index[c]
        modes: tuple[MarginModeName, ...] = tuple("isolated" if k >= 0 else "cross" for k in row)
        margins = tuple(None if k < 0 else float(g.margin[i, k]) for i, k in enumerate(row))
        mult = tuple(None if k < 0 else levels[k] for k in row)
        added = tuple(Decimal(0) if k < 0 else g.added[i][k] for i, k in enumerate(row))
        median = float(summary.median_step[c])
        return SettingStats(
            name=_name(symbols, sides, modes, margins, places_for(setup.settle)),
            modes=modes,
            margins=margins,
            multipliers=mult,
            added=added,
            pool=float(cand.pool[c]),
            liquidation_probability=float(p_liq[c]),
            liquidation_ci=wilson_interval(int(summary.counts[c, 0]), paths),
            ruin_probability=float(p_ruin[c]),
            ruin_ci=wilson_interval(int(summary.counts[c, 1]), paths),
            mean_final_equity=float(mean_final[c]),
            expected_return=float(mean_final[c] / start - 1.0),
            cvar95=float(cvar[c]),
            cvar95_ci=(float(cvar[c] - cvar_half[c]), float(cvar[c] + cvar_half[c])),
            log_growth=float(g_mean[c]),
            log_growth_ci=(float(g_mean[c] - g_half[c]), float(g_mean[c] + g_half[c])),
            median_steps_to_liquidation=None if math.isnan(median) else median,
            score=float(score[c]),
        )

    def find(modes: Sequence[str]) -> int | None:
        want = [-1 if m == "cross" else 0 for m in modes]
        hits = np.flatnonzero((cand.grid_index == np.array(want)).all(axis=1))
        return int(hits[0]) if hits.size else None

    best_c = int(order[0])
    named = {
        "your setting": find(mine),
        "all isolated": find(["isolated"] * len(symbols)),
        "all cross": find(["cross"] * len(symbols)),
    }
    ranked = tuple(stats(int(c)) for c in order)
    by_index = {int(c): ranked[k] for k, c in enumerate(order)}
    comparisons = [
        _compare(label, by_index[c].name, best_c, c, objective, out)
        for label, c in named.items()
        if c is not None
    ]
    advice = Advice(
        plan=plan.name,
        objective=objective,
        beta=beta,
        ruin_fraction=ruin_fraction,
        model=model,
        paths=paths,
        steps=n_steps,
        seed=seed,
        step_ms=setup.step_ms,
        start_equity=start,
        settle=setup.settle,
        symbols=symbols,
        best=ranked[0],
        current=_pick(by_index, named["your setting"]),
        all_isolated=_pick(by_index, named["all isolated"]),
        all_cross=_pick(by_index, named["all cross"]),
        ranked=ranked,
        comparisons=tuple(comparisons),
        explanation=(),
        notes=(
            *setup.notes,
            *(
                f"{label} is not among the settings searched (the modes allowed or the "
                "budget leave it out), so it is not compared"
                for label, c in named.items()
                if c is None
            ),
        ),
        settings_count=c_count,
        grid=levels,
        initial_margins=im,
    )
    chosen = {"best": best_c, **{k: c for k, c in named.items() if c is not None}}
    sample = _sample_paths(chosen, out, confirm_paths)
    advice.confirmations = _confirm(
        plan, data, v, setup, g, cand, model, seed, n_steps, block, chosen, by_index, sample,
        progress,
    )  # fmt: skip
    advice.explanation = _explain(advice, setup, chosen, by_index, out, model, seed, block)
    return advice


# ------------------------------------------------------------------------ helpers


def _check(
    plan: Plan,
    objective: Any,
    model: Any,
    paths: Any,
    seed: Any,
    confirm_paths: Any,
    beta: Any,
    ruin_fraction: Any,
    grid: Sequence[float],
) -> tuple[float, float, tuple[float, ...]]:
    """The advisor's parameters checked: (beta, ruin_fraction, grid levels)."""
    if objective not in OBJECTIVES:
        raise InvalidInput(f"objective must be one of {OBJECTIVES}, was {objective!r}")
    if model not in MODEL_CODES:
        raise InvalidInput(f"model must be one of {tuple(MODEL_CODES)}, was {model!r}")
    for name, value in (("paths", paths), ("seed", seed), ("confirm_paths", confirm_paths)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{name} must be a whole number, was {value!r}")
    if not BATCHES * 10 <= paths <= 10**7:
        raise InvalidInput(f"paths must be from {BATCHES * 10} to 1e7, was {paths}")
    if not 0 <= seed < 2**63:
        raise InvalidInput(f"seed must be from 0 to 2**63 - 1, was {seed}")
    if not 0 <= confirm_paths <= 100:
        raise InvalidInput(f"confirm_paths must be from 0 to 100, was {confirm_paths}")
    if len(plan.positions) > MAX_POSITIONS:
        raise InvalidInput(
            f"the advisor takes at most {MAX_POSITIONS} positions, the plan has "
            f"{len(plan.positions)}"
        )
    if len({(p.symbol, p.side) for p in plan.positions}) != len(plan.positions):
        raise InvalidInput("the advisor needs each position on its own symbol and side")
    return _fraction(beta, "beta"), _fraction(ruin_fraction, "ruin_fraction"), _levels(grid)


def _setup(plan: Plan, data: MarketData, v: Venue, given: Setup | None) -> Setup:
    """The plan's calibration, or ``given`` when it holds the plan's positions."""
    fitted = setup_from_plan(plan, data, venue=v)
    if given is None:
        return fitted
    if not (
        given.symbols == fitted.symbols
        and np.array_equal(given.qty, fitted.qty)
        and np.array_equal(given.sym, fitted.sym)
    ):
        raise InvalidInput("the setup given holds other positions than the plan")
    return given


def _pick(by_index: Mapping[int, SettingStats], c: int | None) -> SettingStats | None:
    return None if c is None else by_index[c]


def _score(
    objective: Objective,
    beta: float,
    p_liq: np.ndarray,
    p_ruin: np.ndarray,
    cvar: np.ndarray,
    growth: np.ndarray,
) -> np.ndarray:
    """Each setting's objective, lower is better."""
    if objective == "liquidation":
        out: np.ndarray = p_liq + 1e-9 * p_ruin
    elif objective == "ruin":
        out = p_ruin + 1e-9 * p_liq
    elif objective == "cvar":
        out = cvar.copy()
    else:  # the most growth within the ruin constraint; none within: the least ruin
        out = np.where(p_ruin <= beta, -growth, np.inf)
        if not np.isfinite(out).any():
            out = p_ruin.copy()
    return out


def _fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{name} must be a number from 0 to 1, was {value!r}")
    x = float(value)
    if not 0 <= x <= 1:
        raise InvalidInput(f"{name} must be from 0 to 1, was {value!r}")
    return x


def _money(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidInput(f"{name} must be a number, was {value!r}")
    x = float(value)
    if not math.isfinite(x) or x < 0:
        raise InvalidInput(f"{name} must be a finite number >= 0, was {value!r}")
    return x


def _levels(grid: Sequence[float]) -> tuple[float, ...]:
    try:
        if any(isinstance(g, bool) or not isinstance(g, int | float | Decimal) for g in grid):
            raise TypeError
        levels = tuple(sorted({float(g) for g in grid}))
    except (TypeError, ValueError):
        raise InvalidInput(f"grid must be numbers >= 1, was {grid!r}") from None
    if not levels or len(levels) > 12:
        raise InvalidInput(f"grid must hold 1 to 12 multiples, was {len(levels)}")
    if any(isinstance(g, bool) for g in grid) or not all(
        math.isfinite(g) and 1 <= g <= 100 for g in levels
    ):
        raise InvalidInput(f"grid multiples must be from 1 to 100, was {list(grid)}")
    # 1 (the plan's own margin) is always tried: the user's setting and all isolated
    return levels if levels[0] == 1.0 else (1.0, *levels)


def _allowed(
    symbols: Sequence[str], allowed: Mapping[str, Sequence[str]] | None
) -> list[tuple[MarginModeName, ...]]:
    out: list[tuple[MarginModeName, ...]] = []
    given = dict(allowed or {})
    unknown = set(given) - set(symbols)
    if unknown:
        raise InvalidInput(f"allowed names symbols the plan does not hold: {sorted(unknown)}")
    for symbol in symbols:
        modes = tuple(given.get(symbol, ("isolated", "cross")))
        if not modes or any(m not in ("isolated", "cross") for m in modes):
            raise InvalidInput(
                f"{symbol}: allowed modes are 'isolated' and/or 'cross', was {list(modes)}"
            )
        out.append(tuple(m for m in ("isolated", "cross") if m in modes))
    return out


def check_current(plan: Plan, current: Sequence[str] | None) -> tuple[str, ...]:
    """The user's setting: one mode per position (default: the plan's first mode for
    each), or :class:`InvalidInput`."""
    if current is None:
        return (plan.modes[0],) * len(plan.positions)
    mine = tuple(current)
    if len(mine) != len(plan.positions) or any(m not in ("isolated", "cross") for m in mine):
        raise InvalidInput(
            f"current must give 'isolated' or 'cross' for each of the plan's "
            f"{len(plan.positions)} positions, was {list(mine)}"
        )
    return mine


def _initial_margins(plan: Plan, v: Venue, data: MarketData) -> tuple[Decimal, ...]:
    """Each position's initial margin at its leverage (settle asset, Decimal), as the
    engine opens it (the fee to close it holds on Bybit is not part of it)."""
    out = []
    for pos in plan.positions:
        q, e, _ = size_position(plan, v, data, pos)
        value = pmath.position_value(q, e, v.symbol(pos.symbol).inverse_value)
        out.append(F.initial_margin(value, pos.leverage))
    return tuple(out)


_METRICS = {
    "liquidation": "P(liquidation)",
    "ruin": "P(ruin)",
    "cvar": "CVaR 95 (loss)",
    "growth": "E[log growth]",
}


def _compare(
    label: str, other_name: str, best: int, other: int, objective: Objective, out: _Outcomes
) -> Comparison:
    reduce: Callable[[np.ndarray], np.ndarray] = (
        _cvar if objective == "cvar" else (lambda a: a.mean(axis=-1))
    )
    mine, theirs = out.per_path(objective, best), out.per_path(objective, other)
    diff_b = _per_batch(mine, reduce) - _per_batch(theirs, reduce)
    half = _batch_ci(diff_b)[1]
    full = float(reduce(mine) - reduce(theirs))
    lo, hi = full - float(half), full + float(half)
    better = hi < 0 if objective != "growth" else lo > 0
    bad = out.liquidated if objective == "liquidation" else out.ruined
    return Comparison(
        against=label,
        other=other_name,
        metric=_METRICS[objective],
        difference=full,
        ci95=(lo, hi),
        significant=bool(better) and best != other,
        saves=int((bad(other) & ~bad(best)).sum()),
        costs=int((bad(best) & ~bad(other)).sum()),
    )


def _sample_paths(chosen: Mapping[str, int], out: _Outcomes, k: int) -> list[int]:
    """Up to ``k`` path indices: first where the settings' verdicts differ, then the
    first paths."""
    if k == 0:
        return []
    rows = sorted(set(chosen.values()))
    verdict = np.stack(
        [out.liquidated(r) | out.ruined(r) for r in rows] + [out.liquidated(r) for r in rows]
    )
    differ = np.flatnonzero(verdict.any(axis=0) != verdict.all(axis=0))
    picked = list(differ[: (k + 1) // 2])
    for p in range(out.final.shape[1]):
        if len(picked) >= k:
            break
        if p not in picked:
            picked.append(p)
    return [int(p) for p in picked]


def path_market(setup: Setup, log_prices: np.ndarray, start: int = 0) -> MarketData:
    """Bars that walk one simulated path (``log_prices[step, asset]``, real prices) as the
    Monte Carlo does: bar t opens at step t - 1's prices (the entry's for t = 0: the
    positions open there) and closes at step t's, with its high and low at the open, so
    the replay's walk through a bar (open, extremes, close) is one straight segment for
    every symbol at once and nothing gaps between bars. (They are a path's steps, not
    real bars: a close may lie outside their high and low.) Step t is bar t."""
    s0 = np.exp(setup.log_s0 * setup.flip)
    trade = {}
    for a, sym in enumerate(setup.symbols):
        closes = np.exp(log_prices[:, a])
        opens = np.concatenate([[s0[a]], closes[:-1]])
        trade[sym] = [
            (_dec(o), _dec(o), _dec(o), _dec(c)) for o, c in zip(opens, closes, strict=True)
        ]
    times = start + np.arange(log_prices.shape[0], dtype=np.int64) * setup.step_ms
    return MarketData(
        times=times,
        step_ms=setup.step_ms,
        trade=trade,
        mark=dict(trade),
        funding={},
        mark_source=dict.fromkeys(trade, "trade bars"),
        sources=dict.fromkeys(trade, "a Monte Carlo path"),
    )


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _exact_plan(plan: Plan) -> Plan:
    """The plan as the Monte Carlo models it: full liquidations, no funding, no marks."""
    return dataclasses.replace(plan, liquidation_model="full", funding={}, marks={})


def _confirm(
    plan: Plan,
    data: MarketData,
    v: Venue,
    setup: Setup,
    g: _Grid,
    cand: _Candidates,
    model: Model,
    seed: int,
    n_steps: int,
    block: int,
    chosen: Mapping[str, int],
    by_index: Mapping[int, SettingStats],
    sample: Sequence[int],
    progress: Callable[[int], None] | None = None,
) -> tuple[Confirmation, ...]:
    exact = _exact_plan(plan)
    tick = progress if progress is not None else (lambda _: None)
    out: list[Confirmation] = []
    settings = sorted(set(chosen.values()))
    for p in sample:
        final, first = _simulate(setup, g, cand, model, seed, p, 1, n_steps, block)
        logp = log_price_paths(
            setup, paths=1, steps=n_steps, model=model, seed=seed, block=block, start=p
        )[0]
        market = path_market(setup, logp)
        for c in settings:
            s = by_index[c]
            tick(0)  # a time limit or a stop is noticed between replays
            run = replay_setting(exact, s.setting, market, venue=v)
            out.append(_checked(f"simulated path {p}", s, run, market, final[c, 0], first[c, 0]))
    for c in settings:
        s = by_index[c]
        tick(0)
        run = replay_setting(exact, s.setting, data, venue=v)
        out.append(_checked("the plan's own bars", s, run, data, None, None))
    return tuple(out)


def _checked(
    where: str,
    s: SettingStats,
    run: Any,
    market: MarketData,
    fast_final: float | None,
    fast_first: int | None,
) -> Confirmation:
    from perpmargin.sim.data import utc_text

    outcome = run.outcome
    liqs = outcome.liquidations
    exact_first = min((x.time for x in liqs), default=None)
    exact_final = float(outcome.final_equity)
    agrees: bool | None = None
    when = None if exact_first is None else utc_text(exact_first)
    if fast_final is not None and fast_first is not None:
        # step t of the path is bar t (see path_market)
        step = -1 if exact_first is None else int((exact_first - market.times[0]) // market.step_ms)
        close = abs(exact_final - fast_final) <= 1e-6 * max(1.0, abs(exact_final)) + 1e-6
        agrees = bool(step == int(fast_first) and close)
        when = None if step < 0 else f"step {step}"
    return Confirmation(
        path=where,
        setting=s.name,
        fast_liquidated=None if fast_first is None else bool(fast_first >= 0),
        exact_liquidated=bool(liqs),
        fast_final=None if fast_final is None else float(fast_final),
        exact_final=exact_final,
        exact_first_liquidation=when,
        agrees=agrees,
    )


def _explain(
    advice: Advice,
    setup: Setup,
    chosen: Mapping[str, int],
    by_index: Mapping[int, SettingStats],
    out: _Outcomes,
    model: Model,
    seed: int,
    block: int,
) -> tuple[str, ...]:
    best = advice.best

    def pct(x: float) -> str:
        return f"{100 * x:.2f} %"

    lines = [
        f"Recommended: {best.name}. Over {advice.paths:,} {model} paths of "
        f"{advice.steps:,} steps: P(ruin) {pct(best.ruin_probability)}, "
        f"P(liquidation) {pct(best.liquidation_probability)}, CVaR 95 "
        f"{money(best.cvar95, places_for(advice.settle))} {advice.settle}, mean final equity "
        f"{money(best.mean_final_equity, places_for(advice.settle))} {advice.settle}."
    ]
    places = places_for(advice.settle)
    named = {
        "your setting": advice.current,
        "all isolated": advice.all_isolated,
        "all cross": advice.all_cross,
    }
    for comp in advice.comparisons:
        other = named[comp.against]
        if comp.other == best.name or other is None:
            lines.append(f"It is {comp.against}.")
            continue
        event = "liquidation" if advice.objective == "liquidation" else "ruin"
        counts = (
            f"it avoids {event} on {comp.saves:,} paths where {comp.against} meets it, and "
            f"meets it on {comp.costs:,} where {comp.against} does not"
        )
        if comp.difference == 0 and comp.ci95 == (0.0, 0.0):
            lines.append(
                f"Against {comp.against} ({comp.other}): the same {comp.metric} on every "
                f"batch of paths; chosen on the next criteria: P(ruin) "
                f"{pct(best.ruin_probability)} vs {pct(other.ruin_probability)}, "
                f"P(liquidation) {pct(best.liquidation_probability)} vs "
                f"{pct(other.liquidation_probability)}, mean final equity "
                f"{money(best.mean_final_equity, places)} vs "
                f"{money(other.mean_final_equity, places)} {advice.settle}; {counts}."
            )
            continue
        verdict = (
            "significantly better than" if comp.significant else "not significantly better than"
        )
        lines.append(
            f"{verdict.capitalize()} {comp.against} ({comp.other}): {comp.metric} "
            f"{_difference(advice.objective, comp.difference, places)} (95 % interval "
            f"{_difference(advice.objective, comp.ci95[0], places)} to "
            f"{_difference(advice.objective, comp.ci95[1], places)}); {counts}."
        )
    example = _example(advice, setup, chosen, by_index, out, model, seed, block)
    if example:
        lines.append(example)
    own = {c.setting: c for c in advice.confirmations if c.agrees is None}

    def fate(c: Confirmation) -> str:
        hit = f"is liquidated at {c.exact_first_liquidation}"
        return f"{hit if c.exact_liquidated else 'is not liquidated'} and ends " + money(
            c.exact_final, places
        )

    if best.name in own:
        ends = [
            f"{label} {fate(own[other.name])}"
            for label, other in named.items()
            if other is not None and other.name != best.name and other.name in own
        ]
        if ends:
            lines.append(
                f"On the plan's own bars (the exact engine): {'; '.join(ends)}; the "
                f"recommendation {fate(own[best.name])} {advice.settle}."
            )
    return tuple(lines)


def _difference(objective: Objective, value: float, places: int) -> str:
    """A difference in the objective's metric, in the words' units: percentage points
    for a probability, money for CVaR, a plain number for log growth."""
    if objective in ("liquidation", "ruin"):
        return f"{100 * value:+.2f} points"
    if objective == "cvar":
        return ("+" if value >= 0 else "-") + money(abs(value), places)
    return f"{value:+.4f}"


def _example(
    advice: Advice,
    setup: Setup,
    chosen: Mapping[str, int],
    by_index: Mapping[int, SettingStats],
    out: _Outcomes,
    model: Model,
    seed: int,
    block: int,
) -> str | None:
    """One path the recommendation survives and a baseline does not, in words."""
    best = chosen["best"]
    for label in ("your setting", "all cross", "all isolated"):
        other = chosen.get(label)
        if other is None or other == best:
            continue
        hits = np.flatnonzero(out.ruined(other) & ~out.ruined(best))
        if not hits.size:
            continue
        p = int(hits[0])
        logp = log_price_paths(
            setup, paths=1, steps=advice.steps, model=model, seed=seed, block=block, start=p
        )[0]
        s0 = setup.log_s0 * setup.flip
        worst = [
            f"{sym} {100 * (math.exp(float(logp[:, a].min() - s0[a])) - 1):+.1f} % at its "
            f"lowest, {100 * (math.exp(float(logp[:, a].max() - s0[a])) - 1):+.1f} % at its highest"
            for a, sym in enumerate(setup.symbols)
        ]
        return (
            f"For example, on simulated path {p} ({'; '.join(worst)}), {label} "
            f"({by_index[other].name}) is ruined, and the recommendation is not."
        )
    return None
