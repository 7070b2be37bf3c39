"""The refinement (hifihr.fit), the multi-view synthetic data and scripts/fit.py on tiny cases."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_close

from hifihr.data.multiview import MultiViewOptions, camera_directions, generate_multiview, list_hands, load_multiview, look_at
from hifihr.fit import FitOptions, Fitter, FitViews, HandState, posed, read_keypoints_json
from hifihr.fit.fitter import background_colours, keypoint_error, photometric_error
from hifihr.hand import load_hand_model
from hifihr.render import project_points

ROOT = Path(__file__).resolve().parents[1]
REAL_PHOTOS = ROOT.parent / "shared" / "real_photos"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mv") / "mv"
    generate_multiview(out, num_hands=1, views=2, holdout=1, seed=3, options=MultiViewOptions(image_size=48))
    return out


@pytest.fixture(scope="module")
def hand():
    return load_hand_model("open_hand")


def true_views(case, keypoints: bool = True) -> FitViews:
    """A multi-view case's views with its true 2D keypoints (or none)."""
    uv = project_points(case.joints_world[None].expand(case.num_views, -1, -1), case.K, case.R, case.t)[..., :2]
    return FitViews(case.images, case.K, case.R, case.t, case.masks, uv if keypoints else None)


def case_views(folder: Path, keypoints: bool = True) -> FitViews:
    return true_views(load_multiview(folder), keypoints)


def tiny_options(**ham) -> FitOptions:
    options = FitOptions()
    return dataclasses.replace(
        options,
        keypoints=dataclasses.replace(options.keypoints, iterations=30),
        render=dataclasses.replace(options.render, iterations=8),
        ham=dataclasses.replace(options.ham, iterations=8, **ham),
    )


def test_look_at_and_camera_directions():
    directions = camera_directions(8)
    assert_close(torch.from_numpy(directions[0]), torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64), atol=1e-12)
    assert_close(torch.from_numpy(np.linalg.norm(directions, axis=1)), torch.ones(8, dtype=torch.float64), atol=1e-12)
    for d in directions:
        centre = 0.5 * d
        R, t = look_at(centre)
        assert_close(torch.from_numpy(R @ R.T), torch.eye(3, dtype=torch.float64), atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0)
        assert_close(torch.from_numpy(-R.T @ t), torch.from_numpy(centre), atol=1e-12)  # camera centre
        assert_close(torch.from_numpy(R @ np.zeros(3) + t), torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64), atol=1e-12)


def test_multiview_layout_and_loader(dataset):
    (folder,) = list_hands(dataset)
    fit, holdout = load_multiview(folder, "fit"), load_multiview(folder, "holdout")
    assert fit.images.shape == (2, 3, 48, 48) and holdout.images.shape == (1, 3, 48, 48)
    assert fit.names == ("view_00.png", "view_01.png") and holdout.names == ("view_02.png",)
    # the root keypoint is the world origin, where every camera looks: it projects near (cx, cy)
    uv = project_points(fit.joints_world[None, 9:10].expand(2, -1, -1), fit.K, fit.R, fit.t)[:, 0, :2]
    assert_close(uv, fit.K[:, :2, 2], atol=1e-4)
    # every view sees the hand, and its mask covers the projected keypoints of the palm
    assert (fit.masks.mean((1, 2, 3)) > 0.05).all()
    hand = load_hand_model("open_hand")
    out = hand(fit.shape[None], fit.pose[None], fit.texture[None])
    rebuilt = out.verts[0] - out.joints[0, 9]
    assert_close(rebuilt, fit.verts_world, atol=1e-5)  # the stored mesh is the layer's, rooted at keypoint 9
    with pytest.raises(ValueError, match="split"):
        load_multiview(folder, "test")
    with pytest.raises(FileNotFoundError, match="meta.json"):
        load_multiview(dataset)


