"""Soft silhouette: signed distances, closed-form values and finite-difference gradients."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import assert_close
from test_render_meshes import hand_sized_batch

from hifihr.render import project_points, rasterize, soft_silhouette
from hifihr.render.camera import scale_intrinsics
from hifihr.render.silhouette import sigma_from_blur_radius, signed_squared_distance


def test_signed_squared_distance_matches_dense_boundary_sampling():
    gen = torch.Generator().manual_seed(0)
    tri = torch.rand(200, 3, 2, generator=gen, dtype=torch.float64) * 10
    weights = torch.rand(200, 3, generator=gen, dtype=torch.float64)
    inner = ((weights / weights.sum(1, keepdim=True))[:, :, None] * tri).sum(1)
    points = torch.cat([inner[:100], torch.rand(100, 2, generator=gen, dtype=torch.float64) * 12 - 1])
    t = torch.linspace(0, 1, 4001, dtype=torch.float64)
    edges = [tri[:, i, None] + t[None, :, None] * (tri[:, (i + 1) % 3, None] - tri[:, i, None]) for i in range(3)]
    boundary = torch.cat(edges, 1)  # [N, 3·4001, 2]
    nearest = (boundary - points[:, None]).pow(2).sum(-1).amin(1)
    # Inside: the point is on the same side of all three edges.
    cross = torch.stack(
        [
            (tri[:, (i + 1) % 3, 0] - tri[:, i, 0]) * (points[:, 1] - tri[:, i, 1])
            - (tri[:, (i + 1) % 3, 1] - tri[:, i, 1]) * (points[:, 0] - tri[:, i, 0])
            for i in range(3)
        ],
        1,
    )
    inside = (cross > 0).all(1) | (cross < 0).all(1)
    expected = torch.where(inside, -nearest, nearest)
    assert 100 <= int(inside.sum()) < 130
    assert_close(signed_squared_distance(tri, points), expected, atol=1e-5)


def big_triangle():
    """One triangle in a 16 x 16 image, z = 1, corners (2, 2), (14, 2), (2, 14) in pixels."""
    K = torch.tensor([[[10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    verts = torch.tensor([[[0.2, 0.2, 1.0], [1.4, 0.2, 1.0], [0.2, 1.4, 1.0]]], dtype=torch.float64)
    return verts, torch.tensor([[0, 1, 2]]), K


def test_soft_silhouette_closed_form_for_one_triangle():
    verts, faces, K = big_triangle()
    radius = 2.0
    sigma = sigma_from_blur_radius(radius)
    assert 1.0 / (1.0 + math.exp(radius**2 / sigma)) == pytest.approx(1e-4)
    alpha = soft_silhouette(project_points(verts, K), faces, (16, 16), blur_radius_px=radius)[0]
    # Pixel (row 6, col 6), centre (6.5, 6.5): 4.5 px inside from the two legs -> solid.
    assert alpha[6, 6].item() == 1.0
    # Centre (1.5, 5.5) is 0.5 px left of the vertical leg x = 2: sigmoid(-0.25 / sigma).
    assert alpha[5, 1].item() == pytest.approx(1.0 / (1.0 + math.exp(0.25 / sigma)), rel=1e-9)
    # Centre (3.5, 5.5) is 1.5 px inside: sigmoid(+2.25 / sigma).
    assert alpha[5, 3].item() == pytest.approx(1.0 / (1.0 + math.exp(-2.25 / sigma)), rel=1e-9)
    # Centres on the hypotenuse x + y = 16, e.g. (8.5, 7.5): distance 0, probability 1/2.
    assert alpha[7, 8].item() == pytest.approx(0.5, abs=1e-9)
    # More than the blur radius outside: exactly 0.
    assert alpha[15, 15].item() == 0.0 and alpha[0, 15].item() == 0.0


def test_soft_silhouette_aggregates_overlapping_faces():
    verts, faces, K = big_triangle()
    twice = torch.cat([verts, 1.5 * verts], 1)  # same projection, farther away
    both = torch.tensor([[0, 1, 2], [3, 4, 5]])
    one = soft_silhouette(project_points(verts, K), faces, (16, 16))
    two = soft_silhouette(project_points(twice, K), both, (16, 16))
    # Two faces with identical projections: 1 - (1 - p)^2.
    assert_close(two, 1 - (1 - one) ** 2, atol=1e-12)


def test_soft_silhouette_gradient_matches_finite_differences():
    verts, faces, K, _ = hand_sized_batch(1, num_rings=4, num_around=6)
    screen = project_points(verts.double(), scale_intrinsics(K.double(), 0.25))
    weights = torch.randn(1, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def loss(s):
        return (soft_silhouette(s, faces, (16, 16), blur_radius_px=1.5) * weights).sum()

    assert torch.autograd.gradcheck(loss, (screen.requires_grad_(True),), eps=1e-6, atol=1e-5, fast_mode=True)


def test_soft_silhouette_contains_the_hard_one():
    verts, faces, K, _ = hand_sized_batch(2)
    screen = project_points(verts, K)
    hard = rasterize(screen, faces, (64, 64)).pix_to_face >= 0
    soft = soft_silhouette(screen, faces, (64, 64), blur_radius_px=1.0)
    # A covering face alone gives probability >= 1/2.
    assert float(soft[hard].min()) >= 0.5
    # Far from the mesh there is no coverage at all.
    far = torch.nn.functional.max_pool2d(hard.float()[:, None], 5, 1, 2)[:, 0] == 0
    assert bool((soft[far] == 0).all())


def test_soft_silhouette_skips_bad_faces_and_checks_radius():
    verts, faces, K = big_triangle()
    bad = verts.clone()
    bad[0, 0, 2] = -1.0
    assert bool((soft_silhouette(project_points(bad, K, min_depth=1e-4), faces, (16, 16)) == 0).all())
    with pytest.raises(ValueError, match="blur_radius_px: expected > 0, got 0"):
        soft_silhouette(project_points(verts, K), faces, (16, 16), blur_radius_px=0)
