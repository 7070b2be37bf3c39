"""Run configuration: one typed, frozen dataclass per section, JSON files, command-line overrides.

A config file is JSON with the sections below (every key optional; defaults as declared). It may
start with ``"base": "relative/path.json"`` to inherit another file: objects merge key by key,
anything else (numbers, strings, lists) replaces the inherited value. ``--set a.b=value``
overrides apply after inheritance; the value is parsed as JSON when it can be (numbers, true,
false, null, lists, objects), else taken as a string; ``data.train.0.root=...`` indexes lists.

Validation rejects an unknown key (naming its full dotted path and the closest valid key), a
value of the wrong type or outside its allowed set (naming the key, the value and what is
allowed), a name that is not in its registry (hand model, encoder, renderer backend, shading,
dataset, dataset option, loss, supervision preset, optimiser: :mod:`hifihr.registry`), and
settings that contradict each other (e.g. the ``sil`` loss without ``render.soft_silhouette``).
``"imports": ["my_module", ...]`` names modules imported before validation, so that the losses,
datasets, encoders or backends they register can be named in the same config.

Sections: ``experiment``, ``hand``, ``model``, ``render``, ``data``, ``loss``, ``optim``,
``train``, ``init``, ``eval``. Epochs are *global* epochs: the counter continues across
training stages (fine-tuning after the 250-epoch RHD pretraining starts at epoch 251), and loss
weight schedules, learning-rate milestones and ``train.epochs`` all refer to it. A loss-weight
milestone m applies from epoch m, a learning-rate milestone after epoch m (from m + 1), as in the
reference (:class:`OptimConfig`).

Entry points: :func:`load_config`, :func:`config_from_dict`, :func:`config_to_dict`,
:func:`save_config`, :func:`describe_config`; ``python -m hifihr.config FILE [--set k=v ...]``
prints the resolved config. Modules: :mod:`~hifihr.config.schema` (the dataclasses),
:mod:`~hifihr.config.convert` (JSON <-> dataclasses, the registry checks),
:mod:`~hifihr.config.checks` (checks across fields), :mod:`~hifihr.config.files` (files,
inheritance, overrides, the command line).
"""

from hifihr.config.convert import config_from_dict, config_to_dict, describe_config, import_modules
from hifihr.config.files import apply_override, load_config, main, parse_override, read_config_file, save_config
from hifihr.config.schema import (
    BEST_METRICS,
    FREEZE_GROUPS,
    Config,
    ConfigError,
    DataConfig,
    DatasetSpec,
    EvalConfig,
    ExperimentConfig,
    HandConfig,
    InitConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    RegistryRef,
    RenderConfig,
    TrainConfig,
)

__all__ = [
    "BEST_METRICS",
    "Config",
    "ConfigError",
    "DataConfig",
    "DatasetSpec",
    "EvalConfig",
    "ExperimentConfig",
    "FREEZE_GROUPS",
    "HandConfig",
    "InitConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "RegistryRef",
    "RenderConfig",
    "TrainConfig",
    "apply_override",
    "config_from_dict",
    "config_to_dict",
    "describe_config",
    "import_modules",
    "load_config",
    "main",
    "parse_override",
    "read_config_file",
    "save_config",
]