def test_fit_views_validate_their_inputs():
    with pytest.raises(ValueError, match="extrinsics"):
        FitViews(torch.zeros(2, 3, 8, 8), torch.eye(3).expand(2, 3, 3))
    with pytest.raises(ValueError, match="keypoints2d"):
        FitViews(torch.zeros(1, 3, 8, 8), torch.eye(3)[None], keypoints2d=torch.zeros(1, 20, 2))


def test_keypoints_json_formats(tmp_path):
    rows = np.arange(42, dtype=float).reshape(21, 2)
    (tmp_path / "a.json").write_text(json.dumps(rows.tolist()))
    (tmp_path / "b.json").write_text(json.dumps({"img.jpg": [{"uv": rows.tolist(), "visible": [1] * 20 + [0]}]}))
    kp, conf = read_keypoints_json(tmp_path / "a.json")
    assert_close(kp, torch.from_numpy(rows).float()) and conf.sum() == 21
    kp, conf = read_keypoints_json(tmp_path / "b.json", "img.jpg")
    assert_close(kp, torch.from_numpy(rows).float()) and conf.tolist()[-1] == 0.0
    with pytest.raises(ValueError, match="no entry"):
        read_keypoints_json(tmp_path / "b.json", "other.jpg")
    with pytest.raises(ValueError, match="hand index"):
        read_keypoints_json(tmp_path / "b.json", "img.jpg", hand_index=1)


def test_photometric_error_is_zero_at_the_true_hand(dataset, hand):
    (folder,) = list_hands(dataset)
    case = load_multiview(folder)
    views = case_views(folder)
    fitter = Fitter(hand, views, dataclasses.replace(FitOptions(), supersample=3))
    state = HandState(case.shape[None], case.pose[None], case.texture[None], torch.zeros(1, 3), case.lights)
    verts, joints, texture_map = posed(hand, state)
    assert_close(verts[0], case.verts_world, atol=1e-5)
    assert keypoint_error(views, joints[0]).item() < 1e-6
    from hifihr.render import TexturesUV

    render = fitter.render(verts, hand.faces, TexturesUV(texture_map, hand.verts_uvs, hand.faces_uvs), case.lights)
    assert photometric_error(render, views, fitter.background).item() < 4e-3  # 8-bit rounding, JPEG-free PNGs
    # the flat backgrounds are recovered from outside the masks
    outside = views.images[:, :, 0, 0]
    assert_close(background_colours(views.images, views.masks), outside, atol=1.5 / 255)


def test_each_stage_lowers_its_loss_and_keeps_the_topology(dataset, hand):
    (folder,) = list_hands(dataset)
    views = case_views(folder)
    result = Fitter(hand, views, tiny_options()).run()
    assert [s.name for s in result.stages] == ["keypoints", "render", "ham"]
    for stage in result.stages:
        total = stage.losses["total"]
        assert len(total) == {"keypoints": 30, "render": 8, "ham": 8}[stage.name]
        assert total[-1] < total[0], stage.name
        assert stage.seconds > 0
    assert torch.equal(result.faces, hand.faces) and result.verts.shape == result.parametric_verts.shape
    case = load_multiview(folder)
    before = (result.initial_joints - case.joints_world).norm(dim=-1).mean()
    after = (result.joints - case.joints_world).norm(dim=-1).mean()
    assert after < 0.5 * before


def test_ham_with_subdivision_refines_the_faces(dataset, hand):
    (folder,) = list_hands(dataset)
    views = case_views(folder)
    options = tiny_options(subdivide=True)
    options = dataclasses.replace(
        options, keypoints=dataclasses.replace(options.keypoints, enabled=False), render=dataclasses.replace(options.render, enabled=False)
    )
    result = Fitter(hand, views, options).run()
    assert [s.name for s in result.stages] == ["ham"]
    num_faces = hand.faces.shape[0]
    assert result.faces.shape == (4 * num_faces, 3)
    assert_close(result.parametric_verts, result.initial_verts)
    # the layer's vertices come first; the ham offsets stay small (regularised)
    assert (result.verts[: hand.faces.max() + 1] - result.initial_verts).norm(dim=-1).max() < 0.01
    assert result.stages[0].losses["total"][-1] < result.stages[0].losses["total"][0]


