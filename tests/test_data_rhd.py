"""RHD loader (hifihr/data/rhd.py): hand choice, left-to-right mirroring, crops, masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fixtures.datasets import BLOB_JOINTS, BLOB_SIGMA, blob_center, mask_center, write_rhd
from helpers import assert_close

from hifihr.data import AnnotationError, DatasetLayoutError, build_dataset, check_sample
from hifihr.data.transforms import project

WIDTH = 320


@pytest.fixture(scope="module")
def rhd(tmp_path_factory):
    return write_rhd(tmp_path_factory.mktemp("RHD_published_v2"))


def test_hand_choice_by_visibility_then_mask(rhd):
    truth = rhd["train"]
    dataset = build_dataset("rhd", truth.root, "train", augment=False)
    # Sample 0: left more visible; 1: right more visible; 2: a tie, the left mask is larger.
    assert [bool(dataset[i]["mirrored"]) for i in range(3)] == [True, False, True]
    assert truth.extra["hand"].tolist() == [0, 1, 0]
    forced = build_dataset("rhd", truth.root, "train", hand="right", augment=False)
    assert not any(bool(forced[i]["mirrored"]) for i in range(3))
    for i in range(3):
        assert_close(dataset[i]["joints_visible"], torch.tensor(truth.extra["visible"][i], dtype=torch.float32), atol=0)


def test_mirroring_keeps_projection_image_and_mask_consistent(rhd):
    truth = rhd["train"]
    dataset = build_dataset("rhd", truth.root, "train", augment=False)
    for i in range(3):
        sample = dataset[i]
        check_sample(sample, 224)
        mirrored = bool(sample["mirrored"])
        K_out, joints3d, joints2d = (sample[k].double().numpy() for k in ("K", "joints3d", "joints2d"))
        # 3D: X negated for a mirrored left hand, as stored otherwise (the crop does not rotate).
        sign = np.array([-1.0, 1.0, 1.0]) if mirrored else np.ones(3)
        assert_close(torch.tensor(joints3d), torch.tensor(truth.joints3d[i] * sign), atol=1e-6)
        # 2D: the stored pixels, mirrored with u -> W - u, then scaled and shifted by the crop.
        uv = truth.extra["uv"][i].copy()
        if mirrored:
            uv[:, 0] = WIDTH - uv[:, 0]
        zoom = K_out[0, 0] / truth.K[i, 0, 0]
        source_cx = WIDTH - truth.K[i, 0, 2] if mirrored else truth.K[i, 0, 2]
        offset = np.array([K_out[0, 2] - zoom * source_cx, K_out[1, 2] - zoom * truth.K[i, 1, 2]])
        assert_close(torch.tensor(joints2d), torch.tensor(zoom * uv + offset), atol=1e-3)
        assert abs(K_out[1, 1] / truth.K[i, 1, 1] - zoom) < 1e-6
        # Projection of the mirrored 3D through the mirrored K lands on the mirrored 2D.
        assert np.abs(project(K_out, joints3d) - joints2d).max() < 1e-3
        if mirrored:
            # Leaving cx alone (the reference) would put every keypoint zoom * (W - 2 cx) px off.
            stale = K_out.copy()
            stale[0, 2] = zoom * truth.K[i, 0, 2] + offset[0]
            assert np.abs(project(stale, joints3d) - joints2d)[:, 0].min() > 10
        # The image was mirrored with the keypoints: the chosen hand's blobs are at joints2d.
        for k in BLOB_JOINTS:
            found = blob_center(sample["image"].numpy(), joints2d[k], BLOB_SIGMA * zoom)
            assert np.abs(found - joints2d[k]).max() < 0.5, (i, k, found, joints2d[k])
        # The mask is the chosen hand's disc (around its middle MCP), not the other hand's.
        assert np.abs(mask_center(sample["mask"].numpy()) - joints2d[9]).max() < 1.0
        # The reference's crop: centred on the middle MCP.
        assert_close(torch.tensor(joints2d[9]), torch.tensor([112.0, 112.0], dtype=torch.float64), atol=1e-3)
        extent = np.abs(truth.extra["uv"][i] - truth.extra["uv"][i][9]).max()
        assert abs(224 / zoom - min(max(3 * extent, 50), 224) / 0.85) < 1e-3


def test_augmented_mirrored_crops_stay_consistent(rhd):
    truth = rhd["train"]
    augmentation = {"rotation_deg": 90.0, "translation_std_px": 5.0, "contrast": 0.3}
    for seed in range(3):
        dataset = build_dataset("rhd", truth.root, "train", augmentation=augmentation, seed=seed)
        for i in range(3):
            sample = dataset[i]
            K, joints2d = sample["K"].double().numpy(), sample["joints2d"].double().numpy()
            assert K[0, 1] == 0 and np.abs(project(K, sample["joints3d"].double().numpy()) - joints2d).max() < 1e-3
            zoom = K[0, 0] / truth.K[i, 0, 0]
            for k in BLOB_JOINTS:
                if np.all((joints2d[k] > 20) & (joints2d[k] < 204)):
                    found = blob_center(sample["image"].numpy(), joints2d[k], BLOB_SIGMA * zoom)
                    assert np.abs(found - joints2d[k]).max() < 0.5


def test_evaluation_crops_are_identical_across_passes(rhd):
    root = rhd["evaluation"].root
    passes = [[build_dataset("rhd", root, "evaluation")[i] for i in range(2)] for _ in range(2)]
    for a, b in zip(*passes):
        for key in a:
            assert a[key] == b[key] if key == "dataset" else torch.equal(a[key], b[key]), key


def test_missing_files_are_reported_at_load_time(tmp_path):
    root = write_rhd(tmp_path / "RHD_published_v2")["train"].root
    (root / "training" / "color" / "00001.png").unlink()
    with pytest.raises(AnnotationError, match="00001.png"):
        build_dataset("rhd", root, "train")
    (root / "evaluation" / "anno_evaluation.pickle").unlink()
    with pytest.raises(DatasetLayoutError, match=r"anno_evaluation.pickle not found.*\n.*RHD_published_v2"):
        build_dataset("rhd", root, "evaluation")
