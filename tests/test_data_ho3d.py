"""HO-3D v2/v3 loader (hifihr/data/ho3d.py) on generated datasets in the official layout."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from fixtures.datasets import BLOB_JOINTS, BLOB_SIGMA, blob_center, mask_center, write_ho3d
from helpers import assert_close

from hifihr.data import AnnotationError, BadSampleWarning, DatasetLayoutError, build_dataset, check_sample
from hifihr.data.ho3d import opengl_to_opencv
from hifihr.data.transforms import project


@pytest.fixture(scope="module")
def ho3d(tmp_path_factory):
    return write_ho3d(tmp_path_factory.mktemp("HO3D_v2"), version="v2")


def _crop_map(sample, K_source):
    """(zoom, offset [2]) of the crop, from the output and source intrinsics (no rotation)."""
    K = sample["K"].double().numpy()
    zoom = K[0, 0] / K_source[0, 0]
    return zoom, K[:2, 2] - zoom * K_source[:2, 2]


def test_opengl_to_opencv_flips_y_and_z():
    gl = np.array([[0.02, 0.03, -0.5], [-0.01, -0.04, -0.7]])
    assert_close(torch.tensor(opengl_to_opencv(gl)), torch.tensor([[0.02, -0.03, 0.5], [-0.01, 0.04, 0.7]], dtype=torch.float64), atol=0)
    assert_close(torch.tensor(opengl_to_opencv(opengl_to_opencv(gl))), torch.tensor(gl), atol=0)


def test_training_hand_is_in_front_of_the_camera_at_the_right_pixels(ho3d):
    truth = ho3d["train"]
    dataset = build_dataset("ho3d_v2", truth.root, "train", augment=False)
    assert len(dataset) == 3
    for i in range(3):
        sample = dataset[i]
        check_sample(sample, 224)
        joints3d = sample["joints3d"].double().numpy()
        assert (joints3d[:, 2] > 0.3).all()
        # OpenGL + HO-3D order in the files -> OpenCV + FreiHAND order, as the fixture built them.
        assert_close(sample["joints3d"], torch.tensor(truth.joints3d[i]), atol=1e-6)
        assert int(sample["root_index"]) == 9 and torch.equal(sample["root"], sample["joints3d"][9])
        assert_close(sample["scale"], torch.tensor(np.linalg.norm(truth.joints3d[i, 9] - truth.joints3d[i, 10])), atol=1e-6)
        # The crop maps the fixture's pixels onto joints2d, and the blobs drawn there are found there.
        zoom, offset = _crop_map(sample, truth.K[i])
        joints2d = sample["joints2d"].double().numpy()
        assert_close(torch.tensor(joints2d), torch.tensor(zoom * truth.joints2d[i] + offset), atol=1e-3)
        assert np.abs(project(sample["K"].double().numpy(), joints3d) - joints2d).max() < 1e-3
        for k in BLOB_JOINTS:
            assert np.abs(blob_center(sample["image"].numpy(), joints2d[k], BLOB_SIGMA * zoom) - joints2d[k]).max() < 0.5
        # The reference's crop: centred on the keypoints' box, side = 4 * (half extent + 10 px) / 0.85.
        low, high = truth.joints2d[i].min(axis=0), truth.joints2d[i].max(axis=0)
        half = ((high - low) / 2 + 10).max()
        assert abs(224 / zoom - 4 * half / 0.85) < 1e-3
        assert_close(torch.tensor(zoom * (low + high) / 2 + offset), torch.tensor([112.0, 112.0]), atol=1e-3)
        # Masks come from the half-resolution seg image: the red disc around the middle MCP.
        assert np.abs(mask_center(sample["mask"].numpy()) - joints2d[9]).max() < 1.0
        assert abs(float(sample["mask"].sum()) - np.pi * (20 * zoom) ** 2) < 0.15 * np.pi * (20 * zoom) ** 2
        assert np.abs(sample["openpose2d"].numpy() - joints2d).max() <= np.sqrt(0.5) * zoom + 1e-3


def test_augmented_training_crops_stay_consistent(ho3d):
    truth = ho3d["train"]
    augmentation = {"rotation_deg": 45.0, "brightness": 0.2}
    for seed in range(3):
        dataset = build_dataset("ho3d_v2", truth.root, "train", augmentation=augmentation, seed=seed)
        for i in range(len(dataset)):
            sample = dataset[i]
            K, joints2d = sample["K"].double().numpy(), sample["joints2d"].double().numpy()
            assert np.abs(project(K, sample["joints3d"].double().numpy()) - joints2d).max() < 1e-3
            zoom = K[0, 0] / truth.K[i, 0, 0]
            for k in BLOB_JOINTS:
                if np.all((joints2d[k] > 8) & (joints2d[k] < 216)):
                    assert np.abs(blob_center(sample["image"].numpy(), joints2d[k], BLOB_SIGMA * zoom) - joints2d[k]).max() < 0.5


def test_evaluation_has_only_the_wrist_and_box_and_is_deterministic(ho3d):
    truth = ho3d["evaluation"]
    first = build_dataset("ho3d_v2", truth.root, "evaluation")
    second = build_dataset("ho3d_v2", truth.root, "evaluation")
    second.set_epoch(7)
    for i in range(len(first)):
        a, b = first[i], second[i]
        check_sample(a, 224)
        assert {"joints3d", "joints2d", "scale"}.isdisjoint(a) and {"root", "bbox", "mask"} <= a.keys()
        for key in a:
            assert a[key] == b[key] if key == "dataset" else torch.equal(a[key], b[key]), key
        assert int(a["root_index"]) == 0
        assert_close(a["root"], torch.tensor(truth.extra["wrist"][i]), atol=1e-6)
        assert float(a["root"][2]) > 0.3
        # The wrist projects onto the wrist blob; the box is the stored one, mapped by the crop.
        zoom, offset = _crop_map(a, truth.K[i])
        wrist_uv = project(a["K"].double().numpy(), a["root"].double().numpy()[None])[0]
        assert np.abs(blob_center(a["image"].numpy(), wrist_uv, BLOB_SIGMA * zoom) - wrist_uv).max() < 0.5
        assert_close(a["bbox"].double(), torch.tensor(zoom * truth.extra["bbox"][i] + np.tile(offset, 2)), atol=1e-3)
        assert_close((a["bbox"][:2] + a["bbox"][2:]).double() / 2, torch.tensor([112.0, 112.0], dtype=torch.float64), atol=1e-3)


def test_v3_layout_with_jpeg_images(tmp_path):
    truth = write_ho3d(tmp_path / "HO3D_v3", version="v3", train={"GPMF12": [2]}, evaluation={"AP10": [5]}, seg=False, openpose=False)
    train = build_dataset("ho3d_v3", truth["train"].root, "train", augment=False)
    sample = train[0]
    assert sample["dataset"] == "ho3d_v3" and "mask" not in sample and "openpose2d" not in sample
    assert_close(sample["joints3d"], torch.tensor(truth["train"].joints3d[0]), atol=1e-6)
    with pytest.raises(DatasetLayoutError, match="seg/ or segr/"):
        build_dataset("ho3d_v3", truth["train"].root, "train", masks=True)
    assert float(build_dataset("ho3d_v3", truth["train"].root, "evaluation")[0]["root"][2]) > 0.3


def test_layout_errors_name_the_files(tmp_path):
    root = write_ho3d(tmp_path / "HO3D_v2", seg=False, openpose=False)["train"].root
    os.remove(root / "train" / "ABF10" / "meta" / "0003.pkl")
    with pytest.raises(AnnotationError, match=r"ABF10/meta/0003.pkl"):
        build_dataset("ho3d_v2", root, "train")
    os.remove(root / "train.txt")
    with pytest.raises(DatasetLayoutError, match=r"train.txt not found.*\n.*HO3D_v2 or HO3D_v3"):
        build_dataset("ho3d_v2", root, "train")


def test_unsafe_or_corrupt_meta_pickles_are_skipped(tmp_path):
    root = write_ho3d(tmp_path / "HO3D_v2", seg=False, openpose=False)["train"].root
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(root / "train" / "ABF10" / "meta" / "0000.pkl", "wb") as handle:
        pickle.dump({"camMat": Exploit()}, handle)
    (root / "train" / "ABF10" / "meta" / "0003.pkl").write_bytes(b"\x80\x02}q\x00(X")  # truncated
    dataset = build_dataset("ho3d_v2", root, "train")
    with pytest.warns(BadSampleWarning) as record:
        sample = dataset[0]
    assert int(sample["index"]) == 2 and dataset.num_skipped == 2 and not marker.exists()
    assert "refused to load" in str(record[0].message) and "0003.pkl" in str(record[1].message)
