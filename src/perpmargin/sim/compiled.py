"""The rulebook compiled: every rule of :mod:`perpmargin.formulas` as numba machine code.

The exact engine runs the rules on Decimal; the kernels call the same source compiled
here for the CPU (``njit(inline="always")``: inlined into each kernel, as fast as
hand-written arithmetic) and, on demand, for CUDA devices (:func:`device`). A rule that
calls another rule is compiled with that call pointed at the compiled callee.

Kernels import the CPU versions by the rule's own name::

    from perpmargin.sim.compiled import maintenance_margin, unrealized_pnl

and :func:`device` turns any CPU kernel function into a CUDA device function by pointing
each compiled function it calls (rules and other per-item kernel functions alike) at its
device version: one source for both targets.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from numba import njit
from numba.core.registry import CPUDispatcher

from perpmargin import formulas

__all__ = ["CPU", "device", *(f.__name__ for f in formulas.RULES)]

_RULES: dict[str, Callable[..., Any]] = {f.__name__: f for f in formulas.RULES}


def _clone(func: Any, scope: dict[str, Any]) -> types.FunctionType:
    return types.FunctionType(
        func.__code__, scope, func.__name__, func.__defaults__, func.__closure__
    )


def _compile_rule(name: str, jit: Callable[[Any], Any], done: dict[str, Any]) -> Any:
    """Rule ``name`` compiled by ``jit``, its calls of other rules pointed at theirs."""
    if name not in done:
        func = _RULES[name]
        scope = dict(func.__globals__)
        for callee in func.__code__.co_names:
            if callee in _RULES:
                scope[callee] = _compile_rule(callee, jit, done)
        done[name] = jit(_clone(func, scope))
    return done[name]


def _compile_all(jit: Callable[[Any], Any]) -> dict[str, Any]:
    done: dict[str, Any] = {}
    for name in _RULES:
        _compile_rule(name, jit, done)
    return done


CPU: dict[str, Any] = _compile_all(njit(inline="always"))
"""Every rule compiled for the CPU, by name (compiled lazily, on first call)."""

adl_score = CPU["adl_score"]
adl_score_set_leverage = CPU["adl_score_set_leverage"]
average_entry = CPU["average_entry"]
bankruptcy_price = CPU["bankruptcy_price"]
capped = CPU["capped"]
close_fee = CPU["close_fee"]
close_fee_price = CPU["close_fee_price"]
collateral_value = CPU["collateral_value"]
equity_ratio = CPU["equity_ratio"]
estimated_close_fee = CPU["estimated_close_fee"]
funding_payment = CPU["funding_payment"]
haircut_slice = CPU["haircut_slice"]
initial_margin = CPU["initial_margin"]
inverse_average_entry = CPU["inverse_average_entry"]
inverse_pnl = CPU["inverse_pnl"]
inverse_value = CPU["inverse_value"]
line_root = CPU["line_root"]
maintenance_margin = CPU["maintenance_margin"]
margin_ratio = CPU["margin_ratio"]
open_loss = CPU["open_loss"]
pool_line = CPU["pool_line"]
position_value = CPU["position_value"]
positive_part = CPU["positive_part"]
price_for_pnl = CPU["price_for_pnl"]
reciprocal = CPU["reciprocal"]
requirement = CPU["requirement"]
requirement_line = CPU["requirement_line"]
risk_unit_requirement = CPU["risk_unit_requirement"]
scenario_loss = CPU["scenario_loss"]
settle_isolated_close = CPU["settle_isolated_close"]
settle_isolated_funding = CPU["settle_isolated_funding"]
settle_liquidation = CPU["settle_liquidation"]
shortfall = CPU["shortfall"]
size_scaled_rate = CPU["size_scaled_rate"]
smaller = CPU["smaller"]
standing_bankruptcy_price = CPU["standing_bankruptcy_price"]
to_reciprocal = CPU["to_reciprocal"]
trade_fee = CPU["trade_fee"]
unrealized_pnl = CPU["unrealized_pnl"]

_DEVICE: dict[int, Any] = {}


def device(func: Any) -> Any:
    """The CPU-compiled function ``func`` (a rule or a kernel's per-item function) as a
    CUDA device function, every compiled function it calls pointed at its own device
    version (recursively; memoised). Needs numba.cuda (a GPU or the simulator)."""
    key = id(func)
    if key in _DEVICE:
        return _DEVICE[key]
    from numba import cuda

    py = func.py_func
    scope = dict(py.__globals__)
    for name in py.__code__.co_names:
        callee = scope.get(name)
        if isinstance(callee, CPUDispatcher):
            scope[name] = device(callee)
    _DEVICE[key] = cuda.jit(device=True)(_clone(py, scope))
    return _DEVICE[key]
