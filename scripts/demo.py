#!/usr/bin/env python
"""Image in, textured 3D hand out, for every hand in the picture.

    python scripts/demo.py --image photo.jpg --checkpoint ckpt.pt --out out/
    python scripts/demo.py --image photo.jpg --checkpoint ckpt.pt --out out/ --K 1500 1500 960 540
    python scripts/demo.py --image photos/ --checkpoint ckpt.pt --out out/ --boxes boxes.json
    python scripts/demo.py --image clip.mp4 --every 5 --checkpoint ckpt.pt --out out/

The checkpoint must be trained with `model.root = "predicted"` (a camera head), since a photo has
no ground-truth 3D root. Hands: by default the hand detector (MediaPipe, installed by `make
install`) finds every hand, left and right, and each gets `<image>_<side>` outputs. A box
overrides it: `--box x0 y0 x1 y1` (pixels), per image with `--boxes` (a JSON {"<image stem>":
[x0, y0, x1, y1], ...}; a 5th value "left" marks a left hand), or `--whole-image` (the central
square: crops centred on one hand); these write `<image>` outputs. The JSON of each hand holds
its 3D joints in metres in the camera frame of `--K` (or of the estimated K it states). Each
image's time is printed split into detect, network, render and export. See hifihr/demo.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from hifihr.demo import DemoError, count_frames, iter_frames, load_demo_model, reconstruct, write_outputs
from hifihr.detect import BOX_SCALE, KEYPOINT_BOX_SCALE, CropError, DetectorModelError, DetectorUnavailable, HandDetector, estimated_camera, square_crop
from hifihr.engine.checkpoint import CheckpointError
from hifihr.engine.distributed import select_device
from hifihr.hand import AssetError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", required=True, type=Path, help="an image, a folder of images, or a video")
    parser.add_argument("--checkpoint", required=True, type=Path, help="a checkpoint trained with model.root = predicted")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--box", type=float, nargs=4, metavar=("X0", "Y0", "X1", "Y1"), help="hand box, pixels (no detection)")
    parser.add_argument("--boxes", type=Path, help="JSON of boxes per image stem (see above; images without one are detected)")
    parser.add_argument("--whole-image", action="store_true", help="no detection: the central square of each image")
    parser.add_argument("--left", action="store_true", help="given boxes hold left hands (mirrored to right and back)")
    parser.add_argument("--K", "--intrinsics", dest="intrinsics", type=float, nargs=4, metavar=("FX", "FY", "CX", "CY"), help="the camera, pixels")
    parser.add_argument("--focal-factor", type=float, default=1.0, help="without --K: focal length in units of the image's longer side (default 1.0)")
    parser.add_argument("--box-scale", type=float, default=BOX_SCALE, help=f"crop side / a given box's longer side (default {BOX_SCALE})")
    parser.add_argument("--keypoint-box-scale", type=float, default=KEYPOINT_BOX_SCALE, help=f"crop side / detected keypoints' box (default {KEYPOINT_BOX_SCALE})")
    parser.add_argument("--detector-model", type=Path, help="the detector's .task file, e.g. the official hand_landmarker.task")
    parser.add_argument("--max-hands", type=int, default=2, help="the most hands detected per image")
    parser.add_argument("--every", type=int, default=1, help="videos: use every n-th frame")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    args = parser.parse_args(argv)
    console = Console(stderr=True, soft_wrap=True)

    try:
        device = select_device(args.device)
        model, cfg = load_demo_model(args.checkpoint, device)
        boxes = json.loads(args.boxes.read_text()) if args.boxes else {}
        frames = iter_frames(args.image, args.every)
        total = count_frames(args.image, args.every)
    except (DemoError, CheckpointError, AssetError, OSError, json.JSONDecodeError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}")
        return 2
    if args.intrinsics is not None:
        camera_source = "given (--K fx fy cx cy)"
    else:
        camera_source = f"estimated: fx = fy = {args.focal_factor:g} x max(W, H), principal point at the image centre (give --K for a known camera)"

    detector = None
    failures, done = 0, 0
    with Progress(console=console) as progress:
        task = progress.add_task("images", total=total)
        try:
            for item in frames:
                progress.advance(task)
                if isinstance(item, DemoError):
                    console.print(f"[yellow]skipped:[/yellow] {item}")
                    failures += 1
                    continue
                height, width = item.image.shape[:2]
                K = estimated_camera(width, height, args.focal_factor, args.intrinsics)
                timings = {"detect": 0.0, "network": 0.0, "render": 0.0, "export": 0.0}
                entry = boxes.get(item.name, args.box)
                if entry is not None or args.whole_image:
                    left = args.left or (isinstance(entry, list) and len(entry) == 5 and entry[4] == "left")
                    box = entry[:4] if entry is not None else None
                    try:
                        square_crop(box, width, height, args.box_scale)  # reject a bad box up front
                    except CropError as err:
                        console.print(f"[yellow]skipped {item.name}:[/yellow] {err}")
                        failures += 1
                        continue
                    hands = [(item.name, box, left, args.box_scale, None)]
                else:
                    if detector is None:
                        detector = HandDetector(args.detector_model, max_hands=args.max_hands)
                    start = time.perf_counter()
                    detections = detector(item.image)
                    timings["detect"] = time.perf_counter() - start
                    if not detections:
                        console.print(f"[yellow]skipped {item.name}:[/yellow] no hand found; give its box with --box or --boxes, or use --whole-image")
                        failures += 1
                        continue
                    hands, seen = [], {}
                    for detection in detections:
                        seen[detection.handedness] = seen.get(detection.handedness, 0) + 1
                        stem = f"{item.name}_{detection.handedness}" + (str(seen[detection.handedness]) if seen[detection.handedness] > 1 else "")
                        hands.append((stem, detection.box, detection.left, args.keypoint_box_scale, detection))
                start = time.perf_counter()
                results = reconstruct(model, [item] * len(hands), [h[1] for h in hands], [h[2] for h in hands], [K] * len(hands), [h[3] for h in hands])
                timings["network"] = time.perf_counter() - start
                for (stem, _, _, _, detection), result in zip(hands, results):
                    extra = {"camera_K_source": camera_source, "detection": None if detection is None else detection.to_json()}
                    files = write_outputs(result, item.image, args.out / stem, cfg.render.shading, extra=extra, timings=timings)
                    console.print(f"{stem}: {len(files)} files, e.g. {files['overlay']}")
                    done += 1
                split = ", ".join(f"{key} {1000 * seconds:.0f} ms" for key, seconds in timings.items())
                console.print(f"{item.name}: {len(hands)} hand(s) in {1000 * sum(timings.values()):.0f} ms ({split})")
        except (DemoError, DetectorUnavailable, DetectorModelError) as err:
            console.print(f"[red]error:[/red] {err}")
            return 2
        finally:
            if detector is not None:
                detector.close()
    console.print(f"{done} hands written to {args.out}" + (f", {failures} inputs skipped" if failures else ""))
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
