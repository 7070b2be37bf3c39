"""Illumination parameters: spherical harmonics and the reference's directional Phong light.

All directions and normals are in the OpenCV camera frame (x right, y down, z forward), with the
camera centre at the origin.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from hifihr.render.camera import check_shape

#: Y_00 of the orthonormal real SH basis, 1 / (2 sqrt(pi)).
SH_Y00 = 0.5 / math.sqrt(math.pi)
_C1 = math.sqrt(3.0 / (4.0 * math.pi))  # 0.488603
_C2 = 0.5 * math.sqrt(15.0 / math.pi)  # 1.092548
_C3 = 0.25 * math.sqrt(5.0 / math.pi)  # 0.315392
_C4 = 0.25 * math.sqrt(15.0 / math.pi)  # 0.546274
_C5 = 0.25 * math.sqrt(35.0 / (2.0 * math.pi))  # 0.590044
_C6 = 0.5 * math.sqrt(105.0 / math.pi)  # 2.890611
_C7 = 0.25 * math.sqrt(21.0 / (2.0 * math.pi))  # 0.457046
_C8 = 0.25 * math.sqrt(7.0 / math.pi)  # 0.373176
_C9 = 0.25 * math.sqrt(105.0 / math.pi)  # 1.445306

#: Number of SH coefficients per colour channel that ``sh_basis`` supports (bands 0-2, 0-3).
SH_SIZES = (9, 16)
#: Indices of the ``sh_basis`` functions that are odd in x (x, xy, xz, xyz, x(5z² − 1),
#: x(x² − 3y²)): their coefficients change sign when the scene is mirrored left-right.
SH_ODD_IN_X = (3, 4, 7, 10, 13, 15)


def sh_basis(normals: Tensor, num_coeffs: int = 9) -> Tensor:
    """Orthonormal real spherical harmonics evaluated at unit directions.

    With n = (x, y, z) in the OpenCV camera frame, the order and constants are
    (index: function):

    * band 0 — 0: 0.282095
    * band 1 — 1: 0.488603·y, 2: 0.488603·z, 3: 0.488603·x
    * band 2 — 4: 1.092548·xy, 5: 1.092548·yz, 6: 0.315392·(3z² − 1), 7: 1.092548·xz,
      8: 0.546274·(x² − y²)
    * band 3 — 9: 0.590044·y(3x² − y²), 10: 2.890611·xyz, 11: 0.457046·y(5z² − 1),
      12: 0.373176·(5z³ − 3z), 13: 0.457046·x(5z² − 1), 14: 1.445306·z(x² − y²),
      15: 0.590044·x(x² − 3y²)

    i.e. Y_lm for m = −l..l, orthonormal on the unit sphere (∫ Y_i Y_j dω = δ_ij). A light given
    in a frame with other axes (e.g. y up, z towards the viewer) maps onto this one by a
    rotation of the coefficients within each band.

    Args:
        normals: [..., 3] unit vectors.
        num_coeffs: 9 (bands 0-2) or 16 (bands 0-3).

    Returns:
        [..., num_coeffs].
    """
    if num_coeffs not in SH_SIZES:
        raise ValueError(f"num_coeffs: expected one of {SH_SIZES}, got {num_coeffs}")
    x, y, z = normals.unbind(-1)
    basis = [
        torch.full_like(x, SH_Y00),
        _C1 * y,
        _C1 * z,
        _C1 * x,
        _C2 * x * y,
        _C2 * y * z,
        _C3 * (3.0 * z * z - 1.0),
        _C2 * x * z,
        _C4 * (x * x - y * y),
    ]
    if num_coeffs == 16:
        basis += [
            _C5 * y * (3.0 * x * x - y * y),
            _C6 * x * y * z,
            _C7 * y * (5.0 * z * z - 1.0),
            _C8 * z * (5.0 * z * z - 3.0),
            _C7 * x * (5.0 * z * z - 1.0),
            _C9 * z * (x * x - y * y),
            _C5 * x * (x * x - 3.0 * y * y),
        ]
    return torch.stack(basis, dim=-1)


@dataclass(frozen=True)
class SHLight:
    """Spherical-harmonics (Lambertian) illumination: shading(n) = sum_k coeffs[k] · Y_k(n).

    The rendered colour is albedo ⊙ shading, with n the interpolated, normalised vertex normal in
    the OpenCV camera frame and Y_k as in ``sh_basis``.

    Attributes:
        coeffs: [B, 9, 3] or [B, 16, 3] coefficients per basis function and RGB channel.
    """

    coeffs: Tensor

    def __post_init__(self) -> None:
        check_shape("SHLight.coeffs", self.coeffs, ("B", "K", 3))
        if self.coeffs.shape[1] not in SH_SIZES:
            raise ValueError(
                f"SHLight.coeffs: expected [B, 9, 3] or [B, 16, 3], got {tuple(self.coeffs.shape)}"
            )

    @classmethod
    def white(
        cls,
        batch: int,
        num_coeffs: int = 9,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> SHLight:
        """Neutral light: c_0 = 1 / Y_00 for every channel, the rest 0, so shading is 1 everywhere."""
        coeffs = torch.zeros(batch, num_coeffs, 3, device=device, dtype=dtype)
        coeffs[:, 0] = 1.0 / SH_Y00
        return cls(coeffs)

    def mirrored_x(self) -> SHLight:
        """The light of the scene mirrored across the camera's x = 0 plane: its shading of a
        normal (-x, y, z) is this light's shading of (x, y, z)."""
        sign = torch.ones(self.coeffs.shape[1], dtype=self.coeffs.dtype, device=self.coeffs.device)
        sign[[i for i in SH_ODD_IN_X if i < self.coeffs.shape[1]]] = -1.0
        return SHLight(self.coeffs * sign[:, None])


