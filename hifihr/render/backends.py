"""Renderer backends: a registry by name, and the built-in pure-PyTorch backend.

A backend only rasterizes: it turns meshes in the OpenCV camera frame into fragments, and into
soft silhouettes when asked, at one resolution. ``Renderer`` does everything else once for every
backend (camera placement, interpolation, texturing, shading, blending, supersampling and
pooling), as PyTorch3D's ``MeshRenderer`` splits a rasterizer from a shader. Every backend has
the same two methods:

* ``rasterize(verts_cam [B,V,3], faces [F,3], K [B,3,3], image_size) -> Fragments``
* ``soft_silhouette(verts_cam, faces, K, image_size, blur_radius_px) -> [B,H,W]``

``K`` is in pixels of the image being rendered; ``image_size`` is (H, W).
"""

from __future__ import annotations

from typing import Callable, Protocol

from torch import Tensor

from hifihr.registry import Registry
from hifihr.render.camera import project_points
from hifihr.render.rasterize import DEFAULT_Z_NEAR, Fragments, rasterize
from hifihr.render.silhouette import soft_silhouette


class RenderBackend(Protocol):
    """What ``Renderer`` needs from a backend (see the module docstring for shapes)."""

    def rasterize(self, verts_cam: Tensor, faces: Tensor, K: Tensor, image_size: tuple[int, int]) -> Fragments: ...

    def soft_silhouette(
        self, verts_cam: Tensor, faces: Tensor, K: Tensor, image_size: tuple[int, int], blur_radius_px: float
    ) -> Tensor: ...


#: Zero-argument backend factories by name (registered whether or not their packages are installed).
BACKENDS: Registry[Callable[[], RenderBackend]] = Registry("renderer backend")


def create_backend(name: str) -> RenderBackend:
    """Instantiate the backend registered under ``name``.

    Raises:
        UnknownNameError: unknown name (the message lists the valid ones).
        ImportError: the backend's package is not installed (the message says how to install it).
    """
    return BACKENDS.get(name)()


@BACKENDS.register("torch")
class TorchBackend:
    """The built-in rasterizer and soft silhouette: plain PyTorch, CPU or CUDA, any dtype the inputs have."""

    def rasterize(self, verts_cam: Tensor, faces: Tensor, K: Tensor, image_size: tuple[int, int]) -> Fragments:
        screen = project_points(verts_cam, K, min_depth=DEFAULT_Z_NEAR)
        return rasterize(screen, faces, image_size)

    def soft_silhouette(
        self, verts_cam: Tensor, faces: Tensor, K: Tensor, image_size: tuple[int, int], blur_radius_px: float
    ) -> Tensor:
        screen = project_points(verts_cam, K, min_depth=DEFAULT_Z_NEAR)
        return soft_silhouette(screen, faces, image_size, blur_radius_px)


@BACKENDS.register("pytorch3d")
def _pytorch3d_backend() -> RenderBackend:
    """PyTorch3D's rasterizer and soft silhouette (optional package easypytorch3d)."""
    try:
        from hifihr.render.pytorch3d_backend import PyTorch3DBackend
    except ImportError as error:
        raise ImportError(
            "renderer backend 'pytorch3d' needs PyTorch3D, which is not installed: "
            "pip install -r requirements-pytorch3d.txt (package easypytorch3d)"
        ) from error
    return PyTorch3DBackend()
