"""The path a price takes inside one bar, so triggers inside a bar resolve one way, always.

A bar only tells open, high, low and close. The replay assumes the price goes

    open -> first extreme -> second extreme -> close

moving in a straight line between those four waypoints, and nowhere else.

- ``"conservative"`` (the default): the first extreme is the *adverse* one for what the
  account holds in the symbol: the low for a net long, the high for a net short. Stops
  and liquidations are reached before take-profits in the same bar.
- ``"optimistic"``: the favourable extreme comes first.

With no exposure in the symbol (flat, or long and short of equal size in hedge mode),
``side_hint`` decides (the side of a pending entry), else low first.

The jump from one bar's close to the next bar's open is a *gap*: nothing trades in
between, so a stop the gap jumped over fills at the open, and a liquidation the gap
jumped over happens at the open. Along a segment between two waypoints the price passes
every price in between, so a stop or a liquidation price crossed there is hit exactly.
"""

from __future__ import annotations

from typing import Literal, TypeVar

__all__ = ["IntrabarOrder", "waypoints"]

IntrabarOrder = Literal["conservative", "optimistic"]

P = TypeVar("P")


def waypoints(
    open_: P,
    high: P,
    low: P,
    close: P,
    *,
    exposure: int,
    order: IntrabarOrder = "conservative",
    side_hint: int = 0,
) -> tuple[P, P, P, P]:
    """Return the bar's four waypoints in the order the replay walks them.

    Parameters
    ----------
    exposure
        Sign of the account's net quantity in the symbol: +1 long, -1 short, 0 flat.
    order
        ``"conservative"`` (adverse extreme first) or ``"optimistic"``.
    side_hint
        Used when ``exposure`` is 0: the sign of the position the plan is about to
        open (0: low first).
    """
    if order not in ("conservative", "optimistic"):
        raise ValueError(f"intrabar order must be 'conservative' or 'optimistic', was {order!r}")
    sign = exposure if exposure != 0 else (side_hint if side_hint != 0 else 1)
    low_first = (sign > 0) == (order == "conservative")
    if low_first:
        return (open_, low, high, close)
    return (open_, high, low, close)
