"""Datasets by name: ``build_dataset(name, root, split, **options)``.

Each loader registers itself with :func:`register_dataset`; a name may fix some constructor
options (``ho3d_v2`` and ``ho3d_v3`` are the same class with ``version`` fixed). Options are
plain keyword arguments of the class (see each class's docstring); ``augmentation`` may be given
as a dict of :class:`~hifihr.data.transforms.Augmentation` fields, which change the dataset's
reference augmentation.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from hifihr.data.base import HandDataset
from hifihr.data.transforms import Augmentation
from hifihr.registry import Registry, did_you_mean


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its class, the options the name fixes, and one line about it."""

    name: str
    cls: type[HandDataset]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


#: Every dataset by name (``DATASETS.get(name)`` is its :class:`DatasetEntry`).
DATASETS: Registry[DatasetEntry] = Registry("dataset")


def register_dataset(name: str, description: str, **fixed: Any) -> Callable[[type[HandDataset]], type[HandDataset]]:
    """Class decorator: register ``cls`` in :data:`DATASETS` under ``name`` with the options ``fixed``."""

    def decorator(cls: type[HandDataset]) -> type[HandDataset]:
        DATASETS.register(name, DatasetEntry(name=name, cls=cls, fixed=dict(fixed), description=description), description=description)
        return cls

    return decorator


def dataset_options(name: str) -> dict[str, Any]:
    """The options ``build_dataset(name, ...)`` accepts, with their defaults."""
    entry = DATASETS.get(name)
    options: dict[str, Any] = {}
    for cls in entry.cls.__mro__:
        if not (isinstance(cls, type) and issubclass(cls, HandDataset)):
            continue
        for param in inspect.signature(cls.__init__).parameters.values():
            if param.kind is param.KEYWORD_ONLY and param.name not in entry.fixed:
                options.setdefault(param.name, param.default)
    return options


def build_dataset(name: str, root: str | Path, split: str, **options: Any) -> HandDataset:
    """Build the dataset registered as ``name`` reading ``root``, split ``"train"`` or ``"evaluation"``.

    Raises:
        ValueError: unknown name or option (the message lists the valid ones).
        DatasetLayoutError, AnnotationError: the folder does not hold the expected files.
    """
    entry = DATASETS.get(name)
    valid = dataset_options(name)
    for key in options:
        if key not in valid:
            raise ValueError(f"{name}: unknown option {key!r}{did_you_mean(key, valid)}; valid options: {', '.join(sorted(valid))}")
    augmentation = options.get("augmentation")
    if isinstance(augmentation, Mapping):
        fields = set(inspect.signature(Augmentation).parameters)
        unknown = sorted(set(augmentation) - fields)
        if unknown:
            raise ValueError(f"{name}: unknown augmentation option(s) {unknown}; valid: {', '.join(sorted(fields))}")
        options["augmentation"] = entry.cls.default_augmentation.with_options(**augmentation)
    dataset = entry.cls(root, split, **entry.fixed, **options)
    dataset.name = entry.name
    return dataset
