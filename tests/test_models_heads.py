"""Encoders (every registered one), the light head's neutral start and the camera head's maths."""

from __future__ import annotations

import pytest
import torch

from helpers import assert_close
from hifihr.models.encoders import Encoder, MMPool, list_encoders
from hifihr.models.heads import CameraHead, LightHead, ParamHead, Trunk
from hifihr.render import SHLight, project_points
from hifihr.render.lights import sh_basis

EXPECTED = {  # global width, low channels, low stride at a 224 input
    "efficientnet_b3": (1536, 32, 4),
    "resnet18": (512, 128, 8),
    "resnet50": (2048, 512, 8),
    "resnet101": (2048, 512, 8),
    "hrnet_w18_small_v2": (2048, 128, 4),
    "hrnet_w32": (2048, 128, 4),
    "efficientnet_lite0": (1280, 24, 4),
}


@pytest.mark.parametrize("name", list_encoders())
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


def test_input_normalisation():
    encoder = Encoder("resnet18", input_norm="imagenet").eval()
    raw = Encoder("resnet18", input_norm="none").eval()
    raw.load_state_dict(encoder.state_dict())
    image = torch.rand(2, 3, 224, 224)
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        assert_close(encoder(image).global_feature, raw((image - mean) / std).global_feature, atol=1e-5)
    with pytest.raises(ValueError, match="valid: efficientnet_b3"):
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


def test_directional_light_head_clamps_colour():
    head = LightHead("directional", 32, 4)
    with torch.no_grad():
        head.regressor[-1].bias.fill_(5.0)
    out = head(torch.rand(2, 32, 56, 56))
    assert out.shape == (2, 6) and out[:, :3].max() <= 1.0 and out[:, 3:].min() > 1.0


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
