"""Loss terms against hand computations on tiny batches (B = 2, 8x8 images), the registry, the
schedules, the presets and the objective."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Optional

import pytest
import torch
from helpers import assert_close, pytorch_ssim_reference
from torch import Tensor, nn

from hifihr.data import DATASETS, HandDataset, register_dataset
from hifihr.hand.joints import FREIHAND_PARENTS
from hifihr.losses import (
    LOSSES,
    SUPERVISION_PRESETS,
    MissingInputError,
    Objective,
    Prediction,
    WeightSchedule,
    as_schedule,
    bone_direction_loss,
    hand_on_black,
    open_2dj_penalty,
    preset_weights,
    resolve_weights,
    texture_confidence,
)
from hifihr.losses.perceptual import VGG19_CONV3_3_END, FrozenNetwork, imagenet_normalize, load_vgg19_conv3_3
from hifihr.losses.regularizers import fibonacci_sphere
from hifihr.metrics.texture import MissingWeightsError
from hifihr.render.lights import SH_Y00

B, H, W = 2, 8, 8
WHITE = torch.ones(3)


@dataclass
class Render:
    """A stand-in for the renderer's RenderOutput."""

    rgb: Tensor
    alpha: Tensor
    soft_alpha: Optional[Tensor] = None


def call(name: str, pred: Prediction, batch: dict, **options) -> Tensor:
    return LOSSES.get(name).fn(pred, batch, **options)


