"""Panels people look at: the input, the render, the render over the input, keypoints, texture maps.

Inputs are the project's tensors (images [3, H, W] float in [0, 1], keypoints [21, 2] in crop
pixels with pixel ``(i, j)``'s centre at ``(i + 0.5, j + 0.5)``, FreiHAND order); every panel
comes out as an [H, W, 3] uint8 RGB array, ready for a grid (:mod:`hifihr.viz.grid`), a PNG
or TensorBoard.
"""

from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np
import torch

from hifihr.hand.joints import FREIHAND_PARENTS

#: RGB colour of each finger's bones (thumb, index, middle, ring, pinky) for predicted keypoints.
FINGER_COLORS = ((230, 60, 60), (240, 180, 40), (60, 200, 80), (50, 150, 240), (180, 80, 220))
#: RGB colour of ground-truth keypoints.
GT_COLOR = (255, 255, 255)
#: Sub-pixel precision of OpenCV drawing (coordinates are multiplied by 2**SHIFT).
SHIFT = 4


def to_uint8(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """[3, H, W] (channels first) or [H, W, 3] float in [0, 1] -> [H, W, 3] uint8 (clipped, rounded)."""
    array = image.detach().float().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, dtype=np.float32)
    if array.ndim != 3 or 3 not in (array.shape[0], array.shape[-1]):
        raise ValueError(f"image: expected [3, H, W] or [H, W, 3], got {array.shape}")
    if array.shape[0] == 3 and array.shape[-1] != 3:
        array = array.transpose(1, 2, 0)
    return np.ascontiguousarray(np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8))


def overlay(image: torch.Tensor, render: torch.Tensor, alpha: torch.Tensor, opacity: float = 0.7) -> np.ndarray:
    """The render blended over the input where the mesh covers the pixel.

    ``out = image (1 - o a) + render (o a)`` with ``a`` the render's coverage and ``o`` the opacity.

    Args:
        image: [3, H, W] input crop in [0, 1]. render: [3, H, W] rendered colour.
        alpha: [1, H, W] coverage in [0, 1]. opacity: o in [0, 1].

    Returns:
        [H, W, 3] uint8.
    """
    if image.shape != render.shape or alpha.shape != (1, *image.shape[1:]):
        raise ValueError(
            f"overlay: expected image and render [3, H, W] and alpha [1, H, W], got {tuple(image.shape)}, "
            f"{tuple(render.shape)}, {tuple(alpha.shape)}"
        )
    weight = opacity * alpha.float()
    return to_uint8(image.float() * (1 - weight) + render.float().clamp(0, 1) * weight)


def _pixel(point: np.ndarray) -> tuple[int, int]:
    """Continuous crop pixel -> OpenCV's fixed-point coordinate (OpenCV puts pixel centres at integers)."""
    return int(round((point[0] - 0.5) * (1 << SHIFT))), int(round((point[1] - 0.5) * (1 << SHIFT)))


def draw_keypoints(
    canvas: np.ndarray,
    joints2d: torch.Tensor | np.ndarray,
    colors: Optional[Sequence[tuple[int, int, int]]] = None,
    radius: float = 1.5,
    thickness: int = 1,
) -> np.ndarray:
    """Draw a 21-keypoint hand (FreiHAND order) onto a copy of ``canvas``.

    Args:
        canvas: [H, W, 3] uint8 RGB.
        joints2d: [21, 2] crop pixels (pixel centres at +0.5).
        colors: one RGB colour per finger (5), or None for :data:`FINGER_COLORS`; a single
            colour repeated gives a one-colour hand.
        radius: joint dot radius, pixels. thickness: bone line width, pixels.

    Returns:
        The drawn copy, [H, W, 3] uint8.
    """
    points = joints2d.detach().cpu().numpy() if isinstance(joints2d, torch.Tensor) else np.asarray(joints2d)
    if points.shape != (21, 2):
        raise ValueError(f"joints2d: expected [21, 2], got {points.shape}")
    colors = FINGER_COLORS if colors is None else colors
    out = np.ascontiguousarray(canvas.copy())
    if not np.isfinite(points).all():
        return out
    for child, parent in enumerate(FREIHAND_PARENTS):
        if parent < 0:
            continue
        color = colors[(child - 1) // 4]
        cv2.line(out, _pixel(points[parent]), _pixel(points[child]), color, thickness, cv2.LINE_AA, SHIFT)
    for index, point in enumerate(points):
        color = colors[max(index - 1, 0) // 4]
        cv2.circle(out, _pixel(point), int(round(radius * (1 << SHIFT))), color, -1, cv2.LINE_AA, SHIFT)
    return out


def keypoint_panel(
    image: torch.Tensor, pred_joints2d: torch.Tensor, gt_joints2d: Optional[torch.Tensor] = None
) -> np.ndarray:
    """The input with the ground-truth hand (white) under the predicted hand (finger colours)."""
    canvas = to_uint8(image)
    if gt_joints2d is not None:
        canvas = draw_keypoints(canvas, gt_joints2d, colors=(GT_COLOR,) * 5, radius=1.0)
    return draw_keypoints(canvas, pred_joints2d)


def texture_panel(texture: torch.Tensor, size: int) -> np.ndarray:
    """A texture map [T, T, 3] in [0, 1] (row 0 at the top) resized to [size, size, 3] uint8."""
    if texture.ndim != 3 or texture.shape[-1] != 3:
        raise ValueError(f"texture: expected [T, T, 3], got {tuple(texture.shape)}")
    image = to_uint8(texture)
    interpolation = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_NEAREST
    return cv2.resize(image, (size, size), interpolation=interpolation)


def blank_panel(height: int, width: int, text: str) -> np.ndarray:
    """A grey [H, W, 3] uint8 panel with a short centred note (e.g. "no render")."""
    panel = np.full((height, width, 3), 96, np.uint8)
    scale = max(width / 260.0, 0.3)
    (text_w, text_h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    origin = (max((width - text_w) // 2, 0), (height + text_h) // 2)
    cv2.putText(panel, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (230, 230, 230), 1, cv2.LINE_AA)
    return panel


#: Titles of the panels :func:`sample_panels` returns, in order.
PANEL_TITLES = ("input", "render", "overlay", "keypoints", "texture map")


def sample_panels(
    image: torch.Tensor,
    pred_joints2d: torch.Tensor,
    gt_joints2d: Optional[torch.Tensor] = None,
    render_rgb: Optional[torch.Tensor] = None,
    render_alpha: Optional[torch.Tensor] = None,
    texture: Optional[torch.Tensor] = None,
) -> list[np.ndarray]:
    """One sample as the five panels of :data:`PANEL_TITLES`, each [H, W, 3] uint8.

    Args:
        image: [3, H, W] input crop. pred_joints2d, gt_joints2d: [21, 2] crop pixels.
        render_rgb: [3, H, W] render, or None (blank panels for render and overlay).
        render_alpha: [1, H, W] coverage (with ``render_rgb``).
        texture: [T, T, 3] diffuse map in [0, 1], or None (a blank panel).
    """
    height, width = image.shape[1:]
    panels = [to_uint8(image)]
    if render_rgb is not None and render_alpha is not None:
        panels += [to_uint8(render_rgb), overlay(image, render_rgb, render_alpha)]
    else:
        panels += [blank_panel(height, width, "no render")] * 2
    panels.append(keypoint_panel(image, pred_joints2d, gt_joints2d))
    panels.append(texture_panel(texture, height) if texture is not None else blank_panel(height, width, "no texture"))
    return panels
