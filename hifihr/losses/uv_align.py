"""Dense appearance alignment through the mesh (``uv_align``, after Karvounas et al., WACV 2026).

The plain photometric terms compare the render with the image pixel by pixel. With a hard
rasterizer their only route to the geometry is the texture lookup at fixed pixels, so a hand of
nearly uniform colour that sits a few pixels off gets no pull towards the image at all. This
term instead carries the image onto the surface: every visible surface point X (a fixed face and
fixed barycentric coordinates, taken from the render) is projected into the image, the image is
sampled there bilinearly, and that observed colour is compared with the colour the model
predicts for X (its shaded albedo). Moving the mesh moves π(K X) across the image, so the
geometry follows the image gradient at the projected points.

    loss_b = sum_n w_n · mean_c |c_n - I_b(π(K X_n))| / sum_n w_n

with n over the covered supersamples of image b, c_n the predicted shaded colour, and
w_n = |cos| of the angle between the face normal and the viewing ray (no gradient): grazing
points, whose projection moves fastest and whose colour is least reliable, count least.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from hifihr.losses.prediction import Prediction
from hifihr.losses.registry import register_loss
from hifihr.render.camera import check_shape
from hifihr.render.interpolate import PixelBatch
from hifihr.render.rasterize import Fragments

#: Prediction fields the term reads (``RenderOutput`` keeps them for it).
UV_ALIGN_FIELDS = ("render.fragments", "render.colors", "render.verts_cam", "render.faces", "render.K")


def sample_image(image: Tensor, uv: Tensor) -> Tensor:
    """Bilinear lookup of image colours at pixel positions, differentiable w.r.t. ``uv``.

    Pixel (i, j)'s centre is at (u, v) = (i + 0.5, j + 0.5); outside the image the border pixel
    is repeated.

    Args:
        image: [B, C, H, W].
        uv: [B, N, 2] positions in pixels.

    Returns:
        [B, N, C].
    """
    check_shape("image", image, ("B", "C", "H", "W"))
    check_shape("uv", uv, (image.shape[0], "N", 2))
    height, width = image.shape[-2:]
    grid = uv * uv.new_tensor([2.0 / width, 2.0 / height]) - 1.0
    sampled = F.grid_sample(image, grid[:, None], mode="bilinear", padding_mode="border", align_corners=False)
    return sampled[:, :, 0].transpose(1, 2)


def alignment_error(image: Tensor, points: Tensor, predicted: Tensor, weights: Tensor, K: Tensor) -> Tensor:
    """Weighted mean colour difference between predicted surface colours and the image at the
    projections of the surface points.

    Args:
        image: [B, 3, H, W] observed image in [0, 1].
        points: [B, N, 3] surface points, metres, OpenCV camera frame (z > 0).
        predicted: [B, N, 3] the colours the model predicts at those points.
        weights: [B, N] >= 0 (0 for padding).
        K: [B, 3, 3] intrinsics of ``image``, pixels.

    Returns:
        [B]: ``sum_n w_n mean_c |predicted - I(π(K X_n))| / sum_n w_n`` (0 for an image with no
        weight).
    """
    check_shape("points", points, ("B", "N", 3))
    check_shape("K", K, (points.shape[0], 3, 3))
    projected = points @ K.transpose(1, 2)
    uv = projected[..., :2] / projected[..., 2:].clamp_min(1e-6)
    observed = sample_image(image.to(points.dtype), uv)
    diff = (predicted - observed).abs().mean(-1)
    return (weights * diff).sum(-1) / weights.sum(-1).clamp_min(torch.finfo(weights.dtype).tiny)


def visible_surface(
    fragments: Fragments, colors: Tensor, verts_cam: Tensor, faces: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """The visible surface samples of a render: points, predicted colours and view weights.

    Args:
        fragments: the render's fragments, [B, h, w] (any supersampled resolution).
        colors: [B, h, w, 3] shaded colours of the same supersamples.
        verts_cam: [B, V, 3] rendered vertices, metres, OpenCV camera frame.
        faces: [F, 3] int64.

    Returns:
        points [B, N, 3]: sum_k bary_k X_k with the barycentrics held fixed (so the points move
        with the vertices), predicted [B, N, 3]: ``colors`` at the samples, weights [B, N]: the
        |cosine| between the face normal and the viewing ray, no gradient, 0 in padding slots.
    """
    held = Fragments(fragments.pix_to_face, fragments.bary.detach(), fragments.zbuf)
    pixels = PixelBatch.from_fragments(held)
    face_verts = verts_cam[:, faces]  # [B, F, 3, 3]
    points = pixels.interpolate(face_verts)
    batch = colors.shape[0]
    predicted = colors.reshape(batch, -1, 3).gather(1, pixels.pixel[..., None].expand(-1, -1, 3))
    with torch.no_grad():
        offsets = torch.arange(batch, device=faces.device)[:, None] * faces.shape[0]
        tri = face_verts.flatten(0, 1)[pixels.face + offsets]  # [B, N, 3, 3]
        normal = F.normalize(torch.linalg.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0], dim=-1), dim=-1)
        ray = F.normalize(points, dim=-1)
        weights = (normal * ray).sum(-1).abs() * pixels.mask
    return points, predicted, weights.to(points.dtype)


@register_loss("uv_align", weight=3e-3, fields=("image",), prediction=UV_ALIGN_FIELDS)
def uv_align(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """Mean over the batch of the view-weighted |predicted colour - image at the projected visible surface point|."""
    render = pred.render
    points, predicted, weights = visible_surface(render.fragments, render.colors, render.verts_cam, render.faces)
    return alignment_error(batch["image"], points, predicted, weights, render.K).mean()
