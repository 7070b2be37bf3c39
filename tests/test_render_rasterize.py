"""Camera projection, rasterization and interpolation, against formulas, a naive loop and
finite differences."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_close
from test_render_meshes import ellipsoid, hand_sized_batch

from hifihr.render import Fragments, interpolate_face_attributes, project_points, rasterize
from hifihr.render.camera import scale_intrinsics, world_to_camera
from hifihr.render.interpolate import vertex_normals


def naive_rasterize(verts_screen: torch.Tensor, faces: torch.Tensor, height: int, width: int):
    """One pixel at a time, in float64: closed-triangle test at the pixel centre, nearest
    perspective-correct depth. Returns pix_to_face [B, H, W] and zbuf [B, H, W]."""
    batch = verts_screen.shape[0]
    tri = verts_screen.double()[:, faces]  # [B, F, 3, 3]
    pix_to_face = torch.full((batch, height, width), -1, dtype=torch.int64)
    zbuf = torch.full((batch, height, width), -1.0, dtype=torch.float64)
    for b in range(batch):
        (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = (tri[b, :, k].unbind(-1) for k in range(3))
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        for row in range(height):
            for col in range(width):
                px, py = col + 0.5, row + 0.5
                w0 = ((x1 - px) * (y2 - py) - (x2 - px) * (y1 - py)) / area
                w1 = ((x2 - px) * (y0 - py) - (x0 - px) * (y2 - py)) / area
                w2 = 1 - w0 - w1
                inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (area.abs() > 1e-10) & (z0 > 0) & (z1 > 0) & (z2 > 0)
                depth = 1.0 / (w0 / z0 + w1 / z1 + w2 / z2)
                depth = torch.where(inside, depth, torch.inf)
                if bool(inside.any()):
                    pix_to_face[b, row, col] = int(depth.argmin())
                    zbuf[b, row, col] = depth.min()
    return pix_to_face, zbuf


def test_project_points_matches_formula():
    K = torch.tensor([[[100.0, 0.0, 32.0], [0.0, 120.0, 30.0], [0.0, 0.0, 1.0]]])
    points = torch.tensor([[[0.105, 0.005, 1.0], [-0.2, 0.3, 2.0]]])
    expected = torch.tensor([[[42.5, 30.6, 1.0], [22.0, 48.0, 2.0]]])
    assert_close(project_points(points, K), expected, atol=1e-5)


def test_project_points_with_rotation_and_translation():
    gen = torch.Generator().manual_seed(1)
    points = torch.randn(2, 5, 3, generator=gen)
    R = torch.linalg.qr(torch.randn(2, 3, 3, generator=gen)).Q
    t = torch.tensor([[0.1, -0.2, 5.0], [0.0, 0.3, 6.0]])
    K = torch.tensor([[200.0, 0.0, 50.0], [0.0, 200.0, 40.0], [0.0, 0.0, 1.0]]).expand(2, 3, 3)
    cam = torch.einsum("bij,bnj->bni", R, points) + t[:, None]
    assert_close(world_to_camera(points, R, t), cam, atol=1e-6)
    assert_close(project_points(points, K, R, t), project_points(cam, K), atol=1e-4)


def test_project_points_min_depth_keeps_gradients_finite():
    K = torch.eye(3)[None] * torch.tensor([100.0, 100.0, 1.0])[:, None]
    points = torch.tensor([[[0.1, 0.1, 0.0], [0.1, 0.1, -1.0], [0.1, 0.1, 1.0]]], requires_grad=True)
    out = project_points(points, K, min_depth=1e-4)
    out.sum().backward()
    assert bool(torch.isfinite(out).all()) and bool(torch.isfinite(points.grad).all())
    assert_close(out[0, :, 2], torch.tensor([0.0, -1.0, 1.0]))


def test_project_points_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"K: expected shape \[2, 3, 3\], got \(3, 3\)"):
        project_points(torch.zeros(2, 4, 3), torch.eye(3))
    with pytest.raises(ValueError, match=r"points: expected shape \[B, N, 3\], got \(4, 3\)"):
        project_points(torch.zeros(4, 3), torch.eye(3)[None])


def test_scaled_intrinsics_put_subpixel_centres_inside_their_pixel():
    # A point at the centre of sub-pixel (i', j') of the k-times image lies at
    # ((i' + 0.5) / k, (j' + 0.5) / k) in the original image, inside pixel (i' // k, j' // k).
    K = torch.tensor([[[90.0, 0.0, 31.0], [0.0, 95.0, 33.0], [0.0, 0.0, 1.0]]])
    k = 3
    sub = torch.tensor([[7.5, 10.5], [0.5, 0.5], [191.5, 2.5]])
    ray = torch.linalg.solve(scale_intrinsics(K, k)[0], torch.cat([sub, torch.ones(3, 1)], 1).T).T
    assert_close(project_points(ray[None], K)[0, :, :2], sub / k, atol=1e-5)


def square(z: float, half: float, height: int = 16, width: int = 16):
    """Square facing the camera (two triangles), corners at integer pixel positions."""
    K = torch.tensor([[[20.0, 0.0, width / 2], [0.0, 20.0, height / 2], [0.0, 0.0, 1.0]]])
    corners = torch.tensor([[-half, -half], [half, -half], [half, half], [-half, half]])
    verts = torch.cat([corners * z, torch.full((4, 1), z)], 1)[None]
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    return verts, faces, K


def test_square_covers_exactly_the_expected_pixels():
    verts, faces, K = square(z=2.0, half=0.2)  # 20 px · 0.2 = 4 px: u, v in [4, 12]
    fragments = rasterize(project_points(verts, K), faces, (16, 16))
    expected = torch.zeros(16, 16, dtype=torch.bool)
    expected[4:12, 4:12] = True
    assert torch.equal(fragments.pix_to_face[0] >= 0, expected)
    # The diagonal from (4, 4) to (12, 12) passes through pixel centres: no holes, and the
    # upper-right triangle (face 0) owns the pixels above it.
    rows, cols = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    assert bool((fragments.pix_to_face[0][expected & (cols > rows)] == 0).all())
    assert bool((fragments.pix_to_face[0][expected & (cols < rows)] == 1).all())
    assert_close(fragments.zbuf[0][expected], torch.full((64,), 2.0), atol=1e-6)
    assert bool((fragments.zbuf[0][~expected] == -1).all())
    assert bool((fragments.bary[0][~expected] == 0).all())


def test_interpolated_depth_equals_tilted_plane_depth():
    # Plane z = 1 + 0.5 x: the ray through pixel centre (u, v) hits it at
    # z = 1 / (1 - 0.5 (u - cx) / fx), whatever the triangulation.
    K = torch.tensor([[[20.0, 0.0, 8.0], [0.0, 20.0, 8.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    x = torch.tensor([-0.4, 0.5, 0.45, -0.35], dtype=torch.float64)
    y = torch.tensor([-0.3, -0.35, 0.4, 0.3], dtype=torch.float64)
    verts = torch.stack([x, y, 1 + 0.5 * x], 1)[None]
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    fragments = rasterize(project_points(verts, K), faces, (16, 16))
    covered = fragments.pix_to_face[0] >= 0
    assert int(covered.sum()) > 100
    rows, cols = (index.double() for index in covered.nonzero(as_tuple=True))
    expected = 1.0 / (1.0 - 0.5 * (cols + 0.5 - 8.0) / 20.0)
    assert_close(fragments.zbuf[0][covered], expected, atol=1e-9)
    # Interpolating the camera-frame x, y, z gives the point on the ray: (u - cx) / fx · z.
    points = interpolate_face_attributes(fragments, verts[:, faces])[0][covered]
    assert_close(points[:, 2], expected, atol=1e-9)
    assert_close(points[:, 0], (cols + 0.5 - 8.0) / 20.0 * expected, atol=1e-9)
    assert_close(points[:, 1], (rows + 0.5 - 8.0) / 20.0 * expected, atol=1e-9)


def test_rasterize_matches_naive_loop_on_random_meshes():
    verts, faces, K, _ = hand_sized_batch(2, num_rings=6, num_around=10)
    K = scale_intrinsics(K, 0.25)  # 16 x 16 image
    screen = project_points(verts, K)
    fragments = rasterize(screen, faces, (16, 16))
    pix_to_face, zbuf = naive_rasterize(screen, faces, 16, 16)
    assert torch.equal(fragments.pix_to_face, pix_to_face)
    assert_close(fragments.zbuf, zbuf.float(), atol=1e-5)
    covered = pix_to_face >= 0
    assert 40 < int(covered.sum()) < 2 * 16 * 16


def test_rasterize_non_square_image_and_chunking():
    verts, faces, K, _ = hand_sized_batch(2, num_rings=6, num_around=10)
    K = scale_intrinsics(K, 0.25) + torch.tensor([[0.0, 0.0, 3.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    screen = project_points(verts, K)
    whole = rasterize(screen, faces, (16, 22))
    chunked = rasterize(screen, faces, (16, 22), max_candidates=7)
    pix_to_face, _ = naive_rasterize(screen, faces, 16, 22)
    assert torch.equal(whole.pix_to_face, pix_to_face)
    assert torch.equal(chunked.pix_to_face, pix_to_face)
    assert_close(chunked.bary, whole.bary)


def test_barycentrics_are_perspective_correct_and_sum_to_one():
    verts, faces, K, _ = hand_sized_batch(1, num_rings=6, num_around=10)
    fragments = rasterize(project_points(verts, K), faces, (64, 64))
    covered = fragments.pix_to_face >= 0
    bary = fragments.bary[covered]
    assert_close(bary.sum(-1), torch.ones(bary.shape[0]), atol=1e-5)
    assert float(bary.min()) > -1e-4
    # Interpolating the camera-frame positions lands on the pixel's ray at depth zbuf.
    points = interpolate_face_attributes(fragments, verts[:, faces])[covered]
    assert_close(points[:, 2], fragments.zbuf[covered], atol=1e-6)
    rows, cols = covered[0].nonzero(as_tuple=True)
    assert_close(points[:, 0] / points[:, 2], (cols + 0.5 - 32.0) / 110.0, atol=1e-5)


def test_interpolation_matches_naive_sum():
    verts, faces, K, textures = hand_sized_batch(2, num_rings=5, num_around=8)
    fragments = rasterize(project_points(verts, K), faces, (24, 24))
    attrs = torch.randn(2, faces.shape[0], 3, 4)
    out = interpolate_face_attributes(fragments, attrs)
    expected = torch.zeros(2, 24, 24, 4)
    for b, row, col in (fragments.pix_to_face >= 0).nonzero().tolist():
        f = fragments.pix_to_face[b, row, col]
        expected[b, row, col] = (fragments.bary[b, row, col, :, None] * attrs[b, f]).sum(0)
    assert_close(out, expected, atol=1e-6)
    shared = interpolate_face_attributes(fragments, attrs[0])
    assert_close(shared[0], out[0], atol=1e-6)


def test_interpolation_gradient_matches_finite_differences():
    # Screen-space vertices of two triangles, float64; the loss interpolates per-vertex values,
    # so gradients flow through the barycentrics to the vertex positions.
    screen = torch.tensor(
        [[[2.3, 1.7, 1.0], [13.1, 3.2, 1.5], [6.4, 12.8, 2.0], [14.2, 13.9, 1.2]]], dtype=torch.float64
    )
    faces = torch.tensor([[0, 1, 2], [1, 3, 2]])
    values = torch.tensor([[1.0, -2.0], [0.5, 3.0], [2.0, 1.0], [-1.0, 0.5]], dtype=torch.float64)
    weights = torch.randn(1, 16, 16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    pix_to_face = rasterize(screen, faces, (16, 16)).pix_to_face

    def loss(s):
        fragments = rasterize(s, faces, (16, 16))
        assert torch.equal(fragments.pix_to_face, pix_to_face)  # stays within one visibility
        image = interpolate_face_attributes(fragments, values[faces])
        return (image * weights).sum() + (fragments.zbuf.clamp_min(0) * weights[..., 0]).sum()

    assert torch.autograd.gradcheck(loss, (screen.requires_grad_(True),), eps=1e-6, atol=1e-6)


def test_vertex_normals_are_area_weighted():
    # Two faces sharing vertex 0: a unit right triangle in the xy plane (area 0.5, normal +z) and
    # one of area 1 in the xz plane (normal -y): the shared normal is (0, -2, 1) / sqrt(5).
    verts = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 2]]])
    faces = torch.tensor([[0, 1, 2], [0, 1, 3]])
    normals = vertex_normals(verts, faces)[0]
    assert_close(normals[0], torch.tensor([0.0, -2.0, 1.0]) / 5**0.5, atol=1e-6)
    assert_close(normals[2], torch.tensor([0.0, 0.0, 1.0]), atol=1e-6)
    assert_close(normals[3], torch.tensor([0.0, -1.0, 0.0]), atol=1e-6)
    verts, faces, _ = ellipsoid(8, 12)
    assert_close(vertex_normals(verts[None], faces)[0].norm(dim=-1), torch.ones(verts.shape[0]), atol=1e-6)


def test_vertex_normals_match_pytorch3d():
    pytest.importorskip("pytorch3d")
    from pytorch3d.structures import Meshes

    verts, faces, _, _ = hand_sized_batch(2)
    expected = Meshes(verts, faces.expand(2, -1, -1)).verts_normals_padded()
    assert_close(vertex_normals(verts, faces), expected, atol=1e-5)


def test_bad_geometry_is_culled_not_nan():
    verts, faces, K = square(z=2.0, half=0.2)
    verts = verts.repeat(4, 1, 1)
    verts[1, 0] = torch.nan  # face 0 and 1 both use vertex 0
    verts[2, 2, 2] = -1.0  # vertex 2 behind the camera: both faces culled
    verts[3, 3] = verts[3, 0]  # face 1 degenerate (two equal corners)
    verts = verts.requires_grad_(True)
    screen = project_points(verts, K.expand(4, 3, 3), min_depth=1e-4)
    fragments = rasterize(screen, faces, (16, 16))
    counts = [(fragments.pix_to_face[b] >= 0).sum().item() for b in range(4)]
    assert counts[0] == 64 and counts[1] == 0 and counts[2] == 0
    assert 0 < counts[3] < 64 and bool((fragments.pix_to_face[3] <= 0).all())
    (fragments.bary.sum() + fragments.zbuf.sum()).backward()
    assert bool(torch.isfinite(fragments.bary).all()) and bool(torch.isfinite(fragments.zbuf).all())
    assert bool(torch.isfinite(verts.grad[[0, 2, 3]]).all())


def test_faces_out_of_range_or_not_integer_raise():
    verts, faces, K = square(z=2.0, half=0.2)
    screen = project_points(verts, K)
    with pytest.raises(ValueError, match=r"vertex indices in \[0, 3\] for 4 vertices, got indices in \[0, 4\]"):
        rasterize(screen, torch.tensor([[0, 1, 4]]), (16, 16))
    with pytest.raises(ValueError, match="expected an integer dtype"):
        rasterize(screen, faces.float(), (16, 16))


def test_fragments_detach():
    verts, faces, K = square(z=2.0, half=0.2)
    fragments = rasterize(project_points(verts.requires_grad_(True), K), faces, (16, 16))
    detached = fragments.detach()
    assert isinstance(detached, Fragments) and not detached.bary.requires_grad and fragments.bary.requires_grad


@pytest.mark.cuda
def test_rasterize_cuda_matches_cpu():
    verts, faces, K, _ = hand_sized_batch(2)
    screen = project_points(verts, K)
    cpu = rasterize(screen, faces, (64, 64))
    gpu = rasterize(screen.cuda(), faces.cuda(), (64, 64))
    assert torch.equal(gpu.pix_to_face.cpu(), cpu.pix_to_face)
    assert_close(gpu.bary.cpu(), cpu.bary, atol=1e-5)
