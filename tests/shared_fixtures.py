"""Fixtures of more than one test folder (registered by ``tests/conftest.py``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import perpmargin as pm
from perpmargin import interop
from perpmargin.sim.montecarlo import setup_from_plan
from perpmargin.sim.stress import stress_grid

BUNDLE = Path(__file__).parent / "interop" / "fixtures" / "binance-bundle.json"


@pytest.fixture(scope="module")
def setup() -> Any:
    """Monte Carlo of seed-2020-03-12's second plan ($5,000 margin at 10x: cross can go
    too) on a rough day (4x the bars' volatility)."""
    base = setup_from_plan(pm.load_plans("seed-2020-03-12")[1])
    return dataclasses.replace(base, step_vol=base.step_vol * 4)


@pytest.fixture(scope="module")
def pair_setup() -> Any:
    """Monte Carlo of pair-2025-10-10 (a BTC long and an ETH short)."""
    return setup_from_plan(pm.load_plans("pair-2025-10-10")[0])


@pytest.fixture(scope="module")
def mixed() -> pm.Account:
    """BTC long 0.5 isolated (3,000) + ETH short 10 cross; wallet 10,000 (the bundle)."""
    return interop.import_bundle(str(BUNDLE)).account


@pytest.fixture(scope="module")
def grid(mixed: pm.Account) -> Any:
    """The mixed account's stress grid, BTC and ETH -60 % .. +60 % in 10 % steps."""
    return stress_grid(mixed, shocks=np.round(np.arange(-0.6, 0.61, 0.1), 6))
