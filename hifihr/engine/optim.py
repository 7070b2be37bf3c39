"""The optimiser of a run and its learning-rate schedule (``optim``: a function of the global
epoch, :meth:`~hifihr.config.OptimConfig.lr_at`, set at the start of each epoch)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from hifihr.config import OptimConfig
from hifihr.registry import Registry

#: Optimisers by name (``optim.optimizer``): ``cls(params, lr=, betas=, weight_decay=, fused=)``.
OPTIMIZERS: Registry[type[torch.optim.Optimizer]] = Registry("optimizer")
OPTIMIZERS.register("adam", torch.optim.Adam, description="Adam, weight decay as an L2 term in the gradient")
OPTIMIZERS.register("adamw", torch.optim.AdamW, description="AdamW, decoupled weight decay")


def build_optimizer(params: Sequence[nn.Parameter], optim: OptimConfig) -> torch.optim.Optimizer:
    """The ``optim.optimizer`` over ``params`` (one parameter group) at ``optim.lr``.

    Raises:
        ValueError: no parameter to train (everything frozen).
    """
    if not params:
        raise ValueError("init.freeze leaves no parameter to train")
    # The fused kernels update all parameters in one pass: on a CPU the default per-tensor
    # loop took ~15x longer (1.5 s against 0.1 s a step for ResNet-18 on 2 cores).
    return OPTIMIZERS.get(optim.optimizer)(
        params, lr=optim.lr, betas=tuple(optim.betas), weight_decay=optim.weight_decay, fused=True
    )


def set_epoch_lr(optimizer: torch.optim.Optimizer, optim: OptimConfig, epoch: int) -> float:
    """Set every parameter group's learning rate to the schedule's at global ``epoch``; return it."""
    lr = optim.lr_at(epoch)
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr
