"""The optimiser of a run (each ``optim.optimizer``, its settings) and the learning rate set
from the schedule at each epoch."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from hifihr.config import OptimConfig
from hifihr.engine.optim import OPTIMIZERS, build_optimizer, set_epoch_lr


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_build_optimizer_takes_the_config_settings(name):
    optim = dataclasses.replace(OptimConfig(), optimizer=name, lr=2e-4, betas=(0.5, 0.9), weight_decay=0.01)
    params = list(nn.Linear(3, 2).parameters())
    optimizer = build_optimizer(params, optim)
    assert type(optimizer) is OPTIMIZERS.get(name)
    (group,) = optimizer.param_groups
    assert group["params"] == params
    assert (group["lr"], group["betas"], group["weight_decay"], group["fused"]) == (2e-4, (0.5, 0.9), 0.01, True)


def test_build_optimizer_refuses_nothing_to_train():
    with pytest.raises(ValueError, match="init.freeze leaves no parameter"):
        build_optimizer([], OptimConfig())


@pytest.mark.parametrize(("epoch", "lr"), [(1, 1e-3), (10, 1e-3), (11, 5e-4), (100, 5e-4), (101, 2.5e-4)])
def test_set_epoch_lr_follows_the_schedule(epoch, lr):
    # Milestones act after their epoch (MultiStepLR stepped once per epoch).
    optim = dataclasses.replace(OptimConfig(), lr=1e-3, lr_milestones=(10, 100), lr_gamma=0.5)
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    optimizer.add_param_group({"params": [nn.Parameter(torch.zeros(1))]})
    assert set_epoch_lr(optimizer, optim, epoch) == pytest.approx(lr, rel=1e-12)
    assert [group["lr"] for group in optimizer.param_groups] == [pytest.approx(lr, rel=1e-12)] * 2
