"""Monte Carlo of a plan under each margin mode: how likely is liquidation, and how bad.

The plan's positions (sized as the replay sizes them, at the first bar's open) are held
for ``steps`` steps of the data's bar interval along simulated price paths:

- ``"gbm"``: geometric Brownian motion, zero drift, per-step volatility and correlation
  estimated from the plan's own bars (close-to-close log returns);
- ``"jump"``: GBM plus Merton jumps (probability, mean and spread estimated from the
  returns beyond 3 sigma, or given);
- ``"bootstrap"``: blocks of the plan's real joint returns (all assets together, so the
  correlation and the fat tails are the data's own).

For every path and mode: liquidated or not, first liquidation step, first stop or
take-profit step, final equity and loss (start balance - final equity). Between steps
a price moves in a straight line, so a level it crosses is reached at its own price,
the nearest first. Isolated legs are settled at their liquidation price (what is left
after the liquidation fee goes to the fund or the trader, as the venue says); the cross
account is checked at every step (one position: against its static liquidation price).
A plan's stops and take-profits are market orders that close their position at their
price (taker fee), whichever of them and the liquidation price a step crosses first; in a
cross account of several symbols the stops a step crosses close before the account is
checked at the step's prices.

Inverse (coin-margined) symbols are simulated in x = 1 / price, where their positions
are linear (the identity of :func:`perpmargin.engine.math.price_for_pnl` and the fast
path): log x = -log price, so the returns, their correlation with other symbols and the
jumps are the data's own with the sign flipped, and the GBM drift is +sigma^2/2 so the
price itself stays driftless. Money is then in the coin.

What a plan asks for beyond this (funding, the venue's partial liquidation,
counterparties, ...) is not simulated and is said so in the result's ``notes``; a hedge
pair is refused (:mod:`perpmargin.sim.support`).

Random numbers are counter-based (:mod:`perpmargin.sim.mc_kernels`): ``seed`` and the
path index fix a path, so every backend, chunking and thread count gives the same
numbers. Backends: ``"numba"`` (default, parallel), ``"numpy"`` (the reference,
:mod:`perpmargin.sim.mc_numpy`), ``"cuda"`` (one GPU thread per path,
:mod:`perpmargin.sim.gpu`), ``"dask"`` (chunks of paths on a cluster).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from perpmargin import formulas as F
from perpmargin.engine import math as pmath
from perpmargin.errors import InvalidInput
from perpmargin.sim import kernels, mc_kernels
from perpmargin.sim.distributed import chunk_bounds
from perpmargin.sim.fast import Portfolio, liquidation_prices
from perpmargin.sim.market import MarketData, load_market
from perpmargin.sim.plan import Plan
from perpmargin.sim.sizing import size_position
from perpmargin.sim.support import notes_for, plan_asks
from perpmargin.sim.tiers import TierArrays
from perpmargin.venues.loader import load_venue
from perpmargin.venues.schema import Venue

__all__ = [
    "MODEL_CODES",
    "ModeStats",
    "MonteCarloResult",
    "Setup",
    "montecarlo",
    "setup_from_plan",
    "wilson_interval",
]

Model = Literal["gbm", "jump", "bootstrap"]
MODEL_CODES = {"gbm": 0, "jump": 1, "bootstrap": 2}
"""A model's number in the kernels (``model`` argument)."""


