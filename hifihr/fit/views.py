"""What the refinement fits to: one or more calibrated views of one hand, and their 2D keypoints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from torch import Tensor

from hifihr.render import project_points
from hifihr.render.camera import check_shape


@dataclass(frozen=True)
class FitViews:
    """N calibrated views of one right hand.

    Attributes:
        images: [N, 3, H, W] RGB in [0, 1].
        K: [N, 3, 3] intrinsics, pixels (pixel (i, j) centred at (i + 0.5, j + 0.5)).
        R: [N, 3, 3] and t: [N, 3] world -> OpenCV camera (X_cam = R X + t, metres), or None
            for one view whose camera frame is the world frame.
        masks: [N, 1, H, W] hand masks in {0, 1}, or None (then the silhouette term is off and
            the photometric term compares within the rendered coverage).
        keypoints2d: [N, 21, 2] FreiHAND-order keypoints, pixels, or None.
        keypoint_conf: [N, 21] their confidences in [0, 1] (0: missing), or None.
    """

    images: Tensor
    K: Tensor
    R: Optional[Tensor] = None
    t: Optional[Tensor] = None
    masks: Optional[Tensor] = None
    keypoints2d: Optional[Tensor] = None
    keypoint_conf: Optional[Tensor] = None

    def __post_init__(self) -> None:
        check_shape("images", self.images, ("N", 3, "H", "W"))
        num = self.images.shape[0]
        check_shape("K", self.K, (num, 3, 3))
        if (self.R is None) != (self.t is None):
            raise ValueError("R and t: give both (world -> camera) or neither")
        if self.R is None and num != 1:
            raise ValueError(f"{num} views need extrinsics R [N, 3, 3] and t [N, 3]; only one view may omit them")
        if self.R is not None:
            check_shape("R", self.R, (num, 3, 3))
            check_shape("t", self.t, (num, 3))
        if self.masks is not None:
            check_shape("masks", self.masks, (num, 1, *self.images.shape[2:]))
        if self.keypoints2d is not None:
            check_shape("keypoints2d", self.keypoints2d, (num, 21, 2))
            conf = self.keypoint_conf
            if conf is None:
                object.__setattr__(self, "keypoint_conf", torch.ones(num, 21, dtype=self.images.dtype))
            else:
                check_shape("keypoint_conf", conf, (num, 21))

    @property
    def num_views(self) -> int:
        return self.images.shape[0]

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.images.shape[2:])

    def world_to_camera(self) -> tuple[Tensor, Tensor]:
        """(R [N, 3, 3], t [N, 3]); the identity for a single view without extrinsics."""
        if self.R is not None:
            return self.R, self.t
        return torch.eye(3, dtype=self.K.dtype)[None], torch.zeros(1, 3, dtype=self.K.dtype)

    def project(self, points_world: Tensor) -> Tensor:
        """Pixels [N, P, 2] of world points [P, 3] in every view."""
        R, t = self.world_to_camera()
        expanded = points_world[None].expand(self.num_views, -1, -1)
        return project_points(expanded, self.K, R, t, min_depth=1e-4)[..., :2]


def read_image_tensor(path: str | Path) -> Tensor:
    """An image file as [3, H, W] RGB float in [0, 1]."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return torch.from_numpy(cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0).permute(2, 0, 1)


#: Names under which a keypoints JSON may hold the 21 rows, and their confidences.
KEYPOINT_KEYS = ("keypoints", "keypoints2d", "joints2d", "uv")
CONFIDENCE_KEYS = ("conf", "confidence", "visible")


#: Names under which a keypoints entry may say which hand it is ("left" or "right").
SIDE_KEYS = ("side", "handedness")


def _keypoint_entry(path: str | Path, key: Optional[str], hand_index: int):
    """The entry of one hand in a keypoints JSON (see :func:`read_keypoints_json`)."""
    data = json.loads(Path(path).read_text())
    if isinstance(data, dict) and key is not None:
        if key not in data:
            raise ValueError(f"{path}: no entry {key!r}; entries: {', '.join(sorted(data))[:400]}")
        data = data[key]
    if isinstance(data, list) and data and isinstance(data[0], dict):
        if not 0 <= hand_index < len(data):
            raise ValueError(f"{path}: hand index {hand_index} out of range (the entry lists {len(data)} hands)")
        data = data[hand_index]
    return data


