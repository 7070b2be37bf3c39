"""The run state: where a training run stands (epoch, batch, step), its skipped-step counters,
the sums of the values it will log next and its best evaluation; and the record of one step. Checkpoints save and restore it
(the keys ``epoch``, ``batches_done``, ``step``, ``nonfinite``, ``log_window`` and ``best`` of
:mod:`hifihr.engine.checkpoint`)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional



@dataclass(frozen=True)
class StepResult:
    """One training step.

    Attributes:
        loss: the objective on this rank's share of the batch (NaN/inf when skipped).
        terms: unweighted term values; weighted: the same times their weights.
        grad_norm: the global gradient norm before clipping (None when skipped before backward).
        skipped: True when no update was made (non-finite loss or gradient).
        bad_terms: names of the non-finite terms ("gradient" for a non-finite gradient).
    """

    loss: float
    terms: dict[str, float]
    weighted: dict[str, float]
    grad_norm: Optional[float]
    skipped: bool
    bad_terms: tuple[str, ...] = ()


@dataclass
class LogWindow:
    """Sums of the values logged since the previous log line (the log line prints their means).

    Attributes:
        sums: per logged key (``loss``, each term, ``weighted/<term>``), the sum over the steps
            that made an update.
        count: steps that made an update; skipped: steps that were skipped.
        grad_norm_sum, grad_norm_count: sum and number of the finite gradient norms.
    """

    sums: dict[str, float] = field(default_factory=dict)
    count: int = 0
    skipped: int = 0
    grad_norm_sum: float = 0.0
    grad_norm_count: int = 0

    def add(self, result: StepResult) -> None:
        """Add one step: its values when it made an update, its gradient norm when finite."""
        if result.skipped:
            self.skipped += 1
        else:
            self.count += 1
            values = {"loss": result.loss, **result.terms, **{f"weighted/{k}": v for k, v in result.weighted.items()}}
            for key, value in values.items():
                self.sums[key] = self.sums.get(key, 0.0) + value
        if result.grad_norm is not None and math.isfinite(result.grad_norm):
            self.grad_norm_sum += result.grad_norm
            self.grad_norm_count += 1

    def state_dict(self) -> dict[str, Any]:
        """The sums as plain values (the checkpoint's ``log_window``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> LogWindow:
        """The window that :meth:`state_dict` wrote."""
        return cls(
            sums=dict(state["sums"]),
            count=state["count"],
            skipped=state["skipped"],
            grad_norm_sum=state["grad_norm_sum"],
            grad_norm_count=state["grad_norm_count"],
        )


@dataclass(frozen=True)
class BestEpoch:
    """The best evaluation so far: ``metric`` of the validation dataset ``dataset`` was ``value``
    at global epoch ``epoch``."""

    metric: str
    dataset: str
    value: float
    epoch: int

    def beaten_by(self, value: float, higher_is_better: bool) -> bool:
        """Whether ``value`` is strictly better (a tie keeps the earlier epoch)."""
        return value > self.value if higher_is_better else value < self.value


@dataclass
class RunState:
    """Where a run stands; everything of it that a resumed run needs besides the network,
    optimiser and random generators.

    Attributes:
        epoch: the global epoch being trained.
        batches_done: global batches of ``epoch`` already trained.
        step: training iterations so far, all epochs (skipped steps included).
        nonfinite_consecutive: skipped non-finite steps since the last good one.
        nonfinite_total: skipped non-finite steps in all.
        window: the sums of the next log line.
        best: the best evaluation so far (None before the first).
    """

    epoch: int
    batches_done: int = 0
    step: int = 0
    nonfinite_consecutive: int = 0
    nonfinite_total: int = 0
    window: LogWindow = field(default_factory=LogWindow)
    best: Optional[BestEpoch] = None

    def record(self, result: StepResult) -> None:
        """Count a trained batch: position, step, log sums and the skipped-step counters."""
        self.batches_done += 1
        self.step += 1
        self.window.add(result)
        if result.skipped:
            self.nonfinite_consecutive += 1
            self.nonfinite_total += 1
        else:
            self.nonfinite_consecutive = 0

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint entries of the state (plain values)."""
        return {
            "epoch": self.epoch,
            "batches_done": self.batches_done,
            "step": self.step,
            "nonfinite": {"consecutive": self.nonfinite_consecutive, "total": self.nonfinite_total},
            "log_window": self.window.state_dict(),
            "best": dataclasses.asdict(self.best) if self.best is not None else None,
        }

    @classmethod
    def resumed(cls, checkpoint: Mapping[str, Any]) -> RunState:
        """The state to resume a checkpoint of this run from: the same position, or the next
        epoch's start when the checkpoint's epoch was complete."""
        best = checkpoint.get("best")  # absent in checkpoints written before best-epoch tracking
        state = cls(
            epoch=checkpoint["epoch"],
            batches_done=checkpoint["batches_done"],
            step=checkpoint["step"],
            nonfinite_consecutive=checkpoint["nonfinite"]["consecutive"],
            nonfinite_total=checkpoint["nonfinite"]["total"],
            window=LogWindow.from_state_dict(checkpoint["log_window"]),
            best=BestEpoch(**best) if best is not None else None,
        )
        if state.batches_done >= checkpoint["batches_per_epoch"]:
            state.epoch, state.batches_done = state.epoch + 1, 0
        return state

    @classmethod
    def continued(cls, checkpoint: Mapping[str, Any]) -> RunState:
        """The counters of another run's checkpoint (``init.load`` "scheduler"): its step, and
        the epoch after its epoch when that was complete, else the start of its epoch; the
        skipped-step counters, log sums and best evaluation start afresh."""
        complete = checkpoint["batches_done"] >= checkpoint["batches_per_epoch"]
        return cls(epoch=checkpoint["epoch"] + 1 if complete else checkpoint["epoch"], step=checkpoint["step"])