def gt_batch(seed: int = 0) -> dict:
    """Absolute camera-frame ground truth for 2 samples, plus images, masks and OpenPose fields."""
    g = torch.Generator().manual_seed(seed)
    joints_rel = 0.05 * torch.randn(B, 21, 3, generator=g)
    root = torch.tensor([[0.01, -0.02, 0.6], [0.03, 0.01, 0.7]])
    joints = joints_rel - joints_rel[:, 9:10] + root[:, None]
    verts = joints[:, :1] + 0.05 * torch.randn(B, 778, 3, generator=g)
    mask = torch.zeros(B, 1, H, W)
    mask[..., : W // 2] = 1.0
    return {
        "image": torch.rand(B, 3, H, W, generator=g),
        "mask": mask,
        "joints3d": joints,
        "verts3d": verts,
        "joints2d": 100 * torch.rand(B, 21, 2, generator=g),
        "openpose2d": 100 * torch.rand(B, 21, 2, generator=g),
        "openpose_conf": 0.2 + 0.8 * torch.rand(B, 21, generator=g),
        "root": root,
        "root_index": torch.full((B,), 9, dtype=torch.long),
        "dataset": ["freihand", "freihand"],
    }


def perfect_prediction(batch: dict, **fields) -> Prediction:
    """The prediction that matches ``batch`` exactly (render = the masked image over white)."""
    joints = batch["joints3d"] - batch["joints3d"][:, 9:10]
    mask = batch["mask"]
    render = Render(rgb=batch["image"] * mask + (1 - mask) * 1.0, alpha=mask.clone(), soft_alpha=mask.clone())
    values = dict(
        joints3d=joints,
        verts3d=batch["verts3d"] - batch["joints3d"][:, 9:10],
        joints2d=batch["joints2d"].clone(),
        pose_params=torch.zeros(B, 30),
        shape_params=torch.zeros(B, 20),
        texture_params=torch.zeros(B, 10),
        light=torch.zeros(B, 9, 3).index_fill_(1, torch.tensor([0]), 1.0 / SH_Y00),
        light_type="sh",
        render=render,
        background=WHITE,
        eval_faces=torch.tensor([[0, 1, 2], [2, 3, 4], [5, 6, 7]]),
    )
    values.update(fields)
    return Prediction(**values)


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

REFERENCE_TERMS = {
    "joint_2d": 1e-5, "joint_3d": 100.0, "vert_3d": 100.0, "bone_direc": 0.1, "bone_direc_3d": 0.1,
    "edge_length": 0.1, "texture": 3e-3, "mrgb": 1e-3, "ssim_tex": 1e-3, "texture_self": 3e-3,
    "mrgb_self": 1e-3, "ssim_tex_self": 1e-3, "perceptual": 1e-5, "sil": 5e-3, "open_2dj": 1e-3,
    "open_bone_direc": 0.1, "mpose": 1e-5, "mshape": 1e-2, "mtex": 5e-3, "joint_3d_norm": 100.0,
}  # fmt: skip


def test_registry_has_every_reference_term_with_its_default_weight():
    assert set(REFERENCE_TERMS) | {"lpips_tex", "light_reg", "uv_align"} == set(LOSSES.names())
    for name, weight in REFERENCE_TERMS.items():
        assert LOSSES.get(name).default_weight == weight, name
    assert LOSSES.get("texture").needs_render
    assert LOSSES.get("sil").needs_render
    assert not LOSSES.get("joint_3d").needs_render
    assert LOSSES.get("texture").required_fields == ("image", "mask")


def test_unknown_loss_name_suggests_the_closest():
    with pytest.raises(ValueError, match=r"unknown loss 'textrue' \(did you mean 'texture'\?\); valid names: bone_direc"):
        LOSSES.get("textrue")


def test_prediction_rejects_a_wrong_shape():
    batch = gt_batch()
    with pytest.raises(ValueError, match=r"Prediction.joints2d: expected \[2, 21, 2\], got \(2, 21, 3\)"):
        perfect_prediction(batch, joints2d=torch.zeros(B, 21, 3))


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------

GEOMETRY_TERMS = ["joint_2d", "joint_3d", "joint_3d_norm", "vert_3d", "bone_direc", "bone_direc_3d", "open_2dj", "open_bone_direc"]


@pytest.mark.parametrize("name", GEOMETRY_TERMS + ["edge_length"])
def test_geometry_terms_are_zero_at_the_ground_truth(name):
    batch = gt_batch()
    batch["openpose2d"] = batch["joints2d"].clone()
    assert_close(call(name, perfect_prediction(batch), batch), 0.0, atol=1e-7, msg=name)


@pytest.mark.parametrize("base, expected", [("l1", 0.03 / (B * 21 * 3)), ("l2", 0.03**2 / (B * 21 * 3))])
def test_joint_3d_is_the_base_distance_of_root_relative_joints(base, expected):
    batch = gt_batch()
    pred = perfect_prediction(batch)
    joints = pred.joints3d.clone()
    joints[1, 4, 2] += 0.03  # one coordinate of one joint, 3 cm
    assert_close(call("joint_3d", replace(pred, joints3d=joints), batch, base=base), expected, atol=1e-9)


def test_joint_3d_roots_the_ground_truth_at_the_batch_root_index():
    """HO-3D evaluation-style batches root at the wrist: both sides are re-rooted there."""
    batch = gt_batch()
    batch["root_index"] = torch.zeros(B, dtype=torch.long)
    pred = perfect_prediction(batch)  # rooted at 9: a pure translation of the wrist-rooted GT
    assert_close(call("joint_3d", pred, batch), 0.0, atol=1e-7)
    shifted = replace(pred, joints3d=pred.joints3d + torch.tensor([0.0, 0.0, 0.5]))  # absolute-vs-relative, the HO-3D bug
    assert_close(call("joint_3d", shifted, batch), 0.0, atol=1e-7)


def test_joint_3d_norm_is_the_mse_of_joints_rooted_at_keypoint_9():
    batch = gt_batch()
    pred = perfect_prediction(batch)
    joints = pred.joints3d.clone() + 0.2  # a translation: no effect
    joints[0, 12, 0] += 0.02
    assert_close(call("joint_3d_norm", replace(pred, joints3d=joints), batch), 0.02**2 / (B * 63), atol=1e-10)


def test_vert_3d_hand_value_and_topology_error():
    batch = gt_batch()
    pred = perfect_prediction(batch)
    verts = pred.verts3d.clone()
    verts[0, 100] += torch.tensor([0.01, -0.02, 0.0])
    assert_close(call("vert_3d", replace(pred, verts3d=verts), batch), 0.03 / (B * 778 * 3), atol=1e-9)
    with pytest.raises(ValueError, match="MANO topology"):
        call("vert_3d", replace(pred, verts3d=torch.zeros(B, 5990, 3)), batch)


def naive_bone_direction(a: Tensor, b: Tensor, c: Tensor) -> float:
    """BD(a, b, c) with Python loops over samples and the 20 (parent, child) bones."""
    total, count = 0.0, 0
    for s in range(a.shape[0]):
        for child in range(1, 21):
            parent = FREIHAND_PARENTS[child]
            u = [float(a[s, child, d] - a[s, parent, d]) for d in range(a.shape[2])]
            v = [float(b[s, child, d] - b[s, parent, d]) for d in range(b.shape[2])]
            nu, nv = math.sqrt(sum(x * x for x in u)) + 1e-4, math.sqrt(sum(x * x for x in v)) + 1e-4
            total += sum((x / nu - y / nv) ** 2 for x, y in zip(u, v)) * float(c[s, parent] * c[s, child])
            count += 1
    return total / count


@pytest.mark.parametrize("dims", [2, 3])
def test_bone_direction_matches_a_naive_loop(dims):
    g = torch.Generator().manual_seed(dims)
    a, b = torch.randn(B, 21, dims, generator=g, dtype=torch.float64), torch.randn(B, 21, dims, generator=g, dtype=torch.float64)
    c = torch.rand(B, 21, generator=g, dtype=torch.float64)
    assert_close(bone_direction_loss(a, b, c), naive_bone_direction(a, b, c), atol=1e-12)
    assert_close(bone_direction_loss(a, b), naive_bone_direction(a, b, torch.ones(B, 21)), atol=1e-12)


def test_bone_direction_hand_value_for_a_perpendicular_bone():
    """One bone (0 -> 1) turned by 90 degrees: |n1 - n2|^2 = 2 (to the 1e-4 guard), over 2 x 20 bones."""
    a = torch.zeros(B, 21, 2)
    a[:, 1:] = torch.tensor([1.0, 0.0])
    b = a.clone()
    b[0, 1:5] = torch.tensor([0.0, 1.0])  # the thumb of sample 0 turned: bone 0->1 is (0, 1), its other bones stay 0
    expected = 2 * (1 / 1.0001) ** 2 / (B * 20)
    assert_close(bone_direction_loss(a, b), expected, atol=1e-7)


def test_bone_direction_gradient_is_finite_for_zero_length_bones():
    a = torch.zeros(B, 21, 3, requires_grad=True)
    bone_direction_loss(a, torch.randn(B, 21, 3)).backward()
    assert torch.isfinite(a.grad).all()


def test_edge_length_hand_value():
    batch = gt_batch()
    verts = torch.zeros(B, 778, 3)
    verts[:, 1] = torch.tensor([0.03, 0.0, 0.0])
    verts[:, 2] = torch.tensor([0.0, 0.04, 0.0])  # triangle 0-1-2 with edges 3, 5, 4 cm
    batch["verts3d"] = 2 * verts  # ground truth twice as large
    pred = perfect_prediction(batch, verts3d=verts, eval_faces=torch.tensor([[0, 1, 2]]))
    assert_close(call("edge_length", pred, batch), (0.03 + 0.05 + 0.04) / 3, atol=1e-7)


def test_joint_2d_and_bone_direc_use_visibility_when_the_batch_has_it():
    batch = gt_batch()
    pred = perfect_prediction(batch)
    j2d = pred.joints2d.clone()
    j2d[0, 3] += torch.tensor([4.0, -2.0])
    j2d[1, 7] += torch.tensor([10.0, 0.0])
    moved = replace(pred, joints2d=j2d)
    assert_close(call("joint_2d", moved, batch, base="l1"), 16.0 / (B * 42), atol=1e-5)
    batch["joints_visible"] = torch.ones(B, 21)
    batch["joints_visible"][1, 7] = 0.0  # the 10-pixel error is on an occluded keypoint
    assert_close(call("joint_2d", moved, batch, base="l1"), 6.0 / (B * 42), atol=1e-5)
    assert_close(call("joint_2d", moved, batch, base="l2"), 20.0 / (B * 42), atol=1e-5)
    expected = naive_bone_direction(j2d, batch["joints2d"], batch["joints_visible"])
    assert_close(call("bone_direc", moved, batch), expected, atol=1e-6)


def test_open_2dj_penalty_branches_and_continuity():
    d = torch.tensor([0.0, 3.0, 4.999, 5.0, 8.0])
    assert_close(open_2dj_penalty(d**2), torch.tensor([0.0, 0.9, 4.999**2 / 10, 2.5, 5.5]), atol=1e-5)
    below, above = open_2dj_penalty(torch.tensor(5.0 - 1e-6) ** 2), open_2dj_penalty(torch.tensor(5.0 + 1e-6) ** 2)
    assert_close(below, above, atol=1e-5)
    s = torch.tensor([0.0, 9.0, 64.0], requires_grad=True)
    open_2dj_penalty(s).sum().backward()
    assert_close(s.grad, torch.tensor([0.1, 0.1, 1 / 16]), atol=1e-7)  # d(s/10)/ds, d(sqrt(s))/ds = 1/(2*8)


def test_open_2dj_hand_value_with_confidences_and_keypoint_weights():
    batch = gt_batch()
    pred = perfect_prediction(batch)
    batch["openpose2d"] = pred.joints2d.clone()
    batch["openpose2d"][0, 0] += torch.tensor([3.0, 0.0])  # wrist (w = 2), d = 3: 0.9
    batch["openpose2d"][1, 8] += torch.tensor([6.0, 8.0])  # index tip (w = 1.5), d = 10: 7.5
    conf = torch.full((B, 21), 0.5)
    conf[1, 8] = 1.0
    batch["openpose_conf"] = conf
    weights = (conf * torch.tensor([2.0] + [1.0, 1.0, 1.0, 1.5] * 5)) ** 2
    expected = (0.9 * weights[0, 0] + 7.5 * weights[1, 8]) / weights.sum()
    assert_close(call("open_2dj", pred, batch), expected, atol=1e-6)
    batch["openpose_conf"] = torch.zeros(B, 21)
    assert_close(call("open_2dj", pred, batch), 0.0)


def test_open_2dj_gradient_is_finite_at_the_detection():
    batch = gt_batch()
    j2d = batch["openpose2d"].clone().requires_grad_(True)
    call("open_2dj", perfect_prediction(batch, joints2d=j2d), batch).backward()
    assert torch.isfinite(j2d.grad).all()
    assert j2d.grad.abs().max() == 0


def test_open_bone_direc_weights_bones_by_openpose_confidence():
    batch = gt_batch()
    pred = perfect_prediction(batch)
    expected = naive_bone_direction(pred.joints2d, batch["openpose2d"], batch["openpose_conf"])
    assert_close(call("open_bone_direc", pred, batch), expected, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Photometric
# ---------------------------------------------------------------------------------------------


def flat_case(hand_colours=(0.3, 0.3)) -> tuple[Prediction, dict]:
    """Input 0.5 everywhere, mask = left half; the render covers the left half with a flat colour per sample over white."""
    batch = gt_batch()
    batch["image"] = torch.full((B, 3, H, W), 0.5)
    alpha = batch["mask"].clone()
    hand = torch.tensor(hand_colours).view(B, 1, 1, 1).expand(B, 3, H, W)
    render = Render(rgb=alpha * hand + (1 - alpha) * 1.0, alpha=alpha, soft_alpha=0.25 + 0.5 * alpha)
    return perfect_prediction(batch, render=render), batch


def test_hand_on_black_removes_the_background_exactly_for_partial_coverage():
    alpha = torch.tensor([0.0, 0.25, 1.0]).view(1, 1, 1, 3).expand(1, 1, 1, 3)
    hand = torch.tensor([0.2, 0.4, 0.6]).view(1, 3, 1, 1)
    bg = torch.tensor([1.0, 0.5, 0.0])
    render = Render(rgb=alpha * hand + (1 - alpha) * bg.view(1, 3, 1, 1), alpha=alpha)
    assert_close(hand_on_black(render, bg), alpha * hand, atol=1e-7)


@pytest.mark.parametrize("name", ["texture", "mrgb", "ssim_tex", "texture_self", "mrgb_self", "ssim_tex_self", "sil"])
def test_photometric_terms_are_zero_at_the_ground_truth(name):
    batch = gt_batch()
    assert_close(call(name, perfect_prediction(batch), batch), 0.0, atol=1e-6, msg=name)


def test_supervised_photometric_hand_values():
    pred, batch = flat_case()
    # left half: |0.3 - 0.5| = 0.2, right half: 0 - 0 => mean 0.1
    assert_close(call("texture", pred, batch), 0.1, atol=1e-7)
    # mean(M I) = 0.25, mean(R_hand) = 0.15
    assert_close(call("mrgb", pred, batch), (0.25 - 0.15) ** 2, atol=1e-8)
    masked_input = batch["image"] * batch["mask"]
    assert_close(call("ssim_tex", pred, batch), 1 - pytorch_ssim_reference(hand_on_black(pred.render, WHITE), masked_input), atol=1e-6)
    assert 0.0 < call("ssim_tex", pred, batch) < 1.0


def test_sil_is_the_l1_of_the_soft_silhouette_and_has_a_gradient():
    pred, batch = flat_case()
    soft = pred.render.soft_alpha.clone().requires_grad_(True)  # 0.75 inside, 0.25 outside the mask
    value = call("sil", replace(pred, render=Render(pred.render.rgb, pred.render.alpha, soft)), batch)
    assert_close(value, 0.25, atol=1e-7)
    value.backward()
    assert_close(soft.grad.abs(), torch.full_like(soft, 1.0 / soft.numel()), atol=1e-9)


def test_texture_confidence_follows_each_samples_dataset():
    conf = torch.tensor([[0.5] * 20 + [0.05], [0.6] * 21, [0.2] * 21])
    assert_close(texture_confidence(conf, ["freihand", "synthetic", "ho3d_v2"]), torch.tensor([0.0, 0.6, 0.2]), atol=1e-6)
    assert_close(texture_confidence(conf[:1], ["ho3d_v3"]), torch.tensor([(0.5 * 20 + 0.05) / 21]), atol=1e-7)
    # Detector keypoints (photos, rhd) use the gated rule: a missed hand (confidence 0) gives 0.
    assert_close(texture_confidence(conf, ["photos", "rhd", "photos"]), torch.tensor([0.0, 0.6, 0.2]), atol=1e-6)
    with pytest.raises(ValueError, match=r"unknown dataset 'elsewhere'; valid names: freihand"):
        texture_confidence(conf[:1], ["elsewhere"])
    with pytest.raises(ValueError, match="2 dataset names for 3 samples"):
        texture_confidence(conf, ["freihand", "rhd"])


def test_a_dataset_defined_outside_the_package_brings_its_confidence_rule_to_the_loss(monkeypatch):
    """A dataset class registered by a user's module: ``texture_self`` weights its samples by the
    class's own rule (here the largest keypoint confidence), the others by theirs."""
    monkeypatch.setattr(DATASETS, "_entries", dict(DATASETS._entries))  # the registration ends with the test

    @register_dataset("most_confident", "a test dataset: confidence = the largest keypoint confidence")
    class MostConfident(HandDataset):
        @classmethod
        def texture_confidence(cls, openpose_conf: Tensor) -> Tensor:
            return openpose_conf.amax(-1)

    pred, batch = flat_case(hand_colours=(0.3, 0.5))  # per-sample |R_hand - a I| means 0.1 and 0
    conf = torch.stack([torch.full((21,), 0.05), torch.full((21,), 0.4)])
    conf[0, 0] = 0.9  # gated rule: 0 (lowest 0.05); largest: 0.9
    batch["openpose_conf"] = conf
    batch["dataset"] = ["most_confident", "freihand"]
    t = torch.tensor([0.9, 0.4])
    assert_close(texture_confidence(conf, batch["dataset"]), t, atol=1e-7)
    assert_close(call("texture_self", pred, batch), t[0] ** 2 * 0.1 / t.pow(2).sum(), atol=1e-7)
    batch["dataset"] = ["freihand", "freihand"]
    assert_close(call("texture_self", pred, batch), 0.0, atol=1e-9)  # sample 0 gated out


def test_self_photometric_hand_values():
    pred, batch = flat_case(hand_colours=(0.3, 0.5))
    conf = torch.stack([torch.full((21,), 0.8), torch.full((21,), 0.4)])
    batch["openpose_conf"] = conf
    t2 = torch.tensor([0.64, 0.16])  # squared gated means
    # sample 0: |0.3 - 0.5| on half the pixels = 0.1; sample 1: 0
    assert_close(call("texture_self", pred, batch), (t2[0] * 0.1) / t2.sum(), atol=1e-7)
    # sample 0: |0.15 - 0.25| = 0.1; sample 1: |0.25 - 0.25| = 0
    assert_close(call("mrgb_self", pred, batch), (t2[0] * 0.1) / t2.sum(), atol=1e-7)
    alpha = pred.render.alpha
    expected = 1 - pytorch_ssim_reference(hand_on_black(pred.render, WHITE), batch["image"] * alpha)
    assert_close(call("ssim_tex_self", pred, batch), expected, atol=1e-7)


def test_self_photometric_terms_compare_like_with_like():
    """A render that reproduces the image where it covers it costs 0, whatever it covers and
    whatever the background colour; the reference's |R - I sil| charged the white background."""
    pred, batch = flat_case(hand_colours=(0.5, 0.5))
    alpha = torch.rand(B, 1, H, W, generator=torch.Generator().manual_seed(3))  # partial coverage
    for background in (WHITE, torch.tensor([0.2, 0.7, 0.1])):
        rgb = alpha * batch["image"] + (1 - alpha) * background.view(1, 3, 1, 1)
        moved = replace(pred, render=Render(rgb, alpha), background=background)
        for name in ("texture_self", "mrgb_self", "ssim_tex_self"):
            assert_close(call(name, moved, batch), 0.0, atol=1e-6, msg=name)
    reference_texture_self = (pred.render.rgb - batch["image"] * pred.render.alpha).abs().mean()
    assert reference_texture_self > 0.2  # 1.0 vs 0 on the uncovered half


# ---------------------------------------------------------------------------------------------
# Networks: perceptual and LPIPS with injected tiny networks
# ---------------------------------------------------------------------------------------------


def tiny_features() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, stride=2, padding=1))


