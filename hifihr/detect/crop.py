"""The camera and the crop of a hand in a photo: one convention for the demo and for training
on a folder of photos.

* Camera: without known intrinsics, ``K = [[f, 0, W/2], [0, f, H/2], [0, 0, 1]]`` with
  ``f = focal_factor * max(W, H)`` (pixels). ``focal_factor = 1`` is a field of view of about
  53 degrees across the longer side, a typical phone or webcam lens.
* Crop: a square centred on the hand's box, of side ``box_scale`` times the box's longer side.
  For a box drawn by a person around the whole hand the demo uses :data:`BOX_SCALE`; for the
  tight box around the 21 detected keypoints :data:`KEYPOINT_BOX_SCALE`, the median ratio of
  crop side to keypoint box in the synthetic training data (1000 samples: 5th-95th percentile
  1.53-1.93, median 1.70), which frames the hand as the training crops do.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

#: Crop side / longer side of a hand-drawn box around the whole hand.
BOX_SCALE = 1.3
#: Crop side / longer side of the tight box around the 21 keypoints (see the module docstring).
KEYPOINT_BOX_SCALE = 1.7


class CropError(ValueError):
    """A box that cannot give a crop (empty, or outside the image)."""


def estimated_camera(width: int, height: int, focal_factor: float = 1.0, intrinsics: Optional[Sequence[float]] = None) -> np.ndarray:
    """K [3, 3] float64 of a whole image of ``width`` x ``height`` pixels: from ``intrinsics``
    ``(fx, fy, cx, cy)`` if given, else the estimate of the module docstring."""
    if intrinsics is not None:
        if len(intrinsics) != 4:
            raise ValueError(f"intrinsics: expected (fx, fy, cx, cy), got {list(intrinsics)}")
        fx, fy, cx, cy = (float(v) for v in intrinsics)
    else:
        if focal_factor <= 0:
            raise ValueError(f"focal_factor: expected a positive number, got {focal_factor}")
        fx = fy = focal_factor * max(width, height)
        cx, cy = width / 2, height / 2
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def square_crop(box: Optional[Sequence[float]], width: int, height: int, box_scale: float) -> tuple[np.ndarray, float]:
    """(centre [2], side) in pixels of the square crop around ``box`` = (x0, y0, x1, y1), or the
    central square of the image when ``box`` is None.

    Example: box (100, 50, 200, 250) with box_scale 1.5 gives centre (150, 150) and side 300.

    Raises:
        CropError: the box is empty or lies outside the image.
    """
    if box is None:
        return np.array([width / 2, height / 2]), float(min(width, height))
    x0, y0, x1, y1 = (float(v) for v in box)
    if x1 <= x0 or y1 <= y0:
        raise CropError(f"box {[float(v) for v in box]}: expected x0 < x1 and y0 < y1")
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        raise CropError(f"box {[float(v) for v in box]} lies outside the {width}x{height} image")
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2]), box_scale * max(x1 - x0, y1 - y0)


def mirror_box(box: Sequence[float], width: int) -> tuple[float, float, float, float]:
    """The box (x0, y0, x1, y1) of the left-right mirrored image ``u' = width - u``."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return (width - x1, y0, width - x0, y1)
