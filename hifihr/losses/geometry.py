"""Keypoint, vertex and mesh losses, and the helpers they share.

Ground-truth 3D in a batch is absolute (camera frame, metres). :func:`root_relative` subtracts
the root keypoint (``batch["root_index"]``, 9 by default) from both the ground truth and the
prediction, so every 3D term compares root-relative quantities, on every dataset. For a
prediction already relative to that keypoint the subtraction changes nothing.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import torch
from torch import Tensor

from hifihr.hand.joints import FREIHAND_PARENTS, ROOT_INDEX
from hifihr.losses.prediction import Prediction
from hifihr.losses.registry import register_loss

#: Elementwise distances selected by config ``loss.base``: the reference's ``base_loss_fn``
#: ("L1" = ``nn.L1Loss``, "L2" = ``nn.MSELoss``) before the mean.
BASE_DISTANCES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "l1": lambda a, b: (a - b).abs(),
    "l2": lambda a, b: (a - b) ** 2,
}

#: The 20 bones in FreiHAND order: bone k joins keypoint ``BONE_CHILDREN[k]`` to its parent.
BONE_CHILDREN: tuple[int, ...] = tuple(range(1, 21))
BONE_PARENTS: tuple[int, ...] = tuple(FREIHAND_PARENTS[c] for c in BONE_CHILDREN)

#: OpenPose keypoint weights of ``open_2dj``: wrist 2, fingertips 1.5, others 1.
OPENPOSE_KEYPOINT_WEIGHTS: tuple[float, ...] = (2.0,) + (1.0, 1.0, 1.0, 1.5) * 5

#: Pixel distance where ``open_2dj``'s penalty switches from quadratic to linear.
OPEN_2DJ_THRESHOLD_PX = 5.0


def base_distance(base: str) -> Callable[[Tensor, Tensor], Tensor]:
    """The elementwise distance named ``base`` ("l1" or "l2")."""
    if base not in BASE_DISTANCES:
        raise ValueError(f"base: expected one of {sorted(BASE_DISTANCES)}, got {base!r}")
    return BASE_DISTANCES[base]


def root_indices(batch: Mapping[str, Any], batch_size: int, device: torch.device) -> Tensor:
    """``batch["root_index"]`` as an int64 tensor [B] (:data:`ROOT_INDEX` = 9 when absent)."""
    index = torch.as_tensor(batch.get("root_index", ROOT_INDEX), dtype=torch.long, device=device)
    return index.expand(batch_size) if index.ndim == 0 else index


def root_relative(points: Tensor, joints: Tensor, root_index: Tensor) -> Tensor:
    """Points relative to one keypoint of their own sample.

    Args:
        points: [B, N, 3] points (joints or vertices), metres.
        joints: [B, 21, 3] keypoints of the same samples and frame.
        root_index: [B] int64, which keypoint is each sample's root.

    Returns:
        [B, N, 3] ``points[b] - joints[b, root_index[b]]``.
    """
    root = joints[torch.arange(joints.shape[0], device=joints.device), root_index]
    return points - root[:, None, :]


def root_relative_pair(
    pred_points: Tensor, pred_joints: Tensor, gt_points: Tensor, gt_joints: Tensor, batch: Mapping[str, Any]
) -> tuple[Tensor, Tensor]:
    """Prediction and ground truth, both relative to keypoint ``batch["root_index"]`` of their own joints.

    Args:
        pred_points, gt_points: [B, N, 3]. pred_joints, gt_joints: [B, 21, 3]. Metres.
        batch: read for ``root_index`` (9 when absent).

    Returns:
        (pred [B, N, 3], gt [B, N, 3]).
    """
    index = root_indices(batch, pred_joints.shape[0], pred_joints.device)
    return root_relative(pred_points, pred_joints, index), root_relative(gt_points, gt_joints, index)


def _check_same_shape(term: str, pred: Tensor, target: Tensor, hint: str = "") -> None:
    if pred.shape != target.shape:
        raise ValueError(f"{term}: prediction {tuple(pred.shape)} and ground truth {tuple(target.shape)} differ{hint}")


def weighted_mean(values: Tensor, weights: Tensor) -> Tensor:
    """``sum(values * weights) / sum(weights)``, 0 (not NaN) when every weight is 0.

    Args:
        values, weights: tensors of the same shape; weights >= 0.
    """
    return (values * weights).sum() / weights.sum().clamp_min(torch.finfo(values.dtype).tiny)


def bone_direction_loss(points: Tensor, reference: Tensor, confidence: Optional[Tensor] = None) -> Tensor:
    """The reference's bone-direction loss BD(a, b, c) (S2HAND ``bone_direction_loss``).

    For the 20 bones k (child ``BONE_CHILDREN[k]``, parent ``BONE_PARENTS[k]``), with
    ``x_k = a[child] - a[parent]`` and ``n(x) = x / (|x| + 1e-4)``:

        BD = mean over b, k of |n(a_k) - n(b_k)|^2 * c[parent] * c[child]

    Args:
        points: [B, 21, D] predicted keypoints (D = 2 pixels or 3 metres), FreiHAND order.
        reference: [B, 21, D] target keypoints.
        confidence: [B, 21] per-keypoint confidence, or None for 1.

    Returns:
        Scalar in [0, 4].
    """
    _check_same_shape("bone_direction_loss", points, reference)
    children = torch.tensor(BONE_CHILDREN, device=points.device)
    parents = torch.tensor(BONE_PARENTS, device=points.device)

    def unit_bones(x: Tensor) -> Tensor:
        bones = x[:, children] - x[:, parents]
        return bones / (torch.linalg.vector_norm(bones, dim=-1, keepdim=True) + 1e-4)

    squared = (unit_bones(points) - unit_bones(reference)).pow(2).sum(-1)  # [B, 20]
    if confidence is None:
        return squared.mean()
    return (squared * confidence[:, parents] * confidence[:, children]).mean()


def open_2dj_penalty(squared_distance: Tensor) -> Tensor:
    """The Huber-like penalty of ``open_2dj`` on a squared pixel distance s = d^2.

    rho(d) = d^2 / 10 for d < 5, d - 2.5 for d >= 5 (equal, 2.5, at d = 5). Written on d^2 with a
    clamped square root so the gradient is finite at d = 0.

    Args:
        squared_distance: any shape, pixels^2, >= 0.
    """
    threshold_sq = OPEN_2DJ_THRESHOLD_PX**2
    near = squared_distance / (2 * OPEN_2DJ_THRESHOLD_PX)
    far = squared_distance.clamp_min(threshold_sq).sqrt() - OPEN_2DJ_THRESHOLD_PX / 2
    return torch.where(squared_distance < threshold_sq, near, far)


def _visibility(batch: Mapping[str, Any], like: Tensor) -> Tensor:
    """``batch["joints_visible"]`` [B, 21] where the dataset has it (RHD), else ones."""
    visible = batch.get("joints_visible")
    return torch.ones(like.shape[:2], dtype=like.dtype, device=like.device) if visible is None else visible.to(like.dtype)


@register_loss("joint_2d", weight=1e-5, fields=("joints2d",), uses_base=True)
def joint_2d(pred: Prediction, batch: Mapping[str, Any], *, base: str = "l1") -> Tensor:
    """Projected keypoints against the ground-truth 2D keypoints (pixels), base distance.

    mean over B x 21 x 2 of ``v * base(j_pred, j_gt)``, v = ``joints_visible`` where the batch
    has it (RHD), else 1.
    """
    target = batch["joints2d"]
    _check_same_shape("joint_2d", pred.joints2d, target)
    return (base_distance(base)(pred.joints2d, target) * _visibility(batch, target)[..., None]).mean()


@register_loss("joint_3d", weight=100.0, fields=("joints3d",), uses_base=True)
def joint_3d(pred: Prediction, batch: Mapping[str, Any], *, base: str = "l1") -> Tensor:
    """Root-relative 3D keypoints against the ground truth (metres), base distance, mean over B x 21 x 3."""
    p, g = root_relative_pair(pred.joints3d, pred.joints3d, batch["joints3d"], batch["joints3d"], batch)
    return base_distance(base)(p, g).mean()


@register_loss("joint_3d_norm", weight=100.0, fields=("joints3d",))
def joint_3d_norm(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """3D keypoints relative to the middle MCP (keypoint 9) on both sides, squared error (metres^2).

    The reference's ``loss_func`` term (``lambda_j3d_norm`` = 100): always MSE,
    always rooted at keypoint 9 whatever the batch's root, mean over B x 21 x 3.
    """
    index = torch.full((pred.batch_size,), ROOT_INDEX, dtype=torch.long, device=pred.joints3d.device)
    p = root_relative(pred.joints3d, pred.joints3d, index)
    g = root_relative(batch["joints3d"], batch["joints3d"], index)
    return (p - g).pow(2).mean()


@register_loss("vert_3d", weight=100.0, fields=("joints3d", "verts3d"), uses_base=True)
def vert_3d(pred: Prediction, batch: Mapping[str, Any], *, base: str = "l1") -> Tensor:
    """Root-relative evaluation vertices against the ground-truth MANO vertices (metres), base distance."""
    p, g = root_relative_pair(pred.verts3d, pred.joints3d, batch["verts3d"], batch["joints3d"], batch)
    _check_same_shape("vert_3d", p, g, ": the evaluation vertices must be in MANO topology (set hand.mano_dir)")
    return base_distance(base)(p, g).mean()


@register_loss("bone_direc", weight=0.1, fields=("joints2d",))
def bone_direc(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """2D bone directions against the ground-truth 2D keypoints: BD(j_pred, j_gt, v), v = visibility or 1."""
    target = batch["joints2d"]
    return bone_direction_loss(pred.joints2d, target, _visibility(batch, target))


@register_loss("bone_direc_3d", weight=0.1, fields=("joints3d",))
def bone_direc_3d(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """3D bone directions against the ground truth: BD(P, G, 1) (translation-invariant)."""
    return bone_direction_loss(pred.joints3d, batch["joints3d"])


def edge_lengths(verts: Tensor, faces: Tensor) -> Tensor:
    """Lengths of the three edges of every face, [B, F * 3]: (v0, v1), (v1, v2), (v2, v0) per face."""
    corners = verts[:, faces]  # [B, F, 3, 3]
    return torch.linalg.vector_norm(corners - corners.roll(-1, dims=2), dim=-1).flatten(1)


@register_loss("edge_length", weight=0.1, fields=("verts3d",), prediction=("eval_faces",))
def edge_length(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """Mesh edge lengths against the ground truth's: mean over faces x 3 edges of | |e_pred| - |e_gt| | (metres)."""
    target = batch["verts3d"]
    _check_same_shape("edge_length", pred.verts3d, target, ": the evaluation vertices must be in MANO topology")
    return (edge_lengths(pred.verts3d, pred.eval_faces) - edge_lengths(target, pred.eval_faces)).abs().mean()


