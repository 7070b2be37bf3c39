"""Textures, lights and shading models, against hand-worked values and independent sums."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import assert_close
from test_render_meshes import hand_sized_batch

from hifihr.render import DirectionalLight, SHLight, TexturesVertex, phong_shading, project_points, rasterize
from hifihr.render import sample_uv_map, sh_basis, sh_shading, shade_fragments
from hifihr.render.interpolate import PixelBatch
from hifihr.render.lights import SH_Y00
from hifihr.render.shading import SHADINGS, resolve_light


def test_uv_map_worked_example():
    # Row 0 of the map is the top of the image; v = 0 is the bottom (OBJ convention).
    a, b, c, d = 1.0, 2.0, 3.0, 4.0
    maps = torch.tensor([[[a], [b]], [[c], [d]]])[None]  # [1, 2, 2, 1]
    uv = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [1.0, 0.0], [0.25, 1.0], [-3.0, 7.0]])
    out = sample_uv_map(maps, uv[None, None])[0, 0, :, 0]
    assert_close(out, torch.tensor([c, b, (a + b + c + d) / 4, d, 0.75 * a + 0.25 * b, a]), atol=1e-6)


def test_uv_map_matches_texel_formula_and_has_gradients():
    gen = torch.Generator().manual_seed(0)
    maps = torch.rand(2, 5, 7, 3, generator=gen, dtype=torch.float64)
    uv = torch.rand(2, 3, 4, 2, generator=gen, dtype=torch.float64)
    # Texel column c is at u = c / (Wt - 1), row r at v = 1 - r / (Ht - 1): bilinear by hand.
    x, y = uv[..., 0] * 6, (1 - uv[..., 1]) * 4
    x0, y0 = x.floor().long().clamp(max=5), y.floor().long().clamp(max=3)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    batch = torch.arange(2)[:, None, None]
    expected = (
        maps[batch, y0, x0] * (1 - fx) * (1 - fy)
        + maps[batch, y0, x0 + 1] * fx * (1 - fy)
        + maps[batch, y0 + 1, x0] * (1 - fx) * fy
        + maps[batch, y0 + 1, x0 + 1] * fx * fy
    )
    assert_close(sample_uv_map(maps, uv), expected, atol=1e-12)
    assert torch.autograd.gradcheck(sample_uv_map, (maps.requires_grad_(True), uv.requires_grad_(True)))


def gauss_sphere(order: int = 8, num_azimuth: int = 16):
    """Quadrature on the unit sphere exact for polynomials of degree < min(2·order, num_azimuth)."""
    nodes, weights = np.polynomial.legendre.leggauss(order)
    z = torch.tensor(nodes)[:, None].expand(order, num_azimuth)
    phi = (torch.arange(num_azimuth, dtype=torch.float64) * 2 * math.pi / num_azimuth)[None].expand(order, -1)
    r = (1 - z**2).sqrt()
    dirs = torch.stack([r * phi.cos(), r * phi.sin(), z], -1).reshape(-1, 3)
    w = (torch.tensor(weights)[:, None] * (2 * math.pi / num_azimuth)).expand(order, num_azimuth).reshape(-1)
    return dirs, w


@pytest.mark.parametrize("num_coeffs", [9, 16])
def test_sh_basis_is_orthonormal(num_coeffs):
    dirs, w = gauss_sphere()
    basis = sh_basis(dirs, num_coeffs)
    gram = basis.T @ (basis * w[:, None])
    assert_close(gram, torch.eye(num_coeffs, dtype=torch.float64), atol=1e-12)


def test_sh_basis_values_on_the_axes():
    z_axis = sh_basis(torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64), 16)
    expected = torch.zeros(16, dtype=torch.float64)
    expected[0] = 0.5 / math.sqrt(math.pi)
    expected[2] = math.sqrt(3 / (4 * math.pi))
    expected[6] = 2 * 0.25 * math.sqrt(5 / math.pi)
    expected[12] = 2 * 0.25 * math.sqrt(7 / math.pi)
    assert_close(z_axis, expected, atol=1e-12)
    y_axis = sh_basis(torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), 9)
    assert_close(y_axis[[1, 6, 8]], torch.tensor([0.488603, -0.315392, -0.546274], dtype=torch.float64), atol=1e-6)
    assert SH_Y00 == pytest.approx(0.2820947918)


def test_sh_dc_term_gives_uniform_shading():
    gen = torch.Generator().manual_seed(0)
    normals = torch.nn.functional.normalize(torch.randn(2, 5, 7, 3, generator=gen), dim=-1)
    albedo = torch.rand(2, 5, 7, 3, generator=gen)
    coeffs = torch.zeros(2, 9, 3)
    coeffs[:, 0] = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]])
    shaded = sh_shading(albedo, normals, SHLight(coeffs))
    assert_close(shaded, albedo * (coeffs[:, 0] * SH_Y00)[:, None, None], atol=1e-6)
    white = sh_shading(albedo, normals, SHLight.white(2, num_coeffs=16))
    assert_close(white, albedo, atol=1e-6)


def test_sh_shading_matches_naive_sum():
    gen = torch.Generator().manual_seed(1)
    normals = torch.nn.functional.normalize(torch.randn(2, 6, 3, generator=gen, dtype=torch.float64), dim=-1)
    albedo = torch.rand(2, 6, 3, generator=gen, dtype=torch.float64)
    coeffs = torch.randn(2, 16, 3, generator=gen, dtype=torch.float64)
    expected = torch.zeros(2, 6, 3, dtype=torch.float64)
    for b in range(2):
        for p in range(6):
            basis = sh_basis(normals[b, p], 16)
            expected[b, p] = albedo[b, p] * (basis[:, None] * coeffs[b]).sum(0)
    assert_close(sh_shading(albedo, normals, SHLight(coeffs)), expected, atol=1e-12)


def test_phong_hand_worked_values():
    # Surface at (0, 0, 1) facing the camera: n = (0, 0, -1), v = (0, 0, -1).
    albedo = torch.tensor([[[0.5, 0.6, 0.7]]]).expand(1, 3, 3)
    normals = torch.tensor([0.0, 0.0, -1.0]).expand(1, 3, 3)
    points = torch.tensor([0.0, 0.0, 1.0]).expand(1, 3, 3)
    color = torch.tensor([[0.9, 0.8, 0.7]])
    s = math.sqrt(0.5)
    out = [
        phong_shading(albedo[:, :1], normals[:, :1], points[:, :1], DirectionalLight(color, torch.tensor([d])))
        for d in ([0.0, 0.0, -3.0], [0.0, s, -s], [0.0, 1.0, 0.2])
    ]
    # Light from the camera: full diffuse, reflection straight back: specular 0.2 · 0.2 · 1.
    assert_close(out[0][0, 0], (0.5 + 0.8 * color[0]) * albedo[0, 0] + 0.04, atol=1e-6)
    # At 45 degrees: diffuse 0.8 c / sqrt(2); the reflection makes 45 degrees with v: 0.04 · s^30.
    assert_close(out[1][0, 0], (0.5 + 0.8 * color[0] * s) * albedo[0, 0] + 0.04 * s**30, atol=1e-6)
    # Light behind the surface: ambient only.
    assert_close(out[2][0, 0], 0.5 * albedo[0, 0], atol=1e-6)


def test_lights_validate_shapes():
    with pytest.raises(ValueError, match=r"SHLight.coeffs: expected \[B, 9, 3\] or \[B, 16, 3\], got \(2, 4, 3\)"):
        SHLight(torch.zeros(2, 4, 3))
    with pytest.raises(ValueError, match=r"DirectionalLight.direction: expected shape \[2, 3\], got \(1, 3\)"):
        DirectionalLight(torch.ones(2, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="num_coeffs: expected one of"):
        sh_basis(torch.zeros(3), 25)


def test_shading_registry_and_light_resolution():
    assert SHADINGS.names() == ["albedo", "phong", "sh"]
    with pytest.raises(ValueError, match=r"unknown shading 'lambert'; valid names: albedo, phong, sh"):
        SHADINGS.get("lambert")
    cpu = torch.device("cpu")
    assert isinstance(resolve_light("sh", None, 2, cpu, torch.float32), SHLight)
    default = resolve_light("phong", None, 2, cpu, torch.float32)
    assert_close(default.direction, torch.tensor([[0.0, 0.0, -1.0]] * 2))
    assert resolve_light("albedo", None, 2, cpu, torch.float32) is None
    with pytest.raises(TypeError, match="shading 'sh': expected light of type SHLight, got DirectionalLight"):
        resolve_light("sh", default, 2, cpu, torch.float32)
    with pytest.raises(TypeError, match="shading 'albedo' uses no light"):
        resolve_light("albedo", default, 2, cpu, torch.float32)


def test_texture_samplers_match_interpolation():
    verts, faces, K, textures = hand_sized_batch(2, num_rings=5, num_around=8)
    fragments = rasterize(project_points(verts, K), faces, (32, 32))
    pixels = PixelBatch.from_fragments(fragments)
    colors = torch.rand(2, verts.shape[1], 3, generator=torch.Generator().manual_seed(0))
    image = pixels.to_image(TexturesVertex(colors).sample(pixels, faces), torch.zeros(3))
    for b, row, col in (fragments.pix_to_face >= 0).nonzero().tolist()[::7]:
        corners = colors[b, faces[fragments.pix_to_face[b, row, col]]]
        assert_close(image[b, row, col], fragments.bary[b, row, col] @ corners, atol=1e-6)
    uv_image = pixels.to_image(textures.sample(pixels, faces), torch.zeros(3))
    uv = pixels.to_image(pixels.interpolate(textures.verts_uvs[textures.faces_uvs]), torch.zeros(2))
    covered = fragments.pix_to_face >= 0
    assert_close(uv_image[covered], sample_uv_map(textures.maps, uv)[covered], atol=1e-6)
    assert bool((image[~covered] == 0).all())


def test_shade_fragments_matches_per_pixel_sums():
    """Each covered pixel: albedo, unit normal and point from the barycentrics of its face's
    corners (vertex normals summed face by face here), then the shading formula; background
    pixels exactly the background colour."""
    verts, faces, K, _ = hand_sized_batch(2, num_rings=5, num_around=8)
    verts = verts.double()
    fragments = rasterize(project_points(verts, K.double()), faces, (32, 32))
    colors = torch.rand(2, verts.shape[1], 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    light = DirectionalLight(
        torch.tensor([[0.9, 0.8, 0.7], [0.5, 1.0, 0.2]], dtype=torch.float64),
        torch.tensor([[0.3, -0.5, -1.0], [-0.2, 0.1, -0.9]], dtype=torch.float64),
    )
    background = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    image = shade_fragments(fragments, verts, faces, TexturesVertex(colors), "phong", light, background)
    summed = torch.zeros_like(verts)
    for face in faces.tolist():
        p0, p1, p2 = verts[:, face].unbind(1)
        for corner in face:
            summed[:, corner] += torch.linalg.cross(p1 - p0, p2 - p0, dim=-1)
    covered = fragments.pix_to_face >= 0
    assert int(covered.sum()) > 200
    for b, row, col in covered.nonzero().tolist()[::5]:
        corners = faces[fragments.pix_to_face[b, row, col]]
        bary = fragments.bary[b, row, col]
        normal = bary @ (summed[b, corners] / summed[b, corners].norm(dim=-1, keepdim=True))
        one = DirectionalLight(light.color[b : b + 1], light.direction[b : b + 1])
        expected = phong_shading(
            (bary @ colors[b, corners])[None], (normal / normal.norm())[None], (bary @ verts[b, corners])[None], one
        )[0]
        assert_close(image[b, row, col], expected, atol=1e-12)
    assert bool((image[~covered] == background).all())


def _unit_normals(count, seed=0):
    normals = torch.randn(1, count, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return normals / normals.norm(dim=-1, keepdim=True)


@pytest.mark.parametrize("num_coeffs", [9, 16])
def test_mirrored_sh_light_shades_n_as_the_light_shades_the_mirrored_normal(num_coeffs):
    light = SHLight(torch.randn(1, num_coeffs, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    normals = _unit_normals(64)
    flipped = normals * normals.new_tensor([-1.0, 1.0, 1.0])
    # the renderer's basis, coefficient by coefficient: sum_k c_k Y_k(n)
    mirrored = torch.einsum("bnk,bkc->bnc", sh_basis(normals, num_coeffs), light.mirrored_x().coeffs)
    original = torch.einsum("bnk,bkc->bnc", sh_basis(flipped, num_coeffs), light.coeffs)
    assert_close(mirrored, original, atol=1e-12)


def test_mirrored_sh_light_flips_the_xyz_term():
    coeffs = torch.zeros(1, 16, 3)
    coeffs[:, 10] = 1.0  # band 3, 2.890611·xyz
    assert torch.equal(SHLight(coeffs).mirrored_x().coeffs[:, 10], -coeffs[:, 10])


def test_mirroring_an_sh_light_twice_gives_it_back():
    light = SHLight(torch.randn(2, 16, 3, generator=torch.Generator().manual_seed(2)))
    assert torch.equal(light.mirrored_x().mirrored_x().coeffs, light.coeffs)


def test_mirrored_directional_light_shades_n_as_the_light_shades_the_mirrored_normal():
    gen = torch.Generator().manual_seed(3)
    light = DirectionalLight(color=torch.rand(1, 3, generator=gen), direction=torch.randn(1, 3, generator=gen))
    normals = _unit_normals(64).float()
    points = torch.randn(1, 64, 3, generator=gen) + torch.tensor([0.0, 0.0, 3.0])
    albedo = torch.rand(1, 64, 3, generator=gen)
    mirror_x = torch.tensor([-1.0, 1.0, 1.0])
    mirrored = phong_shading(albedo, normals, points, light.mirrored_x())
    original = phong_shading(albedo, normals * mirror_x, points * mirror_x, light)
    assert_close(mirrored, original, atol=1e-6)
