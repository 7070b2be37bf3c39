"""Left hands in the refinement (hifihr.fit.mirror, scripts/fit.py --side) and HAM's albedo modes."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from helpers import assert_close
from test_fit import dataset, hand, run_script, tiny_options, true_views  # noqa: F401  (fixtures)

from hifihr.data.multiview import list_hands, load_multiview
from hifihr.fit import Fitter, HamStage, HandState, posed
from hifihr.fit.mirror import fit_left_hand, mirror_points, mirror_sh, mirror_views, rewind
from hifihr.fit.views import read_hand_side
from hifihr.render import Renderer, SHLight, TexturesUV


def test_the_mirrored_scene_renders_the_flipped_images(dataset, hand):
    # the right hand rendered in its views, and its mirror image (vertices X -> -X, faces
    # re-wound, lights mirrored) rendered in the mirrored views: the same pictures, flipped
    (folder,) = list_hands(dataset)
    case = load_multiview(folder)
    views = true_views(case)
    mirrored = mirror_views(views)
    state = HandState(case.shape[None], case.pose[None], case.texture[None], torch.zeros(1, 3), case.lights)
    verts, joints, texture_map = posed(hand, state)
    renderer = Renderer(views.image_size, supersample=2, shading="sh", background=(0.0, 0.0, 0.0))

    def render(v, faces, faces_uvs, lights, cams):
        textures = TexturesUV(texture_map, hand.verts_uvs, faces_uvs)
        R, t = cams.world_to_camera()
        return renderer.render(v.expand(cams.num_views, -1, -1), faces, cams.K, textures, light=SHLight(lights), R=R, t=t)

    right = render(verts, hand.faces, hand.faces_uvs, case.lights, views)
    left = render(mirror_points(verts), rewind(hand.faces), rewind(hand.faces_uvs), mirror_sh(case.lights), mirrored)
    # equal but for supersamples on a triangle edge, where the mirrored pixel centre may pick the neighbour
    assert (left.rgb - right.rgb.flip(-1)).abs().mean() < 2e-3
    assert (left.alpha - right.alpha.flip(-1)).abs().mean() < 2e-3
    assert torch.equal(mirrored.images, views.images.flip(-1)) and torch.equal(mirrored.masks, views.masks.flip(-1))
    # the mirrored keypoints are the projections of the mirrored joints
    assert_close(mirrored.project(mirror_points(joints[0])), mirrored.keypoints2d, atol=1e-3)
    # mirroring twice gives the views back
    twice = mirror_views(mirrored)
    for name in ("images", "K", "R", "t", "masks", "keypoints2d"):
        assert_close(getattr(twice, name), getattr(views, name), atol=1e-4)


def test_a_left_hand_is_fitted_through_the_mirror(dataset, hand):
    # the left-hand scene: the synthetic right hand's views mirrored; its true hand is the mirror
    # of the right one. Fitted as a left hand, the result lands on it; as a right hand it cannot.
    (folder,) = list_hands(dataset)
    case = load_multiview(folder)
    left_views = mirror_views(true_views(case))
    true_joints = mirror_points(case.joints_world)
    result = fit_left_hand(hand, left_views, tiny_options())
    assert result.left
    assert torch.equal(result.faces, rewind(hand.faces)) and torch.equal(result.faces_uvs, rewind(hand.faces_uvs))
    error = (result.joints - true_joints).norm(dim=-1).mean()
    start = (result.initial_joints - true_joints).norm(dim=-1).mean()
    assert error < 0.5 * start and error < 0.01  # metres
    # the same fit as the right hand of the unmirrored views, mirrored
    right = Fitter(hand, true_views(case), tiny_options()).run()
    assert_close(result.joints, mirror_points(right.joints), atol=2e-3)
    as_right = Fitter(hand, left_views, dataclasses.replace(tiny_options(), ham=HamStage(enabled=False))).run()
    assert (as_right.joints - true_joints).norm(dim=-1).mean() > 2 * error


def test_fit_script_fits_a_left_photo_from_the_keypoints_side(dataset, tmp_path):
    (folder,) = list_hands(dataset)
    case = load_multiview(folder).select([0])
    views = mirror_views(true_views(case))
    image = tmp_path / "left.png"
    import cv2

    cv2.imwrite(str(image), cv2.cvtColor((views.images[0].permute(1, 2, 0).numpy() * 255).round().astype("uint8"), cv2.COLOR_RGB2BGR))
    kp = tmp_path / "kp.json"
    kp.write_text(json.dumps({"left.png": [{"uv": views.keypoints2d[0].tolist(), "side": "left"}]}))
    K = views.K[0]
    # one view: the camera frame is the world frame; the first camera's frame is the mirrored one
    true_cam = mirror_points(case.joints_world @ case.R[0].T + case.t[0])
    out = tmp_path / "out"
    args = ["--image", str(image), "--K", *(str(float(v)) for v in (K[0, 0], K[1, 1], K[0, 2], K[1, 2]))]
    args += ["--keypoints", str(kp), "--keypoints-key", "left.png", "--out", str(out), "--iterations", "60", "3", "3", "--quiet"]
    assert run_script(args) == 0
    record = json.loads((out / "fit.json").read_text())
    assert record["side"] == "left"
    cam = torch.tensor(record["views"][0]["joints3d_camera_m"])
    projected = cam @ K.T
    assert (projected[:, :2] / projected[:, 2:] - views.keypoints2d[0]).norm(dim=-1).mean() < 2.0
    assert abs(cam[9, 2] - true_cam[9, 2]) < 0.1
    # the thumb is on the image's other side of the middle finger than a right hand's would be
    assert torch.sign(cam[4, 0] - cam[9, 0]) == torch.sign(true_cam[4, 0] - true_cam[9, 0])
    assert run_script([*args, "--side", "right"]) == 0
    assert json.loads((out / "fit.json").read_text())["side"] == "right"


def test_read_hand_side(tmp_path):
    rows = [[float(i), float(i)] for i in range(21)]
    path = tmp_path / "kp.json"
    path.write_text(json.dumps({"a.jpg": [{"uv": rows, "side": "left"}, {"uv": rows}], "b.jpg": rows, "c.jpg": {"uv": rows, "handedness": "up"}}))
    assert read_hand_side(path, "a.jpg") == "left"
    assert read_hand_side(path, "a.jpg", hand_index=1) is None
    assert read_hand_side(path, "b.jpg") is None
    with pytest.raises(ValueError, match="'left' or 'right'"):
        read_hand_side(path, "c.jpg")


@pytest.mark.parametrize("albedo", ["vertex", "uv"])
def test_ham_albedo_modes_lower_the_loss_and_start_from_the_texture_space(dataset, hand, albedo):
    (folder,) = list_hands(dataset)
    views = true_views(load_multiview(folder))
    options = tiny_options(albedo=albedo)
    options = dataclasses.replace(
        options, keypoints=dataclasses.replace(options.keypoints, enabled=False), render=dataclasses.replace(options.render, enabled=False)
    )
    result = Fitter(hand, views, options).run()
    (record,) = result.stages
    assert record.losses["total"][-1] < record.losses["total"][0]
    # the free albedo starts as the texture-space map (zero Laplacian of the change in vertex mode)
    if albedo == "vertex":
        assert record.losses["albedo_laplacian"][0] == 0.0
    changed = (result.texture_map - result.initial_texture_map.clamp(0, 1)).abs()
    assert 0 < changed.max() < 0.5
    with pytest.raises(ValueError, match="vertex, uv"):
        HamStage(albedo="texels")
