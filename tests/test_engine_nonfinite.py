"""The non-finite-step guard: BatchNorm statistics put back, the warning per skipped step, the
stop after too many in a row; the names of the bad terms; the agreement over ranks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from hifihr.engine import DistContext, NonFiniteLossError, RunState, StepResult
from hifihr.engine.distributed import any_rank
from hifihr.engine.nonfinite import NonFiniteGuard, nonfinite_terms

SKIPPED = StepResult(math.nan, {"joint_3d": math.nan}, {"joint_3d": math.nan}, None, True, ("joint_3d",))
GOOD = StepResult(1.0, {"joint_3d": 1.0}, {"joint_3d": 1.0}, 0.5, False)


def test_undo_restores_the_batchnorm_statistics_of_a_forward():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4)).train()
    guard = NonFiniteGuard(model, DistContext(), 1, warn=lambda line: None)
    assert len(guard.norm_buffers) == 6  # mean, var, batch count of each BatchNorm
    before = {k: v.clone() for k, v in model.state_dict().items()}
    saved = guard.snapshot()
    model(torch.randn(2, 3, 8, 8))
    assert not torch.equal(model[1].running_mean, before["1.running_mean"])
    guard.undo(saved)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_check_warns_then_stops_after_more_than_the_limit_in_a_row(tmp_path):
    lines: list[str] = []
    guard = NonFiniteGuard(nn.Linear(1, 1), DistContext(), 2, warn=lines.append)
    state = RunState(epoch=4)
    for result in (SKIPPED, GOOD, SKIPPED, SKIPPED):
        state.record(result)
        guard.check(state, result, tmp_path / "last.pt")
    assert lines == [
        "epoch 4 step 1: non-finite joint_3d; step skipped (1 in a row, 1 in all)",
        "epoch 4 step 3: non-finite joint_3d; step skipped (1 in a row, 2 in all)",
        "epoch 4 step 4: non-finite joint_3d; step skipped (2 in a row, 3 in all)",
    ]
    state.record(SKIPPED)
    with pytest.raises(NonFiniteLossError, match=r"3 consecutive steps .*\(last: joint_3d\) at epoch 4, step 5.*no checkpoint was written"):
        guard.check(state, SKIPPED, tmp_path / "last.pt")
    (tmp_path / "last.pt").write_bytes(b"")
    with pytest.raises(NonFiniteLossError, match="the last good checkpoint is .*last.pt"):
        guard.check(state, SKIPPED, tmp_path / "last.pt")


@pytest.mark.parametrize(
    ("terms", "bad"),
    [({"a": 1.0, "b": math.inf, "c": math.nan}, ("b", "c")), ({"a": 1.0}, ("total",)), ({}, ("total",))],
)
def test_nonfinite_terms_names_the_bad_terms(terms, bad):
    assert nonfinite_terms(terms) == bad


def test_any_rank_on_one_process_returns_the_flags():
    assert any_rank(DistContext(), True, False, True) == (True, False, True)
