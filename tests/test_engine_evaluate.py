"""Evaluation: metrics and pred.json against independent computations, the HO-3D Codalab dump
(frame, joint order, zip), missing LPIPS weights, deterministic results and the baseline table."""

from __future__ import annotations

import dataclasses
import json
import zipfile

import numpy as np
import torch
from scipy.linalg import orthogonal_procrustes

import evaluate as evaluate_cli
from fixtures.datasets import write_ho3d
from hifihr.config import save_config
from hifihr.data import build_dataset, collate
from hifihr.data.ho3d import opengl_to_opencv
from hifihr.engine import Evaluator, Trainer, build_network, evaluate_config
from hifihr.engine.distributed import DistContext
from hifihr.hand.joints import convert
from test_engine_setup import SIZE, tiny_config, tiny_root  # noqa: F401  (fixture)


def _aligned_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-point errors [N, P] after the toolbox's align_w_scale, written out with scipy."""
    errors = []
    for p, g in zip(pred, gt):
        g_centred, p_centred = g - g.mean(0), p - p.mean(0)
        g_norm, p_norm = np.linalg.norm(g_centred) + 1e-8, np.linalg.norm(p_centred) + 1e-8
        rotation, scale = orthogonal_procrustes(g_centred / g_norm, p_centred / p_norm)
        aligned = (p_centred / p_norm) @ rotation.T * scale * g_norm + g.mean(0)
        errors.append(np.linalg.norm(aligned - g, axis=1))
    return np.array(errors)


def _direct_prediction(cfg, dataset, indices):
    """The initial network run by hand on dataset samples: camera-frame joints and vertices."""
    model = build_network(cfg).eval()
    batch = collate([dataset[i] for i in indices])
    with torch.no_grad():
        pred = model(batch["image"], batch["K"], batch["root"], int(batch["root_index"][0]), render=False)
    return (pred.joints3d + batch["root"][:, None]).double().numpy(), (pred.verts3d + batch["root"][:, None]).double().numpy()


def test_freihand_metrics_and_pred_json_match_independent_computations(tiny_root, tmp_path, capsys):
    cfg = tiny_config(tiny_root, name="eval_frei")
    cfg_path = tmp_path / "config.json"
    save_config(cfg, cfg_path)
    assert evaluate_cli.main(["--config", str(cfg_path), "--initial", "--device", "cpu"]) == 0
    folder = tiny_root / "outputs" / "eval_frei" / "eval" / "0"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert (metrics["epoch"], metrics["checkpoint"]) == (0, None)
    split = metrics["datasets"]["freihand_evaluation"]
    xyz, verts = (np.array(a) for a in json.loads((folder / "freihand_evaluation" / "pred.json").read_text()))
    gt_xyz = np.array(json.loads((tiny_root / "frei" / "evaluation_xyz.json").read_text()))
    gt_verts = np.array(json.loads((tiny_root / "frei" / "evaluation_verts.json").read_text()))
    assert xyz.shape == (4, 21, 3) and verts.shape == (4, 778, 3) and split["num_samples"] == 4
    # The dump is the network's camera-frame output, FreiHAND order, in dataset order.
    direct_xyz, direct_verts = _direct_prediction(cfg, build_dataset("freihand", tiny_root / "frei", "evaluation", image_size=SIZE), range(4))
    np.testing.assert_allclose(xyz, direct_xyz, atol=2e-7)
    np.testing.assert_allclose(verts, direct_verts, atol=2e-7)
    # Metrics against the ground-truth files, computed independently (pred.json keeps 0.1 um).
    assert abs(split["pa_mpjpe_mm"] - 1000 * _aligned_errors(xyz, gt_xyz).mean()) < 1e-3
    assert abs(split["pa_mpvpe_mm"] - 1000 * _aligned_errors(verts, gt_verts).mean()) < 1e-3
    assert abs(split["mpjpe_mm"] - 1000 * np.linalg.norm(xyz - gt_xyz, axis=-1).mean()) < 1e-3
    assert abs(split["official"]["xyz_al_mean3d"] - split["pa_mpjpe_mm"] / 10) < 1e-9
    assert split["unaligned_root"] == "GT root" and any("use the ground-truth root" in note for note in split["notes"])
    assert split["texture_mask"] == "ground-truth mask" and split["texture_protocol"] == "masked"
    assert np.isfinite(split["psnr_db"]) and 0 <= split["auc_j"] <= 1 and 0 <= split["f_at_15mm"] <= 1
    assert (folder / "freihand_evaluation" / "samples.png").stat().st_size > 0

    # A checkpoint of the same weights gives the same numbers (deterministic crops, strict load),
    # and --baseline prints the ratios.
    trainer = Trainer(dataclasses.replace(cfg, experiment=dataclasses.replace(cfg.experiment, name="eval_ckpt")), device="cpu", tensorboard=False)
    trainer.save()
    checkpoint = tiny_root / "outputs" / "eval_ckpt" / "checkpoints" / "last.pt"
    out = tmp_path / "again"
    capsys.readouterr()
    args = ["--config", str(cfg_path), "--checkpoint", str(checkpoint), "--out", str(out), "--baseline", str(folder / "metrics.json")]
    assert evaluate_cli.main(args + ["--device", "cpu"]) == 0
    again = json.loads((out / "metrics.json").read_text())["datasets"]["freihand_evaluation"]
    assert again == split
    table = capsys.readouterr().out
    assert "PA-MPJPE (mm)" in table and "1.000" in table


