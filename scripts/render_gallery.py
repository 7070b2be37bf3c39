"""Render the open hand in several poses, shapes and textures with the project's renderer.

``python scripts/render_gallery.py`` writes ``docs/images/open_hand_gallery.png``: row 1 poses
(the flat rest template, the mean pose, pose PCA components and a closed hand), row 2 shapes
(shape PCA components at -2 and +2 standard deviations, seen from the back), row 3 textures
(texture PCA components, light to dark skin, palm and back).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from hifihr.hand import load_hand_model
from hifihr.render import Renderer, SHLight, TexturesUV
from hifihr.render.lights import SH_Y00

REPO = Path(__file__).resolve().parents[1]
#: Camera rotations (model -> OpenCV camera) looking at the back and at the palm, fingers up.
BACK = torch.tensor([[-1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, -1.0, 0.0]], dtype=torch.float64)
PALM = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)


def turn(rotation: torch.Tensor, degrees: float) -> torch.Tensor:
    """``rotation`` followed by a turn of the camera about its vertical axis."""
    a = math.radians(degrees)
    spin = torch.tensor([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]], dtype=rotation.dtype)
    return spin @ rotation


def key_light(batch: int) -> SHLight:
    """Soft light from the camera and slightly above: ambient plus a band-1 term along -z, -y."""
    coeffs = torch.zeros(batch, 9, 3)
    coeffs[:, 0] = 0.62 / SH_Y00
    coeffs[:, 1] = -0.15 / 0.488603  # light from above (-y in the camera frame)
    coeffs[:, 2] = -0.45 / 0.488603  # light from the camera (-z)
    return SHLight(coeffs)


def render(hand, out, views: torch.Tensor, size: int, distance_m: float = 0.42) -> np.ndarray:
    """Render each hand of ``out`` [B] with its own camera rotation ``views`` [B, 3, 3];
    returns RGB images [B, size, size, 3] in [0, 1]."""
    verts = out.verts.float()
    batch = verts.shape[0]
    centred = verts - 0.5 * (verts.amax(1, keepdim=True) + verts.amin(1, keepdim=True))
    cam = torch.einsum("bij,bvj->bvi", views.float(), centred) + torch.tensor([0.0, 0.0, distance_m])
    focal = 1.7 * size
    K = torch.tensor([[focal, 0.0, size / 2], [0.0, focal, size / 2], [0.0, 0.0, 1.0]]).expand(batch, 3, 3)
    textures = TexturesUV(maps=out.texture.float(), verts_uvs=out.verts_uvs.float(), faces_uvs=out.faces_uvs)
    renderer = Renderer(size, supersample=2, shading="sh")
    result = renderer.render(cam, out.faces, K, textures, light=key_light(batch))
    return result.rgb.permute(0, 2, 3, 1).clamp(0.0, 1.0).numpy()


def gallery(size: int = 256) -> np.ndarray:
    """The gallery image [3 * size, 6 * size, 3] uint8."""
    hand = load_hand_model("open_hand", dtype=torch.float64)
    zeros = lambda *shape: torch.zeros(*shape, dtype=torch.float64)  # noqa: E731
    rows = []
    # Row 1: poses, seen from the palm side at three quarters.
    pose = zeros(6, 3 + hand.pose_ncomp)
    pose[2, 3], pose[3, 3], pose[4, 4], pose[5, 3:6] = -1.6, 2.2, 2.0, torch.tensor([2.6, 0.8, 0.6])
    full = hand.full_pose_from_pca(pose)
    full[0] = 0.0  # the rest template
    out = hand(full_pose=full)
    rows.append(render(hand, out, torch.stack([turn(PALM, a) for a in (0, -25, 25, -30, 30, 0)]), size))
    # Row 2: shapes (components 0-2 at -2 and +2), mean pose, from the back.
    shape = zeros(6, 20)
    for i, k in enumerate((0, 0, 1, 1, 2, 2)):
        shape[i, k] = -2.0 if i % 2 == 0 else 2.0
    out = hand(shape=shape, pose=zeros(6, 3 + hand.pose_ncomp))
    rows.append(render(hand, out, BACK.expand(6, 3, 3), size))
    # Row 3: textures, light to dark along the first component, then others; back and palm.
    tex = zeros(6, 10)
    tex[0, 0], tex[1, 0], tex[2, 0], tex[3, 0], tex[4, 1], tex[5, 2] = -1.5, -0.7, 0.7, 1.5, 2.0, -2.0
    out = hand(texture=tex, pose=zeros(6, 3 + hand.pose_ncomp))
    views = torch.stack([turn(BACK, 20), turn(PALM, -20), turn(BACK, -20), turn(PALM, 20), turn(BACK, 0), turn(PALM, 0)])
    rows.append(render(hand, out, views, size))
    grid = np.concatenate([np.concatenate(list(row), axis=1) for row in rows], axis=0)
    return np.round(grid * 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "open_hand_gallery.png")
    parser.add_argument("--size", type=int, default=256, help="side of each tile (pixels)")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(gallery(args.size)).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
