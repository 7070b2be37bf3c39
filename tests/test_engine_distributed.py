"""Two gloo processes under DistributedDataParallel give the gradients of one process on the same
global batch, and skip a non-finite step together.

Both sides run in float64, so that the only difference (the order in which the two halves'
gradients are summed) stays far below the 1e-6 tolerance.
"""

from __future__ import annotations

import os
import socket

import torch
import torch.multiprocessing as mp

from helpers import assert_close
import hifihr.engine.trainer
from hifihr.engine import Trainer
from hifihr.engine.setup import build_network
from test_engine_setup import tiny_config, tiny_root  # noqa: F401  (fixture)

# mrgb squares a batch mean, so it is not a mean of per-sample terms: leave it out here.
LOSS = {"supervision": "full", "drop": ["perceptual", "mrgb"]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _float64_trainer(cfg) -> Trainer:
    hifihr.engine.trainer.build_network = lambda c: build_network(c).double()
    try:
        return Trainer(cfg, device="cpu", tensorboard=False)
    finally:
        hifihr.engine.trainer.build_network = build_network


def _gradients(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {name: p.grad.detach().clone() for name, p in trainer.model.named_parameters() if p.grad is not None}


def _first_batch(trainer: Trainer) -> dict:
    batch = next(trainer._epoch_batches(1, 0))
    return {k: v.double() if isinstance(v, torch.Tensor) and v.is_floating_point() else v for k, v in batch.items()}


def _worker(rank: int, world_size: int, port: int, root, out_file: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    trainer = _float64_trainer(tiny_config(root, name="ddp", loss=LOSS))
    # BatchNorm on running statistics: per-rank batch statistics are the one thing DDP does not share.
    trainer.model.eval()
    batch = _first_batch(trainer)
    result, _ = trainer.train_step(batch, 1)
    grads = {name.removeprefix("module."): g for name, g in _gradients(trainer).items()}
    # A NaN in one rank's images: every rank skips the step, and the next step trains normally.
    poisoned = dict(batch, image=batch["image"].clone())
    if rank == 1:
        poisoned["image"][0] = float("nan")
    skipped, _ = trainer.train_step(poisoned, 1)
    after, _ = trainer.train_step(batch, 1)
    torch.save(
        {"grads": grads, "batch_index": batch["index"], "loss": result.loss, "skipped": skipped.skipped, "after": after.skipped},
        out_file.format(rank=rank),
    )
    torch.distributed.destroy_process_group()


def test_two_process_gradients_equal_one_process(tiny_root, tmp_path):
    out_file = str(tmp_path / "rank{rank}.pt")
    mp.spawn(_worker, args=(2, _free_port(), tiny_root, out_file), nprocs=2, join=True)
    ranks = [torch.load(out_file.format(rank=r), weights_only=True) for r in (0, 1)]

    single = _float64_trainer(tiny_config(tiny_root, name="single", loss=LOSS))
    single.model.eval()
    batch = _first_batch(single)
    result, _ = single.train_step(batch, 1)
    expected = _gradients(single)

    # The ranks split the same global batch between them, and agree on the averaged gradients.
    assert sorted(torch.cat([r["batch_index"] for r in ranks]).tolist()) == sorted(batch["index"].tolist())
    assert set(ranks[0]["grads"]) == set(expected) and len(expected) > 50
    for name, grad in expected.items():
        assert_close(ranks[0]["grads"][name], grad, atol=1e-6, msg=name)
        assert torch.equal(ranks[0]["grads"][name], ranks[1]["grads"][name]), name
    # Each rank's loss is the mean over its half; their mean is the one-process loss.
    assert abs((ranks[0]["loss"] + ranks[1]["loss"]) / 2 - result.loss) < 1e-9 * abs(result.loss)
    assert all(r["skipped"] and not r["after"] for r in ranks)
