"""The renderer: camera placement, a backend's rasterizer, the one shader, supersampling.

``Renderer.render`` places the mesh in the camera, lets the backend rasterize it at k times the
output resolution, shades the fragments with ``shade_fragments`` (the same for every backend),
average-pools by k and asks the backend for the soft silhouette when wanted.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from hifihr.render.backends import create_backend
from hifihr.render.camera import check_shape, scale_intrinsics, world_to_camera
from hifihr.render.rasterize import Fragments, check_faces
from hifihr.render.shading import SHADINGS, resolve_light, shade_fragments
from hifihr.render.textures import TexturesUV, TexturesVertex


@dataclass(frozen=True)
class RenderOutput:
    """A rendered batch.

    Attributes:
        rgb: [B, 3, H, W] colour, [0, 1]-ish but not clamped (Phong/SH can leave it), background
            pixels exactly the background colour; average of the k x k supersamples.
        alpha: [B, 1, H, W] hard coverage: the fraction of the k x k supersamples covered by the
            mesh (no gradient).
        soft_alpha: [B, 1, H, W] differentiable soft silhouette at the output resolution, or
            None when not asked for.
        fragments: rasterizer output at the supersampled resolution (k·H, k·W).
        colors: [B, k·H, k·W, 3] shaded colour of each supersample before pooling (background
            colour where nothing is drawn), differentiable like ``rgb``; what ``rgb`` averages.
        verts_cam: [B, V, 3] the vertices as rendered, metres, OpenCV camera frame (non-finite
            ones moved to the camera centre), differentiable.
        faces: [F, 3] int64 faces as rendered.
        K: [B, 3, 3] intrinsics of the output image (pixels), as given to ``render``.

    The last four let a loss revisit the visible surface (``hifihr.losses.uv_align``); they are
    references to tensors the render computed anyway.
    """

    rgb: Tensor
    alpha: Tensor
    soft_alpha: Tensor | None
    fragments: Fragments
    colors: Tensor | None = None
    verts_cam: Tensor | None = None
    faces: Tensor | None = None
    K: Tensor | None = None


class Renderer:
    """Render textured meshes given in metres, seen by an OpenCV pinhole camera.

    Args:
        image_size: output size, an int for a square image or (H, W), in pixels.
        supersample: k; the mesh is rendered at (k·H, k·W) with K scaled by diag(k, k, 1) and
            average-pooled by k (3 renders a 224 x 224 crop at 672 x 672).
        backend: a name of :data:`~hifihr.render.backends.BACKENDS`, the rasterizer: "torch" (built in) or
            "pytorch3d" (optional). Shading is the same for every backend.
        shading: a name of :data:`~hifihr.render.shading.SHADINGS`: "sh" (spherical-harmonics Lambertian, ``SHLight``),
            "phong" (hard Phong with a ``DirectionalLight``, the formula of PyTorch3D's
            ``HardPhongShader``) or "albedo" (texture colour only, no light).
        background: RGB background colour (the reference uses white).
        blur_radius_px: radius of the soft silhouette in output pixels (see
            ``hifihr.render.silhouette``).
    """

    def __init__(
        self,
        image_size: int | tuple[int, int],
        supersample: int = 3,
        backend: str = "torch",
        shading: str = "sh",
        background: tuple[float, float, float] = (1.0, 1.0, 1.0),
        blur_radius_px: float = 2.0,
    ) -> None:
        self.image_size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if len(self.image_size) != 2 or min(self.image_size) < 1:
            raise ValueError(f"image_size: expected a positive int or (H, W), got {image_size!r}")
        if not isinstance(supersample, int) or supersample < 1:
            raise ValueError(f"supersample: expected an int >= 1, got {supersample!r}")
        if len(background) != 3:
            raise ValueError(f"background: expected 3 values (RGB), got {background!r}")
        SHADINGS.get(shading)
        self.supersample = supersample
        self.backend_name = backend
        self.backend = create_backend(backend)
        self.shading = shading
        self.background = tuple(float(c) for c in background)
        self.blur_radius_px = blur_radius_px

    def __repr__(self) -> str:
        return (
            f"Renderer(image_size={self.image_size}, supersample={self.supersample}, "
            f"backend={self.backend_name!r}, shading={self.shading!r}, background={self.background}, "
            f"blur_radius_px={self.blur_radius_px})"
        )

    def render(
        self,
        verts: Tensor,
        faces: Tensor,
        K: Tensor,
        textures,
        light=None,
        R: Tensor | None = None,
        t: Tensor | None = None,
        soft_silhouette: bool = False,
    ) -> RenderOutput:
        """Render a batch of meshes that share one face list.

        Non-finite vertices are moved to the camera centre (so every face that uses them is
        culled, and they get zero gradient); faces with a corner at or behind the near plane
        (1e-4 m) and degenerate faces are culled. Other meshes of the batch are unaffected.

        Args:
            verts: [B, V, 3] vertices in metres, world frame (= the OpenCV camera frame when R
                and t are None).
            faces: [F, 3] int64 vertex indices, shared by the batch.
            K: [B, 3, 3] intrinsics in pixels of the output image (pixel (i, j) centred at
                (i + 0.5, j + 0.5)).
            textures: ``TexturesUV`` or ``TexturesVertex`` with batch B.
            light: ``SHLight`` for "sh", ``DirectionalLight`` for "phong", None for "albedo";
                None for "sh"/"phong" means ``SHLight.white`` / ``DirectionalLight.from_camera``.
            R: [B, 3, 3] rotation world -> camera, or None.
            t: [B, 3] translation world -> camera in metres, or None.
            soft_silhouette: also compute ``soft_alpha``.

        Returns:
            RenderOutput.
        """
        check_shape("verts", verts, ("B", "V", 3))
        batch, num_verts, _ = verts.shape
        check_shape("K", K, (batch, 3, 3))
        faces = check_faces(faces, num_verts)
        if not isinstance(textures, (TexturesUV, TexturesVertex)):
            raise TypeError(f"textures: expected TexturesUV or TexturesVertex, got {type(textures).__name__}")
        verts_cam = world_to_camera(verts, R, t)
        verts_cam = torch.where(torch.isfinite(verts_cam).all(-1, keepdim=True), verts_cam, 0.0)
        light = resolve_light(self.shading, light, batch, verts.device, verts.dtype)
        background = torch.tensor(self.background, dtype=verts.dtype, device=verts.device)

        k = self.supersample
        height, width = self.image_size
        render_K = scale_intrinsics(K, k)
        fragments = self.backend.rasterize(verts_cam, faces, render_K, (k * height, k * width))
        colors = shade_fragments(fragments, verts_cam, faces, textures, self.shading, light, background)
        rgb = F.avg_pool2d(colors.permute(0, 3, 1, 2), k)
        coverage = (fragments.pix_to_face >= 0).to(verts.dtype)[:, None]
        soft_alpha = None
        if soft_silhouette:
            soft = self.backend.soft_silhouette(verts_cam, faces, K, self.image_size, self.blur_radius_px)
            soft_alpha = soft[:, None]
        return RenderOutput(
            rgb=rgb,
            alpha=F.avg_pool2d(coverage, k),
            soft_alpha=soft_alpha,
            fragments=fragments,
            colors=colors,
            verts_cam=verts_cam,
            faces=faces,
            K=K,
        )
