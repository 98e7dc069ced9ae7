"""Shared fixtures and the hypothesis profiles (``ci`` is derandomised and bounded)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

import perpmargin as pm

pytest_plugins = ["tests.shared_fixtures"]

settings.register_profile(
    "ci",
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=60, deadline=None)
# ``make fuzz``: fresh random examples (a new seed each run, printed by hypothesis on a
# failure), many of them: what a derandomised ``ci`` run cannot draw
settings.register_profile(
    "fuzz",
    max_examples=400,
    derandomize=False,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def binance() -> pm.Venue:
    return pm.load_venue("binance-usdm")


@pytest.fixture(scope="session")
def bybit() -> pm.Venue:
    return pm.load_venue("bybit-linear")


@pytest.fixture(scope="session")
def hyperliquid() -> pm.Venue:
    return pm.load_venue("hyperliquid")


@pytest.fixture(scope="session")
def dask_client():  # type: ignore[no-untyped-def]
    """A real dask.distributed LocalCluster with 2 worker processes, one thread each."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()
