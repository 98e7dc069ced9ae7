"""The rulebook: every margin rule of perpmargin, once, as a plain scalar function.

The exact engine (:mod:`perpmargin.engine`) runs these functions on
:class:`decimal.Decimal`; the fast paths (:mod:`perpmargin.sim`) run the very same source
compiled by numba for the CPU and for CUDA devices (:mod:`perpmargin.sim.compiled`). A
rule therefore cannot drift between the ledger and the kernels: to change a rule, change
it here, and every implementation follows.

The contract every function here keeps
--------------------------------------
- scalar in, scalar out (a tuple of scalars at most); no state, no I/O;
- no imports of ``decimal``, ``numpy`` or ``numba`` (nor of the rest of perpmargin);
- only ``+ - * /``, comparisons, conditionals (``if`` or ``x if c else y``) and calls of
  other rules;
- the only literals are the integers ``0`` and ``1``, and they are never returned bare
  (``x if x > 0 else x - x``), so a result keeps the type of its inputs: Decimal in,
  Decimal out; float in, float out (a float literal would raise ``FloatOperation`` in the
  engine's Decimal context: the engine guards the contract);
- no rounding: the engine rounds money and prices at its named points
  (:func:`perpmargin.numeric.round_to_step`), the kernels round to the tick themselves;
- no tier lookup: the caller passes the tier's rate and amount (each data structure keeps
  its own lookup: :class:`perpmargin.venues.TierTable`, the kernels' arrays).

A function without a conditional expression also works element-wise on numpy arrays
(the numpy reference backends use them so).

Units and signs
---------------
Prices and money are in the settle asset (USDT, USDC; the coin for inverse contracts).
``signed_quantity`` is + for a long and - for a short, in base units (linear) or in
contracts (inverse). PnL is + when the trader gains; fees and requirements are + as
costs; a funding payment is + when the position pays.

Inverse (coin-margined) contracts
---------------------------------
Value q x cv / P and PnL q x cv x (1/E - 1/P) (:func:`inverse_value`,
:func:`inverse_pnl`) are the linear rules in the variable x = 1/P with the position
:func:`to_reciprocal` (side flipped, size q x cv, entry 1/E). The engine's exact solver
and every kernel work in that variable, so no requirement, price or settlement rule
exists twice for inverse contracts.

Which venue each rule serves
----------------------------
- :func:`maintenance_margin`: every venue (tiered MMR - maintenance amount; one tier on
  Hyperliquid and dYdX).
- :func:`size_scaled_rate`: Deribit's rates that grow with the position's size (the
  tier's ``rate_per_quantity``; 0 elsewhere).
- :func:`close_fee_price`: Bybit values the fee to close counted in maintenance at the
  bankruptcy price; OKX and Gate at the mark (``close_fee_basis`` in the venue file);
  Binance, Hyperliquid and dYdX count no fee to close.
- :func:`haircut_slice`, :func:`collateral_value`, :func:`equity_ratio`: unified
  (portfolio-margin) accounts: Binance PM, Bybit UTA, OKX multi-currency, Hyperliquid PM
  (:mod:`perpmargin.engine.unified`); :func:`scenario_loss`, :func:`risk_unit_requirement`:
  risk-based ones (Bybit PM, OKX PM, Deribit PM), in the engine and the fast grid.
- :func:`settle_liquidation`: every venue; what is left after the fee goes to the
  insurance fund (Binance, Bybit, Gate) or back to the trader (``remainder_to``).

How to add a rule
-----------------
Write the function in the module of its kind (value, requirement, settlement, prices),
add it to ``__all__`` here, add a test in ``tests/formulas/`` that takes a venue's own
worked example on Decimal, and a row in ``tests/parity/``. :mod:`perpmargin.sim.compiled`
compiles everything listed in :data:`RULES`.
"""

from perpmargin.formulas.arith import positive_part, smaller
from perpmargin.formulas.collateral import (
    collateral_value,
    equity_ratio,
    haircut_slice,
    risk_unit_requirement,
    scenario_loss,
)
from perpmargin.formulas.prices import (
    bankruptcy_price,
    line_root,
    pool_line,
    standing_bankruptcy_price,
)
from perpmargin.formulas.requirement import (
    close_fee,
    close_fee_price,
    estimated_close_fee,
    initial_margin,
    maintenance_margin,
    margin_ratio,
    open_loss,
    requirement,
    requirement_line,
    size_scaled_rate,
)
from perpmargin.formulas.settlement import (
    adl_score,
    adl_score_set_leverage,
    capped,
    funding_payment,
    settle_isolated_close,
    settle_isolated_funding,
    settle_liquidation,
    shortfall,
    trade_fee,
)
from perpmargin.formulas.value import (
    average_entry,
    inverse_average_entry,
    inverse_pnl,
    inverse_value,
    position_value,
    price_for_pnl,
    reciprocal,
    to_reciprocal,
    unrealized_pnl,
)

__all__ = [
    "RULES",
    "adl_score",
    "adl_score_set_leverage",
    "average_entry",
    "bankruptcy_price",
    "capped",
    "close_fee",
    "close_fee_price",
    "collateral_value",
    "equity_ratio",
    "estimated_close_fee",
    "funding_payment",
    "haircut_slice",
    "initial_margin",
    "inverse_average_entry",
    "inverse_pnl",
    "inverse_value",
    "line_root",
    "maintenance_margin",
    "margin_ratio",
    "open_loss",
    "pool_line",
    "position_value",
    "positive_part",
    "price_for_pnl",
    "reciprocal",
    "requirement",
    "requirement_line",
    "risk_unit_requirement",
    "scenario_loss",
    "settle_isolated_close",
    "settle_isolated_funding",
    "settle_liquidation",
    "shortfall",
    "size_scaled_rate",
    "smaller",
    "standing_bankruptcy_price",
    "to_reciprocal",
    "trade_fee",
    "unrealized_pnl",
]

RULES = (
    adl_score,
    adl_score_set_leverage,
    average_entry,
    bankruptcy_price,
    capped,
    close_fee,
    close_fee_price,
    collateral_value,
    equity_ratio,
    estimated_close_fee,
    funding_payment,
    haircut_slice,
    initial_margin,
    inverse_average_entry,
    inverse_pnl,
    inverse_value,
    line_root,
    maintenance_margin,
    margin_ratio,
    open_loss,
    pool_line,
    position_value,
    positive_part,
    price_for_pnl,
    reciprocal,
    requirement,
    requirement_line,
    risk_unit_requirement,
    scenario_loss,
    settle_isolated_close,
    settle_isolated_funding,
    settle_liquidation,
    shortfall,
    size_scaled_rate,
    smaller,
    standing_bankruptcy_price,
    to_reciprocal,
    trade_fee,
    unrealized_pnl,
)
"""Every rule, for :mod:`perpmargin.sim.compiled` and the tests."""
