"""The PyTorch3D backend: the reference's renderer, behind the same interface as ``TorchBackend``.

Importing this module needs PyTorch3D (``pip install -r requirements-pytorch3d.txt``).

Camera mapping. The world frame handed to PyTorch3D is our OpenCV camera frame (R = I, T = 0),
as in the reference. PyTorch3D's screen-space ``PerspectiveCameras(in_ndc=False)`` maps a camera
point to x_s = f X / Z + p and its image columns run against x_s (it looks along +Z with +X to
the left), so ``focal_length = -(fx, fy)`` and ``principal_point = (W - cx, H - cy)`` put the
OpenCV point at u = fx X / Z + cx with pixel centres at i + 0.5, exactly our convention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pytorch3d.ops import interpolate_face_attributes as p3d_interpolate
from pytorch3d.renderer import (
    BlendParams,
    DirectionalLights,
    HardPhongShader,
    Materials,
    MeshRasterizer,
    PerspectiveCameras,
    RasterizationSettings,
    SoftSilhouetteShader,
)
from pytorch3d.renderer import TexturesUV as P3DTexturesUV
from pytorch3d.renderer import TexturesVertex as P3DTexturesVertex
from pytorch3d.renderer.mesh.rasterizer import Fragments as P3DFragments
from pytorch3d.structures import Meshes
from torch import Tensor

from hifihr.render.lights import DirectionalLight
from hifihr.render.rasterize import Fragments
from hifihr.render.shading import get_shading, hard_blend
from hifihr.render.silhouette import sigma_from_blur_radius
from hifihr.render.textures import TexturesUV, TexturesVertex

#: Faces kept per pixel for the soft silhouette: PyTorch3D keeps only the K nearest in depth,
#: while the torch backend aggregates every face within the blur radius; 100 covers the faces
#: that meet around a vertex of a hand mesh, so the two agree.
SOFT_FACES_PER_PIXEL = 100


def _cameras(K: Tensor, image_size: tuple[int, int]) -> PerspectiveCameras:
    """PyTorch3D cameras equivalent to OpenCV intrinsics K [B, 3, 3] (no skew) on an H x W image."""
    if bool((K[:, 0, 1] != 0).any()):
        raise ValueError(f"K: the pytorch3d backend expects zero skew K[:, 0, 1], got {K[:, 0, 1].tolist()}")
    height, width = image_size
    size = K.new_tensor([width, height])
    return PerspectiveCameras(
        focal_length=-torch.stack([K[:, 0, 0], K[:, 1, 1]], dim=1),
        principal_point=size - K[:, :2, 2],
        in_ndc=False,
        image_size=[(height, width)] * K.shape[0],
        device=K.device,
    )


def _meshes(verts_cam: Tensor, faces: Tensor, textures=None) -> Meshes:
    batch = verts_cam.shape[0]
    return Meshes(verts_cam, faces.expand(batch, -1, -1), textures=textures)


def _textures(textures, batch: int):
    """Our textures as the PyTorch3D textures with the same sampling conventions."""
    if isinstance(textures, TexturesUV):
        return P3DTexturesUV(
            maps=textures.maps_for(batch),
            faces_uvs=textures.faces_uvs.expand(batch, -1, -1),
            verts_uvs=textures.verts_uvs.expand(batch, -1, -1),
        )
    if isinstance(textures, TexturesVertex):
        return P3DTexturesVertex(verts_features=textures.colors)
    raise TypeError(f"textures: expected TexturesUV or TexturesVertex, got {type(textures).__name__}")


def _to_pytorch3d_fragments(fragments: Fragments, num_faces: int) -> P3DFragments:
    """Our one-face-per-pixel fragments in PyTorch3D's layout (packed face ids, K = 1)."""
    batch = fragments.pix_to_face.shape[0]
    offsets = torch.arange(batch, device=fragments.pix_to_face.device)[:, None, None] * num_faces
    packed = torch.where(fragments.pix_to_face >= 0, fragments.pix_to_face + offsets, -1)
    return P3DFragments(
        pix_to_face=packed[..., None],
        zbuf=fragments.zbuf[..., None],
        bary_coords=fragments.bary[..., None, :],
        dists=torch.zeros_like(fragments.zbuf)[..., None],
    )