def run_script(args: list[str]) -> int:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import fit as fit_script
    finally:
        sys.path.pop(0)
    return fit_script.main(args)


def test_fit_script_multiview_writes_every_output(dataset, tmp_path):
    (folder,) = list_hands(dataset)
    out = tmp_path / "out"
    code = run_script(["--multiview", str(folder), "--keypoints", "gt", "--out", str(out), "--iterations", "20", "3", "3", "--quiet"])
    assert code == 0
    for name in ("hand.obj", "hand.glb", "hand_diffuse.png", "losses.png", "overlay_00.png", "overlay_01.png", "fit.json"):
        assert (out / name).is_file(), name
    record = json.loads((out / "fit.json").read_text())
    case = load_multiview(folder)
    world = torch.tensor(record["joints3d_world_m"])
    for i, view in enumerate(record["views"]):
        cam = torch.tensor(view["joints3d_camera_m"])
        assert_close(cam, world @ case.R[i].T + case.t[i], atol=1e-5)
        projected = cam @ case.K[i].T
        assert_close(torch.tensor(view["joints2d_px"]), projected[:, :2] / projected[:, 2:], atol=1e-3)
    assert set(record["stages"]) == {"keypoints", "render", "ham"}


def test_fit_script_single_photo(dataset, tmp_path):
    (folder,) = list_hands(dataset)
    case = load_multiview(folder)
    image = folder / "view_00.png"
    K = case.K[0]
    uv = project_points(case.joints_world[None], K[None], case.R[:1], case.t[:1])[0, :, :2]
    (tmp_path / "kp.json").write_text(json.dumps({"keypoints": uv.tolist()}))
    out = tmp_path / "photo"
    args = ["--image", str(image), "--K", *(str(float(v)) for v in (K[0, 0], K[1, 1], K[0, 2], K[1, 2]))]
    args += ["--keypoints", str(tmp_path / "kp.json"), "--out", str(out), "--iterations", "60", "3", "3", "--quiet"]
    assert run_script(args) == 0
    record = json.loads((out / "fit.json").read_text())
    cam = torch.tensor(record["views"][0]["joints3d_camera_m"])
    true_cam = case.joints_world @ case.R[0].T + case.t[0]
    # one view: the camera frame is the world frame, and the keypoints land near the true ones
    assert_close(cam, torch.tensor(record["joints3d_world_m"]), atol=1e-6)
    projected = cam @ K.T
    assert (projected[:, :2] / projected[:, 2:] - uv).norm(dim=-1).mean() < 2.0
    assert abs(cam[9, 2] - true_cam[9, 2]) < 0.1  # depth from the hand's size, within 10 cm
    assert run_script(["--image", str(image), "--out", str(out), "--quiet"]) == 2  # no K


@pytest.mark.slow
@pytest.mark.skipif(not REAL_PHOTOS.is_dir(), reason="../shared/real_photos (research-only photos) is not present")
def test_fit_script_on_a_real_photo_lowers_the_keypoint_error(tmp_path):
    key = "mmpose_interhand26m/image2017.jpg"
    annotations = REAL_PHOTOS / "annotations.json"
    K = json.loads(annotations.read_text())[key][0]["K"]
    out = tmp_path / "real"
    args = ["--image", str(REAL_PHOTOS / key), "--K", str(K[0][0]), str(K[1][1]), str(K[0][2]), str(K[1][2])]
    args += ["--keypoints", str(annotations), "--keypoints-key", key, "--out", str(out), "--iterations", "100", "10", "10", "--quiet"]
    assert run_script(args) == 0
    record = json.loads((out / "fit.json").read_text())
    uv_true, _ = read_keypoints_json(annotations, key)
    assert torch.tensor(record["views"][0]["joints2d_px"]).sub(uv_true).norm(dim=-1).mean() < 15.0


