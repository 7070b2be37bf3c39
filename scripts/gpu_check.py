#!/usr/bin/env python
"""Everything this project measures on a GPU, in one command, into one JSON file.

On a machine with a CUDA device it runs, in order:

1. the CUDA tests (``pytest -m cuda``), recording their summary line and exit status;
2. the renderer benchmark on CUDA, our rasteriser against PyTorch3D
   (``scripts/bench_render.py --device cuda``), recording its printed table;
3. ``scripts/bench_train.py`` at the reference's setting: EfficientNet-b3, 224 px rendered at
   672 px, batch 48, self-supervised with texture, AMP off and on (``bf16`` where the device
   supports it, else ``fp16``).

and writes ``{"device_name", "torch", "cuda", "tests", "render_benchmark", "train_benchmark"}``
to ``--out`` (default ``outputs/gpu_check.json``). Without a CUDA device it writes nothing and
exits with status 2 and a message saying so.

    python scripts/gpu_check.py                    # or: make gpu-check
    python scripts/gpu_check.py --out gpu.json --train-steps 10
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
NO_CUDA_EXIT = 2


def _run(command: list[str]) -> dict:
    """Run ``command`` in the repository; its exit status and the tail of its output."""
    print("+ " + " ".join(command), flush=True)
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    output = done.stdout + done.stderr
    print(output[-4000:], flush=True)
    return {"command": command, "returncode": done.returncode, "output_tail": output[-8000:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="outputs/gpu_check.json", help="JSON file to write (default: outputs/gpu_check.json)")
    parser.add_argument("--train-steps", type=int, default=20, help="timed steps per training benchmark case (default: 20)")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA device is available (torch.cuda.is_available() is False, torch "
            f"{torch.__version__}, built for CUDA {torch.version.cuda}); nothing was measured. Run it on a "
            "machine with an NVIDIA GPU and a CUDA build of torch.",
            file=sys.stderr,
        )
        return NO_CUDA_EXIT
    python = sys.executable
    amp_on = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    report = {
        "device_name": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "tests": _run([python, "-m", "pytest", "-q", "-m", "cuda", "tests"]),
        "render_benchmark": _run([python, "scripts/bench_render.py", "--device", "cuda"]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        train_json = Path(tmp) / "bench_train.json"
        train = _run(
            [
                python, "scripts/bench_train.py", "--device", "cuda", "--modes", "self",
                "--backbone", "efficientnet_b3", "--size", "224", "--supersample", "3", "--batch", "48",
                "--amp", "none", amp_on, "--steps", str(args.train_steps), "--json", str(train_json),
            ]
        )  # fmt: skip
        train["results"] = json.loads(train_json.read_text()) if train_json.is_file() else None
    report["train_benchmark"] = train
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out} ({report['device_name']})")
    failed = [key for key in ("tests", "render_benchmark", "train_benchmark") if report[key]["returncode"] != 0]
    if failed:
        print(f"gpu_check: these steps failed: {', '.join(failed)} (see {out})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
