"""What each registered dataset declares (hifihr/data/base.py and the loaders): its splits, its
root at evaluation, its texture-confidence rule and its benchmark files, checked for every entry
of the registry against independent computations."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from hifihr.config import ConfigError, config_from_dict
from hifihr.data import DATASETS, build_dataset
from hifihr.data.ho3d import HO3D
from hifihr.hand.joints import FREIHAND_NAMES

DATASET_NAMES = DATASETS.names()


def _gated_mean(conf: np.ndarray, threshold: float) -> np.ndarray:
    """Row by row: the mean confidence, or 0 when the lowest is at most ``threshold``."""
    return np.array([row.mean() if row.min() > threshold else 0.0 for row in conf])


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_the_splits_a_dataset_declares_are_the_ones_it_and_the_config_accept(name, tmp_path):
    splits = DATASETS.get(name).cls.splits
    assert splits and all(isinstance(split, str) and split for split in splits)
    with pytest.raises(ValueError, match=f"split: expected one of {', '.join(splits)}, got 'bogus'"):
        build_dataset(name, tmp_path, "bogus")
    spec = {"name": name, "root": str(tmp_path), "split": "bogus"}
    with pytest.raises(ConfigError, match=f"data.val.0.split: {name} has no split 'bogus'; valid: {', '.join(splits)}"):
        config_from_dict({"data": {"val": [spec]}})
    for split in splits:
        spec["split"] = split
        assert config_from_dict({"data": {"val": [spec]}}).data.val[0].split == split


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_each_dataset_says_where_its_unaligned_numbers_place_the_hand(name):
    cls = DATASETS.get(name).cls
    predicted = cls.root_placement(True)
    assert predicted.label == "predicted"
    assert predicted.note is None
    if cls.has_root:
        at_gt = cls.root_placement(False)
        assert at_gt.label == "GT root"
        assert "use the ground-truth root" in at_gt.note
    else:
        with pytest.raises(ValueError, match="no 3D root; evaluate with model.root = 'predicted'"):
            cls.root_placement(False)


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_each_dataset_confidence_rule_is_the_gated_or_the_plain_mean(name):
    """HO-3D takes the plain mean of the keypoint confidences (reference ``texture_con``), every
    other dataset the mean gated at its threshold (FreiHAND's rule; detector keypoints of a
    missed hand are 0)."""
    cls = DATASETS.get(name).cls
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.0, 1.0, (6, 21))
    conf[0, 3] = 0.05  # below FreiHAND's 0.1
    conf[1] = 0.0  # a missed hand
    conf[2, 7] = cls.texture_confidence_min  # at the threshold: gated out
    got = cls.texture_confidence(torch.tensor(conf, dtype=torch.float64)).numpy()
    plain = conf.mean(axis=1)
    expected = plain if issubclass(cls, HO3D) else _gated_mean(conf, 0.1)
    assert cls.texture_confidence_min == 0.1
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert got.shape == (6,)
    assert (got >= 0).all()


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_each_dataset_writes_its_benchmark_files(name, tmp_path):
    cls = DATASETS.get(name).cls
    rng = np.random.default_rng(1)
    joints = rng.normal(0.0, 0.05, (3, 21, 3)) + np.array([0.0, 0.0, 0.6])
    verts = rng.normal(0.0, 0.05, (3, 5, 3)) + np.array([0.0, 0.0, 0.6])
    files = cls.write_predictions(tmp_path / "out", joints, verts)
    xyz, mesh = (np.array(a) for a in json.loads((tmp_path / "out" / "pred.json").read_text()))
    if not issubclass(cls, HO3D):
        assert files == ["pred.json"]
        np.testing.assert_allclose(xyz, joints, atol=5e-8)  # 7 decimals of metres
        np.testing.assert_allclose(mesh, verts, atol=5e-8)
        return
    # HO-3D's Codalab format: OpenGL frame (y and z negated) for joints and vertices alike, the
    # wrist first and the other joints in another order.
    assert files == ["pred.json", "pred.zip"]
    with zipfile.ZipFile(tmp_path / "out" / "pred.zip") as archive:
        assert archive.namelist() == ["pred.json"]
        assert json.loads(archive.read("pred.json")) == [xyz.tolist(), mesh.tolist()]
    flip = np.array([1.0, -1.0, -1.0])
    np.testing.assert_allclose(mesh, verts * flip, atol=5e-8)
    np.testing.assert_allclose(xyz[:, 0], joints[:, FREIHAND_NAMES.index("wrist")] * flip, atol=5e-8)
    order = [int(np.argmin(np.abs(joints[0] * flip - point).sum(axis=1))) for point in xyz[0]]
    assert sorted(order) == list(range(21))
    assert order != list(range(21))
    np.testing.assert_allclose(xyz, (joints * flip)[:, order], atol=5e-8)

