"""Linear blend skinning maths shared by the NIMBLE and MANO layers: pure, batched functions.

Shapes use B (batch), N (vertices), J (joints), K (rotations entering the pose feature).
Device and dtype always follow the inputs.
"""

from __future__ import annotations

from typing import Sequence

import torch


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices [..., 3, 3] from axis-angle vectors [..., 3] (radians).

    Uses the reference layers' numerics (NIMBLE and manopth): the angle is
    ``||aa + 1e-8||`` (1e-8 added to each component, so the zero rotation stays differentiable),
    then a unit quaternion (w, x, y, z) is formed and converted. Equal to Rodrigues' formula up
    to float error.
    """
    angle = torch.linalg.vector_norm(axis_angle + 1e-8, dim=-1, keepdim=True)
    axis = axis_angle / angle
    half = 0.5 * angle
    quat = torch.cat([torch.cos(half), torch.sin(half) * axis], dim=-1)
    quat = quat / torch.linalg.vector_norm(quat, dim=-1, keepdim=True)
    w, x, y, z = quat.unbind(-1)
    ww, xx, yy, zz = w * w, x * x, y * y, z * z
    wx, wy, wz, xy, xz, yz = w * x, w * y, w * z, x * y, x * z, y * z
    rows = (
        ww + xx - yy - zz, 2 * (xy - wz), 2 * (wy + xz),
        2 * (wz + xy), ww - xx + yy - zz, 2 * (yz - wx),
        2 * (xz - wy), 2 * (wx + yz), ww - xx - yy + zz,
    )  # fmt: skip
    return torch.stack(rows, dim=-1).reshape(axis_angle.shape[:-1] + (3, 3))


def pose_feature(rotations: torch.Tensor) -> torch.Tensor:
    """Pose-blend-shape feature [B, 9K] from rotations [B, K, 3, 3]: flattened ``R - I``.

    Row-major within each rotation: index ``9k + 3r + c``.
    """
    eye = torch.eye(3, dtype=rotations.dtype, device=rotations.device)
    return (rotations - eye).flatten(start_dim=1)


def regress_joints(regressor: torch.Tensor, verts: torch.Tensor) -> torch.Tensor:
    """Joints [B, J, 3] = regressor [J, N] @ verts [B, N, 3]."""
    return torch.einsum("jn,bnc->bjc", regressor, verts)


def rigid_transforms(
    rotations: torch.Tensor, joints: torch.Tensor, parents: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward kinematics of a joint tree.

    Args:
        rotations: [B, J, 3, 3] local rotation of each joint (joint 0: the global rotation).
        joints: [B, J, 3] rest joint positions.
        parents: J parent indices, ``parents[0] == -1`` and ``parents[j] < j``.

    Returns:
        posed_joints: [B, J, 3], the translation of each world transform ``G_j``.
        skinning: [B, J, 4, 4], ``G_j @ T(-J_j)``: maps a rest-pose point to its posed place
        as if rigidly attached to joint j. ``G_0 = [R_0 | J_0]`` so the global rotation acts
        about joint 0; ``G_j = G_parent @ [R_j | J_j - J_parent]``.
    """
    if parents[0] != -1 or any(p >= j for j, p in enumerate(parents) if j):
        raise ValueError(f"parents must start with -1 and list each parent before its child, got {list(parents)}")
    batch, num_joints = joints.shape[:2]
    offsets = joints.clone()
    offsets[:, 1:] = joints[:, 1:] - joints[:, list(parents[1:])]
    bottom = joints.new_tensor([0.0, 0.0, 0.0, 1.0]).expand(batch, num_joints, 1, 4)
    local = torch.cat([torch.cat([rotations, offsets.unsqueeze(-1)], dim=-1), bottom], dim=-2)
    world = [local[:, 0]]
    for j in range(1, num_joints):
        world.append(world[parents[j]] @ local[:, j])
    world_t = torch.stack(world, dim=1)
    posed_joints = world_t[..., :3, 3]
    # G_j @ T(-J_j): subtract the rotated rest joint from the translation.
    correction = torch.einsum("bjrc,bjc->bjr", world_t[..., :3, :3], joints)
    skinning = world_t.clone()
    skinning[..., :3, 3] = posed_joints - correction
    return posed_joints, skinning


def skin_vertices(verts: torch.Tensor, weights: torch.Tensor, skinning: torch.Tensor) -> torch.Tensor:
    """Linear blend skinning: ``v' = sum_j w[v, j] * A_j [v; 1]``.

    Args:
        verts: [B, N, 3] rest-pose vertices (with shape and pose blend shapes applied).
        weights: [N, J] skinning weights (rows usually sum to 1).
        skinning: [B, J, 4, 4] per-joint transforms from :func:`rigid_transforms`.

    Returns:
        [B, N, 3] posed vertices.
    """
    blended = torch.einsum("nj,bjrc->bnrc", weights, skinning[..., :3, :])  # [B, N, 3, 4]
    return torch.einsum("bnrc,bnc->bnr", blended[..., :3], verts) + blended[..., 3]