def test_predicted_root_places_the_unaligned_numbers(tiny_root):
    cfg = tiny_config(tiny_root, name="eval_predicted_root", model={"root": "predicted"}, eval={"figure_samples": 0})
    folder, results = evaluate_config(cfg, device="cpu")
    split = results["freihand_evaluation"]
    assert split["unaligned_root"] == "predicted" and not any("ground-truth root" in note for note in split["notes"])
    xyz = np.array(json.loads((folder / "freihand_evaluation" / "pred.json").read_text())[0])
    dataset = build_dataset("freihand", tiny_root / "frei", "evaluation", image_size=SIZE)
    batch = collate([dataset[i] for i in range(4)])
    with torch.no_grad():
        pred = build_network(cfg).eval()(batch["image"], batch["K"], None, int(batch["root_index"][0]), render=False)
    own = (pred.joints3d + pred.root[:, None]).double().numpy()
    at_gt = (pred.joints3d + batch["root"][:, None]).double().numpy()
    np.testing.assert_allclose(xyz, own, atol=2e-7)
    assert np.abs(xyz - at_gt).max() > 1e-3  # not the ground truth's root
    gt_xyz = np.array(json.loads((tiny_root / "frei" / "evaluation_xyz.json").read_text()))
    assert abs(split["mpjpe_mm"] - 1000 * np.linalg.norm(own - gt_xyz, axis=-1).mean()) < 1e-3


def test_ho3d_dump_is_in_the_codalab_frame_and_order(tiny_root, tmp_path):
    truth = write_ho3d(tmp_path / "ho3d")["evaluation"]
    val = [{"name": "ho3d_v2", "root": str(tmp_path / "ho3d"), "split": "evaluation", "options": {}}]
    cfg = tiny_config(tiny_root, name="eval_ho3d", data={"train": [], "val": val}, eval={"figure_samples": 0})
    folder, results = evaluate_config(cfg, device="cpu")
    split = results["ho3d_v2_evaluation"]
    assert split["files"] == ["pred.json", "pred.zip"] and "pa_mpjpe_mm" not in split
    assert split["texture_mask"] == "rendered silhouette"
    assert any("no 3D ground truth" in note for note in split["notes"])
    with zipfile.ZipFile(folder / "ho3d_v2_evaluation" / "pred.zip") as archive:
        assert archive.namelist() == ["pred.json"]
        xyz, verts = (np.array(a) for a in json.loads(archive.read("pred.json")))
    assert xyz.shape == (2, 21, 3) and verts.shape == (2, 778, 3)
    # OpenGL frame: the hand in front of the camera has z < 0, joints and vertices alike.
    assert (xyz[..., 2] < 0).all() and (verts[..., 2] < 0).all()
    # HO-3D order: index 0 is the wrist, placed at the given wrist (the evaluation root).
    np.testing.assert_allclose(xyz[:, 0], opengl_to_opencv(truth.extra["wrist"]), atol=2e-7)
    dataset = build_dataset("ho3d_v2", tmp_path / "ho3d", "evaluation", image_size=SIZE)
    direct_xyz, direct_verts = _direct_prediction(cfg, dataset, range(2))
    np.testing.assert_allclose(convert(opengl_to_opencv(xyz), "ho3d", "freihand"), direct_xyz, atol=2e-7)
    np.testing.assert_allclose(opengl_to_opencv(verts), direct_verts, atol=2e-7)


def test_missing_lpips_weights_are_named_and_the_rest_is_computed(tiny_root, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_cache"))
    cfg = tiny_config(tiny_root, name="eval_lpips", eval={"lpips": True, "figure_samples": 0})
    evaluator = Evaluator(cfg, DistContext())
    results = evaluator.evaluate(build_network(cfg), 0, 0, tmp_path / "eval")
    split = results["freihand_evaluation"]
    assert "lpips" not in split and np.isfinite(split["psnr_db"]) and np.isfinite(split["pa_mpjpe_mm"])
    note = next(n for n in split["notes"] if n.startswith("LPIPS not computed"))
    assert "alexnet-owt-7be5be79.pth" in note and str(tmp_path / "empty_cache") in note and "TORCH_HOME" in note

    # With an LPIPS network at hand (here a stand-in: the mean absolute difference), it is used.
    class MeanAbs(torch.nn.Module):
        def forward(self, a, b):
            return (a - b).abs().mean(dim=(1, 2, 3), keepdim=True)

    results = Evaluator(cfg, DistContext(), lpips_model=MeanAbs()).evaluate(build_network(cfg), 0, 0, tmp_path / "eval2")
    split = results["freihand_evaluation"]
    assert split["lpips"] > 0 and not any(n.startswith("LPIPS") for n in split["notes"])
