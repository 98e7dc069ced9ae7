"""Value, PnL and entry of a position; the inverse-contract identity (x = 1/P).

Linear contracts: quantity in base units, money in the quote/settle asset. Inverse
contracts: quantity in contracts of ``contract_value`` USD each, money in the coin.
"""

from __future__ import annotations

from perpmargin.formulas._types import N

__all__ = [
    "average_entry",
    "inverse_average_entry",
    "inverse_pnl",
    "inverse_value",
    "position_value",
    "price_for_pnl",
    "reciprocal",
    "to_reciprocal",
    "unrealized_pnl",
]


def position_value(quantity: N, price: N) -> N:
    """Value (notional) of a linear position: ``quantity x price`` (``quantity`` >= 0).

    Also the value of an inverse position in x = 1/P after :func:`to_reciprocal`.
    Example (Binance FAQ, leverage and margin): 2 BTC at 50,000 -> 100,000 USDT.
    """
    return quantity * price


def unrealized_pnl(signed_quantity: N, entry_price: N, price: N) -> N:
    """PnL of a linear position closed at ``price``: ``q x (price - entry)``, q + long."""
    return signed_quantity * (price - entry_price)


def price_for_pnl(signed_quantity: N, entry_price: N, pnl: N) -> N:
    """The price at which closing realises exactly ``pnl`` (inverse of
    :func:`unrealized_pnl`): ``entry + pnl / q``. Auto-deleveraging fills use it."""
    return entry_price + pnl / signed_quantity


def average_entry(quantity: N, entry_price: N, added: N, price: N) -> N:
    """Entry after adding ``added`` at ``price`` to ``quantity`` held at ``entry_price``
    (linear: the quantity-weighted mean)."""
    return (quantity * entry_price + added * price) / (quantity + added)


def inverse_value(contracts: N, contract_value: N, price: N) -> N:
    """Value of an inverse position in the coin: ``contracts x contract_value / price``.

    Equal to :func:`position_value` of the position :func:`to_reciprocal` at 1/price.
    Example: 100 BTCUSD_PERP contracts of 100 USD at 50,000 -> 0.2 BTC.
    """
    return contracts * contract_value / price


def inverse_pnl(signed_contracts: N, contract_value: N, entry_price: N, price: N) -> N:
    """PnL of an inverse position in the coin: ``q x cv x (1/entry - 1/price)``.

    Equal to :func:`unrealized_pnl` of the position :func:`to_reciprocal` at 1/price.
    """
    return signed_contracts * contract_value * (1 / entry_price - 1 / price)


def inverse_average_entry(contracts: N, entry_price: N, added: N, price: N) -> N:
    """Entry of an inverse position after adding: the harmonic mean (value in the coin
    adds up); :func:`average_entry` in x = 1/P."""
    return (contracts + added) / (contracts / entry_price + added / price)


def reciprocal(price: N) -> N:
    """x = 1 / price: the variable in which an inverse position is linear."""
    return 1 / price


def to_reciprocal(signed_contracts: N, entry_price: N, contract_value: N) -> tuple[N, N]:
    """An inverse position as a linear one in x = 1/P: ``(-q x cv, 1/entry)``.

    An inverse long gains when P rises, i.e. when x falls: it is a linear short of x,
    of size q x cv (USD), entered at x = 1/entry. Then value, PnL, tiers, requirement,
    bankruptcy and liquidation (in x), settlement and funding are the linear rules.
    """
    return -signed_contracts * contract_value, 1 / entry_price
