"""Tests of hifihr.metrics.pose against the official protocol written out independently here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_close
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from hifihr.metrics import pose


#: The FreiHAND toolbox README's sanity values for an all-zero prediction of the v2 evaluation
#: split (3960 samples), in the keys and units of its ``scores.txt`` (mean errors in cm,
#: F-scores as fractions), rounded to the printed digits.
FREIHAND_ZERO_BASELINE = {
    "xyz_mean3d": 70.79,
    "xyz_al_mean3d": 4.73,
    "mesh_mean3d": 70.84,
    "mesh_al_mean3d": 5.07,
    "f_score_5": 0.0,
    "f_score_15": 0.0,
    "f_al_score_5": 0.001,
    "f_al_score_15": 0.031,
}
FREIHAND_ROOT = Path(__file__).resolve().parents[1] / "datasets" / "FreiHAND_pub_v2"

#: The official +1e-8 on both Frobenius norms shifts an exact alignment by a few 1e-9 m.
EPS_EFFECT_M = 1e-7


def official_align_w_scale(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The official toolbox's per-sample alignment, as its specification describes it."""
    t1, t2 = gt.mean(0), pred.mean(0)
    a, b = gt - t1, pred - t2
    s1 = np.linalg.norm(a) + 1e-8
    s2 = np.linalg.norm(b) + 1e-8
    a, b = a / s1, b / s2
    rot, s = orthogonal_procrustes(a, b)
    return (b @ rot.T) * s * s1 + t1


