"""Training runs on tiny data: the losses fall, the run folder holds what it should, a run killed
mid-epoch resumes bit for bit, non-finite losses are skipped then stop the run, staged training
loads and freezes what the config says."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import train as train_cli
from hifihr.config import load_config, save_config
from hifihr.engine import BestEpoch, CheckpointError, NonFiniteLossError, Trainer, TrainingInterrupted, load_checkpoint, read_metrics
from hifihr.engine.optim import set_epoch_lr
from hifihr.losses import LossOutput
from test_engine_setup import tiny_config, tiny_root  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tiny_root):
    """A 2-epoch run on the FreiHAND fixture, batches of 2 (4 per epoch), a checkpoint every
    step, no validation: the uninterrupted reference of the resume test and the start of the
    staged-training tests."""
    cfg = tiny_config(
        tiny_root,
        name="reference",
        data={"batch_size": 2, "val": []},
        train={"epochs": 2, "checkpoint_interval": 1, "save_interval": 1},
    )
    Trainer(cfg, device="cpu", tensorboard=False).fit()
    return cfg


def test_short_training_lowers_the_losses_and_writes_the_run(tiny_root):
    cfg = tiny_config(tiny_root, name="learn", dataset="synthetic", train={"epochs": 10, "eval_interval": 10, "save_interval": 5})
    results = Trainer(cfg, device="cpu").fit()
    run = tiny_root / "outputs" / "learn"
    losses = [record["loss"] for record in read_metrics(run / "metrics.jsonl", "train")]
    # One batch (4 samples, no augmentation) per epoch: the network fits it.
    assert len(losses) == 10
    assert sum(losses[-3:]) / 3 < 0.75 * losses[0], losses
    assert load_config(run / "config.json") == cfg
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.pt", "epoch_0005.pt", "epoch_0010.pt", "last.pt"]
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    assert (last["epoch"], last["batches_done"], last["step"]) == (10, 1, 10)
    assert any(p.name.startswith("events.out.tfevents") for p in (run / "tb").iterdir())
    evaluations = read_metrics(run / "metrics.jsonl", "eval")
    assert [(e["epoch"], e["step"]) for e in evaluations] == [(10, 10)]
    metrics = json.loads((run / "eval" / "10" / "metrics.json").read_text())
    assert metrics["datasets"] == results == evaluations[0]["datasets"]
    assert metrics["run"] == {"name": "learn", "supervision": "full", "texture": True, "hand": "nimble", "backbone": "resnet18"}
    split = results["synthetic_evaluation"]
    best = json.loads((run / "best.json").read_text())
    assert best == {
        "metric": "pa_mpjpe_mm", "dataset": "synthetic_evaluation", "value": split["pa_mpjpe_mm"], "epoch": 10,
        "selected_on": "evaluation split", "last": {"epoch": 10, "value": split["pa_mpjpe_mm"]},
    }  # fmt: skip
    assert load_checkpoint(run / "checkpoints" / "best.pt")["epoch"] == 10
    assert split["num_samples"] == 4
    assert split["files"] == ["pred.json", "samples.png"]
    assert 0 < split["pa_mpjpe_mm"] < split["mpjpe_mm"]
    assert 0 < split["psnr_db"] < 60
    xyz, verts = json.loads((run / "eval" / "10" / "synthetic_evaluation" / "pred.json").read_text())
    assert len(xyz) == len(verts) == 4
    assert {(len(j), len(j[0])) for j in xyz} == {(21, 3)}


def _train_records(run: Path) -> list[tuple]:
    return [(r["epoch"], r["step"], r["loss"], tuple(sorted(r["terms"].items()))) for r in read_metrics(run / "metrics.jsonl", "train")]


def test_resume_after_a_kill_mid_epoch_matches_an_uninterrupted_run(tiny_root, trained, tmp_path):
    cfg_path = tmp_path / "config.json"
    save_config(trained, cfg_path)
    run = tiny_root / "outputs" / "killed"
    last = run / "checkpoints" / "last.pt"
    command = [sys.executable, str(REPO / "train.py"), "--config", str(cfg_path), "--set", "experiment.name=killed", "--device", "cpu", "--no-tensorboard"]
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()))
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.kill()
    _, stderr = process.communicate()
    assert last.exists(), stderr.decode()[-2000:]
    state = load_checkpoint(last)
    assert state["epoch"] == 1
    assert 0 < state["batches_done"] < 4, "the kill must land mid-epoch"

    killed = dataclasses.replace(trained, experiment=dataclasses.replace(trained.experiment, name="killed"))
    resumed = Trainer(killed, device="cpu", resume=True, tensorboard=False)
    assert (resumed.state.epoch, resumed.state.batches_done) == (1, state["batches_done"])
    resumed.fit()

    reference = tiny_root / "outputs" / "reference"
    assert len(_train_records(reference)) == 8
    assert _train_records(run) == _train_records(reference)
    final, expected = load_checkpoint(last), load_checkpoint(reference / "checkpoints" / "last.pt")
    assert final["step"] == expected["step"] == 8
    for key, value in expected["model"].items():
        assert torch.equal(final["model"][key], value), key
    for index, values in expected["optimizer"]["state"].items():
        assert all(torch.equal(final["optimizer"]["state"][index][k], v) for k, v in values.items())


def test_nonfinite_losses_are_skipped_then_stop_the_run(tiny_root):
    cfg = tiny_config(tiny_root, name="nonfinite", data={"val": []}, train={"epochs": 3, "max_nonfinite_steps": 1})
    trainer = Trainer(cfg, device="cpu", tensorboard=False)
    original = trainer.objective.forward

    def poisoned(pred, batch, epoch):
        out = original(pred, batch, epoch)
        if epoch < 2:
            return out
        unweighted = dict(out.unweighted, joint_3d=out.unweighted["joint_3d"] * float("nan"))
        return LossOutput(out.total * float("nan"), out.weighted, unweighted, out.weights)

    trainer.objective.forward = poisoned
    with pytest.raises(NonFiniteLossError, match=r"2 consecutive steps .*joint_3d.* at epoch 2, step 4.*last good checkpoint"):
        trainer.fit()
    state = load_checkpoint(tiny_root / "outputs" / "nonfinite" / "checkpoints" / "last.pt")
    assert (state["epoch"], state["batches_done"], state["nonfinite"]) == (1, 2, {"consecutive": 0, "total": 0})
    for key, value in trainer.model.state_dict().items():  # the skipped steps changed nothing
        assert torch.equal(state["model"][key], value), key
    records = read_metrics(tiny_root / "outputs" / "nonfinite" / "metrics.jsonl", "train")
    assert [r["skipped"] for r in records] == [0, 0, 1]


def test_staged_training_loads_the_model_and_freezes_groups(tiny_root, trained):
    source = tiny_root / "outputs" / "reference" / "checkpoints" / "last.pt"
    frozen = ["encoder", "trunk", "pose_head", "shape_head"]
    cfg = tiny_config(
        tiny_root,
        name="texture_only",
        data={"batch_size": 2, "val": []},
        train={"epochs": 1},
        init={"checkpoint": str(source), "load": ["model"], "freeze": frozen},
    )
    trainer = Trainer(cfg, device="cpu", tensorboard=False)
    trainer.fit()
    before = load_checkpoint(source)["model"]
    after = trainer.model.state_dict()
    for key, value in after.items():
        # Weights and BatchNorm running statistics untouched (the batch counter, unused with
        # momentum 0, counts on).
        if key.split(".")[0] in frozen and not key.endswith("num_batches_tracked"):
            assert torch.equal(value, before[key]), key
    assert not torch.equal(after["texture_head.layers.2.weight"], before["texture_head.layers.2.weight"])
    assert {p.data_ptr() for p in trainer.params} == {p.data_ptr() for p in trainer.model.texture_head.parameters()}

    # The optimiser state of a run that trained every parameter does not fit this one.
    with pytest.raises(CheckpointError, match="parameters per group"):
        Trainer(
            tiny_config(tiny_root, name="bad_optimizer", init={"checkpoint": str(source), "load": ["model", "optimizer"], "freeze": frozen}),
            device="cpu",
            tensorboard=False,
        )
    # 'scheduler' continues the source's counters; the learning rate still comes from this config.
    continued = Trainer(
        tiny_config(
            tiny_root,
            name="continued",
            data={"batch_size": 2},
            optim={"lr": 5e-4},
            train={"epochs": 3},
            init={"checkpoint": str(source), "load": ["model", "optimizer", "scheduler"]},
        ),
        device="cpu",
        tensorboard=False,
    )
    assert (continued.state.epoch, continued.state.step) == (3, 8)
    assert set_epoch_lr(continued.optimizer, continued.cfg.optim, 3) == 5e-4
    assert continued.optimizer.param_groups[0]["lr"] == 5e-4


def test_cli_refuses_to_overwrite_or_resume_nothing(tiny_root, trained, tmp_path, capsys):
    cfg_path = tmp_path / "config.json"
    save_config(trained, cfg_path)
    assert train_cli.main(["--config", str(cfg_path), "--device", "cpu"]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert train_cli.main(["--config", str(cfg_path), "--set", "experiment.name=nothing_yet", "--resume", "--device", "cpu"]) == 2
    assert "no checkpoint to resume" in capsys.readouterr().err
    assert train_cli.main(["--config", str(cfg_path), "--set", "train.epochs=0"]) == 2
    assert "train.epochs" in capsys.readouterr().err


def test_sigterm_writes_the_position_and_stops(tiny_root):
    cfg = tiny_config(tiny_root, name="preempted", data={"batch_size": 2, "val": []}, train={"epochs": 1})
    trainer = Trainer(cfg, device="cpu", tensorboard=False)
    original = trainer.objective.forward

    def preempted(pred, batch, epoch):  # the scheduler's SIGTERM arrives during step 2
        if trainer.state.step == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(pred, batch, epoch)

    trainer.objective.forward = preempted
    with pytest.raises(TrainingInterrupted, match=r"epoch 1, batch 2/4 \(step 2\).*--resume"):
        trainer.fit()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back
    state = load_checkpoint(tiny_root / "outputs" / "preempted" / "checkpoints" / "last.pt")
    assert (state["epoch"], state["batches_done"], state["step"]) == (1, 2, 2)


def test_bf16_autocast_step_trains(tiny_root):
    steps = {}
    for amp in ("none", "bf16"):
        trainer = Trainer(tiny_config(tiny_root, name=f"amp_{amp}", data={"val": []}, train={"amp": amp}), device="cpu", tensorboard=False)
        trainer.set_train_mode()
        before = trainer.model.pose_head.layers[2].weight.detach().clone()
        result, pred = trainer.train_step(next(trainer._epoch_batches(1, 0)), 1)
        assert not result.skipped
        assert not torch.equal(trainer.model.pose_head.layers[2].weight, before)
        steps[amp] = (result, pred)
    assert steps["bf16"][1].joints3d.dtype == torch.bfloat16
    assert steps["none"][1].joints3d.dtype == torch.float32
    assert abs(steps["bf16"][0].loss - steps["none"][0].loss) < 0.02 * steps["none"][0].loss


def test_frozen_batchnorm_normalises_with_batch_statistics_as_the_reference(tiny_root, trained):
    # The reference freezes with requires_grad=False and BatchNorm momentum 0 while the whole
    # network stays in train(): frozen layers normalise with the batch's statistics.
    source = tiny_root / "outputs" / "reference" / "checkpoints" / "last.pt"
    frozen = ["encoder", "trunk", "pose_head", "shape_head"]

    def frozen_trainer(norm: str) -> Trainer:
        init = {"checkpoint": str(source), "load": ["model"], "freeze": frozen, "freeze_norm": norm}
        cfg = tiny_config(tiny_root, name=f"frozen_{norm}", data={"batch_size": 2, "val": []}, train={"epochs": 1}, init=init)
        trainer = Trainer(cfg, device="cpu", tensorboard=False)
        trainer.set_train_mode()
        return trainer

    trainer = frozen_trainer("batch")
    norms = [m for g in frozen for m in getattr(trainer.model, g).modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms
    assert all(m.training for m in norms)
    assert {m.momentum for m in norms} == {0.0}
    batch = next(trainer._epoch_batches(1, 0))
    running = {k: v.clone() for k, v in trainer.model.state_dict().items() if "running_" in k}

    def joints(model: torch.nn.Module) -> torch.Tensor:
        with torch.no_grad():
            return model(batch["image"], batch["K"], batch["root"], render=False).joints3d

    as_reference = copy.deepcopy(trainer.model).train()  # the reference: the whole network in train()
    in_eval = frozen_trainer("running").model  # frozen groups in eval mode
    assert not in_eval.encoder.training
    assert in_eval.texture_head.training
    got = joints(trainer.model)
    assert torch.allclose(got, joints(as_reference), atol=1e-6)
    assert not torch.allclose(got, joints(in_eval), atol=1e-4)  # running statistics differ from the batch's
    for key, value in trainer.model.state_dict().items():
        if key in running:
            assert torch.equal(value, running[key]), key  # momentum 0: running statistics kept


def test_texture_and_light_heads_come_from_a_second_checkpoint(tiny_root, trained):
    lit = {"model": {"light": "sh"}, "render": {"shading": "sh"}, "data": {"batch_size": 2, "val": []}, "train": {"epochs": 1}}
    sources = {}
    for name, seed in (("geometry_source", 1), ("texture_source", 2)):
        trainer = Trainer(tiny_config(tiny_root, name=name, experiment={"seed": seed}, **lit), device="cpu", tensorboard=False)
        trainer.save()
        sources[name] = trainer.folder.last
    geometry, texture = (load_checkpoint(sources[n])["model"] for n in ("geometry_source", "texture_source"))
    init = {"checkpoint": str(sources["geometry_source"]), "texture_checkpoint": str(sources["texture_source"])}
    combined = Trainer(tiny_config(tiny_root, name="two_sources", init=init, **lit), device="cpu", tensorboard=False).model.state_dict()
    heads = ("texture_head", "light_head")
    assert {k.split(".")[0] for k in combined} >= {"encoder", "trunk", "pose_head", "shape_head", *heads}
    for key, value in combined.items():
        expected = texture[key] if key.split(".")[0] in heads else geometry[key]
        assert torch.equal(value, expected), key
    assert any(not torch.equal(geometry[k], texture[k]) for k in geometry if k.startswith("light_head"))  # the sources differ
    # A texture checkpoint without a light head (the RHD-like run of the fixture) is refused.
    unlit = {"checkpoint": str(sources["geometry_source"]), "texture_checkpoint": str(tiny_root / "outputs" / "reference" / "checkpoints" / "last.pt")}
    with pytest.raises(CheckpointError, match="has no light_head"):
        Trainer(tiny_config(tiny_root, name="two_sources_unlit", init=unlit, **lit), device="cpu", tensorboard=False)


def test_best_epoch_is_tracked_over_evaluations_and_survives_resume(tiny_root):
    cfg = tiny_config(tiny_root, name="best_epoch", dataset="synthetic", train={"epochs": 3})
    trainer = Trainer(cfg, device="cpu", tensorboard=False)
    tag = "synthetic_evaluation"
    assert [trainer.update_best(e, {tag: {"pa_mpjpe_mm": v}}) for e, v in ((1, 9.0), (2, 7.5), (3, 8.0))] == [True, True, False]
    assert trainer.state.best == BestEpoch(metric="pa_mpjpe_mm", dataset=tag, value=7.5, epoch=2)
    record = json.loads(trainer.folder.best_record.read_text())
    assert record == {"metric": "pa_mpjpe_mm", "dataset": tag, "value": 7.5, "epoch": 2, "selected_on": "evaluation split", "last": {"epoch": 3, "value": 8.0}}
    assert trainer.update_best(4, {tag: {"num_samples": 4}}) is False  # no such metric: the best stays
    trainer.save()
    resumed = Trainer(cfg, device="cpu", tensorboard=False, resume=True)
    assert resumed.state.best == trainer.state.best
    # A metric where higher is better selects the maximum.
    psnr = Trainer(tiny_config(tiny_root, name="best_psnr", dataset="synthetic", eval={"best_metric": "psnr_db"}), device="cpu", tensorboard=False)
    assert [psnr.update_best(e, {tag: {"psnr_db": v}}) for e, v in ((1, 20.0), (2, 19.0), (3, 21.0))] == [True, False, True]
    assert psnr.state.best.epoch == 3
