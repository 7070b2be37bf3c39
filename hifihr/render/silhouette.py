"""Differentiable soft silhouette (SoftRas-style), so that mask losses give gradients.

Each face f covers pixel p with probability

    P_f(p) = sigmoid(-s_f(p) / sigma),   s_f(p) = -d² inside the triangle, +d² outside,

with d the screen-space distance (pixels) from the pixel centre to the triangle's boundary, and
the faces are aggregated as independent events: alpha(p) = 1 - prod_f (1 - P_f(p)). Faces farther
than ``blur_radius_px`` from p are left out (their P_f < 1e-4), which fixes
sigma = blur_radius_px² / ln(1/1e-4 - 1), PyTorch3D's relation between ``blur_radius`` and
``BlendParams.sigma`` for its ``SoftSilhouetteShader``. A pixel farther than the blur radius
inside some face gets alpha = 1 exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from hifihr.render.camera import check_shape
from hifihr.render.rasterize import (
    DEFAULT_Z_NEAR,
    check_faces,
    face_pixel_candidates,
    face_validity,
)

#: Probability of a face at exactly the blur radius.
_EDGE_PROBABILITY = 1e-4


def sigma_from_blur_radius(blur_radius_px: float) -> float:
    """sigma (px²) such that a face at ``blur_radius_px`` covers a pixel with probability 1e-4."""
    return blur_radius_px**2 / math.log(1.0 / _EDGE_PROBABILITY - 1.0)


def _signed_squared_distance(corners: Tensor, px: Tensor, py: Tensor) -> Tensor:
    """``signed_squared_distance`` on coordinate-major data: corners [6, N] = (x0, y0, x1, y1,
    x2, y2) and points px, py [N]; every operation runs on contiguous [N] vectors."""
    xs, ys = corners[0::2], corners[1::2]
    squared = None
    signs = []
    for i in range(3):
        j = (i + 1) % 3
        ex, ey = xs[j] - xs[i], ys[j] - ys[i]
        rx, ry = px - xs[i], py - ys[i]
        t = ((rx * ex + ry * ey) / (ex * ex + ey * ey)).clamp(0.0, 1.0)
        dx, dy = rx - t * ex, ry - t * ey
        edge = dx * dx + dy * dy
        squared = edge if squared is None else torch.minimum(squared, edge)
        signs.append(ex * ry - ey * rx)
    inside = ((signs[0] >= 0) & (signs[1] >= 0) & (signs[2] >= 0)) | (
        (signs[0] <= 0) & (signs[1] <= 0) & (signs[2] <= 0)
    )
    return torch.where(inside, -squared, squared)


def signed_squared_distance(tri: Tensor, points: Tensor) -> Tensor:
    """Signed squared distance from points to screen-space triangles.

    Args:
        tri: [N, 3, 2] triangle corners in pixels (either orientation, non-degenerate).
        points: [N, 2] points in pixels.

    Returns:
        [N] -d² when the point is inside the closed triangle, +d² outside, d the distance to
        the nearest edge segment (pixels). Differentiable w.r.t. both inputs.
    """
    return _signed_squared_distance(tri.reshape(-1, 6).T, points[:, 0], points[:, 1])


def soft_silhouette(
    verts_screen: Tensor,
    faces: Tensor,
    image_size: tuple[int, int],
    blur_radius_px: float = 2.0,
    z_near: float = DEFAULT_Z_NEAR,
    max_candidates: int | None = None,
) -> Tensor:
    """Soft coverage of each pixel by a batch of meshes (formula in the module docstring).

    Faces culled by the rasterizer (non-finite, behind ``z_near``, degenerate) are left out.

    Args:
        verts_screen: [B, V, 3] vertices from ``project_points`` (u, v in pixels of this image,
            z in metres).
        faces: [F, 3] int64, shared by the batch.
        image_size: (H, W).
        blur_radius_px: the blur radius in pixels (> 0).
        z_near: near plane in metres.
        max_candidates: bound on (face, pixel) pairs per chunk (memory only; None: by device).

    Returns:
        [B, H, W] alpha in [0, 1], differentiable w.r.t. ``verts_screen``.
    """
    check_shape("verts_screen", verts_screen, ("B", "V", 3))
    faces = check_faces(faces, verts_screen.shape[1])
    if not blur_radius_px > 0:
        raise ValueError(f"blur_radius_px: expected > 0, got {blur_radius_px}")
    batch, num_verts, _ = verts_screen.shape
    height, width = image_size
    num_faces = faces.shape[0]
    num_pixels = batch * height * width
    radius2 = blur_radius_px**2

    with torch.no_grad():
        face_verts = verts_screen.detach()[:, faces]
        valid = face_validity(face_verts, z_near)
        corners = face_verts[..., :2].reshape(-1, 6).T.contiguous()  # [6, B·F]
        solid = torch.zeros(num_pixels, dtype=torch.bool, device=verts_screen.device)
        near_face, near_pixel = [], []
        for chunk in face_pixel_candidates(face_verts, valid, image_size, blur_radius_px, max_candidates):
            face = chunk.row_face[chunk.owner]
            row = chunk.row_y[chunk.owner]
            col = chunk.row_col0[chunk.owner] + chunk.offset
            distance = _signed_squared_distance(corners[:, face], col + 0.5, row + 0.5)
            pixel = (face // num_faces) * (height * width) + row * width + col
            solid[pixel[distance <= -radius2]] = True
            near = distance.abs() < radius2
            near_face.append(face[near])
            near_pixel.append(pixel[near])
        near_face = torch.cat(near_face) if near_face else faces.new_zeros(0)
        near_pixel = torch.cat(near_pixel) if near_pixel else faces.new_zeros(0)
        keep = ~solid[near_pixel]
        near_face, near_pixel = near_face[keep], near_pixel[keep]

    corners = verts_screen[..., :2][:, faces].reshape(-1, 6).T  # [6, B·F], differentiable
    pixel_in_image = near_pixel % (height * width)
    centre_x = (pixel_in_image % width).to(corners.dtype) + 0.5
    centre_y = (pixel_in_image // width).to(corners.dtype) + 0.5
    distance = _signed_squared_distance(corners[:, near_face], centre_x, centre_y)
    # log(1 - sigmoid(-s / sigma)) = -softplus(-s / sigma), stable for any s.
    log_miss = -F.softplus(-distance / sigma_from_blur_radius(blur_radius_px))
    total = verts_screen.new_zeros(num_pixels).index_add(0, near_pixel, log_miss)
    alpha = torch.where(solid, 1.0, 1.0 - torch.exp(total))
    return alpha.view(batch, height, width)
