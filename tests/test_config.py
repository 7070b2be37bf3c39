"""Config schema: validation messages, overrides, inheritance, saving, the shipped configs and
the reference-config importer."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest
import torch

from hifihr.config import (
    Config,
    ConfigError,
    DatasetSpec,
    config_from_dict,
    config_to_dict,
    describe_config,
    load_config,
    main,
    parse_override,
    save_config,
)
from hifihr.config_import import convert_reference_config
from hifihr.losses import SUPERVISION_PRESETS, Objective, WeightSchedule
from hifihr.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "config"
FIXTURES = Path(__file__).parent / "fixtures" / "reference_configs"

SHIPPED = [
    "RHD/pretrain.json",
    "FreiHAND/full.json", "FreiHAND/weak.json", "FreiHAND/self.json",
    "FreiHAND/full_no_tex.json", "FreiHAND/weak_no_tex.json", "FreiHAND/self_no_tex.json",
    "FreiHAND/weak_texture.json", "FreiHAND/weak_texture_best.json",
    "HO3D/full.json", "HO3D/weak.json", "HO3D/self.json", "HO3D/weak_texture.json",
    "synthetic/full.json", "synthetic/weak.json", "synthetic/self.json", "synthetic/self_uv_align.json",
    "synthetic/full_staged.json", "synthetic/ablation.json",
    "photos/self.json",
]  # fmt: skip


def write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def error_of(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# Validation messages
# ---------------------------------------------------------------------------------------------


def test_defaults_validate_and_every_key_is_documented():
    assert config_from_dict({}) == Config()
    rows = describe_config()
    assert len(rows) > 50
    assert all(doc and len(doc.splitlines()) == 1 for _, _, _, doc in rows)
    keys = {key for key, *_ in rows}
    assert {"render.soft_silhouette", "loss.weights", "optim.lr_milestones", "train.start_epoch", "init.freeze"} <= keys


def test_unknown_keys_name_the_dotted_key_and_the_closest_valid_one():
    assert error_of({"rendr": {}}).startswith("unknown key 'rendr' (did you mean 'render'?); valid keys at the top level: description, experiment")
    message = error_of({"render": {"soft_silhouete": True}})
    assert message.startswith("unknown key 'render.soft_silhouete' (did you mean 'render.soft_silhouette'?); valid keys of 'render': image_size")
    message = error_of({"data": {"train": [{"name": "freihand", "options": {"mask": True}}]}})
    assert message.startswith("unknown key 'data.train.0.options.mask' (did you mean 'data.train.0.options.masks'?)")
    message = error_of({"loss": {"weights": {"mpose": {"values": [1, 2], "milestone": [3]}}}})
    assert "unknown key 'loss.weights.mpose.milestone' (did you mean 'loss.weights.mpose.milestones'?)" in message


def test_wrong_types_name_the_key_the_value_and_what_is_allowed():
    assert error_of({"render": {"image_size": "big"}}) == 'render.image_size: expected an integer, got "big" (str)'
    assert error_of({"experiment": {"seed": True}}) == "experiment.seed: expected an integer, got true (bool)"
    assert error_of({"model": {"pretrained": "yes"}}) == 'model.pretrained: expected true or false, got "yes" (str)'
    assert error_of({"optim": {"lr_milestones": [10, 2.5]}}) == "optim.lr_milestones.1: expected an integer, got 2.5 (float)"
    assert error_of({"loss": {"weights": {"mpose": "x"}}}) == (
        'loss.weights.mpose: expected a number or a schedule {"values": [...], "milestones": [...]}, got "x" (str)'
    )
    assert error_of({"render": {"image_size": 4}}) == "render.image_size: expected a value >= 8, got 4"
    assert error_of({"optim": {"lr": 0}}) == "optim.lr: expected a value > 0.0, got 0.0"


def test_enum_values_list_the_allowed_ones():
    assert error_of({"model": {"light": "sun"}}) == "model.light: expected one of 'sh', 'sh16', 'directional', 'none', got 'sun'"
    assert error_of({"init": {"freeze": ["encodr"]}}) == (
        "init.freeze.0: expected one of 'encoder', 'trunk', 'pose_head', 'shape_head', 'texture_head', 'light_head', "
        "'camera_head', got 'encodr' (did you mean 'encoder'?)"
    )
    assert error_of({"loss": {"supervision": "ful"}}) == (
        "loss.supervision: unknown supervision 'ful' (did you mean 'full'?); valid names: full, self, weak"
    )


def registry_fields(cls: type = Config, prefix: str = "") -> list[tuple[str, type, dataclasses.Field]]:
    """Every field of the schema whose names a registry holds: (dotted key, section class, field)."""
    found = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        if f.metadata.get("registry") is not None:
            found.append((key, cls, f))
        if dataclasses.is_dataclass(hints[f.name]) and hints[f.name] is not WeightSchedule:
            found += registry_fields(hints[f.name], key + ".")
    return found


REGISTRY_FIELDS = {key: (cls, f) for key, cls, f in registry_fields() + registry_fields(DatasetSpec, "data.train.0.")}


def test_every_registry_name_field_is_found():
    assert sorted(REGISTRY_FIELDS) == [
        "data.train.0.name", "hand.model", "loss.add", "loss.drop", "loss.supervision", "loss.weights",
        "model.backbone", "optim.optimizer", "render.backend", "render.shading",
    ]  # fmt: skip


@pytest.mark.parametrize("key", sorted(REGISTRY_FIELDS))
def test_registry_fields_take_names_from_their_registry(key):
    cls, f = REGISTRY_FIELDS[key]
    registry = f.metadata["registry"].resolve()
    assert isinstance(registry, Registry)
    assert typing.get_type_hints(cls)[f.name] in (str, tuple[str, ...]) or typing.get_origin(typing.get_type_hints(cls)[f.name]) is dict
    bad = registry.names()[0] + "_x"
    value = {"add": {bad: 1.0}, "weights": {bad: 1.0}, "drop": [bad]}.get(f.name, bad)
    section, *rest = key.split(".")
    data = {"data": {"train": [{"name": bad}]}} if section == "data" else {section: {rest[0]: value}}
    where = {"add": f"{key}.{bad}", "weights": f"{key}.{bad}", "drop": f"{key}.0"}.get(f.name, key)
    expected = f"{where}: unknown {registry.kind} {bad!r} (did you mean {registry.names()[0]!r}?); valid names: {', '.join(registry.names())}"
    assert error_of(data) == expected


def test_dataset_names_are_checked_against_the_registry():
    assert error_of({"data": {"train": [{"name": "freihnd"}]}}).startswith(
        "data.train.0.name: unknown dataset 'freihnd' (did you mean 'freihand'?); valid names: freihand, ho3d_v2"
    )


def test_loss_names_and_edits_are_checked():
    assert error_of({"loss": {"weights": {"textrue": 1}}}).startswith(
        "loss.weights.textrue: unknown loss 'textrue' (did you mean 'texture'?); valid names: bone_direc"
    )
    assert error_of({"loss": {"drop": ["vert_3d"]}}).startswith("loss.drop: 'vert_3d' is not active (active: bone_direc")
    assert error_of({"loss": {"weights": {"mpose": {"values": [1, 2], "milestones": [3, 4]}}}}) == (
        "loss.weights.mpose: expected len(values) == len(milestones) + 1, got 2 values and 2 milestones"
    )
    cfg = config_from_dict({"loss": {"add": {"joint_3d_norm": 100}, "weights": {"mpose": {"values": [1, 2], "milestones": [3]}}}})
    weights = cfg.loss.resolved_weights()
    assert weights["joint_3d_norm"] == WeightSchedule.constant(100.0)
    assert weights["mpose"] == WeightSchedule((1.0, 2.0), (3,))


@pytest.mark.parametrize(
    "data, message",
    [
        ({"render": {"soft_silhouette": False}}, "loss 'sil' is active and needs render.soft_alpha: set render.soft_silhouette to true"),
        ({"model": {"texture": False}}, "loss 'texture' is active and needs render.rgb: set model.texture to true"),
        (
            {"hand": {"model": "nimble", "assets_dir": "assets/nimble"}, "loss": {"supervision": "full"}},
            "loss 'vert_3d' is active and compares MANO-topology vertices: set hand.mano_dir",
        ),
        ({"loss": {"add": {"light_reg": 1e-3}}, "model": {"light": "none"}}, "loss 'light_reg' is active and needs light: set model.light"),
        ({"model": {"light": "directional"}}, "render.shading: 'sh' cannot use model.light = 'directional'; allowed: 'phong'"),
        ({"data": {"train": [{"options": {"image_size": 64}}]}}, "data.train.0.options.image_size: the crop size is render.image_size"),
        ({"optim": {"lr_milestones": [10, 20], "lr_gamma": [0.1]}}, "optim.lr_gamma: a list needs one factor per milestone (2), got 1"),
        ({"optim": {"lr_milestones": [20, 10]}}, "optim.lr_milestones: expected strictly increasing epochs, got [20, 10]"),
        ({"train": {"start_epoch": 251, "epochs": 250}}, "train.start_epoch: 251 is after train.epochs = 250"),
        ({"render": {"background": [1, 1]}}, "render.background: expected 3 numbers in [0, 1], got [1.0, 1.0]"),
    ],
)
def test_contradictory_settings_are_rejected(data, message):
    assert error_of(data).startswith(message)


def test_learning_rate_by_global_epoch():
    # A milestone m applies after epoch m (MultiStepLR stepped at each epoch end), from m + 1 on.
    cfg = config_from_dict({"optim": {"lr": 1e-3, "lr_milestones": [300, 400, 520], "lr_gamma": [0.1, 0.5, 0.02]}})
    assert [cfg.optim.lr_at(e) for e in (251, 300, 301, 400, 401, 520, 521)] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4, 5e-5, 5e-5, 1e-6])


def test_learning_rate_follows_the_reference_multisteplr_stepped_after_each_epoch():
    # The reference's loop: MultiStepLR(milestones=lr_steps, gamma), train epoch e, then
    # scheduler.step(); the rate an epoch trains at is the optimiser's at its start.
    optim = load_config(CONFIG_DIR / "RHD/pretrain.json").optim
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([parameter], lr=optim.lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(optim.lr_milestones), gamma=optim.lr_gamma)
    for epoch in range(1, 251):
        assert optim.lr_at(epoch) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-12), epoch
        optimizer.step()
        scheduler.step()
    assert optim.lr_at(80) == 1e-3
    assert optim.lr_at(81) == 5e-4


def test_loss_weights_follow_the_reference_lambda_steps_set_at_each_epoch_start():
    # The reference's loop, at the start of global epoch e: for each step <= e, lambda = list[i + 1].
    schedule = load_config(CONFIG_DIR / "RHD/pretrain.json").loss.resolved_weights()["mpose"]
    values, steps = [1e-2, 1e-3, 1e-5, 1e-2, 1e-3, 1e-4], [10, 20, 180, 200, 220]
    for epoch in range(1, 251):
        weight = values[0]
        for i, step in enumerate(steps):
            if step <= epoch:
                weight = values[i + 1]
        assert schedule.at(epoch) == weight, epoch


# ---------------------------------------------------------------------------------------------
# Overrides, inheritance, saving
# ---------------------------------------------------------------------------------------------


def test_override_values_are_json_when_they_parse():
    assert parse_override("optim.lr=1e-4") == (["optim", "lr"], 1e-4)
    assert parse_override("model.pretrained=false") == (["model", "pretrained"], False)
    assert parse_override("optim.lr_milestones=[10, 20]") == (["optim", "lr_milestones"], [10, 20])
    assert parse_override("experiment.name=run=2") == (["experiment", "name"], "run=2")
    assert parse_override("hand.mano_dir=null") == (["hand", "mano_dir"], None)
    for bad in ("optim.lr", "=3", "optim..lr=1"):
        with pytest.raises(ConfigError, match="expected KEY=VALUE"):
            parse_override(bad)


def test_overrides_apply_nested_lists_bools_and_schedules(tmp_path):
    path = write(tmp_path / "run.json", {"data": {"train": [{"name": "freihand", "root": "a"}, {"name": "rhd", "root": "b"}]}})
    cfg = load_config(
        path,
        [
            "optim.lr=2e-4",
            "model.pretrained=false",
            "optim.lr_milestones=[300, 400]",
            "data.train.1.root=/data/RHD",
            "data.train.0.options.masks=true",
            'loss.weights.mpose={"values": [1e-2, 1e-3], "milestones": [10]}',
            "experiment.name=007",
        ],
    )
    assert cfg.optim.lr == 2e-4
    assert cfg.model.pretrained is False
    assert cfg.optim.lr_milestones == (300, 400)
    assert cfg.data.train[1].root == "/data/RHD"
    assert cfg.data.train[0].options == {"masks": True}
    assert cfg.loss.resolved_weights()["mpose"] == WeightSchedule((1e-2, 1e-3), (10,))
    assert cfg.experiment.name == "007"
    with pytest.raises(ConfigError, match="unknown key 'optim.lr_milestone' \\(did you mean 'optim.lr_milestones'\\?\\)"):
        load_config(path, ["optim.lr_milestone=[1]"])
    with pytest.raises(ConfigError, match="'data.train.5' is not an index of a list of 2 items"):
        load_config(path, ["data.train.5.root=x"])
    with pytest.raises(ConfigError, match="'optim.lr' is 0.001, not an object or list"):
        load_config(path, ["optim.lr=1e-3", "optim.lr.value=2"])


def test_base_inheritance_merges_objects_and_replaces_lists(tmp_path):
    write(tmp_path / "parent.json", {
        "description": "parent",
        "model": {"backbone": "resnet18", "pretrained": False},
        "optim": {"lr": 1e-3, "lr_milestones": [10, 20]},
        "data": {"train": [{"name": "freihand"}], "batch_size": 4},
    })  # fmt: skip
    child = write(tmp_path / "sub" / "child.json", {
        "base": "../parent.json",
        "model": {"pretrained": True},
        "optim": {"lr_milestones": [30]},
        "data": {"train": [{"name": "rhd", "root": "r"}]},
    })  # fmt: skip
    cfg = load_config(child, ["data.batch_size=6"])
    assert cfg.description == "parent"
    assert cfg.model.backbone == "resnet18"
    assert cfg.model.pretrained is True
    assert cfg.optim.lr == 1e-3
    assert cfg.optim.lr_milestones == (30,)
    assert [d.name for d in cfg.data.train] == ["rhd"]
    assert cfg.data.batch_size == 6


def test_base_errors_name_the_files(tmp_path):
    write(tmp_path / "a.json", {"base": "b.json"})
    write(tmp_path / "b.json", {"base": "a.json"})
    with pytest.raises(ConfigError, match="config inheritance cycle: .*a.json -> .*b.json -> .*a.json"):
        load_config(tmp_path / "a.json")
    write(tmp_path / "c.json", {"base": "missing.json"})
    with pytest.raises(ConfigError, match="config file .*missing.json not found \\(base of .*c.json\\)"):
        load_config(tmp_path / "c.json")
    (tmp_path / "d.json").write_text("{not json")
    with pytest.raises(ConfigError, match="d.json: invalid JSON"):
        load_config(tmp_path / "d.json")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_validate_and_round_trip(name, tmp_path):
    cfg = load_config(CONFIG_DIR / name)
    assert cfg.description, name
    saved = tmp_path / "run" / "config.json"
    save_config(cfg, saved)
    assert load_config(saved) == cfg
    assert json.loads(saved.read_text()) == config_to_dict(cfg)
    assert [p.name for p in saved.parent.iterdir()] == ["config.json"]  # the temporary file was renamed


def test_texture_checkpoint_needs_a_model_checkpoint_and_the_heads_it_loads():
    lit = {"model": {"light": "directional", "texture": True}, "render": {"shading": "phong"}}
    assert error_of({**lit, "init": {"texture_checkpoint": "b.pt"}}).startswith("init.texture_checkpoint: replaces heads of init.checkpoint's model")
    assert error_of({**lit, "init": {"checkpoint": "a.pt", "load": ["optimizer"], "texture_checkpoint": "b.pt"}}).startswith("init.texture_checkpoint")
    unlit = {"model": {"light": "none"}, "init": {"checkpoint": "a.pt", "texture_checkpoint": "b.pt"}}
    assert error_of(unlit).startswith("init.texture_checkpoint: loads the texture and light heads")
    cfg = config_from_dict({**lit, "init": {"checkpoint": "a.pt", "texture_checkpoint": "b.pt"}})
    assert cfg.init.freeze_norm == "batch"
    assert cfg.eval.best_metric == "pa_mpjpe_mm"
    assert error_of({"init": {"freeze_norm": "eval"}}) == "init.freeze_norm: expected one of 'batch', 'running', got 'eval'"


def test_every_config_file_is_listed():
    assert sorted(str(p.relative_to(CONFIG_DIR)) for p in CONFIG_DIR.rglob("*.json")) == sorted(SHIPPED)


def weights_at(cfg: Config, epoch: int) -> dict[str, float]:
    return {name: w.at(epoch) for name, w in cfg.loss.resolved_weights().items()}


def test_shipped_configs_mirror_the_reference_runs():
    rhd = load_config(CONFIG_DIR / "RHD/pretrain.json")
    assert weights_at(rhd, 1) == {"joint_3d": 10.0, "bone_direc_3d": 0.1, "mpose": 1e-2}
    assert weights_at(rhd, 225) == {"joint_3d": 10.0, "bone_direc_3d": 0.1, "mpose": 1e-4}
    assert (rhd.data.batch_size, rhd.data.val_batch_size, rhd.train.epochs, rhd.optim.lr_milestones) == (80, 32, 250, (80, 120, 160, 200, 230))
    assert rhd.model.use_mean_shape
    assert not rhd.model.texture
    for mode in ("full", "weak", "self"):
        cfg = load_config(CONFIG_DIR / f"FreiHAND/{mode}.json")
        assert cfg.loss.resolved_weights() == SUPERVISION_PRESETS.get(mode)
        assert cfg.train.start_epoch == 251
    assert load_config(CONFIG_DIR / "FreiHAND/full.json").optim.lr_at(521) == pytest.approx(1e-6)
    no_tex = load_config(CONFIG_DIR / "FreiHAND/full_no_tex.json")
    assert weights_at(no_tex, 251) == {"joint_3d": 200.0, "vert_3d": 200.0, "edge_length": 100.0, "bone_direc_3d": 8.0, "mpose": 1e-5, "mshape": 0.1}
    assert (no_tex.data.batch_size, no_tex.model.texture, no_tex.render.soft_silhouette) == (72, False, False)
    ho3d = load_config(CONFIG_DIR / "HO3D/full.json")
    assert weights_at(ho3d, 265)["joint_3d"] == 20.0
    assert weights_at(ho3d, 265)["mpose"] == 1e-3
    assert "vert_3d" not in weights_at(ho3d, 1)
    assert ho3d.optim.lr_at(600) == 1e-5
    assert ho3d.train.eval_interval == 5
    assert "perceptual" not in weights_at(load_config(CONFIG_DIR / "HO3D/self.json"), 1)
    synthetic = load_config(CONFIG_DIR / "synthetic/self.json")
    assert synthetic.hand.model == "open_hand"
    assert synthetic.data.batch_size <= 16
    assert (synthetic.model.backbone, synthetic.model.pretrained) == ("efficientnet_lite0", True)  # weights from the pinned package
    assert synthetic.data.train[0].name == "synthetic"
    assert synthetic.data.train[0].options["openpose"] is True


@pytest.mark.parametrize("epoch", [1, 10])
def test_make_trains_first_stage_is_geometry_without_a_render(epoch):
    cfg = load_config(CONFIG_DIR / "synthetic/full_staged.json")
    objective = Objective(cfg.loss.resolved_weights())
    weights = objective.weights_at(epoch)
    assert not objective.needs_render_at(epoch)
    assert weights["joint_3d"] == 200.0
    assert weights["joint_2d"] == 0.01  # trains the camera head: the root is predicted
    assert cfg.model.root == "predicted"


@pytest.mark.parametrize("epoch", [11, 16])
def test_make_trains_second_stage_adds_the_self_supervised_photometric_terms(epoch):
    cfg = load_config(CONFIG_DIR / "synthetic/full_staged.json")
    objective = Objective(cfg.loss.resolved_weights())
    active = {name for name, w in objective.weights_at(epoch).items() if w > 0}
    assert objective.needs_render_at(epoch)
    assert active >= {"texture_self", "mrgb_self", "ssim_tex_self", "joint_3d"}
    assert not active & {"texture", "mrgb", "ssim_tex", "sil"}  # no term reads the ground-truth mask
    assert cfg.train.epochs == 16
    assert cfg.data.train[0].options["openpose"]  # the confidences of texture_self


def test_make_trains_learning_rate_falls_after_epoch_12():
    optim = load_config(CONFIG_DIR / "synthetic/full_staged.json").optim
    assert optim.lr_at(12) == pytest.approx(3e-4)
    assert optim.lr_at(13) == pytest.approx(9e-5)


def test_command_line_prints_the_resolved_config(tmp_path, capsys):
    out = tmp_path / "resolved.json"
    assert main([str(CONFIG_DIR / "synthetic/weak.json"), "--set", "optim.lr=5e-4", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["optim"]["lr"] == 5e-4
    assert printed["loss"]["supervision"] == "weak"
    assert json.loads(out.read_text()) == printed
    assert main([str(CONFIG_DIR / "synthetic/weak.json"), "--set", "optim.lrr=1"]) == 2
    assert "error: unknown key 'optim.lrr' (did you mean 'optim.lr'?)" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Importing reference configs
# ---------------------------------------------------------------------------------------------


def test_import_full_rhd_freihand():
    converted, notes = convert_reference_config(json.loads((FIXTURES / "full_rhd_freihand.json").read_text()))
    cfg = config_from_dict(converted)
    assert cfg.loss.supervision == "full"
    assert cfg.loss.base == "l1"
    assert cfg.loss.resolved_weights() == load_config(CONFIG_DIR / "FreiHAND/full.json").loss.resolved_weights()
    assert cfg.data.train[0].name == "freihand"
    assert cfg.data.train[0].options == {"masks": True, "openpose": False, "verts": True}
    assert cfg.data.val[0].split == "evaluation"
    assert (cfg.data.batch_size, cfg.data.val_batch_size) == (48, 16)
    assert (cfg.model.backbone, cfg.model.light, cfg.render.shading, cfg.render.soft_silhouette) == ("tf_efficientnet_b3", "directional", "phong", True)
    assert (cfg.hand.model, cfg.hand.mano_dir) == ("nimble", "assets/mano")
    assert (cfg.optim.lr, cfg.optim.lr_milestones, cfg.optim.lr_gamma) == (1e-6, (80, 160, 200, 300, 350, 400, 450), 0.5)
    assert (cfg.train.epochs, cfg.train.save_interval, cfg.experiment.name, cfg.experiment.output_dir) == (600, 10, "fully_rhd", "outputs/freihand")
    keys = {note.split(":")[0] for note in notes}
    assert {"force_init_lr", "pretrain_model", "freihand_base_path", "mode", "task", "four_channel", "new_model"} <= keys
    assert not keys & {"lambda_j3d", "lambda_texture", "train_batch", "losses"}


def test_import_rhd_pretraining_matches_our_pretrain_config():
    converted, notes = convert_reference_config(json.loads((FIXTURES / "fully_superv_rhd_baseline_2.json").read_text()))
    cfg = config_from_dict(converted)
    ours = load_config(CONFIG_DIR / "RHD/pretrain.json")
    assert cfg.loss.resolved_weights() == ours.loss.resolved_weights()
    assert set(cfg.loss.drop) == set(ours.loss.drop)
    assert (cfg.optim.lr_milestones, cfg.optim.lr_gamma, cfg.train.epochs) == ((80, 120, 160, 200, 230), 0.5, 250)
    assert (cfg.model.texture, cfg.model.light, cfg.model.use_mean_shape, cfg.render.soft_silhouette) == (False, "none", True, False)
    assert cfg.data.train[0].name == "rhd"
    assert cfg.data.train[0].root == "datasets/RHD_published_v2"
    assert "lambda_pose: ignored, as in the reference (overwritten by lambda_pose_list[0])" in notes
    assert "lambda_vert_3d: weight of a term not in 'losses' (no effect in the reference either)" in notes


def test_import_lists_what_it_cannot_map():
    reference = json.loads((FIXTURES / "fully_superv_rhd_baseline_2.json").read_text())
    reference.update({"losses": ["joint_3d", "mscale", "triangle"], "train_datasets": ["RHD", "Dart"], "surprise": 1})
    converted, notes = convert_reference_config(reference)
    assert set(config_from_dict(converted).loss.resolved_weights()) == {"joint_3d"}
    assert "losses: 'mscale' has no counterpart here" in notes
    assert "losses: 'triangle' has no counterpart here" in notes
    assert "train_datasets: dataset 'Dart' has no loader here (known: FreiHand, HO3D, RHD)" in notes
    assert "surprise: unknown key, not carried over" in notes
