"""The run folder, ``<experiment.output_dir>/<experiment.name>/``: where each of a run's files
goes, and getting it ready for a fresh, overwritten or resumed run."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from hifihr.engine.checkpoint import CheckpointError, load_checkpoint
from hifihr.engine.distributed import DistContext, barrier

#: What a run writes into its folder; ``--overwrite`` deletes these.
RUN_OUTPUTS = ("checkpoints", "tb", "eval", "metrics.jsonl", "best.json")


@dataclass(frozen=True)
class RunFolder:
    """The paths of a run's files under ``root`` (see :mod:`hifihr.engine`)."""

    root: Path

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last(self) -> Path:
        """``checkpoints/last.pt``, the position to resume from."""
        return self.checkpoints / "last.pt"

    @property
    def best(self) -> Path:
        """``checkpoints/best.pt``, the checkpoint of the best evaluation."""
        return self.checkpoints / "best.pt"

    def epoch_checkpoint(self, epoch: int) -> Path:
        """``checkpoints/epoch_NNNN.pt``, kept every ``train.save_interval`` epochs."""
        return self.checkpoints / f"epoch_{epoch:04d}.pt"

    @property
    def best_record(self) -> Path:
        """``best.json``: the best evaluation and the latest one."""
        return self.root / "best.json"

    @property
    def config(self) -> Path:
        """``config.json``: the resolved config of the run."""
        return self.root / "config.json"

    def eval_dir(self, epoch: int) -> Path:
        """``eval/<epoch>/``: an evaluation's metrics, predictions and figures."""
        return self.root / "eval" / str(epoch)


def prepare_run_folder(folder: RunFolder, ctx: DistContext, *, resume: bool, overwrite: bool) -> Optional[dict[str, Any]]:
    """Get ``folder`` ready for a run; return the checkpoint to resume (None for a fresh run).

    ``resume``: read ``last.pt``. Otherwise a folder that already holds a run is refused unless
    ``overwrite``, which makes rank 0 delete the run's outputs (:data:`RUN_OUTPUTS`) first.

    Raises:
        CheckpointError: ``resume`` with no ``last.pt``, or an unreadable one.
        FileExistsError: a fresh run in a folder with a ``last.pt``, without ``overwrite``.
    """
    if resume:
        if not folder.last.is_file():
            raise CheckpointError(f"--resume: no checkpoint to resume at {folder.last}")
        return load_checkpoint(folder.last)
    if folder.last.exists() and not overwrite:
        raise FileExistsError(
            f"{folder.root} already holds a run ({folder.last}); continue it with --resume, start it "
            "again with --overwrite, or choose another experiment.name"
        )
    if overwrite and ctx.is_main:
        for name in RUN_OUTPUTS:
            path = folder.root / name
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    barrier(ctx)
    return None


def changed_config_keys(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The ``section.key`` names, sorted, whose value in the config dict ``current`` differs from
    ``saved`` (a checkpoint's config; a key it lacks counts as changed)."""
    return sorted(
        f"{section}.{key}"
        for section, values in current.items()
        if isinstance(values, dict)
        for key in values
        if saved.get(section, {}).get(key) != values[key]
    )
