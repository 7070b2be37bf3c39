"""Run configuration: one typed, frozen dataclass per section, JSON files, command-line overrides.

A config file is JSON with the sections below (every key optional; defaults as declared). It may
start with ``"base": "relative/path.json"`` to inherit another file: objects merge key by key,
anything else (numbers, strings, lists) replaces the inherited value. ``--set a.b=value``
overrides apply after inheritance; the value is parsed as JSON when it can be (numbers, true,
false, null, lists, objects), else taken as a string; ``data.train.0.root=...`` indexes lists.

Validation rejects an unknown key (naming its full dotted path and the closest valid key), a
value of the wrong type or outside its allowed set (naming the key, the value and what is
allowed), unknown dataset, dataset option, hand model or loss names, and settings that
contradict each other (e.g. the ``sil`` loss without ``render.soft_silhouette``).

Sections: ``experiment``, ``hand``, ``model``, ``render``, ``data``, ``loss``, ``optim``,
``train``, ``init``, ``eval``. Epochs are *global* epochs: the counter continues across
training stages (fine-tuning after the 250-epoch RHD pretraining starts at epoch 251), and loss
weight schedules, learning-rate milestones and ``train.epochs`` all refer to it. A loss-weight
milestone m applies from epoch m, a learning-rate milestone after epoch m (from m + 1), as in the
reference (:class:`OptimConfig`).

Entry points: :func:`load_config`, :func:`config_from_dict`, :func:`config_to_dict`,
:func:`save_config`, :func:`describe_config`; ``python -m hifihr.config FILE [--set k=v ...]``
prints the resolved config.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import os
import sys
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Optional, Sequence, Union, get_args, get_origin, get_type_hints

from hifihr.data import dataset_options, list_datasets
from hifihr.data.registry import dataset_entry
from hifihr.hand import list_hand_models
from hifihr.losses import WeightSchedule, get_loss, list_losses, resolve_weights


class ConfigError(ValueError):
    """A config key is unknown, or its value has the wrong type, is not allowed, or contradicts another."""


def _f(default: Any, doc: str, *, minimum: float | None = None, exclusive: bool = False) -> Any:
    """A field with a default, a one-line doc and an optional lower bound (inclusive unless ``exclusive``)."""
    metadata = {"doc": doc, "minimum": minimum, "exclusive": exclusive}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


Schedulable = Union[float, WeightSchedule]

BACKBONES = ("tf_efficientnet_b3", "efficientnet_b3", "resnet18", "resnet50", "resnet101", "hrnet_w18_small_v2", "hrnet_w32", "efficientnet_lite0")
#: Metrics that can select the best epoch (``eval.best_metric``) -> True when higher is better.
BEST_METRICS = {
    "pa_mpjpe_mm": False,
    "pa_mpvpe_mm": False,
    "auc_j": True,
    "auc_v": True,
    "f_at_5mm": True,
    "f_at_15mm": True,
    "psnr_db": True,
    "ssim": True,
    "lpips": False,
}
#: Module groups of the network that ``init.freeze`` can freeze.
FREEZE_GROUPS = ("encoder", "trunk", "pose_head", "shape_head", "texture_head", "light_head", "camera_head")


@dataclass(frozen=True)
class ExperimentConfig:
    """Naming, output location and seed of a run."""

    name: str = _f("run", "run name; outputs go to <output_dir>/<name>/")
    output_dir: str = _f("outputs", "folder holding the runs, relative to the working directory")
    seed: int = _f(0, "seed of every random generator of the run", minimum=0)


@dataclass(frozen=True)
class HandConfig:
    """The parametric hand model."""

    model: Literal["open_hand", "nimble", "mano"] = _f("open_hand", "hand model (hifihr.hand registry)")
    assets_dir: Optional[str] = _f(None, "folder of the NIMBLE-format assets; null = the shipped open hand")
    mano_dir: Optional[str] = _f(None, "folder with MANO_RIGHT.pkl: MANO model, or MANO-topology evaluation vertices")
    shape_ncomp: int = _f(20, "shape PCA coefficients regressed", minimum=1)
    pose_ncomp: int = _f(27, "pose PCA coefficients regressed (after the 3 root axis-angle values)", minimum=1)
    tex_ncomp: int = _f(10, "texture PCA coefficients regressed", minimum=1)


@dataclass(frozen=True)
class ModelConfig:
    """The network: encoder, heads and what they predict."""

    backbone: Literal[BACKBONES] = _f("efficientnet_b3", "image encoder")  # type: ignore[valid-type]
    pretrained: bool = _f(True, "start the encoder from ImageNet weights: pretrained_file, else the encoder's weight package, else timm's local cache")
    pretrained_file: Optional[str] = _f(None, "local state dict of the encoder's ImageNet weights (timm's naming or its package's); null = package or timm cache")
    input_norm: Literal["auto", "imagenet", "none"] = _f("auto", "input normalisation: 'auto' = the one the weights were trained with, 'imagenet', or 'none' (feeds [0, 1] RGB as the reference)")
    light: Literal["sh", "sh16", "directional", "none"] = _f("sh", "light head: SH bands 0-2 / 0-3, the reference's directional light, or none")
    root: Literal["gt", "predicted"] = _f("gt", "where the mesh is placed in the camera: ground-truth root (reference) or predicted")
    texture: bool = _f(True, "regress texture coefficients (the texture head); needed by the photometric losses")
    use_mean_shape: bool = _f(False, "fix the shape to the mean (zero coefficients), as the reference's RHD pretraining")
    mean_orientation: tuple[float, ...] = _f((0.0, 0.0, 0.0), "axis-angle (radians, camera frame) the predicted root rotation is relative to; zeros = the reference")


@dataclass(frozen=True)
class RenderConfig:
    """The differentiable renderer."""

    image_size: int = _f(224, "side of the square crop, pixels; also the crop size of every dataset", minimum=8)
    supersample: int = _f(3, "render at this many times the size, then average-pool (anti-aliasing)", minimum=1)
    backend: Literal["torch", "pytorch3d"] = _f("torch", "rasteriser implementation")
    shading: Literal["sh", "phong", "albedo"] = _f("sh", "shading model: SH Lambertian, the reference's Phong, or albedo only")
    background: tuple[float, ...] = _f((1.0, 1.0, 1.0), "RGB colour behind the hand, in [0, 1] (reference: white)")
    soft_silhouette: bool = _f(True, "also render the differentiable silhouette (the 'sil' loss needs it)")
    blur_radius_px: float = _f(2.0, "soft silhouette: distance, pixels, at which a face's coverage falls to 1e-4", minimum=0.0, exclusive=True)


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of a training or validation mix."""

    name: str = _f("freihand", "dataset registry name (hifihr.data.list_datasets())")
    root: str = _f("datasets/FreiHAND_pub_v2", "dataset folder in its official layout")
    split: str = _f("train", "which split to read (the dataset class's ``splits``)")
    options: dict[str, Any] = _f({}, "constructor options of the dataset (masks, openpose, ...); the crop size is render.image_size")


