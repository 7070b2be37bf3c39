"""Building what a run needs from its config: run folder, datasets, loaders, network, batches on
the device. Shared by the trainer, the evaluator and the scripts.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from hifihr.config import Config, DatasetSpec, config_from_dict
from hifihr.data import HandDataset, build_dataset, build_loader
from hifihr.engine.checkpoint import load_checkpoint, load_model_weights
from hifihr.engine.distributed import DistContext, ShardedBatchSampler
from hifihr.models import HiFiHR, build_model


def run_dir(cfg: Config) -> Path:
    """``<experiment.output_dir>/<experiment.name>``: where the run's files go."""
    return Path(cfg.experiment.output_dir) / cfg.experiment.name


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), NumPy's and Python's global generators.

    The datasets and samplers draw from their own seeded generators; this fixes the network's
    initialisation and anything else that uses the global generators.
    """
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def build_network(cfg: Config) -> HiFiHR:
    """The network of ``cfg``, initialised from ``experiment.seed`` (same seed, same weights)."""
    seed_everything(cfg.experiment.seed)
    return build_model(cfg.hand, cfg.model, cfg.render)


def network_from_checkpoint(checkpoint: str | Path) -> tuple[HiFiHR, Config]:
    """The network that the config stored in ``checkpoint`` describes, with the checkpoint's
    weights (loaded strictly), on the CPU in eval mode; returns (network, that config). The
    encoder is built without its ImageNet weights: the checkpoint holds every weight.

    Raises:
        hifihr.engine.checkpoint.CheckpointError: the file is unreadable or does not fit the network.
    """
    state = load_checkpoint(checkpoint)
    cfg = config_from_dict(state["config"])
    model = build_model(cfg.hand, dataclasses.replace(cfg.model, pretrained=False), cfg.render)
    load_model_weights(model, state["model"], strict=True)
    return model.eval(), cfg


@dataclass(frozen=True)
class NamedDataset:
    """A dataset of the run with its tag (``<name>_<split>``, made unique by an index suffix)."""

    tag: str
    spec: DatasetSpec
    dataset: HandDataset


def build_datasets(specs: Sequence[DatasetSpec], cfg: Config, evaluation: bool) -> list[NamedDataset]:
    """Build ``data.train`` or ``data.val`` datasets at ``render.image_size`` with ``experiment.seed``.

    Validation datasets never augment (their crops are deterministic).
    """
    built: list[NamedDataset] = []
    for spec in specs:
        options: dict[str, Any] = {"image_size": cfg.render.image_size, "seed": cfg.experiment.seed, **spec.options}
        if evaluation:
            options["augment"] = False
        dataset = build_dataset(spec.name, spec.root, spec.split, **options)
        tag = f"{spec.name}_{spec.split}"
        taken = {b.tag for b in built}
        if tag in taken:
            tag = next(f"{tag}_{i}" for i in range(2, len(built) + 2) if f"{tag}_{i}" not in taken)
        built.append(NamedDataset(tag, spec, dataset))
    return built


def sharded_loader(
    datasets: Sequence[HandDataset],
    batch_size: int,
    ctx: DistContext,
    *,
    shuffle: bool,
    num_workers: int,
    mix: str,
    seed: int,
) -> DataLoader:
    """A loader of this rank's share of every global batch (:class:`ShardedBatchSampler`).

    Training loaders (``shuffle``) drop incomplete batches and need ``batch_size`` to split
    evenly over the ranks; evaluation loaders keep every sample. Call
    ``loader.batch_sampler.set_epoch(epoch, skip_batches)`` and the datasets' ``set_epoch``
    (``hifihr.data.set_epoch``) before each epoch.
    """
    base = build_loader(list(datasets), batch_size, shuffle=shuffle, num_workers=num_workers, mix=mix, seed=seed)
    sampler = ShardedBatchSampler(base.batch_sampler, ctx.rank, ctx.world_size, batch_size, require_even=shuffle)
    return DataLoader(
        base.dataset,
        batch_sampler=sampler,
        collate_fn=base.collate_fn,
        num_workers=base.num_workers,
        worker_init_fn=base.worker_init_fn,
        pin_memory=ctx.device.type == "cuda",
        # The loader's own generator draws the workers' base seed, so the global torch
        # generator (the network's) is untouched by creating iterators.
        generator=torch.Generator().manual_seed(seed),
    )


def to_device(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    """The batch with every tensor on ``device`` (lists of strings stay as they are)."""
    non_blocking = device.type == "cuda"
    return {
        key: value.to(device, non_blocking=non_blocking) if isinstance(value, torch.Tensor) else value
        for key, value in batch.items()
    }


def batch_root_index(batch: Mapping[str, Any]) -> int:
    """The root keypoint index shared by the batch's samples (9, or 0 on HO-3D's evaluation split).

    Raises:
        ValueError: the samples disagree (datasets with different roots mixed in one batch).
    """
    values = batch["root_index"].unique().tolist()
    if len(values) != 1:
        raise ValueError(
            f"a batch mixes samples with root keypoints {values}; keep such datasets in separate batches (data.mix = 'batch')"
        )
    return int(values[0])
