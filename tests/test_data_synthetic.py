"""The synthetic dataset, rendered from the open hand: its files agree with a fresh render and
with each other, and the FreiHAND loader reads it unchanged."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hifihr.data import build_dataset
from hifihr.data.io import read_channel
from hifihr.data.synthetic import PALM_TO_CAMERA, SCENES, SceneOptions, generate, openpose_detections, sample_background
from hifihr.hand import load_hand_model
from hifihr.render import Renderer, SHLight, TexturesUV, project_points


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("synthetic") / "synthetic", num_train=4, num_eval=2, seed=3, show_progress=False)


def test_layout_and_loader(dataset):
    for split, count in (("train", 4), ("evaluation", 2)):
        samples = build_dataset("synthetic", dataset, split, image_size=224)
        assert len(samples) == count
        sample = samples[0]
        assert {"image", "mask", "K", "joints3d", "verts3d", "openpose2d", "openpose_conf"} <= set(sample)
        hand_pixels = sample["mask"].sum()
        assert 0.05 * 224**2 < hand_pixels < 0.6 * 224**2  # the hand fills a good part of the crop
    assert not any(p.name.startswith(".") for p in dataset.parent.iterdir())  # no partial folder left


@pytest.mark.parametrize("index", [0, 3])
def test_rerender_reproduces_mask_and_keypoints(dataset, index):
    params = json.loads((dataset / "training_params.json").read_text())[index]
    K = torch.tensor(json.loads((dataset / "training_K.json").read_text())[index])[None]
    xyz = torch.tensor(json.loads((dataset / "training_xyz.json").read_text())[index])[None]
    hand = load_hand_model("open_hand")
    with torch.no_grad():
        out = hand(torch.tensor([params["shape"]]), torch.tensor([params["pose"]]), torch.tensor([params["texture"]]))
        offset = torch.tensor(params["root"]) - out.joints[:, 9]
        render = Renderer(224, supersample=2, background=(0.0, 0.0, 0.0)).render(
            out.verts + offset[:, None],
            out.faces,
            K,
            TexturesUV(out.texture, out.verts_uvs, out.faces_uvs),
            light=SHLight(torch.tensor([params["light_sh"]], dtype=torch.float32)),
        )
    mask = read_channel(dataset / "training" / "mask" / f"{index:08d}.jpg") >= 128
    rendered = render.alpha[0, 0].numpy() >= 0.5
    iou = (mask & rendered).sum() / (mask | rendered).sum()
    assert iou >= 0.99
    stored_2d = torch.tensor(params["joints2d"])
    assert (project_points(xyz, K)[0, :, :2] - stored_2d).abs().max() < 0.5
    assert (out.joints[0] + offset - xyz[0]).abs().max() < 1e-5


def test_openpose_detections_are_noisy_truths():
    rng = np.random.default_rng(0)
    truth = rng.uniform(20, 200, size=(200, 21, 2))
    peaks, conf = openpose_detections(truth, rng, 224)
    assert peaks.dtype == np.int64 and peaks.shape == (200, 21, 2) and conf.shape == (200, 21)
    error = np.linalg.norm(peaks + 0.5 - truth, axis=-1)
    missed = conf < 0.1
    assert 0.01 < missed.mean() < 0.08
    assert np.median(error[~missed]) < 4.0 and error[~missed].mean() > 0.5
    assert np.corrcoef(conf[~missed].ravel(), error[~missed].ravel())[0, 1] < -0.3  # confidence tracks the error


def test_same_seed_same_dataset(tmp_path):
    a = generate(tmp_path / "a", num_train=2, num_eval=1, seed=5, show_progress=False)
    b = generate(tmp_path / "b", num_train=2, num_eval=1, seed=5, show_progress=False)
    for name in ("training_xyz.json", "training_params.json", "evaluation_K.json"):
        assert (a / name).read_text() == (b / name).read_text()
    assert (a / "training" / "rgb" / "00000001.jpg").read_bytes() == (b / "training" / "rgb" / "00000001.jpg").read_bytes()
    with pytest.raises(FileExistsError):
        generate(tmp_path / "a", num_train=1, num_eval=1, show_progress=False)


def test_studio_scene_flat_background_and_orientation(dataset):
    """The default (studio) scene: a flat background away from the hand, and a hand within
    tilt + spin (10 + 10 degrees) of fingers-up, palm to the camera."""
    assert SCENES["studio"] == SceneOptions()
    params = json.loads((dataset / "training_params.json").read_text())
    for index, sample in enumerate(params):
        image = cv2.imread(str(dataset / "training" / "rgb" / f"{index:08d}.jpg"))[..., ::-1] / 255.0
        mask = read_channel(dataset / "training" / "mask" / f"{index:08d}.jpg") >= 128
        far = cv2.dilate(mask.astype(np.uint8), np.ones((15, 15), np.uint8)) == 0
        background = image[far]
        assert far.mean() > 0.3
        assert background.std(axis=0).max() < 0.04  # sensor noise (std <= 0.02) and JPEG only
        assert (background.mean(axis=0) > 0.15).all() and (background.mean(axis=0) < 0.95).all()
        relative = Rotation.from_rotvec(sample["pose"][:3]) * Rotation.from_matrix(PALM_TO_CAMERA).inv()
        assert np.degrees(relative.magnitude()) <= 20.0 + 1e-3


def test_background_kinds():
    flat = sample_background(np.random.default_rng(0), 64, "flat")
    assert flat.shape == (64, 64, 3) and np.ptp(flat, axis=(0, 1)).max() == 0.0
    assert ((flat >= 0.2) & (flat <= 0.9)).all()
    spreads = [np.ptp(sample_background(np.random.default_rng(seed), 64, "clutter"), axis=(0, 1)).max() for seed in range(8)]
    assert min(spreads) > 0.05  # gradients, noise, stripes: never one colour
    assert SCENES["clutter"].background == "clutter" and SCENES["clutter"].tilt_deg > SCENES["studio"].tilt_deg
    with pytest.raises(ValueError, match="background: expected one of flat, clutter, got 'noise'"):
        SceneOptions(background="noise")
    with pytest.raises(ValueError, match="kind: expected one of flat, clutter"):
        sample_background(np.random.default_rng(0), 64, "noise")
