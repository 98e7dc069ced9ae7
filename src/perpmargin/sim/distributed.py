"""Dask backend: chunks of accounts or paths as tasks on a dask.distributed cluster.

``scheduler`` may be ``None`` (a ``LocalCluster`` started once per process, one worker
per core, one thread each, kept for later calls), an address such as
``"tcp://10.0.0.5:8786"`` (a real cluster), or a ``distributed.Client``.
"""

from __future__ import annotations

import atexit
import itertools
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from perpmargin.errors import InvalidInput

__all__ = ["chunk_bounds", "client_for", "map_chunks", "shutdown_local_cluster"]

_LOCAL: dict[int, Any] = {}


def client_for(scheduler: Any = None, *, n_workers: int | None = None) -> Any:
    """A ``distributed.Client`` for ``scheduler`` (see the module docstring)."""
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        return scheduler
    if isinstance(scheduler, str):
        return Client(scheduler)
    workers = n_workers or os.cpu_count() or 1
    if workers not in _LOCAL:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=40,
        )
        _LOCAL[workers] = Client(cluster)
    return _LOCAL[workers]


def shutdown_local_cluster() -> None:
    """Close the local clusters this process started."""
    for client in _LOCAL.values():
        cluster = client.cluster
        client.close()
        if cluster is not None:
            cluster.close()
    _LOCAL.clear()


atexit.register(shutdown_local_cluster)


def chunk_bounds(n: int, chunks: int | None) -> list[tuple[int, int]]:
    """``n`` items in ``chunks`` contiguous slices ``(start, stop)`` (default: two per core).

    Raises
    ------
    InvalidInput
        ``chunks`` is not a whole number >= 1.
    """
    if chunks is not None and (
        isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1
    ):
        raise InvalidInput(f"chunks must be a whole number >= 1, was {chunks!r}")
    k = max(1, min(n, chunks or 2 * (os.cpu_count() or 1)))
    edges = np.linspace(0, n, k + 1).astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def _one_thread(func: Callable[..., Any], *args: Any) -> Any:
    """Run a task with numba on one thread: the cluster's workers are the parallelism."""
    import numba

    numba.set_num_threads(1)
    return func(*args)


def map_chunks(
    func: Callable[..., Any], chunks: Sequence[tuple[Any, ...]], scheduler: Any = None
) -> list[Any]:
    """Run ``func(*chunk)`` for every chunk on the cluster; results in chunk order.

    Each task runs numba single-threaded (a worker per core is the parallelism).
    """
    client = client_for(scheduler)
    futures = [client.submit(_one_thread, func, *args, pure=False) for args in chunks]
    return list(client.gather(futures))
