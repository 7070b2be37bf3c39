"""Encoders (every registered one), the light head's neutral start and the camera head's maths."""

from __future__ import annotations

import pytest
import torch

from helpers import assert_close
from hifihr.models.encoders import ENCODERS, Encoder, MMPool
from hifihr.models.heads import CameraHead, LightHead, ParamHead, Trunk, light_map_pool
from hifihr.render import SHLight, project_points
from hifihr.render.lights import sh_basis

EXPECTED = {  # global width, low channels, low stride at a 224 input
    "tf_efficientnet_b3": (1536, 32, 4),
    "efficientnet_b3": (1536, 32, 4),
    "resnet18": (512, 128, 8),
    "resnet50": (2048, 512, 8),
    "resnet101": (2048, 512, 8),
    "hrnet_w18_small_v2": (2048, 128, 4),
    "hrnet_w32": (2048, 128, 4),
    "efficientnet_lite0": (1280, 24, 4),
}


@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_features_and_light_head(name):
    torch.manual_seed(0)
    encoder = Encoder(name, pretrained=False).eval()
    width, low_channels, low_stride = EXPECTED[name]
    assert (encoder.num_features, encoder.low_channels, encoder.low_reduction) == (width, low_channels, low_stride)
    with torch.no_grad():
        features = encoder(torch.rand(1, 3, 224, 224))
        assert features.global_feature.shape == (1, width)
        assert features.low_feature.shape == (1, low_channels, 224 // low_stride, 224 // low_stride)
        light = LightHead("sh", encoder.low_channels, encoder.low_reduction)(features.low_feature)
    assert light.shape == (1, 9, 3)


def test_tf_efficientnet_b3_is_built_as_the_reference():
    """The reference's EfficientNet-b3 (lukemelas' TF port): drop connect 0.2 * idx / 26 on the
    residual blocks, BatchNorm eps 1e-3 and momentum 1 - 0.99, TF "same" padding (extra pixel
    right and bottom)."""
    from timm.layers import DropPath

    backbone = Encoder("tf_efficientnet_b3", pretrained=False).backbone
    blocks = [block for stage in backbone.blocks for block in stage]
    assert len(blocks) == 26
    for index, block in enumerate(blocks):
        rate = 0.2 * index / 26
        if index == 0:
            assert not isinstance(block.drop_path, DropPath)
        else:
            assert isinstance(block.drop_path, DropPath)
            assert block.drop_path.drop_prob == pytest.approx(rate, abs=1e-12)
    norms = [m for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 78
    assert all(m.eps == 1e-3 and m.momentum == 0.01 for m in norms)
    # Stem: 3x3 stride 2 on 224 pixels; TF "same" pads 0 left/top and 1 right/bottom.
    stem = backbone.conv_stem
    x = torch.randn(1, 3, 224, 224)
    expected = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (0, 1, 0, 1)), stem.weight, stride=2)
    with torch.no_grad():
        assert_close(stem(x), expected, atol=1e-5)
    timm_own = Encoder("efficientnet_b3", pretrained=False).backbone
    assert timm_own.bn1.eps == 1e-5
    assert timm_own.conv_stem.padding == (1, 1)


def test_input_normalisation():
    encoder = Encoder("resnet18", input_norm="imagenet").eval()
    raw = Encoder("resnet18", input_norm="none").eval()
    raw.load_state_dict(encoder.state_dict())
    image = torch.rand(2, 3, 224, 224)
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        assert_close(encoder(image).global_feature, raw((image - mean) / std).global_feature, atol=1e-5)
    with pytest.raises(ValueError, match="unknown encoder 'vgg16'; valid names: efficientnet_b3"):
        Encoder("vgg16")


def test_mmpool_mixes_max_and_mean():
    pool = MMPool()
    x = torch.randn(2, 4, 3, 3)
    assert_close(pool(x), 0.5 * x.amax((2, 3)) + 0.5 * x.mean((2, 3)), atol=1e-7)


def test_sh_light_head_starts_neutral():
    torch.manual_seed(0)
    head = LightHead("sh", 32, 4)
    coeffs = head(torch.rand(4, 32, 56, 56))
    normals = torch.nn.functional.normalize(torch.randn(100, 3), dim=-1)
    shading = torch.einsum("nk,bkc->bnc", sh_basis(normals, 9), coeffs)
    assert_close(shading, torch.ones_like(shading), atol=0.05)
    assert_close(coeffs.mean(0), SHLight.white(1).coeffs[0], atol=0.05)


