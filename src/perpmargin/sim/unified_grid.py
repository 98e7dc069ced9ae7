"""Portfolio-margin readings over a grid of price shocks, on a numba kernel.

The portfolio (unified-account) companion of :func:`perpmargin.sim.stress.stress_grid`:
every combination of moves of one or two underlyings (a move of BTC moves the mark of
every BTC symbol *and* BTC's index price, so collateral held in BTC moves too), the
other prices held. Each cell holds the account's adjusted equity, maintenance, ratio and
whether it is liquidated, computed as :meth:`perpmargin.engine.unified.UnifiedAccount.
reading` computes them, with the same rules compiled for numba
(:mod:`perpmargin.sim.compiled`: ``haircut_slice``, ``collateral_value``,
``equity_ratio``, ``margin_ratio``, ``unrealized_pnl``, the tiered requirement); the
tests check every cell against the exact reading.

Modelled: linear contracts on one futures venue. Inverse contracts are refused (their
coin PnL is valued differently), as are accounts without positions or collateral.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit, prange

from perpmargin.engine.unified import UnifiedAccount
from perpmargin.errors import InvalidInput, NotModelled
from perpmargin.sim.compiled import (
    collateral_value,
    equity_ratio,
    haircut_slice,
    maintenance_margin,
    margin_ratio,
    position_value,
    unrealized_pnl,
)
from perpmargin.sim.kernels import tier_of
from perpmargin.sim.tiers import TierArrays

__all__ = [
    "UnifiedGrid",
    "asset_collateral",
    "judged",
    "unified_grid_kernel",
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


@njit(cache=True, parallel=True)
def unified_grid_kernel(
    xs: np.ndarray,
    ys: np.ndarray,
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    mark: np.ndarray,
    pos_axis: np.ndarray,
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
    kind: int,
    trigger: int,
    threshold: float,
    adjusted: np.ndarray,
    maintenance: np.ndarray,
    ratio: np.ndarray,
    liquidated: np.ndarray,
) -> None:
    """Every cell (y, x): each position's mark and each asset's index moved by the shock
    of its axis (0: x, 1: y, -1: held); per asset the net balance (wallet + the uPnL of
    the positions settling in it) valued at its index, a positive one at its haircut
    tiers; maintenance = each position's tiered requirement at its settle asset's
    index; then the venue's ratio and trigger."""
    nx = xs.size
    for cell in prange(ys.size * nx):
        iy = cell // nx
        ix = cell - iy * nx
        sx = 1.0 + xs[ix]
        sy = 1.0 + ys[iy]
        mm = 0.0
        for p in range(sym.size):
            f = sx if pos_axis[p] == 0 else (sy if pos_axis[p] == 1 else 1.0)
            a = settle[p]
            g = sx if asset_axis[a] == 0 else (sy if asset_axis[a] == 1 else 1.0)
            m = mark[p] * f
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
                    net += unrealized_pnl(qty[p], entry[p], mark[p] * f)
            adj += asset_collateral(net, index[a] * g, floor[a], cap[a], rate[a], usd_tiers)
        adjusted[iy, ix] = adj
        maintenance[iy, ix] = mm
        ratio[iy, ix], liquidated[iy, ix] = judged(adj, mm, kind, trigger, threshold)


def _axis_values(values: Any, name: str) -> np.ndarray:
    out = np.asarray(values, dtype=np.float64).ravel()
    if out.size == 0 or not np.isfinite(out).all() or (out <= -1).any():
        raise InvalidInput(f"{name} must be finite moves above -1 (-0.6 is a 60 % fall)")
    return out


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
    reading = account.reading()
    positions = reading.positions
    if not positions:
        raise NotModelled("the shock grid needs positions (the reading alone answers otherwise)")
    venues = {account.venue_of(p.symbol).id for p in positions}
    if len(venues) > 1:
        raise NotModelled(f"the shock grid takes positions on one futures venue, not {venues}")
    venue = account.venue_of(positions[0].symbol)
    specs = [venue.symbol(p.symbol) for p in positions]
    if any(sp.inverse_value is not None for sp in specs):
        raise NotModelled("the shock grid takes linear contracts (inverse ones: the reading)")
    exposure: dict[str, float] = {}
    for p, sp in zip(positions, specs, strict=True):
        exposure[sp.base] = exposure.get(sp.base, 0.0) + float(p.quantity * p.mark_price)
    for a in reading.assets:
        if a.asset in exposure or a.net > 0:
            exposure[a.asset] = exposure.get(a.asset, 0.0) + abs(float(a.value))
    chosen = (
        sorted(exposure, key=lambda b: (-exposure[b], b))[:2]
        if assets is None
        else [str(a).upper() for a in assets]
    )
    if not 1 <= len(chosen) <= 2 or len(set(chosen)) != len(chosen):
        raise InvalidInput("shock one or two different underlyings")
    xs = _axis_values(np.round(np.arange(-0.6, 0.6001, 0.05), 10) if shocks is None else shocks,
                      "shocks")  # fmt: skip
    ys = (
        _axis_values(shocks_y if shocks_y is not None else xs, "shocks_y")
        if len(chosen) == 2
        else np.zeros(1)
    )

    def axis(base: str) -> int:
        return chosen.index(base) if base in chosen else -1

    tiers = TierArrays.from_venue(venue, sorted({sp.symbol for sp in specs}))
    names = list(tiers.symbols)
    asset_names = [a.asset for a in reading.assets]
    # every asset's tiers: a balance owed today may be positive in a cell
    held = {a.asset: account.collateral_tiers(a.asset) for a in reading.assets}
    k = max((len(t) for t in held.values()), default=1)
    floor = np.zeros((len(asset_names), k))
    cap = np.zeros((len(asset_names), k))
    rate = np.zeros((len(asset_names), k))
    for i, a in enumerate(reading.assets):
        for j, t in enumerate(held.get(a.asset, ())):
            floor[i, j], cap[i, j], rate[i, j] = float(t.floor), float(t.cap), float(t.rate)
    rules = account.rules
    shape = (ys.size, xs.size)
    out = (np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape, dtype=np.bool_))
    unified_grid_kernel(
        xs, ys,
        np.array([names.index(sp.symbol) for sp in specs], dtype=np.int64),
        np.array([float(p.quantity) * (1 if p.side == "long" else -1) for p in positions]),
        np.array([float(p.entry_price) for p in positions]),
        np.array([float(p.mark_price) for p in positions]),
        np.array([axis(sp.base) for sp in specs], dtype=np.int64),
        np.array([asset_names.index(p.settle) for p in positions], dtype=np.int64),
        np.array([float(a.wallet) for a in reading.assets]),
        np.array([float(a.index_price) for a in reading.assets]),
        np.array([axis(a.asset) for a in reading.assets], dtype=np.int64),
        floor, cap, rate, rules.haircut_unit == "usd_value",
        tiers.upper, tiers.mmr, tiers.amount, tiers.by_qty,
        _KIND[rules.ratio_kind], _TRIGGER[rules.trigger], float(rules.liquidation_at),
        *out,
    )  # fmt: skip
    return UnifiedGrid(rules.id, rules.ratio_name, tuple(chosen), xs, ys, *out)
