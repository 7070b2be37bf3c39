"""Benchmark the renderer backends side by side and print one table.

Case: a hand-like mesh of the official NIMBLE skin's size (a palm and five fingers, ~5k
vertices, ~10k faces) filling a 224 x 224 crop like a FreiHAND hand, rendered at 672 x 672
(3x supersampling) with a 1024 x 1024 UV texture and the reference's hard Phong shading;
gradients flow to the vertices, the texture and the light. Batches 2 and 8 on CPU, 8 and 48 on a
GPU. PyTorch3D's CPU rasterizer takes minutes per batch, so on CPU it runs once per batch size
(no warm-up); the torch backend runs one warm-up and ``--repeats`` timed runs (median).

Columns: forward and forward+backward wall-clock milliseconds, the peak memory above the memory
in use before the run (CPU: peak resident set size, reset through /proc/self/clear_refs; CUDA:
``torch.cuda.max_memory_allocated``), and PyTorch3D's time divided by this row's time.

    python scripts/bench_render.py                      # CPU, and CUDA when available
    python scripts/bench_render.py --device cuda --repeats 10
    python scripts/bench_render.py --device cpu --threads 1 --batch 8
"""

from __future__ import annotations

import argparse
import math
import platform
import re
import statistics
import time
from dataclasses import dataclass

import torch

from hifihr.render import BACKENDS, DirectionalLight, Renderer, TexturesUV

IMAGE_SIZE = 224
SUPERSAMPLE = 3
TEXTURE_SIZE = 1024
DEFAULT_BATCHES = {"cpu": (2, 8), "cuda": (8, 48)}


def ellipsoid(num_rings, num_around, radii, centre, tilt, uv_box):
    """UV-sphere ellipsoid (long axis y, tilted by ``tilt`` radians about z), faces
    counter-clockwise seen from outside, UVs packed into ``uv_box`` = (u0, v0, u1, v1)."""
    lat = torch.linspace(0, math.pi, num_rings + 2)[1:-1]
    lon = torch.arange(num_around) * (2 * math.pi / num_around)
    lat_g, lon_g = torch.meshgrid(lat, lon, indexing="ij")
    ring = torch.stack([lat_g.sin() * lon_g.cos(), -lat_g.cos(), lat_g.sin() * lon_g.sin()], -1).reshape(-1, 3)
    verts = torch.cat([ring, torch.tensor([[0.0, -1.0, 0.0], [0.0, 1.0, 0.0]])]) * torch.tensor(radii)
    c, s = math.cos(tilt), math.sin(tilt)
    verts = verts @ torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T + torch.tensor(centre)
    idx = torch.arange(num_rings * num_around).view(num_rings, num_around)
    a, b, c_, d = idx[:-1], idx[:-1].roll(-1, 1), idx[1:], idx[1:].roll(-1, 1)
    bottom, top = num_rings * num_around, num_rings * num_around + 1
    faces = torch.cat(
        [
            torch.stack([a, c_, b], -1).reshape(-1, 3),
            torch.stack([b, c_, d], -1).reshape(-1, 3),
            torch.stack([torch.full_like(idx[0], bottom), idx[0], idx[0].roll(-1)], -1),
            torch.stack([torch.full_like(idx[-1], top), idx[-1].roll(-1), idx[-1]], -1),
        ]
    )
    uv = torch.stack([lon_g / (2 * math.pi), lat_g / math.pi], -1).reshape(-1, 2)
    uv = torch.cat([uv, torch.tensor([[0.5, 0.0], [0.5, 1.0]])])
    u0, v0, u1, v1 = uv_box
    return verts, faces, uv * torch.tensor([u1 - u0, v1 - v0]) + torch.tensor([u0, v0])


