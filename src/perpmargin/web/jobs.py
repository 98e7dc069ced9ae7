"""Background Monte Carlo runs with progress, for the Odds page and ``/api/v1/montecarlo/jobs``.

Jobs run one at a time on a worker thread (the kernel already uses every core); their
state lives in memory, so it is gone when the server stops — a finished job's result is
also saved in the database when it was asked to be. When the server stops, the running
job is stopped at its next progress report (the Monte Carlo reports after each chunk of
paths, a second or so of work) and queued ones are dropped.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from perpmargin.errors import PerpMarginError

__all__ = ["Job", "JobManager", "JobStopped"]


class JobStopped(PerpMarginError):
    """The server stopped while the job ran."""


@dataclass
class Job:
    """One run: ``state`` goes queued → running → done | failed."""

    id: str
    total_paths: int
    state: str = "queued"
    done_paths: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    saved_id: int | None = None
    stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def status(self) -> dict[str, Any]:
        """The job as the API returns it."""
        end = self.finished if self.finished is not None else time.monotonic()
        return {
            "id": self.id,
            "state": self.state,
            "done_paths": self.done_paths,
            "total_paths": self.total_paths,
            "elapsed_s": round(end - self.started, 3),
            "result": self.result,
            "error": self.error,
            "saved_id": self.saved_id,
        }


class JobManager:
    """Runs jobs on one worker thread and keeps the last ``keep`` of them."""

    def __init__(self, max_pending: int = 8, keep: int = 100) -> None:
        self._pool: ThreadPoolExecutor | None = None  # made on the first job
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._max_pending = max_pending
        self._keep = keep

    def submit(
        self,
        total_paths: int,
        work: Callable[[Callable[[int], None]], dict[str, Any]],
        on_done: Callable[[dict[str, Any]], int | None] | None = None,
    ) -> Job:
        """Queue ``work(progress)``; ``on_done(result)`` may save it and return an id.

        Raises :class:`PerpMarginError` when ``max_pending`` jobs are already waiting.
        """
        with self._lock:
            pending = sum(j.state in ("queued", "running") for j in self._jobs.values())
            if pending >= self._max_pending:
                raise PerpMarginError(
                    f"{pending} jobs are already waiting or running; try again when one ends"
                )
            job = Job(uuid.uuid4().hex, total_paths)
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.finished is not None]
            for old in finished[: max(0, len(self._jobs) - self._keep)]:
                del self._jobs[old.id]

        def run() -> None:
            job.state = "running"
            job.started = time.monotonic()

            def progress(k: int) -> None:
                job.done_paths += k
                if job.stop.is_set():
                    raise JobStopped("the server stopped while the job ran")

            try:
                if job.stop.is_set():
                    raise JobStopped("the server stopped before the job started")
                job.result = work(progress)
                if on_done is not None:
                    job.saved_id = on_done(job.result)
                job.state = "done"
            except PerpMarginError as exc:
                job.error = str(exc)
                job.state = "failed"
            except Exception as exc:  # a bug: keep the server up and say what happened
                job.error = f"internal error: {type(exc).__name__}: {exc}"
                job.state = "failed"
            finally:
                job.finished = time.monotonic()

        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="perpmargin-job")
            self._pool.submit(run)
        return job

    def get(self, job_id: str) -> Job:
        """A job by id; ``KeyError`` when unknown (or forgotten)."""
        with self._lock:
            return self._jobs[job_id]

    def shutdown(self) -> None:
        """Stop the running job at its next progress report and drop queued ones; return
        when the worker is idle (a later job starts a new worker)."""
        with self._lock:
            pool, self._pool = self._pool, None
            for job in self._jobs.values():
                if job.finished is None:
                    job.stop.set()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for job in list(self._jobs.values()):
            if job.state == "queued":  # cancelled before its turn: never ran
                job.state, job.error = "failed", "the server stopped before the job started"
                job.finished = time.monotonic()
