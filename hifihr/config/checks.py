"""Checks of a converted config that involve several fields or the registries' entries.

:func:`validate` raises :class:`~hifihr.config.schema.ConfigError` for settings that contradict
each other, e.g. an active loss whose prediction field the config switches off (the table of
field -> config key is :data:`hifihr.losses.PREDICTION_SOURCES`), or a shading model that cannot
use the light head's output.
"""

from __future__ import annotations

from typing import Any

from hifihr.config.schema import Config, ConfigError, unknown_key_error
from hifihr.data import DATASETS, dataset_options
from hifihr.hand import HAND_MODELS
from hifihr.losses import LOSSES, PREDICTION_SOURCES
from hifihr.render.lights import DirectionalLight, SHLight
from hifihr.render.shading import SHADINGS

#: The light class each light head's output becomes (``model.light``); None = no light head.
_LIGHT_OF_HEAD = {"sh": SHLight, "sh16": SHLight, "directional": DirectionalLight, "none": None}


def shadings_for_light(light: str) -> list[str]:
    """The shading models that can shade with the light head ``light``: those expecting its light
    class; without a light head, those using no light or having a default light."""
    light_type = _LIGHT_OF_HEAD[light]
    if light_type is None:
        return [name for name in SHADINGS.names() if SHADINGS.get(name).light_type is None or SHADINGS.get(name).default_light is not None]
    return [name for name in SHADINGS.names() if SHADINGS.get(name).light_type is light_type]


def _value_at(cfg: Config, key: str) -> Any:
    """The value of the dotted key ``key`` (e.g. ``"model.texture"``) of ``cfg``."""
    value: Any = cfg
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _check_datasets(cfg: Config) -> None:
    # The split and options a dataset accepts are its registry entry's, so they are checked after
    # the names (convert) are known to be registered.
    for split_key in ("train", "val"):
        for i, spec in enumerate(getattr(cfg.data, split_key)):
            key = f"data.{split_key}.{i}"
            splits = DATASETS.get(spec.name).cls.splits
            if spec.split not in splits:
                raise ConfigError(f"{key}.split: {spec.name} has no split {spec.split!r}; valid: {', '.join(splits)}")
            valid = sorted(set(dataset_options(spec.name)) - {"image_size"})
            for option in spec.options:
                if option == "image_size":
                    raise ConfigError(f"{key}.options.image_size: the crop size is render.image_size; set that instead")
                if option not in valid:
                    raise unknown_key_error(f"{key}.options", option, valid)


def _check_losses(cfg: Config) -> None:
    try:
        active = cfg.loss.resolved_weights()
    except ValueError as err:
        raise ConfigError(str(err)) from err
    # NIMBLE needs MANO's topology (hand.mano_dir) to compare with a dataset's vertices.
    comparable_verts = HAND_MODELS.get(cfg.hand.model).comparable_verts or cfg.hand.mano_dir is not None
    for name in active:
        term = LOSSES.get(name)
        if "verts3d" in term.required_fields and not comparable_verts:
            raise ConfigError(
                f"loss {name!r} is active and compares MANO-topology vertices: set hand.mano_dir "
                "(folder of MANO_RIGHT.pkl) or hand.model = 'mano', or drop the term (loss.drop)"
            )
        for needed in term.prediction_fields:
            source = PREDICTION_SOURCES.get(needed)
            if source is not None and source.key is not None and _value_at(cfg, source.key) == source.off:
                raise ConfigError(
                    f"loss {name!r} is active and needs {needed}: set {source.key} to {source.fix}, or drop the term (loss.drop)"
                )


def validate(cfg: Config) -> None:
    """Checks that involve several fields or the registries' entries; raise :class:`ConfigError`."""
    _check_datasets(cfg)
    if len(cfg.model.mean_orientation) != 3:
        raise ConfigError(f"model.mean_orientation: expected 3 numbers (axis-angle, radians), got {list(cfg.model.mean_orientation)}")
    if len(cfg.render.background) != 3 or not all(0.0 <= c <= 1.0 for c in cfg.render.background):
        raise ConfigError(f"render.background: expected 3 numbers in [0, 1], got {list(cfg.render.background)}")
    allowed_shading = shadings_for_light(cfg.model.light)
    if cfg.render.shading not in allowed_shading:
        raise ConfigError(
            f"render.shading: {cfg.render.shading!r} cannot use model.light = {cfg.model.light!r}; "
            f"allowed: {', '.join(repr(s) for s in allowed_shading)}"
        )
    _check_losses(cfg)
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
