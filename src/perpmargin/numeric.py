"""Exact numbers: parsing at the edge and rounding at named points.

All ledger values are :class:`decimal.Decimal`. Inputs may be ``int``, ``str`` or
``Decimal``; a ``float`` is converted through its ``repr`` (``0.1`` becomes
``Decimal("0.1")``, not the binary expansion). NaN, infinities and non-numbers are
refused with :class:`~perpmargin.errors.InvalidInput`.

Rounding happens only through :func:`round_to_step`, with an explicit direction.
The engine rounds against the trader: fees, requirements and losses up, credits down.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    FloatOperation,
    InvalidOperation,
    localcontext,
)
from typing import Final, Literal

from perpmargin.errors import InvalidInput

__all__ = [
    "ENGINE_CONTEXT",
    "MAGNITUDE",
    "ONE",
    "ZERO",
    "Number",
    "engine_context",
    "is_on_grid",
    "nearest_step",
    "round_to_step",
    "to_decimal",
]

Number = int | str | Decimal | float
"""Accepted numeric input. A float is converted by its repr."""

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)

MAGNITUDE: Final = (Decimal("1e-18"), Decimal("1e18"))
"""The smallest and largest non-zero magnitude an input may have. Inside it, 50
significant digits (:data:`ENGINE_CONTEXT`) keep every product exact and every
quotient far below a venue's precision; outside it a number is a typo or an attack
(``1e-999999999`` as a price, a 40-digit leverage), and answers would be noise."""

ENGINE_CONTEXT: Final = Context(prec=50, traps=[InvalidOperation, FloatOperation])
"""50 significant digits: products of prices and sizes are exact; quotients are rounded
far below any venue precision. Mixing floats into Decimal arithmetic raises."""


def engine_context() -> AbstractContextManager[Context]:
    """Return a context manager that switches to :data:`ENGINE_CONTEXT`."""
    return localcontext(ENGINE_CONTEXT)


def to_decimal(
    value: object,
    name: str,
    *,
    positive: bool = False,
    non_negative: bool = False,
) -> Decimal:
    """Parse ``value`` into a finite Decimal, or raise :class:`InvalidInput` naming ``name``.

    Parameters
    ----------
    value
        ``int``, ``str``, ``Decimal`` or ``float`` (converted through ``repr``).
    name
        What the value is, for the error message (e.g. ``"price"``).
    positive, non_negative
        Require ``> 0`` or ``>= 0``.
    """
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be a number, was the boolean {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value)) if value == value else Decimal("NaN")
    elif isinstance(value, str):
        if not value.isascii():  # Decimal reads Arabic-Indic and fullwidth digits too
            raise InvalidInput(f"{name} must be written with ASCII digits, was {value!r}")
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidInput(f"{name} must be a decimal number, was {value!r}") from None
    else:
        raise InvalidInput(f"{name} must be int, str or Decimal, was {type(value).__name__}")
    if not result.is_finite():
        raise InvalidInput(f"{name} must be finite, was {value!r}")
    if result and not MAGNITUDE[0] <= abs(result) <= MAGNITUDE[1]:
        raise InvalidInput(f"{name} must be 0 or between 1e-18 and 1e18 in size, was {value!r}")
    if positive and result <= 0:
        raise InvalidInput(f"{name} must be > 0, was {value!r}")
    if non_negative and result < 0:
        raise InvalidInput(f"{name} must be >= 0, was {value!r}")
    return result


def round_to_step(value: Decimal, step: Decimal, direction: Literal["up", "down"]) -> Decimal:
    """Round ``value`` to a multiple of ``step``, towards +inf (``up``) or -inf (``down``)."""
    rounding = ROUND_CEILING if direction == "up" else ROUND_FLOOR
    with localcontext(ENGINE_CONTEXT):
        units = (value / step).to_integral_value(rounding=rounding)
        return (units * step).quantize(step)


def nearest_step(value: Decimal, step: Decimal) -> Decimal:
    """The nearest multiple of ``step`` (half-even), at the step's own exponent."""
    with localcontext(ENGINE_CONTEXT):
        units = (value / step).to_integral_value(rounding=ROUND_HALF_EVEN)
        return (units * step).quantize(step)


def is_on_grid(value: Decimal, step: Decimal) -> bool:
    """Return True when ``value`` is an integer multiple of ``step``."""
    with localcontext(ENGINE_CONTEXT):
        return (value % step) == 0
