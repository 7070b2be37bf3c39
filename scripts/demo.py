#!/usr/bin/env python
"""Image in, textured 3D hand out.

    python scripts/demo.py --image photo.jpg --checkpoint ckpt.pt --out out/
    python scripts/demo.py --image photos/ --checkpoint ckpt.pt --out out/ --boxes boxes.json
    python scripts/demo.py --image clip.mp4 --every 5 --checkpoint ckpt.pt --out out/

The checkpoint must be trained with `model.root = "predicted"` (a camera head), since a photo has
no ground-truth 3D root. Hand box: `--box x0 y0 x1 y1` (pixels), per image with `--boxes` (a
JSON {"<image stem>": [x0, y0, x1, y1], ...}; a 5th value "left" marks a left hand), or none
(the central square of the image: fine for crops centred on one hand). No detector ships: none
on PyPI runs without downloading weights at run time. See hifihr/demo.py for every output.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import Progress

from hifihr.demo import (
    DemoError,
    Frame,
    camera_matrix,
    count_frames,
    iter_frames,
    load_demo_model,
    reconstruct,
    square_box,
    write_outputs,
)
from hifihr.engine.checkpoint import CheckpointError
from hifihr.hand import AssetError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", required=True, type=Path, help="an image, a folder of images, or a video")
    parser.add_argument("--checkpoint", required=True, type=Path, help="a checkpoint trained with model.root = predicted")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--box", type=float, nargs=4, metavar=("X0", "Y0", "X1", "Y1"), help="hand box, pixels")
    parser.add_argument("--boxes", type=Path, help="JSON of boxes per image stem (see above)")
    parser.add_argument("--left", action="store_true", help="the hands are left hands (mirrored to right and back)")
    parser.add_argument("--focal-factor", type=float, default=1.0, help="focal length in units of the image's longer side (default 1.0)")
    parser.add_argument("--intrinsics", type=float, nargs=4, metavar=("FX", "FY", "CX", "CY"), help="the camera, pixels")
    parser.add_argument("--box-scale", type=float, default=1.3, help="crop side / the box's longer side (default 1.3)")
    parser.add_argument("--every", type=int, default=1, help="videos: use every n-th frame")
    parser.add_argument("--batch-size", type=int, default=8, help="crops per forward pass")
    parser.add_argument("--device", default="auto", help="cpu, cuda, or auto")
    args = parser.parse_args(argv)
    console = Console(stderr=True)

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else ("cpu" if args.device == "auto" else args.device))
    try:
        model, cfg = load_demo_model(args.checkpoint, device)
        boxes = json.loads(args.boxes.read_text()) if args.boxes else {}
        frames = iter_frames(args.image, args.every)
        total = count_frames(args.image, args.every)
    except (DemoError, CheckpointError, AssetError, OSError, json.JSONDecodeError) as err:
        console.print(f"[red]error:[/red] {err}")
        return 2

    failures, done = 0, 0
    pending: list[tuple[Frame, object, bool, object]] = []

    def flush() -> None:
        nonlocal failures, done
        if not pending:
            return
        frames_, boxes_, lefts_, Ks_ = zip(*pending)
        for frame, result in zip(frames_, reconstruct(model, frames_, boxes_, lefts_, Ks_, args.box_scale)):
            files = write_outputs(result, frame.image, args.out / frame.name, cfg.render.shading)
            console.print(f"{frame.name}: {len(files)} files, e.g. {files['overlay']}")
            done += 1
        pending.clear()

    with Progress(console=console) as progress:
        task = progress.add_task("hands", total=total)
        try:
            for item in frames:
                progress.advance(task)
                if isinstance(item, DemoError):
                    console.print(f"[yellow]skipped:[/yellow] {item}")
                    failures += 1
                    continue
                entry = boxes.get(item.name, args.box)
                left = args.left or (isinstance(entry, list) and len(entry) == 5 and entry[4] == "left")
                box = entry[:4] if entry is not None else None
                height, width = item.image.shape[:2]
                try:
                    square_box(box, width, height, args.box_scale)  # reject a bad box before batching
                except DemoError as err:
                    console.print(f"[yellow]skipped {item.name}:[/yellow] {err}")
                    failures += 1
                    continue
                pending.append((item, box, left, camera_matrix(width, height, args.focal_factor, args.intrinsics)))
                if len(pending) >= args.batch_size:
                    flush()
            flush()
        except DemoError as err:
            console.print(f"[red]error:[/red] {err}")
            return 2
    console.print(f"{done} hands written to {args.out}" + (f", {failures} inputs skipped" if failures else ""))
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
