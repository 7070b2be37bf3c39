"""Image encoders through timm: a global feature vector for the regression heads and a
low-level feature map for the light head, from one forward pass.

Registry of encoders (``list_encoders()``), each a timm model plus how to read it:

================== ============ ========================= ==============================
name               global       low feature (224 input)   pooling
================== ============ ========================= ==============================
tf_efficientnet_b3 1536         [32, 56, 56]  (stage 2)   average (the reference's build)
efficientnet_b3    1536         [32, 56, 56]  (stage 2)   average
resnet18/50/101    512/2048     layer2 [128|512, 28, 28]  MMPool; layer4 at stride 16
hrnet_w18_small_v2 2048         stage1 [128, 56, 56]      MMPool
hrnet_w32          2048         stage1 [128, 56, 56]      MMPool
================== ============ ========================= ==============================

``tf_efficientnet_b3`` is the EfficientNet-b3 the reference trained (a TF port): TF "same"
padding, BatchNorm eps 1e-3 and momentum 0.01 (TF's decay 0.99), drop path 0.2 scaled by the
block index (``0.2 * i / 26``), TF-ported ImageNet weights (AutoAugment). ``efficientnet_b3`` is
timm's own retraining (symmetric padding, eps 1e-5, momentum 0.1, no drop path).

The reference's ResNets set ``layer4``'s stride to 1 (a 14x14 map); timm's ``output_stride=16``
does the same with dilation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import timm
import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class EncoderSpec:
    """How to build and read one encoder.

    Attributes:
        timm_name: the timm model name.
        low_index: index into timm's ``feature_info`` of the low-level map for the light head.
        pooling: ``"avg"`` or ``"mmpool"`` for the global feature.
        timm_kwargs: extra arguments to ``timm.create_model``.
    """

    timm_name: str
    low_index: int
    pooling: str
    timm_kwargs: dict[str, Any] = field(default_factory=dict)


_ENCODERS: dict[str, EncoderSpec] = {}


def register_encoder(name: str, spec: EncoderSpec) -> None:
    """Register an encoder under ``name``."""
    if name in _ENCODERS:
        raise ValueError(f"encoder {name!r} is already registered")
    _ENCODERS[name] = spec


def list_encoders() -> list[str]:
    """Names accepted by :class:`Encoder`."""
    return sorted(_ENCODERS)


register_encoder(
    "tf_efficientnet_b3",
    EncoderSpec(
        "tf_efficientnet_b3.aa_in1k", low_index=1, pooling="avg",
        timm_kwargs={"drop_path_rate": 0.2, "bn_eps": 1e-3, "bn_momentum": 0.01},
    ),
)  # fmt: skip
register_encoder("efficientnet_b3", EncoderSpec("efficientnet_b3", low_index=1, pooling="avg"))
for _depth in (18, 50, 101):
    register_encoder(
        f"resnet{_depth}", EncoderSpec(f"resnet{_depth}", low_index=2, pooling="mmpool", timm_kwargs={"output_stride": 16})
    )
register_encoder("hrnet_w18_small_v2", EncoderSpec("hrnet_w18_small_v2", low_index=1, pooling="mmpool"))
register_encoder("hrnet_w32", EncoderSpec("hrnet_w32", low_index=1, pooling="mmpool"))


def _hub_cache() -> str:
    from huggingface_hub.constants import HF_HUB_CACHE

    return str(HF_HUB_CACHE)


class MMPool(nn.Module):
    """``sigmoid(p) * maxpool + (1 - sigmoid(p)) * avgpool`` over space, with a learnable
    scalar ``p`` initialised to 0 (the reference's pooling for ResNet and HRNet).
    [B, C, H, W] -> [B, C]."""

    def __init__(self) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mix = torch.sigmoid(self.p)
        return mix * x.amax(dim=(2, 3)) + (1 - mix) * x.mean(dim=(2, 3))


class AvgPool(nn.Module):
    """Global average pooling, [B, C, H, W] -> [B, C]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


_POOLING = {"avg": AvgPool, "mmpool": MMPool}


@dataclass
class EncoderFeatures:
    """Encoder output: ``global_feature`` [B, C]; ``low_feature`` [B, C_low, H/r, W/r]."""

    global_feature: torch.Tensor
    low_feature: torch.Tensor


class Encoder(nn.Module):
    """A timm backbone read at two depths.

    Args:
        name: a registered encoder (see the module docstring).
        pretrained: load timm's ImageNet weights (they must already be in the local cache or
            downloadable).
        input_norm: ``"imagenet"`` normalises [0, 1] RGB by the ImageNet mean and std;
            ``"none"`` feeds [0, 1] as the reference does for EfficientNet.

    Attributes:
        num_features: width C of the global feature; low_channels, low_reduction: the low map's
            channels and stride relative to the input.
    """

    def __init__(self, name: str, pretrained: bool = False, input_norm: str = "imagenet") -> None:
        super().__init__()
        if name not in _ENCODERS:
            raise ValueError(f"unknown encoder {name!r}; valid: {', '.join(list_encoders())}")
        if input_norm not in ("imagenet", "none"):
            raise ValueError(f"input_norm: expected 'imagenet' or 'none', got {input_norm!r}")
        spec = _ENCODERS[name]
        self.name = name
        try:
            self.backbone = timm.create_model(spec.timm_name, pretrained=pretrained, num_classes=0, **spec.timm_kwargs)
        except (OSError, RuntimeError) as err:  # no cached weights and no network
            if not pretrained:
                raise
            raise RuntimeError(
                f"could not load the ImageNet weights of {spec.timm_name!r} (timm, from the Hugging Face hub "
                f"cache {_hub_cache()}): {err}. Download them once on a machine with network access "
                f"(timm.create_model({spec.timm_name!r}, pretrained=True)) and copy the cache, or set "
                "model.pretrained = false to start from random weights."
            ) from err
        info = self.backbone.feature_info[spec.low_index]
        self.low_index = spec.low_index
        self.low_channels = int(info["num_chs"])
        self.low_reduction = int(info["reduction"])
        self.num_features = int(self.backbone.num_features)
        self.pool = _POOLING[spec.pooling]()
        self.input_norm = input_norm
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, num_features={self.num_features}, low=({self.low_channels}, /{self.low_reduction}), input_norm={self.input_norm!r}"

    def forward(self, image: torch.Tensor) -> EncoderFeatures:
        """Features of ``image`` [B, 3, H, W], RGB in [0, 1]."""
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"image: expected [B, 3, H, W], got {tuple(image.shape)}")
        if self.input_norm == "imagenet":
            image = (image - self.mean) / self.std
        final, (low,) = self.backbone.forward_intermediates(image, indices=[self.low_index], norm=False)
        return EncoderFeatures(global_feature=self.pool(final), low_feature=low)
