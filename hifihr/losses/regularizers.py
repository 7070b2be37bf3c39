"""Priors on the regressed parameters: pose, shape, texture and light.

The PCA coefficients are normalised (unit variance under the model's prior), so a squared
penalty pulls them towards the mean hand, pose and texture.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import torch
from torch import Tensor

from hifihr.losses.prediction import Prediction
from hifihr.losses.registry import register_loss
from hifihr.render.lights import SH_Y00, sh_basis

#: Number of leading pose parameters that are the root (global) axis-angle rotation.
ROOT_ROTATION_DIMS = 3

#: Directions on which SH irradiance must not be negative: a Fibonacci sphere of this many points.
NUM_IRRADIANCE_DIRECTIONS = 64


@register_loss("mpose", weight=1e-5, prediction=("pose_params",))
def mpose(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """Mean square of the pose PCA coefficients, pose_params[:, 3:] (the root rotation is free)."""
    return pred.pose_params[:, ROOT_ROTATION_DIMS:].pow(2).mean()


@register_loss("mshape", weight=1e-2, prediction=("shape_params",))
def mshape(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """Mean square of the shape coefficients (pulls towards the mean shape)."""
    return pred.shape_params.pow(2).mean()


@register_loss("mtex", weight=5e-3, prediction=("texture_params",))
def mtex(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """Mean square of the texture coefficients (pulls towards the mean texture)."""
    return pred.texture_params.pow(2).mean()


def fibonacci_sphere(count: int, dtype: torch.dtype = torch.float32, device=None) -> Tensor:
    """``count`` near-uniform unit directions [count, 3] (golden-angle spiral from z = 1 to z = -1)."""
    i = torch.arange(count, dtype=dtype, device=device) + 0.5
    z = 1.0 - 2.0 * i / count
    radius = (1.0 - z * z).sqrt()
    phi = i * math.pi * (3.0 - math.sqrt(5.0))
    return torch.stack([radius * phi.cos(), radius * phi.sin(), z], dim=-1)


def sh_light_prior(coeffs: Tensor) -> Tensor:
    """Prior on SH light [B, K, 3] (K = 9 or 16): closeness to neutral white plus non-negative irradiance.

    ``mean_{b,k,c} (coeffs - white)^2 + mean_{b,n,c} relu(-E_bc(d_n))^2`` where white has
    c_0 = 1 / Y_00 for every channel and 0 elsewhere (shading 1 everywhere), and
    ``E(d) = sum_k coeffs_k Y_k(d)`` is the shading at :data:`NUM_IRRADIANCE_DIRECTIONS`
    directions of a Fibonacci sphere.
    """
    white = torch.zeros_like(coeffs)
    white[:, 0] = 1.0 / SH_Y00
    directions = fibonacci_sphere(NUM_IRRADIANCE_DIRECTIONS, coeffs.dtype, coeffs.device)
    irradiance = torch.einsum("nk,bkc->bnc", sh_basis(directions, coeffs.shape[1]), coeffs)
    return (coeffs - white).pow(2).mean() + torch.relu(-irradiance).pow(2).mean()


def directional_light_prior(light: Tensor) -> Tensor:
    """Prior on the reference's directional light [B, 6] (colour, direction): white, non-negative colour.

    ``mean_{b,c} (colour - 1)^2 + mean_{b,c} relu(-colour)^2``; the direction is free.
    """
    colour = light[:, :3]
    return (colour - 1.0).pow(2).mean() + torch.relu(-colour).pow(2).mean()


#: Light prior by ``Prediction.light_type``.
LIGHT_PRIORS: dict[str, Callable[[Tensor], Tensor]] = {
    "sh": sh_light_prior,
    "sh16": sh_light_prior,
    "directional": directional_light_prior,
}


@register_loss("light_reg", weight=1e-3, prediction=("light",))
def light_reg(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """Light prior: neutral white light and no negative light (see :data:`LIGHT_PRIORS`)."""
    if pred.light_type not in LIGHT_PRIORS:
        raise ValueError(f"light_reg: no prior for light type {pred.light_type!r}; known: {', '.join(sorted(LIGHT_PRIORS))}")
    return LIGHT_PRIORS[pred.light_type](pred.light)
