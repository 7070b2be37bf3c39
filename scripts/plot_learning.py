#!/usr/bin/env python
"""Learning curves: PA-MPJPE and PSNR on an evaluation split against the training step, one line
per run, drawn with OpenCV into one PNG (two panels side by side).

Each run folder contributes its ``metrics.jsonl`` evaluation records and, as step 0, the
untrained network's ``eval/<start_epoch - 1>/metrics.json`` when ``evaluate.py --initial`` wrote
one (``eval/0`` for a run starting at epoch 1).

    python scripts/plot_learning.py --run "Lite0, ImageNet=outputs/curve_lite_pre" \\
        --run "Lite0, from scratch=outputs/curve_lite_scratch" --out docs/images/learning_curves.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from hifihr.engine.logging import read_metrics
from hifihr.viz import save_png

#: Line colours (RGB), one per run in order.
COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (140, 86, 75))
PANELS = (("pa_mpjpe_mm", "PA-MPJPE (mm)"), ("psnr_db", "PSNR (dB)"))


def learning_curve(run: str | Path, tag: str) -> list[tuple[int, float, float]]:
    """(step, PA-MPJPE mm, PSNR dB) of every evaluation of ``run`` on dataset ``tag``, sorted by
    step, with the untrained network's evaluation (``eval/0/metrics.json``) as step 0 if present.

    Raises:
        FileNotFoundError: the run has no ``metrics.jsonl``.
        KeyError: an evaluation lacks ``tag`` or one of the two metrics.
    """
    run = Path(run)
    points = {}
    initial = run / "eval" / "0" / "metrics.json"
    if initial.is_file():
        metrics = json.loads(initial.read_text())["datasets"][tag]
        points[0] = (metrics["pa_mpjpe_mm"], metrics["psnr_db"])
    for record in read_metrics(run / "metrics.jsonl", "eval"):
        metrics = record["datasets"][tag]
        points[int(record["step"])] = (metrics["pa_mpjpe_mm"], metrics["psnr_db"])
    return [(step, *points[step]) for step in sorted(points)]


def _nice_range(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = max(0.05 * (high - low), 0.1)
    return low - pad, high + pad


def draw(curves: dict[str, list[tuple[int, float, float]]], title: str, panel_size: tuple[int, int] = (520, 360)) -> np.ndarray:
    """[H, W, 3] uint8 RGB image: one panel per metric of :data:`PANELS`, a polyline with dots
    per run, axes with the end values labelled, and a legend."""
    width, height = panel_size
    margin_l, margin_r, margin_t, margin_b = 64, 16, 40, 44
    legend_h = 22 * len(curves) + 10
    image = np.full((height + legend_h + 30, 2 * width, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(image, title, (10, 22), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    max_step = max(max(p[0] for p in pts) for pts in curves.values()) or 1
    for panel, (_, label) in enumerate(PANELS):
        x0, y0 = panel * width + margin_l, 30 + margin_t
        w, h = width - margin_l - margin_r, height - margin_t - margin_b
        values = [p[1 + panel] for pts in curves.values() for p in pts]
        lo, hi = _nice_range(values)

        def to_px(step: float, value: float) -> tuple[int, int]:
            return int(round(x0 + w * step / max_step)), int(round(y0 + h * (hi - value) / (hi - lo)))

        cv2.rectangle(image, (x0, y0), (x0 + w, y0 + h), (0, 0, 0), 1)
        cv2.putText(image, label, (x0, y0 - 10), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
            value = lo + frac * (hi - lo)
            _, y = to_px(0, value)
            cv2.line(image, (x0 - 4, y), (x0, y), (0, 0, 0), 1)
            cv2.putText(image, f"{value:.1f}", (x0 - 48, y + 4), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
            step = frac * max_step
            x, _ = to_px(step, lo)
            cv2.line(image, (x, y0 + h), (x, y0 + h + 4), (0, 0, 0), 1)
            cv2.putText(image, f"{step:.0f}", (x - 12, y0 + h + 18), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(image, "training step", (x0 + w // 2 - 45, y0 + h + 36), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        for i, pts in enumerate(curves.values()):
            colour = COLOURS[i % len(COLOURS)]
            pixels = np.array([to_px(p[0], p[1 + panel]) for p in pts], np.int32)
            cv2.polylines(image, [pixels.reshape(-1, 1, 2)], False, colour, 2, cv2.LINE_AA)
            for px in pixels:
                cv2.circle(image, tuple(int(c) for c in px), 3, colour, -1, cv2.LINE_AA)
            end = pixels[-1]
            cv2.putText(image, f"{pts[-1][1 + panel]:.2f}", (int(end[0]) - 40, int(end[1]) - 8), font, 0.4, colour, 1, cv2.LINE_AA)
    for i, name in enumerate(curves):
        y = 30 + height + 16 + 22 * i
        colour = COLOURS[i % len(COLOURS)]
        cv2.line(image, (20, y - 4), (50, y - 4), colour, 2, cv2.LINE_AA)
        cv2.putText(image, name, (58, y), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, metavar="LABEL=FOLDER", help="a run folder and its legend label")
    parser.add_argument("--dataset", default="synthetic_evaluation", help="evaluation tag (default: synthetic_evaluation)")
    parser.add_argument("--title", default="Synthetic evaluation split (200 crops)", help="figure title")
    parser.add_argument("--out", required=True, help="PNG to write")
    args = parser.parse_args(argv)
    curves = {}
    for spec in args.run:
        label, sep, folder = spec.rpartition("=")
        if not sep or not label:
            parser.error(f"--run: expected LABEL=FOLDER, got {spec!r}")
        try:
            curves[label] = learning_curve(folder, args.dataset)
        except (FileNotFoundError, KeyError) as err:
            print(f"error: {folder}: {err}", file=sys.stderr)
            return 2
        if not curves[label]:
            print(f"error: {folder} holds no evaluation", file=sys.stderr)
            return 2
        print(f"{label}: " + ", ".join(f"step {s}: {pa:.2f} mm, {psnr:.2f} dB" for s, pa, psnr in curves[label]))
    save_png(args.out, draw(curves, args.title))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
