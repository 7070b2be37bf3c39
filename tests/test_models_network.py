"""The full network on a generated NIMBLE asset and a generated MANO file: placement,
projection, rendering and where gradients flow."""

from __future__ import annotations

import pytest
import torch

from fixtures.hand_assets import write_mano_file, write_nimble_assets
from helpers import assert_close
from hifihr.hand import load_hand_model
from hifihr.models.encoders import Encoder
from hifihr.models.network import HiFiHR
from hifihr.render import Renderer, project_points

SIZE = 32


def _batch(batch=2):
    gen = torch.Generator().manual_seed(0)
    K = torch.tensor([[60.0, 0, SIZE / 2], [0, 60.0, SIZE / 2], [0, 0, 1]]).repeat(batch, 1, 1)
    root = torch.tensor([0.0, 0.0, 0.5]) + 0.02 * torch.randn(batch, 3, generator=gen)
    return torch.rand(batch, 3, SIZE, SIZE, generator=gen), K, root


def _nimble_model(tmp_path, **kwargs):
    write_nimble_assets(tmp_path, tex_size=8)
    hand = load_hand_model("nimble", tmp_path)
    torch.manual_seed(0)
    # The light head needs a 224 input; at SIZE the tests run without it unless asked.
    kwargs.setdefault("light", "none")
    return HiFiHR(hand, Encoder("resnet18"), Renderer(SIZE, supersample=1, shading="albedo"), **kwargs)


def _grad_norm(module):
    return sum(p.grad.abs().sum().item() for p in module.parameters() if p.grad is not None)


def test_prediction_is_root_relative_and_projects_at_the_root(tmp_path):
    model = _nimble_model(tmp_path)
    image, K, root = _batch()
    pred = model(image, K, root)
    assert pred.joints3d.shape == (2, 21, 3) and pred.verts3d.shape == (2, 778, 3)
    assert_close(pred.joints3d[:, 9], torch.zeros(2, 3), atol=0.0)
    assert_close(pred.joints2d[:, 9], project_points(root[:, None], K)[:, 0, :2], atol=1e-4)
    # Every projected keypoint equals the projection of its root-relative position + root.
    assert_close(pred.joints2d, project_points(pred.joints3d + root[:, None], K)[..., :2], atol=1e-4)
    assert pred.render.rgb.shape == (2, 3, SIZE, SIZE) and pred.render.soft_alpha.shape == (2, 1, SIZE, SIZE)
    assert pred.texture_params.shape == (2, 10) and pred.pose_params.shape == (2, 30)


def test_render_matches_a_direct_render_of_the_placed_hand(tmp_path):
    model = _nimble_model(tmp_path).eval()
    image, K, root = _batch()
    with torch.no_grad():
        pred = model(image, K, root)
        features = model.encoder(image)
        trunk = model.trunk(features.global_feature)
        hand = model.hand(model.shape_head(trunk), model.pose_head(trunk), model.texture_head(trunk))
        placed = hand.verts - hand.joints[:, 9:10] + root[:, None]
        from hifihr.render import TexturesUV

        direct = model.renderer.render(placed, hand.faces, K, TexturesUV(hand.texture, hand.verts_uvs, hand.faces_uvs))
    assert_close(pred.render.rgb, direct.rgb, atol=1e-5)
    assert pred.render.alpha.sum() > 0


def test_gradients_reach_the_heads_their_losses_use(tmp_path):
    model = _nimble_model(tmp_path)
    image, K, root = _batch()
    pred = model(image, K, root)
    pred.joints3d.square().sum().backward(retain_graph=True)
    for name in ("encoder", "trunk", "pose_head", "shape_head"):
        assert _grad_norm(getattr(model, name)) > 0, name
    assert _grad_norm(model.texture_head) == 0
    model.zero_grad()
    (pred.render.rgb * torch.rand_like(pred.render.rgb)).sum().backward()
    assert _grad_norm(model.texture_head) > 0


def test_mean_shape_and_no_texture(tmp_path):
    model = _nimble_model(tmp_path, use_mean_shape=True, texture=False)
    pred = model(*_batch())
    assert torch.equal(pred.shape_params, torch.zeros(2, 20)) and pred.texture_params is None
    assert model.texture_head is None


def test_predicted_root_learns_from_2d_keypoints(tmp_path):
    model = _nimble_model(tmp_path, root="predicted")
    image, K, _ = _batch()
    pred = model(image, K)
    pred.joints2d.sum().backward()
    assert _grad_norm(model.camera_head) > 0
    with pytest.raises(ValueError, match="pass root"):
        _nimble_model(tmp_path)(image, K)


def test_light_heads_at_224(tmp_path):
    write_nimble_assets(tmp_path, tex_size=8)
    hand = load_hand_model("nimble", tmp_path)
    image = torch.rand(2, 3, 224, 224)
    K = torch.tensor([[400.0, 0, 112], [0, 400.0, 112], [0, 0, 1]]).repeat(2, 1, 1)
    root = torch.tensor([[0.0, 0.0, 0.6]]).repeat(2, 1)
    for light, shading, shape in (("sh", "sh", (2, 9, 3)), ("directional", "phong", (2, 6))):
        model = HiFiHR(hand, Encoder("resnet18"), Renderer(224, supersample=1, shading=shading), light=light)
        pred = model(image, K, root)
        assert pred.light.shape == shape and pred.light_type == light
        pred.render.rgb.mean().backward()
        assert _grad_norm(model.light_head) > 0


def test_mano_hand_with_vertex_colours(tmp_path):
    write_mano_file(tmp_path / "MANO_RIGHT.pkl")
    hand = load_hand_model("mano", mano_dir=tmp_path, num_pca_comps=45)
    model = HiFiHR(hand, Encoder("resnet18"), Renderer(SIZE, supersample=1, shading="albedo"), light="none")
    pred = model(*_batch())
    assert pred.pose_params.shape == (2, 48) and pred.texture_params.shape == (2, 778 * 3)
    assert pred.eval_faces.shape == (1538, 3) and pred.render.rgb.shape == (2, 3, SIZE, SIZE)
