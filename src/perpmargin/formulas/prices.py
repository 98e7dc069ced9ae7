"""Bankruptcy and liquidation prices: where a pool's equity meets zero or its requirement.

A pool (one isolated leg with its margin, or the cross legs sharing the wallet) is
liquidated at the price P of one symbol where::

    constant + sum over the moving legs of [q (P - E) - requirement(P)] = 0

``constant`` holds the collateral and everything that does not move with P (other
symbols' PnL minus their requirement at their marks). Within one tier of every leg
the left side is a line in P (:func:`pool_line`), so its root is :func:`line_root`; the
exact engine walks the tier breakpoints (:func:`perpmargin.engine.math.solve_price`),
the kernels try each tier of one leg. Inverse contracts: the same in x = 1/P
(:func:`perpmargin.formulas.to_reciprocal`).
"""

from __future__ import annotations

from perpmargin.formulas._types import N
from perpmargin.formulas.arith import positive_part

__all__ = ["bankruptcy_price", "line_root", "pool_line", "standing_bankruptcy_price"]


def bankruptcy_price(signed_quantity: N, entry_price: N, backing: N) -> N:
    """The price at which ``backing + q (P - E)`` is zero: ``E - backing / q``.

    ``backing`` is the isolated margin, or for a cross leg the wallet plus the other legs'
    PnL at their marks. The result may be <= 0 (no positive price bankrupts the pool);
    callers decide what that means. Example: a 0.1 BTC long at 50,000 backed by 4,000
    goes bankrupt at 50,000 - 4,000 / 0.1 = 10,000.
    """
    return entry_price - backing / signed_quantity


def standing_bankruptcy_price(signed_quantity: N, mark: N, equity: N) -> N:
    """The bankruptcy price of a leg whose pool holds ``equity`` at ``mark``: the mark itself
    when the pool is already there (``equity <= 0``), else :func:`bankruptcy_price` from
    the mark, 0 when no positive price is (an inverse short in x = 1/P).

    What a fee to close valued at the bankruptcy price (Bybit) is valued at; the engine's
    solver answers the same (:func:`perpmargin.engine.math.solve_price` returns the
    reference price for a pool already past its root).
    """
    if equity <= 0:
        return mark
    return positive_part(bankruptcy_price(signed_quantity, mark, equity))


def pool_line(signed_quantity: N, entry_price: N, req_intercept: N, req_slope: N) -> tuple[N, N]:
    """One leg's ``q (P - E) - requirement(P)`` as ``(intercept, slope)`` in P, given the
    requirement's own line (:func:`perpmargin.formulas.requirement_line`; zeros for a
    bankruptcy price)."""
    return -(signed_quantity * entry_price) - req_intercept, signed_quantity - req_slope


def line_root(constant: N, intercept: N, slope: N) -> N:
    """The P at which ``constant + intercept + slope x P = 0`` (slope != 0)."""
    return -(constant + intercept) / slope
