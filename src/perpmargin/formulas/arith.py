"""Two comparisons every other rule uses, written so the result keeps the input's type."""

from __future__ import annotations

from perpmargin.formulas._types import N

__all__ = ["positive_part", "smaller"]


def positive_part(x: N) -> N:
    """``max(x, 0)`` in the type of ``x``: zero is written ``x - x``, not a bare ``0``
    (an int in a Decimal result) nor ``x * 0`` (-0 for a negative ``x``)."""
    return x if x > 0 else x - x


def smaller(a: N, b: N) -> N:
    """``min(a, b)``; ``a`` on a tie."""
    return a if a <= b else b
