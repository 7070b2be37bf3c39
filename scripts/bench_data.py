"""Data-loading throughput: images per second for each loader, decode and augmentation split out.

For each dataset (training split, reference augmentation plus colour jitter) it reports:

* decoders: cv2.imdecode (what hifihr.data.io uses), PIL and torchvision.io.decode_image on the
  dataset's image files, one thread;
* read: ``HandDataset.read`` (annotation record, image and mask decoding), one process;
* crop+augment: ``HandDataset.transform`` on already decoded images (warp, mask, colour jitter,
  annotations), one process;
* loader: ``build_loader`` at batch 48 with 0, 1 and 2 workers, images per second over one
  epoch of ``--max-samples`` samples, worker start-up included.

Without dataset folders it generates datasets in the official layouts with the test fixture
writers (tests/fixtures/datasets.py), with pixel noise so the files compress like photographs.

    python scripts/bench_data.py                       # generated data
    python scripts/bench_data.py --freihand datasets/FreiHAND_pub_v2 --rhd datasets/RHD_published_v2
"""

from __future__ import annotations

import argparse
import itertools
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from torchvision.io import decode_image, read_file

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fixtures.datasets import write_freihand, write_ho3d, write_rhd  # noqa: E402

from hifihr.data import build_dataset, build_loader, set_epoch  # noqa: E402
from hifihr.data.io import read_image  # noqa: E402

BATCH = 48
COLOR = {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.02}


def generate(base: Path, samples: int, progress: Progress) -> dict[str, Path]:
    """Write FreiHAND (224² JPEG), HO-3D v2 (640×480 PNG), v3 (JPEG) and RHD (320² PNG) datasets."""
    task = progress.add_task("writing datasets", total=4)
    write_freihand(base / "freihand", num_train=samples, num_eval=1, noise=8.0)
    progress.advance(task)
    frames = {f"SEQ{s}": list(range(samples // 4)) for s in range(4)}
    write_ho3d(base / "ho3d_v2", version="v2", train=frames, evaluation={"EV1": [0]}, noise=8.0)
    progress.advance(task)
    write_ho3d(base / "ho3d_v3", version="v3", train=frames, evaluation={"EV1": [0]}, noise=8.0)
    progress.advance(task)
    write_rhd(base / "rhd", num_train=samples, num_eval=1, noise=8.0)
    progress.advance(task)
    return {name: base / name for name in ("freihand", "ho3d_v2", "ho3d_v3", "rhd")}


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def bench_decoders(paths: list[Path]) -> dict[str, float]:
    """Images per second of each decoder over ``paths`` (RGB uint8 output)."""
    decoders = {
        "cv2": read_image,
        "PIL": lambda p: np.asarray(Image.open(p).convert("RGB")),
        "torchvision": lambda p: decode_image(read_file(str(p))),
    }
    results = {}
    for name, decode in decoders.items():
        decode(paths[0])
        start = time.perf_counter()
        for path in paths:
            decode(path)
        results[name] = rate(len(paths), time.perf_counter() - start)
    return results


def bench_dataset(name: str, root: Path, max_samples: int, progress: Progress) -> dict[str, float]:
    dataset = build_dataset(name, root, "train", augmentation=COLOR)
    count = min(len(dataset), max_samples)
    task = progress.add_task(f"{name}: read / transform", total=2 * count)
    decoded, start = [], time.perf_counter()
    for i in range(count):
        decoded.append(dataset.read(i))
        progress.advance(task)
    read_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for i, item in enumerate(decoded):
        dataset.transform(i, *item)
        progress.advance(task)
    results = {"read": rate(count, read_seconds), "transform": rate(count, time.perf_counter() - start)}
    results.update(bench_decoders([record.image_path for record, _, _ in decoded[:64]]))
    del decoded
    for workers in (0, 1, 2):
        loader = build_loader(dataset, BATCH, shuffle=True, num_workers=workers)
        set_epoch(loader, 1)
        batches = min(len(loader), max(1, count // BATCH))
        task = progress.add_task(f"{name}: {workers} workers", total=batches)
        images, start = 0, time.perf_counter()
        for batch in itertools.islice(loader, batches):
            images += len(batch["index"])
            progress.advance(task)
        results[f"workers{workers}"] = rate(images, time.perf_counter() - start)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("freihand", "ho3d_v2", "ho3d_v3", "rhd"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=Path, help=f"{name} root (default: generated)")
    parser.add_argument("--samples", type=int, default=480, help="samples per generated dataset (default 480)")
    parser.add_argument("--max-samples", type=int, default=480, help="samples timed per dataset (default 480)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(0)  # the state build_loader leaves with workers; keeps the runs comparable
    console = Console()
    given = {name: getattr(args, name) for name in ("freihand", "ho3d_v2", "ho3d_v3", "rhd")}
    with tempfile.TemporaryDirectory() as tmp, Progress(console=console, transient=True) as progress:
        roots = generate(Path(tmp), args.samples, progress) if not all(given.values()) else {}
        roots.update({name: root for name, root in given.items() if root is not None})
        results = {name: bench_dataset(name, root, args.max_samples, progress) for name, root in roots.items()}

    table = Table(title=f"images/s, batch {BATCH}, {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread, cv2 {cv2.__version__}")
    columns = [("cv2", "decode cv2"), ("PIL", "decode PIL"), ("torchvision", "decode tv"), ("read", "read"),
               ("transform", "crop+augment"), ("workers0", "0 workers"), ("workers1", "1 worker"), ("workers2", "2 workers")]  # fmt: skip
    table.add_column("dataset")
    for _, title in columns:
        table.add_column(title, justify="right")
    for name, values in results.items():
        table.add_row(name, *(f"{values[key]:.0f}" for key, _ in columns))
    console.print(table)
    console.print("| dataset | " + " | ".join(title for _, title in columns) + " |")
    console.print("|---" * (len(columns) + 1) + "|")
    for name, values in results.items():
        console.print(f"| {name} | " + " | ".join(f"{values[key]:.0f}" for key, _ in columns) + " |")


if __name__ == "__main__":
    main()
