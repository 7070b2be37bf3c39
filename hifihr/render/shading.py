"""Shading models (pure functions) and their registry, and the shader that colours fragments.

Every shading function takes per-pixel tensors in the OpenCV camera frame, [B, ..., 3] with any
pixel layout after the batch dimension (an image [B, H, W, 3] or packed pixels [B, N, 3]):
``albedo``, ``normals`` (unit), ``points`` (metres), and a light with [B, ...] parameters, and
returns colours of the same shape (not clamped).

``shade_fragments`` is the one shader of the renderer, whatever backend rasterized: it
interpolates, textures, shades and blends the covered pixels of a ``Fragments``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from hifihr.registry import Registry
from hifihr.render.interpolate import PixelBatch, vertex_normals
from hifihr.render.lights import DirectionalLight, SHLight, sh_basis
from hifihr.render.rasterize import Fragments


def sh_shading(albedo: Tensor, normals: Tensor, light: SHLight) -> Tensor:
    """Lambertian SH shading: albedo ⊙ sum_k coeffs[b, k] Y_k(n).

    Args:
        albedo: [B, ..., 3].
        normals: [B, ..., 3] unit normals, OpenCV camera frame.
        light: SHLight with coeffs [B, K, 3], K = 9 or 16.

    Returns:
        [B, ..., 3].
    """
    basis = sh_basis(normals, light.coeffs.shape[1])
    irradiance = torch.einsum("b...k,bkc->b...c", basis, light.coeffs)
    return albedo * irradiance


def phong_shading(albedo: Tensor, normals: Tensor, points: Tensor, light: DirectionalLight) -> Tensor:
    """Hard Phong shading with one directional light (formula in ``DirectionalLight``), the
    colour of PyTorch3D's ``HardPhongShader``.

    Args:
        albedo: [B, ..., 3].
        normals: [B, ..., 3] unit normals, OpenCV camera frame.
        points: [B, ..., 3] surface points in metres, camera frame (camera at the origin).
        light: DirectionalLight with [B, 3] colour and direction.

    Returns:
        [B, ..., 3].
    """
    per_pixel = (albedo.shape[0],) + (1,) * (albedo.dim() - 2) + (3,)
    direction = F.normalize(light.direction, dim=-1, eps=1e-6).view(per_pixel)
    cos_light = (normals * direction).sum(-1, keepdim=True)
    diffuse = light.material_diffuse * light.color.view(per_pixel) * cos_light.clamp_min(0.0)
    view = F.normalize(-points, dim=-1, eps=1e-6)
    reflected = 2.0 * cos_light * normals - direction
    cos_view = (view * reflected).sum(-1, keepdim=True).clamp_min(0.0) * (cos_light > 0)
    specular = light.material_specular * light.specular_color * cos_view.pow(light.shininess)
    return (light.ambient + diffuse) * albedo + specular


@dataclass(frozen=True)
class Shading:
    """A registered shading model.

    Attributes:
        shade: fn(albedo, normals, points, light) -> colours, all [B, ..., 3].
        light_type: the light class it expects, or None when it uses no light.
        default_light: fn(batch, device, dtype) -> light, used when ``render`` gets light=None.
    """

    shade: Callable[[Tensor, Tensor, Tensor, object], Tensor]
    light_type: type | None
    default_light: Callable[[int, torch.device, torch.dtype], object] | None


#: Shading models by name (``render.shading``).
SHADINGS: Registry[Shading] = Registry("shading")
SHADINGS.register(
    "sh",
    Shading(
        shade=lambda albedo, normals, points, light: sh_shading(albedo, normals, light),
        light_type=SHLight,
        default_light=lambda batch, device, dtype: SHLight.white(batch, device=device, dtype=dtype),
    ),
    description="spherical-harmonics Lambertian (SHLight; white by default)",
)
SHADINGS.register(
    "phong",
    Shading(shade=phong_shading, light_type=DirectionalLight, default_light=DirectionalLight.from_camera),
    description="hard Phong with one DirectionalLight (PyTorch3D's HardPhongShader; light from the camera by default)",
)
SHADINGS.register(
    "albedo",
    Shading(shade=lambda albedo, normals, points, light: albedo, light_type=None, default_light=None),
    description="the texture colour, no light",
)


def resolve_light(shading: str, light: object, batch: int, device: torch.device, dtype: torch.dtype) -> object:
    """The light to shade with: ``light`` checked against the shading model, or its default.

    Raises:
        TypeError: ``light`` is not of the class the shading model expects.
    """
    model = SHADINGS.get(shading)
    if model.light_type is None:
        if light is not None:
            raise TypeError(f"shading {shading!r} uses no light, got {type(light).__name__}")
        return None
    if light is None:
        return model.default_light(batch, device, dtype)
    if not isinstance(light, model.light_type):
        raise TypeError(
            f"shading {shading!r}: expected light of type {model.light_type.__name__}, "
            f"got {type(light).__name__}"
        )
    return light


def shade_fragments(
    fragments: Fragments,
    verts_cam: Tensor,
    faces: Tensor,
    textures,
    shading: str,
    light: object,
    background: Tensor,
) -> Tensor:
    """Colour every pixel of rasterized meshes: interpolate, texture, shade, blend.

    Only the covered pixels are shaded (``PixelBatch``). Each gets the albedo of ``textures``,
    the unit normal interpolated from the area-weighted vertex normals (eps 1e-6) and the
    surface point interpolated from the vertices, both with the fragments' perspective-correct
    barycentrics; the shading model ``shading`` turns them into a colour. Background pixels are
    exactly ``background``.

    Args:
        fragments: rasterizer output, [B, H, W] fields (any backend).
        verts_cam: [B, V, 3] vertices in metres, OpenCV camera frame (camera at the origin).
        faces: [F, 3] int64 vertex indices, shared by the batch (the ones rasterized).
        textures: ``TexturesUV`` or ``TexturesVertex`` with batch B.
        shading: a name of :data:`SHADINGS`.
        light: the light of that shading model (see ``resolve_light``), or None for "albedo".
        background: [3] RGB background colour.

    Returns:
        [B, H, W, 3] colours, not clamped; differentiable w.r.t. the vertices (through the
        barycentrics, normals and points), the textures and the light.
    """
    pixels = PixelBatch.from_fragments(fragments)
    albedo = textures.sample(pixels, faces)
    normals = vertex_normals(verts_cam, faces)
    geometry = pixels.interpolate(torch.cat([normals, verts_cam], dim=-1)[:, faces])
    unit_normals = F.normalize(geometry[..., :3], dim=-1, eps=1e-6)
    colors = SHADINGS.get(shading).shade(albedo, unit_normals, geometry[..., 3:], light)
    return pixels.to_image(colors, background)