def test_perceptual_is_the_feature_mse_of_the_composite_and_the_input():
    pred, batch = flat_case()
    network = FrozenNetwork(tiny_features())
    rgb = pred.render.rgb.clone().requires_grad_(True)
    moved = replace(pred, render=Render(rgb, pred.render.alpha))
    value = call("perceptual", moved, batch, network=network)
    mask, image = batch["mask"], batch["image"]
    composite = rgb.detach() * mask + image * (1 - mask)
    expected = ((network.network(imagenet_normalize(composite)) - network.network(imagenet_normalize(image))) ** 2).mean()
    assert_close(value, expected, atol=1e-7)
    value.backward()
    assert rgb.grad[..., W // 2 :].abs().max() == 0  # outside the mask the input is used, not the render
    assert rgb.grad[..., : W // 2].abs().max() > 0
    assert all(p.grad is None and not p.requires_grad for p in network.parameters())


def test_frozen_network_stays_in_eval_mode():
    network = FrozenNetwork(nn.Sequential(nn.Dropout(0.5)))
    network.train()
    assert not network.training
    assert not network.network.training
    x = torch.ones(4, 4)
    assert_close(network(x), x)


def test_perceptual_slice_ends_at_conv3_3_before_relu():
    """torchvision builds VGG-19's features from cfgs["E"]: a conv then a ReLU per number, a pool per "M"."""
    from torchvision.models.vgg import cfgs

    kinds = [k for item in cfgs["E"] for k in (("pool",) if item == "M" else (f"conv{item}", "relu"))]
    sliced = kinds[:VGG19_CONV3_3_END]
    assert sliced[-1] == "conv256"
    assert sum(k.startswith("conv") for k in sliced) == 7  # 2 + 2 + 3: conv3_3
    assert kinds[VGG19_CONV3_3_END] == "relu"


def test_missing_vgg_weights_name_the_file_and_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError) as info:
        load_vgg19_conv3_3()
    message = str(info.value)
    assert "vgg19-dcbb9e9d.pth" in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    assert info.value.path == tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"


def test_lpips_tex_runs_the_network_on_the_like_for_like_pair():
    pred, batch = flat_case(hand_colours=(0.3, 0.5))

    class SquaredDistance(nn.Module):  # an LPIPS-shaped stand-in: [B, 3, H, W] x2 in [-1, 1] -> [B, 1, 1, 1]
        def forward(self, x, y):
            return ((x - y) ** 2).mean(dim=(1, 2, 3), keepdim=True)

    value = call("lpips_tex", pred, batch, network=SquaredDistance())
    # sample 0: (2 * 0.3 - 2 * 0.5)^2 = 0.16 on half the pixels, sample 1: 0
    assert_close(value, (0.08 + 0.0) / 2, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# Priors
# ---------------------------------------------------------------------------------------------


def test_mpose_leaves_the_root_rotation_free():
    batch = gt_batch()
    pose = torch.zeros(B, 30)
    pose[:, :3] = 2.0
    assert_close(call("mpose", perfect_prediction(batch, pose_params=pose), batch), 0.0)
    pose[:, 3:] = 0.5
    assert_close(call("mpose", perfect_prediction(batch, pose_params=pose), batch), 0.25)


def test_shape_and_texture_priors_are_mean_squares():
    batch = gt_batch()
    shape = torch.zeros(B, 20)
    shape[0, 0] = 2.0
    texture = torch.full((B, 10), -0.5)
    pred = perfect_prediction(batch, shape_params=shape, texture_params=texture)
    assert_close(call("mshape", pred, batch), 4.0 / 40)
    assert_close(call("mtex", pred, batch), 0.25)


def test_sh_light_prior_hand_values():
    batch = gt_batch()
    white = perfect_prediction(batch).light
    assert_close(call("light_reg", perfect_prediction(batch), batch), 0.0, atol=1e-9)
    brighter = perfect_prediction(batch, light=2 * white)  # deviation 1/Y00 on 3 of 27 entries, irradiance 2 > 0
    assert_close(call("light_reg", brighter, batch), (1 / SH_Y00) ** 2 * 3 / 27, atol=1e-5)
    negative = perfect_prediction(batch, light=-white)  # deviation 2/Y00, irradiance -1 everywhere
    assert_close(call("light_reg", negative, batch), (2 / SH_Y00) ** 2 * 3 / 27 + 1.0, atol=1e-5)
    d = fibonacci_sphere(64)
    assert_close(d.norm(dim=-1), torch.ones(64), atol=1e-6)
    assert_close(d.mean(0), torch.zeros(3), atol=0.02)


def test_directional_light_prior_hand_values():
    batch = gt_batch()
    light = torch.tensor([[1.0, 1.0, 1.0, 0.0, 0.0, -1.0], [-0.5, 1.0, 1.0, 0.3, 0.2, 0.1]])
    pred = perfect_prediction(batch, light=light, light_type="directional")
    assert_close(call("light_reg", pred, batch), 1.5**2 / 6 + 0.5**2 / 6, atol=1e-7)
    with pytest.raises(ValueError, match="no prior for light type 'none'"):
        call("light_reg", replace(pred, light_type="none"), batch)


# ---------------------------------------------------------------------------------------------
# Schedules, presets, objective
# ---------------------------------------------------------------------------------------------


def test_schedule_by_global_epoch():
    schedule = WeightSchedule((1e-2, 1e-3, 1e-5), (10, 20))
    assert [schedule.at(e) for e in (1, 9, 10, 19, 20, 600)] == [1e-2, 1e-2, 1e-3, 1e-3, 1e-5, 1e-5]
    assert as_schedule(3) == WeightSchedule.constant(3.0)
    assert as_schedule(3).at(10**6) == 3.0
    assert as_schedule({"values": [1, 2], "milestones": [5]}).at(5) == 2.0
    assert schedule.to_json() == {"values": [1e-2, 1e-3, 1e-5], "milestones": [10, 20]}


@pytest.mark.parametrize(
    "values, milestones, message",
    [
        ((1.0, 2.0), (), "len\\(values\\) == len\\(milestones\\) \\+ 1"),
        ((1.0, 2.0, 3.0), (20, 10), "strictly increasing"),
        ((-1.0,), (), "finite numbers >= 0"),
        ((1.0, 2.0), (2.5,), "whole epochs"),
    ],
)
def test_invalid_schedules_say_why(values, milestones, message):
    with pytest.raises(ValueError, match=message):
        WeightSchedule(values, milestones)


def test_presets_mirror_the_reference_final_freihand_configs():
    full, weak, self_ = (preset_weights(m) for m in ("full", "weak", "self"))
    assert {n: w.at(251) for n, w in full.items()} == {
        "joint_3d": 200.0, "vert_3d": 150.0, "edge_length": 100.0, "bone_direc_3d": 6.0, "texture": 0.02,
        "mrgb": 2e-3, "ssim_tex": 0.01, "perceptual": 1e-8, "sil": 8e-4, "mpose": 1e-5, "mshape": 0.1, "mtex": 5e-3,
    }  # fmt: skip
    assert {n: w.at(300) for n, w in weak.items()} == {
        "joint_2d": 0.01, "bone_direc": 0.1, "texture": 0.01, "mrgb": 1e-3, "ssim_tex": 2e-3, "perceptual": 1e-8,
        "sil": 8e-4, "mpose": 1e-5, "mshape": 1e-5, "mtex": 5e-7,
    }  # fmt: skip
    assert {n: w.at(265) for n, w in self_.items()} == {
        "open_2dj": 1e-3, "open_bone_direc": 0.2, "texture_self": 3e-3, "mrgb_self": 1e-3, "ssim_tex_self": 1e-3,
        "perceptual": 1e-6, "mpose": 1e-4, "mshape": 0.1, "mtex": 3e-5,
    }  # fmt: skip


def test_resolve_weights_adds_drops_and_reweights():
    weights = resolve_weights(
        "weak", add={"joint_3d_norm": 100}, drop=["perceptual", "sil"], weights={"texture": {"values": [0.1, 0.2], "milestones": [300]}}
    )
    assert set(weights) == set(SUPERVISION_PRESETS.get("weak")) - {"perceptual", "sil"} | {"joint_3d_norm"}
    assert weights["joint_3d_norm"].at(1) == 100.0
    assert weights["texture"].at(299) == 0.1
    assert weights["texture"].at(300) == 0.2
    with pytest.raises(ValueError, match="'joint_2d' is already in the 'weak' preset"):
        resolve_weights("weak", add={"joint_2d": 1.0})
    with pytest.raises(ValueError, match="loss.drop: 'vert_3d' is not active"):
        resolve_weights("weak", drop=["vert_3d"])
    with pytest.raises(ValueError, match="loss.weights: 'open_2dj' is not active .* add it with loss.add"):
        resolve_weights("weak", weights={"open_2dj": 1.0})
    with pytest.raises(ValueError, match="unknown supervision 'ful' \\(did you mean 'full'\\?\\)"):
        resolve_weights("ful")


def full_batch() -> tuple[Prediction, dict]:
    """A prediction off the ground truth in every respect, and a batch with every field."""
    batch = gt_batch(seed=1)
    g = torch.Generator().manual_seed(7)
    rgb = torch.rand(B, 3, H, W, generator=g)
    alpha = (torch.rand(B, 1, H, W, generator=g) > 0.3).float()
    pred = perfect_prediction(
        batch,
        joints3d=0.05 * torch.randn(B, 21, 3, generator=g),
        verts3d=0.05 * torch.randn(B, 778, 3, generator=g),
        joints2d=100 * torch.rand(B, 21, 2, generator=g),
        pose_params=torch.randn(B, 30, generator=g),
        shape_params=torch.randn(B, 20, generator=g),
        texture_params=torch.randn(B, 10, generator=g),
        render=Render(alpha * rgb + (1 - alpha), alpha, torch.rand(B, 1, H, W, generator=g)),
    )
    return pred, batch


@pytest.mark.parametrize("mode", ["full", "weak", "self"])
@pytest.mark.parametrize("epoch", [1, 275])
def test_objective_total_is_the_weighted_sum_of_the_preset_terms(mode, epoch):
    pred, batch = full_batch()
    network = FrozenNetwork(tiny_features())
    objective = Objective(preset_weights(mode), base="l1", networks={"perceptual": network})
    out = objective(pred, batch, epoch)
    assert set(out.weighted) == set(SUPERVISION_PRESETS.get(mode))
    expected = 0.0
    for name, schedule in SUPERVISION_PRESETS.get(mode).items():
        term = LOSSES.get(name)
        options = {"base": "l1"} if term.uses_base else {}
        options.update({"network": network} if term.network else {})
        value = term.fn(pred, batch, **options)
        assert_close(out.unweighted[name], value, msg=name)
        assert out.weights[name] == schedule.at(epoch)
        expected += schedule.at(epoch) * float(value)
    assert_close(out.total, expected, rtol=1e-6, atol=0)
    assert out.nonfinite_terms() == []


def test_objective_skips_zero_weights_and_names_nonfinite_terms():
    pred, batch = full_batch()
    objective = Objective({"joint_3d": {"values": [0.0, 2.0], "milestones": [5]}, "mshape": 1.0})
    early = objective(pred, batch, epoch=1)
    assert list(early.weighted) == ["mshape"]
    assert early.weights == {"mshape": 1.0}
    late = objective(pred, batch, epoch=5)
    assert_close(late.weighted["joint_3d"], 2.0 * late.unweighted["joint_3d"])
    bad = replace(pred, shape_params=torch.full((B, 20), float("nan")))
    out = objective(bad, batch, epoch=5)
    assert out.nonfinite_terms() == ["mshape"]
    assert torch.isnan(out.total)


def test_objective_base_reaches_the_base_terms():
    pred, batch = full_batch()
    l1 = Objective({"joint_3d": 1.0}, base="l1")(pred, batch, 1).total
    l2 = Objective({"joint_3d": 1.0}, base="l2")(pred, batch, 1).total
    assert_close(l1, call("joint_3d", pred, batch, base="l1"))
    assert_close(l2, call("joint_3d", pred, batch, base="l2"))
    with pytest.raises(ValueError, match="base: expected one of \\['l1', 'l2'\\], got 'l3'"):
        Objective({"joint_3d": 1.0}, base="l3")


def test_missing_inputs_name_the_term_and_the_field():
    pred, batch = full_batch()
    objective = Objective(preset_weights("weak"), networks={"perceptual": FrozenNetwork(tiny_features())})
    del batch["mask"]
    with pytest.raises(MissingInputError, match="loss 'texture' needs batch field\\(s\\) \\['mask'\\]"):
        objective(pred, batch, 1)
    with pytest.raises(MissingInputError, match="'sil' needs \\['mask'\\]"):
        objective.check_fields(batch.keys())
    assert objective.required_fields()["joint_2d"] == ("joints2d",)
    assert objective.needs_render
    with pytest.raises(MissingInputError, match="loss 'edge_length' needs prediction field\\(s\\) \\['eval_faces'\\]"):
        Objective({"edge_length": 1.0})(replace(pred, eval_faces=None), gt_batch(), 1)
    with pytest.raises(MissingInputError, match="'sil' needs prediction field\\(s\\) \\['render.soft_alpha'\\].*render.soft_silhouette"):
        Objective({"sil": 1.0})(replace(pred, render=Render(pred.render.rgb, pred.render.alpha)), gt_batch(), 1)
    with pytest.raises(MissingInputError, match="'mtex' needs prediction field\\(s\\) \\['texture_params'\\].*model.texture"):
        Objective({"mtex": 1.0})(replace(pred, texture_params=None), gt_batch(), 1)


def test_objective_rejects_unknown_terms_and_misplaced_networks():
    with pytest.raises(ValueError, match="unknown loss 'join_3d' \\(did you mean 'joint_3d'\\?\\)"):
        Objective({"join_3d": 1.0})
    with pytest.raises(ValueError, match="networks: 'joint_3d' is not an active term that runs a network"):
        Objective({"joint_3d": 1.0}, networks={"joint_3d": nn.Identity()})
    objective = Objective({"perceptual": 1.0, "joint_3d": 1.0}, networks={"perceptual": FrozenNetwork(tiny_features())})
    assert objective.terms == ("perceptual", "joint_3d")
    assert list(objective.networks) == ["perceptual"]


@pytest.mark.parametrize("epoch, expected", [(1, False), (2, False), (3, True), (9, True)])
def test_render_is_needed_only_while_a_render_term_weighs(epoch, expected):
    # texture reads the render from epoch 3 on; joint_3d never does.
    objective = Objective({"joint_3d": 1.0, "texture": WeightSchedule((0.0, 0.02), (3,))})
    assert objective.needs_render_at(epoch) is expected


def test_a_staged_objective_runs_without_a_render_while_render_terms_weigh_zero():
    pred, batch = full_batch()
    objective = Objective({"joint_3d": 1.0, "texture": WeightSchedule((0.0, 0.02), (3,))})
    out = objective(replace(pred, render=None), batch, 1)
    assert set(out.weighted) == {"joint_3d"}
    assert objective.needs_render
