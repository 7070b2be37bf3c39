"""The named output of every hand layer."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Optional

import torch

from .joints import ROOT_INDEX


@dataclass
class HandOutput:
    """What a hand layer returns. Positions are in metres, in the model's own frame (not
    centred, not root-relative); callers place the hand in the camera. A field the caller did
    not ask for, or that the model cannot produce, is ``None``.

    Attributes:
        verts: [B, V, 3] the skin mesh that is rendered (NIMBLE: skin layer; MANO: 778 verts).
        faces: [F, 3] int64 triangles of ``verts``, shared over the batch, counter-clockwise
            seen from outside.
        joints: [B, 21, 3] keypoints in FreiHAND order (see ``hifihr.hand.joints``).
        eval_verts: [B, 778, 3] vertices in MANO topology when the model has them (MANO, or
            NIMBLE with its MANO registration), else the skin ``verts``; used by metrics.
        eval_faces: [F', 3] int64 triangles of ``eval_verts`` (for edge-length losses); None for
            NIMBLE's MANO topology when no MANO file gave MANO's faces.
        model_joints: [B, J, 3] the model's own kinematic joints (NIMBLE 25, MANO 16).
        full_pose: [B, J_rot, 3] axis-angle rotation of every rotation (NIMBLE: 20 bones,
            root first; MANO: 16 joints, root first), radians.
        verts_uvs: [T, 2] UV coordinates in [0, 1], origin bottom-left (OBJ convention).
        faces_uvs: [F, 3] int64 UV index of each face corner, aligned with ``faces``.
        texture: [B, H, W, 3] diffuse (albedo) map, RGB in [0, 1], row 0 at the top (v = 1).
        vertex_colors: [B, V, 3] per-vertex albedo of ``verts``, RGB in [0, 1] (a ``"vertex"``
            texture, e.g. MANO given texture parameters).
        normal_map: [B, H, W, 3] tangent-space normal map, RGB in [0, 1]; only when asked.
        specular_map: [B, H, W, 3] specular map in [0, 1]; only when asked.
    """

    verts: torch.Tensor
    faces: torch.Tensor
    joints: torch.Tensor
    eval_verts: torch.Tensor
    eval_faces: Optional[torch.Tensor]
    model_joints: torch.Tensor
    full_pose: torch.Tensor
    verts_uvs: Optional[torch.Tensor] = None
    faces_uvs: Optional[torch.Tensor] = None
    texture: Optional[torch.Tensor] = None
    vertex_colors: Optional[torch.Tensor] = None
    normal_map: Optional[torch.Tensor] = None
    specular_map: Optional[torch.Tensor] = None

    def detach(self) -> "HandOutput":
        """A copy with every tensor detached from the graph."""
        return HandOutput(
            **{f.name: (v.detach() if isinstance(v := getattr(self, f.name), torch.Tensor) else v) for f in fields(self)}
        )

    def translated(self, offset: torch.Tensor) -> "HandOutput":
        """This hand moved by ``offset`` [B, 1, 3] (metres): ``verts``, ``joints``, ``eval_verts`` and
        ``model_joints`` shifted; faces, UVs and maps shared."""
        return dataclasses.replace(
            self,
            verts=self.verts + offset,
            joints=self.joints + offset,
            eval_verts=self.eval_verts + offset,
            model_joints=self.model_joints + offset,
        )

    def placed(self, root: torch.Tensor, root_index: int = ROOT_INDEX) -> "HandOutput":
        """This hand translated so that keypoint ``root_index`` lies at ``root``: the one way a
        hand is put into a camera (or world) frame, and, with ``root`` zero, made root-relative.

        Args:
            root: [B, 3] where the root keypoint goes, metres, in the target frame.
            root_index: the keypoint that is placed (FreiHAND order; default the middle MCP).

        Returns:
            :meth:`translated` by ``root - joints[:, root_index]`` (a translation only).
        """
        return self.translated(root[:, None] - self.joints[:, root_index : root_index + 1])
