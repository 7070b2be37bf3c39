"""Checkpoints: atomic writes, safe loads, random-generator states, staged-training loads.

A checkpoint is a dict of tensors and plain Python values, so that
``torch.load(weights_only=True)`` (which runs no code from the file) can read it:

=============== ================================================================================
key             value
=============== ================================================================================
format          :data:`CHECKPOINT_FORMAT`
epoch           global epoch the position refers to
batches_done    global batches of ``epoch`` already trained (0 < n < len: written mid-epoch;
                n = the epoch's length: the epoch is complete)
step            training iterations so far, all epochs (skipped non-finite steps included)
model           the network's ``state_dict`` (the hand model's constant buffers are not in it)
optimizer       the optimiser's ``state_dict``
scaler          the fp16 GradScaler's ``state_dict``, or None
lr              the learning rate of each parameter group when written (for the record; the
                schedule is a function of the epoch, :meth:`OptimConfig.lr_at`)
rng             random-generator states (:func:`capture_rng_state`)
nonfinite       {"consecutive": n, "total": n} skipped non-finite steps
log_window      the sums of the next log line (:class:`~hifihr.engine.state.LogWindow`)
config          the resolved config (:func:`hifihr.config.config_to_dict`)
world_size      number of processes that trained
best            the best evaluation so far (``eval.best_metric`` on the first validation dataset):
                {"metric", "dataset", "value", "epoch"}, or None before the first evaluation
=============== ================================================================================

``epoch``, ``batches_done``, ``step``, ``nonfinite``, ``log_window`` and ``best`` are the
:class:`~hifihr.engine.state.RunState`; ``batches_per_epoch`` holds the number of global
batches in an epoch of the run that wrote it.

Files: ``outputs/<run>/checkpoints/last.pt`` (written at every epoch end, every
``train.checkpoint_interval`` steps, and when a run is interrupted),
``best.pt`` (the epoch of the best evaluation so far) and
``epoch_<NNNN>.pt`` every ``train.save_interval`` epochs (a hard link to the same bytes when
the file system allows). Each write goes to a temporary file in the same folder, is flushed to
disk, then renamed over the target, so a crash never leaves a half-written checkpoint.
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from hifihr.files import open_atomic

CHECKPOINT_FORMAT = 1


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not fit the model or optimiser."""


def save_checkpoint(state: Mapping[str, Any], path: str | Path) -> None:
    """Write ``state`` to ``path`` atomically (temporary file in the same folder, fsync, rename)."""
    with open_atomic(path) as handle:
        torch.save(dict(state), handle)


def keep_copy(source: str | Path, target: str | Path) -> None:
    """Keep the current bytes of ``source`` under ``target``: a hard link (later atomic
    replacements of ``source`` leave it alone), or a copy where links are not supported."""
    source, target = Path(source), Path(target)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint of this project onto the CPU with ``torch.load(weights_only=True)``.

    Raises:
        CheckpointError: the file is missing, unreadable, or not this project's format.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in many types; all mean "not loadable"
        raise CheckpointError(f"checkpoint {path} could not be read: {err}") from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(
            f"{path} is not a checkpoint of this project (format {found!r}, expected {CHECKPOINT_FORMAT}); "
            "reference (.t7) checkpoints are not supported"
        )
    return state


def capture_rng_state(device: torch.device) -> dict[str, Any]:
    """The random-generator states of this process: torch (CPU and ``device`` when CUDA), NumPy's
    global generator and Python's ``random``, as tensors and plain values."""
    numpy_state = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
            "pos": int(numpy_state[2]),
            "has_gauss": int(numpy_state[3]),
            "cached_gaussian": float(numpy_state[4]),
        },
        "python": random.getstate(),
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng_state(state: Mapping[str, Any], device: torch.device) -> None:
    """Restore what :func:`capture_rng_state` captured (the CUDA state only on a CUDA device)."""
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


