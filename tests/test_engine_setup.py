"""Engine building blocks: batch sharding and skipping, checkpoints (atomic, weights-only, RNG
states, staged loads), and the tiny run the other engine tests share (``tiny_run``)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from fixtures.datasets import write_freihand
from fixtures.hand_assets import write_mano_file, write_nimble_assets
from hifihr.config import config_from_dict, config_to_dict
from hifihr.data import MixedBatchSampler
from hifihr.data.synthetic import SceneOptions, generate
from hifihr.engine import CheckpointError, ShardedBatchSampler, load_checkpoint, load_model_weights, save_checkpoint
from hifihr.engine.checkpoint import (
    CHECKPOINT_FORMAT,
    capture_rng_state,
    keep_copy,
    load_optimizer_state,
    restore_rng_state,
)
from hifihr.engine.distributed import select_device
from hifihr.engine.setup import build_network, network_from_checkpoint

SIZE = 64


def write_tiny_data(root: Path, num_train: int = 8, num_eval: int = 4) -> Path:
    """Under ``root``: a generated NIMBLE asset (with its MANO registration) in ``nimble/``, a MANO
    file in ``mano/``, a FreiHAND-layout fixture in ``frei/`` (``num_train`` / ``num_eval``
    samples, random MANO vertices) and, in ``synthetic/``, the project's synthetic data rendered
    from that asset (4 training, 4 evaluation samples), whose labels the network can fit."""
    write_nimble_assets(root / "nimble", tex_size=8)
    write_mano_file(root / "mano" / "MANO_RIGHT.pkl")
    write_freihand(root / "frei", num_train=num_train, num_eval=num_eval, image_size=SIZE)
    scene = SceneOptions(image_size=SIZE, focal_px=(110.0, 200.0), hand_px=(30.0, 50.0))
    generate(root / "synthetic", 4, 4, seed=0, assets_dir=root / "nimble", options=scene, supersample=1, show_progress=False)
    return root


def tiny_config(root: Path, name: str = "tiny", dataset: str = "freihand", **sections) -> object:
    """A CPU-sized config over :func:`write_tiny_data`'s files: ResNet-18 at 64 px, no light head,
    albedo shading, the 'full' preset without perceptual (no VGG weights here), batch 4, 2 epochs.

    ``dataset``: ``"freihand"`` (the fixture; MANO file given, so the vertex terms are on) or
    ``"synthetic"`` (rendered from the asset itself; no augmentation, no vertex terms).
    ``sections`` are merged over the defaults one level deep (e.g. ``train={"epochs": 3}``).
    """
    synthetic = dataset == "synthetic"

    def spec(split: str) -> dict:
        options = {"masks": True, "openpose": False}
        if synthetic:
            options.update(verts=False, augment=False)
        return {"name": dataset, "root": str(root / ("synthetic" if synthetic else "frei")), "split": split, "options": options}

    data = {
        "experiment": {"name": name, "output_dir": str(root / "outputs"), "seed": 0},
        "hand": {"model": "nimble", "assets_dir": str(root / "nimble"), "mano_dir": None if synthetic else str(root / "mano")},
        "model": {"backbone": "resnet18", "pretrained": False, "light": "none"},
        "render": {"image_size": SIZE, "supersample": 1, "shading": "albedo"},
        "data": {"train": [spec("train")], "val": [spec("evaluation")], "batch_size": 4, "val_batch_size": 3, "num_workers": 0},
        "loss": {"supervision": "full", "drop": ["perceptual"] + (["vert_3d", "edge_length"] if synthetic else [])},
        "optim": {"lr": 1e-3},
        "train": {"epochs": 2, "eval_interval": 1, "save_interval": 1, "log_interval": 1, "image_log_interval": 1000},
        "eval": {"lpips": False, "figure_samples": 3},
    }
    for section, values in sections.items():
        data[section] = {**data.get(section, {}), **values} if isinstance(values, dict) else values
    return config_from_dict(data)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    """The tiny data, written once per session (runs go to their own output folders)."""
    return write_tiny_data(tmp_path_factory.mktemp("tiny"))


# ---------------------------------------------------------------------------------------------
# Sharding
# ---------------------------------------------------------------------------------------------


def test_sharded_batches_partition_each_global_batch():
    inner = MixedBatchSampler([10], 4, shuffle=True, seed=3)
    inner.set_epoch(2)
    global_batches = list(inner)
    shards = []
    for rank in range(2):
        sampler = ShardedBatchSampler(MixedBatchSampler([10], 4, shuffle=True, seed=3), rank, 2, 4, require_even=True)
        sampler.set_epoch(2)
        shards.append(list(sampler))
        assert len(sampler) == 2
    for b, batch in enumerate(global_batches):
        assert shards[0][b] == batch[0::2] and shards[1][b] == batch[1::2]
        assert sorted(shards[0][b] + shards[1][b]) == sorted(batch)


def test_sharded_sampler_skips_consumed_batches_and_keeps_partial_eval_batches():
    sampler = ShardedBatchSampler(MixedBatchSampler([12], 3, shuffle=True, seed=0), 0, 1, 3, require_even=True)
    sampler.set_epoch(1)
    full = list(sampler)
    sampler.set_epoch(1, skip_batches=2)
    assert list(sampler) == full[2:] and len(sampler) == 2
    sampler.set_epoch(1)  # the skip applies to one epoch only
    assert list(sampler) == full
    # Evaluation: 7 samples in batches of 3 over 2 ranks; the last batch [6] goes to rank 0 only.
    ranks = [ShardedBatchSampler(MixedBatchSampler([7], 3, shuffle=False, drop_last=False), r, 2, 3, False) for r in (0, 1)]
    assert [list(s) for s in ranks] == [[[0, 2], [3, 5], [6]], [[1], [4]]]
    assert [len(s) for s in ranks] == [3, 2]


def test_sharding_rejects_uneven_training_batches():
    with pytest.raises(ValueError, match="multiple of the number of processes"):
        ShardedBatchSampler(MixedBatchSampler([10], 5), 0, 2, 5, require_even=True)
    with pytest.raises(ValueError, match="BatchNorm needs at least 2"):
        ShardedBatchSampler(MixedBatchSampler([10], 2), 0, 2, 2, require_even=True)


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------


def _state(value: float) -> dict:
    return {"format": CHECKPOINT_FORMAT, "weights": torch.full((3,), value), "epoch": 4, "nested": {"a": [1, 2.5, None]}}


def test_checkpoint_round_trip_is_weights_only_and_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(_state(1.0), path)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["weights"], torch.ones(3)) and loaded["nested"] == {"a": [1, 2.5, None]}
    # A write that fails half-way leaves the previous file intact and no temporary file behind.
    def failing_save(obj, handle):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(_state(2.0), path)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["weights"], torch.ones(3))
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]
    # A kept copy survives the next replacement of last.pt.
    keep_copy(path, path.parent / "epoch_0004.pt")
    save_checkpoint(_state(3.0), path)
    assert torch.equal(load_checkpoint(path.parent / "epoch_0004.pt")["weights"], torch.ones(3))
    assert torch.equal(load_checkpoint(path)["weights"], torch.full((3,), 3.0))


def test_checkpoint_loading_refuses_code_and_foreign_files(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": CHECKPOINT_FORMAT, "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="could not be read"):
        load_checkpoint(tmp_path / "evil.pt")
    torch.save({"epoch": 3}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a checkpoint of this project"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_rng_states_round_trip_through_a_checkpoint(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    save_checkpoint({"format": CHECKPOINT_FORMAT, "rng": capture_rng_state(torch.device("cpu"))}, tmp_path / "c.pt")
    expected = (torch.rand(4), np.random.rand(4), [random.random() for _ in range(4)])
    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    restore_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"], torch.device("cpu"))
    assert torch.equal(torch.rand(4), expected[0])
    assert np.array_equal(np.random.rand(4), expected[1])
    assert [random.random() for _ in range(4)] == expected[2]


def test_model_weights_load_partially_and_refuse_wrong_shapes():
    source = nn.ModuleDict({"trunk": nn.Linear(3, 4), "pose_head": nn.Linear(4, 2)})
    target = nn.ModuleDict({"trunk": nn.Linear(3, 4), "pose_head": nn.Linear(4, 2), "texture_head": nn.Linear(4, 5)})
    before = target["texture_head"].weight.clone()
    report = load_model_weights(target, source.state_dict(), strict=False)
    assert report.loaded == 4 and set(report.missing) == {"texture_head.weight", "texture_head.bias"}
    assert "freshly initialised (not in the checkpoint): texture_head" in report.summary()
    assert torch.equal(target["trunk"].weight, source["trunk"].weight) and torch.equal(target["texture_head"].weight, before)
    with pytest.raises(CheckpointError, match="missing"):
        load_model_weights(target, source.state_dict(), strict=True)
    wrong = nn.ModuleDict({"trunk": nn.Linear(3, 6)})
    with pytest.raises(CheckpointError, match=r"trunk.weight: checkpoint \(6, 3\), model \(4, 3\)"):
        load_model_weights(target, wrong.state_dict(), strict=False)


def test_optimizer_state_for_other_parameters_is_refused():
    small, large = nn.Linear(3, 2), nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    opt_small = torch.optim.Adam(small.parameters())
    small(torch.ones(1, 3)).sum().backward()
    opt_small.step()
    with pytest.raises(CheckpointError, match=r"covers \[2\] parameters per group, this run trains \[4\]"):
        load_optimizer_state(torch.optim.Adam(large.parameters()), opt_small.state_dict())
    other = nn.Linear(2, 3)
    with pytest.raises(CheckpointError, match="exp_avg"):
        load_optimizer_state(torch.optim.Adam(other.parameters()), opt_small.state_dict())
    same = nn.Linear(3, 2)
    opt_same = torch.optim.Adam(same.parameters())
    load_optimizer_state(opt_same, opt_small.state_dict())
    assert torch.equal(opt_same.state_dict()["state"][0]["exp_avg"], opt_small.state_dict()["state"][0]["exp_avg"])


# ---------------------------------------------------------------------------------------------
# The network of a checkpoint; the device
# ---------------------------------------------------------------------------------------------


def _saved_network(tiny_root, tmp_path):
    cfg = tiny_config(tiny_root, model={"backbone": "resnet18", "pretrained": False, "light": "none"})
    model = build_network(cfg)
    with torch.no_grad():
        for parameter in model.parameters():  # weights no fresh build has
            parameter.add_(0.5)
    path = tmp_path / "net.pt"
    save_checkpoint({"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "config": config_to_dict(cfg)}, path)
    return model, cfg, path


def test_the_network_of_a_checkpoint_has_its_weights(tiny_root, tmp_path):
    model, _, path = _saved_network(tiny_root, tmp_path)
    loaded, _ = network_from_checkpoint(path)
    saved = model.state_dict()
    assert all(torch.equal(value, saved[key]) for key, value in loaded.state_dict().items())


def test_the_network_of_a_checkpoint_is_in_eval_mode(tiny_root, tmp_path):
    _, _, path = _saved_network(tiny_root, tmp_path)
    loaded, _ = network_from_checkpoint(path)
    assert not loaded.training


def test_the_network_of_a_checkpoint_comes_with_its_config(tiny_root, tmp_path):
    _, cfg, path = _saved_network(tiny_root, tmp_path)
    _, loaded_cfg = network_from_checkpoint(path)
    assert loaded_cfg == cfg


@pytest.mark.parametrize("name", ["auto", "cpu"])
def test_auto_and_cpu_give_the_cpu_without_cuda(name, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device(name) == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_cuda_asked_for_without_cuda_is_a_clear_error(name, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        select_device(name)


def test_an_unknown_device_name_is_refused():
    with pytest.raises(ValueError, match="expected 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        select_device("tpu")
