"""Latency and throughput of the HTTP API, against the same work called in-process.

The app runs under uvicorn on 127.0.0.1 in a thread of this process (one worker, as
``perpmargin serve`` runs it); requests are sent one after another over one keep-alive
connection (httpx2), so the figures are per-request latency, not a load test.
Baseline measured in the same run: the same request validated by the pydantic model and
answered by the service function, with no HTTP — so ``overhead_ms`` is what HTTP,
routing and JSON cost per request.

Usage: python benchmarks/web.py [--n 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx

from perpmargin.web import create_app, service
from perpmargin.web.local import running
from perpmargin.web.schemas import CheckRequest, LiqRequest, ReplayRequest

LIQ = {"venue": "binance-usdm", "symbol": "BTCUSDT", "side": "long", "entry": "50000",
       "qty": "0.1", "leverage": "10", "mode": "both", "collateral": "10000"}  # fmt: skip
CHECK = {"symbol": "BTCUSDT", "side": "long", "entry": "50000", "stop": "48000",
         "leverage": "20", "balance": "10000", "venues": ["all"]}  # fmt: skip
REPLAY = {"scenario": "seed-2020-03-12"}


def _times(call: Callable[[], Any], n: int) -> list[float]:
    call()  # warm caches (venue files, numba, imports)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        out.append(time.perf_counter() - t)
    return out


def _row(name: str, http: list[float], direct: list[float]) -> dict[str, Any]:
    def ms(xs: list[float], q: float) -> float:
        return round(1000 * statistics.quantiles(xs, n=100)[int(q) - 1], 3) if len(xs) > 2 else 0

    p50_http, p50_direct = ms(http, 50), ms(direct, 50)
    return {
        "request": name,
        "n": len(http),
        "http_p50_ms": p50_http,
        "http_p99_ms": ms(http, 99),
        "http_req_per_s": round(len(http) / sum(http), 1),
        "direct_p50_ms": p50_direct,
        "overhead_ms": round(p50_http - p50_direct, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    db = Path(tempfile.mkdtemp(prefix="perpmargin-bench-")) / "bench.db"
    rows = []
    with running(create_app(db)) as url, httpx.Client(base_url=url) as client:

        def post(path: str, body: dict[str, Any]) -> Callable[[], Any]:
            def call() -> Any:
                response = client.post(path, json=body)
                response.raise_for_status()
                return response.json()

            return call

        cases = [
            ("POST /api/v1/liq (both modes)", post("/api/v1/liq", LIQ),
             lambda: service.run_liq(LiqRequest.model_validate(LIQ)), args.n),
            ("POST /api/v1/check (6 venues)", post("/api/v1/check", CHECK),
             lambda: service.run_check(CheckRequest.model_validate(CHECK)), max(10, args.n // 10)),
            ("POST /api/v1/replay (1,440 1-min bars)", post("/api/v1/replay", REPLAY),
             lambda: service.replay_summary(service.run_replay(
                 ReplayRequest.model_validate(REPLAY))), 5),
            ("GET /calculator?... (page)", lambda: client.get(
                "/calculator?entry=50000&stop=48000").raise_for_status(),
             lambda: service.run_check(CheckRequest.model_validate(
                 {**CHECK, "venues": ["binance-usdm"], "risk": "1%"})), max(10, args.n // 5)),
        ]  # fmt: skip
        for name, http_call, direct_call, n in cases:
            rows.append(_row(name, _times(http_call, n), _times(direct_call, n)))
    if not args.json:
        for r in rows:
            print(
                f"{r['request']:42s} p50 {r['http_p50_ms']:8.2f} ms  p99 {r['http_p99_ms']:8.2f} ms"
                f"  {r['http_req_per_s']:8.1f} req/s   in-process p50 {r['direct_p50_ms']:8.2f} ms"
                f"  HTTP overhead {r['overhead_ms']:6.2f} ms"
            )
    print(json.dumps({"benchmark": "web", "rows": rows}))


if __name__ == "__main__":
    main()
