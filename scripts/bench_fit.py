#!/usr/bin/env python
"""Measure the refinement on multi-view synthetic hands (docs/performance.md, "Refinement").

    python scripts/bench_fit.py --views 1 4 8 --hands 3 --out outputs/bench_fit [--real ../shared/real_photos]
    python scripts/bench_fit.py --out outputs/bench_fit --figure docs/images/fit_synthetic.png

For each N it writes (or reuses) ``datasets/synthetic_mv<N>`` (scripts/make_synthetic.py
--views N, 2 held-out views; hand i is the same hand for every N), fits every hand from its
true 2D keypoints through the three stages, and after each stage records PA-MPVPE and P2S
(mm), PSNR and SSIM on the held-out views (their lights fitted with the mesh frozen) and the
stage's wall time. With ``--real`` it also fits every hand of the research-only real photos
(single view, their annotated 2D keypoints as input; left hands mirrored, see
:func:`photo_side`) and records the 2D keypoint error, the masked PSNR (render coverage) and,
where the annotations have camera-frame joints, the 3D joint errors before and after. Results
go to ``<out>/results.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from hifihr.data.multiview import MultiViewOptions, generate_multiview, list_hands, load_multiview
from hifihr.fit import FitOptions, Fitter, FitViews, initial_state, posed, read_image_tensor, read_keypoints_json, single_view
from hifihr.fit.evaluate import geometry_errors, joint_errors, novel_view_scores
from hifihr.fit.mirror import fit_left_hand, initial_faces
from hifihr.fit.views import entry_side
from hifihr.hand import load_hand_model
from hifihr.metrics.texture import psnr
from hifihr.render import SHLight, TexturesUV, project_points


def stage_metrics(hand, verts, faces, uvs, faces_uvs, texture_map, case, holdout_views) -> dict:
    geometry = geometry_errors(verts, case.verts_world, hand.faces)
    scores, _ = novel_view_scores(verts, faces, uvs, faces_uvs, texture_map, holdout_views)
    return {
        "pa_mpvpe_mm": geometry.pa_mpvpe_mm,
        "p2s_mm": geometry.p2s_mm,
        "psnr_db": scores.mean_psnr,
        "ssim": scores.mean_ssim,
    }


def fit_case(hand, folder: Path, options: FitOptions) -> dict:
    case = load_multiview(folder, "fit")
    hold = load_multiview(folder, "holdout")
    keypoints = project_points(case.joints_world[None].expand(case.num_views, -1, -1), case.K, case.R, case.t)[..., :2]
    views = FitViews(case.images, case.K, case.R, case.t, case.masks, keypoints)
    holdout_views = FitViews(hold.images, hold.K, hold.R, hold.t, hold.masks)
    fitter = Fitter(hand, views, options)
    state = initial_state(hand, views, options)  # the stages run one by one, measured after each
    record = {"hand": folder.name, "views": case.num_views, "stages": {}}

    def parametric(state_now):
        with torch.no_grad():
            verts, _, texture_map = posed(hand, state_now)
        return verts[0], hand.faces, hand.verts_uvs, hand.faces_uvs, texture_map[0]

    record["stages"]["initial"] = {**stage_metrics(hand, *parametric(state), case, holdout_views), "seconds": 0.0}
    state, rec = fitter.fit_keypoints(state)
    record["stages"]["keypoints"] = {**stage_metrics(hand, *parametric(state), case, holdout_views), "seconds": rec.seconds, "cpu_seconds": rec.cpu_seconds}
    state, rec = fitter.fit_render(state)
    record["stages"]["render"] = {**stage_metrics(hand, *parametric(state), case, holdout_views), "seconds": rec.seconds, "cpu_seconds": rec.cpu_seconds}
    verts, faces, uvs, faces_uvs, albedo, lights, rec = fitter.fit_ham(state, state.lights)
    record["stages"]["ham"] = {
        **stage_metrics(hand, verts[0], faces, uvs, faces_uvs, albedo[0].clamp(0, 1), case, holdout_views),
        "seconds": rec.seconds,
        "cpu_seconds": rec.cpu_seconds,
        "fit_photometric": rec.losses["photometric"][-1],
    }
    return record


def photo_side(key: str, entry: dict) -> str:
    """Which hand an annotation of the real photos is: its side (:func:`hifihr.fit.views.entry_side`);
    else the file name's suffix, ``_l`` (left) or ``_r`` (right), as the CMU Panoptic frames name
    their hand (``ex2_2.flv_000040_l.jpg``, a left hand by the MANIFEST); else right."""
    return entry_side(entry, key) or {"_l": "left", "_r": "right"}.get(Path(key).stem[-2:], "right")


def fit_photo(hand, root: Path, key: str, index: int, options: FitOptions) -> dict:
    """Single-view fit of hand ``index`` of photo ``key`` of ``root/annotations.json``, its
    annotated keypoints as input, a left hand (:func:`photo_side`) through the mirrored views.

    The photo is downscaled to a longer side of 256 px; K is the annotated one scaled with it,
    else f = max(W, H) at the centre. Returns the keypoint error (px of the fitted image, over
    keypoints with confidence > 0.3), the masked PSNR over the render's coverage before (mean
    hand by PnP, white light) and after, and where the annotation has ``xyz_cam_m`` the
    :class:`hifihr.fit.evaluate.JointErrors` before and after (the camera frame is the world
    frame of one view)."""
    annotations = root / "annotations.json"
    entry = json.loads(annotations.read_text())[key][index]
    side = photo_side(key, entry)
    image = read_image_tensor(root / key)
    height, width = image.shape[1:]
    scale = min(1.0, 256 / max(height, width))
    if scale < 1.0:
        size = (round(width * scale), round(height * scale))
        image = torch.from_numpy(cv2.resize(image.permute(1, 2, 0).numpy(), size, interpolation=cv2.INTER_AREA)).permute(2, 0, 1)
    sx, sy = image.shape[2] / width, image.shape[1] / height
    if "K" in entry:
        K = np.asarray(entry["K"], dtype=np.float64)
        fx, fy, cx, cy = K[0, 0] * sx, K[1, 1] * sy, K[0, 2] * sx, K[1, 2] * sy
        source = "annotated"
    else:
        fx = fy = float(max(image.shape[1:]))
        cx, cy = image.shape[2] / 2, image.shape[1] / 2
        source = "assumed f = max(W, H), centred"
    kp, conf = read_keypoints_json(annotations, key, index)
    kp = kp * torch.tensor([sx, sy])
    views = single_view(image, (fx, fy, cx, cy), kp, conf)
    fitter = Fitter(hand, views, options)  # renders in the photo's own (unmirrored) view
    result = fit_left_hand(hand, views, options) if side == "left" else fitter.run()

    def scores(verts, faces, uvs, faces_uvs, texture_map, lights) -> float:
        with torch.no_grad():
            render = fitter.render(verts[None], faces, TexturesUV(texture_map[None], uvs, faces_uvs), lights)
            region = render.alpha
            return float(psnr(render.rgb.clamp(0, 1), views.images * region, region)[0])

    good = conf > 0.3
    err = lambda joints: float((views.project(joints)[0] - kp).norm(dim=-1)[good].mean())  # noqa: E731
    white = SHLight.white(views.num_views).coeffs
    faces, faces_uvs = initial_faces(hand, result)
    record = {
        "photo": key, "hand": index, "side": side, "K": source, "image_size": list(image.shape[1:]),
        "keypoint_error_px_before": err(result.initial_joints), "keypoint_error_px_after": err(result.joints),
        "masked_psnr_db_before": scores(result.initial_verts, faces, hand.verts_uvs, faces_uvs, result.initial_texture_map, white),
        "masked_psnr_db_after": scores(result.verts, result.faces, result.verts_uvs, result.faces_uvs, result.texture_map, result.lights),
        "seconds": {s.name: s.seconds for s in result.stages},
        "cpu_seconds": {s.name: s.cpu_seconds for s in result.stages},
    }  # fmt: skip
    if "xyz_cam_m" in entry:
        truth = torch.tensor(entry["xyz_cam_m"], dtype=torch.float64)
        record["joints3d_before"] = dataclasses.asdict(joint_errors(result.initial_joints, truth))
        record["joints3d_after"] = dataclasses.asdict(joint_errors(result.joints, truth))
    return record


def real_photo_records(hand, root: Path, options: FitOptions) -> list[dict]:
    """:func:`fit_photo` of every hand of the real photos (left and right)."""
    data = json.loads((root / "annotations.json").read_text())
    records = []
    for key, hands in data.items():
        if key.startswith("_"):
            continue
        for index in range(len(hands)):
            record = fit_photo(hand, root, key, index, options)
            records.append(record)
            line = (
                f"  {key}#{index} ({record['side']}): keypoints {record['keypoint_error_px_before']:.1f} -> "
                f"{record['keypoint_error_px_after']:.1f} px, PSNR {record['masked_psnr_db_before']:.2f} -> "
                f"{record['masked_psnr_db_after']:.2f} dB"
            )
            if "joints3d_after" in record:
                before, after = record["joints3d_before"], record["joints3d_after"]
                line += (
                    f", MPJPE {before['mpjpe_mm']:.1f} -> {after['mpjpe_mm']:.1f} mm, PA-MPJPE {before['pa_mpjpe_mm']:.1f} -> "
                    f"{after['pa_mpjpe_mm']:.1f} mm, root {before['root_mm']:.0f} -> {after['root_mm']:.0f} mm"
                )
            print(line, flush=True)
    return records


def plot_results(results: dict, path: Path) -> None:
    """Mean over hands of PA-MPVPE, P2S and held-out PSNR after each stage, one line per N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = ["initial", "keypoints", "render", "ham"]
    metrics = [("pa_mpvpe_mm", "PA-MPVPE (mm)"), ("p2s_mm", "P2S (mm)"), ("psnr_db", "held-out PSNR (dB)")]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for num, hands in sorted(results.get("synthetic", {}).items(), key=lambda kv: int(kv[0])):
        for ax, (key, label) in zip(axes, metrics):
            values = [np.mean([h["stages"][s][key] for h in hands.values()]) for s in stages]
            ax.plot(stages, values, marker="o", label=f"{num} view{'s' if int(num) > 1 else ''} ({len(hands)} hands)")
            ax.set_title(label)
    for ax, (key, _) in zip(axes, metrics):
        if key != "psnr_db":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Refinement on multi-view synthetic hands (true 2D keypoints in), after each stage", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--views", nargs="+", type=int, default=[1, 4, 8])
    parser.add_argument("--hands", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--data-root", default="datasets")
    parser.add_argument("--out", default="outputs/bench_fit")
    parser.add_argument("--real", default=None, help="the real photos folder (research-only; nothing of it is written to the repo)")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--figure", default=None, help="draw the synthetic results of <out>/results.json into this PNG and stop")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    if args.figure is not None:
        plot_results(results, Path(args.figure))
        print(f"wrote {args.figure}")
        return 0
    results["machine"] = {"cpu_count": os.cpu_count(), "load_average_start": os.getloadavg(), "threads": torch.get_num_threads()}
    hand = load_hand_model("open_hand")
    options = FitOptions()
    if not args.skip_synthetic:
        for num in args.views:
            root = Path(args.data_root) / f"synthetic_mv{num}"
            if not root.is_dir():
                generate_multiview(root, args.hands, num, 2, seed=0, options=MultiViewOptions(image_size=args.image_size))
            for folder in list_hands(root)[: args.hands]:
                start = time.perf_counter()
                record = fit_case(hand, folder, options)
                record["load_average"] = os.getloadavg()
                results.setdefault("synthetic", {}).setdefault(str(num), {})[folder.name] = record
                stages = record["stages"]
                print(
                    f"N={num} {folder.name}: PA-MPVPE " + " -> ".join(f"{s['pa_mpvpe_mm']:.2f}" for s in stages.values())
                    + " mm; PSNR " + " -> ".join(f"{s['psnr_db']:.2f}" for s in stages.values())
                    + f" dB; HAM {stages['ham']['seconds']:.1f} s; total {time.perf_counter() - start:.0f} s",
                    flush=True,
                )  # fmt: skip
                results_path.write_text(json.dumps(results, indent=1))
    if args.real is not None:
        results["real"] = real_photo_records(hand, Path(args.real), options)
        results_path.write_text(json.dumps(results, indent=1))
    print(f"wrote {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
