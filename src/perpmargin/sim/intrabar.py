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
:func:`first_liquidation` finds where on such a segment the marks first liquidate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:
    from perpmargin.engine.account import Account

__all__ = ["IntrabarOrder", "first_liquidation", "waypoints"]

IntrabarOrder = Literal["conservative", "optimistic"]

P = TypeVar("P")
_U_RESOLUTION = Decimal("1e-18")  # bisection stops here: far below a tick on any segment


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


def first_liquidation(
    account: Account | Callable[[Mapping[str, Decimal]], bool],
    start_marks: Mapping[str, Decimal],
    u_lo: Decimal,
    u_hi: Decimal,
    at: Callable[[Decimal], tuple[dict[str, Decimal], dict[str, Decimal]]],
) -> Decimal:
    """The first point of a straight move (on the tick grid) whose marks liquidate.

    ``at(u)`` gives the (marks, last prices) at ``u`` in [0, 1], rounded to the tick;
    ``u_lo`` does not liquidate (``start_marks`` are its marks when it is 0) and
    ``u_hi`` does. Bisection on u; since the marks are on the tick grid this ends at the
    first tick that liquidates (for one symbol: the liquidation price rounded towards
    the move). Equity minus requirement is concave along the move, so the liquidating
    points form one interval that ``u_hi`` lies in. ``account``: an :class:`Account`
    (its ``liquidates_at``), or any test of marks (a unified account's reading).
    """
    liquidates = account if callable(account) else account.liquidates_at
    m_lo, m_hi = at(u_lo)[0], at(u_hi)[0]
    m_lo = dict(start_marks) if u_lo == 0 else m_lo
    for _ in range(80):
        if u_hi - u_lo < _U_RESOLUTION:
            break
        mid = (u_lo + u_hi) / 2
        m_mid = at(mid)[0]
        if m_mid == m_hi or (m_mid != m_lo and liquidates(m_mid)):
            u_hi, m_hi = mid, m_mid
        else:
            u_lo, m_lo = mid, m_mid
    return u_hi
