"""The PyTorch3D backend: the reference's rasterizer, behind the same interface as ``TorchBackend``.

It rasterizes with PyTorch3D's ``MeshRasterizer`` and computes the soft silhouette with its
``SoftSilhouetteShader``; ``Renderer`` shades the fragments with the same shader as for every
backend (``hifihr.render.shading.shade_fragments``).

Importing this module needs PyTorch3D (``pip install -r requirements-pytorch3d.txt``).

Camera mapping. The world frame handed to PyTorch3D is our OpenCV camera frame (R = I, T = 0),
as in the reference. PyTorch3D's screen-space ``PerspectiveCameras(in_ndc=False)`` maps a camera
point to x_s = f X / Z + p and its image columns run against x_s (it looks along +Z with +X to
the left), so ``focal_length = -(fx, fy)`` and ``principal_point = (W - cx, H - cy)`` put the
OpenCV point at u = fx X / Z + cx with pixel centres at i + 0.5, exactly our convention.
"""

from __future__ import annotations

import torch
from pytorch3d.renderer import (
    BlendParams,
    MeshRasterizer,
    PerspectiveCameras,
    RasterizationSettings,
    SoftSilhouetteShader,
)
from pytorch3d.structures import Meshes
from torch import Tensor

from hifihr.render.rasterize import Fragments
from hifihr.render.silhouette import sigma_from_blur_radius

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


def _meshes(verts_cam: Tensor, faces: Tensor) -> Meshes:
    return Meshes(verts_cam, faces.expand(verts_cam.shape[0], -1, -1))


class PyTorch3DBackend:
    """PyTorch3D ``MeshRasterizer`` (fragments) and ``SoftSilhouetteShader`` (soft silhouette), float32."""

    def rasterize(self, verts_cam: Tensor, faces: Tensor, K: Tensor, image_size: tuple[int, int]) -> Fragments:
        settings = RasterizationSettings(image_size=image_size, blur_radius=0.0, faces_per_pixel=1)
        raw = MeshRasterizer(cameras=_cameras(K, image_size), raster_settings=settings)(_meshes(verts_cam, faces))
        covered = raw.pix_to_face[..., 0] >= 0
        return Fragments(
            pix_to_face=torch.where(covered, raw.pix_to_face[..., 0] % faces.shape[0], -1),
            bary=torch.where(covered[..., None], raw.bary_coords[..., 0, :], 0.0),
            zbuf=raw.zbuf[..., 0],
        )

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
