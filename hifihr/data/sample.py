"""The fields of a sample, in one table (:data:`SAMPLE_FIELDS`), and a checker.

Shapes use ``S`` for the crop side (``image_size``, 224 by default); a batch adds a leading
``B``. Pixels are continuous crop coordinates with pixel ``(i, j)``'s centre at
``(i + 0.5, j + 0.5)``; 3D is in metres in the OpenCV camera frame of the crop (x right, y down,
z forward), so ``project(K, joints3d) == joints2d`` wherever both exist. Keypoints are in
FreiHAND order. A field a dataset does not have is absent from its samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch


@dataclass(frozen=True)
class FieldSpec:
    """One sample field: shape (``"S"`` = crop side, other names = any size), dtype, units/frame,
    and which datasets have it."""

    shape: tuple[int | str, ...]
    dtype: torch.dtype | type
    description: str


SAMPLE_FIELDS: dict[str, FieldSpec] = {
    "image": FieldSpec((3, "S", "S"), torch.float32, "RGB crop in [0, 1]; all datasets"),
    "K": FieldSpec((3, 3), torch.float32, "pinhole intrinsics of the crop (pixels, no skew); all"),
    "mask": FieldSpec((1, "S", "S"), torch.float32, "hand mask in {0, 1}; where the dataset has masks"),
    "joints3d": FieldSpec((21, 3), torch.float32, "keypoints, metres, camera frame (absolute); FreiHAND, HO-3D train, RHD"),
    "verts3d": FieldSpec(("V", 3), torch.float32, "MANO vertices (V = 778; the open hand's skin in the synthetic data), metres, camera frame; FreiHAND"),
    "joints2d": FieldSpec((21, 2), torch.float32, "keypoints, crop pixels (= projection of joints3d); where joints3d is"),
    "joints_visible": FieldSpec((21,), torch.float32, "1 where the keypoint is visible, else 0; RHD"),
    "openpose2d": FieldSpec((21, 2), torch.float32, "OpenPose (or hand detector) keypoints, crop pixels; when a detections file is read; photos"),
    "openpose_conf": FieldSpec((21,), torch.float32, "OpenPose heatmap peak values (detector: the hand's score, 0 = no hand); with openpose2d"),
    "root": FieldSpec((3,), torch.float32, "root keypoint, metres, camera frame; all but photos"),
    "root_index": FieldSpec((), torch.int64, "which keypoint root (or a predicted root) is: 9 (middle MCP), 0 (wrist) on HO-3D evaluation; all"),
    "scale": FieldSpec((), torch.float32, "middle-finger MCP-PIP length, metres; where joints3d is"),
    "bbox": FieldSpec((4,), torch.float32, "hand box (x_min, y_min, x_max, y_max), crop pixels; HO-3D evaluation, photos (detected keypoints' box)"),
    "mirrored": FieldSpec((), torch.bool, "a left hand mirrored into a right hand; RHD, photos"),
    "index": FieldSpec((), torch.int64, "index of the sample in its dataset; all"),
    "dataset": FieldSpec((), str, "registry name of the dataset; all"),
}


def check_sample(sample: Mapping[str, Any], image_size: int) -> None:
    """Raise ValueError when a field of ``sample`` is unknown or has a wrong shape or dtype."""
    for key, value in sample.items():
        if key not in SAMPLE_FIELDS:
            raise ValueError(f"sample field {key!r} is not in SAMPLE_FIELDS ({', '.join(SAMPLE_FIELDS)})")
        spec = SAMPLE_FIELDS[key]
        if spec.dtype is str:
            if not isinstance(value, str):
                raise ValueError(f"{key}: expected a str, got {type(value).__name__}")
            continue
        shape = tuple(image_size if dim == "S" else dim for dim in spec.shape)
        matches = isinstance(value, torch.Tensor) and value.ndim == len(shape) and all(
            isinstance(want, str) or got == want for got, want in zip(value.shape, shape)
        )
        if not matches or value.dtype != spec.dtype:
            got = f"{tuple(value.shape)} {value.dtype}" if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"{key}: expected {shape} {spec.dtype}, got {got}")
