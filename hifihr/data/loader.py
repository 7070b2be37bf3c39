"""Data loaders over one or several datasets.

:func:`build_loader` wraps :class:`torch.utils.data.DataLoader` with the project's
:func:`~hifihr.data.collate.collate` and a :class:`MixedBatchSampler` that either keeps each
batch within one dataset (``mix="batch"``, as the reference alternates its loaders, so every
batch keeps all of its dataset's fields) or shuffles samples of all datasets together
(``mix="sample"``, batches keep the fields the datasets share).
"""

from __future__ import annotations

from typing import Iterator, Literal, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Sampler

from hifihr.data.base import HandDataset
from hifihr.data.collate import collate

MixMode = Literal["batch", "sample"]


class MixedBatchSampler(Sampler[list[int]]):
    """Batches of indices into ``ConcatDataset`` of datasets with ``sizes``.

    Args:
        sizes: number of samples of each dataset, in concatenation order.
        batch_size: samples per batch.
        shuffle: shuffle samples (and, with ``mix="batch"``, the order of the batches); the
            order is drawn from ``numpy.random.default_rng((seed, epoch))``.
        drop_last: drop incomplete batches (per dataset with ``mix="batch"``).
        mix: ``"batch"``: each batch from one dataset; ``"sample"``: samples of all datasets mixed.
        seed: seed of the shuffles.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = True,
        mix: MixMode = "batch",
        seed: int = 0,
    ) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size: expected a positive number, got {batch_size}")
        if mix not in ("batch", "sample"):
            raise ValueError(f"mix: expected 'batch' or 'sample', got {mix!r}")
        self.sizes = [int(n) for n in sizes]
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.mix = mix
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffle of ``epoch``."""
        self.epoch = int(epoch)

    def _chunks(self, indices: np.ndarray) -> list[list[int]]:
        stop = len(indices) - len(indices) % self.batch_size if self.drop_last else len(indices)
        return [indices[i : i + self.batch_size].tolist() for i in range(0, stop, self.batch_size)]

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng((self.seed, self.epoch))
        offsets = np.concatenate([[0], np.cumsum(self.sizes)])
        if self.mix == "sample":
            total = int(offsets[-1])
            return self._chunks(rng.permutation(total) if self.shuffle else np.arange(total))
        batches: list[list[int]] = []
        for start, size in zip(offsets[:-1], self.sizes):
            local = rng.permutation(size) if self.shuffle else np.arange(size)
            batches += self._chunks(local + start)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        counts = [sum(self.sizes)] if self.mix == "sample" else self.sizes
        if self.drop_last:
            return sum(n // self.batch_size for n in counts)
        return sum(-(-n // self.batch_size) for n in counts)


def _worker_init(worker_id: int) -> None:
    # One torch thread per worker: the workers already use the cores.
    torch.set_num_threads(1)


def build_loader(
    datasets: HandDataset | Sequence[HandDataset],
    batch_size: int,
    *,
    shuffle: bool,
    drop_last: bool | None = None,
    num_workers: int = 0,
    mix: MixMode = "batch",
    seed: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader over ``datasets`` that yields batch dicts (see :mod:`hifihr.data.collate`).

    ``drop_last`` defaults to ``shuffle`` (drop for training, keep every sample for evaluation).
    Call :func:`set_epoch` before each epoch so the shuffles and augmentations change.

    With ``num_workers > 0`` this turns OpenCV's own thread pool off in the calling process
    (``cv2.setNumThreads(0)``): workers are forked, and a child that inherits OpenCV's pool
    can deadlock in it. The workers already use the cores.
    """
    datasets = [datasets] if isinstance(datasets, HandDataset) else list(datasets)
    if not datasets:
        raise ValueError("build_loader: expected at least one dataset")
    if num_workers > 0:
        cv2.setNumThreads(0)
    sampler = MixedBatchSampler(
        [len(d) for d in datasets],
        batch_size,
        shuffle=shuffle,
        drop_last=shuffle if drop_last is None else drop_last,
        mix=mix,
        seed=seed,
    )
    return DataLoader(
        ConcatDataset(datasets),
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=num_workers,
        worker_init_fn=_worker_init if num_workers > 0 else None,
        pin_memory=pin_memory,
    )


def set_epoch(loader: DataLoader, epoch: int) -> None:
    """Set the epoch of a loader from :func:`build_loader`: its shuffle and its datasets' augmentation."""
    loader.batch_sampler.set_epoch(epoch)
    for dataset in loader.dataset.datasets:
        dataset.set_epoch(epoch)
