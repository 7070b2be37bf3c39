"""Batching samples that may come from different datasets.

A batch carries a field only when every sample in it has the field: FreiHAND samples have
``verts3d``, RHD samples do not, so a mixed batch has no ``verts3d`` (it is absent, never
zero-filled). Tensors are stacked along a new leading dimension; strings become lists.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch.utils.data import default_collate


def collate(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stack sample dicts into a batch dict, keeping only the fields all samples share.

    Args:
        samples: B sample dicts (keys in :mod:`hifihr.data`).
    Returns:
        A dict: tensor fields ``[B, ...]``, string fields lists of B strings.
    Raises:
        ValueError: no samples, or a shared field has different shapes across samples.
    """
    if not samples:
        raise ValueError("collate: expected at least one sample, got none")
    shared = [key for key in samples[0] if all(key in sample for sample in samples[1:])]
    batch: dict[str, Any] = {}
    for key in shared:
        values = [sample[key] for sample in samples]
        if isinstance(values[0], torch.Tensor):
            shapes = sorted({tuple(value.shape) for value in values})
            if len(shapes) > 1:
                origins = sorted({str(sample.get("dataset", "?")) for sample in samples})
                raise ValueError(f"collate: field {key!r} has different shapes {shapes} across samples from {origins}")
        batch[key] = default_collate(values)  # stacks into shared memory inside loader workers
    return batch