@dataclass(frozen=True)
class DataConfig:
    """What to train and validate on, and how to batch it."""

    train: tuple[DatasetSpec, ...] = _f((), "training datasets (several are mixed)")
    val: tuple[DatasetSpec, ...] = _f((), "validation datasets")
    batch_size: int = _f(48, "training batch size", minimum=1)
    val_batch_size: int = _f(16, "validation batch size", minimum=1)
    num_workers: int = _f(8, "data loader worker processes", minimum=0)
    mix: Literal["batch", "sample"] = _f("batch", "mixing several training sets: whole batches from one set, or samples mixed")


@dataclass(frozen=True)
class LossConfig:
    """The training objective: a supervision preset, edited."""

    supervision: Literal["full", "weak", "self"] = _f("weak", "preset of active terms and weights (hifihr.losses.SUPERVISION_PRESETS)")
    base: Literal["l1", "l2"] = _f("l1", "elementwise distance of joint_2d, joint_3d and vert_3d")
    add: dict[str, Schedulable] = _f({}, "terms to add to the preset: name -> weight or {values, milestones}")
    drop: tuple[str, ...] = _f((), "preset terms to remove")
    weights: dict[str, Schedulable] = _f({}, "new weights of active terms: name -> weight or {values, milestones}")

    def resolved_weights(self) -> dict[str, WeightSchedule]:
        """Active term -> weight schedule (:func:`hifihr.losses.resolve_weights`)."""
        return resolve_weights(self.supervision, self.add, self.drop, self.weights)


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser and learning-rate schedule.

    The learning rate at global epoch e is ``lr * prod(gamma_i for milestone_i < e)``, with
    ``gamma_i = lr_gamma`` (a number) or ``lr_gamma[i]`` (a list, one factor per milestone).
    A milestone m is PyTorch's ``MultiStepLR`` milestone stepped after every epoch, as in the
    reference: the factor applies *after* epoch m, from epoch m + 1 on. (Loss-weight milestones,
    :class:`~hifihr.losses.WeightSchedule`, apply *from* their epoch, as the reference's lambda
    steps set at the start of each epoch.)
    """

    optimizer: Literal["adam", "adamw"] = _f("adam", "Adam (L2 weight decay) or AdamW (decoupled weight decay)")
    lr: float = _f(1e-3, "learning rate before the first milestone", minimum=0.0, exclusive=True)
    betas: tuple[float, ...] = _f((0.9, 0.999), "Adam's two moment decay rates")
    weight_decay: float = _f(0.0, "weight decay", minimum=0.0)
    lr_milestones: tuple[int, ...] = _f((), "global epochs after which the learning rate is multiplied by the next factor (MultiStepLR)")
    lr_gamma: Union[float, tuple[float, ...]] = _f(0.5, "factor applied at every milestone, or one factor per milestone")
    grad_clip: Optional[float] = _f(None, "clip the gradient's global norm to this; null = no clipping", minimum=0.0, exclusive=True)

    def lr_at(self, epoch: int) -> float:
        """The learning rate at global epoch ``epoch``."""
        gammas = self.lr_gamma if isinstance(self.lr_gamma, tuple) else (self.lr_gamma,) * len(self.lr_milestones)
        return self.lr * math.prod(g for m, g in zip(self.lr_milestones, gammas) if m < epoch)


@dataclass(frozen=True)
class TrainConfig:
    """The training loop."""

    epochs: int = _f(100, "last global epoch of this run (inclusive)", minimum=1)
    start_epoch: int = _f(1, "first global epoch of this run; 251 to continue after the 250-epoch RHD pretraining", minimum=1)
    eval_interval: int = _f(10, "validate every this many epochs", minimum=1)
    save_interval: int = _f(10, "keep a checkpoint every this many epochs (last.pt is written every epoch)", minimum=1)
    checkpoint_interval: int = _f(0, "also write last.pt every this many training steps, mid-epoch (0 = at epoch ends only)", minimum=0)
    amp: Literal["none", "bf16", "fp16"] = _f("none", "mixed precision")
    log_interval: int = _f(100, "log the losses every this many iterations", minimum=1)
    image_log_interval: int = _f(1000, "log render/input images every this many iterations", minimum=1)
    max_nonfinite_steps: int = _f(10, "stop after this many consecutive steps with a NaN/inf loss (they are skipped)", minimum=0)


@dataclass(frozen=True)
class InitConfig:
    """What a run starts from."""

    checkpoint: Optional[str] = _f(None, "checkpoint to start from (this project's format); null = fresh")
    load: tuple[Literal["model", "optimizer", "scheduler"], ...] = _f(("model",), "what to restore from the checkpoint")
    texture_checkpoint: Optional[str] = _f(None, "second checkpoint whose texture_head and light_head replace init.checkpoint's (the reference's pretrain_texture_model); null = none")
    freeze: tuple[Literal[FREEZE_GROUPS], ...] = _f((), "module groups left untrained (e.g. all but the texture and light heads)")  # type: ignore[valid-type]
    freeze_norm: Literal["batch", "running"] = _f("batch", "BatchNorm of frozen groups: 'batch' normalises with batch statistics, running ones kept (momentum 0, the reference); 'running' uses the running statistics (eval mode)")


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation."""

    texture_protocol: Literal["masked", "reference"] = _f("masked", "texture metrics per image in the mask, or the reference's per-batch numbers")
    lpips: bool = _f(True, "compute LPIPS (needs torchvision's AlexNet weights in the cache)")
    figure_samples: int = _f(8, "samples drawn in the evaluation figure", minimum=0)
    best_metric: Literal[tuple(BEST_METRICS)] = _f("pa_mpjpe_mm", "metric of the first validation dataset that selects the best epoch (on the evaluation split, as the reference)")  # type: ignore[valid-type]


