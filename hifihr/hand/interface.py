"""What every hand layer provides: the sizes of its parameter spaces, the kind of its texture
and one forward signature returning a :class:`HandOutput`.

The network sizes its heads from ``num_shape``, ``num_pose`` and ``num_texture`` and renders
``HandOutput.texture`` (a UV map) or ``HandOutput.vertex_colors`` (per-vertex albedo) as the
layer gives them, so it never asks which model it holds. A new hand model is one module with a
layer implementing :class:`HandModel` and a :data:`hifihr.hand.HAND_MODELS` entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Optional, Protocol, runtime_checkable

import torch

from .output import HandOutput

#: ``"uv"``: the texture parameters give a UV map (``HandOutput.texture``); ``"vertex"``: they give
#: per-vertex colours (``HandOutput.vertex_colors``).
TextureKind = Literal["uv", "vertex"]

#: The pose vector starts with the root's axis-angle rotation (radians); ``num_pose`` counts it.
ROOT_POSE_SIZE = 3


@runtime_checkable
class HandModel(Protocol):
    """A differentiable hand layer (an ``nn.Module``).

    Attributes:
        num_shape: length S of the shape vector.
        num_pose: length P of the pose vector: the root axis-angle (:data:`ROOT_POSE_SIZE`
            values) then the articulation parameters.
        num_texture: length T of the texture vector.
        texture_kind: what the texture vector becomes (:data:`TextureKind`).
    """

    @property
    def num_shape(self) -> int: ...

    @property
    def num_pose(self) -> int: ...

    @property
    def num_texture(self) -> int: ...

    @property
    def texture_kind(self) -> TextureKind: ...

    def forward(
        self, shape: Optional[torch.Tensor], pose: torch.Tensor, texture: Optional[torch.Tensor] = None
    ) -> HandOutput:
        """Shape, pose and texture the hand.

        Args:
            shape: [B, num_shape] (None: zeros, the mean shape).
            pose: [B, num_pose]: root axis-angle (radians), then the articulation parameters.
            texture: [B, num_texture] (None: the layer's untextured output: the mean UV map for
                ``"uv"``, no ``vertex_colors`` for ``"vertex"``).

        Returns:
            :class:`HandOutput` in metres, model frame; ``texture`` set for ``"uv"`` layers,
            ``vertex_colors`` [B, V, 3] in [0, 1] for ``"vertex"`` layers given a texture.
        """
        ...

    def diffuse_map(self, texture: torch.Tensor) -> Optional[torch.Tensor]:
        """The albedo map [B, H, W, 3] in [0, 1] of texture parameters [B, num_texture]; None
        for a ``"vertex"`` layer (it has no map)."""
        ...


@dataclass(frozen=True)
class HandModelSpec:
    """A :data:`hifihr.hand.HAND_MODELS` entry.

    Attributes:
        build: ``build(assets_dir, mano_dir=, dtype=, shape_ncomp=, pose_ncomp=, tex_ncomp=,
            **options) -> HandModel``; the ``*_ncomp`` sizes come from the ``hand`` config
            section, and a model with fixed spaces ignores them.
        comparable_verts: its ``eval_verts`` compare with a dataset's ground-truth vertices
            without a MANO file (``hand.mano_dir``): MANO's own 778 vertices, or the open
            hand's skin, which the synthetic data stores as its ground truth.
    """

    build: Callable[..., HandModel]
    comparable_verts: bool
