"""Portfolio-margin readings over a grid of price shocks, on a numba kernel.

The portfolio (unified-account) companions of :func:`perpmargin.sim.stress.stress_grid`
and of the Monte Carlo (:func:`unified_montecarlo`). The grid:
every combination of moves of one or two underlyings (a move of BTC moves the mark of
every BTC symbol *and* BTC's index price, so collateral held in BTC moves too), the
other prices held. Each cell holds the account's adjusted equity, maintenance, ratio and
whether it is liquidated, computed as :meth:`perpmargin.engine.unified.UnifiedAccount.
reading` computes them, with the same rules compiled for numba
(:mod:`perpmargin.sim.compiled`: ``haircut_slice``, ``collateral_value``,
``equity_ratio``, ``margin_ratio``, ``unrealized_pnl``, the tiered requirement); the
tests check every cell against the exact reading.

Risk-based rules (Bybit PM, OKX PM, Deribit PM) too: in each cell every risk unit's
maintenance is the worst :func:`perpmargin.formulas.scenario_loss` over its moves (the
weighted extreme move where larger) plus its contingency, from the moved prices, as
:meth:`UnifiedAccount.reading` computes it (:meth:`UnifiedAccount.risk_unit_rules` gives
the moves and rates to both).

Modelled: linear and inverse contracts (the latter in x = 1/P, as the engine solves them)
on one futures venue; accounts without positions are refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit, prange

from perpmargin import formulas as F
from perpmargin.engine.unified import UnifiedAccount
from perpmargin.errors import InvalidInput, NotModelled
from perpmargin.sim.compiled import (
    collateral_value,
    equity_ratio,
    haircut_slice,
    maintenance_margin,
    margin_ratio,
    position_value,
    risk_unit_requirement,
    scenario_loss,
    unrealized_pnl,
)
from perpmargin.sim.kernels import tier_of
from perpmargin.sim.mc_kernels import normal
from perpmargin.sim.tiers import TierArrays

__all__ = [
    "UnifiedGrid",
    "UnifiedMonteCarlo",
    "asset_collateral",
    "judged",
    "moved_reading",
    "unified_grid_kernel",
    "unified_mc_kernel",
    "unified_montecarlo",
    "unified_stress_grid",
]

_KIND = {"equity_over_requirement": 0, "requirement_over_equity": 1}
_TRIGGER = {"below": 0, "at_or_below": 1, "at_or_above": 2}


@dataclass(frozen=True)
class UnifiedGrid:
    """Readings per cell, shape (len(shocks_y), len(shocks_x)); money in USD (the
    account's valuation unit), ``ratio`` NaN where undefined."""

    rules: str
    ratio_name: str
    assets: tuple[str, ...]
    shocks_x: np.ndarray
    shocks_y: np.ndarray
    adjusted_equity: np.ndarray
    maintenance: np.ndarray
    ratio: np.ndarray
    liquidated: np.ndarray
    notes: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """How many cells liquidate the account, and the worst cell (lowest adjusted
        equity) with its moves."""
        iy, ix = np.unravel_index(int(np.argmin(self.adjusted_equity)), self.adjusted_equity.shape)
        moves = {self.assets[0]: float(self.shocks_x[ix])}
        if len(self.assets) == 2:
            moves[self.assets[1]] = float(self.shocks_y[iy])
        return {
            "cells": int(self.liquidated.size),
            "liquidated_cells": int(self.liquidated.sum()),
            "worst_adjusted_equity_usd": float(self.adjusted_equity[iy, ix]),
            "worst_moves": moves,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the axes, every cell's readings (rows: ``shocks_y``), the summary."""
        return {
            "rules": self.rules,
            "ratio_name": self.ratio_name,
            "assets": list(self.assets),
            "shocks_x": self.shocks_x.tolist(),
            "shocks_y": self.shocks_y.tolist() if len(self.assets) == 2 else [],
            "adjusted_equity_usd": self.adjusted_equity.tolist(),
            "maintenance_usd": self.maintenance.tolist(),
            "ratio": [[None if np.isnan(r) else float(r) for r in row] for row in self.ratio],
            "liquidated": self.liquidated.tolist(),
            "summary": self.summary(),
            "notes": list(self.notes),
        }


@njit(cache=True, inline="always")
def asset_collateral(
    net: float, price: float, floor: np.ndarray, cap: np.ndarray, rate: np.ndarray, usd: bool
) -> float:
    """What an asset's net balance counts for (USD): in full when owed, else at its
    haircut tiers (in coin, or in USD value when ``usd``)."""
    value = net * price
    hair = value
    if net > 0:
        amount_in = value if usd else net
        counted = 0.0
        for t in range(floor.size):
            counted += haircut_slice(amount_in, floor[t], cap[t], rate[t])
        hair = counted if usd else counted * price
    return collateral_value(value, hair)


@njit(cache=True, inline="always")
def judged(adj: float, mm: float, kind: int, trigger: int, threshold: float) -> tuple[float, bool]:
    """(ratio, liquidated) of a reading (the rules' kind and trigger as codes; the ratio
    NaN where undefined), as :meth:`UnifiedAccount.reading` judges it."""
    r = np.nan
    if kind == 0:
        if mm > 0:
            r = equity_ratio(adj, mm)
    else:
        r = margin_ratio(mm, adj)
    hit = adj < 0.0
    if not np.isnan(r):
        if trigger == 0:
            hit = hit or r < threshold
        elif trigger == 1:
            hit = hit or r <= threshold
        else:
            hit = hit or r >= threshold
    return r, hit


@njit(cache=True, inline="always")
def unit_maintenance(
    u: int,
    sx: float,
    sy: float,
    qty: np.ndarray,
    entry: np.ndarray,
    mark: np.ndarray,
    pos_axis: np.ndarray,
    inverse: np.ndarray,
    settle: np.ndarray,
    index: np.ndarray,
    asset_axis: np.ndarray,
    units: tuple[Any, ...],
) -> float:
    """Risk unit ``u``'s maintenance at the moved prices: the worst loss of its positions
    over its moves (0 at least), the weighted loss at its extreme move where larger, plus
    its contingency rate x its size x its underlying's index."""
    unit_of, settle_is_base, unit_axis, unit_index, moves, n_moves, extreme, weight, rate = units
    worst = -math.inf
    far = -math.inf
    n = n_moves[u]
    total = n + (2 if extreme[u] > 0.0 and weight > 0.0 else 0)
    for j in range(total):
        m = moves[u, j] if j < n else (-extreme[u] if j == n else extreme[u])
        loss = 0.0
        for p in range(qty.size):
            if unit_of[p] == u:
                f = sx if pos_axis[p] == 0 else (sy if pos_axis[p] == 1 else 1.0)
                a = settle[p]
                g = sx if asset_axis[a] == 0 else (sy if asset_axis[a] == 1 else 1.0)
                # inverse positions are linear in x = 1 / P: a move of P divides x
                mk = mark[p] / f if inverse[p] else mark[p] * f
                moved = mk / (1.0 + m) if inverse[p] else mk * (1.0 + m)
                loss += scenario_loss(unrealized_pnl(qty[p], entry[p], mk),
                                      unrealized_pnl(qty[p], entry[p], moved),
                                      index[a] * g, m if settle_is_base[p] else 0.0)  # fmt: skip
        if j < n:
            worst = max(worst, loss)
        else:
            far = max(far, loss)
    size = 0.0
    for p in range(qty.size):
        if unit_of[p] == u:  # in the underlying: base units, or the coin an inverse is worth
            f = sx if pos_axis[p] == 0 else (sy if pos_axis[p] == 1 else 1.0)
            size += abs(qty[p]) * (mark[p] / f if inverse[p] else 1.0)
    h = sx if unit_axis[u] == 0 else (sy if unit_axis[u] == 1 else 1.0)
    extremes = total > n  # without them the weighted term counts nothing
    counted, add_on = risk_unit_requirement(worst, far if extremes else 0.0,
                                            weight if extremes else 0.0, rate[u], size,
                                            unit_index[u] * h)  # fmt: skip
    return counted + add_on


@njit(cache=True, inline="always")
def moved_reading(
    sx: float,
    sy: float,
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    mark: np.ndarray,
    pos_axis: np.ndarray,
    inverse: np.ndarray,
    settle: np.ndarray,
    wallet: np.ndarray,
    index: np.ndarray,
    asset_axis: np.ndarray,
    floor: np.ndarray,
    cap: np.ndarray,
    rate: np.ndarray,
    usd_tiers: bool,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    by_qty: np.ndarray,
    units: tuple[Any, ...],
) -> tuple[float, float]:
    """(adjusted equity, maintenance) with every price on axis 0 multiplied by ``sx``
    and every one on axis 1 by ``sy`` (axis -1: held): each position's mark and each
    asset's index; per asset the net balance (wallet + the uPnL of the positions
    settling in it) valued at its index, a positive one at its haircut tiers;
    maintenance = each position's tiered requirement at its settle asset's index, or,
    for risk-based rules (``units``' count > 0), the sum of :func:`unit_maintenance`."""
    mm = 0.0
    n_units = units[2].size
    for u in range(n_units):
        mm += unit_maintenance(u, sx, sy, qty, entry, mark, pos_axis, inverse, settle, index,
                               asset_axis, units)  # fmt: skip
    for p in range(sym.size if n_units == 0 else 0):
        f = sx if pos_axis[p] == 0 else (sy if pos_axis[p] == 1 else 1.0)
        a = settle[p]
        g = sx if asset_axis[a] == 0 else (sy if asset_axis[a] == 1 else 1.0)
        m = mark[p] / f if inverse[p] else mark[p] * f
        aq = abs(qty[p])
        notional = position_value(aq, m)
        k = tier_of(upper, by_qty, sym[p], aq, notional)
        mm += maintenance_margin(notional, mmr[sym[p], k], amount[sym[p], k]) * index[a] * g
    adj = 0.0
    for a in range(wallet.size):
        g = sx if asset_axis[a] == 0 else (sy if asset_axis[a] == 1 else 1.0)
        net = wallet[a]
        for p in range(sym.size):
            if settle[p] == a:
                f = sx if pos_axis[p] == 0 else (sy if pos_axis[p] == 1 else 1.0)
                net += unrealized_pnl(qty[p], entry[p],
                                      mark[p] / f if inverse[p] else mark[p] * f)  # fmt: skip
        adj += asset_collateral(net, index[a] * g, floor[a], cap[a], rate[a], usd_tiers)
    return adj, mm


@njit(cache=True, parallel=True)
def unified_grid_kernel(
    xs: np.ndarray,
    ys: np.ndarray,
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    mark: np.ndarray,
    pos_axis: np.ndarray,
    inverse: np.ndarray,
    settle: np.ndarray,
    wallet: np.ndarray,
    index: np.ndarray,
    asset_axis: np.ndarray,
    floor: np.ndarray,
    cap: np.ndarray,
    rate: np.ndarray,
    usd_tiers: bool,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    by_qty: np.ndarray,
    units: tuple[Any, ...],
    kind: int,
    trigger: int,
    threshold: float,
    adjusted: np.ndarray,
    maintenance: np.ndarray,
    ratio: np.ndarray,
    liquidated: np.ndarray,
) -> None:
    """Every cell (y, x): :func:`moved_reading` at moves (xs[x], ys[y]), then the
    venue's ratio and trigger (:func:`judged`)."""
    nx = xs.size
    for cell in prange(ys.size * nx):
        iy = cell // nx
        ix = cell - iy * nx
        adj, mm = moved_reading(1.0 + xs[ix], 1.0 + ys[iy], sym, qty, entry, mark, pos_axis,
                                inverse,
                                settle, wallet, index, asset_axis, floor, cap, rate,
                                usd_tiers, upper, mmr, amount, by_qty, units)  # fmt: skip
        adjusted[iy, ix] = adj
        maintenance[iy, ix] = mm
        ratio[iy, ix], liquidated[iy, ix] = judged(adj, mm, kind, trigger, threshold)


@njit(cache=True, parallel=True)
def unified_mc_kernel(
    seed: int,
    n_paths: int,
    n_steps: int,
    drift: np.ndarray,
    chol: np.ndarray,
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    mark: np.ndarray,
    pos_axis: np.ndarray,
    inverse: np.ndarray,
    settle: np.ndarray,
    wallet: np.ndarray,
    index: np.ndarray,
    asset_axis: np.ndarray,
    floor: np.ndarray,
    cap: np.ndarray,
    rate: np.ndarray,
    usd_tiers: bool,
    upper: np.ndarray,
    mmr: np.ndarray,
    amount: np.ndarray,
    by_qty: np.ndarray,
    units: tuple[Any, ...],
    kind: int,
    trigger: int,
    threshold: float,
    first_step: np.ndarray,
    final_adjusted: np.ndarray,
) -> None:
    """Paths of the one or two underlyings' log prices, x_s += drift[s] + sum_j
    chol[s, j] z_j with the Monte Carlo's counter-based normals
    (:func:`perpmargin.sim.mc_kernels.normal`: the same paths as
    :func:`perpmargin.sim.montecarlo.log_price_paths` for the seed), the account read at
    every step's prices; ``first_step``: the first step it is liquidated at (-1 none),
    ``final_adjusted``: its adjusted equity then (or at the last step)."""
    n_axes = drift.size
    for path in prange(n_paths):
        x0 = 0.0
        x1 = 0.0
        first_step[path] = -1
        adj = 0.0
        for t in range(n_steps):
            z0 = normal(seed, path, t, 0)
            z1 = normal(seed, path, t, 1) if n_axes == 2 else 0.0
            x0 += drift[0] + chol[0, 0] * z0 + (chol[0, 1] * z1 if n_axes == 2 else 0.0)
            if n_axes == 2:
                x1 += drift[1] + chol[1, 0] * z0 + chol[1, 1] * z1
            adj, mm = moved_reading(math.exp(x0), math.exp(x1), sym, qty, entry, mark, pos_axis,
                                    inverse, settle, wallet, index, asset_axis, floor, cap,
                                    rate, usd_tiers, upper, mmr, amount, by_qty,
                                    units)  # fmt: skip
            _, hit = judged(adj, mm, kind, trigger, threshold)
            if hit:
                first_step[path] = t
                break
        final_adjusted[path] = adj


def _axis_values(values: Any, name: str) -> np.ndarray:
    out = np.asarray(values, dtype=np.float64).ravel()
    if out.size == 0 or not np.isfinite(out).all() or (out <= -1).any():
        raise InvalidInput(f"{name} must be finite moves above -1 (-0.6 is a 60 % fall)")
    return out


def _arrays(
    account: UnifiedAccount, assets: Sequence[str] | None, what: str
) -> tuple[list[str], tuple[Any, ...], tuple[int, int, float]]:
    """The underlyings moved (given, else the two with the largest exposure, positions
    and collateral together), the kernel's book arrays (positions, assets, haircut
    tiers, tier tables) and the rules' (kind, trigger, threshold) codes."""
    reading = account.reading()
    positions = reading.positions
    if not positions:
        raise NotModelled(f"the {what} needs positions (the reading alone answers otherwise)")
    specs = [account.venue_of(p.symbol).symbol(p.symbol) for p in positions]
    exposure: dict[str, float] = {}
    for p, sp in zip(positions, specs, strict=True):  # USD: an inverse contract is worth cv
        usd = p.quantity * (p.mark_price if sp.inverse_value is None else sp.inverse_value)
        exposure[sp.base] = exposure.get(sp.base, 0.0) + float(usd)
    for a in reading.assets:
        if a.asset in exposure or a.net > 0:
            exposure[a.asset] = exposure.get(a.asset, 0.0) + abs(float(a.value))
    chosen = (
        sorted(exposure, key=lambda b: (-exposure[b], b))[:2]
        if assets is None
        else [str(a).upper() for a in assets]
    )
    if not 1 <= len(chosen) <= 2 or len(set(chosen)) != len(chosen):
        raise InvalidInput("move one or two different underlyings")

    def axis(base: str) -> int:
        return chosen.index(base) if base in chosen else -1

    units = _unit_arrays(account, specs, [p.settle for p in positions], axis)
    names = sorted({sp.symbol for sp in specs})
    if account.rules.scenario is None:
        table = TierArrays.from_symbols([(account.venue_of(n), n) for n in names])
        tables = (table.upper, table.mmr, table.amount, table.by_qty)
    else:  # risk-based: the units' scenarios are the maintenance, no tier is read
        tables = (np.full((len(names), 1), np.inf), np.zeros((len(names), 1)),
                  np.zeros((len(names), 1)), np.zeros(len(names), dtype=np.bool_))  # fmt: skip
    asset_names = [a.asset for a in reading.assets]
    # every asset's tiers: a balance owed today may be positive after a move
    held = {a.asset: account.collateral_tiers(a.asset) for a in reading.assets}
    k = max((len(t) for t in held.values()), default=1)
    floor = np.zeros((len(asset_names), k))
    cap = np.zeros((len(asset_names), k))
    rate = np.zeros((len(asset_names), k))
    for i, a in enumerate(reading.assets):
        for j, t in enumerate(held[a.asset]):
            floor[i, j], cap[i, j], rate[i, j] = float(t.floor), float(t.cap), float(t.rate)
    rules = account.rules
    # inverse positions as linear ones in x = 1 / P (the engine's identity): size -q x cv,
    # entry 1 / E, mark 1 / M; their coin PnL and coin-valued tiers are then the linear ones
    inverse = np.array([sp.inverse_value is not None for sp in specs])
    signed = np.array([float(p.quantity) * (1 if p.side == "long" else -1) for p in positions])
    entry = np.array([float(p.entry_price) for p in positions])
    cv = np.array([float(sp.inverse_value or 1) for sp in specs])
    x_qty, x_entry = F.to_reciprocal(signed, entry, cv)
    marks = np.array([float(p.mark_price) for p in positions])
    book = (
        np.array([names.index(sp.symbol) for sp in specs], dtype=np.int64),
        np.where(inverse, x_qty, signed),
        np.where(inverse, x_entry, entry),
        np.where(inverse, F.reciprocal(marks), marks),
        np.array([axis(sp.base) for sp in specs], dtype=np.int64),
        inverse,
        np.array([asset_names.index(p.settle) for p in positions], dtype=np.int64),
        np.array([float(a.wallet) for a in reading.assets]),
        np.array([float(a.index_price) for a in reading.assets]),
        np.array([axis(a.asset) for a in reading.assets], dtype=np.int64),
        floor, cap, rate, rules.haircut_unit == "usd_value",
        *tables, units,
    )  # fmt: skip
    judge = (_KIND[rules.ratio_kind], _TRIGGER[rules.trigger], float(rules.liquidation_at))
    return chosen, book, judge


def _unit_arrays(
    account: UnifiedAccount,
    specs: Sequence[Any],
    settles: Sequence[str],
    axis: Any,
) -> tuple[Any, ...]:
    """The risk units of risk-based rules as arrays (none for the others): per position
    its unit and whether it settles in its underlying; per unit its axis, its
    underlying's index price, its moves (padded), their count, its extreme move (0:
    none) and contingency rate; the extreme-move weight."""
    scenario = account.rules.scenario
    bases = sorted({sp.base for sp in specs}) if scenario is not None else []
    rules = [account.risk_unit_rules(b) for b in bases]
    width = max((len(r[0]) for r in rules), default=1)
    moves = np.zeros((len(bases), width))
    for u, (mv, _, _) in enumerate(rules):
        moves[u, : len(mv)] = [float(m) for m in mv]
    index = account.index_prices
    return (
        np.array([bases.index(sp.base) if bases else -1 for sp in specs], dtype=np.int64),
        np.array([st == sp.base for sp, st in zip(specs, settles, strict=True)]),
        np.array([axis(b) for b in bases], dtype=np.int64),
        np.array([float(index[b]) for b in bases]),  # the reading needed each
        moves,
        np.array([len(r[0]) for r in rules], dtype=np.int64),
        np.array([0.0 if r[1] is None else float(r[1]) for r in rules]),
        0.0 if scenario is None else float(scenario.extreme_weight),
        np.array([float(r[2]) for r in rules]),
    )


def unified_stress_grid(
    account: UnifiedAccount,
    *,
    assets: Sequence[str] | None = None,
    shocks: Any = None,
    shocks_y: Any = None,
) -> UnifiedGrid:
    """The account's readings over a grid of moves of one or two underlyings (base
    assets such as ``"BTC"``; by default the two with the largest exposure, positions
    and collateral together); default moves -60 %..+60 % in 5 % steps."""
    chosen, book, judge = _arrays(account, assets, "shock grid")
    xs = _axis_values(np.round(np.arange(-0.6, 0.6001, 0.05), 10) if shocks is None else shocks,
                      "shocks")  # fmt: skip
    ys = (
        _axis_values(shocks_y if shocks_y is not None else xs, "shocks_y")
        if len(chosen) == 2
        else np.zeros(1)
    )
    shape = (ys.size, xs.size)
    out = (np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape, dtype=np.bool_))
    unified_grid_kernel(xs, ys, *book, *judge, *out)
    rules = account.rules
    return UnifiedGrid(rules.id, rules.ratio_name, tuple(chosen), xs, ys, *out)


@dataclass(frozen=True)
class UnifiedMonteCarlo:
    """Paths of the underlyings and the portfolio-margin account along them.

    ``first_step[path]``: the first step the account is liquidated at (-1: never);
    ``final_adjusted_equity[path]``: its adjusted equity then, or at the last step (USD);
    ``p_liquidation`` with its 95 % Wilson interval. Liquidation is judged at every
    step's prices (a move between two steps is not searched: finer steps, finer
    answer)."""

    rules: str
    assets: tuple[str, ...]
    paths: int
    steps: int
    seed: int
    sigma_per_step: tuple[float, ...]
    correlation: float
    first_step: np.ndarray
    final_adjusted_equity: np.ndarray
    p_liquidation: float
    interval: tuple[float, float]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-path arrays)."""
        return {
            "rules": self.rules, "assets": list(self.assets), "paths": self.paths,
            "steps": self.steps, "seed": self.seed, "sigma_per_step": list(self.sigma_per_step),
            "correlation": self.correlation, "p_liquidation": self.p_liquidation,
            "interval_95": list(self.interval),
            "median_final_adjusted_equity_usd": float(np.median(self.final_adjusted_equity)),
            "notes": list(self.notes),
        }  # fmt: skip


def unified_montecarlo(
    account: UnifiedAccount,
    *,
    sigma: Sequence[float],
    paths: int = 10_000,
    steps: int = 1440,
    correlation: float = 0.0,
    assets: Sequence[str] | None = None,
    seed: int = 0,
) -> UnifiedMonteCarlo:
    """Geometric Brownian paths (no drift: each price a martingale) of one or two
    underlyings, ``sigma`` their per-step volatilities (0.001 = 0.1 % a step), correlated
    by ``correlation``; the account read at every step on the compiled rules (the tests
    walk sampled paths through the exact engine)."""
    from perpmargin.sim.montecarlo import wilson_interval

    chosen, book, judge = _arrays(account, assets, "Monte Carlo")
    vols = np.asarray(sigma, dtype=np.float64).ravel()
    if vols.size != len(chosen) or not np.isfinite(vols).all() or (vols < 0).any():
        raise InvalidInput(f"sigma: one per-step volatility >= 0 per underlying {chosen}")
    if not -1 < correlation < 1:
        raise InvalidInput("correlation must lie in (-1, 1)")
    for name, value, top in (("paths", paths, 10_000_000), ("steps", steps, 1_000_000)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise InvalidInput(f"{name} must be an integer in 1..{top:,}")
    chol = np.zeros((vols.size, 2))
    chol[0, 0] = vols[0]
    if vols.size == 2:
        chol[1, 0] = vols[1] * correlation
        chol[1, 1] = vols[1] * math.sqrt(1 - correlation * correlation)
    drift = -0.5 * vols * vols
    first = np.empty(paths, dtype=np.int64)
    final = np.empty(paths)
    unified_mc_kernel(seed, paths, steps, drift, chol, *book, *judge, first, final)
    k = int((first >= 0).sum())
    return UnifiedMonteCarlo(
        account.rules.id, tuple(chosen), paths, steps, seed, tuple(float(v) for v in vols),
        float(correlation), first, final, k / paths, wilson_interval(k, paths),
    )  # fmt: skip
