#!/usr/bin/env python
"""Benchmark a full training step: images per second and peak memory, for each supervision mode
and renderer backend, with the data excluded (one batch already on the device, stepped again
and again) and then included (batches read, cropped and augmented by the loader).

A step is the trainer's own (:meth:`hifihr.engine.Trainer.train_step`): forward, render when the
mode's terms need it, the objective, backward, gradient norm, optimiser step. The configs are
``config/synthetic/<mode>.json`` (the open hand, SH light) with the sizes below; the data is the
synthetic dataset (``--data``, FreiHAND layout; generated into a temporary folder when absent).

Defaults: on the CPU the configs' own sizes (ResNet-18, 128 px, no supersampling, batch 8); on a
GPU the reference's (EfficientNet-b3, 224 px rendered at 672 px, batch 48). Each measurement
runs in a fresh process, whose peak memory is reported: CPU, the peak resident set size (all of
the process: Python, libraries, network, optimiser, data); CUDA, ``torch.cuda.max_memory_allocated``.
PyTorch3D's CPU rasterizer takes about a minute per step at these sizes: on the CPU it runs
only when asked (``--backends pytorch3d``).

    python scripts/bench_train.py                          # CPU, and CUDA when available
    python scripts/bench_train.py --device cuda --modes full --steps 20
    python scripts/bench_train.py --device cpu --batch 4 --markdown
    python scripts/bench_train.py --device cuda --modes self --amp none bf16 --json bench.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Optional

import torch
from rich.console import Console
from rich.table import Table

from hifihr.config import load_config
from hifihr.data.synthetic import SceneOptions, generate
from hifihr.engine import Trainer
from hifihr.engine.setup import to_device
from hifihr.render import BACKENDS
from hifihr.render.backends import create_backend

REPO = Path(__file__).resolve().parents[1]
MODES = ("full", "weak", "self")
#: (backbone, image size, supersample, batch) per device type.
DEFAULT_SIZES = {"cpu": ("resnet18", 128, 1, 8), "cuda": ("efficientnet_b3", 224, 3, 48)}


def peak_memory_mib(device: torch.device) -> Optional[float]:
    """Peak memory of this process so far, MiB: CUDA ``max_memory_allocated``, else the peak
    resident set size (``VmHWM``); None where it cannot be read."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) / 2**10 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None


@dataclass(frozen=True)
class Result:
    mode: str
    backend: str
    data: str
    amp: str
    images_per_s: float
    step_ms: float
    peak_mib: Optional[float]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _trainer(mode: str, backend: str, device: str, sizes, data_root: Path, workers: Optional[int], out: Path, amp: str = "none") -> Trainer:
    backbone, size, supersample, batch = sizes
    overrides = [
        f"train.amp={amp}",
        f"experiment.output_dir={out}",
        f"experiment.name=bench_{mode}_{backend}",
        f"model.backbone={backbone}",
        "model.pretrained=false",  # speed does not depend on the weights, and timm's may not be cached
        f"render.image_size={size}",
        f"render.supersample={supersample}",
        f"render.backend={backend}",
        f"data.batch_size={batch}",
        f"data.train.0.root={data_root}",
        "data.train.0.options.verts=true",
        "data.val=[]",
    ] + ([f"data.num_workers={workers}"] if workers is not None else [])
    cfg = load_config(REPO / "config" / "synthetic" / f"{mode}.json", overrides)
    return Trainer(cfg, device=device, overwrite=True, tensorboard=False, console=Console(quiet=True))


def _cycle(trainer: Trainer) -> Iterator[dict]:
    epoch = 1
    while True:
        yield from trainer._epoch_batches(epoch, 0)
        epoch += 1


def _installed(backend: str, console: Console) -> bool:
    try:
        create_backend(backend)
    except ImportError as err:
        console.log(f"backend {backend!r} skipped: {err}")
        return False
    return True


def measure(trainer: Trainer, data: str, warmup: int, steps: int) -> float:
    """Mean step time (s) over ``steps`` after ``warmup`` untimed steps."""
    device = trainer.ctx.device
    trainer.set_train_mode()
    batches = _cycle(trainer)
    fixed = next(batches) if data == "excluded" else None
    for _ in range(warmup):
        trainer.train_step(fixed if fixed is not None else next(batches), 1)
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(fixed if fixed is not None else next(batches), 1)
    _sync(device)
    return (time.perf_counter() - start) / steps


def run_case(
    mode: str, backend: str, device: str, sizes, data_root: Path, workers, out: Path, data: str, warmup: int, steps: int, amp: str = "none"
) -> Result:
    """One measurement, meant to run in a fresh process (so its peak memory is its own)."""
    trainer = _trainer(mode, backend, device, sizes, data_root, workers, out, amp)
    seconds = measure(trainer, data, warmup, steps)
    return Result(mode, backend, data, amp, sizes[3] / seconds, 1000 * seconds, peak_memory_mib(trainer.ctx.device))


def _child(queue, fn, args) -> None:
    queue.put(fn(*args))


