"""Synthetic meshes for the renderer tests (built in code, never downloaded), and checks that
they are what the tests assume: closed, outward-oriented surfaces with valid UVs."""

from __future__ import annotations

import math

import torch

from hifihr.render import TexturesUV
from hifihr.render.interpolate import vertex_normals


def ellipsoid(num_rings: int, num_around: int, radii=(1.0, 1.0, 1.0)):
    """UV-sphere ellipsoid around the origin, long axis y, faces counter-clockwise from outside.

    Returns:
        verts [V, 3] with V = num_rings·num_around + 2, faces [F, 3] int64 with
        F = 2·num_rings·num_around, verts_uvs [V, 2] (longitude, latitude in [0, 1]).
    """
    lat = torch.linspace(0, math.pi, num_rings + 2, dtype=torch.float64)[1:-1]
    lon = torch.arange(num_around, dtype=torch.float64) * (2 * math.pi / num_around)
    lat_g, lon_g = torch.meshgrid(lat, lon, indexing="ij")
    ring = torch.stack([lat_g.sin() * lon_g.cos(), -lat_g.cos(), lat_g.sin() * lon_g.sin()], -1).reshape(-1, 3)
    poles = torch.tensor([[0.0, -1.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    verts = (torch.cat([ring, poles]) * torch.tensor(radii, dtype=torch.float64)).float()
    idx = torch.arange(num_rings * num_around).view(num_rings, num_around)
    a, b = idx[:-1], idx[:-1].roll(-1, 1)
    c, d = idx[1:], idx[1:].roll(-1, 1)
    bottom, top = num_rings * num_around, num_rings * num_around + 1
    faces = torch.cat(
        [
            torch.stack([a, c, b], -1).reshape(-1, 3),
            torch.stack([b, c, d], -1).reshape(-1, 3),
            torch.stack([torch.full_like(idx[0], bottom), idx[0], idx[0].roll(-1)], -1),
            torch.stack([torch.full_like(idx[-1], top), idx[-1].roll(-1), idx[-1]], -1),
        ]
    )
    uv = torch.stack([lon_g / (2 * math.pi), lat_g / math.pi], -1).reshape(-1, 2)
    uv = torch.cat([uv, torch.tensor([[0.5, 0.0], [0.5, 1.0]], dtype=torch.float64)]).float()
    return verts, faces, uv


def hand_sized_batch(batch: int, num_rings: int = 10, num_around: int = 16, seed: int = 0, tex_size: int = 32):
    """Random hand-sized blobs (about 9 x 16 x 5 cm) 0.4-0.5 m in front of the camera.

    Returns:
        verts [B, V, 3] (m, OpenCV camera frame), faces [F, 3], K [B, 3, 3] for a 64 x 64 image
        (scale it for other sizes), textures (TexturesUV with random maps [B, tex, tex, 3]).
    """
    gen = torch.Generator().manual_seed(seed)
    verts, faces, uv = ellipsoid(num_rings, num_around, (0.045, 0.08, 0.025))
    noise = 1.0 + 0.08 * torch.randn(batch, verts.shape[0], 1, generator=gen)
    angle = 0.6 * (torch.rand(batch, generator=gen) - 0.5)
    cos, sin = angle.cos(), angle.sin()
    zeros, ones = torch.zeros_like(angle), torch.ones_like(angle)
    rot = torch.stack([cos, zeros, sin, zeros, ones, zeros, -sin, zeros, cos], -1).view(batch, 3, 3)
    shift = torch.cat(
        [0.01 * torch.randn(batch, 2, generator=gen), 0.4 + 0.1 * torch.rand(batch, 1, generator=gen)], dim=1
    )
    verts = (verts * noise) @ rot.transpose(1, 2) + shift[:, None]
    K = torch.tensor([[110.0, 0.0, 32.0], [0.0, 110.0, 32.0], [0.0, 0.0, 1.0]]).expand(batch, 3, 3)
    maps = torch.rand(batch, tex_size, tex_size, 3, generator=gen)
    return verts, faces, K, TexturesUV(maps, uv, faces)


def test_ellipsoid_is_closed_and_outward():
    verts, faces, uv = ellipsoid(6, 8)
    assert verts.shape == (6 * 8 + 2, 3) and faces.shape == (2 * 6 * 8, 3)
    # Closed surface: every edge is shared by exactly two faces, once in each direction.
    edges = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    keys = set(map(tuple, edges.tolist()))
    assert len(keys) == edges.shape[0]
    assert all((b, a) in keys for a, b in keys)
    # Euler characteristic of a sphere.
    assert verts.shape[0] - len(keys) // 2 + faces.shape[0] == 2
    normals = vertex_normals(verts[None], faces)[0]
    assert bool(((normals * verts).sum(-1) > 0.9).all())
    assert bool(((uv >= 0) & (uv <= 1)).all())


def test_hand_sized_batch_is_in_view():
    verts, faces, K, _ = hand_sized_batch(3)
    pix = verts @ K[0].T
    uv = pix[..., :2] / pix[..., 2:]
    assert bool((verts[..., 2] > 0.3).all())
    assert bool(((uv > 0) & (uv < 64)).all())
    extent = verts.amax(1) - verts.amin(1)
    assert bool(((extent > 0.03) & (extent < 0.25)).all())
