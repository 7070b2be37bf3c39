"""The config schema: one typed, frozen dataclass per section, with defaults and a one-line doc
per field (:func:`_f`).

A field whose value is a registry name (a string, a list of names, or an object keyed by
names) carries the registry in its metadata (``registry``); the conversion
(:mod:`hifihr.config.convert`) checks such names when a config is loaded, so a name registered
by a module of ``imports`` is accepted like a built-in one.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Sequence, Union

from hifihr.losses import WeightSchedule, resolve_weights
from hifihr.registry import Registry, closest


class ConfigError(ValueError):
    """A config key is unknown, or its value has the wrong type, is not allowed, or contradicts another."""


def join_key(prefix: str, name: Any) -> str:
    """The dotted key of ``name`` under ``prefix`` (``""`` = the top level)."""
    return f"{prefix}.{name}" if prefix else str(name)


def unknown_key_error(key: str, name: str, valid: Sequence[str]) -> ConfigError:
    """The error for the unknown key ``name`` of the object at ``key``, with the closest of ``valid``."""
    match = closest(name, valid)
    hint = f" (did you mean {join_key(key, match)!r}?)" if match is not None else ""
    where = f"of {key!r}" if key else "at the top level"
    return ConfigError(f"unknown key {join_key(key, name)!r}{hint}; valid keys {where}: {', '.join(valid)}")


@dataclass(frozen=True)
class RegistryRef:
    """A :class:`~hifihr.registry.Registry` named by its module and attribute, imported when a
    config is checked (the engine's optimisers import this package, and the encoders import timm)."""

    module: str
    attribute: str

    def resolve(self) -> Registry:
        """The registry itself."""
        return getattr(importlib.import_module(self.module), self.attribute)


def _f(
    default: Any, doc: str, *, minimum: float | None = None, exclusive: bool = False, registry: RegistryRef | None = None
) -> Any:
    """A field with a default, a one-line doc, an optional lower bound (inclusive unless
    ``exclusive``) and an optional registry its names must be in."""
    metadata = {"doc": doc, "minimum": minimum, "exclusive": exclusive, "registry": registry}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


Schedulable = Union[float, WeightSchedule]

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

    model: str = _f("open_hand", "hand model", registry=RegistryRef("hifihr.hand", "HAND_MODELS"))
    assets_dir: Optional[str] = _f(None, "folder of the NIMBLE-format assets; null = the shipped open hand")
    mano_dir: Optional[str] = _f(None, "folder with MANO_RIGHT.pkl: MANO model, or MANO-topology evaluation vertices")
    shape_ncomp: int = _f(20, "shape PCA coefficients regressed", minimum=1)
    pose_ncomp: int = _f(27, "pose PCA coefficients regressed (after the 3 root axis-angle values)", minimum=1)
    tex_ncomp: int = _f(10, "texture PCA coefficients regressed", minimum=1)


@dataclass(frozen=True)
class ModelConfig:
    """The network: encoder, heads and what they predict."""

    backbone: str = _f("efficientnet_b3", "image encoder", registry=RegistryRef("hifihr.models.encoders", "ENCODERS"))
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
    backend: str = _f("torch", "rasteriser implementation", registry=RegistryRef("hifihr.render.backends", "BACKENDS"))
    shading: str = _f("sh", "shading model: SH Lambertian, the reference's Phong, or albedo only", registry=RegistryRef("hifihr.render.shading", "SHADINGS"))
    background: tuple[float, ...] = _f((1.0, 1.0, 1.0), "RGB colour behind the hand, in [0, 1] (reference: white)")
    soft_silhouette: bool = _f(True, "also render the differentiable silhouette (the 'sil' loss needs it)")
    blur_radius_px: float = _f(2.0, "soft silhouette: distance, pixels, at which a face's coverage falls to 1e-4", minimum=0.0, exclusive=True)


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of a training or validation mix."""

    name: str = _f("freihand", "dataset", registry=RegistryRef("hifihr.data", "DATASETS"))
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

    supervision: str = _f("weak", "preset of active terms and weights", registry=RegistryRef("hifihr.losses", "SUPERVISION_PRESETS"))
    base: Literal["l1", "l2"] = _f("l1", "elementwise distance of joint_2d, joint_3d and vert_3d")
    add: dict[str, Schedulable] = _f({}, "terms to add to the preset: name -> weight or {values, milestones}", registry=RegistryRef("hifihr.losses", "LOSSES"))
    drop: tuple[str, ...] = _f((), "preset terms to remove", registry=RegistryRef("hifihr.losses", "LOSSES"))
    weights: dict[str, Schedulable] = _f({}, "new weights of active terms: name -> weight or {values, milestones}", registry=RegistryRef("hifihr.losses", "LOSSES"))

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

    optimizer: str = _f("adam", "Adam (L2 weight decay) or AdamW (decoupled weight decay)", registry=RegistryRef("hifihr.engine.optim", "OPTIMIZERS"))
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
    imports: tuple[str, ...] = _f((), "Python modules imported before the config is checked, so that the names they register can be used")
