#!/usr/bin/env python
"""2D keypoints from the hand detector, as weak labels for `supervision: "self"`.

    python scripts/detect_keypoints.py --config config/synthetic/self.json
    python scripts/detect_keypoints.py --dataset synthetic --root datasets/synthetic --split evaluation
    python scripts/detect_keypoints.py --photos my_photos/ --every 5

With --config, every dataset of `data.train` and `data.val` gets
`<root>/detections_<name>_<split>.json` (for the `photos` kind: its `detections` file); use it
with the dataset option `"keypoints_file": "detections_<name>_<split>.json"`. A folder of photos
gets `<folder>/detections.json`, which the `photos` dataset reads. Where the dataset has ground
truth 2D keypoints, their agreement with the detections is printed (and written with
--summary). Unreadable files are reported and skipped; the rest go through. The format is
described in hifihr/detect/records.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from hifihr.config import load_config
from hifihr.data import DATASETS, build_dataset
from hifihr.data.io import AnnotationError, DatasetLayoutError
from hifihr.detect import DetectionsFile, DetectorModelError, DetectorUnavailable, HandDetector, mediapipe_version, write_detections
from hifihr.detect.labels import dataset_agreement, detect_dataset, detect_folder, list_media


def _targets(args) -> list[dict]:
    """What to detect: dicts with kind ("dataset" or "folder"), and name/root/split/options."""
    if args.photos is not None:
        return [{"kind": "folder", "root": str(args.photos)}]
    if args.dataset is not None:
        splits = DATASETS.get(args.dataset).cls.splits
        if args.split not in splits:
            raise ValueError(f"--split: {args.dataset} has no split {args.split!r}; valid: {', '.join(splits)}")
        options = dict(json.loads(args.options)) if args.options else {}
        return [{"kind": "dataset", "name": args.dataset, "root": args.root, "split": args.split, "options": options}]
    cfg = load_config(args.config)
    targets = []
    for spec in (*cfg.data.train, *cfg.data.val):
        detections_option = DATASETS.get(spec.name).cls.detections_option
        if detections_option is not None:
            option, default = detections_option
            targets.append({"kind": "folder", "root": spec.root, "file": spec.options.get(option, default)})
        else:
            options = {k: v for k, v in spec.options.items() if k not in ("augmentation", "keypoints_file")}
            targets.append({"kind": "dataset", "name": spec.name, "root": spec.root, "split": spec.split, "options": {**options, "image_size": cfg.render.image_size}})
    return targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="a run config: every dataset of data.train and data.val")
    source.add_argument("--dataset", help="one dataset (registry name), with --root and --split")
    source.add_argument("--photos", type=Path, help="a folder of photos and videos")
    parser.add_argument("--root", help="--dataset: the dataset folder")
    parser.add_argument("--split", default="train", help="--dataset: the split (one of the dataset's splits)")
    parser.add_argument("--options", help='--dataset: its constructor options as JSON, e.g. \'{"hand": "right"}\'')
    parser.add_argument("--out", type=Path, help="the detections file (one target only; default: see above)")
    parser.add_argument("--every", type=int, default=1, help="videos: every n-th frame")
    parser.add_argument("--limit", type=int, help="datasets: only the first N samples")
    parser.add_argument("--detector-model", type=Path, help="the .task model (default: the one make install builds)")
    parser.add_argument("--max-hands", type=int, default=2, help="hands per image")
    parser.add_argument("--summary", type=Path, help="write the agreement with ground truth (and timings) as JSON")
    args = parser.parse_args(argv)
    console = Console(stderr=True, soft_wrap=True)
    if args.dataset is not None and args.root is None:
        parser.error("--dataset needs --root")

    try:
        targets = _targets(args)
        if args.out is not None and len(targets) != 1:
            raise ValueError(f"--out names one file but there are {len(targets)} datasets to detect")
        detector = HandDetector(args.detector_model, max_hands=args.max_hands)
    except (DetectorUnavailable, DetectorModelError, ValueError, OSError) as err:
        console.print(f"[red]error:[/red] {err}")
        return 2

    info = {"model": str(detector.model_path), "mediapipe": mediapipe_version(), "max_hands": args.max_hands}
    summaries = []
    with detector, Progress(console=console) as progress:
        for target in targets:
            root = Path(target["root"])
            try:
                if target["kind"] == "folder":
                    out = args.out or root / target.get("file", "detections.json")
                    task = progress.add_task(str(root), total=len(list_media(root)) if args.every == 1 else None)
                    entries, seconds = detect_folder(root, detector, args.every, progress=lambda _: progress.advance(task))
                    source = {"kind": "folder", "root": str(root)}
                    agreement = None
                else:
                    dataset = build_dataset(target["name"], root, target["split"], augment=False, on_bad_image="skip", **target["options"])
                    out = args.out or root / f"detections_{target['name']}_{target['split']}.json"
                    count = len(dataset) if args.limit is None else min(args.limit, len(dataset))
                    task = progress.add_task(f"{target['name']} {target['split']}", total=count)
                    entries, seconds = detect_dataset(dataset, detector, progress=lambda _: progress.advance(task), limit=args.limit)
                    if args.limit is not None and count < len(dataset):
                        console.print(f"[yellow]note:[/yellow] --limit {count}: {out} covers {count} of {len(dataset)} samples; keypoints_file needs them all")
                    source = {k: target[k] for k in ("kind", "name", "root", "split", "options")}
                    agreement = dataset_agreement(dataset, entries)
            except (DatasetLayoutError, AnnotationError, FileNotFoundError, ValueError) as err:
                console.print(f"[red]error:[/red] {err}")
                return 2
            write_detections(out, DetectionsFile(source=source, detector=info, images=entries))
            readable = [e for e in entries if e.error is None]
            with_hand = sum(bool(e.hands) for e in readable)
            for entry in entries:
                if entry.error is not None:
                    console.print(f"[yellow]skipped:[/yellow] {entry.error}")
            line = f"{out}: {len(entries)} images, {with_hand} with a hand, {sum(len(e.hands) for e in readable)} hands"
            line += f", {1000 * seconds / max(len(readable), 1):.1f} ms per image (detector)"
            if len(readable) < len(entries):
                line += f", {len(entries) - len(readable)} unreadable"
            if not with_hand:
                line += "; no hand found in any image (the detector finds real-looking hands; check the images)"
            console.print(line)
            summary = {"file": str(out), "images": len(entries), "with_hand": with_hand, "unreadable": len(entries) - len(readable),
                       "ms_per_image": 1000 * seconds / max(len(readable), 1)}  # fmt: skip
            if agreement is not None:
                console.print(
                    "agreement with ground truth: detected {detected}/{num} ({detection_rate:.1%}), median error {median_px:.2f} px "
                    "({median_box_frac:.3f} of the box diagonal), mean {mean_px:.2f} px, PCK@0.1 {pck_10pct:.3f}".format(**agreement)
                    if agreement["detected"] else f"agreement with ground truth: no sample of {agreement['num']} detected"
                )
                summary["agreement"] = agreement
            summaries.append(summary)
    if args.summary is not None:
        args.summary.parent.mkdir(parents=True, exist_ok=True)
        args.summary.write_text(json.dumps(summaries, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
