"""Mesh maths of the refinement: edges, Laplacians, FMHR's regularisers, midpoint subdivision.

Pure functions of tensors. Lengths are whatever unit the caller passes (the fitter scales
metres by ``HamOptions.length_unit_m`` first, so that FMHR's weights meet terms of order one).
"""

from __future__ import annotations

import torch
from torch import Tensor

from hifihr.render.camera import check_shape
from hifihr.render.interpolate import PixelBatch
from hifihr.render.rasterize import rasterize


def mesh_edges(faces: Tensor) -> Tensor:
    """The unique undirected edges [E, 2] (int64, smaller index first, sorted) of ``faces`` [F, 3]."""
    check_shape("faces", faces, ("F", 3))
    pairs = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).long()
    return torch.unique(pairs.sort(dim=1).values, dim=0)


def uniform_laplacian(values: Tensor, edges: Tensor) -> Tensor:
    """The uniform (umbrella) Laplacian ``L x_i = x_i - mean_{j ~ i} x_j`` at every vertex.

    Args:
        values: [B, V, D] per-vertex values (positions, albedo).
        edges: [E, 2] undirected edges.

    Returns:
        [B, V, D]; 0 at a vertex with no edge.
    """
    check_shape("values", values, ("B", "V", "D"))
    num = values.shape[1]
    a, b = edges[:, 0], edges[:, 1]
    sums = torch.zeros_like(values).index_add(1, a, values[:, b]).index_add(1, b, values[:, a])
    degree = torch.zeros(num, dtype=values.dtype, device=values.device).index_add(
        0, edges.flatten(), torch.ones(edges.numel(), dtype=values.dtype, device=values.device)
    )
    mean = sums / degree.clamp_min(1.0)[None, :, None]
    return torch.where(degree[None, :, None] > 0, values - mean, torch.zeros_like(values))


def laplacian_energy(values: Tensor, edges: Tensor) -> Tensor:
    """Mean over vertices (and batch) of ``|L x_i|^2`` (FMHR's ``L * rho`` and ``L * V``). [B, V, D] -> scalar."""
    return uniform_laplacian(values, edges).pow(2).sum(-1).mean()


def edge_length_energy(verts: Tensor, rest_verts: Tensor, edges: Tensor) -> Tensor:
    """Mean over edges of ``(|e| - |e_rest|)^2``: edge lengths held to those of ``rest_verts``.

    Args:
        verts, rest_verts: [B, V, 3]. edges: [E, 2].
    """
    length = (verts[:, edges[:, 0]] - verts[:, edges[:, 1]]).norm(dim=-1)
    rest = (rest_verts[:, edges[:, 0]] - rest_verts[:, edges[:, 1]]).norm(dim=-1)
    return (length - rest).pow(2).mean()


def displacement_energy(offsets: Tensor) -> Tensor:
    """Mean over vertices of ``|dV_i|^2`` (FMHR's displacement term). [B, V, 3] -> scalar."""
    return offsets.pow(2).sum(-1).mean()


def image_laplacian_energy(maps: Tensor) -> Tensor:
    """Mean over texels of ``|4 x - sum of the 4 neighbours|^2 / 16``, the 5-point Laplacian of a
    texture map (replicated borders): the UV-map form of FMHR's albedo Laplacian.

    Args:
        maps: [B, H, W, C].
    """
    check_shape("maps", maps, ("B", "H", "W", "C"))
    padded = torch.nn.functional.pad(maps.permute(0, 3, 1, 2), (1, 1, 1, 1), mode="replicate")
    centre = padded[..., 1:-1, 1:-1]
    neighbours = padded[..., :-2, 1:-1] + padded[..., 2:, 1:-1] + padded[..., 1:-1, :-2] + padded[..., 1:-1, 2:]
    return (centre - neighbours / 4.0).pow(2).sum(1).mean()


