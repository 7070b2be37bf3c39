"""Registry, collate, mixed batching and worker processes (hifihr/data/{registry,collate,loader}.py)."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
import torch
from fixtures.datasets import write_freihand, write_ho3d, write_rhd

from hifihr.data import (
    DATASETS,
    SAMPLE_FIELDS,
    BadSampleWarning,
    MixedBatchSampler,
    build_dataset,
    build_loader,
    check_sample,
    collate,
    set_epoch,
)
from hifihr.detect import DetectionsFile, HandDetection, ImageDetections, box_from_keypoints, write_detections


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("datasets")
    write_freihand(base / "freihand")
    write_ho3d(base / "ho3d_v2", version="v2")
    write_ho3d(base / "ho3d_v3", version="v3", train={"GPMF12": [0, 1]}, evaluation={"AP10": [0]})
    write_rhd(base / "rhd")
    write_photos(base / "photos")
    return {
        "freihand": base / "freihand", "synthetic": base / "freihand", "ho3d_v2": base / "ho3d_v2", "ho3d_v3": base / "ho3d_v3",
        "rhd": base / "rhd", "photos": base / "photos",
    }  # fmt: skip


def write_photos(folder):
    """A folder of one 80x60 photo with one detected right hand."""
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8))
    keypoints = np.random.default_rng(1).uniform(20, 40, (21, 2))
    hand = HandDetection(box_from_keypoints(keypoints), "right", 0.9, keypoints, np.full(21, 0.9))
    write_detections(folder / "detections.json", DetectionsFile({"kind": "folder"}, {}, [ImageDetections("a.png", (80, 60), [hand])]))


def test_every_registered_dataset_builds_and_yields_documented_fields(roots):
    assert DATASETS.names() == ["freihand", "ho3d_v2", "ho3d_v3", "photos", "rhd", "synthetic"]
    for name in DATASETS.names():
        for split in DATASETS.get(name).cls.splits:
            dataset = build_dataset(name, roots[name], split, image_size=128)
            sample = dataset[0]
            check_sample(sample, 128)
            assert sample["dataset"] == name
            assert {"image", "K", "root_index", "index", "dataset"} <= sample.keys() <= SAMPLE_FIELDS.keys()
            assert ("root" in sample) == dataset.has_root  # a photo has none


def test_registry_errors_list_the_valid_choices(roots):
    with pytest.raises(ValueError, match=r"unknown dataset 'freihnd' \(did you mean 'freihand'\?\); valid names: freihand, ho3d_v2"):
        build_dataset("freihnd", roots["freihand"], "train")
    with pytest.raises(ValueError, match=r"unknown option 'mask' \(did you mean 'masks'\?\)"):
        build_dataset("rhd", roots["rhd"], "train", mask=True)
    with pytest.raises(ValueError, match="unknown augmentation option"):
        build_dataset("rhd", roots["rhd"], "train", augmentation={"rotation": 10})
    with pytest.raises(ValueError, match="split: expected one of train, evaluation"):
        build_dataset("rhd", roots["rhd"], "test")
    dataset = build_dataset("rhd", roots["rhd"], "train", augmentation={"rotation_deg": 10.0})
    assert dataset.augmentation.rotation_deg == 10.0 and dataset.augmentation.scale_range == (0.8 / 0.85, 0.9 / 0.85)


def test_collate_keeps_only_fields_every_sample_has(roots):
    freihand = build_dataset("freihand", roots["freihand"], "train")
    rhd = build_dataset("rhd", roots["rhd"], "train")
    samples = [freihand[0], rhd[0], freihand[1]]
    batch = collate(samples)
    shared = set(samples[0]) & set(samples[1])
    assert set(batch) == shared and "verts3d" not in batch and "mirrored" not in batch and "joints_visible" not in batch
    assert batch["dataset"] == ["freihand", "rhd", "freihand"]
    for key in shared - {"dataset"}:
        assert torch.equal(batch[key], torch.stack([s[key] for s in samples])), key
    only_freihand = collate([freihand[0], freihand[2]])
    assert only_freihand["verts3d"].shape == (2, 778, 3)
    small = build_dataset("freihand", roots["freihand"], "train", image_size=64)[0]
    with pytest.raises(ValueError, match=r"field 'image' has different shapes \[\(3, 64, 64\), \(3, 224, 224\)\]"):
        collate([samples[0], small])


def test_mixed_batch_sampler_covers_each_dataset_once():
    sizes = [7, 5, 3]
    sampler = MixedBatchSampler(sizes, 2, shuffle=True, drop_last=False, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 4 + 3 + 2
    assert sorted(i for b in batches for i in b) == list(range(15))
    owner = np.repeat(np.arange(3), sizes)
    assert all(len(set(owner[b])) == 1 for b in batches)  # each batch from one dataset
    assert batches == list(MixedBatchSampler(sizes, 2, shuffle=True, drop_last=False, seed=3))
    sampler.set_epoch(1)
    assert list(sampler) != batches
    dropped = MixedBatchSampler(sizes, 2, drop_last=True, seed=3)
    assert len(list(dropped)) == len(dropped) == 3 + 2 + 1
    mixed = list(MixedBatchSampler(sizes, 4, mix="sample", drop_last=False, seed=3))
    assert sorted(i for b in mixed for i in b) == list(range(15)) and any(len(set(owner[b])) > 1 for b in mixed)
    ordered = list(MixedBatchSampler(sizes, 4, shuffle=False, drop_last=False))
    assert ordered == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9, 10], [11], [12, 13, 14]]


def test_workers_give_the_same_batches_and_count_skips(roots, tmp_path):
    freihand = build_dataset("freihand", roots["freihand"], "train", augmentation={"rotation_deg": 180.0, "brightness": 0.2}, seed=1)
    ho3d = build_dataset("ho3d_v2", roots["ho3d_v2"], "train", seed=1)
    results = []
    for workers in (0, 2):
        loader = build_loader([freihand, ho3d], batch_size=2, shuffle=True, drop_last=False, num_workers=workers, seed=4)
        set_epoch(loader, 2)
        results.append(list(loader))
    assert len(results[0]) == 4
    for a, b in zip(*results):
        assert a.keys() == b.keys() and a["dataset"] == b["dataset"]
        for key in a.keys() - {"dataset"}:
            assert torch.equal(a[key], b[key]), key
    # A corrupt image in a worker: skipped, counted in the parent's dataset object.
    root = tmp_path / "freihand"
    write_freihand(root)
    (root / "training" / "rgb" / "00000000.jpg").write_bytes(b"broken")
    dataset = build_dataset("freihand", root, "train")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BadSampleWarning)  # emitted in the worker process
        batches = list(build_loader(dataset, batch_size=3, shuffle=False, num_workers=2))
    assert batches[0]["index"].tolist() == [1, 1, 2] and dataset.num_skipped == 1