@dataclass(frozen=True)
class Setup:
    """Everything the kernel needs, as arrays (see :func:`setup_from_plan`).

    Prices are the kernel's variable: the price of a linear symbol, 1 / price of an
    inverse one (``inverse[s]``); ``qty``/``entry``/``margin`` are the positions as
    linear ones in that variable, money in the settle asset.
    """

    symbols: tuple[str, ...]
    log_s0: np.ndarray
    step_vol: np.ndarray
    corr: np.ndarray
    jump_prob: np.ndarray
    jump_mu: np.ndarray
    jump_sigma: np.ndarray
    returns: np.ndarray
    step_ms: int
    tiers: TierArrays
    sym: np.ndarray
    qty: np.ndarray
    entry: np.ndarray
    margin: np.ndarray
    balance: float
    remainder_to_trader: bool
    open_fees: float
    inverse: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    """What the plan asks for that the Monte Carlo does not simulate, or simulates with
    an assumption (:data:`perpmargin.sim.support.SUPPORT`); carried into the result."""
    reserve: np.ndarray | None = None
    """Per position, the part of ``margin`` that is a fee to close held in it (Bybit);
    None: none."""
    stop: np.ndarray | None = None
    """Per position, its stop in the kernel's variable (1 / price of an inverse symbol);
    NaN (or None for all): none."""
    take_profit: np.ndarray | None = None
    """Per position, its take-profit in the kernel's variable; NaN (or None): none."""
    taker: float = 0.0
    """The fee rate of a stop's or a take-profit's market order."""
    settle: str = ""
    """The asset the money is in."""

    @property
    def exits(self) -> np.ndarray:
        """The kernel's ``exits``: rows log stop, log take-profit, stop, take-profit, in
        the kernel's variable (1 / price for an inverse symbol), one column per position,
        NaN for none."""
        n = self.sym.size
        stop = np.full(n, np.nan) if self.stop is None else np.asarray(self.stop, dtype=float)
        take = (
            np.full(n, np.nan)
            if self.take_profit is None
            else np.asarray(self.take_profit, dtype=float)
        )
        with np.errstate(invalid="ignore"):
            return np.ascontiguousarray(np.vstack([np.log(stop), np.log(take), stop, take]))

    @property
    def flip(self) -> np.ndarray:
        """-1 for inverse symbols (the kernel walks log(1 / price)), +1 for linear ones."""
        if self.inverse is None:
            return np.ones(self.log_s0.size)
        return np.where(self.inverse, -1.0, 1.0)

    @property
    def drift(self) -> np.ndarray:
        """GBM drift of the kernel's log variable per step: the price is a martingale."""
        drift: np.ndarray = -0.5 * self.step_vol * self.step_vol * self.flip
        return drift

    @property
    def chol(self) -> np.ndarray:
        """Cholesky factor of the correlation scaled by the per-step volatility."""
        # cov = D C D, so its factor is D chol(C): an asset with no volatility stays put
        # (a ridge on the covariance instead would move it by sqrt(ridge) a step)
        factor = np.linalg.cholesky(self.corr + np.eye(len(self.corr)) * 1e-12)
        scaled: np.ndarray = factor * self.step_vol[:, None]
        return scaled


def setup_from_plan(
    plan: Plan,
    market: MarketData | None = None,
    *,
    venue: Venue | None = None,
    jump: tuple[float, float, float] | None = None,
) -> Setup:
    """Size the plan's positions at the first bar's open and calibrate from its bars.

    ``jump``: (probability per step, mean, std of the log jump) instead of estimating.

    Raises
    ------
    NotModelled
        The plan asks for something the Monte Carlo refuses (a hedge pair); what it runs
        without (funding, the venue's partial liquidation, ...) goes into ``notes``.
    InvalidInput
        A stop or a take-profit that is not beyond its position's entry (the first
        bar's open, where the Monte Carlo enters).
    """
    notes = notes_for("montecarlo", plan_asks(plan))
    data = market if market is not None else load_market(plan)
    v = venue if venue is not None else load_venue(plan.venue)
    symbols = tuple(plan.symbols)
    inverse = np.array([v.symbol(s).inverse_value is not None for s in symbols])
    flip = np.where(inverse, -1.0, 1.0)
    closes = np.array([[float(b[3]) for b in data.trade[s]] for s in symbols]).T
    opens0 = np.array([float(data.trade[s][0][0]) for s in symbols])
    rets = np.diff(np.log(np.vstack([opens0, closes])), axis=0) * flip
    vol = rets.std(axis=0, ddof=1)
    corr = np.corrcoef(rets.T) if len(symbols) > 1 else np.ones((1, 1))
    if jump is None:
        big = np.abs(rets) > 3 * vol
        prob = big.mean(axis=0)
        mu = np.array(
            [rets[big[:, j], j].mean() if big[:, j].any() else 0.0 for j in range(len(symbols))]
        )
        sd = np.array(
            [rets[big[:, j], j].std() if big[:, j].sum() > 1 else 0.0 for j in range(len(symbols))]
        )
    else:
        prob, mu, sd = (np.full(len(symbols), float(x)) for x in jump)
    # positions as linear ones in the kernel's variable: tiers need no contract value
    tiers = TierArrays.from_venue(v, symbols).linear()
    sym, qty, entry, margin, reserve, fees = [], [], [], [], [], 0.0
    stops: list[float] = []  # in the kernel's variable, NaN: none
    takes: list[float] = []
    holds_fee = v.liquidation.close_fee_in_initial_margin and v.liquidation.close_fee_in_maintenance
    for pos in plan.positions:
        q, e, _ = size_position(plan, v, data, pos)
        spec = v.symbol(pos.symbol)
        cv = spec.inverse_value
        value = pmath.position_value(q, e, cv)  # settle asset
        sym.append(tiers.index(spec.symbol))
        qty.append(float(q) * pos.sign * (1.0 if cv is None else -float(cv)))
        entry.append(float(e) if cv is None else 1.0 / float(e))
        held = 0.0  # Bybit: the estimated fee to close is held in the initial margin
        if holds_fee:
            held = float(
                pmath.estimated_close_fee(pos.sign, q, e, pos.leverage, v.taker_fee_rate, cv)
            )
        margin.append(float(F.initial_margin(value, pos.leverage)) + held)
        reserve.append(held)
        for level, name, sign, out in (
            (pos.stop, "stop", -pos.sign, stops),
            (pos.take_profit, "take_profit", pos.sign, takes),
        ):
            if level is not None and (level - e) * sign <= 0:
                raise InvalidInput(
                    f"{pos.symbol} {pos.side}: {name} {level} is not beyond the entry {e} "
                    "(the first bar's open, where the Monte Carlo enters)"
                )
            x = math.nan if level is None else float(level)
            out.append(x if cv is None else 1.0 / x)
        fees += float(F.trade_fee(value, v.taker_fee_rate))
    return Setup(
        symbols=symbols,
        log_s0=np.log(opens0) * flip,
        step_vol=vol,
        corr=corr,
        jump_prob=np.asarray(prob, dtype=float),
        jump_mu=np.asarray(mu, dtype=float),
        jump_sigma=np.asarray(sd, dtype=float),
        returns=np.ascontiguousarray(rets),
        step_ms=data.step_ms,
        tiers=tiers,
        sym=np.array(sym, dtype=np.int32),
        qty=np.array(qty),
        entry=np.array(entry),
        margin=np.array(margin),
        reserve=np.array(reserve),
        stop=np.array(stops),
        take_profit=np.array(takes),
        taker=float(v.taker_fee_rate),
        settle=v.symbol(plan.positions[0].symbol).settle,
        balance=float(plan.balance) - fees,
        remainder_to_trader=v.liquidation.remainder_to == "trader",
        open_fees=fees,
        inverse=inverse,
        notes=notes,
    )


