"""The Renderer: backends registry, supersampling, background, cameras and bad geometry."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close
from test_render_meshes import hand_sized_batch

from hifihr.render import BACKENDS, DirectionalLight, Renderer, SHLight, TexturesUV, TexturesVertex
from hifihr.render.backends import create_backend
from hifihr.render.camera import scale_intrinsics


@pytest.fixture(params=BACKENDS.names())
def backend(request) -> str:
    """Each registered renderer backend whose package is installed."""
    try:
        create_backend(request.param)
    except ImportError as error:
        pytest.skip(f"renderer backend {request.param!r} is not installed: {error}")
    return request.param


def test_backend_registry():
    assert "torch" in BACKENDS.names()  # the built-in backend needs no optional package
    with pytest.raises(ValueError, match=r"unknown renderer backend 'opengl'; valid names: pytorch3d, torch"):
        Renderer(16, backend="opengl")


def test_missing_pytorch3d_gives_install_hint(monkeypatch):
    for name in [name for name in sys.modules if name.split(".")[0] == "pytorch3d"] + ["pytorch3d"]:
        monkeypatch.setitem(sys.modules, name, None)  # makes `import pytorch3d...` fail
    monkeypatch.delitem(sys.modules, "hifihr.render.pytorch3d_backend", raising=False)
    with pytest.raises(ImportError, match=r"pip install -r requirements-pytorch3d.txt \(package easypytorch3d\)"):
        create_backend("pytorch3d")


def test_renderer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="supersample: expected an int >= 1, got 0"):
        Renderer(16, supersample=0)
    with pytest.raises(ValueError, match="unknown shading 'toon'; valid names: albedo, phong, sh"):
        Renderer(16, shading="toon")
    renderer = Renderer(16)
    verts, faces, K, textures = hand_sized_batch(2)
    with pytest.raises(ValueError, match=r"K: expected shape \[2, 3, 3\], got \(3, 3\)"):
        renderer.render(verts, faces, K[0], textures)
    with pytest.raises(TypeError, match="textures: expected TexturesUV or TexturesVertex, got Tensor"):
        renderer.render(verts, faces, K, textures.maps)
    with pytest.raises(TypeError, match="expected light of type SHLight"):
        renderer.render(verts, faces, K, textures, light=DirectionalLight.from_camera(2))
    assert "supersample=3" in repr(renderer)


def test_supersampling_is_average_of_the_large_render(backend):
    verts, faces, K, textures = hand_sized_batch(2)
    K = scale_intrinsics(K, 0.5)
    small = Renderer(32, supersample=3, backend=backend, shading="phong").render(verts, faces, K, textures)
    large = Renderer(96, supersample=1, backend=backend, shading="phong").render(
        verts, faces, scale_intrinsics(K, 3), textures
    )
    assert small.fragments.pix_to_face.shape == (2, 96, 96)
    assert torch.equal(small.fragments.pix_to_face, large.fragments.pix_to_face)
    assert_close(small.rgb, F.avg_pool2d(large.rgb, 3), atol=1e-6)
    assert_close(small.alpha, F.avg_pool2d(large.alpha, 3), atol=1e-6)
    partial = (small.alpha > 0) & (small.alpha < 1)
    assert int(partial.sum()) > 10
    assert set(torch.unique(small.alpha * 9).round().tolist()) <= set(range(10))


def test_background_and_albedo(backend):
    verts, faces, K, _ = hand_sized_batch(2)
    colors = torch.tensor([0.2, 0.4, 0.6]).expand(2, verts.shape[1], 3)
    out = Renderer(64, supersample=2, backend=backend, shading="albedo", background=(0.0, 0.5, 1.0)).render(
        verts, faces, K, TexturesVertex(colors)
    )
    assert out.rgb.shape == (2, 3, 64, 64)
    assert out.alpha.shape == (2, 1, 64, 64)
    assert out.soft_alpha is None
    # Each pixel mixes the surface colour and the background in proportion to its coverage.
    expected = out.alpha * torch.tensor([0.2, 0.4, 0.6])[:, None, None] + (1 - out.alpha) * torch.tensor(
        [0.0, 0.5, 1.0]
    )[:, None, None]
    assert_close(out.rgb, expected, atol=1e-6)


def test_white_sh_light_equals_albedo(backend):
    verts, faces, K, textures = hand_sized_batch(2)
    sh = Renderer(64, supersample=1, backend=backend, shading="sh").render(
        verts, faces, K, textures, light=SHLight.white(2, 16)
    )
    albedo = Renderer(64, supersample=1, backend=backend, shading="albedo").render(verts, faces, K, textures)
    default = Renderer(64, supersample=1, backend=backend).render(verts, faces, K, textures)
    assert_close(sh.rgb, albedo.rgb, atol=1e-5)
    assert_close(default.rgb, albedo.rgb, atol=1e-5)


def test_rotation_and_translation_equal_moving_the_vertices():
    verts, faces, K, textures = hand_sized_batch(2)
    gen = torch.Generator().manual_seed(3)
    R = torch.linalg.qr(torch.eye(3) + 0.1 * torch.randn(2, 3, 3, generator=gen)).Q
    R = R * torch.linalg.det(R).sign()[:, None, None]
    t = torch.tensor([[0.01, 0.0, 0.02], [0.0, -0.01, 0.0]])
    world = torch.einsum("bji,bnj->bni", R, verts - t[:, None])  # R^T (X - t)
    renderer = Renderer(64, supersample=1, shading="phong")
    light = DirectionalLight.from_camera(2)
    moved = renderer.render(world, faces, K, textures, light, R=R, t=t)
    direct = renderer.render(verts, faces, K, textures, light)
    # The same surface up to rounding: only pixel centres within ~1e-7 px of an edge may differ.
    assert float((moved.fragments.pix_to_face != direct.fragments.pix_to_face).float().mean()) < 1e-3
    same = (moved.fragments.pix_to_face == direct.fragments.pix_to_face)[:, None].expand(-1, 3, -1, -1)
    assert_close(moved.rgb[same], direct.rgb[same], atol=5e-4)  # float32 round trip, specular power 30


def first(textures: TexturesUV, b: int) -> TexturesUV:
    """The textures of mesh b alone."""
    return TexturesUV(textures.maps[b : b + 1], textures.verts_uvs, textures.faces_uvs)


def test_bad_meshes_do_not_poison_the_batch():
    verts, faces, K, textures = hand_sized_batch(4)
    bad = verts.clone()
    nearest = int(verts[1, :, 2].argmin())
    bad[1, nearest] = torch.nan  # one NaN vertex, on the visible side
    bad[2, :, 2] -= 0.45  # the mesh crosses the camera plane
    bad[3, 10] = bad[3, 11]  # degenerate faces
    bad = bad.requires_grad_(True)
    renderer = Renderer(64, supersample=2, shading="phong")
    out = renderer.render(bad, faces, K, textures, soft_silhouette=True)
    alone = [renderer.render(verts[b : b + 1], faces, K[b : b + 1], first(textures, b)) for b in range(2)]
    assert_close(out.rgb[0], alone[0].rgb[0], atol=1e-6)
    for tensor in (out.rgb, out.alpha, out.soft_alpha):
        assert bool(torch.isfinite(tensor).all())
    (out.rgb.sum() + out.soft_alpha.sum()).backward()
    assert bool(torch.isfinite(bad.grad).all())
    assert bool((bad.grad[1, nearest] == 0).all())
    # The NaN vertex removes the faces around it, which were visible, and nothing else.
    around = (faces == nearest).any(1).nonzero().squeeze(1)
    assert bool(torch.isin(around, alone[1].fragments.pix_to_face).any())
    assert not bool(torch.isin(around, out.fragments.pix_to_face[1]).any())
    assert bool((out.fragments.pix_to_face[1] >= 0).any())


def test_faces_are_checked():
    verts, faces, K, textures = hand_sized_batch(1)
    with pytest.raises(ValueError, match="faces: expected vertex indices in"):
        Renderer(16).render(verts, faces + 1, K, textures)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    verts, faces, K, textures = hand_sized_batch(2)
    renderer = Renderer(64, supersample=2, shading="phong")
    cpu = renderer.render(verts, faces, K, textures, soft_silhouette=True)
    gpu_textures = TexturesUV(textures.maps.cuda(), textures.verts_uvs.cuda(), textures.faces_uvs.cuda())
    gpu = renderer.render(verts.cuda(), faces.cuda(), K.cuda(), gpu_textures, soft_silhouette=True)
    assert_close(gpu.rgb.cpu(), cpu.rgb, atol=1e-4)
    assert_close(gpu.soft_alpha.cpu(), cpu.soft_alpha, atol=1e-4)