def brute_force_nearest(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Distance from each point of src to its nearest point of dst, via the full distance matrix."""
    return np.linalg.norm(src[:, None] - dst[None], axis=-1).min(axis=1)


def official_fscore(gt: np.ndarray, pred: np.ndarray, th: float) -> float:
    """``calculate_fscore`` with HO-3D's brute-force nearest neighbours."""
    d_gt, d_pr = brute_force_nearest(gt, pred), brute_force_nearest(pred, gt)
    precision, recall = np.mean(d_gt < th), np.mean(d_pr < th)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def official_measures(dists: np.ndarray) -> tuple[float, float, np.ndarray]:
    """EvalUtil.get_measures(0, 0.05, 100) written with loops: (mean error, AUC, PCK curve)."""
    thresholds = np.linspace(0.0, 0.05, 100)
    norm = np.trapezoid(np.ones_like(thresholds), thresholds)
    means, aucs, curves = [], [], []
    for k in range(dists.shape[1]):
        d = dists[:, k]
        means.append(d.mean())
        curve = np.array([np.mean(d <= t) for t in thresholds])
        curves.append(curve)
        aucs.append(np.trapezoid(curve, thresholds) / norm)
    return float(np.mean(means)), float(np.mean(aucs)), np.mean(curves, axis=0)


def random_hands(num: int, num_points: int, seed: int) -> np.ndarray:
    """Point sets of hand size (~10 cm) about 0.5 m in front of the camera."""
    rng = np.random.default_rng(seed)
    return rng.normal(scale=0.04, size=(num, num_points, 3)) + np.array([0.02, -0.01, 0.5])


def similarity(points: np.ndarray, seed: int, mirror: bool = False) -> np.ndarray:
    """Rotate, scale and translate each sample differently (optionally mirror it first)."""
    rng = np.random.default_rng(seed)
    rots = Rotation.random(len(points), random_state=seed).as_matrix()
    if mirror:
        rots = rots @ np.diag([-1.0, 1.0, 1.0])
    scales = rng.uniform(0.5, 2.0, size=(len(points), 1, 1))
    shifts = rng.normal(size=(len(points), 1, 3))
    return np.einsum("bij,bnj->bni", rots, points) * scales + shifts


def test_procrustes_undoes_a_similarity_transform():
    gt = random_hands(4, 21, seed=0)
    pred = similarity(gt, seed=1)
    aligned = pose.procrustes_align(torch.from_numpy(pred), torch.from_numpy(gt))
    assert_close(aligned, torch.from_numpy(gt), atol=EPS_EFFECT_M)


def test_procrustes_matches_official_scipy_alignment():
    gt = random_hands(6, 21, seed=2)
    pred = random_hands(6, 21, seed=3)
    expected = np.stack([official_align_w_scale(g, p) for g, p in zip(gt, pred)])
    aligned = pose.procrustes_align(torch.from_numpy(pred), torch.from_numpy(gt))
    assert_close(aligned, torch.from_numpy(expected), atol=1e-12)
    aligned32 = pose.procrustes_align(torch.from_numpy(pred).float(), torch.from_numpy(gt).float())
    assert_close(aligned32, torch.from_numpy(expected).float(), atol=2e-6)


def test_mirrored_prediction_aligns_exactly_as_official():
    gt = random_hands(3, 21, seed=4)
    mirrored = similarity(gt, seed=5, mirror=True)
    a = gt[0] - gt[0].mean(0)
    b = mirrored[0] - mirrored[0].mean(0)
    rot, _ = orthogonal_procrustes(a / np.linalg.norm(a), b / np.linalg.norm(b))
    assert np.linalg.det(rot) == pytest.approx(-1.0)  # the official code keeps the reflection
    official = np.stack([official_align_w_scale(g, p) for g, p in zip(gt, mirrored)])
    assert_close(torch.from_numpy(official), torch.from_numpy(gt), atol=EPS_EFFECT_M)
    aligned = pose.procrustes_align(torch.from_numpy(mirrored), torch.from_numpy(gt))
    assert_close(aligned, torch.from_numpy(gt), atol=EPS_EFFECT_M)


def test_pck_auc_hand_computed():
    # Point 0: errors 0.01, 0.03 -> PCK 0, .5, .5, 1, 1, 1 on the grid 0..0.05 step 0.01, AUC 0.7.
    # Point 1: errors 0, 0.06 -> PCK 0.5 everywhere (0 <= 0 counts; 0.06 is past the grid), AUC 0.5.
    errors = torch.tensor([[0.01, 0.0], [0.03, 0.06]], dtype=torch.float64)
    auc, pck, thresholds = pose.pck_auc(errors, 0.0, 0.05, 6)
    assert auc == pytest.approx((0.7 + 0.5) / 2, abs=1e-12)
    assert_close(pck, torch.tensor([0.25, 0.5, 0.5, 0.75, 0.75, 0.75], dtype=torch.float64), atol=1e-12)
    assert_close(thresholds, torch.linspace(0, 0.05, 6, dtype=torch.float64))


def test_pck_auc_matches_official_loops_on_default_grid():
    errors = np.random.default_rng(6).uniform(0, 0.06, size=(50, 7))
    errors[0, 0] = 0.05 / 99 * 3  # exactly on a threshold: counts (<=)
    _, expected_auc, expected_pck = official_measures(errors)
    auc, pck, thresholds = pose.pck_auc(torch.from_numpy(errors))
    assert auc == pytest.approx(expected_auc, abs=1e-12)
    assert_close(pck, torch.from_numpy(expected_pck), atol=1e-12)
    assert thresholds.shape == (100,)
    assert thresholds[-1] == 0.05


def test_fscore_hand_computed():
    gt = torch.tensor([[[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0], [0, 0, 0.1]]], dtype=torch.float64)
    pred = torch.tensor([[[0, 0, 0.004], [0.1, 0.01, 0]]], dtype=torch.float64)
    # gt -> pred: 0.004, 0.01, ~0.1, ~0.1; pred -> gt: 0.004, 0.01.
    # 5 mm: P = 1/4, R = 1/2, F = 1/3.  15 mm: P = 1/2, R = 1, F = 2/3.
    assert_close(pose.fscore(pred, gt), torch.tensor([[1 / 3, 2 / 3]], dtype=torch.float64), atol=1e-12)


def test_fscore_is_strict_and_handles_empty_sets():
    gt = torch.zeros(1, 1, 3, dtype=torch.float64)
    pred = torch.tensor([[[0.0, 0.0, 0.005]]], dtype=torch.float64)
    assert_close(pose.fscore(pred, gt), torch.tensor([[0.0, 1.0]], dtype=torch.float64))
    assert_close(pose.fscore(pred[:, :0], gt), torch.zeros(1, 2, dtype=torch.float64))


def test_fscore_matches_brute_force_on_random_sets():
    gt = random_hands(3, 40, seed=7)
    pred = random_hands(3, 25, seed=8)
    expected = [[official_fscore(g, p, th) for th in (0.005, 0.015)] for g, p in zip(gt, pred)]
    got = pose.fscore(torch.from_numpy(pred), torch.from_numpy(gt))
    assert_close(got, torch.tensor(expected, dtype=torch.float64), atol=1e-12)
    gt_to_pred, pred_to_gt = pose.nearest_distances(torch.from_numpy(gt), torch.from_numpy(pred))
    expected_gt_to_pred = torch.from_numpy(np.stack([brute_force_nearest(g, p) for g, p in zip(gt, pred)]))
    expected_pred_to_gt = torch.from_numpy(np.stack([brute_force_nearest(p, g) for g, p in zip(gt, pred)]))
    assert_close(gt_to_pred, expected_gt_to_pred, atol=1e-12)
    assert_close(pred_to_gt, expected_pred_to_gt, atol=1e-12)
    gt_to_pred32, _ = pose.nearest_distances(torch.from_numpy(gt).float(), torch.from_numpy(pred).float())
    assert gt_to_pred32.dtype == torch.float32
    assert_close(gt_to_pred32, expected_gt_to_pred.float(), atol=1e-6)


def test_evaluate_split_matches_official_protocol():
    n, v = 5, 30
    gt_j, gt_v = random_hands(n, 21, seed=9), random_hands(n, v, seed=10)
    noise = np.random.default_rng(11)
    pred_j = similarity(gt_j + noise.normal(scale=0.01, size=gt_j.shape), seed=12)
    pred_v = similarity(gt_v + noise.normal(scale=0.004, size=gt_v.shape), seed=13)
    result = pose.evaluate_split(torch.from_numpy(pred_j).float(), gt_j, pred_v, gt_v, root_index=9)

    al_j = np.stack([official_align_w_scale(g, p) for g, p in zip(gt_j, pred_j)])
    al_v = np.stack([official_align_w_scale(g, p) for g, p in zip(gt_v, pred_v)])
    pred_j32 = torch.from_numpy(pred_j).float().double().numpy()  # the prediction was passed as float32
    al_j32 = np.stack([official_align_w_scale(g, p) for g, p in zip(gt_j, pred_j32)])
    pa_j, auc_j, pck_j = official_measures(np.linalg.norm(al_j32 - gt_j, axis=-1))
    pa_v, auc_v, pck_v = official_measures(np.linalg.norm(al_v - gt_v, axis=-1))
    raw_j, auc_j_raw, _ = official_measures(np.linalg.norm(pred_j32 - gt_j, axis=-1))
    raw_v, auc_v_raw, _ = official_measures(np.linalg.norm(pred_v - gt_v, axis=-1))
    ra_j = np.linalg.norm((pred_j32 - pred_j32[:, 9:10]) - (gt_j - gt_j[:, 9:10]), axis=-1).mean()
    ra_v = np.linalg.norm((pred_v - pred_j32[:, 9:10]) - (gt_v - gt_j[:, 9:10]), axis=-1).mean()
    f_al = [np.mean([official_fscore(g, p, th) for g, p in zip(gt_v, al_v)]) for th in (0.005, 0.015)]
    f_raw = [np.mean([official_fscore(g, p, th) for g, p in zip(gt_v, pred_v)]) for th in (0.005, 0.015)]

    expected = dict(
        pa_mpjpe_mm=pa_j * 1000, pa_mpjpe_cm=pa_j * 100, auc_j=auc_j,
        pa_mpvpe_mm=pa_v * 1000, pa_mpvpe_cm=pa_v * 100, auc_v=auc_v,
        f_at_5mm=f_al[0], f_at_15mm=f_al[1], f_at_5mm_unaligned=f_raw[0], f_at_15mm_unaligned=f_raw[1],
        mpjpe_mm=raw_j * 1000, mpjpe_cm=raw_j * 100, auc_j_unaligned=auc_j_raw,
        mpvpe_mm=raw_v * 1000, mpvpe_cm=raw_v * 100, auc_v_unaligned=auc_v_raw,
        ra_mpjpe_mm=ra_j * 1000, ra_mpjpe_cm=ra_j * 100, ra_mpvpe_mm=ra_v * 1000, ra_mpvpe_cm=ra_v * 100,
    )  # fmt: skip
    for name, value in expected.items():
        assert getattr(result, name) == pytest.approx(value, abs=1e-9), name
    assert 0 < result.f_at_5mm < result.f_at_15mm <= 1
    assert result.pa_mpjpe_mm > 1
    assert_close(torch.from_numpy(result.pck_j), torch.from_numpy(pck_j), atol=1e-12)
    assert_close(torch.from_numpy(result.pck_v), torch.from_numpy(pck_v), atol=1e-12)
    assert_close(
        torch.from_numpy(result.pa_mpvpe_per_sample_mm),
        torch.from_numpy(np.linalg.norm(al_v - gt_v, axis=-1).mean(1) * 1000),
        atol=1e-9,
    )
    assert result.num_samples == n
    assert result.pck_thresholds_mm[-1] == pytest.approx(50.0)
    scores = result.official_scores()
    assert scores["xyz_al_mean3d"] == result.pa_mpjpe_cm
    assert scores["f_al_score_15"] == result.f_at_15mm


def test_evaluate_split_of_exact_and_similar_predictions():
    gt_j, gt_v = random_hands(3, 21, seed=14), random_hands(3, 50, seed=15)
    exact = pose.evaluate_split(gt_j, gt_j, gt_v, gt_v)
    assert exact.mpjpe_mm == 0
    assert exact.auc_j_unaligned == 1.0
    assert exact.f_at_5mm_unaligned == 1.0
    moved = pose.evaluate_split(similarity(gt_j, seed=16), gt_j, similarity(gt_v, seed=17), gt_v)
    assert moved.pa_mpjpe_mm < EPS_EFFECT_M * 1000
    assert moved.pa_mpvpe_mm < EPS_EFFECT_M * 1000
    assert moved.f_at_5mm == 1.0
    assert moved.f_at_15mm == 1.0
    assert moved.auc_j > 0.99
    assert moved.mpjpe_mm > 100


def test_zero_predictor_collapses_onto_centroid():
    # The toolbox's sanity test: aligned error = mean distance of the GT points to their centroid.
    gt_j = random_hands(4, 21, seed=18)
    gt_v = random_hands(4, 60, seed=19) * np.array([1.0, 1.0, 0.1])  # some vertices near the centroid
    zero_j, zero_v = np.zeros_like(gt_j), np.zeros_like(gt_v)
    result = pose.evaluate_split(zero_j, gt_j, zero_v, gt_v)
    to_centroid_j = np.linalg.norm(gt_j - gt_j.mean(1, keepdims=True), axis=-1)
    to_centroid_v = np.linalg.norm(gt_v - gt_v.mean(1, keepdims=True), axis=-1)
    assert result.pa_mpjpe_cm == pytest.approx(to_centroid_j.mean() * 100, abs=1e-12)
    assert result.pa_mpvpe_cm == pytest.approx(to_centroid_v.mean() * 100, abs=1e-12)
    assert result.mpjpe_cm == pytest.approx(np.linalg.norm(gt_j, axis=-1).mean() * 100, abs=1e-12)
    # All predicted points sit on the centroid: P = fraction of GT points within t of it,
    # R = 1 if any is, so F = 2P / (P + 1) (or 0).
    for field, th in (("f_at_5mm", 0.005), ("f_at_15mm", 0.015)):
        p = (to_centroid_v < th).mean(axis=1)
        assert getattr(result, field) == pytest.approx(np.mean(2 * p / (p + 1)), abs=1e-12)
    assert result.f_at_15mm > 0
    assert result.f_at_5mm_unaligned == 0.0
    assert result.f_at_15mm_unaligned == 0.0
    assert set(FREIHAND_ZERO_BASELINE) <= set(result.official_scores())


def test_zero_prediction_gives_the_toolbox_published_values_on_freihand():
    """The toolbox README's sanity values for an all-zero prediction of FreiHAND v2's 3960
    evaluation samples, rounded to the printed digits."""
    root = FREIHAND_ROOT
    if not (root / "evaluation_xyz.json").is_file() or not (root / "evaluation_verts.json").is_file():
        pytest.skip(f"FreiHAND v2 evaluation ground truth not found under {root} (licensed; see datasets/README.md)")
    gt_j = np.array(json.loads((root / "evaluation_xyz.json").read_text()))
    gt_v = np.array(json.loads((root / "evaluation_verts.json").read_text()))
    scores = pose.evaluate_split(np.zeros_like(gt_j), gt_j, np.zeros_like(gt_v), gt_v).official_scores()
    for key, printed in FREIHAND_ZERO_BASELINE.items():
        decimals = len(f"{printed}".split(".")[1])
        assert scores[key] == pytest.approx(printed, abs=0.5 * 10**-decimals), key


def test_joints_only_evaluation_and_bad_shapes():
    gt_j = random_hands(2, 21, seed=22)
    result = pose.evaluate_split(gt_j + 0.001, gt_j)
    assert result.pa_mpvpe_mm is None
    assert result.official_scores()["mesh_al_mean3d"] == -1.0
    assert "pa_mpvpe_mm" not in result.scalars()
    assert result.scalars()["mpjpe_mm"] == pytest.approx(np.sqrt(3))
    with pytest.raises(ValueError, match=r"same shape"):
        pose.evaluate_split(gt_j[:, :20], gt_j)
    with pytest.raises(ValueError, match=r"together"):
        pose.evaluate_split(gt_j, gt_j, pred_verts=gt_j)
    with pytest.raises(ValueError, match=r"expected \[B, N, 3\], got \(21, 3\)"):
        pose.procrustes_align(torch.zeros(21, 3), torch.zeros(21, 3))
