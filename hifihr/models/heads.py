"""Regression heads: the shared trunk, the hand-parameter heads, the light head and the
camera (root) head. Layer sizes and initialisation follow the reference (§1.3 and §2.4 of
``shared/reference/hifihr-reference-code.md``).
"""

from __future__ import annotations

import torch
from torch import nn

from ..render.lights import SH_Y00


def init_weights(module: nn.Module) -> None:
    """The reference's ``weights_init``: Kaiming-normal (fan_in) Linear/Conv weights with zero
    bias, BatchNorm weight ~ N(1, 0.02) and zero bias."""
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        nn.init.kaiming_normal_(module.weight, mode="fan_in")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm1d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _mlp_head(in_features: int, out_features: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_features, 128), nn.ReLU(inplace=True), nn.Linear(128, out_features))


class Trunk(nn.Module):
    """``Linear(C, 1024) -> BN -> ReLU -> Linear(1024, 512) -> BN -> ReLU``: [B, C] -> [B, 512]."""

    def __init__(self, in_features: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(in_features, 1024), nn.BatchNorm1d(1024), nn.ReLU(inplace=True),
            nn.Linear(1024, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.layers.apply(init_weights)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        return self.layers(feature)


class ParamHead(nn.Module):
    """``Linear(512, 128) -> ReLU -> Linear(128, n)``: one group of hand parameters.

    The last layer starts with small weights (std 1e-3) and zero bias, so the untrained network
    predicts zero normalised coefficients: the PCA-mean hand at the mean orientation (HaMeR
    predicts offsets from mean parameters likewise).
    """

    def __init__(self, out_features: int, in_features: int = 512) -> None:
        super().__init__()
        self.layers = _mlp_head(in_features, out_features)
        self.layers.apply(init_weights)
        nn.init.normal_(self.layers[-1].weight, std=1e-3)

    def forward(self, trunk: torch.Tensor) -> torch.Tensor:
        return self.layers(trunk)


def light_map_pool(feature: torch.Tensor) -> torch.Tensor:
    """Max over non-overlapping windows of ``n // 2`` pixels per side, kept to 2x2: [B, C, h, w]
    -> [B, C, 2, 2].

    On the 5x5 map of a 224 crop this is the reference's ``MaxPool2d(2, stride 2)``: windows
    0:2 and 2:4, the last row and column dropped. Other crop sizes get the same rule (6x6: two
    3-pixel windows; 2x2 and 3x3: single pixels), and a 1-pixel map (crops below about 110 px)
    is repeated.
    """
    height, width = feature.shape[2:]
    kernel = (max(height // 2, 1), max(width // 2, 1))
    pooled = nn.functional.max_pool2d(feature, kernel, stride=kernel)[:, :, :2, :2]
    return pooled.expand(-1, -1, 2, 2)


class LightHead(nn.Module):
    """Illumination from the encoder's low-level map (the reference's ``LightEstimator``).

    ``Conv(C_low, 48, k1, stride s) -> ReLU -> Conv(48, 48, k3) -> ReLU -> MaxPool(3, 1, 1)
    -> Conv(48, 64, k3, s2) -> ReLU -> pool to 2x2 -> Linear(256, 64) -> ReLU -> Linear(64, n)``,
    with ``s`` taking the low map to 14x14 at a 224 input (4 for a /4 map, 2 for /8), where the
    last conv gives 5x5 and the pool (:func:`light_map_pool`) is the reference's
    ``MaxPool(2, stride 2)``; other crop sizes pool with the same rule.

    Kinds (output):
        ``sh``: :class:`SHLight` with 9 coefficients per colour [B, 9, 3]; ``sh16``: 16.
        The last layer starts at neutral white light (shading 1 everywhere) with small weights.
        ``directional``: [B, 6] = colour (hardtanh, [-1, 1]) | direction (unnormalised), as the
        reference's ``DirectionalLights``; the renderer normalises the direction.
    """

    OUTPUTS = {"sh": 27, "sh16": 48, "directional": 6}

    def __init__(self, kind: str, low_channels: int, low_reduction: int) -> None:
        super().__init__()
        if kind not in self.OUTPUTS:
            raise ValueError(f"light: expected one of {sorted(self.OUTPUTS)}, got {kind!r}")
        if 16 % low_reduction:
            raise ValueError(f"the light head needs a low feature at stride 2, 4, 8 or 16, got {low_reduction}")
        self.kind = kind
        self.features = nn.Sequential(
            nn.Conv2d(low_channels, 48, kernel_size=1, stride=16 // low_reduction), nn.ReLU(inplace=True),
            nn.Conv2d(48, 48, kernel_size=3), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=1, padding=1),
            nn.Conv2d(48, 64, kernel_size=3, stride=2), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.regressor = nn.Sequential(nn.Linear(256, 64), nn.ReLU(inplace=True), nn.Linear(64, self.OUTPUTS[kind]))
        self.regressor.apply(init_weights)
        if kind.startswith("sh"):
            last = self.regressor[-1]
            nn.init.normal_(last.weight, std=1e-3)
            with torch.no_grad():
                neutral = torch.zeros(self.OUTPUTS[kind] // 3, 3)
                neutral[0] = 1.0 / SH_Y00
                last.bias.copy_(neutral.flatten())

    def forward(self, low_feature: torch.Tensor) -> torch.Tensor:
        """[B, C_low, h, w] -> SH coefficients [B, K, 3] or directional parameters [B, 6]."""
        stride = self.features[0].stride[0]
        if (min(low_feature.shape[2:]) - 1) // stride + 1 < 5:
            raise ValueError(
                f"the light head needs a low feature map of at least {4 * stride + 1} px (a crop of at "
                f"least {(4 * stride + 1) * 16 // stride} px); got {tuple(low_feature.shape[2:])}"
            )
        features = light_map_pool(self.features(low_feature)).flatten(1)
        out = self.regressor(features)
        if self.kind == "directional":
            return torch.cat([nn.functional.hardtanh(out[:, :3]), out[:, 3:]], dim=1)
        return out.reshape(out.shape[0], -1, 3)


class CameraHead(nn.Module):
    """Root position from the trunk, for images without a 3D root (``root: "predicted"``).

    Regresses a weak-perspective camera ``(s, tx, ty)`` of the root keypoint in the crop, as
    HaMeR does, and converts it through the crop's intrinsics K:

    * ``u = W/2 * (1 + tx)``, ``v = H/2 * (1 + ty)``: the root's pixel (crop centre at 0);
    * ``z = fx * hand_size_m / (s * W)``: a hand of ``hand_size_m`` spanning ``s`` crop widths;
      ``s = softplus(raw) + 0.05``, starting near 0.7 so the initial hand fills a typical crop;
    * root = ``((u - cx) z / fx, (v - cy) z / fy, z)`` in the OpenCV camera frame, metres.
    """

    def __init__(self, hand_size_m: float = 0.2, in_features: int = 512) -> None:
        super().__init__()
        self.hand_size_m = hand_size_m
        self.layers = _mlp_head(in_features, 3)
        self.layers.apply(init_weights)
        nn.init.normal_(self.layers[-1].weight, std=1e-3)

    def forward(self, trunk: torch.Tensor, K: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
        """Root [B, 3] in metres from trunk features [B, 512], K [B, 3, 3], (H, W) in pixels."""
        height, width = image_size
        raw = self.layers(trunk)
        scale = nn.functional.softplus(raw[:, 0]) + 0.05
        u = 0.5 * width * (1 + raw[:, 1])
        v = 0.5 * height * (1 + raw[:, 2])
        fx, fy, cx, cy = K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2]
        z = fx * self.hand_size_m / (scale * width)
        return torch.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], dim=1)

