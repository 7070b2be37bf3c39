"""Per-pixel interpolation of face attributes, and area-weighted vertex normals."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from hifihr.render.camera import check_shape
from hifihr.render.rasterize import Fragments


@dataclass(frozen=True)
class PixelBatch:
    """The covered pixels of a batch of fragments, packed per image into N slots.

    Shading only the covered pixels (often a quarter of the image) is what makes the renderer
    fast; per-image slots keep a leading batch dimension, so per-image parameters (lights,
    texture maps) broadcast as [B, 1, ...]. Image b uses slots 0..counts[b]-1; the other slots
    are padding (face 0, bary 0, mask False).

    Attributes:
        pixel: [B, N] int64 flat pixel index row·W + col within its image.
        face: [B, N] int64 visible face (0..F-1).
        bary: [B, N, 3] perspective-correct barycentrics, differentiable.
        mask: [B, N] bool, True for real pixels.
        image_size: (H, W).
    """

    pixel: Tensor
    face: Tensor
    bary: Tensor
    mask: Tensor
    image_size: tuple[int, int]

    @classmethod
    def from_fragments(cls, fragments: Fragments) -> PixelBatch:
        """Gather the covered pixels of ``fragments`` (bary stays differentiable)."""
        batch, height, width = fragments.pix_to_face.shape
        covered = (fragments.pix_to_face.flatten() >= 0).nonzero().squeeze(1)
        image = covered // (height * width)
        counts = torch.bincount(image, minlength=batch)
        slot = torch.arange(covered.numel(), device=covered.device) - (counts.cumsum(0) - counts)[image]
        num_slots = int(counts.max()) if batch > 0 else 0
        at = (image, slot)
        face = fragments.pix_to_face.flatten()[covered]
        bary = fragments.bary.reshape(-1, 3)[covered]
        index = torch.zeros(batch, num_slots, dtype=torch.int64, device=covered.device)
        return cls(
            pixel=index.index_put(at, covered % (height * width)),
            face=index.index_put(at, face),
            bary=bary.new_zeros(batch, num_slots, 3).index_put(at, bary),
            mask=torch.zeros(batch, num_slots, dtype=torch.bool, device=covered.device).index_put(
                at, torch.ones_like(face, dtype=torch.bool)
            ),
            image_size=(height, width),
        )

    def interpolate(self, face_attrs: Tensor) -> Tensor:
        """Barycentric interpolation of per-corner attributes.

        Args:
            face_attrs: [F, 3, D] shared by the batch, or [B, F, 3, D] per mesh.

        Returns:
            [B, N, D]: sum_k bary[k] · face_attrs[face, k]; 0 in padding slots.
        """
        batch = self.face.shape[0]
        if face_attrs.dim() == 3:
            check_shape("face_attrs", face_attrs, ("F", 3, "D"))
            corner_attrs = face_attrs[self.face]
        else:
            check_shape("face_attrs", face_attrs, (batch, "F", 3, "D"))
            offsets = torch.arange(batch, device=self.face.device)[:, None] * face_attrs.shape[1]
            corner_attrs = face_attrs.flatten(0, 1)[self.face + offsets]
        return torch.einsum("bnk,bnkd->bnd", self.bary, corner_attrs)

    def to_image(self, values: Tensor, background: Tensor) -> Tensor:
        """Scatter per-pixel values [B, N, C] into images [B, H, W, C] over ``background`` [C]."""
        batch, _, channels = values.shape
        height, width = self.image_size
        image, slot = self.mask.nonzero(as_tuple=True)
        flat = image * (height * width) + self.pixel[image, slot]
        canvas = background.to(values).repeat(batch * height * width, 1)
        return canvas.index_put((flat,), values[image, slot]).view(batch, height, width, channels)


def interpolate_face_attributes(fragments: Fragments, face_attrs: Tensor) -> Tensor:
    """Barycentric interpolation of per-corner attributes at every covered pixel.

    Args:
        fragments: rasterizer output with [B, H, W] fields.
        face_attrs: [F, 3, D] attributes of the three corners of each face, shared by the batch
            (e.g. ``verts_uvs[faces_uvs]``), or [B, F, 3, D] per mesh (e.g. ``normals[:, faces]``).

    Returns:
        [B, H, W, D]: sum_k bary[k] * face_attrs[pix_to_face, k]; 0 on background. Differentiable
        w.r.t. ``face_attrs`` and, through ``fragments.bary``, w.r.t. the vertex positions.
    """
    pixels = PixelBatch.from_fragments(fragments)
    values = pixels.interpolate(face_attrs)
    return pixels.to_image(values, values.new_zeros(values.shape[-1]))


def vertex_normals(verts: Tensor, faces: Tensor, face_mask: Tensor | None = None) -> Tensor:
    """Area-weighted unit vertex normals, as PyTorch3D ``Meshes.verts_normals_padded``.

    Each face adds cross(v1 - v0, v2 - v0) (twice its area times its unit normal) to its three
    corners; the sums are normalised (eps 1e-6), so a vertex of no face gets a zero normal.

    Args:
        verts: [B, V, 3] vertex positions (any frame; the normals are in the same frame).
        faces: [F, 3] int64 vertex indices.
        face_mask: [B, F] bool, faces allowed to contribute (e.g. to ignore faces that touch
            invalid vertices), or None for all.

    Returns:
        [B, V, 3] unit normals. With counter-clockwise faces seen from outside, they point out.
    """
    check_shape("verts", verts, ("B", "V", 3))
    face_verts = verts[:, faces]
    face_normals = torch.linalg.cross(
        face_verts[:, :, 1] - face_verts[:, :, 0], face_verts[:, :, 2] - face_verts[:, :, 0], dim=-1
    )
    if face_mask is not None:
        face_normals = face_normals * face_mask[..., None]
    normals = torch.zeros_like(verts)
    for corner in range(3):
        normals = normals.index_add(1, faces[:, corner], face_normals)
    return F.normalize(normals, dim=-1, eps=1e-6)
