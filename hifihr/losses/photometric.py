"""Render-and-compare losses: colour, SSIM and silhouette terms.

Notation (all [B, C, H, W], values in [0, 1]): I the input crop, M the ground-truth hand mask,
R = ``pred.render.rgb`` the render composited over the background colour bg
(``pred.background``, white in the reference), a = ``pred.render.alpha`` the fraction of each
pixel the mesh covers, so ``R = a * hand + (1 - a) * bg``.

Every term compares the *hand on black*, ``R_hand = R - (1 - a) * bg = a * hand``, never R with
its white background:

* supervised terms (``texture``, ``mrgb``, ``ssim_tex``): ``R_hand`` against ``M * I``, the
  input masked by the ground-truth mask. Both sides are 0 off both masks.
* self-supervised terms (``*_self``): ``R_hand`` against ``a * I``, the input masked by the
  *same* rendered coverage, so both sides are 0 wherever the mesh is not drawn and a partly
  covered pixel is weighted by ``a`` on both sides.

Per-sample confidences t (``texture_con``, :func:`texture_confidence`) weight ``texture_self``
and ``mrgb_self`` as ``sum_b t_b^2 x_b / sum_b t_b^2``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from hifihr.data.registry import DATASETS
from hifihr.losses.geometry import weighted_mean
from hifihr.losses.prediction import Prediction
from hifihr.losses.registry import register_loss
from hifihr.metrics.texture import ssim

#: Fields every render-and-compare term reads from the prediction.
RENDER_FIELDS = ("render.rgb", "render.alpha", "background")


def hand_on_black(render: Any, background: Tensor) -> Tensor:
    """The rendered hand premultiplied by its coverage: ``rgb - (1 - alpha) * background``.

    Args:
        render: has ``rgb`` [B, 3, H, W] composited over ``background`` and ``alpha``
            [B, 1, H, W] coverage in [0, 1].
        background: [3] the background colour.

    Returns:
        [B, 3, H, W] ``alpha * hand colour``; 0 where nothing is drawn.
    """
    return render.rgb - (1.0 - render.alpha) * background.to(render.rgb).view(1, 3, 1, 1)


def texture_confidence(openpose_conf: Tensor, datasets: Sequence[str]) -> Tensor:
    """Per-sample confidence t of the self-supervised photometric terms (reference ``texture_con``).

    Each sample gets the rule of its dataset, :meth:`hifihr.data.HandDataset.texture_confidence`
    of the class registered under its name.

    Args:
        openpose_conf: [B, 21] OpenPose confidences.
        datasets: B dataset registry names (``batch["dataset"]``).

    Returns:
        [B] confidences >= 0.

    Raises:
        ValueError: the number of names is not B, or a name is not a registered dataset.
    """
    if len(datasets) != openpose_conf.shape[0]:
        raise ValueError(f"texture_confidence: {len(datasets)} dataset names for {openpose_conf.shape[0]} samples")
    rules = {name: DATASETS.get(name).cls.texture_confidence for name in sorted(set(datasets))}
    result = torch.empty(openpose_conf.shape[0], dtype=openpose_conf.dtype, device=openpose_conf.device)
    for name, rule in rules.items():
        rows = torch.tensor([i for i, d in enumerate(datasets) if d == name], device=openpose_conf.device)
        result[rows] = rule(openpose_conf[rows])
    return result


def _datasets(batch: Mapping[str, Any]) -> list[str]:
    names = batch["dataset"]
    return [names] * batch["openpose_conf"].shape[0] if isinstance(names, str) else list(names)


def _masked_input(batch: Mapping[str, Any], mask: Tensor) -> Tensor:
    return batch["image"] * mask


@register_loss("texture", weight=3e-3, fields=("image", "mask"), prediction=RENDER_FIELDS)
def texture(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """Mean |R_hand - M I| over B x 3 x H x W (supervised by the ground-truth mask)."""
    return (hand_on_black(pred.render, pred.background) - _masked_input(batch, batch["mask"])).abs().mean()


@register_loss("mrgb", weight=1e-3, fields=("image", "mask"), prediction=RENDER_FIELDS)
def mrgb(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """(mean(M I) - mean(R_hand))^2, both means over the whole batch (mean colour of the hand region)."""
    return (_masked_input(batch, batch["mask"]).mean() - hand_on_black(pred.render, pred.background).mean()).pow(2)


@register_loss("ssim_tex", weight=1e-3, fields=("image", "mask"), prediction=RENDER_FIELDS)
def ssim_tex(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """1 - SSIM(R_hand, M I), the reference's SSIM (11x11 Gaussian, sigma 1.5, mean over B, C, H, W)."""
    return 1.0 - ssim(hand_on_black(pred.render, pred.background), _masked_input(batch, batch["mask"]))


@register_loss(
    "texture_self", weight=3e-3, fields=("image", "openpose_conf", "dataset"), prediction=RENDER_FIELDS
)
def texture_self(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """Confidence-weighted mean |R_hand - a I|: sum_b t_b^2 mean_b|.| / sum_b t_b^2 (0 if all t are 0)."""
    diff = (hand_on_black(pred.render, pred.background) - _masked_input(batch, pred.render.alpha)).abs()
    t = texture_confidence(batch["openpose_conf"].to(diff.dtype), _datasets(batch))
    return weighted_mean(diff.mean(dim=(1, 2, 3)), t.pow(2))


@register_loss(
    "mrgb_self", weight=1e-3, fields=("image", "openpose_conf", "dataset"), prediction=RENDER_FIELDS
)
def mrgb_self(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """Confidence-weighted |mean(R_hand_b) - mean(a I_b)| per image: sum_b t_b^2 |.| / sum_b t_b^2."""
    rendered = hand_on_black(pred.render, pred.background).mean(dim=(1, 2, 3))
    observed = _masked_input(batch, pred.render.alpha).mean(dim=(1, 2, 3))
    t = texture_confidence(batch["openpose_conf"].to(rendered.dtype), _datasets(batch))
    return weighted_mean((rendered - observed).abs(), t.pow(2))


@register_loss("ssim_tex_self", weight=1e-3, fields=("image",), prediction=RENDER_FIELDS)
def ssim_tex_self(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """1 - SSIM(R_hand, a I): both sides masked by the rendered coverage."""
    return 1.0 - ssim(hand_on_black(pred.render, pred.background), _masked_input(batch, pred.render.alpha))


@register_loss("sil", weight=5e-3, fields=("mask",), prediction=("render.soft_alpha",))
def sil(pred: Prediction, batch: Mapping[str, Any]) -> Tensor:
    """Mean |soft silhouette - M| over B x H x W: the differentiable silhouette against the ground-truth mask."""
    return F.l1_loss(pred.render.soft_alpha, batch["mask"].to(pred.render.soft_alpha))
