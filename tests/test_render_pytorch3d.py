"""Parity of the pure-PyTorch renderer with PyTorch3D (the reference's renderer).

Backends only rasterize, so the backend tests compare rasterizers (face ids, barycentrics,
depths, soft silhouettes, and what they do to rendered images and gradients), and the shader
tests compare ``shade_fragments`` with PyTorch3D's own shading on the same fragments.
PyTorch3D's CPU rasterizer is slow, so images are small and the 672 -> 224 case uses one mesh
of a few hundred faces; the big cases live in scripts/bench_render.py.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close
from test_render_meshes import hand_sized_batch

from hifihr.render import BACKENDS, DirectionalLight, Renderer, SHLight, TexturesUV, TexturesVertex
from hifihr.render import sh_shading
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


def reference_cameras(K: torch.Tensor):
    """The reference's cameras (models_res_nimble.py, ``get_ndc_fx_fy_cx_cy``): NDC
    ``PerspectiveCameras`` from K of a 224 x 224 crop, with a negative focal length and
    R = I, T = 0, whatever resolution the rasterizer then uses."""
    from pytorch3d.renderer import PerspectiveCameras

    focal = torch.stack([K[:, 0, 0], K[:, 1, 1]], dim=-1) * 2 / 224.0
    principal = -(torch.stack([K[:, 0, 2], K[:, 1, 2]], dim=-1) - 112.0) * 2 / 224.0
    return PerspectiveCameras(focal_length=-focal, principal_point=principal)


def rasterize_reference(verts, faces, K, size):
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.structures import Meshes

    settings = RasterizationSettings(image_size=size, blur_radius=0.0, faces_per_pixel=1)
    meshes = Meshes(verts, faces.expand(verts.shape[0], -1, -1))
    raw = MeshRasterizer(cameras=reference_cameras(K), raster_settings=settings)(meshes)
    covered = raw.pix_to_face[..., 0] >= 0
    return torch.where(covered, raw.pix_to_face[..., 0] % faces.shape[0], -1), raw.zbuf[..., 0]


def test_reference_ndc_camera_rasterizes_like_ours_at_672():
    """The reference rasterized at 3 x 224 with its NDC cameras; our renderer supersamples with
    diag(3, 3, 1) K. Same faces, same depths."""
    verts, faces, K, _ = hand_sized_batch(2, num_rings=12, num_around=16, seed=7)
    K = scale_intrinsics(K, 224 / 64) + torch.tensor([[0.0, 0.0, 6.0], [0.0, 0.0, -9.0], [0.0, 0.0, 0.0]])
    faces_ref, zbuf_ref = rasterize_reference(verts, faces, K, 672)
    ours = create_backend("torch").rasterize(verts, faces, scale_intrinsics(K, 3), (672, 672))
    assert int((ours.pix_to_face >= 0).sum()) > 2 * 40_000
    assert face_ids_agree(ours.pix_to_face, faces_ref) >= 0.999
    same = (ours.pix_to_face == faces_ref) & (faces_ref >= 0)
    assert_close(ours.zbuf[same], zbuf_ref[same], atol=1e-5)


def test_reference_ndc_camera_centres_pixels_at_half_integers():
    """No half-pixel difference: under the reference's cameras, pixel (i, j) of the 224 crop is
    centred at (i + 0.5, j + 0.5) in the pixels of K, as in ours. A triangle with a vertical edge
    at u = 100.25 and a horizontal one at v = 50.25 covers column 100 and row 50 (centres 100.5,
    50.5) but not column 99 or row 49; pixel centres at integers would start at 101 and 51."""
    K = torch.tensor([[[200.0, 0.0, 112.0], [0.0, 180.0, 112.0], [0.0, 0.0, 1.0]]])
    for edge in (0.25, 0.75):  # 0.75: the edge passes pixel 100's centre, column 101 starts
        corners_px = torch.tensor([[100 + edge, 50 + edge], [100 + edge, 200.0], [200.0, 50 + edge]])
        depth = 0.5
        verts = torch.cat([(corners_px - K[0, :2, 2]) / K[0, [0, 1], [0, 1]] * depth, torch.full((3, 1), depth)], dim=1)
        faces = torch.tensor([[0, 1, 2]])
        faces_ref, _ = rasterize_reference(verts[None], faces, K, 224)
        ours = create_backend("torch").rasterize(verts[None], faces, K, (224, 224)).pix_to_face
        first = 101 if edge > 0.5 else 100
        for ids in (faces_ref[0], ours[0]):
            rows, cols = torch.nonzero(ids >= 0, as_tuple=True)
            assert (int(cols.min()), int(rows.min())) == (first, 50 + (edge > 0.5))
        assert torch.equal(faces_ref, ours)



def pytorch3d_fragments(fragments, num_faces: int):
    """Our one-face-per-pixel fragments in PyTorch3D's layout (packed face ids, K = 1)."""
    from pytorch3d.renderer.mesh.rasterizer import Fragments as P3DFragments

    batch = fragments.pix_to_face.shape[0]
    offsets = torch.arange(batch)[:, None, None] * num_faces
    packed = torch.where(fragments.pix_to_face >= 0, fragments.pix_to_face + offsets, -1)
    return P3DFragments(
        pix_to_face=packed[..., None],
        zbuf=fragments.zbuf[..., None],
        bary_coords=fragments.bary[..., None, :],
        dists=torch.zeros_like(fragments.zbuf)[..., None],
    )


