"""scripts/bench_fit.py's real-photo part: which hand an annotation is, and one photo's record,
on a synthetic "photo" (the real photos are never needed here)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from test_fit import dataset, hand, tiny_options  # noqa: F401  (fixtures)

from hifihr.data.multiview import list_hands, load_multiview

_SPEC = importlib.util.spec_from_file_location("bench_fit", Path(__file__).resolve().parents[1] / "scripts" / "bench_fit.py")
bench_fit = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench_fit)


def test_photo_side_prefers_the_annotated_side():
    assert bench_fit.photo_side("a/frame_l.jpg", {"side": "right"}) == "right"


def test_photo_side_reads_the_file_name_suffix_without_a_side():
    assert bench_fit.photo_side("mmpose_panoptic/ex2_2.flv_000040_l.jpg", {}) == "left"
    assert bench_fit.photo_side("mmpose_panoptic/ex2_2.flv_000040_r.jpg", {}) == "right"


def test_photo_side_defaults_to_right():
    assert bench_fit.photo_side("mmpose_freihand/00000355.jpg", {}) == "right"


def test_photo_side_rejects_an_unknown_side():
    with pytest.raises(ValueError, match="side"):
        bench_fit.photo_side("x.jpg", {"side": "both"})


@pytest.fixture(scope="module")
def left_photo(dataset, tmp_path_factory) -> tuple[Path, str]:
    """View 0 of the synthetic right hand mirrored into a photo of a left hand, named ``*_l.png``
    with no ``side``, annotated as the real photos are (uv, xyz_cam_m, K)."""
    (folder,) = list_hands(dataset)
    case = load_multiview(folder)
    width = case.images.shape[-1]
    joints_cam = case.joints_world.double() @ case.R[0].double().T + case.t[0].double()
    K = case.K[0].double().clone()
    projected = joints_cam @ K.T
    uv = projected[:, :2] / projected[:, 2:]
    mirrored_joints = joints_cam * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    mirrored_uv = torch.stack([width - uv[:, 0], uv[:, 1]], dim=1)
    K[0, 2] = width - K[0, 2]
    root = tmp_path_factory.mktemp("photos")
    key = "hand_l.png"
    image = (case.images[0].flip(-1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    cv2.imwrite(str(root / key), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    entry = {"uv": mirrored_uv.tolist(), "xyz_cam_m": mirrored_joints.tolist(), "K": K.tolist()}
    (root / "annotations.json").write_text(json.dumps({key: [entry]}))
    return root, key


def test_fit_photo_fits_a_left_hand_and_lowers_its_3d_error(hand, left_photo):
    root, key = left_photo
    record = bench_fit.fit_photo(hand, root, key, 0, tiny_options())
    assert record["side"] == "left"
    assert record["keypoint_error_px_after"] < record["keypoint_error_px_before"]
    assert record["joints3d_after"]["mpjpe_mm"] < record["joints3d_before"]["mpjpe_mm"]
