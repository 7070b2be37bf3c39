"""Point-to-surface distance (FMHR's P2S): from each point to the nearest point of a triangle mesh."""

from __future__ import annotations

import torch
from torch import Tensor


def closest_points_on_triangles(points: Tensor, tri: Tensor) -> Tensor:
    """The closest point of each triangle to each point (Ericson, Real-Time Collision Detection
    5.1.5: the Voronoi region of the point among the corners, edges and face).

    Args:
        points: [P, 3]. tri: [T, 3, 3] triangle corners.

    Returns:
        [P, T, 3] closest points.
    """
    p = points[:, None]
    a, b, c = tri[None, :, 0], tri[None, :, 1], tri[None, :, 2]
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = (ab * ap).sum(-1), (ac * ap).sum(-1)
    bp = p - b
    d3, d4 = (ab * bp).sum(-1), (ac * bp).sum(-1)
    cp = p - c
    d5, d6 = (ab * cp).sum(-1), (ac * cp).sum(-1)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    tiny = torch.finfo(points.dtype).tiny
    denom = (va + vb + vc).clamp_min(tiny)
    # interior of the face
    result = a + ab * (vb / denom)[..., None] + ac * (vc / denom)[..., None]

    def pick(cond: Tensor, value: Tensor) -> None:
        nonlocal result
        result = torch.where(cond[..., None], value, result)

    # Ericson's tests in reverse order (later picks win): bc, ac, c, ab, b, a
    w_bc = (d4 - d3) / ((d4 - d3) + (d5 - d6)).clamp_min(tiny)
    pick((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0), b + (c - b) * w_bc[..., None])
    w_ac = d2 / (d2 - d6).clamp_min(tiny)
    pick((vb <= 0) & (d2 >= 0) & (d6 <= 0), a + ac * w_ac[..., None])
    pick((d6 >= 0) & (d5 <= d6), c.expand_as(result))
    w_ab = d1 / (d1 - d3).clamp_min(tiny)
    pick((vc <= 0) & (d1 >= 0) & (d3 <= 0), a + ab * w_ab[..., None])
    pick((d3 >= 0) & (d4 <= d3), b.expand_as(result))
    pick((d1 <= 0) & (d2 <= 0), a.expand_as(result))
    return result


def point_to_surface(points: Tensor, verts: Tensor, faces: Tensor, chunk: int = 256) -> Tensor:
    """Distance from each point to the surface of the mesh (verts, faces).

    Args:
        points: [P, 3]. verts: [V, 3], same unit. faces: [F, 3] int64.
        chunk: points handled at once (memory ~ chunk x F x 3 x 10 floats).

    Returns:
        [P] distances, in the input unit.
    """
    tri = verts[faces]
    out = []
    for start in range(0, points.shape[0], chunk):
        block = points[start : start + chunk]
        closest = closest_points_on_triangles(block, tri)
        out.append((closest - block[:, None]).norm(dim=-1).amin(1))
    return torch.cat(out)