def entry_side(entry, where: str) -> Optional[str]:
    """``"left"`` or ``"right"`` from a keypoints entry (under one of :data:`SIDE_KEYS`), or None
    when it does not say (or is not a mapping); ``where`` names the entry in errors.

    Raises:
        ValueError: a side other than left / right.
    """
    if not isinstance(entry, dict):
        return None
    name = next((k for k in SIDE_KEYS if k in entry), None)
    if name is None:
        return None
    if entry[name] not in ("left", "right"):
        raise ValueError(f"{where}: {name!r}: expected 'left' or 'right', got {entry[name]!r}")
    return entry[name]


def read_hand_side(path: str | Path, key: Optional[str] = None, hand_index: int = 0) -> Optional[str]:
    """:func:`entry_side` of the same entry as :func:`read_keypoints_json` (the real photos'
    annotations and the detector write a side), or None when the entry does not say.

    Raises:
        ValueError: as :func:`read_keypoints_json`, or a side other than left / right.
    """
    return entry_side(_keypoint_entry(path, key, hand_index), str(path))


def read_keypoints_json(path: str | Path, key: Optional[str] = None, hand_index: int = 0) -> tuple[Tensor, Tensor]:
    """2D keypoints (FreiHAND order, pixels) from a JSON file.

    Accepted: 21 rows of [x, y] or [x, y, conf]; an object holding them under one of
    :data:`KEYPOINT_KEYS` (confidences optionally under one of :data:`CONFIDENCE_KEYS`); a list
    of such objects, one per hand (pick with ``hand_index``); or a mapping of names (image
    paths) to any of these (pick with ``key``), as ``real_photos/annotations.json``.

    Returns:
        (keypoints [21, 2] pixels, confidences [21]; 1 where none is given).

    Raises:
        ValueError: a missing ``key`` or ``hand_index``, or not 21 rows of 2 or 3 numbers.
    """
    data = _keypoint_entry(path, key, hand_index)
    conf = None
    if isinstance(data, dict):
        name = next((k for k in KEYPOINT_KEYS if k in data), None)
        if name is None:
            raise ValueError(
                f"{path}: expected 21 [x, y(, conf)] rows under one of {KEYPOINT_KEYS} (or pass a key), got keys {sorted(data)[:10]}"
            )
        conf_name = next((k for k in CONFIDENCE_KEYS if k in data), None)
        conf = None if conf_name is None else np.asarray(data[conf_name], dtype=np.float64).reshape(-1)
        data = data[name]
    rows = np.asarray(data, dtype=np.float64)
    if rows.shape not in ((21, 2), (21, 3)):
        raise ValueError(f"{path}: expected 21 rows of [x, y] or [x, y, conf], got shape {list(rows.shape)}")
    if conf is None:
        conf = rows[:, 2] if rows.shape[1] == 3 else np.ones(21)
    if conf.shape != (21,):
        raise ValueError(f"{path}: expected 21 confidences, got {conf.shape[0]}")
    return torch.tensor(rows[:, :2], dtype=torch.float32), torch.tensor(conf, dtype=torch.float32)


def single_view(
    image: Tensor,
    K: Sequence[float] | Tensor,
    keypoints2d: Optional[Tensor] = None,
    keypoint_conf: Optional[Tensor] = None,
    mask: Optional[Tensor] = None,
) -> FitViews:
    """One photo: ``image`` [3, H, W], ``K`` as (fx, fy, cx, cy) or [3, 3], optional [21, 2]
    keypoints with [21] confidences and an optional [1, H, W] mask."""
    K = torch.as_tensor(K, dtype=torch.float32)
    if K.shape == (4,):
        fx, fy, cx, cy = K.tolist()
        K = torch.tensor([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    if K.shape != (3, 3):
        raise ValueError(f"K: expected (fx, fy, cx, cy) or [3, 3], got {tuple(K.shape)}")
    return FitViews(
        images=image[None],
        K=K[None],
        masks=None if mask is None else mask[None],
        keypoints2d=None if keypoints2d is None else keypoints2d[None],
        keypoint_conf=None if keypoint_conf is None else keypoint_conf[None],
    )