def in_fresh_process(context, fn, *args):
    """``fn(*args)`` in a new (non-daemonic, so it may start loader workers) process; its result.

    Raises:
        RuntimeError: the process failed (its traceback is on stderr).
    """
    queue = context.SimpleQueue()
    process = context.Process(target=_child, args=(queue, fn, args))
    process.start()
    process.join()
    if process.exitcode != 0 or queue.empty():
        raise RuntimeError(f"{fn.__name__}{args[:4]} failed (exit code {process.exitcode})")
    return queue.get()


def bench_data(root: Optional[str], size: int, batch: int) -> Path:
    """The dataset to read: ``root``, or a small synthetic set generated into a temporary folder."""
    if root is not None:
        return Path(root)
    folder = Path(tempfile.mkdtemp(prefix="bench_train_")) / "synthetic"
    # Eight batches: an epoch long enough that starting the loader's workers, once per epoch,
    # weighs about as little as in a real epoch of hundreds of batches.
    generate(folder, 8 * batch, 1, seed=0, options=SceneOptions(image_size=size), supersample=1, show_progress=False)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: CPU, and CUDA when available")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--backends", nargs="+", default=None, help="renderer backends (default: every installed one; torch only on the CPU)")
    parser.add_argument("--batch", type=int, help="batch size (default: 8 on CPU, 48 on CUDA)")
    parser.add_argument("--size", type=int, help="crop size, px (default: 128 on CPU, 224 on CUDA)")
    parser.add_argument("--backbone", help="encoder (default: resnet18 on CPU, efficientnet_b3 on CUDA)")
    parser.add_argument("--supersample", type=int, help="render supersampling (default: 1 on CPU, 3 on CUDA)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: 5 on CPU, 20 on CUDA)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default: 2)")
    parser.add_argument("--workers", type=int, default=None, help="loader workers for 'data included' (default: the config's)")
    parser.add_argument("--data", help="FreiHAND-layout dataset to read (default: generate a small synthetic one)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (for docs/performance.md)")
    parser.add_argument("--amp", nargs="+", choices=("none", "bf16", "fp16"), default=["none"], help="mixed precision settings to measure (default: none)")
    parser.add_argument("--json", help="also write every device's settings and results to this JSON file")
    args = parser.parse_args(argv)

    devices = ["cpu", "cuda"] if args.device == "auto" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    if args.device == "cuda" and not devices:
        parser.error("--device cuda: CUDA is not available")
    console = Console()
    installed = [name for name in BACKENDS.names() if _installed(name, console)]
    out = Path(tempfile.mkdtemp(prefix="bench_train_runs_"))
    report = []
    for device in devices:
        defaults = DEFAULT_SIZES[device]
        sizes = (
            args.backbone or defaults[0],
            args.size or defaults[1],
            args.supersample or defaults[2],
            args.batch or defaults[3],
        )
        steps = args.steps or (5 if device == "cpu" else 20)
        backends = args.backends or [b for b in installed if device == "cuda" or b != "pytorch3d"]
        data_root = bench_data(args.data, sizes[1], sizes[3])
        name = torch.cuda.get_device_name(0) if device == "cuda" else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
        results = []
        spawn = multiprocessing.get_context("spawn")
        for mode in args.modes:
            for backend in backends:
                for amp in args.amp:
                    for data in ("excluded", "included"):
                        result = in_fresh_process(
                            spawn, run_case, mode, backend, device, sizes, data_root, args.workers, out, data, args.warmup, steps, amp
                        )
                        results.append(result)
                        console.log(f"{device} {mode} {backend} amp {amp} data {data}: {result.images_per_s:.1f} img/s")
        title = (
            f"{name} ({device}): {sizes[0]}, {sizes[1]} px x{sizes[2]} supersampling, batch {sizes[3]}, "
            f"mean of {steps} steps after {args.warmup}"
        )
        table = Table(title=title)
        for column in ("mode", "backend", "amp", "data", "images/s", "step (ms)", "peak memory (MiB)"):
            table.add_column(column)
        for r in results:
            table.add_row(r.mode, r.backend, r.amp, r.data, f"{r.images_per_s:.1f}", f"{r.step_ms:.0f}", "-" if r.peak_mib is None else f"{r.peak_mib:.0f}")
        console.print(table)
        if args.markdown:
            print(f"\n{title}\n\n| mode | backend | amp | data | images/s | step (ms) | peak memory (MiB) |\n|---|---|---|---|---:|---:|---:|")
            for r in results:
                peak = "-" if r.peak_mib is None else f"{r.peak_mib:.0f}"
                print(f"| {r.mode} | {r.backend} | {r.amp} | {r.data} | {r.images_per_s:.1f} | {r.step_ms:.0f} | {peak} |")
        settings = dict(zip(("backbone", "image_size", "supersample", "batch"), sizes), steps=steps, warmup=args.warmup)
        report.append({"device": device, "device_name": name, "settings": settings, "results": [asdict(r) for r in results]})
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
