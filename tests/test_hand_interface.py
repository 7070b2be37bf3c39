"""Every registered hand model against the hand-model interface (``hifihr.hand.interface``): the
sizes it declares are the sizes its forward accepts and returns, looped over ``HAND_MODELS``
as timm's tests loop over ``list_models``. NIMBLE and MANO are built from generated files."""

from __future__ import annotations

import pytest
import torch

from fixtures.hand_assets import write_mano_file, write_nimble_assets
from hifihr.hand import HAND_MODELS, ROOT_POSE_SIZE, HandModel, load_hand_model


def _open_hand(tmp_path):
    return load_hand_model("open_hand", shape_ncomp=4, pose_ncomp=5, tex_ncomp=3)


def _nimble(tmp_path):
    write_nimble_assets(tmp_path / "nimble", tex_size=8)
    return load_hand_model("nimble", tmp_path / "nimble", shape_ncomp=4, pose_ncomp=5, tex_ncomp=3)


def _mano(tmp_path):
    write_mano_file(tmp_path / "MANO_RIGHT.pkl")
    return load_hand_model("mano", mano_dir=tmp_path, num_pca_comps=6)


#: How each registered model is built offline (generated files, or what the project ships).
OFFLINE = {"open_hand": _open_hand, "nimble": _nimble, "mano": _mano}


@pytest.fixture(params=HAND_MODELS.names())
def hand(request, tmp_path):
    return OFFLINE[request.param](tmp_path)


def _params(hand, batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shape = 0.5 * torch.randn(batch, hand.num_shape, generator=gen)
    pose = 0.3 * torch.randn(batch, hand.num_pose, generator=gen)
    texture = torch.randn(batch, hand.num_texture, generator=gen)
    return shape, pose, texture


def test_every_registered_model_is_built_offline_here():
    assert sorted(OFFLINE) == HAND_MODELS.names()


def test_the_layer_implements_the_protocol(hand):
    assert isinstance(hand, HandModel)


def test_the_pose_counts_the_root_rotation(hand):
    zero_articulation = torch.zeros(1, hand.num_pose - ROOT_POSE_SIZE)
    turned = hand(None, torch.cat([torch.tensor([[0.0, 0.0, 1.0]]), zero_articulation], 1))
    still = hand(None, torch.cat([torch.zeros(1, ROOT_POSE_SIZE), zero_articulation], 1))
    # a root rotation moves the keypoints rigidly: their distances from each other stay
    assert torch.allclose(torch.cdist(turned.joints, turned.joints), torch.cdist(still.joints, still.joints), atol=1e-6)


def test_a_root_rotation_changes_the_keypoints(hand):
    zero_articulation = torch.zeros(1, hand.num_pose - ROOT_POSE_SIZE)
    turned = hand(None, torch.cat([torch.tensor([[0.0, 0.0, 1.0]]), zero_articulation], 1))
    still = hand(None, torch.cat([torch.zeros(1, ROOT_POSE_SIZE), zero_articulation], 1))
    assert not torch.allclose(turned.joints, still.joints)


def test_zero_shape_is_the_default_shape(hand):
    shape, pose, texture = _params(hand)
    explicit = hand(torch.zeros_like(shape), pose, texture)
    default = hand(None, pose, texture)
    assert torch.equal(explicit.verts, default.verts)


def test_the_shape_vector_changes_the_mesh(hand):
    shape, pose, texture = _params(hand)
    assert not torch.allclose(hand(shape, pose, texture).verts, hand(None, pose, texture).verts)


#: The HandOutput field a texture of each kind fills, [B, ..., 3] RGB.
TEXTURE_FIELD = {"uv": "texture", "vertex": "vertex_colors"}


def test_the_texture_vector_fills_the_field_of_its_kind(hand):
    out = hand(*_params(hand))
    filled = getattr(out, TEXTURE_FIELD[hand.texture_kind])
    assert (filled.shape[0], filled.shape[-1]) == (2, 3)


def test_the_texture_field_of_the_other_kind_is_none(hand):
    out = hand(*_params(hand))
    (other,) = (name for kind, name in TEXTURE_FIELD.items() if kind != hand.texture_kind)
    assert getattr(out, other) is None


def test_vertex_colours_colour_every_vertex(hand):
    if hand.texture_kind != "vertex":
        pytest.skip("a UV texture has no vertex colours")
    out = hand(*_params(hand))
    assert out.vertex_colors.shape == out.verts.shape


def test_vertex_colours_are_the_sigmoid_of_the_texture_vector(hand):
    if hand.texture_kind != "vertex":
        pytest.skip("a UV texture has no vertex colours")
    shape, pose, texture = _params(hand)
    out = hand(shape, pose, texture)
    assert torch.equal(out.vertex_colors, torch.sigmoid(texture).reshape(2, -1, 3))


def test_the_uv_map_is_the_diffuse_map_of_the_texture_vector(hand):
    if hand.texture_kind != "uv":
        pytest.skip("a vertex texture has no map")
    shape, pose, texture = _params(hand)
    assert torch.equal(hand(shape, pose, texture).texture, hand.diffuse_map(texture))


def test_a_vertex_texture_has_no_diffuse_map(hand):
    if hand.texture_kind != "vertex":
        pytest.skip("a UV texture has a map")
    assert hand.diffuse_map(torch.zeros(1, hand.num_texture)) is None


def test_a_wrong_texture_size_is_refused(hand):
    shape, pose, texture = _params(hand)
    with pytest.raises(ValueError, match="texture: expected"):
        hand(shape, pose, texture[:, :-1])


def test_placed_puts_the_root_keypoint_at_the_target(hand):
    out = hand(*_params(hand))
    target = torch.tensor([[0.05, -0.02, 0.6], [-0.1, 0.03, 0.9]])
    placed = out.placed(target, root_index=9)
    torch.testing.assert_close(placed.joints[:, 9], target)


def test_placed_moves_every_position_by_one_translation(hand):
    out = hand(*_params(hand))
    target = torch.tensor([[0.05, -0.02, 0.6], [-0.1, 0.03, 0.9]])
    placed = out.placed(target, root_index=9)
    shift = (target - out.joints[:, 9])[:, None]  # independent: the root's displacement
    for name in ("verts", "joints", "eval_verts", "model_joints"):
        torch.testing.assert_close(getattr(placed, name), getattr(out, name) + shift, msg=name)


def test_placed_at_zero_is_root_relative(hand):
    out = hand(*_params(hand))
    relative = out.placed(torch.zeros(2, 3))
    torch.testing.assert_close(relative.joints, out.joints - out.joints[:, 9:10])