@dataclass(frozen=True)
class ModeStats:
    """Summary of one mode over all paths (money in the settle asset, loss + is a loss)."""

    liquidation_probability: float
    ci95: tuple[float, float]
    exit_probability: float
    """Share of paths where a stop or a take-profit closed a position (before any
    liquidation of it)."""
    mean_final_equity: float
    loss_var95: float
    loss_es95: float
    loss_var99: float
    loss_es99: float
    median_steps_to_liquidation: float | None
    steps_histogram: tuple[tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True)
class MonteCarloResult:
    """Per-path outcomes of both modes and their summaries."""

    model: str
    paths: int
    steps: int
    seed: int
    step_ms: int
    start_balance: float
    iso_step: np.ndarray
    iso_final: np.ndarray
    cross_step: np.ndarray
    cross_final: np.ndarray
    iso_exit: np.ndarray
    """Per path, the first step a stop or take-profit closed an isolated position (-1: none)."""
    cross_exit: np.ndarray
    """The same for the cross account."""
    stats: dict[str, ModeStats] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    """What the plan asked for that was not simulated, or how it was (see :class:`Setup`)."""
    settle: str = ""
    """The asset the money is in."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "notes": list(self.notes),
            "model": self.model,
            "paths": self.paths,
            "steps": self.steps,
            "seed": self.seed,
            "step_ms": self.step_ms,
            "start_balance": self.start_balance,
            "settle": self.settle,
            "modes": {m: s.__dict__ for m, s in self.stats.items()},
        }


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval (95 % by default) of a probability seen ``k`` times in
    ``n`` trials."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    # none seen: the interval starts at 0 exactly (not at a rounding error above it)
    return (0.0 if k == 0 else max(0.0, centre - half), 1.0 if k == n else min(1.0, centre + half))


def _stats(
    steps: np.ndarray, exits: np.ndarray, final: np.ndarray, start: float, n_steps: int
) -> ModeStats:
    n = steps.size
    hit = steps >= 0
    loss = np.sort(start - final)
    var95, var99 = np.quantile(loss, 0.95), np.quantile(loss, 0.99)
    edges = np.linspace(0, n_steps, min(20, n_steps) + 1).astype(int)
    counts, _ = np.histogram(steps[hit], bins=edges)
    return ModeStats(
        liquidation_probability=float(hit.mean()) if n else 0.0,
        ci95=wilson_interval(int(hit.sum()), n),
        exit_probability=float((exits >= 0).mean()) if n else 0.0,
        mean_final_equity=float(final.mean()),
        loss_var95=float(var95),
        loss_es95=float(loss[loss >= var95].mean()),
        loss_var99=float(var99),
        loss_es99=float(loss[loss >= var99].mean()),
        median_steps_to_liquidation=float(np.median(steps[hit])) if hit.any() else None,
        steps_histogram=(tuple(int(e) for e in edges), tuple(int(c) for c in counts)),
    )


def _static_prices(setup: Setup) -> tuple[np.ndarray, np.ndarray, float]:
    """log isolated liquidation prices, what each returns when liquidated, cross price."""
    tiers = setup.tiers
    marks = np.exp(setup.log_s0)
    n = setup.sym.size
    iso = Portfolio(
        np.array([0, n], dtype=np.int64),
        setup.sym,
        setup.qty,
        setup.entry,
        setup.margin,
        np.array([setup.balance]),
        setup.reserve,
    )
    liq = liquidation_prices(iso, marks, tiers, "isolated", backend="numpy")
    back = np.array(
        [
            0.0
            if math.isnan(liq[i])
            else kernels.liquidation_return(
                float(setup.margin[i]),
                float(setup.qty[i]),
                float(setup.entry[i]),
                float(liq[i]),
                float(tiers.liquidation_fee[setup.sym[i]]),
                setup.remainder_to_trader,
            )
            for i in range(n)
        ]
    )
    cross_price = math.nan
    if n == 1:
        cross = Portfolio(
            np.array([0, 1], dtype=np.int64),
            setup.sym,
            setup.qty,
            setup.entry,
            np.zeros(1),
            np.array([setup.balance]),
        )
        cross_price = float(liquidation_prices(cross, marks, tiers, "cross", backend="numpy")[0])
    with np.errstate(invalid="ignore"):
        return np.log(liq), back, cross_price


def _run_chunk(
    setup: Setup,
    static: tuple[np.ndarray, np.ndarray, float],
    model: str,
    seed: int,
    start: int,
    count: int,
    steps: int,
    block: int,
    backend: str = "numba",
) -> tuple[np.ndarray, ...]:
    log_liq, back, cross_price = static
    t = setup.tiers
    out = (
        np.empty(count, dtype=np.int64),
        np.empty(count),
        np.empty(count, dtype=np.int64),
        np.empty(count),
        np.empty(count, dtype=np.int64),
        np.empty(count, dtype=np.int64),
    )
    kernel: Callable[..., None] = mc_kernels.mc_kernel
    if backend == "numpy":
        from perpmargin.sim.mc_numpy import mc_numpy

        kernel = mc_numpy
    elif backend == "cuda":
        from perpmargin.sim.gpu import mc_cuda

        kernel = mc_cuda
    kernel(
        seed,
        start,
        count,
        steps,
        MODEL_CODES[model],
        setup.log_s0,
        setup.drift,
        setup.chol,
        setup.jump_prob,
        setup.jump_mu,
        setup.jump_sigma,
        setup.returns,
        block,
        setup.sym,
        setup.qty,
        setup.entry,
        setup.margin,
        log_liq,
        back,
        setup.balance,
        setup.remainder_to_trader,
        t.liquidation_fee,
        t.upper,
        t.mmr,
        t.amount,
        t.n_tiers,
        t.by_qty,
        t.fee,
        t.fee_bk,
        cross_price,
        setup.sym.size == 1,
        setup.exits,
        setup.taker,
        *out,
    )
    return out


def montecarlo(
    plan: Plan | Setup,
    *,
    paths: int = 10_000,
    steps: int | None = None,
    model: Model = "gbm",
    seed: int = 0,
    block: int = 60,
    backend: Literal["numpy", "numba", "cuda", "dask"] = "numba",
    scheduler: Any = None,
    chunk_paths: int = 65_536,
    progress: Callable[[int], None] | None = None,
) -> MonteCarloResult:
    """Simulate ``paths`` paths of ``steps`` steps (default: as many as the plan's bars).

    ``block``: block length of the bootstrap, in steps. ``progress`` is called with the
    number of paths done after each chunk. ``seed``: a whole number from 0 to 2**63 - 1.
    ``backend``: ``"numba"`` (CPU threads), ``"numpy"`` (the reference, slow),
    ``"cuda"`` (a GPU; at most 8 symbols and 32 positions), ``"dask"`` (chunks of
    ``chunk_paths`` paths as tasks on ``scheduler``: a ``Client``, an address, or None
    for a local cluster). The same call gives the same paths on every backend.
    """
    if model not in MODEL_CODES:
        raise InvalidInput(f"model must be one of {tuple(MODEL_CODES)}, was {model!r}")
    if backend not in ("numpy", "numba", "cuda", "dask"):
        raise InvalidInput(f"backend must be 'numpy', 'numba', 'cuda' or 'dask', was {backend!r}")
    if isinstance(chunk_paths, bool) or not isinstance(chunk_paths, int) or chunk_paths < 1:
        raise InvalidInput(f"chunk_paths must be a whole number >= 1, was {chunk_paths!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InvalidInput(f"seed must be a whole number from 0 to 2**63 - 1, was {seed!r}")
    if not isinstance(paths, int) or paths < 1 or paths > 10**10:
        raise InvalidInput(f"paths must be a whole number from 1 to 1e10, was {paths!r}")
    setup = plan if isinstance(plan, Setup) else setup_from_plan(plan)
    n_steps = int(steps if steps is not None else setup.returns.shape[0])
    if n_steps < 1 or n_steps > 10**8:
        raise InvalidInput(f"steps must be from 1 to 1e8, was {n_steps}")
    if model == "bootstrap" and not 1 <= block < setup.returns.shape[0]:
        raise InvalidInput(f"block must be from 1 to {setup.returns.shape[0] - 1}, was {block}")
    static = _static_prices(setup)  # liquidation prices do not change along a path
    parts: list[tuple[np.ndarray, ...]] = []
    if backend == "dask":
        from perpmargin.sim.distributed import map_chunks

        bounds = chunk_bounds(paths, max(1, paths // chunk_paths) if paths > chunk_paths else 4)
        parts = map_chunks(
            _run_chunk,
            [(setup, static, model, seed, lo, hi - lo, n_steps, block) for lo, hi in bounds],
            scheduler,
        )
    else:
        for lo in range(0, paths, chunk_paths):
            count = min(chunk_paths, paths - lo)
            parts.append(_run_chunk(setup, static, model, seed, lo, count, n_steps, block, backend))
            if progress is not None:
                progress(count)
    iso_step, iso_final, cross_step, cross_final, iso_exit, cross_exit = (
        np.concatenate([p[j] for p in parts]) for j in range(6)
    )
    start = setup.balance + setup.open_fees
    result = MonteCarloResult(
        model=model,
        paths=paths,
        steps=n_steps,
        seed=seed,
        step_ms=setup.step_ms,
        start_balance=start,
        iso_step=iso_step,
        iso_final=iso_final,
        cross_step=cross_step,
        cross_final=cross_final,
        iso_exit=iso_exit,
        cross_exit=cross_exit,
        notes=setup.notes,
        settle=setup.settle,
    )
    result.stats["isolated"] = _stats(iso_step, iso_exit, iso_final, start, n_steps)
    result.stats["cross"] = _stats(cross_step, cross_exit, cross_final, start, n_steps)
    return result


def log_price_paths(
    setup: Setup,
    *,
    paths: int,
    steps: int,
    model: Model = "gbm",
    seed: int = 0,
    block: int = 60,
    start: int = 0,
) -> np.ndarray:
    """The log prices along the kernel's paths ``start .. start + paths - 1``,
    ``[path, step, asset]`` (numpy; for checks and explanations). Real prices: an
    inverse symbol's log(1 / price) is turned back."""
    from perpmargin.sim.mc_kernels import normal, uniform

    out = np.empty((paths, steps, setup.log_s0.size))
    chol = setup.chol
    drift = setup.drift
    for k in range(paths):
        p = start + k
        x = setup.log_s0.copy()
        b0 = 0
        for t in range(steps):
            if model == "bootstrap":
                if t % block == 0:
                    b0 = int(uniform(seed, p, t, 7) * (setup.returns.shape[0] - block))
                x = x + setup.returns[b0 + t % block]
            else:
                z = np.array([normal(seed, p, t, s) for s in range(x.size)])
                x = x + drift + chol @ z
                if model == "jump":
                    for s in range(x.size):
                        if uniform(seed, p, t, 4 * s + 2) <= setup.jump_prob[s]:
                            x[s] += setup.jump_mu[s] + setup.jump_sigma[s] * normal(
                                seed, p, t, s + x.size
                            )
            out[k, t] = x
    prices: np.ndarray = out * setup.flip
    return prices