def test_fit_light_recovers_the_light_of_a_view_and_the_scores_agree(dataset, hand):
    from hifihr.fit import fit_light
    from hifihr.fit.evaluate import geometry_errors, novel_view_scores
    from hifihr.render import Renderer, SHLight, TexturesUV

    (folder,) = list_hands(dataset)
    hold = load_multiview(folder, "holdout")
    views = FitViews(hold.images, hold.K, hold.R, hold.t, hold.masks)
    state = HandState(hold.shape[None], hold.pose[None], hold.texture[None], torch.zeros(1, 3), hold.lights)
    verts, _, texture_map = posed(hand, state)
    renderer = Renderer(views.image_size, supersample=3, shading="sh", background=(0.0, 0.0, 0.0))
    textures = TexturesUV(texture_map, hand.verts_uvs, hand.faces_uvs)
    lights = fit_light(renderer, verts, hand.faces, textures, views)
    shade = lambda light: renderer.render(verts, hand.faces, views.K, textures, light=SHLight(light), R=views.R, t=views.t).rgb  # noqa: E731
    true_render, fitted_render = shade(hold.lights), shade(lights)
    covered = renderer.render(verts, hand.faces, views.K, textures, R=views.R, t=views.t).alpha > 0.99
    # the same shading where the hand is seen (up to the images' 8-bit rounding and clipping)
    assert (true_render - fitted_render).abs().mul(covered).sum() / covered.sum() / 3 < 5e-3
    scores, _ = novel_view_scores(verts[0].detach(), hand.faces, hand.verts_uvs, hand.faces_uvs, texture_map[0].detach(), views)
    assert scores.mean_psnr > 38.0 and scores.mean_ssim > 0.98
    errors = geometry_errors(verts[0].detach(), hold.verts_world, hand.faces)
    assert errors.pa_mpvpe_mm < 1e-3 and errors.p2s_mm < 1e-3


def test_checkpoint_start_reproduces_the_networks_hand(tmp_path):
    from hifihr.config import config_from_dict, config_to_dict
    from hifihr.demo import Frame, load_demo_model, reconstruct
    from hifihr.engine.checkpoint import CHECKPOINT_FORMAT, save_checkpoint
    from hifihr.fit import single_view
    from hifihr.fit.initial import state_from_checkpoint
    from hifihr.models import build_model

    cfg = config_from_dict(
        {
            "hand": {"model": "open_hand"},
            "model": {"backbone": "resnet18", "pretrained": False, "light": "sh", "root": "predicted", "mean_orientation": [1.5707963, 0.0, 0.3]},
            "render": {"image_size": 96, "supersample": 1},
        }
    )
    torch.manual_seed(0)
    model = build_model(cfg.hand, cfg.model, cfg.render)
    path = tmp_path / "model.pt"
    save_checkpoint({"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "config": config_to_dict(cfg)}, path)
    image = torch.rand(3, 80, 96, generator=torch.Generator().manual_seed(0))
    K = (120.0, 120.0, 48.0, 40.0)
    views = single_view(image, K)
    state, net_hand = state_from_checkpoint(path, views)
    net, _ = load_demo_model(path, torch.device("cpu"))
    K_full = np.array([[120.0, 0, 48.0], [0, 120.0, 40.0], [0, 0, 1]])
    (expected,) = reconstruct(net, [Frame("x", image.permute(1, 2, 0).numpy())], [None], [False], [K_full], [1.0])
    verts, joints, _ = posed(net_hand, state)
    assert_close(joints[0], torch.from_numpy(expected.joints3d).float(), atol=1e-5)
    assert_close(verts[0], torch.from_numpy(expected.verts).float(), atol=1e-5)
