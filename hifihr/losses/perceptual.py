"""Losses that run a frozen pretrained network: ``perceptual`` (VGG-19) and ``lpips_tex`` (LPIPS).

The networks are built only for an active term (by :class:`~hifihr.losses.objective.Objective`),
from weights already in torchvision's cache (``torch.hub.get_dir()/checkpoints``); nothing is
downloaded unless asked. Any module with the same interface can be injected instead (tests use
tiny random networks). Both are frozen: ``requires_grad`` is False on every parameter and
:class:`FrozenNetwork` stays in eval mode whatever ``train()`` asks, so the network receives no
gradient and keeps no state, while gradients still flow to its *input*.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hifihr.losses.photometric import RENDER_FIELDS, hand_on_black
from hifihr.losses.prediction import Prediction
from hifihr.losses.registry import register_loss
from hifihr.metrics.texture import MissingWeightsError, load_lpips_alex, lpips_distance

#: ImageNet channel statistics torchvision's VGG expects after scaling to [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: ``vgg19().features[:VGG19_CONV3_3_END]`` ends with conv3_3, before its ReLU (256 channels, 1/4 scale).
VGG19_CONV3_3_END = 15


class FrozenNetwork(nn.Module):
    """A network used as a fixed function: parameters frozen, always in eval mode.

    Args:
        network: the module to wrap; its parameters get ``requires_grad = False``.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> "FrozenNetwork":
        """Stay in eval mode (a frozen network has no training behaviour)."""
        return super().train(False)

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.network(*inputs)


def imagenet_normalize(images: Tensor) -> Tensor:
    """[B, 3, H, W] RGB in [0, 1] -> (x - mean) / std with :data:`IMAGENET_MEAN`/`IMAGENET_STD`."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std


def vgg19_weights_url() -> str:
    """URL of torchvision's ImageNet VGG-19 weights (``VGG19_Weights.IMAGENET1K_V1``)."""
    from torchvision.models import VGG19_Weights

    return VGG19_Weights.IMAGENET1K_V1.url


def vgg19_weights_path() -> Path:
    """Where torchvision keeps those weights: ``torch.hub.get_dir()/checkpoints/vgg19-dcbb9e9d.pth``.

    ``torch.hub.get_dir()`` is ``$TORCH_HOME/hub`` (default ``~/.cache/torch/hub``).
    """
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(vgg19_weights_url()).path)


def load_vgg19_conv3_3(download: bool = False) -> FrozenNetwork:
    """VGG-19 ``features[:15]`` (ImageNet weights, output conv3_3 before ReLU), frozen, on the CPU.

    Args:
        download: fetch the weights from :func:`vgg19_weights_url` when absent (hash checked).

    Raises:
        MissingWeightsError: the weight file is not at :func:`vgg19_weights_path` (and
            ``download`` is False), or the download failed.
    """
    path, url = vgg19_weights_path(), vgg19_weights_url()
    if not path.is_file():
        message = (
            f"loss 'perceptual' needs torchvision's ImageNet VGG-19 weights '{path.name}' at '{path}' "
            f"(torch.hub.get_dir()/checkpoints; set TORCH_HOME to change the cache), but the file is absent. "
            f"Download {url} where there is internet, copy it to that path, or drop the term (config loss.drop)."
        )
        if not download:
            raise MissingWeightsError(message, path, url)
        path.parent.mkdir(parents=True, exist_ok=True)
        hash_match = torch.hub.HASH_REGEX.search(path.name)
        try:
            torch.hub.download_url_to_file(url, str(path), hash_prefix=hash_match.group(1) if hash_match else None)
        except Exception as err:  # any failure to fetch (network, HTTP, hash) means the same to the caller
            raise MissingWeightsError(f"{message} The download failed: {err}", path, url) from err
    from torchvision.models import vgg19

    model = vgg19()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return FrozenNetwork(model.features[:VGG19_CONV3_3_END])


def load_lpips_network() -> FrozenNetwork:
    """LPIPS (AlexNet, v0.1) from :func:`hifihr.metrics.texture.load_lpips_alex`, frozen.

    Raises:
        MissingWeightsError: torchvision's AlexNet weights are not in the torch hub cache.
    """
    return FrozenNetwork(load_lpips_alex(download=False))


@register_loss(
    "perceptual", weight=1e-5, fields=("image", "mask"), prediction=("render.rgb",), network=load_vgg19_conv3_3
)
def perceptual(pred: Prediction, batch: Mapping[str, Any], *, network: nn.Module) -> Tensor:
    """MSE between frozen VGG-19 conv3_3 features of the composite R M + I (1 - M) and of I.

    The render R (over its background) replaces the input inside the ground-truth mask M, as in
    the reference; the input's features are computed without gradient. Inputs are
    ImageNet-normalised, not resized. Mean over the feature map [B, 256, H/4, W/4].
    """
    image, mask = batch["image"], batch["mask"]
    composite = pred.render.rgb * mask + image * (1.0 - mask)
    with torch.no_grad():
        target = network(imagenet_normalize(image))
    return F.mse_loss(network(imagenet_normalize(composite)), target)


@register_loss("lpips_tex", weight=1e-3, fields=("image",), prediction=RENDER_FIELDS, network=load_lpips_network)
def lpips_tex(pred: Prediction, batch: Mapping[str, Any], *, network: nn.Module) -> Tensor:
    """Mean over B of LPIPS(R_hand, a I): the rendered hand on black against the input masked by the same coverage."""
    alpha = pred.render.alpha
    return lpips_distance(hand_on_black(pred.render, pred.background), batch["image"] * alpha, network).mean()
