"""The demo on a synthetic photo with a known hand, with a checkpoint trained here; outputs
load back; left hands; bad input."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
import trimesh

from hifihr.config import config_from_dict, config_to_dict
from hifihr.data.synthetic import generate
from hifihr.data.transforms import View, crop, warp_image
from hifihr.engine.checkpoint import CHECKPOINT_FORMAT, save_checkpoint
from hifihr.models import build_model
from hifihr.render import project_points
from helpers import detector_or_skip, real_photos_or_skip
from scripts_demo import main as demo_main
from scripts_demo import module as demo_module

from hifihr.detect import KEYPOINT_BOX_SCALE, HandDetection, box_from_keypoints

SIZE = 64
# Every test here shares one fitted checkpoint (about a minute on 2 cores).
pytestmark = pytest.mark.slow


def _config(root: str):
    return config_from_dict(
        {
            "model": {"backbone": "resnet18", "pretrained": False, "light": "none", "root": root},
            "render": {"image_size": SIZE, "supersample": 1, "shading": "albedo", "soft_silhouette": False},
            "loss": {"supervision": "weak", "drop": ["sil"]},
        }
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two synthetic photos (224 px) and a checkpoint that has learnt them (predicted root)."""
    folder = tmp_path_factory.mktemp("demo")
    data = generate(folder / "synthetic", num_train=2, num_eval=1, seed=11, show_progress=False)
    Ks = np.array(json.loads((data / "training_K.json").read_text()))
    xyz = torch.tensor(json.loads((data / "training_xyz.json").read_text()), dtype=torch.float32)
    photos = [cv2.cvtColor(cv2.imread(str(data / "training" / "rgb" / f"{i:08d}.jpg")), cv2.COLOR_BGR2RGB) / 255.0 for i in range(2)]
    # The crops the demo makes without a box: the central square (the whole 224 image) at SIZE.
    views = [crop(View.identity(K), np.array([112.0, 112.0]), 224.0, SIZE) for K in Ks]
    images = torch.tensor(np.stack([warp_image(p.astype(np.float32), v.affine, SIZE) for p, v in zip(photos, views)])).permute(0, 3, 1, 2)
    K_crop = torch.tensor(np.stack([v.K for v in views]), dtype=torch.float32)
    target2d = project_points(xyz, K_crop)[..., :2]

    cfg = _config("predicted")
    torch.manual_seed(0)
    # BatchNorm in eval mode while fitting: with 2 images, batch statistics are nothing like
    # the running ones the demo uses, and this test is about the demo, not about training.
    model = build_model(cfg.hand, cfg.model, cfg.render).eval()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(200):
        pred = model(images, K_crop, render=False)
        loss = (
            (pred.joints2d - target2d).abs().mean() * 0.05
            + (pred.joints3d - (xyz - xyz[:, 9:10])).abs().mean() * 20
            + (pred.root - xyz[:, 9]).abs().mean() * 20
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    checkpoint = folder / "model.pt"
    save_checkpoint({"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "config": config_to_dict(cfg)}, checkpoint)
    photo_paths = [data / "training" / "rgb" / f"{i:08d}.jpg" for i in range(2)]
    return {"checkpoint": checkpoint, "photos": photo_paths, "K": Ks, "xyz": xyz.numpy(), "folder": folder}


def _run(*args) -> int:
    return demo_main([str(a) for a in args])


def test_joints_land_on_the_known_hand_and_outputs_load(trained, tmp_path):
    fx, fy, cx, cy = trained["K"][0][0, 0], trained["K"][0][1, 1], trained["K"][0][0, 2], trained["K"][0][1, 2]
    out = tmp_path / "out"
    assert _run("--image", trained["photos"][0], "--checkpoint", trained["checkpoint"], "--out", out, "--whole-image", "--K", fx, fy, cx, cy) == 0
    result = json.loads((out / "00000000.json").read_text())
    assert result["camera_K_source"].startswith("given") and result["detection"] is None
    truth = project_points(torch.tensor(trained["xyz"][:1]), torch.tensor(trained["K"][:1], dtype=torch.float32))[0, :, :2].numpy()
    error = np.linalg.norm(np.array(result["joints2d_px"]) - truth, axis=1)
    assert np.median(error) < 4.0 and error.max() < 10.0
    assert np.linalg.norm(np.array(result["joints3d_m"])[9] - trained["xyz"][0, 9]) < 0.02
    for suffix in (".obj", ".mtl", ".glb", "_overlay.png", "_side.png", "_texture.png", "_diffuse.png"):
        assert (out / f"00000000{suffix}").is_file(), suffix
    obj = trimesh.load(out / "00000000.obj", process=False)
    glb = trimesh.load(out / "00000000.glb", force="mesh", process=False)
    assert obj.visual.kind == "texture" and glb.visual.kind == "texture"
    overlay = cv2.imread(str(out / "00000000_overlay.png"))
    assert overlay.shape == (224, 224, 3)


def test_left_hand_is_mirrored_and_back(trained, tmp_path):
    image = cv2.imread(str(trained["photos"][0]))
    mirrored = tmp_path / "left.png"
    cv2.imwrite(str(mirrored), image[:, ::-1])
    K = trained["K"][0]
    fx, fy, cx, cy = K[0, 0], K[1, 1], 224 - K[0, 2], K[1, 2]
    out = tmp_path / "out"
    assert _run("--image", mirrored, "--checkpoint", trained["checkpoint"], "--out", out, "--whole-image", "--left", "--intrinsics", fx, fy, cx, cy) == 0
    result = json.loads((out / "left.json").read_text())
    truth = project_points(torch.tensor(trained["xyz"][:1]), torch.tensor(trained["K"][:1], dtype=torch.float32))[0, :, :2].numpy()
    truth[:, 0] = 224 - truth[:, 0]
    assert np.median(np.linalg.norm(np.array(result["joints2d_px"]) - truth, axis=1)) < 4.0
    assert result["left_hand"] is True
    mesh = trimesh.load(out / "left.obj", process=False)
    assert mesh.volume > 0  # re-wound faces keep the surface outward


def test_folder_with_bad_files_and_bad_boxes(trained, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"not an image")
    (folder / "good.jpg").write_bytes(trained["photos"][1].read_bytes())
    out = tmp_path / "out"
    assert _run("--image", folder, "--checkpoint", trained["checkpoint"], "--out", out, "--whole-image") == 0
    assert (out / "good.json").is_file() and not (out / "broken.json").exists()
    assert _run("--image", trained["photos"][1], "--checkpoint", trained["checkpoint"], "--out", out, "--box", 300, 300, 400, 400) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _run("--image", empty, "--checkpoint", trained["checkpoint"], "--out", out) == 2


def test_ground_truth_root_checkpoint_is_refused(tmp_path, capsys):
    cfg = _config("gt")
    model = build_model(cfg.hand, cfg.model, cfg.render)
    path = tmp_path / "gt.pt"
    save_checkpoint({"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "config": config_to_dict(cfg)}, path)
    assert _run("--image", path, "--checkpoint", path, "--out", tmp_path) == 2
    assert "model.root = 'gt'" in capsys.readouterr().err


class _StubDetector:
    """Stands in for MediaPipe: reports the given hands for every image."""

    def __init__(self, hands):
        self.hands = hands

    def __call__(self, image):
        return list(self.hands)

    def close(self):
        pass


def _truth2d(trained) -> np.ndarray:
    return project_points(torch.tensor(trained["xyz"][:1]), torch.tensor(trained["K"][:1], dtype=torch.float32))[0, :, :2].numpy().astype(np.float64)


def _hand(keypoints: np.ndarray, side: str, box=None) -> HandDetection:
    box = box_from_keypoints(keypoints) if box is None else np.asarray(box, dtype=np.float64)
    return HandDetection(box, side, 0.9, keypoints, np.full(21, 0.9))


# A detected box whose crop (KEYPOINT_BOX_SCALE x its side) is the whole 224 image, which is
# the crop the test network learnt: the no-box path must then reproduce --whole-image.
_HALF = 224 / KEYPOINT_BOX_SCALE / 2
_WHOLE_IMAGE_BOX = (112 - _HALF, 112 - _HALF, 112 + _HALF, 112 + _HALF)


def test_no_box_reconstructs_every_detected_hand(trained, tmp_path, monkeypatch, capsys):
    truth = _truth2d(trained)
    hands = [_hand(truth, "right", _WHOLE_IMAGE_BOX), _hand(truth + 0.5, "right")]
    monkeypatch.setattr(demo_module, "HandDetector", lambda *a, **k: _StubDetector(hands))
    K = trained["K"][0]
    out = tmp_path / "out"
    assert _run("--image", trained["photos"][0], "--checkpoint", trained["checkpoint"], "--out", out, "--K", K[0, 0], K[1, 1], K[0, 2], K[1, 2]) == 0
    for stem in ("00000000_right", "00000000_right2"):
        for suffix in (".obj", ".glb", "_overlay.png", ".json"):
            assert (out / f"{stem}{suffix}").is_file(), stem + suffix
    result = json.loads((out / "00000000_right.json").read_text())
    assert np.allclose(result["detection"]["keypoints2d_px"], truth, atol=1e-3)
    assert _run("--image", trained["photos"][0], "--checkpoint", trained["checkpoint"], "--out", tmp_path / "whole", "--whole-image", "--K", K[0, 0], K[1, 1], K[0, 2], K[1, 2]) == 0
    whole = json.loads((tmp_path / "whole" / "00000000.json").read_text())
    assert np.allclose(result["joints2d_px"], whole["joints2d_px"], atol=1e-3)
    assert np.allclose(result["joints3d_m"], whole["joints3d_m"], atol=1e-6)
    # The second hand's crop is the tight keypoint box times KEYPOINT_BOX_SCALE, centred on it.
    second = json.loads((out / "00000000_right2.json").read_text())
    box = box_from_keypoints(truth + 0.5)
    side = KEYPOINT_BOX_SCALE * (box[2:] - box[:2]).max()
    centre = (box[:2] + box[2:]) / 2
    assert np.allclose(second["box_xyxy_px"], [*(centre - side / 2), *(centre + side / 2)], atol=1e-6)
    err = capsys.readouterr().err
    assert "00000000: 2 hand(s)" in err and all(key in err for key in ("detect", "network", "render", "export"))


def test_no_box_left_hand_and_no_hand(trained, tmp_path, monkeypatch, capsys):
    image = cv2.imread(str(trained["photos"][0]))
    mirrored = tmp_path / "left.png"
    cv2.imwrite(str(mirrored), image[:, ::-1])
    truth = _truth2d(trained)
    truth[:, 0] = 224 - truth[:, 0]
    monkeypatch.setattr(demo_module, "HandDetector", lambda *a, **k: _StubDetector([_hand(truth, "left", _WHOLE_IMAGE_BOX)]))
    K = trained["K"][0]
    out = tmp_path / "out"
    assert _run("--image", mirrored, "--checkpoint", trained["checkpoint"], "--out", out, "--K", K[0, 0], K[1, 1], 224 - K[0, 2], K[1, 2]) == 0
    result = json.loads((out / "left_left.json").read_text())
    assert result["left_hand"] is True
    assert np.median(np.linalg.norm(np.array(result["joints2d_px"]) - truth, axis=1)) < 4.0
    monkeypatch.setattr(demo_module, "HandDetector", lambda *a, **k: _StubDetector([]))
    assert _run("--image", mirrored, "--checkpoint", trained["checkpoint"], "--out", tmp_path / "none") == 1
    assert "no hand found" in capsys.readouterr().err


def test_real_photo_without_a_box(trained, tmp_path):
    """MediaPipe on a real photo: every hand it finds gets a mesh, an overlay and a JSON."""
    folder, _ = real_photos_or_skip()
    detector_or_skip().close()
    out = tmp_path / "out"
    assert _run("--image", folder / "mmpose_panoptic" / "ex2_2.flv_000040_l.jpg", "--checkpoint", trained["checkpoint"], "--out", out) == 0
    written = sorted(p.name for p in out.glob("*.json"))
    assert written, "no hand written"
    for name in written:
        stem = name[: -len(".json")]
        result = json.loads((out / name).read_text())
        assert result["left_hand"] == (result["detection"]["handedness"] == "left")
        assert result["camera_K_source"].startswith("estimated")
        assert np.array(result["joints3d_m"]).shape == (21, 3) and np.array(result["joints3d_m"])[:, 2].min() > 0
        for suffix in (".obj", ".glb", "_overlay.png"):
            assert (out / f"{stem}{suffix}").is_file(), stem + suffix
