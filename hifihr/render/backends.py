"""Renderer backends: a registry by name, and the built-in pure-PyTorch backend.

A backend turns meshes in the OpenCV camera frame into fragments, colours and soft silhouettes
at one resolution; ``Renderer`` does the rest (camera placement, supersampling, pooling). Every
backend has the same three methods:

* ``rasterize(verts_cam [B,V,3], faces [F,3], K [B,3,3], image_size) -> Fragments``
* ``shade(fragments, verts_cam, faces, K, textures, shading, light, background) -> [B,H,W,3]``
* ``soft_silhouette(verts_cam, faces, K, image_size, blur_radius_px) -> [B,H,W]``

``K`` is in pixels of the image being rendered; ``background`` is a [3] tensor.
"""

from __future__ import annotations

from typing import Callable, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from hifihr.render.camera import project_points
from hifihr.render.interpolate import PixelBatch, vertex_normals
from hifihr.render.rasterize import DEFAULT_Z_NEAR, Fragments, rasterize
from hifihr.render.shading import get_shading
from hifihr.render.silhouette import soft_silhouette


class RenderBackend(Protocol):
    """What ``Renderer`` needs from a backend (see the module docstring for shapes)."""

    def rasterize(self, verts_cam: Tensor, faces: Tensor, K: Tensor, image_size: tuple[int, int]) -> Fragments: ...

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
    ) -> Tensor: ...

    def soft_silhouette(
        self, verts_cam: Tensor, faces: Tensor, K: Tensor, image_size: tuple[int, int], blur_radius_px: float
    ) -> Tensor: ...


_BACKENDS: dict[str, Callable[[], RenderBackend]] = {}


def register_backend(name: str) -> Callable:
    """Decorator: register a zero-argument backend factory under ``name``."""

    def add(factory: Callable[[], RenderBackend]) -> Callable[[], RenderBackend]:
        if name in _BACKENDS:
            raise ValueError(f"renderer backend {name!r} is already registered")
        _BACKENDS[name] = factory
        return factory

    return add


def list_backends() -> list[str]:
    """Names of the registered renderer backends (whether or not their packages are installed)."""
    return sorted(_BACKENDS)


def create_backend(name: str) -> RenderBackend:
    """Instantiate the backend registered under ``name``.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        ImportError: the backend's package is not installed (the message says how to install it).
    """
    if name not in _BACKENDS:
        raise ValueError(f"renderer backend: expected one of {list_backends()}, got {name!r}")
    return _BACKENDS[name]()


@register_backend("torch")
class TorchBackend:
    """The built-in renderer: plain PyTorch, CPU or CUDA, any dtype the inputs have."""

    def rasterize(self, verts_cam: Tensor, faces: Tensor, K: Tensor, image_size: tuple[int, int]) -> Fragments:
        screen = project_points(verts_cam, K, min_depth=DEFAULT_Z_NEAR)
        return rasterize(screen, faces, image_size)

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
        pixels = PixelBatch.from_fragments(fragments)
        albedo = textures.sample(pixels, faces)
        normals = vertex_normals(verts_cam, faces)
        geometry = pixels.interpolate(torch.cat([normals, verts_cam], dim=-1)[:, faces])
        unit_normals = F.normalize(geometry[..., :3], dim=-1, eps=1e-6)
        colors = get_shading(shading).shade(albedo, unit_normals, geometry[..., 3:], light)
        return pixels.to_image(colors, background)

    def soft_silhouette(
        self, verts_cam: Tensor, faces: Tensor, K: Tensor, image_size: tuple[int, int], blur_radius_px: float
    ) -> Tensor:
        screen = project_points(verts_cam, K, min_depth=DEFAULT_Z_NEAR)
        return soft_silhouette(screen, faces, image_size, blur_radius_px)


@register_backend("pytorch3d")
def _pytorch3d_backend() -> RenderBackend:
    try:
        from hifihr.render.pytorch3d_backend import PyTorch3DBackend
    except ImportError as error:
        raise ImportError(
            "renderer backend 'pytorch3d' needs PyTorch3D, which is not installed: "
            "pip install -r requirements-pytorch3d.txt (package easypytorch3d)"
        ) from error
    return PyTorch3DBackend()