@dataclass(frozen=True)
class Config:
    """A whole run."""

    description: str = _f("", "what the run is, and which reference config it mirrors")
    experiment: ExperimentConfig = _f(ExperimentConfig(), "naming and seed")
    hand: HandConfig = _f(HandConfig(), "hand model")
    model: ModelConfig = _f(ModelConfig(), "network")
    render: RenderConfig = _f(RenderConfig(), "renderer")
    data: DataConfig = _f(DataConfig(), "datasets and batching")
    loss: LossConfig = _f(LossConfig(), "objective")
    optim: OptimConfig = _f(OptimConfig(), "optimiser and learning rate")
    train: TrainConfig = _f(TrainConfig(), "training loop")
    init: InitConfig = _f(InitConfig(), "initialisation")
    eval: EvalConfig = _f(EvalConfig(), "evaluation")


# ----------------------------------------------------------------------------------------------
# Conversion of JSON values to typed values
# ----------------------------------------------------------------------------------------------


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _describe(tp: Any) -> str:
    """What a type accepts, in words."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if tp is Any:
        return "any value"
    if tp is type(None):
        return "null"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if tp is WeightSchedule:
        return 'a schedule {"values": [...], "milestones": [...]}'
    if dataclasses.is_dataclass(tp):
        return f"an object with keys {', '.join(f.name for f in dataclasses.fields(tp))}"
    if origin is tuple:
        return f"a list, each {_describe(args[0])}"
    if origin is dict:
        return f"an object, each value {_describe(args[1])}"
    if _is_union(tp):
        return " or ".join(_describe(a) for a in args)
    raise TypeError(f"no description for type {tp!r}")


def _kind_matches(value: Any, tp: Any) -> bool:
    """Whether a JSON value has the kind (number, string, list, object, ...) a type expects."""
    origin = get_origin(tp)
    if tp is Any:
        return True
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str or origin is Literal:
        return isinstance(value, str)
    if tp is type(None):
        return value is None
    if origin is tuple:
        return isinstance(value, (list, tuple))
    if origin is dict or dataclasses.is_dataclass(tp):
        return isinstance(value, Mapping) or isinstance(value, tp if dataclasses.is_dataclass(tp) else dict)
    raise TypeError(f"no kind for type {tp!r}")


def _type_error(key: str, value: Any, tp: Any) -> ConfigError:
    return ConfigError(f"{key}: expected {_describe(tp)}, got {json.dumps(value, default=repr)} ({type(value).__name__})")


def _unknown_key_error(key: str, name: str, valid: Sequence[str]) -> ConfigError:
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {_join(key, close[0])!r}?)" if close else ""
    where = f"of {key!r}" if key else "at the top level"
    return ConfigError(f"unknown key {_join(key, name)!r}{hint}; valid keys {where}: {', '.join(valid)}")


def _join(prefix: str, name: Any) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Convert a JSON value to type ``tp``; errors name ``key``."""
    origin, args = get_origin(tp), get_args(tp)
    if _is_union(tp):
        candidates = [a for a in args if _kind_matches(value, a)]
        if not candidates:
            raise _type_error(key, value, tp)
        return _convert(value, candidates[0], key)
    if not _kind_matches(value, tp):
        raise _type_error(key, value, tp)
    if origin is Literal:
        if value not in args:
            close = difflib.get_close_matches(value, args, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{key}: expected one of {', '.join(repr(a) for a in args)}, got {value!r}{hint}")
        return value
    if tp is float:
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return float(value)
    if origin is tuple:
        return tuple(_convert(item, args[0], _join(key, i)) for i, item in enumerate(value))
    if origin is dict:
        return {str(k): _convert(v, args[1], _join(key, k)) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return value if isinstance(value, tp) else _convert_dataclass(value, tp, key)
    return value


def _convert_dataclass(data: Mapping[str, Any], cls: type, key: str) -> Any:
    hints = get_type_hints(cls)
    valid = [f.name for f in dataclasses.fields(cls)]
    for name in data:
        if name not in valid:
            raise _unknown_key_error(key, name, valid)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = _convert(data[f.name], hints[f.name], _join(key, f.name))
        minimum = f.metadata.get("minimum")
        if minimum is not None and value is not None and (value <= minimum if f.metadata["exclusive"] else value < minimum):
            relation = ">" if f.metadata["exclusive"] else ">="
            raise ConfigError(f"{_join(key, f.name)}: expected a value {relation} {minimum}, got {value!r}")
        values[f.name] = value
    try:
        return cls(**values)
    except ValueError as err:
        raise ConfigError(f"{key}: {err}") from err


# ----------------------------------------------------------------------------------------------
# Checks across fields
# ----------------------------------------------------------------------------------------------

#: Prediction fields a loss may need -> (is it produced under this config?, the key, the fix).
_PREDICTION_REQUIREMENTS: dict[str, tuple[Callable[[Config], bool], str, str]] = {
    "texture_params": (lambda c: c.model.texture, "model.texture", "true"),
    "render.rgb": (lambda c: c.model.texture, "model.texture", "true (the render's colour comes from the texture head)"),
    "render.soft_alpha": (lambda c: c.render.soft_silhouette, "render.soft_silhouette", "true"),
    "light": (lambda c: c.model.light != "none", "model.light", "'sh', 'sh16' or 'directional'"),
}

#: Shading models that can use each light head's output.
_SHADING_FOR_LIGHT = {"sh": ("sh",), "sh16": ("sh",), "directional": ("phong",), "none": ("sh", "phong", "albedo")}


def _check_loss_names(loss: LossConfig) -> None:
    valid = list_losses()
    named = [(f"loss.add.{n}", n) for n in loss.add]
    named += [(f"loss.drop.{i}", n) for i, n in enumerate(loss.drop)]
    named += [(f"loss.weights.{n}", n) for n in loss.weights]
    for key, name in named:
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{key}: unknown loss {name!r}{hint}; valid names: {', '.join(valid)}")


def _check_datasets(cfg: Config) -> None:
    names = list_datasets()
    for split_key in ("train", "val"):
        for i, spec in enumerate(getattr(cfg.data, split_key)):
            key = f"data.{split_key}.{i}"
            if spec.name not in names:
                close = difflib.get_close_matches(spec.name, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"{key}.name: unknown dataset {spec.name!r}{hint}; valid: {', '.join(names)}")
            splits = dataset_entry(spec.name).cls.splits
            if spec.split not in splits:
                raise ConfigError(f"{key}.split: {spec.name} has no split {spec.split!r}; valid: {', '.join(splits)}")
            valid = sorted(set(dataset_options(spec.name)) - {"image_size"})
            for option in spec.options:
                if option == "image_size":
                    raise ConfigError(f"{key}.options.image_size: the crop size is render.image_size; set that instead")
                if option not in valid:
                    raise _unknown_key_error(f"{key}.options", option, valid)


def _validate(cfg: Config) -> None:
    """Checks that involve several fields or outside registries; raise :class:`ConfigError`."""
    if cfg.hand.model not in list_hand_models():
        raise ConfigError(f"hand.model: {cfg.hand.model!r} is not a registered hand model ({', '.join(list_hand_models())})")
    _check_datasets(cfg)
    if len(cfg.model.mean_orientation) != 3:
        raise ConfigError(f"model.mean_orientation: expected 3 numbers (axis-angle, radians), got {list(cfg.model.mean_orientation)}")
    if len(cfg.render.background) != 3 or not all(0.0 <= c <= 1.0 for c in cfg.render.background):
        raise ConfigError(f"render.background: expected 3 numbers in [0, 1], got {list(cfg.render.background)}")
    allowed_shading = _SHADING_FOR_LIGHT[cfg.model.light]
    if cfg.render.shading not in allowed_shading:
        raise ConfigError(
            f"render.shading: {cfg.render.shading!r} cannot use model.light = {cfg.model.light!r}; "
            f"allowed: {', '.join(repr(s) for s in allowed_shading)}"
        )
    _check_loss_names(cfg.loss)
    try:
        active = cfg.loss.resolved_weights()
    except ValueError as err:
        raise ConfigError(str(err)) from err
    # The open hand's evaluation vertices are its own skin, which is what the synthetic data
    # stores as ground truth; NIMBLE needs MANO's topology to compare with real datasets.
    comparable_verts = cfg.hand.model in ("mano", "open_hand") or cfg.hand.mano_dir is not None
    for name in active:
        if "verts3d" in get_loss(name).required_fields and not comparable_verts:
            raise ConfigError(
                f"loss {name!r} is active and compares MANO-topology vertices: set hand.mano_dir "
                "(folder of MANO_RIGHT.pkl) or hand.model = 'mano', or drop the term (loss.drop)"
            )
        for needed in get_loss(name).prediction_fields:
            if needed in _PREDICTION_REQUIREMENTS:
                produced, key, fix = _PREDICTION_REQUIREMENTS[needed]
                if not produced(cfg):
                    raise ConfigError(f"loss {name!r} is active and needs {needed}: set {key} to {fix}, or drop the term (loss.drop)")
    if cfg.train.start_epoch > cfg.train.epochs:
        raise ConfigError(f"train.start_epoch: {cfg.train.start_epoch} is after train.epochs = {cfg.train.epochs}")
    milestones = cfg.optim.lr_milestones
    if any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise ConfigError(f"optim.lr_milestones: expected strictly increasing epochs, got {list(milestones)}")
    if isinstance(cfg.optim.lr_gamma, tuple) and len(cfg.optim.lr_gamma) != len(milestones):
        raise ConfigError(
            f"optim.lr_gamma: a list needs one factor per milestone ({len(milestones)}), got {len(cfg.optim.lr_gamma)}"
        )
    if len(cfg.optim.betas) != 2 or not all(0.0 <= b < 1.0 for b in cfg.optim.betas):
        raise ConfigError(f"optim.betas: expected 2 numbers in [0, 1), got {list(cfg.optim.betas)}")
    if cfg.init.texture_checkpoint is not None:
        if cfg.init.checkpoint is None or "model" not in cfg.init.load:
            raise ConfigError("init.texture_checkpoint: replaces heads of init.checkpoint's model; set init.checkpoint and keep 'model' in init.load")
        if not cfg.model.texture or cfg.model.light == "none":
            raise ConfigError("init.texture_checkpoint: loads the texture and light heads; set model.texture = true and model.light to 'sh', 'sh16' or 'directional'")
    for key, values in (("init.load", cfg.init.load), ("init.freeze", cfg.init.freeze)):
        if len(set(values)) != len(values):
            raise ConfigError(f"{key}: an entry is repeated: {list(values)}")


# ----------------------------------------------------------------------------------------------
# Files, overrides, saving
# ----------------------------------------------------------------------------------------------


def config_from_dict(data: Mapping[str, Any]) -> Config:
    """Validate a config given as a JSON-like dict (without ``base``) and build it.

    Raises:
        ConfigError: see the module docstring.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"a config is a JSON object, got {type(data).__name__}")
    cfg = _convert_dataclass(data, Config, "")
    _validate(cfg)
    return cfg


def _to_json(value: Any) -> Any:
    if isinstance(value, WeightSchedule):
        return value.to_json()
    if dataclasses.is_dataclass(value):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _to_json(v) for k, v in value.items()}
    return value


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """The config as plain JSON types; ``config_from_dict(config_to_dict(cfg)) == cfg``."""
    return _to_json(cfg)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``: objects merge key by key, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) else value
    return merged


def read_config_file(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file as a dict, with its ``base`` chain merged in (``base`` paths are relative to the file).

    Raises:
        ConfigError: unreadable or invalid JSON, a missing base, or a cycle of bases.
    """
    path = Path(path).resolve()
    if path in _chain:
        raise ConfigError(f"config inheritance cycle: {' -> '.join(str(p) for p in (*_chain, path))}")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as err:
        via = f" (base of {_chain[-1]})" if _chain else ""
        raise ConfigError(f"config file {path} not found{via}") from err
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: invalid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a JSON object, got {type(data).__name__}")
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base: expected a path string, got {base!r}")
    return _merge(read_config_file(path.parent / base, (*_chain, path)), data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b=value"`` -> (["a", "b"], value); the value is JSON when it parses, else the string.

    Raises:
        ConfigError: no ``=`` or an empty key.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(f"override {text!r}: expected KEY=VALUE with a dotted key, e.g. optim.lr=1e-4")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip().split("."), value


def apply_override(data: dict[str, Any], text: str) -> None:
    """Apply one ``--set`` override to a raw config dict in place (list items by index: ``data.train.0.root``)."""
    parts, value = parse_override(text)
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        here = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"override {text!r}: {here!r} is not an index of a list of {len(node)} items")
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.setdefault(part, {})
        else:
            raise ConfigError(f"override {text!r}: {'.'.join(parts[:depth])!r} is {node!r}, not an object or list")
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(f"override {text!r}: {last!r} is not an index of a list of {len(node)} items")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"override {text!r}: {'.'.join(parts[:-1])!r} is {node!r}, not an object or list")


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """Read, inherit, override and validate a config file.

    Args:
        path: JSON config file.
        overrides: ``"a.b=value"`` strings, applied in order after inheritance.

    Raises:
        ConfigError: see the module docstring; the message names the key.
    """
    data = read_config_file(path)
    for text in overrides:
        apply_override(data, text)
    return config_from_dict(data)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as JSON, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(config_to_dict(cfg), indent=2) + "\n"
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as tmp:
        tmp.write(text)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, path)


def describe_config() -> list[tuple[str, str, Any, str]]:
    """Every leaf key: (dotted key, allowed values in words, default, one-line doc)."""
    rows: list[tuple[str, str, Any, str]] = []

    def visit(cls: type, prefix: str) -> None:
        hints = get_type_hints(cls)
        defaults = cls()
        for f in dataclasses.fields(cls):
            key = _join(prefix, f.name)
            if dataclasses.is_dataclass(hints[f.name]) and hints[f.name] is not WeightSchedule:
                visit(hints[f.name], key)
            else:
                rows.append((key, _describe(hints[f.name]), _to_json(getattr(defaults, f.name)), f.metadata["doc"]))

    visit(Config, "")
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m hifihr.config FILE [--set k=v ...] [--out PATH]``: print (and save) the resolved config."""
    parser = argparse.ArgumentParser(description="Validate a config and print it resolved.")
    parser.add_argument("config", type=Path, help="JSON config file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a key")
    parser.add_argument("--out", type=Path, help="also save the resolved config here")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.overrides)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.out is not None:
        save_config(cfg, args.out)
    print(json.dumps(config_to_dict(cfg), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