class PyTorch3DBackend:
    """PyTorch3D ``MeshRasterizer`` + ``HardPhongShader`` / ``SoftSilhouetteShader`` (float32)."""

    def rasterize(self, verts_cam: Tensor, faces: Tensor, K: Tensor, image_size: tuple[int, int]) -> Fragments:
        settings = RasterizationSettings(image_size=image_size, blur_radius=0.0, faces_per_pixel=1)
        raw = MeshRasterizer(cameras=_cameras(K, image_size), raster_settings=settings)(_meshes(verts_cam, faces))
        covered = raw.pix_to_face[..., 0] >= 0
        return Fragments(
            pix_to_face=torch.where(covered, raw.pix_to_face[..., 0] % faces.shape[0], -1),
            bary=torch.where(covered[..., None], raw.bary_coords[..., 0, :], 0.0),
            zbuf=raw.zbuf[..., 0],
        )

    def shade(
        self,
        fragments: Fragments,
        verts_cam: Tensor,
        faces: Tensor,
        K: Tensor,
        textures,
        shading: str,
        light,
        background: Tensor,
    ) -> Tensor:
        batch, height, width = fragments.pix_to_face.shape
        meshes = _meshes(verts_cam, faces, _textures(textures, batch))
        p3d_fragments = _to_pytorch3d_fragments(fragments, faces.shape[0])
        if shading == "phong":
            return self._phong(p3d_fragments, meshes, K, (height, width), light, background)
        albedo = meshes.sample_textures(p3d_fragments)[..., 0, :]
        faces_packed = meshes.faces_packed()
        normals, points = (
            p3d_interpolate(p3d_fragments.pix_to_face, p3d_fragments.bary_coords, values[faces_packed])[..., 0, :]
            for values in (meshes.verts_normals_packed(), meshes.verts_packed())
        )
        unit_normals = F.normalize(normals, dim=-1, eps=1e-6)
        colors = get_shading(shading).shade(albedo, unit_normals, points, light)
        return hard_blend(colors, fragments.pix_to_face, background)

    @staticmethod
    def _phong(
        fragments: P3DFragments,
        meshes: Meshes,
        K: Tensor,
        image_size: tuple[int, int],
        light: DirectionalLight,
        background: Tensor,
    ) -> Tensor:
        ones = torch.ones_like(light.color)
        lights = DirectionalLights(
            ambient_color=light.ambient * ones,
            diffuse_color=light.color,
            specular_color=light.specular_color * ones,
            direction=light.direction,
            device=light.color.device,
        )
        materials = Materials(
            ambient_color=ones,
            diffuse_color=light.material_diffuse * ones,
            specular_color=light.material_specular * ones,
            shininess=light.shininess,
            device=light.color.device,
        )
        shader = HardPhongShader(
            device=light.color.device,
            cameras=_cameras(K, image_size),
            lights=lights,
            materials=materials,
            blend_params=BlendParams(background_color=tuple(background.tolist())),
        )
        return shader(fragments, meshes)[..., :3]

    def soft_silhouette(
        self, verts_cam: Tensor, faces: Tensor, K: Tensor, image_size: tuple[int, int], blur_radius_px: float
    ) -> Tensor:
        # PyTorch3D measures squared distances in NDC, where one pixel is 2 / min(H, W).
        ndc_per_px2 = (2.0 / min(image_size)) ** 2
        settings = RasterizationSettings(
            image_size=image_size,
            blur_radius=blur_radius_px**2 * ndc_per_px2,
            faces_per_pixel=SOFT_FACES_PER_PIXEL,
        )
        fragments = MeshRasterizer(cameras=_cameras(K, image_size), raster_settings=settings)(
            _meshes(verts_cam, faces)
        )
        shader = SoftSilhouetteShader(BlendParams(sigma=sigma_from_blur_radius(blur_radius_px) * ndc_per_px2))
        return shader(fragments, _meshes(verts_cam, faces))[..., 3]
