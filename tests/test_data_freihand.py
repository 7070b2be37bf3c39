"""FreiHAND v2 loader (hifihr/data/freihand.py) on a generated dataset in the official layout."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from fixtures.datasets import BLOB_JOINTS, BLOB_SIGMA, FREIHAND_VERSION_BACKGROUND, blob_center, mask_center, write_freihand
from helpers import assert_close

from hifihr.data import AnnotationError, BadSampleError, BadSampleWarning, DatasetLayoutError, build_dataset, check_sample
from hifihr.data.freihand import FREIHAND_VERSIONS
from hifihr.data.transforms import project

HEAVY_AUGMENTATION = {
    "rotation_deg": 180.0,
    "scale_range": (0.8, 1.25),
    "translation_std_px": 6.0,
    "brightness": 0.3,
    "contrast": 0.3,
    "saturation": 0.3,
    "hue": 0.05,
}


@pytest.fixture(scope="module")
def freihand(tmp_path_factory):
    root = tmp_path_factory.mktemp("freihand")
    return write_freihand(root)


def _fresh(tmp_path, **kwargs):
    return write_freihand(tmp_path / "FreiHAND_pub_v2", **kwargs)


def test_annotations_are_read_as_written(freihand):
    truth = freihand["train"]
    dataset = build_dataset("freihand", truth.root, "train", augment=False)
    assert len(dataset) == 3
    for i in range(3):
        sample = dataset[i]
        check_sample(sample, 224)
        # No augmentation and a 224 image: the crop is the identity.
        assert_close(sample["K"], torch.tensor(truth.K[i]), atol=1e-4)
        assert_close(sample["joints3d"], torch.tensor(truth.joints3d[i]), atol=1e-6)
        assert_close(sample["verts3d"], torch.tensor(truth.extra["verts"][i]), atol=1e-6)
        assert_close(sample["joints2d"], torch.tensor(truth.joints2d[i]), atol=1e-3)
        assert_close(sample["root"], torch.tensor(truth.joints3d[i, 9]), atol=1e-6)
        assert int(sample["root_index"]) == 9
        assert_close(sample["scale"], torch.tensor(truth.extra["scale"][i]), atol=1e-7)
        assert_close(sample["openpose2d"], torch.tensor(truth.extra["openpose"][i] + 0.5), atol=1e-5)
        assert_close(sample["openpose_conf"], torch.tensor(truth.extra["openpose_conf"][i]), atol=1e-6)
        assert sample["dataset"] == "freihand" and int(sample["index"]) == i


def test_image_versions_share_annotations(freihand):
    root = freihand["train"].root
    dataset = build_dataset("freihand", root, "train", versions=FREIHAND_VERSIONS, augment=False)
    assert len(dataset) == 12
    for i in range(12):
        sample = dataset[i]
        version, uid = divmod(i, 3)
        # The corner shows the background level the fixture used for that version (red channel).
        corner = float(sample["image"][0, :10, :10].mean()) * 255
        assert abs(corner - FREIHAND_VERSION_BACKGROUND[version]) < 2.0
        assert_close(sample["joints3d"], torch.tensor(freihand["train"].joints3d[uid]), atol=1e-6)
        assert_close(sample["mask"], dataset[uid]["mask"], atol=0)
    with pytest.raises(ValueError, match="only 'gs'"):
        build_dataset("freihand", root, "evaluation", versions=("gs", "hom"))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_augmented_crops_keep_image_2d_and_3d_together(freihand, seed):
    truth = freihand["train"]
    dataset = build_dataset("freihand", truth.root, "train", augmentation=HEAVY_AUGMENTATION, seed=seed)
    for i in range(len(dataset)):
        sample = dataset[i]
        K, joints3d, joints2d = sample["K"].double().numpy(), sample["joints3d"].double().numpy(), sample["joints2d"].double().numpy()
        assert K[0, 1] == 0 and K[1, 0] == 0
        # Projected 3D joints land on the 2D joints.
        assert np.abs(project(K, joints3d) - joints2d).max() < 1e-3
        # The rotation is about the optical axis: depths unchanged, distances kept.
        assert_close(torch.tensor(joints3d[:, 2]), torch.tensor(truth.joints3d[i, :, 2]), atol=1e-6)
        verts = sample["verts3d"].double().numpy()
        assert_close(torch.tensor(np.linalg.norm(verts - joints3d[9], axis=1)), torch.tensor(np.linalg.norm(truth.extra["verts"][i] - truth.joints3d[i, 9], axis=1)), atol=1e-6)
        # The image content drawn at the joints is where joints2d says.
        zoom = K[0, 0] / truth.K[i, 0, 0]
        image = sample["image"].numpy()
        for k in BLOB_JOINTS:
            if np.all((joints2d[k] > 12) & (joints2d[k] < 212)):
                found = blob_center(image, joints2d[k], BLOB_SIGMA * zoom)
                assert np.abs(found - joints2d[k]).max() < 0.5, (i, k, found, joints2d[k])
        assert np.abs(mask_center(sample["mask"].numpy()) - joints2d[9]).max() < 1.0
        assert sample["mask"].unique().tolist() == [0.0, 1.0]
        # OpenPose pixels (integer detections + 0.5) moved with the image.
        assert np.abs(sample["openpose2d"].numpy() - joints2d).max() <= math.sqrt(0.5) * zoom + 1e-3


def test_augmentation_depends_on_seed_and_epoch_only(freihand):
    root = freihand["train"].root
    first = build_dataset("freihand", root, "train", augmentation=HEAVY_AUGMENTATION, seed=5)
    second = build_dataset("freihand", root, "train", augmentation=HEAVY_AUGMENTATION, seed=5)
    assert_close(first[1]["image"], second[1]["image"], atol=0)
    second.set_epoch(1)
    assert (first[1]["image"] - second[1]["image"]).abs().max() > 0.05


def test_evaluation_is_deterministic_with_segmap_masks(freihand):
    truth = freihand["evaluation"]
    passes = []
    for epoch in (0, 3):
        dataset = build_dataset("freihand", truth.root, "evaluation")
        dataset.set_epoch(epoch)
        passes.append([dataset[i] for i in range(len(dataset))])
    for a, b in zip(*passes):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == b[key] if key == "dataset" else torch.equal(a[key], b[key]), key
    for i, sample in enumerate(passes[0]):
        assert_close(sample["K"], torch.tensor(truth.K[i]), atol=1e-4)  # no jitter
        assert abs(float(sample["mask"].sum()) - math.pi * 14**2) < 40  # the fixture's disc
        assert np.abs(mask_center(sample["mask"].numpy()) - truth.joints2d[i, 9]).max() < 0.5


def test_evaluation_masks_from_mask_folder_and_absent_masks(tmp_path):
    root = _fresh(tmp_path, eval_masks="mask", openpose=False)["evaluation"].root
    sample = build_dataset("freihand", root, "evaluation")[0]
    assert abs(float(sample["mask"].sum()) - math.pi * 14**2) < 40
    assert "openpose2d" not in sample
    shutil.rmtree(root / "evaluation" / "mask")
    assert "mask" not in build_dataset("freihand", root, "evaluation")[0]
    with pytest.raises(DatasetLayoutError, match="segmap"):
        build_dataset("freihand", root, "evaluation", masks=True)
    assert "mask" not in build_dataset("freihand", root, "train", masks=False)[0]


def test_synthetic_name_reads_sample_and_vertex_counts_from_the_files(tmp_path):
    root = _fresh(tmp_path, num_train=5, num_eval=1)["train"].root
    skin = np.random.default_rng(0).normal(0, 0.02, (5, 9, 3)) + (0, 0, 0.6)
    (root / "training_verts.json").write_text(json.dumps(skin.tolist()))
    dataset = build_dataset("synthetic", root, "train", augment=False)
    assert len(dataset) == 5 and dataset[4]["dataset"] == "synthetic"
    assert_close(dataset[3]["verts3d"], torch.tensor(skin[3], dtype=torch.float32), atol=0)
    with pytest.raises(AnnotationError, match="training_verts.json"):
        build_dataset("freihand", root, "train")  # FreiHAND expects 778 MANO vertices


def test_missing_root_shows_the_layout(tmp_path):
    with pytest.raises(DatasetLayoutError) as info:
        build_dataset("freihand", tmp_path / "nowhere", "train")
    assert str(tmp_path / "nowhere") in str(info.value) and "training/rgb/%08d.jpg" in str(info.value)


def test_count_mismatches_are_reported_at_load_time(tmp_path):
    root = _fresh(tmp_path)["train"].root
    xyz = json.loads((root / "training_xyz.json").read_text())
    (root / "training_xyz.json").write_text(json.dumps(xyz[:2]))
    with pytest.raises(AnnotationError, match=r"training_K.json: 3, training_xyz.json: 2"):
        build_dataset("freihand", root, "train")
    (root / "training_xyz.json").write_text(json.dumps(xyz))
    (root / "training" / "rgb" / "00000007.jpg").unlink()  # uid 1 of version "hom"
    with pytest.warns(UserWarning, match="holds 11 files but the annotations describe 3 samples"):
        build_dataset("freihand", root, "train")  # gs only: the file is not needed
    with pytest.raises(AnnotationError, match="00000007.jpg"):
        build_dataset("freihand", root, "train", versions=FREIHAND_VERSIONS)
    (root / "training" / "mask" / "00000002.jpg").unlink()
    with pytest.raises(AnnotationError, match="00000002.jpg"), pytest.warns(UserWarning, match="holds 11 files"):
        build_dataset("freihand", root, "train")


def test_corrupt_images_are_skipped_and_counted_or_raise(tmp_path):
    root = _fresh(tmp_path)["train"].root
    (root / "training" / "rgb" / "00000001.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    dataset = build_dataset("freihand", root, "train", augment=False)
    with pytest.warns(BadSampleWarning, match="00000001.jpg"):
        sample = dataset[1]
    assert int(sample["index"]) == 2 and dataset.num_skipped == 1
    strict = build_dataset("freihand", root, "train", on_bad_image="raise")
    with pytest.raises(BadSampleError, match="00000001.jpg"):
        strict[1]
