"""scripts/gpu_check.py without a CUDA device: a clear message, exit status 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_without_cuda_says_so(tmp_path):
    out = tmp_path / "gpu.json"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # hides any GPU, so this also runs on a CUDA machine
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gpu_check.py"), "--out", str(out)], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert done.returncode == 2, done.stderr
    assert "no CUDA device is available" in done.stderr and "nothing was measured" in done.stderr
    assert not out.exists()
