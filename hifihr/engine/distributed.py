"""Processes and devices: one process per device, DistributedDataParallel, batch sharding.

A run is launched alone (``python train.py ...``) or by ``torchrun`` (``torchrun
--nproc-per-node 4 train.py ...``, or several nodes), which sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``. :func:`init_distributed` reads them, picks the process's device once (CUDA
device ``LOCAL_RANK`` when CUDA is available, else the CPU, unless a device is asked for) and
joins the process group: NCCL on CUDA, gloo on the CPU.

Batches: ``data.batch_size`` is the *global* batch. Every rank draws the same sequence of
global batches from the same seeded sampler and keeps its own slice
(:class:`ShardedBatchSampler`), so one process and N processes see the same global batches,
and with per-sample-mean losses the averaged DDP gradient is the one-process gradient.
Differences that remain under DDP, as in any DDP training: BatchNorm uses per-rank batch
statistics (converted to SyncBatchNorm on CUDA, where PyTorch supports it), and loss terms that
are not means over samples (``mrgb``'s squared batch-mean difference, the confidence
normalisation of the ``*_self`` terms) are computed per rank.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Sampler


@dataclass(frozen=True)
class DistContext:
    """Where this process runs.

    Attributes:
        rank: global rank, 0..world_size-1.
        world_size: number of processes.
        local_rank: rank on this node (selects the CUDA device).
        device: the device of this process.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes files and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when several processes train together."""
        return self.world_size > 1


def select_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """The device of a process.

    Args:
        name: ``"auto"`` (CUDA device ``local_rank`` when CUDA is available, else the CPU),
            ``"cpu"``, ``"cuda"`` (device ``local_rank``) or ``"cuda:N"``.
        local_rank: the process's rank on its node.

    Raises:
        ValueError: an unknown name, or CUDA asked for where there is none.
    """
    if name == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: CUDA is not available on this machine; use 'cpu' or 'auto'")
        return torch.device("cuda", local_rank) if name == "cuda" else torch.device(name)
    raise ValueError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}")


def init_distributed(device: str = "auto", timeout_s: float = 1800.0) -> DistContext:
    """Join the process group that ``torchrun`` (or the caller) describes in the environment.

    Without ``WORLD_SIZE`` (or with 1) nothing is initialised. Otherwise ``RANK``,
    ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` must be set; the backend is NCCL on
    CUDA and gloo on the CPU.

    Args:
        device: see :func:`select_device`.
        timeout_s: how long a collective may wait for the other ranks (evaluation and
            checkpoint writing happen while they wait).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext(device=select_device(device))
    for key in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        if key not in os.environ:
            raise RuntimeError(f"WORLD_SIZE={world_size} but {key} is not set; launch several processes with torchrun")
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    dev = select_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(
            "nccl" if dev.type == "cuda" else "gloo",
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=timeout_s),
        )
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def shutdown_distributed() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce(tensor: torch.Tensor, ctx: DistContext, op: str = "sum") -> torch.Tensor:
    """Reduce ``tensor`` over the ranks in place (``"sum"``, ``"max"`` or ``"mean"``) and return it."""
    if not ctx.distributed:
        return tensor
    if op == "mean":
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.div_(ctx.world_size)
    dist.all_reduce(tensor, op={"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX}[op])
    return tensor


def any_rank(ctx: DistContext, *flags: bool) -> tuple[bool, ...]:
    """Each flag, true when it is true on any rank (one collective for all of them)."""
    agreed = all_reduce(torch.tensor([float(flag) for flag in flags], device=ctx.device), ctx, "max")
    return tuple(bool(value) for value in agreed.tolist())


def all_gather_objects(value: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``value`` (picklable), in rank order, on every rank."""
    if not ctx.distributed:
        return [value]
    gathered: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def barrier(ctx: DistContext) -> None:
    """Wait for every rank."""
    if ctx.distributed:
        dist.barrier()


def wrap_model(model: nn.Module, ctx: DistContext) -> nn.Module:
    """``model`` on ``ctx.device``; wrapped in DistributedDataParallel when several processes train.

    Under DDP, BatchNorm becomes SyncBatchNorm on CUDA; parameters that an epoch's loss does not
    reach (e.g. a head whose terms have weight 0 then) are allowed; buffers are not broadcast on
    every forward (the hand model's constant buffers are large): call
    :func:`average_batchnorm_stats` before evaluating or saving.
    """
    model = model.to(ctx.device)
    if not ctx.distributed:
        return model
    if ctx.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=True, broadcast_buffers=False)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (or ``model`` itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def average_batchnorm_stats(model: nn.Module, ctx: DistContext) -> None:
    """Average the BatchNorm running means and variances over the ranks, so every rank (and the
    checkpoint) holds the same statistics. No-op for one process."""
    if not ctx.distributed:
        return
    for module in unwrap(model).modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats:
            all_reduce(module.running_mean, ctx, "mean")
            all_reduce(module.running_var, ctx, "mean")


class ShardedBatchSampler(Sampler[list[int]]):
    """This rank's share of every batch of another batch sampler, optionally skipping batches.

    Global batch ``b`` (a list of dataset indices) gives rank ``r`` of ``W`` the slice
    ``b[r::W]``; an empty slice (a last batch smaller than W) yields nothing.

    Args:
        inner: a batch sampler with ``set_epoch`` (:class:`hifihr.data.MixedBatchSampler`).
        rank, world_size: this process and the number of processes.
        batch_size: the global batch size; with ``require_even`` it must be a multiple of
            ``world_size``, so every rank gets the same number of samples (training).
        require_even: raise when ``batch_size`` does not split evenly.
    """

    def __init__(self, inner: Any, rank: int, world_size: int, batch_size: int, require_even: bool) -> None:
        if require_even and batch_size % world_size:
            raise ValueError(
                f"data.batch_size ({batch_size}) is the global batch and must be a multiple of the number "
                f"of processes ({world_size})"
            )
        if require_even and batch_size // world_size < 2:
            raise ValueError(
                f"data.batch_size ({batch_size}) gives {batch_size // world_size} sample(s) per process; "
                "BatchNorm needs at least 2"
            )
        self.inner = inner
        self.rank = rank
        self.world_size = world_size
        self.skip_batches = 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        """Select ``epoch``'s order and skip its first ``skip_batches`` global batches (resume)."""
        self.inner.set_epoch(epoch)
        self.skip_batches = int(skip_batches)

    def _shards(self) -> Iterator[list[int]]:
        for batch in islice(iter(self.inner), self.skip_batches, None):
            shard = list(batch[self.rank :: self.world_size])
            if shard:
                yield shard

    def __iter__(self) -> Iterator[list[int]]:
        return self._shards()

    def __len__(self) -> int:
        return sum(1 for _ in self._shards())

