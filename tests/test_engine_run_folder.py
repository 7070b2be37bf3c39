"""The run folder: its paths, a fresh run refused over an old one, --overwrite deleting exactly
the run's outputs, --resume reading last.pt, the config keys that differ."""

from __future__ import annotations

from pathlib import Path

import pytest

from hifihr.engine import CheckpointError, DistContext, RunFolder, save_checkpoint
from hifihr.engine.checkpoint import CHECKPOINT_FORMAT
from hifihr.engine.run_folder import RUN_OUTPUTS, changed_config_keys, prepare_run_folder


def test_paths(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.last == tmp_path / "checkpoints" / "last.pt"
    assert folder.best == tmp_path / "checkpoints" / "best.pt"
    assert folder.epoch_checkpoint(7) == tmp_path / "checkpoints" / "epoch_0007.pt"
    assert folder.best_record == tmp_path / "best.json"
    assert folder.config == tmp_path / "config.json"
    assert folder.eval_dir(3) == tmp_path / "eval" / "3"


def _old_run(root: Path) -> RunFolder:
    folder = RunFolder(root)
    save_checkpoint({"format": CHECKPOINT_FORMAT, "step": 3}, folder.last)
    for name in ("tb", "eval/1"):
        (root / name).mkdir(parents=True)
        (root / name / "file").write_text("x")
    for name in ("metrics.jsonl", "best.json", "config.json", "notes.txt"):
        (root / name).write_text("{}")
    return folder


def test_a_fresh_run_over_an_old_one_is_refused(tmp_path):
    folder = _old_run(tmp_path)
    with pytest.raises(FileExistsError, match="already holds a run.*--resume.*--overwrite"):
        prepare_run_folder(folder, DistContext(), resume=False, overwrite=False)


def test_overwrite_deletes_the_run_outputs_only(tmp_path):
    folder = _old_run(tmp_path)
    assert prepare_run_folder(folder, DistContext(), resume=False, overwrite=True) is None
    assert not any((tmp_path / name).exists() for name in RUN_OUTPUTS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "notes.txt"]


def test_resume_reads_last_or_says_there_is_none(tmp_path):
    folder = _old_run(tmp_path / "run")
    assert prepare_run_folder(folder, DistContext(), resume=True, overwrite=False)["step"] == 3
    with pytest.raises(CheckpointError, match="no checkpoint to resume at .*last.pt"):
        prepare_run_folder(RunFolder(tmp_path / "empty"), DistContext(), resume=True, overwrite=False)


def test_changed_config_keys():
    saved = {"name": "x", "optim": {"lr": 1e-3, "betas": [0.9, 0.999]}, "train": {"epochs": 2}}
    current = {"name": "y", "optim": {"lr": 1e-4, "betas": [0.9, 0.999]}, "train": {"epochs": 2, "amp": "none"}}
    assert changed_config_keys(saved, current) == ["optim.lr", "train.amp"]
    assert changed_config_keys(current, current) == []
