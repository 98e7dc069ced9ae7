"""benchmarks/gpu.py, the one script a GPU machine runs, works end to end under numba's
CUDA simulator: every check passes and every figure is produced (the figures of a
simulator mean nothing; on a lent GPU the same script gives the real ones)."""

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "gpu.py"


def test_the_gpu_script_checks_every_kernel_under_the_simulator():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--small"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    doc = json.loads(run.stdout.strip().splitlines()[-1])
    assert doc["simulator"] is True
    assert doc["checks_failed"] == []
    # 3 books x 6 (one of them streamed), 9 Monte Carlo (3 with stops), 3 sweeps, 3 advise
    assert len(doc["checks"]) == 33
    for key in ("gpu_revalue_positions_per_s", "gpu_mc_path_steps_per_s",
                "gpu_sweep_bar_steps_per_s", "cpu_revalue_positions_per_s",
                "cpu_mc_path_steps_per_s", "cpu_sweep_bar_steps_per_s",
                "gpu_revalue_fraction_of_read_bandwidth",
                "gpu_revalue_streamed_positions_per_s"):  # fmt: skip
        assert doc[key] > 0, key
