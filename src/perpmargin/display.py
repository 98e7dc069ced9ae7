"""How money is shown: the settle asset's decimals (display only; the ledger is exact).

Ground floor: imports nothing of perpmargin, so the engine's and the check's words and
every report format money the same way.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["money", "places_for"]

_CASH = frozenset(("USD", "USDT", "USDC", "BUSD", "FDUSD", "DAI", "TUSD"))


def places_for(settle: str) -> int:
    """Decimals money in ``settle`` is shown with: 2 for dollars and dollar coins, 8 for
    any other coin (the ledger's unit: a coin-margined 0.0234 BTC must not read 0.02)."""
    return 2 if not settle or settle.upper() in _CASH else 8


def money(value: Decimal | float, places: int = 2) -> str:
    """``1,234.57`` with ``places`` decimals (rounded half-even, for display only; see
    :func:`places_for`). A float (a simulation's figure) is read to 12 significant
    digits first."""
    if not isinstance(value, Decimal):
        value = Decimal(f"{value:.12g}")
    q = Decimal(1).scaleb(-places)
    return f"{value.quantize(q):,f}"