@dataclass(frozen=True)
class DirectionalLight:
    """The reference's light: one directional light, ambient term and Phong specular.

    Colour at a pixel with albedo a, unit normal n, unit direction d = direction / |direction|,
    view direction v = -p / |p| (p the surface point, camera at the origin) and reflection
    r = -d + 2 (n·d) n:

        rgb = (ambient + material_diffuse · color · max(0, n·d)) ⊙ a
              + material_specular · specular_color · [n·d > 0] · max(0, v·r)^shininess

    ``direction`` points from the surface **towards** the light (as PyTorch3D's
    ``DirectionalLights.direction``), in the OpenCV camera frame: (0, 0, -1) lights the surfaces
    that face the camera. The reference ran PyTorch3D with R = I, T = 0 and a negative focal
    length, so its world frame is the OpenCV camera frame: a direction it passed to PyTorch3D is
    the same vector here.

    Attributes:
        color: [B, 3] diffuse colour of the light (the reference's Hardtanh output, in [-1, 1]).
        direction: [B, 3] direction towards the light, any length (normalised with eps 1e-6).
        ambient: ambient light colour (PyTorch3D default 0.5; material ambient 1).
        specular_color: specular light colour (PyTorch3D default 0.2).
        material_diffuse: 0.8 in the reference.
        material_specular: 0.2 in the reference.
        shininess: 30 in the reference.
    """

    color: Tensor
    direction: Tensor
    ambient: float = 0.5
    specular_color: float = 0.2
    material_diffuse: float = 0.8
    material_specular: float = 0.2
    shininess: float = 30.0

    def __post_init__(self) -> None:
        check_shape("DirectionalLight.color", self.color, ("B", 3))
        check_shape("DirectionalLight.direction", self.direction, (self.color.shape[0], 3))

    @classmethod
    def from_camera(
        cls, batch: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
    ) -> DirectionalLight:
        """White light (colour 1) shining along the optical axis from the camera side."""
        color = torch.ones(batch, 3, device=device, dtype=dtype)
        direction = torch.tensor([0.0, 0.0, -1.0], device=device, dtype=dtype).expand(batch, 3)
        return cls(color, direction)

    def mirrored_x(self) -> DirectionalLight:
        """The light of the scene mirrored across the camera's x = 0 plane: the direction's x
        changes sign, everything else stays."""
        direction = self.direction * self.direction.new_tensor([-1.0, 1.0, 1.0])
        return dataclasses.replace(self, direction=direction)