def hand_like_mesh():
    """Palm and five fingers in metres around the origin (y down the fingers, OpenCV axes).

    Returns verts [V, 3], faces [F, 3], verts_uvs [V, 2] (faces_uvs = faces).
    """
    parts = [((30, 60), (0.045, 0.05, 0.016), (0.0, 0.0, 0.0), 0.0)]
    parts += [((24, 28), (0.009, 0.04, 0.009), (x, -0.085, 0.0), 0.0) for x in (-0.033, -0.011, 0.011, 0.033)]
    parts += [((24, 28), (0.01, 0.035, 0.01), (0.055, -0.01, -0.005), -0.9)]
    verts, faces, uvs, offset = [], [], [], 0
    for k, (rings, radii, centre, tilt) in enumerate(parts):
        box = ((k % 3) / 3, (k // 3) / 2, (k % 3 + 1) / 3, (k // 3 + 1) / 2)
        v, f, uv = ellipsoid(*rings, radii, centre, tilt, box)
        verts.append(v)
        faces.append(f + offset)
        uvs.append(uv)
        offset += v.shape[0]
    return torch.cat(verts), torch.cat(faces), torch.cat(uvs)


def make_inputs(batch: int, device: torch.device, seed: int = 0):
    """A batch of posed hand meshes 0.5 m in front of a 224 x 224 FreiHAND-like camera."""
    gen = torch.Generator().manual_seed(seed)
    verts, faces, uv = hand_like_mesh()
    angle = 0.4 * (torch.rand(batch, generator=gen) - 0.5)
    cos, sin, zero, one = angle.cos(), angle.sin(), torch.zeros(batch), torch.ones(batch)
    rot = torch.stack([cos, zero, sin, zero, one, zero, -sin, zero, cos], -1).view(batch, 3, 3)
    verts = verts @ rot.transpose(1, 2) + torch.tensor([0.0, 0.02, 0.5])
    K = torch.tensor([[500.0, 0.0, 112.0], [0.0, 500.0, 112.0], [0.0, 0.0, 1.0]]).expand(batch, 3, 3)
    maps = torch.rand(batch, TEXTURE_SIZE // 16, TEXTURE_SIZE // 16, 3, generator=gen)
    maps = torch.nn.functional.interpolate(maps.permute(0, 3, 1, 2), size=TEXTURE_SIZE, mode="bilinear")
    color = 0.5 + 0.5 * torch.rand(batch, 3, generator=gen)
    direction = torch.tensor([0.3, -0.5, -1.0]) + 0.2 * torch.randn(batch, 3, generator=gen)
    to = dict(device=device)
    return dict(
        verts=verts.to(**to),
        faces=faces.to(**to),
        K=K.to(**to),
        maps=maps.permute(0, 2, 3, 1).contiguous().to(**to),
        verts_uvs=uv.to(**to),
        color=color.to(**to),
        direction=direction.to(**to),
    )


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _proc_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return int(re.search(rf"{field}:\s+(\d+)", status.read()).group(1))


class PeakMemory:
    """Peak memory above the level at entry, in MiB (None where it cannot be measured)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.mib: float | None = None

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            try:
                with open("/proc/self/clear_refs", "w") as clear:
                    clear.write("5")  # reset the peak resident set size (VmHWM)
                self.base = _proc_kib("VmRSS")
            except OSError:
                self.base = None
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.mib = (torch.cuda.max_memory_allocated(self.device) - self.base) / 2**20
        elif self.base is not None:
            self.mib = (_proc_kib("VmHWM") - self.base) / 2**10


def run_once(renderer: Renderer, inputs: dict, device: torch.device) -> tuple[float, float, float | None]:
    """One forward and backward pass; returns (forward ms, forward+backward ms, peak MiB)."""
    verts = inputs["verts"].clone().requires_grad_(True)
    maps = inputs["maps"].clone().requires_grad_(True)
    color = inputs["color"].clone().requires_grad_(True)
    direction = inputs["direction"].clone().requires_grad_(True)
    with PeakMemory(device) as memory:
        _synchronize(device)
        start = time.perf_counter()
        out = renderer.render(
            verts,
            inputs["faces"],
            inputs["K"],
            TexturesUV(maps, inputs["verts_uvs"], inputs["faces"]),
            DirectionalLight(color, direction),
        )
        loss = out.rgb.square().mean()
        _synchronize(device)
        forward = time.perf_counter() - start
        loss.backward()
        _synchronize(device)
        total = time.perf_counter() - start
    return 1e3 * forward, 1e3 * total, memory.mib


@dataclass
class Row:
    backend: str
    device: str
    batch: int
    faces: int
    forward_ms: float
    total_ms: float
    peak_mib: float | None
    runs: int


def bench(backend: str, device: torch.device, batch: int, repeats: int) -> Row:
    inputs = make_inputs(batch, device)
    renderer = Renderer(IMAGE_SIZE, SUPERSAMPLE, backend=backend, shading="phong")
    slow = backend == "pytorch3d" and device.type == "cpu"
    if not slow:
        run_once(renderer, inputs, device)
    runs = [run_once(renderer, inputs, device) for _ in range(1 if slow else repeats)]
    peaks = [r[2] for r in runs if r[2] is not None]
    return Row(
        backend=backend,
        device=device.type,
        batch=batch,
        faces=inputs["faces"].shape[0],
        forward_ms=statistics.median(r[0] for r in runs),
        total_ms=statistics.median(r[1] for r in runs),
        peak_mib=max(peaks) if peaks else None,
        runs=len(runs),
    )


def print_table(rows: list[Row]) -> None:
    reference = {(r.device, r.batch): r for r in rows if r.backend == "pytorch3d"}
    header = (
        f"{'backend':<10} {'device':<6} {'batch':>5} {'resolution':>12} {'faces':>6} {'runs':>4} "
        f"{'fwd ms':>10} {'fwd+bwd ms':>11} {'peak MiB':>9} {'p3d/x fwd':>10} {'p3d/x f+b':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ref = reference.get((row.device, row.batch))
        fwd_ratio = f"{ref.forward_ms / row.forward_ms:.1f}x" if ref else "-"
        total_ratio = f"{ref.total_ms / row.total_ms:.1f}x" if ref else "-"
        peak = f"{row.peak_mib:.0f}" if row.peak_mib is not None else "n/a"
        resolution = f"{IMAGE_SIZE}({IMAGE_SIZE * SUPERSAMPLE})"
        print(
            f"{row.backend:<10} {row.device:<6} {row.batch:>5} {resolution:>12} {row.faces:>6} {row.runs:>4} "
            f"{row.forward_ms:>10.1f} {row.total_ms:>11.1f} {peak:>9} {fwd_ratio:>10} {total_ratio:>10}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all", help="all: CPU, and CUDA if any")
    parser.add_argument("--batch", type=int, nargs="+", help="batch sizes (default: 2 8 on CPU, 8 48 on CUDA)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case (PyTorch3D on CPU: 1)")
    parser.add_argument("--backends", nargs="+", default=BACKENDS.names(), choices=BACKENDS.names())
    parser.add_argument("--threads", type=int, help="CPU threads for both backends (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    if not devices:
        raise SystemExit("--device cuda: no CUDA device is available")
    cpu = platform.processor() or platform.machine()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {cpu}"
        + "".join(f", {torch.cuda.get_device_name(0)}" for d in devices if d == "cuda")
    )
    rows = []
    for device_name in devices:
        device = torch.device(device_name)
        for batch in args.batch or DEFAULT_BATCHES[device_name]:
            for backend in sorted(args.backends, key=lambda name: name != "torch"):
                rows.append(bench(backend, device, batch, args.repeats))
                print(f"  done: {backend} {device_name} batch {batch}", flush=True)
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