@register_loss("open_2dj", weight=1e-3, fields=("openpose2d", "openpose_conf"))
def open_2dj(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """Projected keypoints against OpenPose detections: Huber-like pixel penalty weighted by (confidence x keypoint weight)^2.

    ``sum_bj rho(d_bj) (c_bj w_j)^2 / sum_bj (c_bj w_j)^2`` with d the pixel distance,
    rho from :func:`open_2dj_penalty`, w = :data:`OPENPOSE_KEYPOINT_WEIGHTS`; 0 when every
    confidence is 0.
    """
    detections = batch["openpose2d"]
    _check_same_shape("open_2dj", pred.joints2d, detections)
    squared = (detections - pred.joints2d).pow(2).sum(-1)  # [B, 21]
    keypoint_weights = torch.tensor(OPENPOSE_KEYPOINT_WEIGHTS, dtype=squared.dtype, device=squared.device)
    weights = (batch["openpose_conf"].to(squared.dtype) * keypoint_weights).pow(2)
    return weighted_mean(open_2dj_penalty(squared), weights)


@register_loss("open_bone_direc", weight=0.1, fields=("openpose2d", "openpose_conf"))
def open_bone_direc(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """2D bone directions against OpenPose detections: BD(j_pred, o, c), c the OpenPose confidences."""
    return bone_direction_loss(pred.joints2d, batch["openpose2d"], batch["openpose_conf"].to(pred.joints2d.dtype))
