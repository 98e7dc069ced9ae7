"""The fast path: many accounts at once, float64, on numpy, numba, CUDA or Dask.

Struct-of-arrays in, arrays out. The exact Decimal engine answers one account at a
time; this module answers "which of these N accounts x M positions are liquidated at
these marks, under isolated and under cross" in one pass, and gives vectorised
liquidation and bankruptcy prices. Every backend computes the same formulas (checked
against the Decimal engine in the tests, 1e-9 relative):

- ``"numpy"``: plain vectorised numpy (the reference, chunked);
- ``"numba"`` (default): :mod:`perpmargin.sim.kernels`, ``parallel=True``;
- ``"cuda"``: the same kernel on a GPU via numba.cuda (also runs under
  ``NUMBA_ENABLE_CUDASIM=1`` on a CPU, slowly, for tests);
- ``"dask"``: accounts split in chunks, each chunk a numba task on a dask.distributed
  cluster (a ``LocalCluster`` by default, or ``scheduler="tcp://host:8786"``).

Tolerance rule: float64 and Decimal agree to ~1e-12 relative on money; a liquidation
flag may differ only when equity and requirement are within 1e-9 x notional of each
other (a tie the exact engine settles at the last unit).

Inverse (coin-margined) symbols are linear in x = 1 / price (``_linearised``, through
:func:`perpmargin.formulas.to_reciprocal`): the same kernels, money in the coin.

Every margin rule is :mod:`perpmargin.formulas`: compiled in the kernels, element-wise on
arrays in the numpy reference.

Limits: one-way positions (:func:`portfolio_from_accounts` refuses an account holding a
hedge pair: both legs move with one price, which these kernels do not solve), no open
orders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from perpmargin import formulas as F
from perpmargin.errors import InvalidInput
from perpmargin.sim import kernels
from perpmargin.sim.distributed import chunk_bounds
from perpmargin.sim.tiers import TierArrays

__all__ = [
    "Backend",
    "Portfolio",
    "Revaluation",
    "TierArrays",
    "bankruptcy_prices",
    "liquidation_prices",
    "portfolio_from_accounts",
    "revalue",
]

Backend = Literal["numpy", "numba", "cuda", "dask"]
BACKENDS: tuple[str, ...] = ("numpy", "numba", "cuda", "dask")


@dataclass(frozen=True)
class Portfolio:
    """N positions of A accounts, grouped by account (CSR ``offsets``, length A + 1).

    ``qty`` is signed (+ long), base units; ``entry`` and ``margin`` (isolated margin of
    each position) and ``balance`` (each account's cross collateral) in the settle asset;
    ``reserve`` (optional, 0 by default): the part of each isolated margin that is the
    estimated fee to close held in it (Bybit), left out of the bankruptcy price at which
    that fee is valued in maintenance.
    """

    offsets: np.ndarray
    sym: np.ndarray
    qty: np.ndarray
    entry: np.ndarray
    margin: np.ndarray
    balance: np.ndarray
    reserve: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = self.sym.size
        if self.offsets.ndim != 1 or self.offsets.size < 1 or self.offsets[0] != 0:
            raise InvalidInput("offsets must start at 0 and have one entry per account + 1")
        if self.offsets[-1] != n or (np.diff(self.offsets) < 0).any():
            raise InvalidInput("offsets must be non-decreasing and end at the position count")
        if self.reserve is None:
            object.__setattr__(self, "reserve", np.zeros(n))
        for name in ("qty", "entry", "margin", "reserve"):
            if getattr(self, name).shape != (n,):
                raise InvalidInput(f"{name} must have one value per position ({n})")
        if self.balance.shape != (self.offsets.size - 1,):
            raise InvalidInput("balance must have one value per account")
        for name in ("qty", "entry", "margin", "balance", "reserve"):
            if not np.isfinite(getattr(self, name)).all():
                raise InvalidInput(f"{name} has NaN or inf")
        if (self.qty == 0).any() or (self.entry <= 0).any():
            raise InvalidInput("every position needs a non-zero qty and a positive entry")

    @property
    def fee_reserve(self) -> np.ndarray:
        """``reserve``, never None (zeros when not given)."""
        assert self.reserve is not None  # set in __post_init__
        return self.reserve

    @property
    def n_accounts(self) -> int:
        """A."""
        return int(self.offsets.size - 1)

    @property
    def n_positions(self) -> int:
        """N."""
        return int(self.sym.size)

    @property
    def nbytes(self) -> int:
        """Bytes of input arrays a revaluation reads."""
        return int(
            sum(
                a.nbytes
                for a in (self.offsets, self.sym, self.qty, self.entry, self.margin, self.balance)
            )
        )

    def account_of(self) -> np.ndarray:
        """Account index of every position."""
        return np.repeat(np.arange(self.n_accounts), np.diff(self.offsets))

    def chunk(self, start: int, stop: int) -> Portfolio:
        """Accounts ``start .. stop - 1`` as a portfolio of their own."""
        lo, hi = int(self.offsets[start]), int(self.offsets[stop])
        return Portfolio(
            self.offsets[start : stop + 1] - lo,
            self.sym[lo:hi],
            self.qty[lo:hi],
            self.entry[lo:hi],
            self.margin[lo:hi],
            self.balance[start:stop],
            self.fee_reserve[lo:hi],
        )


@dataclass(frozen=True)
class Revaluation:
    """Result of :func:`revalue`: isolated flags per position, cross figures per account."""

    iso_liquidated: np.ndarray
    cross_equity: np.ndarray
    cross_maintenance: np.ndarray
    cross_liquidated: np.ndarray

    @property
    def nbytes(self) -> int:
        """Bytes written."""
        return int(
            self.iso_liquidated.nbytes
            + self.cross_equity.nbytes
            + self.cross_maintenance.nbytes
            + self.cross_liquidated.nbytes
        )


def portfolio_from_accounts(accounts: Sequence[Any], tiers: TierArrays) -> Portfolio:
    """Build a :class:`Portfolio` from exact :class:`~perpmargin.Account` objects.

    Isolated legs carry their margin; each account's ``balance`` is its cross wallet
    plus (for the cross reading) nothing else: compare isolated legs with their own
    margin, and cross legs with the cross wallet.

    Raises
    ------
    NotModelled
        An account holds a long and a short in one symbol (hedge mode).
    """
    from perpmargin.sim.support import account_asks, notes_for

    offsets = [0]
    sym, qty, entry, margin, balance, reserve = [], [], [], [], [], []
    for acct in accounts:
        notes_for("fast", account_asks(acct))  # refuses a hedge pair
        for view in acct.positions():
            sym.append(tiers.index(view.symbol))
            qty.append(float(view.quantity) * (1 if view.side == "long" else -1))
            entry.append(float(view.entry_price))
            margin.append(float(view.isolated_margin))
            reserve.append(float(view.close_fee_reserve) if view.margin_mode == "isolated" else 0.0)
        offsets.append(len(sym))
        balance.append(float(acct.cross_wallet_balance))
    return Portfolio(
        np.array(offsets, dtype=np.int64),
        np.array(sym, dtype=np.int32),
        np.array(qty, dtype=np.float64),
        np.array(entry, dtype=np.float64),
        np.array(margin, dtype=np.float64),
        np.array(balance, dtype=np.float64),
        np.array(reserve, dtype=np.float64),
    )


def _marks(marks: Any, tiers: TierArrays) -> np.ndarray:
    out = np.ascontiguousarray(marks, dtype=np.float64)
    if out.shape != (len(tiers.symbols),):
        raise InvalidInput(f"marks must have one price per symbol {tiers.symbols}")
    if not np.isfinite(out).all() or (out <= 0).any():
        raise InvalidInput("marks must be finite and > 0")
    return out


def _tier_index(
    tiers: TierArrays, sym: np.ndarray, aq: np.ndarray, notional: np.ndarray
) -> np.ndarray:
    upper = tiers.upper[sym]  # (n, K)
    by_qty = tiers.by_qty[sym][:, None]
    past = np.where(by_qty, aq[:, None] > upper, notional[:, None] >= upper)
    return np.asarray(np.minimum(past.sum(axis=1), tiers.n_tiers[sym] - 1), dtype=np.int64)


def _fee_value(tiers: TierArrays, sym: np.ndarray, aq: np.ndarray, fee_price: np.ndarray) -> Any:
    """The fee to close counted in maintenance, valued at ``fee_price``."""
    return F.close_fee(tiers.fee[sym], F.position_value(aq, fee_price))


def _standing_bankruptcy(q: np.ndarray, mark: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """:func:`perpmargin.formulas.standing_bankruptcy_price` element-wise."""
    with np.errstate(divide="ignore", invalid="ignore"):
        price = np.maximum(F.bankruptcy_price(q, mark, equity), 0.0)
    return np.where(equity <= 0, mark, price)


def _position_terms(
    p: Portfolio, marks: np.ndarray, tiers: TierArrays
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per position (numpy, in chunks): uPnL, requirement without a bankruptcy-valued fee,
    the isolated requirement (that fee at the isolated bankruptcy price), and the mask of
    positions whose fee is bankruptcy-valued (Bybit)."""
    n = p.n_positions
    upnl, req, iso_req = np.empty(n), np.empty(n), np.empty(n)
    bk_part = np.zeros(n, dtype=bool)
    step = 1 << 20
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        s = p.sym[lo:hi]
        q = p.qty[lo:hi]
        m = marks[s]
        aq = np.abs(q)
        notional = F.position_value(aq, m)
        k = _tier_index(tiers, s, aq, notional)
        mm = F.maintenance_margin(notional, tiers.mmr[s, k], tiers.amount[s, k])
        bk = tiers.fee_bk[s]
        upnl[lo:hi] = F.unrealized_pnl(q, p.entry[lo:hi], m)
        backing = p.margin[lo:hi] - p.fee_reserve[lo:hi] + upnl[lo:hi]
        bankrupt = _standing_bankruptcy(q, m, backing)
        at_mark = F.requirement(notional, tiers.mmr[s, k], tiers.amount[s, k],
                                _fee_value(tiers, s, aq, m))  # fmt: skip
        iso_req[lo:hi] = np.where(bk, mm + _fee_value(tiers, s, aq, bankrupt), at_mark)
        req[lo:hi] = np.where(bk, mm, at_mark)
        bk_part[lo:hi] = bk
    return upnl, req, iso_req, bk_part


def _cross_totals(
    p: Portfolio,
    marks: np.ndarray,
    tiers: TierArrays,
    upnl: np.ndarray,
    req: np.ndarray,
    bk_part: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per account equity and maintenance, and each position's full cross requirement
    (a bankruptcy-valued fee at the cross bankruptcy price, other legs held)."""
    owner = p.account_of()
    a = p.n_accounts
    equity = p.balance + np.bincount(owner, weights=upnl, minlength=a)
    full = req
    if bk_part.any():
        s = p.sym
        aq = np.abs(p.qty)
        bankrupt = _standing_bankruptcy(p.qty, marks[s], equity[owner])
        full = req + np.where(bk_part, _fee_value(tiers, s, aq, bankrupt), 0.0)
    return equity, np.bincount(owner, weights=full, minlength=a), full


def _revalue_numpy(p: Portfolio, marks: np.ndarray, tiers: TierArrays) -> Revaluation:
    upnl, req, iso_req, bk_part = _position_terms(p, marks, tiers)
    iso = (p.margin + upnl <= iso_req).astype(np.uint8)
    equity, mm, _ = _cross_totals(p, marks, tiers, upnl, req, bk_part)
    has = np.diff(p.offsets) > 0
    return Revaluation(iso, equity, mm, (has & (equity <= mm)).astype(np.uint8))


def _new_revaluation(p: Portfolio) -> Revaluation:
    a = p.n_accounts
    return Revaluation(
        np.empty(p.n_positions, dtype=np.uint8),
        np.empty(a),
        np.empty(a),
        np.empty(a, dtype=np.uint8),
    )


def _check_out(p: Portfolio, out: Revaluation) -> None:
    """``out`` must be a :class:`Revaluation` shaped like :func:`_new_revaluation`'s."""
    if not isinstance(out, Revaluation):
        raise InvalidInput(f"out must be a Revaluation, was {type(out).__name__}")
    wanted = (
        ("iso_liquidated", p.n_positions, np.uint8),
        ("cross_equity", p.n_accounts, np.float64),
        ("cross_maintenance", p.n_accounts, np.float64),
        ("cross_liquidated", p.n_accounts, np.uint8),
    )
    for name, size, dtype in wanted:
        arr = getattr(out, name)
        if (
            not isinstance(arr, np.ndarray)
            or arr.shape != (size,)
            or arr.dtype != dtype
            or not arr.flags.c_contiguous
            or not arr.flags.writeable
        ):
            raise InvalidInput(
                f"out.{name} must be a writable contiguous {np.dtype(dtype)} array of {size}"
            )


def _revalue_numba(
    p: Portfolio, marks: np.ndarray, tiers: TierArrays, out: Revaluation | None = None
) -> Revaluation:
    if out is None:
        out = _new_revaluation(p)
    outputs = (out.iso_liquidated, out.cross_equity, out.cross_maintenance, out.cross_liquidated)
    if tiers.fee_bk.any() or tiers.upper.shape[1] > 64:  # the general kernel
        kernels.revalue_kernel(
            p.offsets, p.sym, p.qty, p.entry, p.margin, p.fee_reserve, p.balance, marks,
            *tiers.args(), *outputs,
        )  # fmt: skip
        return out
    width, qbound, rate, amt = kernels.search_tables(
        tiers.upper, tiers.mmr, tiers.amount, tiers.n_tiers, tiers.by_qty, tiers.fee, marks
    )
    kernels.revalue_searched_kernel(
        p.offsets, p.sym, p.qty, p.entry, p.margin, p.balance, marks,
        width, qbound, rate, amt, *outputs,
    )  # fmt: skip
    return out


def _revalue_dask(
    p: Portfolio, marks: np.ndarray, tiers: TierArrays, scheduler: Any, chunks: int | None
) -> Revaluation:
    from perpmargin.sim.distributed import map_chunks

    bounds = chunk_bounds(p.n_accounts, chunks)
    parts = map_chunks(
        _revalue_numba, [(p.chunk(lo, hi), marks, tiers) for lo, hi in bounds], scheduler
    )
    return Revaluation(
        np.concatenate([r.iso_liquidated for r in parts]),
        np.concatenate([r.cross_equity for r in parts]),
        np.concatenate([r.cross_maintenance for r in parts]),
        np.concatenate([r.cross_liquidated for r in parts]),
    )


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise InvalidInput(f"backend must be one of {BACKENDS}, was {backend!r}")


def revalue(
    portfolio: Portfolio,
    marks: Any,
    tiers: TierArrays,
    *,
    backend: Backend = "numba",
    scheduler: Any = None,
    chunks: int | None = None,
    out: Revaluation | None = None,
) -> Revaluation:
    """Revalue every position at ``marks`` (one per symbol of ``tiers``) under both modes.

    Isolated: ``iso_liquidated[i]`` when the position's margin + uPnL is at or below its
    requirement. Cross: per account, equity = ``balance`` + sum of uPnL, maintenance =
    sum of requirements, ``cross_liquidated`` when equity <= maintenance.

    ``out``: a :class:`Revaluation` from an earlier call on the same portfolio, written
    in place and returned (a risk loop revaluing the same book at new marks then
    allocates nothing; a fresh 20 M-position result costs page faults that can take
    longer than the kernel itself).

    ``chunks``: with ``backend="dask"`` the tasks; with ``backend="cuda"`` a book that
    does not stay on the device, cut into that many chunks of accounts copied through
    pinned host memory on two streams (:func:`perpmargin.sim.gpu.revalue_cuda_streamed`).
    """
    _check_backend(backend)
    m = _marks(marks, tiers)
    if out is not None:
        _check_out(portfolio, out)
    portfolio, m, _ = _linearised(portfolio, m, tiers)
    if backend == "numba":
        return _revalue_numba(portfolio, m, tiers, out)
    if backend == "numpy":
        result = _revalue_numpy(portfolio, m, tiers)
    elif backend == "cuda" and chunks:
        from perpmargin.sim.gpu import revalue_cuda_streamed

        per = -(-portfolio.n_accounts // chunks)  # ceil: ``chunks`` chunks at most
        result = revalue_cuda_streamed(portfolio, m, tiers, chunk_accounts=max(1, per))
    elif backend == "cuda":
        from perpmargin.sim.gpu import revalue_cuda

        result = revalue_cuda(portfolio, m, tiers)
    else:
        result = _revalue_dask(portfolio, m, tiers, scheduler, chunks)
    if out is None:
        return result
    for name in ("iso_liquidated", "cross_equity", "cross_maintenance", "cross_liquidated"):
        getattr(out, name)[:] = getattr(result, name)
    return out


def _linearised(
    p: Portfolio, marks: np.ndarray, tiers: TierArrays
) -> tuple[Portfolio, np.ndarray, np.ndarray | None]:
    """Inverse positions as linear ones in x = 1 / price (the exact engine's identity,
    :mod:`perpmargin.engine.math`): signed size -q x cv, entry 1/E, mark 1/m; value,
    PnL, tiers and fees are then the linear kernels' own. Returns the portfolio, the
    marks and the mask of inverse positions (None when there are none)."""
    cv = tiers.contract_value
    if cv is None or not (cv > 0).any():
        return p, marks, None
    per = cv[p.sym]
    inverse = per > 0
    qty, entry = F.to_reciprocal(p.qty, p.entry, np.where(inverse, per, 1.0))
    linear = replace(p, qty=np.where(inverse, qty, p.qty), entry=np.where(inverse, entry, p.entry))
    return linear, np.where(cv > 0, F.reciprocal(marks), marks), inverse


def _liq_numpy(
    tiers: TierArrays,
    sym: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    collateral: np.ndarray,
    bk_collateral: np.ndarray,
) -> np.ndarray:
    aq = np.abs(qty)
    bk = tiers.fee_bk[sym]
    with np.errstate(divide="ignore", invalid="ignore"):
        bankrupt = np.maximum(F.bankruptcy_price(qty, entry, bk_collateral), 0.0)
    out = np.full(sym.size, np.nan)
    found = np.zeros(sym.size, dtype=bool)
    k_max = tiers.upper.shape[1]
    qty_tier = _tier_index(tiers, sym, aq, np.zeros_like(aq))
    for k in range(k_max):
        kk = np.where(tiers.by_qty[sym], qty_tier, k)
        valid_k = kk < tiers.n_tiers[sym]
        kk = np.minimum(kk, tiers.n_tiers[sym] - 1)
        rate, amount, fee = tiers.mmr[sym, kk], tiers.amount[sym, kk], tiers.fee[sym]
        # the requirement's line in the price, per the fee's basis (both, then chosen)
        at_bk = F.requirement_line(aq, rate, amount, fee, bankrupt, True)
        at_mark = F.requirement_line(aq, rate, amount, fee, bankrupt, False)
        req_a = np.where(bk, at_bk[0], at_mark[0])
        req_b = np.where(bk, at_bk[1], at_mark[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            p = F.line_root(collateral, *F.pool_line(qty, entry, req_a, req_b))
        n = F.position_value(aq, p)
        lower = np.where(kk == 0, 0.0, tiers.upper[sym, np.maximum(kk - 1, 0)])
        slack = 1e-12 * np.maximum(np.abs(n), 1.0)
        inside = np.where(
            tiers.by_qty[sym], True, (n >= lower - slack) & (n < tiers.upper[sym, kk] + slack)
        )
        ok = valid_k & ~found & (p > kernels.ZERO_PRICE * entry) & inside
        out[ok] = p[ok]
        found |= valid_k & inside & ~found
    return out


def liquidation_prices(
    portfolio: Portfolio,
    marks: Any,
    tiers: TierArrays,
    mode: Literal["isolated", "cross"] = "isolated",
    *,
    backend: Backend = "numba",
    scheduler: Any = None,
    chunks: int | None = None,
) -> np.ndarray:
    """Liquidation price of every position (NaN: no positive price liquidates).

    Isolated: backed by its own margin. Cross: by the account's balance, with the
    account's other positions held at ``marks``. ``backend="dask"``: chunks of
    accounts as tasks on ``scheduler`` (as :func:`revalue`).
    """
    return _prices(_liquidation_prices, portfolio, marks, tiers, mode, backend, scheduler, chunks)


def bankruptcy_prices(
    portfolio: Portfolio,
    marks: Any,
    tiers: TierArrays,
    mode: Literal["isolated", "cross"] = "isolated",
    *,
    backend: Backend = "numba",
    scheduler: Any = None,
    chunks: int | None = None,
) -> np.ndarray:
    """Bankruptcy price of every position: the mark at which what backs it is exactly
    zero (NaN: no positive price), as :meth:`perpmargin.Account.bankruptcy_price`.

    Isolated: its own margin. Cross: the account's balance plus the uPnL of its other
    positions at ``marks`` (their requirements and fees do not count).
    """
    return _prices(_bankruptcy_prices, portfolio, marks, tiers, mode, backend, scheduler, chunks)


def _prices(
    solve: Callable[..., np.ndarray],
    portfolio: Portfolio,
    marks: Any,
    tiers: TierArrays,
    mode: str,
    backend: Backend,
    scheduler: Any,
    chunks: int | None,
) -> np.ndarray:
    """One price per position from ``solve(p, marks, tiers, mode, backend)``: inputs
    checked, inverse symbols solved in 1 / price, dask chunks of whole accounts."""
    _check_backend(backend)
    m = _marks(marks, tiers)
    p, m, inverse = _linearised(portfolio, m, tiers)
    if mode not in ("isolated", "cross"):
        raise InvalidInput(f"mode must be 'isolated' or 'cross', was {mode!r}")
    if backend == "dask":
        from perpmargin.sim.distributed import map_chunks

        bounds = chunk_bounds(p.n_accounts, chunks)
        parts = map_chunks(
            solve, [(p.chunk(lo, hi), m, tiers, mode, "numba") for lo, hi in bounds], scheduler
        )
        out = np.concatenate(parts)
    else:
        out = solve(p, m, tiers, mode, backend)
    if inverse is not None:  # solved in x = 1 / price
        out = np.where(inverse, 1.0 / out, out)
    return out


def _collaterals(
    p: Portfolio, m: np.ndarray, tiers: TierArrays, mode: str
) -> tuple[np.ndarray, np.ndarray]:
    """What backs each position for its liquidation price (others' requirements taken
    off in cross) and for its bankruptcy price."""
    if mode == "isolated":
        return p.margin, p.margin
    upnl, req, _, bk_part = _position_terms(p, m, tiers)
    equity, mm, own_req = _cross_totals(p, m, tiers, upnl, req, bk_part)
    owner = p.account_of()
    others_upnl = equity[owner] - p.balance[owner] - upnl
    collateral = p.balance[owner] + others_upnl - (mm[owner] - own_req)
    return collateral, p.balance[owner] + others_upnl


def _bankruptcy_prices(
    p: Portfolio, m: np.ndarray, tiers: TierArrays, mode: str, backend: Backend
) -> np.ndarray:
    _, backing = _collaterals(p, m, tiers, mode)
    if mode == "isolated":  # a fee to close held in the margin is set aside (Bybit)
        backing = backing - p.fee_reserve
    if backend == "numpy":
        with np.errstate(divide="ignore", invalid="ignore"):
            price = F.bankruptcy_price(p.qty, p.entry, backing)
        out: np.ndarray = np.where(price > kernels.ZERO_PRICE * p.entry, price, np.nan)
        return out
    if backend == "cuda":
        from perpmargin.sim.gpu import bankruptcy_prices_cuda

        return bankruptcy_prices_cuda(p.qty, p.entry, backing)
    out = np.empty(p.n_positions)
    kernels.bankruptcy_kernel(p.qty, p.entry, backing, out)
    return out


def _liquidation_prices(
    p: Portfolio,
    m: np.ndarray,
    tiers: TierArrays,
    mode: Literal["isolated", "cross"],
    backend: Backend,
) -> np.ndarray:
    if mode == "cross" and backend == "numba":  # the pool's set-up inside the kernel
        out = np.empty(p.n_positions)
        kernels.cross_liq_kernel(p.offsets, p.sym, p.qty, p.entry, p.balance, m,
                                 *tiers.args(), out)  # fmt: skip
        return out
    if mode == "cross" and backend == "cuda":
        from perpmargin.sim.gpu import cross_liq_prices_cuda

        return cross_liq_prices_cuda(p, m, tiers)
    collateral, bk_collateral = _collaterals(p, m, tiers, mode)
    if mode == "isolated":  # a fee to close held in the margin is set aside (Bybit)
        bk_collateral = bk_collateral - p.fee_reserve
    if backend == "numpy":
        return _liq_numpy(tiers, p.sym, p.qty, p.entry, collateral, bk_collateral)
    if backend == "cuda":
        from perpmargin.sim.gpu import liq_prices_cuda

        return liq_prices_cuda(p.sym, p.qty, p.entry, collateral, bk_collateral, tiers)
    out = np.empty(p.n_positions)
    kernels.liq_price_kernel(p.sym, p.qty, p.entry, collateral, bk_collateral, *tiers.args(), out)
    return out
