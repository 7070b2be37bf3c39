"""Pinhole camera maths in the OpenCV convention.

Frames and units used throughout ``hifihr.render``:

* camera frame: OpenCV, x right, y down, z forward (away from the camera), metres;
* image frame: pixels, u to the right, v downwards, origin at the top-left corner of the
  image, so the centre of pixel (column i, row j) is at (u, v) = (i + 0.5, j + 0.5);
* projection: ``u = (K X)_x / (K X)_z``, ``v = (K X)_y / (K X)_z``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_shape(name: str, tensor: Tensor, expected: tuple[int | str, ...]) -> None:
    """Raise a ValueError naming the expected and the received shape of ``tensor``.

    ``expected`` holds an int for a fixed size and a symbol (e.g. "B", "V") for any size.
    """
    ok = tensor.dim() == len(expected) and all(
        isinstance(want, str) or got == want for got, want in zip(tensor.shape, expected)
    )
    if not ok:
        dims = ", ".join(str(d) for d in expected)
        raise ValueError(f"{name}: expected shape [{dims}], got {tuple(tensor.shape)}")


def world_to_camera(points: Tensor, R: Tensor | None = None, t: Tensor | None = None) -> Tensor:
    """Rigidly move points into the OpenCV camera frame: ``X_cam = R X + t``.

    Args:
        points: [B, N, 3] points in the world frame, metres.
        R: [B, 3, 3] rotation world -> camera, or None for the identity.
        t: [B, 3] translation in metres (camera frame), or None for zero.

    Returns:
        [B, N, 3] points in the OpenCV camera frame, metres.
    """
    check_shape("points", points, ("B", "N", 3))
    batch = points.shape[0]
    if R is not None:
        check_shape("R", R, (batch, 3, 3))
        points = points @ R.transpose(1, 2)
    if t is not None:
        check_shape("t", t, (batch, 3))
        points = points + t[:, None, :]
    return points


def project_points(
    points: Tensor,
    K: Tensor,
    R: Tensor | None = None,
    t: Tensor | None = None,
    min_depth: float | None = None,
) -> Tensor:
    """Project points to pixel coordinates and depth.

    Args:
        points: [B, N, 3] points in the world frame, metres (the OpenCV camera frame when R and
            t are None).
        K: [B, 3, 3] intrinsics in pixels, OpenCV convention (pixel (i, j) centred at
            (i + 0.5, j + 0.5)).
        R: [B, 3, 3] rotation world -> camera, or None.
        t: [B, 3] translation world -> camera in metres, or None.
        min_depth: if given, the perspective division uses ``max(z, min_depth)``, so points at or
            behind the camera get finite (meaningless) pixel coordinates and finite gradients
            instead of inf/NaN. The returned depth is never clamped, so a caller can still tell
            such points apart (the rasterizer culls faces that touch them).

    Returns:
        [B, N, 3]: (u, v) in pixels and z, the depth along the optical axis in metres.

    Example: K = [[100, 0, 32], [0, 100, 32], [0, 0, 1]] and X = (0.105, 0.005, 1) give
    (u, v, z) = (42.5, 32.5, 1): the centre of the pixel in column 42, row 32.
    """
    cam = world_to_camera(points, R, t)
    check_shape("K", K, (cam.shape[0], 3, 3))
    z = cam[..., 2:3]
    divisor = z if min_depth is None else z.clamp_min(min_depth)
    pix = cam @ K.transpose(1, 2)
    return torch.cat([pix[..., :2] / divisor, z], dim=-1)


def scale_intrinsics(K: Tensor, factor: float) -> Tensor:
    """Intrinsics of the same camera on an image resampled by ``factor`` in both axes.

    With pixel centres at i + 0.5 the rendering at ``factor``·H x ``factor``·W uses exactly
    ``diag(factor, factor, 1) @ K``: sub-pixel (i', j') of the large image covers
    [i'/factor, (i'+1)/factor) of the small one, so average-pooling blocks of factor x factor
    reproduces the small image's pixel grid.

    Args:
        K: [B, 3, 3] intrinsics in pixels.
        factor: scale of the image size (e.g. 3 for 224 -> 672).

    Returns:
        [B, 3, 3] scaled intrinsics.
    """
    scale = torch.tensor([factor, factor, 1.0], dtype=K.dtype, device=K.device)
    return K * scale[:, None]