def _reference_light_estimator(in_dim: int) -> torch.nn.ModuleDict:
    """The reference's ``LightEstimator`` layer stack (network/res_encoder.py), built here."""
    nn = torch.nn
    conv1 = nn.Conv2d(512, 48, kernel_size=1, stride=2) if in_dim == 512 else nn.Conv2d(32, 48, kernel_size=1, stride=4)
    base = nn.Sequential(
        conv1, nn.ReLU(), nn.Conv2d(48, 48, kernel_size=3, stride=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=1, padding=1), nn.Conv2d(48, 64, kernel_size=3, stride=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),
    )  # fmt: skip
    return nn.ModuleDict({"base": base, "reg": nn.Sequential(nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 6))})


@pytest.mark.parametrize("low_channels,low_reduction,size", [(32, 4, 56), (512, 8, 28)])
def test_light_head_matches_the_reference_stack(low_channels, low_reduction, size):
    """At a 224 crop (efficientnet-b3's /4 map, resnet's /8 map) the head is the reference's
    LightEstimator: same layers, same 5x5 -> 2x2 pooling (last row and column dropped)."""
    torch.manual_seed(0)
    head = LightHead("directional", low_channels, low_reduction)
    reference = _reference_light_estimator(low_channels)
    for ours, theirs in [(0, 0), (2, 2), (5, 5)]:
        reference["base"][theirs].load_state_dict(head.features[ours].state_dict())
    reference["reg"].load_state_dict(head.regressor.state_dict())
    low = torch.randn(3, low_channels, size, size)
    with torch.no_grad():
        raw = reference["reg"](reference["base"](low).flatten(1))
        expected = torch.cat([torch.nn.functional.hardtanh(raw[:, :3]), raw[:, 3:]], dim=1)
        assert_close(head(low), expected, atol=1e-5)


def test_light_map_pool_windows():
    x = torch.randn(2, 3, 6, 6)
    expected = x.reshape(2, 3, 2, 3, 2, 3).amax((3, 5))  # two 3-pixel windows per side
    assert_close(light_map_pool(x), expected, atol=0)
    assert_close(light_map_pool(x[:, :, :5, :5]), x[:, :, :4, :4].reshape(2, 3, 2, 2, 2, 2).amax((3, 5)), atol=0)
    assert_close(light_map_pool(x[:, :, :1, :1]), x[:, :, :1, :1].expand(2, 3, 2, 2), atol=0)
    # A 96 crop (the synthetic configs) with a /8 map reaches a 1-pixel map and still runs.
    assert LightHead("sh", 128, 8)(torch.rand(1, 128, 12, 12)).shape == (1, 9, 3)


def test_directional_light_head_clamps_colour():
    head = LightHead("directional", 32, 4)
    with torch.no_grad():
        head.regressor[-1].bias.fill_(5.0)
    out = head(torch.rand(2, 32, 56, 56))
    assert out.shape == (2, 6)
    assert out[:, :3].max() <= 1.0
    assert out[:, 3:].min() > 1.0


def test_camera_head_places_the_root_at_its_pixel_and_depth():
    head = CameraHead(hand_size_m=0.2)
    with torch.no_grad():
        head.layers[-1].weight.zero_()
        head.layers[-1].bias.copy_(torch.tensor([1.0, 0.2, -0.4]))
    K = torch.tensor([[[500.0, 0, 100], [0, 480, 120], [0, 0, 1]]]).repeat(2, 1, 1)
    root = head(torch.randn(2, 512), K, (224, 224))
    scale = torch.nn.functional.softplus(torch.tensor(1.0)) + 0.05
    assert_close(root[:, 2], (500 * 0.2 / (scale * 224)).expand(2), atol=1e-6)
    pixel = project_points(root[:, None], K)
    assert_close(pixel[:, 0, :2], torch.tensor([[112 * 1.2, 112 * 0.6]]).expand(2, 2), atol=1e-4)


def test_trunk_and_param_head_shapes():
    out = ParamHead(30)(Trunk(1536)(torch.randn(3, 1536)))
    assert out.shape == (3, 30)
