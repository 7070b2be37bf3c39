#!/usr/bin/env python
"""Refine a hand from one photo or several calibrated views by inverse rendering (hifihr.fit).

    # one photo, its intrinsics, keypoints from a JSON file (or none)
    python scripts/fit.py --image hand.jpg --K 1000 1000 320 240 --out outputs/fit_photo \\
        [--keypoints kp.json [--keypoints-key NAME]] [--mask mask.png] [--checkpoint run/last.pt]
    # a multi-view synthetic hand (scripts/make_synthetic.py --views N), its true 2D keypoints
    python scripts/fit.py --multiview datasets/synthetic_mv4/hand_0000 --keypoints gt --out outputs/fit_mv4

Stages (``--stages``, any of keypoints,render,ham; default all): (a) pose and shape from the
2D keypoints, (b) plus silhouette, photometric and uv_align terms with texture and per-view SH
lights, (c) FMHR's HAM (vertex offsets and a free albedo: a per-vertex change over the
texture-space map, or with ``--albedo uv`` every texel). The hand starts as the mean hand
placed by the keypoints (PnP), or as a checkpoint's prediction (``--checkpoint``, a run trained
with model.root = predicted). A left hand (``--side left``, or the keypoints entry's ``side`` /
``handedness`` with the default ``--side auto``) is fitted in the mirrored views as a right hand
and mirrored back, as the demo does (hifihr.fit.mirror); everything written is of the left hand.

Writes into --out: hand.obj/.mtl/_diffuse.png, hand.glb, losses.png, overlay_XX.png and
fit.json (keypoints in metres in the world and in each camera frame; see hifihr.fit.outputs).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from hifihr.data.multiview import load_multiview
from hifihr.demo import DemoError
from hifihr.fit import ALBEDO_MODES, STAGES, FitOptions, Fitter, FitViews, read_image_tensor, read_keypoints_json, single_view
from hifihr.fit.mirror import fit_left_hand, mirror_views
from hifihr.fit.outputs import write_outputs
from hifihr.fit.views import read_hand_side
from hifihr.hand import AssetError, load_hand_model
from hifihr.render import project_points


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", help="one photo to refine from")
    source.add_argument("--multiview", help="a multi-view hand folder (hand_XXXX with meta.json)")
    parser.add_argument("--K", nargs=4, type=float, metavar=("FX", "FY", "CX", "CY"), help="intrinsics of --image, pixels")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--keypoints", default=None,
        help="2D keypoints: a JSON file (21 [x, y(, conf)] rows, FreiHAND order; for --multiview one "
        "entry per view name), 'gt' (the multi-view data's true keypoints) or 'none' (default: none)",
    )  # fmt: skip
    parser.add_argument("--keypoints-key", default=None, help="entry of a keypoints JSON mapping to read (one photo)")
    parser.add_argument("--hand-index", type=int, default=0, help="which hand of a keypoints entry listing several (default: 0)")
    parser.add_argument(
        "--side", choices=("auto", "right", "left"), default="auto",
        help="which hand: auto (the keypoints entry's side or handedness, else right), right or left",
    )  # fmt: skip
    parser.add_argument("--mask", default=None, help="hand mask of --image (non-zero = hand); enables the silhouette term")
    parser.add_argument("--checkpoint", default=None, help="start from this checkpoint's prediction (model.root = predicted)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    parser.add_argument("--iterations", nargs=3, type=int, metavar=("A", "B", "C"), help="iterations of the three stages")
    parser.add_argument("--subdivide", action="store_true", help="HAM on the mesh after one midpoint subdivision")
    parser.add_argument("--albedo", choices=ALBEDO_MODES, default="vertex", help="HAM's free albedo (default: vertex)")
    parser.add_argument("--uv-align", type=float, default=None, help="weight of uv_align in stage (b) (0 turns it off)")
    parser.add_argument("--supersample", type=int, default=2, help="anti-aliasing factor while fitting (default: 2)")
    parser.add_argument("--max-side", type=int, default=256, help="downscale a photo so its longer side is at most this")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def photo_views(args) -> tuple[FitViews, list[str], tuple[float, float]]:
    """The one-view input of --image (downscaled to --max-side, K scaled with it), its name and
    the scale (sx, sy) from the file's pixels to the fitted image's."""
    if args.K is None:
        raise ValueError("--image needs --K fx fy cx cy (pixels)")
    image = read_image_tensor(args.image)
    height, width = image.shape[1:]
    scale = min(1.0, args.max_side / max(height, width))
    fx, fy, cx, cy = args.K
    if scale < 1.0:
        size = (round(width * scale), round(height * scale))
        array = cv2.resize(image.permute(1, 2, 0).numpy(), size, interpolation=cv2.INTER_AREA)
        image = torch.from_numpy(array).permute(2, 0, 1).contiguous()
        scale_x, scale_y = size[0] / width, size[1] / height
        fx, fy, cx, cy = fx * scale_x, fy * scale_y, cx * scale_x, cy * scale_y
    else:
        scale_x = scale_y = 1.0
    keypoints = conf = mask = None
    if args.keypoints not in (None, "none"):
        if args.keypoints == "gt":
            raise ValueError("--keypoints gt is for --multiview; give a keypoints JSON for a photo")
        keypoints, conf = read_keypoints_json(args.keypoints, args.keypoints_key, args.hand_index)
        keypoints = keypoints * torch.tensor([scale_x, scale_y])
    if args.mask is not None:
        raw = cv2.imread(args.mask, cv2.IMREAD_GRAYSCALE)
        if raw is None:
            raise FileNotFoundError(f"cannot read mask {args.mask}")
        raw = cv2.resize(raw, (image.shape[2], image.shape[1]), interpolation=cv2.INTER_NEAREST)
        mask = torch.from_numpy((raw > 0).astype(np.float32))[None]
    return single_view(image, (fx, fy, cx, cy), keypoints, conf, mask), [Path(args.image).name], (scale_x, scale_y)


def multiview_views(args) -> tuple[FitViews, list[str], tuple[float, float]]:
    """The fitting views of a multi-view hand folder, with the requested keypoints."""
    case = load_multiview(args.multiview, "fit")
    keypoints = conf = None
    if args.keypoints == "gt":
        keypoints = project_points(case.joints_world[None].expand(case.num_views, -1, -1), case.K, case.R, case.t)[..., :2]
    elif args.keypoints not in (None, "none"):
        rows = [read_keypoints_json(args.keypoints, name) for name in case.names]
        keypoints, conf = torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows])
    return FitViews(case.images, case.K, case.R, case.t, case.masks, keypoints, conf), list(case.names), (1.0, 1.0)


def hand_side(args, names: list[str]) -> str:
    """``--side``, or with ``auto`` what the keypoints JSON says (for --multiview: the first
    view's entry), else ``"right"``."""
    if args.side != "auto":
        return args.side
    if args.keypoints in (None, "none", "gt"):
        return "right"
    key = args.keypoints_key if args.image is not None else names[0]
    return read_hand_side(args.keypoints, key, args.hand_index) or "right"


def options_from(args) -> FitOptions:
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise ValueError(f"--stages: unknown stage(s) {unknown}; valid: {', '.join(STAGES)}")
    options = FitOptions(supersample=args.supersample)
    a = dataclasses.replace(options.keypoints, enabled="keypoints" in stages)
    b = dataclasses.replace(options.render, enabled="render" in stages)
    c = dataclasses.replace(options.ham, enabled="ham" in stages, subdivide=args.subdivide, albedo=args.albedo)
    if args.iterations is not None:
        a = dataclasses.replace(a, iterations=args.iterations[0])
        b = dataclasses.replace(b, iterations=args.iterations[1])
        c = dataclasses.replace(c, iterations=args.iterations[2])
    if args.uv_align is not None:
        b = dataclasses.replace(b, uv_align=args.uv_align)
    return dataclasses.replace(options, keypoints=a, render=b, ham=c)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from rich.progress import Progress

    try:
        views, names, pixel_scale = photo_views(args) if args.image is not None else multiview_views(args)
        options = options_from(args)
        left = hand_side(args, names) == "left"
        state = None
        if args.checkpoint is None:
            hand = load_hand_model("open_hand")
        else:
            from hifihr.fit.initial import state_from_checkpoint

            # a left hand's start is read in the mirrored views it is fitted in
            state, hand = state_from_checkpoint(args.checkpoint, mirror_views(views) if left else views)
            if hand.texture_kind != "uv":
                raise ValueError(f"{args.checkpoint}: its hand has a per-vertex texture; fitting refines a hand with a UV texture")
        with Progress(disable=args.quiet) as progress:
            fitter = Fitter(hand, views, options, progress=progress)
            result = fit_left_hand(hand, views, options, state, progress) if left else fitter.run(state)
        written = write_outputs(fitter, result, args.out, names, {"input": args.image or args.multiview}, pixel_scale)
    except (ValueError, FileNotFoundError, KeyError, AssetError, DemoError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for stage in result.stages:
        last = stage.losses["total"][-1] if stage.losses else float("nan")
        print(f"stage {stage.name}: {stage.seconds:.1f} s, final loss {last:.4f}")
    print(f"wrote {written['json']}, {written['obj']}, {written['glb']}, {written['losses']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
