"""The run state: counting steps, the checkpoint entries it writes and reads back, resuming past
a complete epoch, continuing another run's counters, the best-epoch comparison."""

from __future__ import annotations

import math

import pytest
import torch

from hifihr.engine import BestEpoch, RunState, StepResult, load_checkpoint, save_checkpoint
from hifihr.engine.state import LogWindow


def _step(loss: float, grad_norm: float | None = 1.0, skipped: bool = False) -> StepResult:
    return StepResult(loss, {"a": loss / 2}, {"a": loss}, grad_norm, skipped, ("total",) if skipped else ())


def test_record_counts_position_steps_and_skipped_runs():
    state = RunState(epoch=3)
    for result in (_step(1.0), _step(math.nan, None, True), _step(math.nan, math.inf, True), _step(3.0, 2.0)):
        state.record(result)
    assert (state.epoch, state.batches_done, state.step) == (3, 4, 4)
    assert state.nonfinite_total == 2
    assert state.nonfinite_consecutive == 0  # the last step was good
    state.record(_step(math.nan, None, True))
    assert state.nonfinite_consecutive == 1


def test_log_window_sums_the_updating_steps_and_the_finite_norms():
    window = LogWindow()
    for result in (_step(1.0, 0.5), _step(math.nan, math.inf, True), _step(3.0, 2.0), _step(2.0, math.nan)):
        window.add(result)
    assert window.sums == {"loss": 6.0, "a": 3.0, "weighted/a": 6.0}
    assert (window.count, window.skipped) == (3, 1)
    assert (window.grad_norm_sum, window.grad_norm_count) == (2.5, 2)


def test_state_survives_a_weights_only_checkpoint(tmp_path):
    state = RunState(epoch=2, best=BestEpoch("pa_mpjpe_mm", "freihand_evaluation", 7.25, 1))
    for result in (_step(1.0), _step(math.nan, None, True)):
        state.record(result)
    path = tmp_path / "state.pt"
    save_checkpoint({"format": 1, **state.state_dict(), "batches_per_epoch": 5}, path)
    assert RunState.resumed(load_checkpoint(path)) == state


def test_resuming_a_complete_epoch_starts_the_next_one():
    state = RunState(epoch=2, batches_done=5, step=10, nonfinite_total=1)
    resumed = RunState.resumed({**state.state_dict(), "batches_per_epoch": 5})
    assert (resumed.epoch, resumed.batches_done, resumed.step, resumed.nonfinite_total) == (3, 0, 10, 1)


def test_a_checkpoint_without_best_resumes_with_none():
    entries = RunState(epoch=1).state_dict()
    del entries["best"]
    assert RunState.resumed({**entries, "batches_per_epoch": 5}).best is None


@pytest.mark.parametrize(("batches_done", "epoch"), [(5, 3), (2, 2)])
def test_continuing_takes_the_epoch_and_step_only(batches_done, epoch):
    source = RunState(epoch=2, batches_done=batches_done, step=12, nonfinite_consecutive=1, nonfinite_total=4)
    source.window.add(_step(1.0))
    source.best = BestEpoch("psnr_db", "synthetic_evaluation", 20.0, 2)
    assert RunState.continued({**source.state_dict(), "batches_per_epoch": 5}) == RunState(epoch=epoch, step=12)


@pytest.mark.parametrize(("value", "higher", "beaten"), [(7.0, False, True), (8.0, False, False), (9.0, False, False), (9.0, True, True), (8.0, True, False)])
def test_best_is_beaten_only_strictly(value, higher, beaten):
    assert BestEpoch("m", "d", 8.0, 1).beaten_by(value, higher) is beaten


def test_state_dict_holds_plain_values_only():
    state = RunState(epoch=1, best=BestEpoch("m", "d", 1.0, 1))
    state.record(_step(1.0))

    def plain(value) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        return value is None or isinstance(value, (int, float, str, torch.Tensor))

    assert plain(state.state_dict())
