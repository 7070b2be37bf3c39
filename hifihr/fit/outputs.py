"""What ``scripts/fit.py`` writes: the refined textured mesh, loss curves, overlays and a JSON.

``<out>/hand.obj`` (+ ``.mtl``, ``hand_diffuse.png``) and ``<out>/hand.glb``: the refined mesh
in the world frame (the camera frame of a single view), metres, with its albedo map.
``<out>/losses.png``: one panel per stage, every weighted term per iteration (log scale).
``<out>/overlay_%02d.png``: per view, the image, the initial hand and the refined hand over it.
``<out>/fit.json``: the side (a left hand is fitted mirrored, see :mod:`hifihr.fit.mirror`;
its parameters are the mirrored right hand's), keypoints in the world frame and in each camera
frame (metres), projected keypoints and K in the input files' pixels, the parameters, lights
and per-stage losses and times.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from hifihr.files import write_atomic
from hifihr.hand.export import export_textured_mesh
from hifihr.render import SHLight, TexturesUV
from hifihr.viz.grid import make_grid, save_png
from hifihr.viz.overlay import draw_keypoints, overlay, to_uint8

from .fitter import FitResult, Fitter
from .mirror import initial_faces



def plot_losses(result: FitResult, path: Path) -> None:
    """One panel per stage: each weighted term and the total per iteration, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = [s for s in result.stages if s.losses]
    fig, axes = plt.subplots(1, max(len(stages), 1), figsize=(4.2 * max(len(stages), 1), 3.2), squeeze=False)
    for ax, stage in zip(axes[0], stages):
        for name, values in stage.losses.items():
            positive = np.clip(np.asarray(values), 1e-8, None)
            ax.plot(positive, label=name, lw=2.0 if name == "total" else 1.0, color="k" if name == "total" else None)
        ax.set_yscale("log")
        ax.set_title(f"{stage.name} ({stage.seconds:.1f} s)")
        ax.set_xlabel("iteration")
        ax.legend(fontsize=6)
    if not stages:
        axes[0][0].text(0.5, 0.5, "no stage ran", ha="center")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _render_views(fitter: Fitter, verts: torch.Tensor, faces, verts_uvs, faces_uvs, texture_map, lights):
    with torch.no_grad():
        textures = TexturesUV(texture_map[None], verts_uvs, faces_uvs)
        return fitter.render(verts[None], faces, textures, lights)


def write_overlays(fitter: Fitter, result: FitResult, out: Path, names: Sequence[str]) -> list[Path]:
    """Per view: [image | initial hand | refined hand] with keypoints (input ones in the image
    panel, projected ones on the renders)."""
    views = fitter.views
    hand = fitter.hand
    white = SHLight.white(views.num_views).coeffs
    faces, faces_uvs = initial_faces(hand, result)
    before = _render_views(fitter, result.initial_verts, faces, hand.verts_uvs, faces_uvs, result.initial_texture_map, white)
    after = _render_views(fitter, result.verts, result.faces, result.verts_uvs, result.faces_uvs, result.texture_map, result.lights)
    uv_before = views.project(result.initial_joints).numpy()
    uv_after = views.project(result.joints).numpy()
    paths = []
    for i in range(views.num_views):
        image = views.images[i]
        panels = [to_uint8(image)]
        if views.keypoints2d is not None:
            panels[0] = draw_keypoints(panels[0], views.keypoints2d[i].numpy())
        panels.append(draw_keypoints(overlay(image, before.rgb[i], before.alpha[i]), uv_before[i]))
        panels.append(draw_keypoints(overlay(image, after.rgb[i], after.alpha[i]), uv_after[i]))
        grid = make_grid([panels], ["input", "initial", "refined"], [names[i] if i < len(names) else f"view {i}"])
        path = out / f"overlay_{i:02d}.png"
        save_png(path, grid)
        paths.append(path)
    return paths


def result_json(
    fitter: Fitter,
    result: FitResult,
    names: Sequence[str],
    extra: Optional[dict] = None,
    pixel_scale: tuple[float, float] = (1.0, 1.0),
) -> dict:
    """The JSON record of a fit (module docstring). ``pixel_scale`` (sx, sy): how the fitted
    images were resized from the input files; pixels and K are written in the files' pixels."""
    R, t = fitter.views.world_to_camera()
    joints = result.joints.double()
    views = []
    scale = torch.tensor(pixel_scale, dtype=torch.float64)
    uv = fitter.views.project(result.joints).double() / scale
    K_file = fitter.views.K.double() / torch.cat([scale, torch.ones(1, dtype=torch.float64)])[:, None]
    for i in range(fitter.views.num_views):
        cam = joints @ R[i].double().T + t[i].double()
        views.append(
            {
                "name": names[i] if i < len(names) else f"view {i}",
                "joints3d_camera_m": cam.tolist(),
                "joints2d_px": uv[i].tolist(),
                "K_px": K_file[i].tolist(),
                "light_sh": result.lights[i].tolist(),
            }
        )
    state = result.state
    record = {
        "hand_model": "NIMBLE format (FreiHAND keypoint order)",
        "side": "left" if result.left else "right",
        "joints3d_world_m": joints.tolist(),
        "views": views,
        "params": {
            "shape": state.shape[0].tolist(),
            "pose": state.pose[0].tolist(),
            "texture": state.texture[0].tolist(),
            "translation_m": state.translation[0].tolist(),
        },
        "mesh": {"num_verts": int(result.verts.shape[0]), "num_faces": int(result.faces.shape[0])},
        "stages": {
            s.name: {
                "seconds": s.seconds,
                "cpu_seconds": s.cpu_seconds,
                "iterations": len(s.losses.get("total", [])),
                "first": {k: v[0] for k, v in s.losses.items()},
                "last": {k: v[-1] for k, v in s.losses.items()},
            }
            for s in result.stages
        },
    }
    if extra:
        record.update(extra)
    return record


def write_outputs(
    fitter: Fitter,
    result: FitResult,
    out: str | Path,
    names: Sequence[str],
    extra: Optional[dict] = None,
    pixel_scale: tuple[float, float] = (1.0, 1.0),
) -> dict[str, Path]:
    """Write everything of the module docstring into ``out``; returns {kind: path}
    (``pixel_scale``: see :func:`result_json`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = export_textured_mesh(
        out / "hand", result.verts, result.faces, verts_uvs=result.verts_uvs, faces_uvs=result.faces_uvs,
        texture=result.texture_map,
    )  # fmt: skip
    written["losses"] = out / "losses.png"
    plot_losses(result, written["losses"])
    for i, path in enumerate(write_overlays(fitter, result, out, names)):
        written[f"overlay_{i:02d}"] = path
    written["json"] = out / "fit.json"
    write_atomic(written["json"], json.dumps(result_json(fitter, result, names, extra, pixel_scale), indent=1).encode())
    return written
