#!/usr/bin/env python
"""The hand detector on annotated photos: detection rate, 2D error, handedness, time per image.

    python scripts/bench_detector.py --folder ../shared/real_photos            # its annotations.json
    python scripts/bench_detector.py --folder photos/ --annotations gt.json --json out.json

The annotations map image paths (relative to the folder) to lists of hands, each with "uv"
(21 x 2 pixels, FreiHAND order) and optionally "side" ("left"/"right"). An annotated hand
counts as detected when a detection's box centre lies within its keypoints' box diagonal;
errors are per-keypoint distances in pixels and as a fraction of that diagonal. Time is the
detector alone (MediaPipe, CPU), after one warm-up image.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hifihr.data.io import ImageReadError, read_image
from hifihr.detect import DetectorModelError, DetectorUnavailable, HandDetector
from hifihr.detect.labels import evaluate_annotated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", required=True, type=Path, help="the photos")
    parser.add_argument("--annotations", type=Path, help="default: <folder>/annotations.json")
    parser.add_argument("--detector-model", type=Path, help="the .task model (default: the one make install builds)")
    parser.add_argument("--json", type=Path, help="write the summary and the per-hand rows here")
    args = parser.parse_args(argv)
    path = args.annotations or args.folder / "annotations.json"
    try:
        annotations = json.loads(path.read_text())
        detector = HandDetector(args.detector_model)
        with detector:
            first = next(k for k in sorted(annotations) if not k.startswith("_"))
            detector(read_image(args.folder / first))  # warm-up: graph start and first allocations
            summary, rows = evaluate_annotated(args.folder, annotations, detector)
    except (OSError, json.JSONDecodeError, StopIteration, ImageReadError, DetectorUnavailable, DetectorModelError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for row in rows:
        detail = f"{row['median_px']:6.2f} px {row['median_box_frac']:.3f} of diagonal, {row['handedness']}" if row["detected"] else "missed"
        print(f"{row['image']:45s} {row['side'] or '?':5s} {detail}")
    print(
        f"{summary['detected']}/{summary['num']} hands detected in {summary['images']} images; median {summary['median_px']:.2f} px "
        f"({summary['median_box_frac']:.3f} of the box diagonal), mean {summary['mean_px']:.2f} px, PCK@0.1 {summary['pck_10pct']:.3f}; "
        f"handedness {summary['handedness_correct']}/{summary['handedness_known']}; {summary['ms_per_image']:.1f} ms per image"
    )
    if args.json is not None:
        args.json.write_text(json.dumps({"summary": summary, "hands": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
