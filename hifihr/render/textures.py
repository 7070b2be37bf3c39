"""Surface colour (albedo) of a mesh: UV texture maps or per-vertex colours.

Both classes share one interface, ``sample(pixels, faces) -> [B, N, C]``: the albedo of the
covered pixels of a ``PixelBatch`` (use ``pixels.to_image`` for an image).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from hifihr.render.camera import check_shape
from hifihr.render.interpolate import PixelBatch


def sample_uv_map(maps: Tensor, uv: Tensor) -> Tensor:
    """Bilinear lookup in texture maps with PyTorch3D ``TexturesUV`` conventions.

    ``uv`` follows the OBJ convention: u = 0 at the left edge, v = 0 at the **bottom** edge, while
    row 0 of ``maps`` is the top of the image. With ``align_corners=True`` (as PyTorch3D's
    default), u = 0 and u = 1 are the centres of the first and last texel columns, so texel
    column c sits at u = c / (Wt - 1) and texel row r at v = 1 - r / (Ht - 1). Outside [0, 1] the
    border texel is repeated (``padding_mode="border"``).

    Example: for a 2 x 2 map [[a, b], [c, d]] (row 0 = top), uv = (0, 0) gives c (bottom-left),
    (1, 1) gives b (top-right) and (0.5, 0.5) gives (a + b + c + d) / 4.

    Args:
        maps: [B, Ht, Wt, C] texture images, RGB in [0, 1] for albedo.
        uv: [B, H, W, 2] texture coordinates (any H, W: e.g. [B, 1, N, 2] for packed pixels).

    Returns:
        [B, H, W, C], differentiable w.r.t. ``maps`` and ``uv``.
    """
    grid = uv_to_grid(uv)
    sampled = F.grid_sample(
        maps.permute(0, 3, 1, 2), grid, mode="bilinear", padding_mode="border", align_corners=True
    )
    return sampled.permute(0, 2, 3, 1)


def uv_to_grid(uv: Tensor) -> Tensor:
    """OBJ texture coordinates [..., 2] -> ``grid_sample`` grid: (2u - 1, 1 - 2v)."""
    return uv * uv.new_tensor([2.0, -2.0]) + uv.new_tensor([-1.0, 1.0])


@dataclass(frozen=True)
class TexturesUV:
    """UV-mapped texture images, with UV coordinates shared by the batch.

    Attributes:
        maps: [B, Ht, Wt, 3] RGB albedo in [0, 1] (B may be 1 to share one map over the batch).
        verts_uvs: [T, 2] texture coordinates (OBJ convention, v = 0 at the bottom row of the
            map; see ``sample_uv_map`` for the exact texel positions).
        faces_uvs: [F, 3] int64 indices into ``verts_uvs`` for the corners of each face, aligned
            with the mesh faces.
    """

    maps: Tensor
    verts_uvs: Tensor
    faces_uvs: Tensor

    def __post_init__(self) -> None:
        check_shape("TexturesUV.maps", self.maps, ("B", "Ht", "Wt", "C"))
        check_shape("TexturesUV.verts_uvs", self.verts_uvs, ("T", 2))
        check_shape("TexturesUV.faces_uvs", self.faces_uvs, ("F", 3))

    def sample(self, pixels: PixelBatch, faces: Tensor) -> Tensor:
        """Albedo of the covered pixels.

        Args:
            pixels: covered pixels, [B, N] slots.
            faces: [F, 3] mesh faces; only checked to match ``faces_uvs``.

        Returns:
            [B, N, 3] albedo (padding slots: the texel at uv = (0, 0)).
        """
        if faces.shape[0] != self.faces_uvs.shape[0]:
            raise ValueError(
                f"TexturesUV.faces_uvs: expected one row per mesh face ({faces.shape[0]}), "
                f"got {self.faces_uvs.shape[0]}"
            )
        uv = pixels.interpolate(self.verts_uvs[self.faces_uvs])
        return sample_uv_map(self.maps_for(uv.shape[0]), uv[:, None])[:, 0]

    def maps_for(self, batch: int) -> Tensor:
        """``maps`` broadcast to ``batch`` meshes: [batch, Ht, Wt, 3]."""
        if self.maps.shape[0] not in (1, batch):
            raise ValueError(f"TexturesUV.maps: expected batch 1 or {batch}, got {self.maps.shape[0]}")
        return self.maps.expand(batch, -1, -1, -1)


@dataclass(frozen=True)
class TexturesVertex:
    """Per-vertex colours, interpolated with the perspective-correct barycentrics.

    Attributes:
        colors: [B, V, 3] RGB albedo in [0, 1].
    """

    colors: Tensor

    def __post_init__(self) -> None:
        check_shape("TexturesVertex.colors", self.colors, ("B", "V", "C"))

    def sample(self, pixels: PixelBatch, faces: Tensor) -> Tensor:
        """Albedo of the covered pixels: [B, N, 3] (padding slots: 0)."""
        return pixels.interpolate(self.colors[:, faces])
