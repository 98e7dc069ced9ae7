"""The number type of the rules, for type checkers only (nothing is imported at run time).

``N`` is Decimal (the exact engine), float (the kernels; numba compiles the same source)
or a numpy array (the numpy reference backends, for rules without a conditional). Each
rule returns the type it was given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from decimal import Decimal

    import numpy as np

    N = TypeVar("N", Decimal, float, np.ndarray)
else:
    N = TypeVar("N")

__all__ = ["N"]