@dataclass(frozen=True)
class ModelLoadReport:
    """What :func:`load_model_weights` did.

    Attributes:
        loaded: number of tensors copied from the checkpoint.
        missing: model keys the checkpoint lacks (they keep their fresh initialisation).
        unexpected: checkpoint keys the model lacks (ignored).
    """

    loaded: int
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]

    def summary(self) -> str:
        """One line: counts, and the module groups that were not in the checkpoint."""
        fresh = sorted({key.split(".")[0] for key in self.missing})
        ignored = sorted({key.split(".")[0] for key in self.unexpected})
        text = f"{self.loaded} tensors loaded"
        if fresh:
            text += f"; freshly initialised (not in the checkpoint): {', '.join(fresh)}"
        if ignored:
            text += f"; ignored (not in this model): {', '.join(ignored)}"
        return text


def load_model_weights(model: nn.Module, weights: Mapping[str, torch.Tensor], strict: bool) -> ModelLoadReport:
    """Copy ``weights`` into ``model``.

    Args:
        model: the (unwrapped) network.
        weights: a ``state_dict``.
        strict: every key must match (resume); otherwise keys may be missing on either side
            (staged training: an RHD checkpoint has no texture or light head), but a tensor
            whose shape differs is always an error.

    Raises:
        CheckpointError: a shape mismatch, or (``strict``) a missing or unexpected key.
    """
    own = model.state_dict()
    mismatched = [
        f"{key}: checkpoint {tuple(value.shape)}, model {tuple(own[key].shape)}"
        for key, value in weights.items()
        if key in own and tuple(value.shape) != tuple(own[key].shape)
    ]
    if mismatched:
        raise CheckpointError(
            "the checkpoint's tensors do not fit this model (was it trained with another backbone, hand "
            f"model or number of PCA components?): {'; '.join(mismatched[:5])}"
        )
    missing = tuple(key for key in own if key not in weights)
    unexpected = tuple(key for key in weights if key not in own)
    if strict and (missing or unexpected):
        raise CheckpointError(
            f"the checkpoint does not match this model: missing {list(missing[:5])}, unexpected {list(unexpected[:5])}"
        )
    model.load_state_dict(weights, strict=False)
    return ModelLoadReport(loaded=len(weights) - len(unexpected), missing=missing, unexpected=unexpected)


def group_weights(weights: Mapping[str, torch.Tensor], groups: tuple[str, ...], source: str) -> dict[str, torch.Tensor]:
    """The entries of a ``state_dict`` that belong to the module groups ``groups`` (keys
    ``<group>.<...>``).

    Raises:
        CheckpointError: a group has no entry in ``weights`` (named, with ``source``).
    """
    selected = {key: value for key, value in weights.items() if key.split(".", 1)[0] in groups}
    absent = [group for group in groups if not any(key.split(".", 1)[0] == group for key in selected)]
    if absent:
        raise CheckpointError(f"{source} has no {', '.join(absent)} (was it trained with model.texture and a light head?)")
    return selected


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: Mapping[str, Any]) -> None:
    """Restore an optimiser's state, refusing a state made for other parameters.

    A mismatch is an error that says what differs, since the intended run would not be the one
    that runs.

    Raises:
        CheckpointError: the numbers of parameter groups or of parameters, or a state's shape,
            differ.
    """
    saved_sizes = [len(group["params"]) for group in state["param_groups"]]
    own_sizes = [len(group["params"]) for group in optimizer.param_groups]
    if saved_sizes != own_sizes:
        raise CheckpointError(
            f"the checkpoint's optimiser state covers {saved_sizes} parameters per group, this run trains "
            f"{own_sizes} (different frozen groups or heads?); leave 'optimizer' out of init.load"
        )
    params = [p for group in optimizer.param_groups for p in group["params"]]
    ids = [i for group in state["param_groups"] for i in group["params"]]
    for param, index in zip(params, ids):
        for name, value in state["state"].get(index, {}).items():
            if isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape != param.shape:
                raise CheckpointError(
                    f"the checkpoint's optimiser state {name!r} has shape {tuple(value.shape)} for a parameter "
                    f"of shape {tuple(param.shape)}; leave 'optimizer' out of init.load"
                )
    optimizer.load_state_dict(state)
