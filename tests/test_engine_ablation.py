"""The supervision ablation: variant configs derived from one base, and an end-to-end run whose
texture-effect table is the measured difference of the two runs' metrics."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from hifihr.config import config_to_dict, save_config
from hifihr.engine.ablation import TEXTURE_TERMS, WITH_TEXTURE, WITHOUT_TEXTURE, ablation_configs
from test_engine_setup import tiny_config, tiny_root  # noqa: F401  (fixture)

_SPEC = importlib.util.spec_from_file_location("ablate", Path(__file__).resolve().parents[1] / "scripts" / "ablate.py")
ablate = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ablate)


def test_variants_of_the_shipped_synthetic_config(tmp_path):
    variants = ablation_configs("config/synthetic/full.json", ["train.epochs=1"], ["full", "weak", "self"], tmp_path)
    assert [(label, cfg.loss.supervision) for label, cfg in variants] == [
        (WITH_TEXTURE, "full"), (WITHOUT_TEXTURE, "full"), (WITH_TEXTURE, "weak"),
        (WITHOUT_TEXTURE, "weak"), (WITH_TEXTURE, "self"), (WITHOUT_TEXTURE, "self"),
    ]  # fmt: skip
    names = [cfg.experiment.name for _, cfg in variants]
    assert names[:2] == ["synthetic_full_full", "synthetic_full_full_no_tex"] and len(set(names)) == 6
    for label, cfg in variants:
        active = set(cfg.loss.resolved_weights())
        assert cfg.train.epochs == 1 and cfg.experiment.output_dir == str(tmp_path)
        assert "perceptual" not in active  # dropped by the base, for every mode
        if label == WITHOUT_TEXTURE:
            assert not active & TEXTURE_TERMS and (cfg.model.texture, cfg.model.light) == (False, "none")
        else:
            assert cfg.model.texture and active & TEXTURE_TERMS
        assert cfg.data.train[0].options["openpose"] == (cfg.loss.supervision == "self")
    # Everything else is the base's.
    base, self_tex = config_to_dict(variants[0][1]), config_to_dict(variants[4][1])
    assert base["optim"] == self_tex["optim"] and base["render"] == self_tex["render"] and base["data"]["val"] == self_tex["data"]["val"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_ablation_run_measures_the_texture_effect(tiny_root, tmp_path, capsys, jobs):
    base = tmp_path / "base.json"
    save_config(tiny_config(tiny_root, name="abl", dataset="synthetic", loss={"supervision": "weak", "drop": ["perceptual"]}), base)
    out = tmp_path / "ablation"
    assert ablate.main(["--config", str(base), "--modes", "weak", "--set", "train.epochs=1", "--out", str(out), "--device", "cpu", "--jobs", str(jobs)]) == 0
    table = (out / "ablation.md").read_text()
    assert table == capsys.readouterr().out
    with_tex = json.loads((out / "abl_weak" / "eval" / "1" / "metrics.json").read_text())["datasets"]["synthetic_evaluation"]
    without = json.loads((out / "abl_weak_no_tex" / "eval" / "1" / "metrics.json").read_text())["datasets"]["synthetic_evaluation"]
    assert f"| synthetic_evaluation | weak | {WITH_TEXTURE} | 1 | last | {with_tex['pa_mpjpe_mm']:.2f} |" in table
    assert f"| synthetic_evaluation | weak | {WITHOUT_TEXTURE} | 1 | last | {without['pa_mpjpe_mm']:.2f} |" in table
    effect = table.splitlines()[-1].split(" | ")
    assert effect[:2] == ["| synthetic_evaluation", "weak"]
    assert effect[8] == f"{with_tex['psnr_db'] - without['psnr_db']:+.2f}"  # measured, both runs rendered
    assert (out / "ablation.csv").read_text().count("\n") == 3


def test_a_term_added_from_another_modes_preset_stays_with_full(tmp_path):
    # joint_2d (weak's 2D keypoints) added to a full base trains full's camera; self must not see
    # the ground-truth keypoints, and weak already has it in its preset.
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"base": str(Path("config/synthetic/full.json").resolve()), "loss": {"supervision": "full", "add": {"joint_2d": 0.5}}}))
    variants = {(cfg.loss.supervision, label): cfg.loss.resolved_weights() for label, cfg in ablation_configs(base, [], ["full", "weak", "self"], tmp_path)}
    assert variants["full", WITH_TEXTURE]["joint_2d"].at(1) == 0.5
    assert variants["weak", WITH_TEXTURE]["joint_2d"].at(1) == 0.01
    assert "joint_2d" not in variants["self", WITH_TEXTURE]
    assert "joint_2d" not in variants["self", WITHOUT_TEXTURE]
