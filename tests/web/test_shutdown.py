"""Stopping the server while a Monte Carlo job runs (issue 22: Ctrl-C stops within seconds).

The job manager stops the running job at its next progress report; ``perpmargin serve``
given SIGINT (Ctrl-C) with a long job running exits long before the job would end.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from perpmargin.web.jobs import JobManager
from perpmargin.web.local import free_port
from perpmargin.web.service import job_chunk_paths


def test_shutdown_stops_the_running_job_at_its_next_report() -> None:
    jobs = JobManager()
    started = threading.Event()

    def endless(progress: object) -> dict[str, object]:
        started.set()
        for _ in range(10_000):  # 10,000 reports of 10 ms: 100 s unless stopped
            time.sleep(0.01)
            progress(1)  # type: ignore[operator]
        return {}

    running = jobs.submit(10_000, endless)
    queued = jobs.submit(1, endless)
    assert started.wait(10)
    t0 = time.monotonic()
    jobs.shutdown()
    assert time.monotonic() - t0 < 2
    assert running.state == "failed"
    assert "server stopped while the job ran" in str(running.error)
    assert queued.state == "failed"
    assert "before the job started" in str(queued.error)
    assert 0 < running.done_paths < 10_000


def test_server_chunks_report_about_once_a_second() -> None:
    assert job_chunk_paths(10_000_000, 500) == 100_000  # 50 reports
    assert job_chunk_paths(1_000, 5_000_000) == 10  # 5e7 path-steps a chunk
    assert job_chunk_paths(10, 100_000_000) == 1
    assert job_chunk_paths(100, 10) == 1_000


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as r:
        doc: dict[str, object] = json.load(r)
        return doc


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_ctrl_c_with_a_job_running_stops_the_server_within_seconds(tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-c", "from perpmargin.cli import app; app()", "serve"]
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [*cmd, "--port", str(port), "--db", str(tmp_path / "p.db")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/api/v1/venues")
                break
            except OSError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        # 10 million paths of a day of 1-minute steps: minutes of work on any machine
        body = {"scenario": "seed-2020-03-12", "paths": 10_000_000, "steps": 400}
        request = urllib.request.Request(
            f"{base}/api/v1/montecarlo/jobs",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as r:
            job_id = json.load(r)["id"]
        while True:  # wait until the kernel is running (compiled, first chunk done)
            status = _get(f"{base}/api/v1/jobs/{job_id}")
            if int(status["done_paths"]) > 0:  # type: ignore[call-overload]
                break
            assert time.monotonic() < deadline + 60, status
            time.sleep(0.2)
        assert status["state"] == "running"
        t0 = time.monotonic()
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        took = time.monotonic() - t0
        total = int(status["total_paths"])  # type: ignore[call-overload]
        assert took < 10, f"took {took:.1f} s to stop: {log.read_text()}"
        assert int(status["done_paths"]) < total  # type: ignore[call-overload]
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
