"""Conversion of a config file of the original HiFiHR code (``viridityzhu/HiFiHR``,
``config/*/*.json``) into this project's config, listing what could not be mapped.

:func:`convert_reference_config` takes the reference config as a dict and returns ours (validated) with one note
per reference key that was not carried over; ``scripts/import_reference_config.py`` is its
command line. Mapping rules (reference key -> ours):

* ``train_datasets``/``val_datasets`` (FreiHand, HO3D, RHD) -> ``data.train``/``data.val`` with
  the project's default roots; ``train_queries``/``val_queries`` set the ``masks``, ``openpose``
  and ``verts`` options.
* ``losses`` and ``lambda_*`` (with ``lambda_*_list``/``lambda_*_steps`` schedules) -> the
  closest supervision preset plus ``loss.add``/``drop``/``weights``; unset weights take the
  reference's defaults. ``base_loss_fn`` -> ``loss.base``.
* ``init_lr`` (or ``force_init_lr`` when > 0), ``lr_steps``, ``lr_gamma``, ``optimizer`` ->
  ``optim``; ``total_epochs``, ``save_interval`` -> ``train``; ``train_batch``, ``val_batch``,
  ``num_workers`` -> ``data``; ``pretrain``, ``render``, ``light_estimation``,
  ``use_mean_shape``, ``hand_model`` -> ``model``/``hand``/``render``; ``base_out_path`` ->
  ``experiment``; ``only_train_texture`` -> ``init.freeze``.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Mapping

from hifihr.config import ConfigError, config_from_dict, config_to_dict
from hifihr.losses import WeightSchedule, preset_weights
from hifihr.losses.presets import SUPERVISION_PRESETS

#: Reference dataset name -> (our registry name, default root).
DATASETS = {
    "FreiHand": ("freihand", "datasets/FreiHAND_pub_v2"),
    "HO3D": ("ho3d_v2", "datasets/HO3D_v2"),
    "RHD": ("rhd", "datasets/RHD_published_v2"),
}
#: Options our loaders take, switched on when a query of the reference mentions the word.
QUERY_OPTIONS = {
    "freihand": {"masks": "mask", "openpose": "open_2dj", "verts": "verts"},
    "ho3d_v2": {"masks": "mask", "openpose": "open_2dj"},
    "rhd": {"masks": "mask"},
}
BACKBONES = {
    "effb3": "tf_efficientnet_b3",
    "res18": "resnet18",
    "res50": "resnet50",
    "res101": "resnet101",
    "hr18sv2": "hrnet_w18_small_v2",
    "hr32": "hrnet_w32",
}
HAND_MODELS = {
    "nimble": {"model": "nimble", "assets_dir": "assets/nimble", "mano_dir": "assets/mano"},
    "mano": {"model": "mano", "mano_dir": "assets/mano"},
}
#: Module groups the reference's ``only_train_texture`` froze.
TEXTURE_ONLY_FREEZE = ["encoder", "trunk", "pose_head", "shape_head"]

#: Our term -> (reference weight key, reference default). ``*_list`` keys take ``*_steps``.
TERM_WEIGHTS: dict[str, tuple[str, Any]] = {
    "joint_2d": ("lambda_j2d_gt_list", [1e-5]),
    "joint_3d": ("lambda_j3d", 100.0),
    "joint_3d_norm": ("lambda_j3d_norm", 100.0),
    "vert_3d": ("lambda_vert_3d", 100.0),
    "bone_direc": ("lambda_bone_direc", 0.1),
    "bone_direc_3d": ("lambda_bone_direc_3d", 0.1),
    "edge_length": ("lambda_edge_len", 0.1),
    "texture": ("lambda_texture", 3e-3),
    "texture_self": ("lambda_texture", 3e-3),
    "mrgb": ("lambda_mrgb", 1e-3),
    "mrgb_self": ("lambda_mrgb", 1e-3),
    "ssim_tex": ("lambda_ssim_tex", 1e-3),
    "ssim_tex_self": ("lambda_ssim_tex", 1e-3),
    "perceptual": ("lambda_percep", 1e-5),
    "sil": ("lambda_silhouette", 5e-3),
    "open_2dj": ("lambda_j2d", 1e-3),
    "open_bone_direc": ("lambda_bone_direc", 0.1),
    "mpose": ("lambda_pose_list", [1e-5]),
    "mshape": ("lambda_shape_list", [1e-2]),
    "mtex": ("lambda_tex_reg_list", [5e-3]),
}
#: Reference scalar keys that ``*_list[0]`` overwrote: they never had an effect there.
OVERWRITTEN = {"lambda_pose": "lambda_pose_list", "lambda_j2d_gt": "lambda_j2d_gt_list"}
#: Scalar fallbacks of schedulable weights when the file gives no list.
SCALAR_FALLBACK = {"lambda_shape_list": "lambda_shape", "lambda_tex_reg_list": "lambda_tex_reg"}
#: Reference keys dropped on purpose, with the reason.
IGNORED = {
    "mode": "training/evaluation is chosen by the entry point (train.py / evaluate.py)",
    "mode_0": "unused in the reference",
    "task": "checkpoint naming of the reference",
    "new_model": "always the NIMBLE pipeline here",
    "four_channel": "broken in the reference, not implemented",
    "train_requires": "legacy in the reference",
    "test_requires": "legacy in the reference",
    "if_test": "validation runs every train.eval_interval epochs",
    "save_mode": "last.pt plus every train.save_interval epochs",
    "save_2d": "debug dump of the reference",
    "save_3d": "debug dump of the reference",
    "demo_freq": "figures: train.image_log_interval",
    "demo_freq_evaluation": "figures: eval.figure_samples",
    "print_freq": "logging: train.log_interval",
    "is_write_tb": "TensorBoard is always written",
    "writer_topic": "TensorBoard goes under the run folder",
    "controlled_exp": "subset experiments are not supported",
    "controlled_size": "subset experiments are not supported",
    "freihand_base_path": "replaced by the project's default root (data.*.root)",
    "ho3d_base_path": "replaced by the project's default root (data.*.root)",
    "rhd_base_path": "replaced by the project's default root (data.*.root)",
    "pretrain_texture_model": "reference .t7 checkpoints cannot be loaded: set init.texture_checkpoint to one of ours (its texture and light heads replace those of init.checkpoint)",
}


def _schedule(ref: Mapping[str, Any], key: str, default: Any) -> WeightSchedule:
    """The weight of one term: a scalar key, or a ``*_list`` key with its ``*_steps``."""
    if not key.endswith("_list"):
        return WeightSchedule.constant(float(ref.get(key, default)))
    if key in ref:
        values = ref[key]
    elif SCALAR_FALLBACK.get(key) in ref:
        values = [ref[SCALAR_FALLBACK[key]]]
    else:
        values = default
    steps = ref.get(key[: -len("_list")] + "_steps", [])
    return WeightSchedule(tuple(float(v) for v in values), tuple(int(s) for s in steps))


def _datasets(ref: Mapping[str, Any], names_key: str, queries_key: str, split: str, notes: list[str]) -> list[dict]:
    specs = []
    queries = " ".join(ref.get(queries_key, []))
    for name in ref.get(names_key, []):
        if name not in DATASETS:
            notes.append(f"{names_key}: dataset {name!r} has no loader here (known: {', '.join(DATASETS)})")
            continue
        ours, root = DATASETS[name]
        options = {option: word in queries for option, word in QUERY_OPTIONS.get(ours, {}).items()}
        specs.append({"name": ours, "root": root, "split": split, "options": options})
    return specs


def _loss_section(ref: Mapping[str, Any], notes: list[str]) -> tuple[dict[str, Any], set[str]]:
    """The ``loss`` section reproducing the reference's terms and weights, and those terms."""
    terms = []
    for name in ref.get("losses", []):
        if name in TERM_WEIGHTS:
            terms.append(name)
        else:
            notes.append(f"losses: {name!r} has no counterpart here")
    wanted = {name: _schedule(ref, *TERM_WEIGHTS[name]) for name in terms}

    def overlap(mode: str) -> float:
        preset = set(preset_weights(mode))
        return len(preset & set(wanted)) / len(preset | set(wanted))

    supervision = max(SUPERVISION_PRESETS.names(), key=overlap)
    preset = preset_weights(supervision)
    section: dict[str, Any] = {"supervision": supervision, "base": str(ref.get("base_loss_fn", "L2")).lower()}
    add = {n: w.to_json() for n, w in wanted.items() if n not in preset}
    drop = [n for n in preset if n not in wanted]
    weights = {n: w.to_json() for n, w in wanted.items() if n in preset and preset[n] != w}
    section.update({key: value for key, value in (("add", add), ("drop", drop), ("weights", weights)) if value})

    used = set()
    for name in terms:
        key = TERM_WEIGHTS[name][0]
        used |= {key, key.removesuffix("_list") + "_steps", SCALAR_FALLBACK.get(key, key)}
    for key in sorted(k for k in ref if k.startswith("lambda_") and k not in used):
        if key in OVERWRITTEN:
            notes.append(f"{key}: ignored, as in the reference (overwritten by {OVERWRITTEN[key]}[0])")
        else:
            notes.append(f"{key}: weight of a term not in 'losses' (no effect in the reference either)")
    return section, set(wanted)


