"""The rulebook's contract (perpmargin.formulas): one source, any number type.

Each rule is checked to be plain arithmetic (no imports but other rules, no literals but
0 and 1), to return the type it is given (Decimal, float; numpy arrays for the rules
without a conditional), and to give bit-identical floats when compiled by numba for the
kernels (perpmargin.sim.compiled).
"""

import ast
import inspect
import itertools
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest

import perpmargin.formulas as F
from perpmargin.numeric import engine_context
from perpmargin.sim import compiled

RULES = {f.__name__: f for f in F.RULES}
MODULES = sorted(Path(F.__file__).parent.glob("*.py"))
VALUES = ["1.5", "0.75", "2.25", "3.5", "0.4", "5.0"]


def _args(rule, kind, flag=True):
    out = []
    numbers = itertools.cycle(VALUES)
    for name, p in inspect.signature(rule).parameters.items():
        if p.annotation == "bool":
            out.append(flag)
        elif kind == "decimal":
            out.append(D(next(numbers)))
        elif kind == "float":
            out.append(float(next(numbers)))
        else:
            out.append(np.array([float(next(numbers)), -float(next(numbers))]))
        del name
    return out


def _leaves(x):
    return list(x) if isinstance(x, tuple) else [x]


def test_every_rule_is_exported_and_listed():
    public = set(F.__all__) - {"RULES"}
    assert public == set(RULES)
    assert set(compiled.CPU) == set(RULES)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_rule_modules_keep_the_contract(path):
    """No imports of decimal / numpy / numba (only typing and other rules), no float or
    other literals, calls only of other rules."""
    tree = ast.parse(path.read_text())
    for node in tree.body:  # run-time imports (_types.py imports for type checkers only)
        if isinstance(node, ast.ImportFrom):
            assert node.module in ("__future__", "typing") or node.module.startswith(
                "perpmargin.formulas"
            ), node.module
        assert not isinstance(node, ast.Import), path.name
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    for fn in functions:
        for node in ast.walk(fn):
            if isinstance(node, ast.Constant) and not isinstance(node.value, str):
                assert type(node.value) is int, (fn.name, node.value)
                assert node.value in (0, 1), (fn.name, node.value)
            if isinstance(node, ast.Call):
                assert isinstance(node.func, ast.Name), fn.name
                assert node.func.id in RULES, fn.name
            assert not isinstance(node, ast.Attribute), fn.name


@pytest.mark.parametrize("name", sorted(RULES))
def test_result_type_follows_the_input(name):
    rule = RULES[name]
    for flag in (True, False):
        with engine_context():  # FloatOperation is trapped: no float may sneak in
            out = rule(*_args(rule, "decimal", flag))
        assert all(type(x) is D for x in _leaves(out)), (name, out)
        out = rule(*_args(rule, "float", flag))
        assert all(type(x) is float for x in _leaves(out)), (name, out)


@pytest.mark.parametrize("name", sorted(RULES))
def test_compiled_rule_equals_the_python_rule_bit_for_bit(name):
    rule = RULES[name]
    for flag in (True, False):
        args = _args(rule, "float", flag)
        assert _leaves(compiled.CPU[name](*args)) == _leaves(rule(*args)), name


def test_rules_without_a_conditional_work_on_numpy_arrays():
    """The numpy reference backends call these element-wise; the others raise."""
    elementwise = set()
    for name, rule in RULES.items():
        try:
            out = rule(*_args(rule, "array"))
        except ValueError:  # "truth value of an array is ambiguous"
            continue
        elementwise.add(name)
        columns = [
            rule(*[a[j] if isinstance(a, np.ndarray) else a for a in _args(rule, "array")])
            for j in range(2)
        ]
        for k, leaf in enumerate(_leaves(out)):
            assert list(leaf) == [_leaves(c)[k] for c in columns], name
    assert {
        "position_value",
        "unrealized_pnl",
        "maintenance_margin",
        "bankruptcy_price",
        "trade_fee",
        "funding_payment",
        "pool_line",
        "line_root",
        "to_reciprocal",
    } <= elementwise
