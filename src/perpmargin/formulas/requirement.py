"""Initial and maintenance margin: the tiered requirement and the fee to close in it.

``notional`` is the position value at the price the requirement is taken at (the mark
for a check, the candidate price for a liquidation price), in the settle asset. The
tier's ``rate`` (maintenance margin rate) and ``amount`` (maintenance amount, Binance's
'cum', Bybit's 'deduction') are looked up by the caller at that notional.
"""

from __future__ import annotations

from perpmargin.formulas._types import N
from perpmargin.formulas.arith import positive_part
from perpmargin.formulas.prices import bankruptcy_price
from perpmargin.formulas.value import position_value, unrealized_pnl

__all__ = [
    "close_fee",
    "close_fee_price",
    "initial_margin",
    "maintenance_margin",
    "open_loss",
    "requirement",
    "requirement_line",
    "size_scaled_rate",
]


def maintenance_margin(notional: N, rate: N, amount: N) -> N:
    """Tiered maintenance margin: ``notional x MMR - maintenance amount``.

    Example (Binance FAQ, BTCUSDT brackets of 2021): 264,000 USDT in the 1 % bracket
    with amount 1,300 -> 1,340 USDT.
    """
    return notional * rate - amount


def size_scaled_rate(rate: N, rate_per_size: N, size: N) -> N:
    """A margin rate that grows with the position's size (>= 0, base units):
    ``rate + rate_per_size x size``.

    Deribit's standard margin for its linear perpetuals (support article "Linear
    Perpetual"): BTC_USDC IM rate = 2 % + size_BTC x 0.005 %, MM rate = 1 % + size_BTC x
    0.005 %; 25 BTC -> IM 2.125 %, MM 1.125 %; 350 BTC -> IM 3.75 %. Tiered venues have
    ``rate_per_size`` 0.
    """
    return rate + rate_per_size * size


def initial_margin(value: N, leverage: N) -> N:
    """Initial margin of a position: ``value / leverage`` (settle asset)."""
    return value / leverage


def open_loss(signed_quantity: N, order_price: N, mark: N) -> N:
    """The loss a position opened at ``order_price`` shows at once at the ``mark``
    (0 when it shows a gain): what Binance adds to the initial margin in the cost to open.

    Binance FAQ "How to Calculate Cost Required to Open a Position": "Open Loss = Number of
    Contract * Absolute Value {min[0, direction of order * (mark price - order price)]}";
    1 BTC short at 9,253.30 with the mark at 9,259.84: 6.54; the long: 0. Inverse
    contracts: the same in x = 1/P.
    """
    return positive_part(-unrealized_pnl(signed_quantity, order_price, mark))


def close_fee_price(mark: N, bankruptcy_price: N, at_bankruptcy: bool) -> N:
    """The price at which the fee to close counted in maintenance is valued.

    ``at_bankruptcy`` (the venue file's ``close_fee_basis == "bankruptcy"``): Bybit values
    the estimated taker fee to close at the bankruptcy price; OKX and Gate at the mark
    (the price the requirement is taken at). ``bankruptcy_price`` is 0 when no positive
    bankruptcy price exists (in x = 1/P for inverse contracts: an inverse short that
    cannot go bankrupt has x = 0).
    """
    return bankruptcy_price if at_bankruptcy else mark


def close_fee(rate: N, value: N) -> N:
    """Estimated fee to close counted in the requirement: ``value x taker rate``, the value
    taken at :func:`close_fee_price`."""
    return value * rate


def estimated_close_fee(abs_quantity: N, entry_price: N, side: N, leverage: N, rate: N) -> N:
    """The fee to close a position at the bankruptcy price its leverage implies (its
    initial margin gone): what Bybit adds to the initial margin (``side`` +1 long, -1
    short; inverse contracts in x = 1/P, where a long is short).

    Bybit "Initial Margin Calculation (USDC Perpetual & Futures)": "Estimated Fee to Close
    Position = Position Size x Position Average Entry Price x (1 - 1 / Leverage) x Taker Fee
    Rate" (1 + 1 / Leverage for a short): 0.5 BTC, 50,000, 10x, 0.055 % -> 12.375.
    """
    margin = initial_margin(position_value(abs_quantity, entry_price), leverage)
    bankrupt = bankruptcy_price(side * abs_quantity, entry_price, margin)
    return close_fee(rate, position_value(abs_quantity, bankrupt))


def requirement(notional: N, rate: N, amount: N, fee_to_close: N) -> N:
    """Maintenance requirement a pool is liquidated at: tiered MM + the fee to close
    (0 where the venue does not count it)."""
    return maintenance_margin(notional, rate, amount) + fee_to_close


def margin_ratio(requirement: N, balance: N) -> N:
    """A pool's margin ratio: maintenance requirement / margin balance. The pool is
    liquidated at >= 1; a pool with no balance left (<= 0) reads 1."""
    return requirement / balance if balance > 0 else requirement - requirement + 1


def requirement_line(
    abs_quantity: N, rate: N, amount: N, fee_rate: N, bankruptcy_price: N, at_bankruptcy: bool
) -> tuple[N, N]:
    """:func:`requirement` as a line in the price P, within one tier:
    ``requirement(P) = intercept + slope x P``. Returns ``(intercept, slope)``.

    MM = |q| P rate - amount; the fee to close is |q| x fee_rate x
    :func:`close_fee_price`: it moves with P (slope) when valued at the mark and is a
    constant when valued at a fixed bankruptcy price.
    """
    if at_bankruptcy:
        fee_value = close_fee(fee_rate, position_value(abs_quantity, bankruptcy_price))
        return fee_value - amount, abs_quantity * rate
    return -amount, abs_quantity * (rate + fee_rate)
