"""Parity of the pure-PyTorch renderer with PyTorch3D (the reference's renderer).

PyTorch3D's CPU rasterizer is slow, so images are small and the 672 -> 224 case uses one mesh
of a few hundred faces; the big cases live in scripts/bench_render.py.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close
from test_render_meshes import hand_sized_batch

from hifihr.render import DirectionalLight, Renderer, SHLight, TexturesUV, TexturesVertex
from hifihr.render.backends import create_backend
from hifihr.render.camera import scale_intrinsics

pytest.importorskip("pytorch3d")


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a * b).sum() / (a.norm() * b.norm()))


def interior(alpha: torch.Tensor) -> torch.Tensor:
    """Output pixels fully covered, and whose 3 x 3 neighbourhood is too: [B, 1, H, W] bool."""
    return -F.max_pool2d(-alpha, 3, 1, 1) == 1.0


def face_ids_agree(a: torch.Tensor, b: torch.Tensor) -> float:
    covered = (a >= 0) | (b >= 0)
    return float(((a == b) & covered).sum() / covered.sum())


def light_for(batch: int) -> DirectionalLight:
    color = torch.tensor([[0.9, 0.8, 0.7]]).expand(batch, 3)
    return DirectionalLight(color, torch.tensor([[0.3, -0.5, -1.0]]).expand(batch, 3))


@pytest.fixture(scope="module")
def textured_phong_672():
    """One textured blob (384 faces) rendered at 672 and pooled to 224 by both backends, with the
    gradients of a random weighting of the interior pixels."""
    verts, faces, K, textures = hand_sized_batch(1, num_rings=12, num_around=16, tex_size=64)
    K = scale_intrinsics(K, 224 / 64)
    light = light_for(1)
    with torch.no_grad():
        mask = interior(Renderer(224, 3).render(verts, faces, K, textures).alpha)
    weights = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0)) * mask
    results = {}
    for backend in ("torch", "pytorch3d"):
        v = verts.clone().requires_grad_(True)
        maps = textures.maps.clone().requires_grad_(True)
        out = Renderer(224, 3, backend=backend, shading="phong").render(
            v, faces, K, TexturesUV(maps, textures.verts_uvs, textures.faces_uvs), light
        )
        (out.rgb * weights).sum().backward()
        results[backend] = (out, v.grad, maps.grad)
    return results, mask


def test_672_face_ids_agree(textured_phong_672):
    results, _ = textured_phong_672
    ours, theirs = results["torch"][0].fragments, results["pytorch3d"][0].fragments
    assert ours.pix_to_face.shape == (1, 672, 672)
    assert int((ours.pix_to_face >= 0).sum()) > 50_000
    assert face_ids_agree(ours.pix_to_face, theirs.pix_to_face) >= 0.999


def test_672_rgb_agrees_away_from_edges(textured_phong_672):
    results, mask = textured_phong_672
    ours, theirs = results["torch"][0], results["pytorch3d"][0]
    same_faces = F.max_pool2d((ours.fragments.pix_to_face != theirs.fragments.pix_to_face).float()[:, None], 3) == 0
    keep = (mask & same_faces).expand(-1, 3, -1, -1)
    assert int(keep.sum()) > 3 * 5_000
    assert_close(ours.rgb[keep], theirs.rgb[keep], atol=1e-3)
    assert_close(ours.alpha, theirs.alpha, atol=0.12)
    background = ours.alpha == 0
    assert bool((ours.rgb[background.expand(-1, 3, -1, -1)] == 1.0).all())


def test_672_gradients_agree(textured_phong_672):
    results, _ = textured_phong_672
    (_, verts_grad, maps_grad), (_, p3d_verts_grad, p3d_maps_grad) = results["torch"], results["pytorch3d"]
    assert float(verts_grad.norm()) > 0 and float(maps_grad.norm()) > 0
    assert cosine(verts_grad, p3d_verts_grad) >= 0.99
    assert cosine(maps_grad, p3d_maps_grad) >= 0.99


@pytest.mark.parametrize("image_size", [(64, 64), (48, 64)])
def test_rasterizer_agrees_on_random_hand_sized_meshes(image_size):
    verts, faces, K, _ = hand_sized_batch(3, num_rings=16, num_around=24, seed=3)
    height, width = image_size
    K = K + torch.tensor([[0.0, 0.0, (width - 64) / 2], [0.0, 0.0, (height - 64) / 2], [0.0, 0.0, 0.0]])
    ours = create_backend("torch").rasterize(verts, faces, K, image_size)
    theirs = create_backend("pytorch3d").rasterize(verts, faces, K, image_size)
    assert face_ids_agree(ours.pix_to_face, theirs.pix_to_face) >= 0.999
    same = (ours.pix_to_face == theirs.pix_to_face) & (ours.pix_to_face >= 0)
    # PyTorch3D adds 1e-8 (NDC²) to triangle areas: small faces differ by ~1e-4 in barycentrics.
    assert_close(ours.bary[same], theirs.bary[same], atol=2e-3)
    assert_close(ours.zbuf[same], theirs.zbuf[same], atol=1e-5)


def render_both(shading, textures_fn, light, size=64, supersample=2, soft=False):
    verts, faces, K, textures = hand_sized_batch(2, num_rings=10, num_around=16, seed=5)
    K = scale_intrinsics(K, size / 64)
    out = {}
    for backend in ("torch", "pytorch3d"):
        v = verts.clone().requires_grad_(True)
        result = Renderer(size, supersample, backend=backend, shading=shading, blur_radius_px=1.5).render(
            v, faces, K, textures_fn(textures, v), light, soft_silhouette=soft
        )
        out[backend] = (result, v)
    return out


def test_sh_shading_agrees():
    gen = torch.Generator().manual_seed(2)
    light = SHLight(torch.randn(2, 9, 3, generator=gen) * 0.3 + SHLight.white(2).coeffs)
    out = render_both("sh", lambda textures, v: textures, light)
    (ours, v), (theirs, v3) = out["torch"], out["pytorch3d"]
    keep = interior(ours.alpha) & interior(theirs.alpha)
    assert int(keep.sum()) > 1000
    assert_close(ours.rgb[keep.expand(-1, 3, -1, -1)], theirs.rgb[keep.expand(-1, 3, -1, -1)], atol=1e-3)
    weights = torch.rand(2, 3, 64, 64, generator=gen) * keep
    (ours.rgb * weights).sum().backward()
    (theirs.rgb * weights).sum().backward()
    assert cosine(v.grad, v3.grad) >= 0.99


def test_vertex_colours_albedo_agree():
    def position_colours(textures, verts):
        return TexturesVertex(torch.sigmoid(verts * 40.0))

    out = render_both("albedo", position_colours, None)
    (ours, _), (theirs, _) = out["torch"], out["pytorch3d"]
    keep = (interior(ours.alpha) & interior(theirs.alpha)).expand(-1, 3, -1, -1)
    assert_close(ours.rgb[keep], theirs.rgb[keep], atol=1e-3)


def test_soft_silhouette_agrees():
    out = render_both("albedo", lambda textures, v: textures, None, size=32, supersample=1, soft=True)
    (ours, v), (theirs, v3) = out["torch"], out["pytorch3d"]
    assert_close(ours.soft_alpha, theirs.soft_alpha, atol=1e-4)
    weights = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(4))
    (ours.soft_alpha * weights).sum().backward()
    (theirs.soft_alpha * weights).sum().backward()
    assert cosine(v.grad, v3.grad) >= 0.99


def test_pytorch3d_backend_rejects_skew():
    verts, faces, K, textures = hand_sized_batch(1)
    skewed = K.clone()
    skewed[:, 0, 1] = 1.0
    with pytest.raises(ValueError, match="zero skew"):
        create_backend("pytorch3d").rasterize(verts, faces, skewed, (64, 64))
