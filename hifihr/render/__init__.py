"""Differentiable mesh renderer in plain PyTorch, with PyTorch3D as an optional backend.

The pipeline is rasterize -> interpolate -> texture -> shade -> blend -> pool, and each step is a
function that can be called alone; a backend only rasterizes, and ``shade_fragments`` does
interpolate -> texture -> shade -> blend for every backend. Conventions: vertices in metres in
the OpenCV camera frame (x right, y down, z forward); K in pixels of the output image with pixel
(i, j) centred at (i + 0.5, j + 0.5); images [B, 3, H, W].
"""

from hifihr.render.backends import BACKENDS, RenderBackend, create_backend
from hifihr.render.camera import project_points
from hifihr.render.interpolate import interpolate_face_attributes, vertex_normals
from hifihr.render.lights import DirectionalLight, SHLight, sh_basis
from hifihr.render.rasterize import Fragments, rasterize
from hifihr.render.renderer import Renderer, RenderOutput
from hifihr.render.shading import SHADINGS, Shading, phong_shading, sh_shading, shade_fragments
from hifihr.render.silhouette import soft_silhouette
from hifihr.render.textures import TexturesUV, TexturesVertex, sample_uv_map

__all__ = [
    "BACKENDS",
    "DirectionalLight",
    "Fragments",
    "RenderBackend",
    "RenderOutput",
    "Renderer",
    "SHADINGS",
    "SHLight",
    "Shading",
    "TexturesUV",
    "TexturesVertex",
    "create_backend",
    "interpolate_face_attributes",
    "phong_shading",
    "project_points",
    "rasterize",
    "sample_uv_map",
    "shade_fragments",
    "sh_basis",
    "sh_shading",
    "soft_silhouette",
    "vertex_normals",
]