#: Reference keys :func:`convert_reference_config` reads (``lambda_*`` keys are reported by :func:`_loss_section`).
READ_KEYS = {
    "losses", "base_loss_fn", "train_queries", "val_queries", "train_datasets", "val_datasets", "base_out_path",
    "hand_model", "render", "light_estimation", "use_mean_shape", "pretrain", "train_batch", "val_batch",
    "num_workers", "init_lr", "force_init_lr", "optimizer", "lr_steps", "lr_gamma", "total_epochs",
    "save_interval", "only_train_texture", "pretrain_model",
}


def convert_reference_config(ref: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Map a reference config (a dict) to ours.

    Returns:
        (our config as a JSON dict, validated; notes: every reference key that was not carried
        over and every choice to check, one line each).

    Raises:
        ConfigError: the converted config does not validate (the message says why).
    """
    notes: list[str] = []
    cfg: dict[str, Any] = {"description": "imported from a reference HiFiHR config by scripts/import_reference_config.py"}
    out = PurePosixPath(ref.get("base_out_path", "outputs/imported"))
    cfg["experiment"] = {"name": out.name, "output_dir": str(out.parent)}
    hand_model = ref.get("hand_model", "mano")
    if hand_model in HAND_MODELS:
        cfg["hand"] = dict(HAND_MODELS[hand_model])
    else:
        notes.append(f"hand_model: {hand_model!r} has no counterpart (known: {', '.join(HAND_MODELS)})")
    render = bool(ref.get("render", True))
    light = bool(ref.get("light_estimation", False)) and render
    model: dict[str, Any] = {"texture": render, "light": "directional" if light else "none"}
    model["use_mean_shape"] = bool(ref.get("use_mean_shape", True))
    backbone = ref.get("pretrain", "hr18sv2")
    if backbone in BACKBONES:
        model["backbone"] = BACKBONES[backbone]
    else:
        notes.append(f"pretrain: backbone {backbone!r} has no counterpart (known: {', '.join(BACKBONES)})")
    cfg["model"] = model
    cfg["loss"], terms = _loss_section(ref, notes)
    cfg["render"] = {"shading": "phong", "soft_silhouette": "sil" in terms}
    data: dict[str, Any] = {
        "train": _datasets(ref, "train_datasets", "train_queries", "train", notes),
        "val": _datasets(ref, "val_datasets", "val_queries", "evaluation", notes),
    }
    for ours, theirs in (("batch_size", "train_batch"), ("val_batch_size", "val_batch"), ("num_workers", "num_workers")):
        if theirs in ref:
            data[ours] = ref[theirs]
    cfg["data"] = data
    optim: dict[str, Any] = {"optimizer": "adam", "lr": ref.get("init_lr", 1e-3)}
    if ref.get("force_init_lr", -1) > 0:
        optim["lr"] = ref["force_init_lr"]
        notes.append(f"force_init_lr: {ref['force_init_lr']} became optim.lr (overriding init_lr {ref.get('init_lr', 1e-3)})")
    if ref.get("optimizer", "Adam") == "AdamW":
        optim["weight_decay"] = 0.01
        notes.append("optimizer: the reference's 'AdamW' was Adam with L2 weight decay 0.01: mapped to adam, weight_decay 0.01")
    optim["lr_milestones"] = list(ref.get("lr_steps", [50]))
    optim["lr_gamma"] = ref.get("lr_gamma", 0.001)
    cfg["optim"] = optim
    train: dict[str, Any] = {"epochs": ref.get("total_epochs", 100)}
    if "save_interval" in ref:
        train["save_interval"] = train["eval_interval"] = ref["save_interval"]
    cfg["train"] = train
    if ref.get("only_train_texture", False):
        cfg["init"] = {"freeze": TEXTURE_ONLY_FREEZE}
    if ref.get("pretrain_model"):
        notes.append(
            f"pretrain_model: {ref['pretrain_model']!r} is a reference .t7 checkpoint, which cannot be loaded: set "
            "init.checkpoint to one of ours. The reference continued that checkpoint's global epoch and replaced "
            "lr_steps/lr_gamma by its scheduler state: set train.start_epoch (251 after the RHD pretraining) and "
            "check optim.lr_milestones"
        )
    for key in ref:
        if key in IGNORED:
            notes.append(f"{key}: not carried over; {IGNORED[key]}")
        elif key not in READ_KEYS and not key.startswith("lambda_"):
            notes.append(f"{key}: unknown key, not carried over")
    try:
        return config_to_dict(config_from_dict(cfg)), notes
    except ConfigError as err:
        raise ConfigError(f"the converted config does not validate: {err}") from err