def uv_texels(verts_uvs: Tensor, faces_uvs: Tensor, size: int) -> PixelBatch:
    """The texels of a ``size`` x ``size`` map covered by the UV layout, with the face covering
    each and its barycentrics there: the UV triangles rasterized in texture space, with the
    texel positions of :func:`hifihr.render.textures.sample_uv_map` (column c at
    u = c / (size - 1), row r at v = 1 - r / (size - 1)).

    Args:
        verts_uvs: [T, 2] OBJ texture coordinates. faces_uvs: [F, 3].

    Returns:
        A one-image :class:`~hifihr.render.interpolate.PixelBatch` over the (size, size) map.
    """
    check_shape("verts_uvs", verts_uvs, ("T", 2))
    scale = size - 1
    # the rasterizer samples pixel centres (c + 0.5, r + 0.5)
    x = verts_uvs[:, 0] * scale + 0.5
    y = (1.0 - verts_uvs[:, 1]) * scale + 0.5
    screen = torch.stack([x, y, torch.ones_like(x)], dim=-1)[None].detach()
    return PixelBatch.from_fragments(rasterize(screen, faces_uvs, (size, size)))


def vertex_values_to_map(values: Tensor, faces: Tensor, texels: PixelBatch) -> Tensor:
    """Per-vertex values written into a UV map: at each covered texel the values of the covering
    face's corners (``faces``, mesh vertex indices aligned with the UV faces of ``texels``)
    interpolated with the texel's barycentrics; 0 on uncovered texels. Linear in ``values``.

    Args:
        values: [V, C]. faces: [F, 3]. texels: from :func:`uv_texels`.

    Returns:
        [1, size, size, C].
    """
    check_shape("values", values, ("V", "C"))
    interpolated = texels.interpolate(values[faces])
    return texels.to_image(interpolated, values.new_zeros(values.shape[-1]))


def _midpoints(faces: Tensor, num: int) -> tuple[Tensor, Tensor]:
    """Edges [E, 2] of ``faces`` and, per face, the index (num + e) of each edge's midpoint [F, 3]
    for edges (0,1), (1,2), (2,0)."""
    edges = mesh_edges(faces)
    key = edges[:, 0] * num + edges[:, 1]
    order = torch.argsort(key)
    corners = [faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]
    mids = []
    for pair in corners:
        pair = pair.long().sort(dim=1).values
        position = torch.searchsorted(key[order], pair[:, 0] * num + pair[:, 1])
        mids.append(num + order[position])
    return edges, torch.stack(mids, dim=1)


def subdivide_midpoint(
    verts: Tensor, faces: Tensor, verts_uvs: Tensor | None = None, faces_uvs: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """One level of midpoint subdivision: each triangle becomes four, new vertices at the edge
    midpoints (positions unchanged as a surface; the topology stays a refinement of the input's).

    Args:
        verts: [B, V, 3]. faces: [F, 3].
        verts_uvs: [T, 2], faces_uvs: [F, 3]: the UV layout, subdivided the same way (seams
            keep their separate UV corners), or None.

    Returns:
        (verts [B, V + E, 3], faces [4F, 3], verts_uvs [T + E_uv, 2] or None, faces_uvs [4F, 3]
        or None). The first V vertices are the input's.
    """
    check_shape("verts", verts, ("B", "V", 3))
    edges, mids = _midpoints(faces, verts.shape[1])
    new_verts = torch.cat([verts, 0.5 * (verts[:, edges[:, 0]] + verts[:, edges[:, 1]])], dim=1)

    def split(tri: Tensor, mid: Tensor) -> Tensor:
        a, b, c = tri.long().unbind(1)
        ab, bc, ca = mid.unbind(1)
        return torch.cat([torch.stack(t, 1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])

    new_faces = split(faces, mids)
    if verts_uvs is None or faces_uvs is None:
        return new_verts, new_faces, None, None
    uv_edges, uv_mids = _midpoints(faces_uvs, verts_uvs.shape[0])
    new_uvs = torch.cat([verts_uvs, 0.5 * (verts_uvs[uv_edges[:, 0]] + verts_uvs[uv_edges[:, 1]])])
    return new_verts, new_faces, new_uvs, split(faces_uvs, uv_mids)