def pytorch3d_meshes(verts, faces, textures):
    """PyTorch3D meshes with the PyTorch3D textures of the same sampling conventions as ours."""
    from pytorch3d.renderer import TexturesUV as P3DTexturesUV
    from pytorch3d.renderer import TexturesVertex as P3DTexturesVertex
    from pytorch3d.structures import Meshes

    batch = verts.shape[0]
    if isinstance(textures, TexturesUV):
        p3d_textures = P3DTexturesUV(
            maps=textures.maps_for(batch),
            faces_uvs=textures.faces_uvs.expand(batch, -1, -1),
            verts_uvs=textures.verts_uvs.expand(batch, -1, -1),
        )
    else:
        p3d_textures = P3DTexturesVertex(verts_features=textures.colors)
    return Meshes(verts, faces.expand(batch, -1, -1), textures=p3d_textures)


def pytorch3d_shade(shading, fragments, verts, faces, textures, light, background):
    """PyTorch3D's shading of our fragments: [B, H, W, 3].

    "phong": the reference's ``HardPhongShader`` with the lights and materials that
    ``DirectionalLight`` stands for, seen from a camera at the origin (verts in the camera frame). "sh" and "albedo": PyTorch3D's texture sampling, vertex
    normals and barycentric interpolation, then the SH sum (checked against a naive sum in
    test_render_shading.py), then PyTorch3D's hard blend.
    """
    from pytorch3d.ops import interpolate_face_attributes
    from pytorch3d.renderer import BlendParams, DirectionalLights, HardPhongShader, Materials, PerspectiveCameras
    from pytorch3d.renderer.blending import hard_rgb_blend

    meshes = pytorch3d_meshes(verts, faces, textures)
    p3d_fragments = pytorch3d_fragments(fragments, faces.shape[0])
    blend = BlendParams(background_color=tuple(background))
    if shading == "phong":
        ones = torch.ones_like(light.color)
        shader = HardPhongShader(
            cameras=PerspectiveCameras(R=torch.eye(3).expand(len(verts), 3, 3), T=torch.zeros(len(verts), 3)),
            lights=DirectionalLights(
                ambient_color=light.ambient * ones,
                diffuse_color=light.color,
                specular_color=light.specular_color * ones,
                direction=light.direction,
            ),
            materials=Materials(
                ambient_color=ones,
                diffuse_color=light.material_diffuse * ones,
                specular_color=light.material_specular * ones,
                shininess=light.shininess,
            ),
            blend_params=blend,
        )
        return shader(p3d_fragments, meshes)[..., :3]
    colors = meshes.sample_textures(p3d_fragments)
    if shading == "sh":
        normals = interpolate_face_attributes(
            p3d_fragments.pix_to_face, p3d_fragments.bary_coords, meshes.verts_normals_packed()[meshes.faces_packed()]
        )
        colors = sh_shading(colors, F.normalize(normals, dim=-1, eps=1e-6), light)
    return hard_rgb_blend(colors, p3d_fragments, blend)[..., :3]


SHADER_CASES = {
    "phong": lambda batch: light_for(batch),
    "sh": lambda batch: SHLight(
        SHLight.white(batch).coeffs + 0.3 * torch.randn(batch, 9, 3, generator=torch.Generator().manual_seed(6))
    ),
    "albedo": lambda batch: None,
}


def leaves_of(light) -> tuple[list[torch.Tensor], object]:
    """The light's tensors, as leaves that require gradients, and the light made of them."""
    if light is None:
        return [], None
    if isinstance(light, SHLight):
        coeffs = light.coeffs.clone().requires_grad_(True)
        return [coeffs], SHLight(coeffs)
    color, direction = (x.clone().requires_grad_(True) for x in (light.color, light.direction))
    return [color, direction], DirectionalLight(color, direction)


@pytest.mark.parametrize("texture_kind", ["uv", "vertex"])
@pytest.mark.parametrize("shading", sorted(SHADER_CASES))
@pytest.mark.parametrize("backend", BACKENDS.names())
def test_shader_matches_pytorch3d_on_the_same_fragments(backend, shading, texture_kind):
    """Whatever rasterized, the renderer's image and its gradients (vertices, texture, light)
    equal PyTorch3D's shading of the same fragments, at every pixel, edges included."""
    verts, faces, K, textures = hand_sized_batch(2, num_rings=10, num_around=16, seed=8)
    K = scale_intrinsics(K, 0.75)
    v = verts.clone().requires_grad_(True)
    if texture_kind == "uv":
        albedo = textures.maps.clone().requires_grad_(True)
        tex = TexturesUV(albedo, textures.verts_uvs, textures.faces_uvs)
    else:
        albedo = torch.sigmoid(verts * 40.0).requires_grad_(True)
        tex = TexturesVertex(albedo)
    light_leaves, light = leaves_of(SHADER_CASES[shading](2))
    background = (1.0, 0.5, 0.0)
    out = Renderer(48, 2, backend=backend, shading=shading, background=background).render(v, faces, K, tex, light)
    theirs = pytorch3d_shade(shading, out.fragments, v, faces, tex, light, background)
    theirs = F.avg_pool2d(theirs.permute(0, 3, 1, 2), 2)
    assert int((out.fragments.pix_to_face >= 0).sum()) > 2000
    assert_close(out.rgb, theirs, atol=2e-6)
    weights = torch.rand(2, 3, 48, 48, generator=torch.Generator().manual_seed(9))
    leaves = [v, albedo] + light_leaves
    ours_grads = torch.autograd.grad((out.rgb * weights).sum(), leaves, retain_graph=True)
    theirs_grads = torch.autograd.grad((theirs * weights).sum(), leaves)
    for ours_grad, theirs_grad in zip(ours_grads, theirs_grads):
        assert float(theirs_grad.abs().max()) > 0
        # float32 sums over thousands of pixels: compare at 1e-5 of the gradient's scale.
        assert_close(ours_grad, theirs_grad, atol=1e-5 * float(theirs_grad.abs().max()))
