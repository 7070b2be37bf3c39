"""The non-finite-step guard: a training step whose loss or gradient is NaN/inf is skipped
without a trace, and more than ``train.max_nonfinite_steps`` such steps in a row stop the run.

A skipped step makes no update and leaves the BatchNorm running statistics as they were before
its forward (:meth:`NonFiniteGuard.snapshot` before, :meth:`NonFiniteGuard.undo` or
:meth:`NonFiniteGuard.undo_forward` after). The
decision to skip is agreed over the ranks (:func:`~hifihr.engine.distributed.any_rank`), so
every rank skips together. With fp16, overflowing gradients are the GradScaler's business (it
skips that update and lowers its scale); such steps are not counted.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterator, Mapping

import torch
from torch import nn

from hifihr.engine.distributed import DistContext
from hifihr.engine.state import RunState, StepResult
from hifihr.losses import Prediction


class NonFiniteLossError(RuntimeError):
    """Too many consecutive steps had a NaN or infinite loss or gradient."""


def nonfinite_terms(terms: Mapping[str, float]) -> tuple[str, ...]:
    """The names of the non-finite term values, or ``("total",)`` when every term is finite (the
    total, or another rank's loss, was not)."""
    return tuple(name for name, value in terms.items() if not math.isfinite(value)) or ("total",)


class NonFiniteGuard:
    """Undoes skipped steps and stops the run after too many in a row.

    Args:
        model: the (possibly DDP-wrapped) network, whose BatchNorm buffers a skipped step restores.
        ctx: the process's place in the run.
        max_consecutive: ``train.max_nonfinite_steps``.
        warn: where the line about each skipped step goes (the run logger's ``warn``).
    """

    def __init__(self, model: nn.Module, ctx: DistContext, max_consecutive: int, warn: Callable[[str], None]) -> None:
        self.ctx = ctx
        self.max_consecutive = max_consecutive
        self.warn = warn
        self.norm_buffers = [
            buffer
            for module in model.modules()
            if isinstance(module, nn.modules.batchnorm._BatchNorm)
            for buffer in module.buffers()
        ]

    def snapshot(self) -> list[torch.Tensor]:
        """Copies of the BatchNorm buffers, taken before a step's forward."""
        return [buffer.clone() for buffer in self.norm_buffers]

    def undo(self, saved: list[torch.Tensor]) -> None:
        """Put the BatchNorm buffers back to ``saved`` (after any backward, which may read them)."""
        with torch.no_grad():
            for buffer, value in zip(self.norm_buffers, saved):
                buffer.copy_(value)

    def undo_forward(self, saved: list[torch.Tensor], pred: Prediction, optimizer: torch.optim.Optimizer) -> None:
        """Undo a step skipped before its backward. Under DDP every rank still owes the backward
        of its forward: one runs through the outputs times zero and its gradients are dropped."""
        if self.ctx.distributed:
            (sum(t.float().sum() for t in _output_tensors(pred)) * 0.0).backward()
            optimizer.zero_grad(set_to_none=True)
        self.undo(saved)

    def check(self, state: RunState, result: StepResult, last_checkpoint: Path) -> None:
        """After ``state`` counted ``result``: warn about a skipped step, stop after too many.

        Raises:
            NonFiniteLossError: more than ``max_consecutive`` skipped steps in a row (the message
                says where the last good checkpoint is, ``last_checkpoint`` when it exists).
        """
        if not result.skipped:
            return
        self.warn(
            f"epoch {state.epoch} step {state.step}: non-finite {', '.join(result.bad_terms)}; step skipped "
            f"({state.nonfinite_consecutive} in a row, {state.nonfinite_total} in all)"
        )
        if state.nonfinite_consecutive > self.max_consecutive:
            kept = f"the last good checkpoint is {last_checkpoint}" if last_checkpoint.exists() else "no checkpoint was written"
            raise NonFiniteLossError(
                f"{state.nonfinite_consecutive} consecutive steps had a non-finite loss or gradient (last: "
                f"{', '.join(result.bad_terms)}) at epoch {state.epoch}, step {state.step}; stopped ({kept}). "
                "Lower optim.lr, set optim.grad_clip, use train.amp = 'none' or 'bf16', or check the data."
            )


def _output_tensors(pred: Prediction) -> Iterator[torch.Tensor]:
    """The prediction's tensors that carry gradient (render included)."""
    render = pred.render
    candidates = [
        pred.joints3d, pred.verts3d, pred.joints2d, pred.pose_params, pred.shape_params, pred.texture_params, pred.light,
        render.rgb if render is not None else None, render.soft_alpha if render is not None else None,
    ]  # fmt: skip
    return (t for t in candidates if t is not None and t.requires_grad)
