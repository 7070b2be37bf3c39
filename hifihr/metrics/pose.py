"""3D pose and mesh metrics following the official FreiHAND evaluation protocol.

The protocol is that of the FreiHAND toolbox (``eval.py`` and ``utils/eval_util.py``), which
HO-3D's Codalab script reuses; it is reimplemented here from its specification:

* **Procrustes alignment** (:func:`procrustes_align`), per sample and separately for joints
  and vertices: both sets are centred on their means and divided by their Frobenius norms
  (+1e-8), then rotated by the orthogonal Procrustes solution **without a reflection fix**
  (det R may be -1, so a mirrored prediction aligns perfectly) and scaled by the sum of the
  singular values. An all-zero prediction collapses onto the ground-truth centroid.
* **Errors** are per-point Euclidean distances in metres; a mean error is the mean over all
  samples and points.
* **PCK / AUC** (:func:`pck_auc`): 100 thresholds ``linspace(0, 0.05, 100)`` m, PCK per point
  index = fraction of samples with error ``<=`` t, AUC per point index = trapezoid of the PCK
  curve divided by the trapezoid of 1 (= 0.05), final AUC = mean over point indices.
* **F-score** (:func:`fscore`) between vertex sets by exact nearest neighbours, strict ``<``,
  thresholds 5 mm and 15 mm, averaged over samples.

:func:`evaluate_split` runs the whole protocol on a split and returns a
:class:`PoseEvaluation`. Everything is computed in float64 internally, as the official numpy
code does. Units: inputs in metres; result fields say their unit in their names.

Root-aligned errors are not an official server metric; they subtract each hand's own root
keypoint (:data:`hifihr.hand.joints.ROOT_INDEX`, the middle MCP; the wrist for HO-3D) from its
joints and vertices.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree

from hifihr.hand.joints import ROOT_INDEX

#: PCK thresholds of the official ``EvalUtil.get_measures``: ``linspace(0, 0.05, 100)`` metres.
PCK_MIN_M = 0.0
PCK_MAX_M = 0.05
PCK_STEPS = 100
#: F-score thresholds of the official ``eval.py``, metres (5 mm and 15 mm).
FSCORE_THRESHOLDS_M = (0.005, 0.015)


def _check_points(name: str, points: torch.Tensor) -> None:
    if points.ndim != 3 or points.shape[-1] != 3:
        raise ValueError(f"{name}: expected [B, N, 3], got {tuple(points.shape)}")


def _check_pair(pred_name: str, pred: torch.Tensor, gt_name: str, gt: torch.Tensor) -> None:
    _check_points(pred_name, pred)
    _check_points(gt_name, gt)
    if pred.shape != gt.shape:
        raise ValueError(
            f"{pred_name} and {gt_name} must have the same shape [B, N, 3], "
            f"got {tuple(pred.shape)} and {tuple(gt.shape)}"
        )


def procrustes_align(pred: torch.Tensor, gt: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Align each predicted point set to its ground truth as the official ``align_w_scale``.

    Per sample, with row vectors: ``A = (gt - mean(gt)) / s1``, ``B = (pred - mean(pred)) / s2``
    where ``s1 = ||gt - mean(gt)||_F + eps`` and ``s2`` likewise; the SVD ``A^T B = U S W^T``
    gives ``R = U W^T`` (scipy's ``orthogonal_procrustes(A, B)``) and ``s = sum(S)``; the result
    is ``B R^T s s1 + mean(gt)``. Reflections are allowed (det R = -1 is kept), so a mirrored
    copy of the ground truth aligns to it exactly. An all-zero prediction gives ``s = 0`` and
    every aligned point lands on the ground-truth centroid.

    Differences from the official per-sample numpy code: it is batched; it computes in the
    input dtype (pass float64 to match the official numbers to ~1e-12 m; float32, as in
    training, agrees to ~1e-7 relative); it is differentiable through ``torch.linalg.svd``,
    whose gradient is unstable when singular values repeat or vanish (e.g. a collapsed
    prediction), so use it in a loss only on non-degenerate predictions.

    Args:
        pred: predicted points [B, N, 3], any unit (metres in this project).
        gt: ground-truth points [B, N, 3], same unit and point order.
        eps: added to both Frobenius norms, as in the official code.

    Returns:
        The aligned prediction [B, N, 3], in the unit and frame of ``gt``.
    """
    _check_pair("pred", pred, "gt", gt)
    gt_mean = gt.mean(dim=1, keepdim=True)
    gt_centred = gt - gt_mean
    pred_centred = pred - pred.mean(dim=1, keepdim=True)
    gt_norm = torch.linalg.matrix_norm(gt_centred)[:, None, None] + eps
    pred_norm = torch.linalg.matrix_norm(pred_centred)[:, None, None] + eps
    a = gt_centred / gt_norm
    b = pred_centred / pred_norm
    u, sing, wh = torch.linalg.svd(a.transpose(1, 2) @ b)
    rot = u @ wh
    scale = sing.sum(dim=1)[:, None, None]
    return (b @ rot.transpose(1, 2)) * scale * gt_norm + gt_mean


def point_errors(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Euclidean distance between corresponding points.

    Args:
        pred: [B, N, 3]; gt: [B, N, 3], same unit (metres).

    Returns:
        [B, N] distances, in the input unit.
    """
    _check_pair("pred", pred, "gt", gt)
    return torch.linalg.vector_norm(pred - gt, dim=-1)


def pck_auc(
    errors: torch.Tensor,
    min_m: float = PCK_MIN_M,
    max_m: float = PCK_MAX_M,
    steps: int = PCK_STEPS,
) -> tuple[float, torch.Tensor, torch.Tensor]:
    """PCK curve and its normalised area, as the official ``EvalUtil.get_measures``.

    The thresholds are ``linspace(min_m, max_m, steps)``. For each point index k, PCK_k(t) is
    the fraction of samples whose error at k is ``<= t``; AUC_k is the trapezoid of PCK_k over
    the thresholds divided by the trapezoid of 1 (``max_m - min_m``). Every point counts as
    visible, as in the official evaluation.

    Args:
        errors: [S, K] errors in metres, S samples, K points (21 joints or 778 vertices).
        min_m, max_m, steps: the threshold grid, metres; defaults are the official 0-5 cm, 100.

    Returns:
        ``(auc, pck, thresholds)``: the mean of AUC_k over k (unitless, [0, 1]); the PCK curve
        averaged over point indices [steps] (float64); the thresholds [steps] in metres
        (float64).

    Example: one point with errors 0.01 and 0.03 m in two samples, and the grid
    ``steps=6`` (0, 0.01, ..., 0.05 m): PCK = 0, 0.5, 0.5, 1, 1, 1 (``<=``), so the trapezoid is
    0.0025 + 0.005 + 0.0075 + 0.01 + 0.01 = 0.035 and the AUC is 0.035 / 0.05 = 0.7.
    """
    if errors.ndim != 2 or errors.shape[0] == 0:
        raise ValueError(f"errors: expected [S, K] with S > 0, got {tuple(errors.shape)}")
    errors = errors.to(torch.float64)
    thresholds = torch.linspace(min_m, max_m, steps, dtype=torch.float64, device=errors.device)
    sorted_errors = errors.transpose(0, 1).sort(dim=1).values.contiguous()  # [K, S]
    queries = thresholds.expand(errors.shape[1], -1).contiguous()
    counts = torch.searchsorted(sorted_errors, queries, right=True)
    pck_per_point = counts.to(torch.float64) / errors.shape[0]  # [K, T]
    norm = torch.trapezoid(torch.ones_like(thresholds), thresholds)
    auc_per_point = torch.trapezoid(pck_per_point, thresholds, dim=1) / norm
    return float(auc_per_point.mean()), pck_per_point.mean(dim=0), thresholds


def nearest_distances(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact nearest-neighbour distances between two point sets, both ways, per sample.

    Uses a k-d tree per sample (``scipy.spatial.cKDTree``) on the CPU in float64, like the
    official open3d call (about 6x faster on a CPU than a brute-force distance matrix).
    Not differentiable.

    Args:
        a: [B, P, 3]; b: [B, Q, 3], P, Q > 0, same unit (metres).

    Returns:
        ``(a_to_b [B, P], b_to_a [B, Q])``: for every point of one set, the distance to the
        nearest point of the other, in the input unit, dtype and device.
    """
    _check_points("a", a)
    _check_points("b", b)
    if a.shape[0] != b.shape[0] or a.shape[1] == 0 or b.shape[1] == 0:
        raise ValueError(f"a and b: expected [B, P>0, 3] and [B, Q>0, 3], got {tuple(a.shape)} and {tuple(b.shape)}")
    a_np = a.detach().cpu().double().numpy()
    b_np = b.detach().cpu().double().numpy()
    a_to_b = np.stack([cKDTree(b_i).query(a_i)[0] for a_i, b_i in zip(a_np, b_np)])
    b_to_a = np.stack([cKDTree(a_i).query(b_i)[0] for a_i, b_i in zip(a_np, b_np)])
    return a.new_tensor(a_to_b), a.new_tensor(b_to_a)


def fscore(
    pred: torch.Tensor, gt: torch.Tensor, thresholds_m: tuple[float, ...] = FSCORE_THRESHOLDS_M
) -> torch.Tensor:
    """Per-sample F-score between point sets, as the official ``calculate_fscore``.

    No correspondence is assumed: P = fraction of ground-truth points whose nearest predicted
    point is closer than t (strict ``<``), R = fraction of predicted points whose nearest
    ground-truth point is closer than t, F = 2PR / (P + R), and F = 0 when P + R = 0 or either
    set is empty. (The official code calls these "precision" and "recall" the other way round;
    F is symmetric.)

    Args:
        pred: predicted vertices [B, P, 3], metres. gt: ground-truth vertices [B, G, 3], metres.
        thresholds_m: distance thresholds in metres; the official ones are 5 mm and 15 mm.

    Returns:
        [B, T] F-scores in [0, 1], dtype of the inputs, one column per threshold.
    """
    _check_points("pred", pred)
    _check_points("gt", gt)
    if pred.shape[0] != gt.shape[0]:
        raise ValueError(f"pred and gt: batch sizes differ, {tuple(pred.shape)} and {tuple(gt.shape)}")
    thr = torch.as_tensor(thresholds_m, dtype=pred.dtype, device=pred.device)
    if pred.shape[1] == 0 or gt.shape[1] == 0:
        return pred.new_zeros(pred.shape[0], thr.numel())
    gt_to_pred, pred_to_gt = nearest_distances(gt, pred)
    p = (gt_to_pred[:, :, None] < thr).to(pred.dtype).mean(dim=1)
    r = (pred_to_gt[:, :, None] < thr).to(pred.dtype).mean(dim=1)
    total = p + r
    return torch.where(total > 0, 2 * p * r / total.clamp_min(torch.finfo(pred.dtype).tiny), 0.0)


@dataclass(frozen=True)
class PoseEvaluation:
    """Results of :func:`evaluate_split`. Errors are means over samples and points.

    Naming: ``pa_`` = after Procrustes alignment (the papers' PA-MPJPE/PA-MPVPE and the
    toolbox's ``*_al_*`` keys), ``ra_`` = after subtracting each hand's root keypoint (not an
    official metric), no prefix = unaligned (raw camera-frame coordinates). ``_mm`` / ``_cm``
    give the unit; AUCs (0-5 cm, 100 thresholds) and F-scores are fractions in [0, 1]. Mesh
    fields are None when no vertices were given.

    Paper columns: PA-MPJPE = ``pa_mpjpe_*``, PA-MPVPE = ``pa_mpvpe_*``, AUC_J = ``auc_j``,
    AUC_V = ``auc_v``, F@5 = ``f_at_5mm``, F@15 = ``f_at_15mm`` (all Procrustes-aligned).
    """

    num_samples: int
    #: Procrustes-aligned joint error (PA-MPJPE).
    pa_mpjpe_mm: float
    pa_mpjpe_cm: float
    #: AUC of the aligned joint PCK curve.
    auc_j: float
    #: Root-aligned joint error.
    ra_mpjpe_mm: float
    ra_mpjpe_cm: float
    #: Unaligned joint error and its AUC.
    mpjpe_mm: float
    mpjpe_cm: float
    auc_j_unaligned: float
    #: Thresholds of the PCK curves [100], millimetres.
    pck_thresholds_mm: np.ndarray
    #: PCK curves [100] of the aligned and unaligned joints (mean over joints).
    pck_j: np.ndarray
    pck_j_unaligned: np.ndarray
    #: Per-sample aligned joint error [N], millimetres.
    pa_mpjpe_per_sample_mm: np.ndarray
    #: Mesh metrics (None without vertices): aligned vertex error (PA-MPVPE), its AUC, F-scores
    #: of the aligned vertices at 5 and 15 mm; root-aligned and unaligned counterparts.
    pa_mpvpe_mm: float | None = None
    pa_mpvpe_cm: float | None = None
    auc_v: float | None = None
    f_at_5mm: float | None = None
    f_at_15mm: float | None = None
    ra_mpvpe_mm: float | None = None
    ra_mpvpe_cm: float | None = None
    mpvpe_mm: float | None = None
    mpvpe_cm: float | None = None
    auc_v_unaligned: float | None = None
    f_at_5mm_unaligned: float | None = None
    f_at_15mm_unaligned: float | None = None
    pck_v: np.ndarray | None = None
    pck_v_unaligned: np.ndarray | None = None
    pa_mpvpe_per_sample_mm: np.ndarray | None = None

    def scalars(self) -> dict[str, float]:
        """Every scalar field (``num_samples`` included) by name; fields that are None are left out."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), (int, float))
        }

    def official_scores(self) -> dict[str, float]:
        """The numbers under the official toolbox's ``scores.txt`` keys and units.

        Mean errors in cm; AUCs and F-scores as fractions; mesh entries are -1 without
        vertices, as the toolbox writes them.
        """
        missing = -1.0

        def mesh(value: float | None) -> float:
            return missing if value is None else value

        return {
            "xyz_mean3d": self.mpjpe_cm,
            "xyz_auc3d": self.auc_j_unaligned,
            "xyz_al_mean3d": self.pa_mpjpe_cm,
            "xyz_al_auc3d": self.auc_j,
            "mesh_mean3d": mesh(self.mpvpe_cm),
            "mesh_auc3d": mesh(self.auc_v_unaligned),
            "mesh_al_mean3d": mesh(self.pa_mpvpe_cm),
            "mesh_al_auc3d": mesh(self.auc_v),
            "f_score_5": mesh(self.f_at_5mm_unaligned),
            "f_al_score_5": mesh(self.f_at_5mm),
            "f_score_15": mesh(self.f_at_15mm_unaligned),
            "f_al_score_15": mesh(self.f_at_15mm),
        }


def _as_float64(name: str, points) -> torch.Tensor:
    tensor = torch.as_tensor(points).to(torch.float64)
    _check_points(name, tensor)
    return tensor


def evaluate_split(
    pred_joints,
    gt_joints,
    pred_verts=None,
    gt_verts=None,
    root_index: int = ROOT_INDEX,
) -> PoseEvaluation:
    """Evaluate a whole split with the official FreiHAND protocol (see the module docstring).

    Alignment is per sample and separate for joints and vertices; the F-scores compare the
    vertex sets (aligned by their own Procrustes transform, and unaligned). Inputs may be
    tensors or arrays, on any device; the computation runs in float64 on that device.

    Args:
        pred_joints: [N, 21, 3] predicted keypoints, metres, FreiHAND order.
        gt_joints: [N, 21, 3] ground-truth keypoints, metres, same frame and order.
        pred_verts: [N, V, 3] predicted vertices, metres, in the ground truth's topology (MANO,
            V = 778, for FreiHAND), or None to skip the mesh metrics. Another vertex count is
            rejected: the official branch for it (``align_by_trafo``) is self-inconsistent.
        gt_verts: [N, V, 3] ground-truth vertices, metres; given iff ``pred_verts`` is.
        root_index: keypoint used for the root-aligned errors (9 = middle MCP; 0 = wrist for
            HO-3D).

    Returns:
        A :class:`PoseEvaluation`.

    An all-zero prediction of the FreiHAND evaluation split gives the toolbox's published
    sanity values through :meth:`PoseEvaluation.official_scores` (checked by the tests where the
    evaluation files are present).
    """
    pj = _as_float64("pred_joints", pred_joints)
    gj = _as_float64("gt_joints", gt_joints).to(pj.device)
    _check_pair("pred_joints", pj, "gt_joints", gj)
    if (pred_verts is None) != (gt_verts is None):
        raise ValueError("pred_verts and gt_verts must be given together (or both None)")

    pa_j = point_errors(procrustes_align(pj, gj), gj)
    ra_j = point_errors(pj - pj[:, root_index : root_index + 1], gj - gj[:, root_index : root_index + 1])
    raw_j = point_errors(pj, gj)
    auc_j, pck_j, thresholds = pck_auc(pa_j)
    auc_j_raw, pck_j_raw, _ = pck_auc(raw_j)
    fields: dict = dict(
        num_samples=pj.shape[0],
        pa_mpjpe_mm=float(pa_j.mean()) * 1000,
        pa_mpjpe_cm=float(pa_j.mean()) * 100,
        auc_j=auc_j,
        ra_mpjpe_mm=float(ra_j.mean()) * 1000,
        ra_mpjpe_cm=float(ra_j.mean()) * 100,
        mpjpe_mm=float(raw_j.mean()) * 1000,
        mpjpe_cm=float(raw_j.mean()) * 100,
        auc_j_unaligned=auc_j_raw,
        pck_thresholds_mm=thresholds.cpu().numpy() * 1000,
        pck_j=pck_j.cpu().numpy(),
        pck_j_unaligned=pck_j_raw.cpu().numpy(),
        pa_mpjpe_per_sample_mm=pa_j.mean(dim=1).cpu().numpy() * 1000,
    )
    if pred_verts is not None:
        pv = _as_float64("pred_verts", pred_verts).to(pj.device)
        gv = _as_float64("gt_verts", gt_verts).to(pj.device)
        _check_pair("pred_verts", pv, "gt_verts", gv)
        if pv.shape[0] != pj.shape[0]:
            raise ValueError(f"pred_verts has {pv.shape[0]} samples but pred_joints has {pj.shape[0]}")
        pv_aligned = procrustes_align(pv, gv)
        pa_v = point_errors(pv_aligned, gv)
        ra_v = point_errors(pv - pj[:, root_index : root_index + 1], gv - gj[:, root_index : root_index + 1])
        raw_v = point_errors(pv, gv)
        auc_v, pck_v, _ = pck_auc(pa_v)
        auc_v_raw, pck_v_raw, _ = pck_auc(raw_v)
        f_al = fscore(pv_aligned, gv).mean(dim=0)
        f_raw = fscore(pv, gv).mean(dim=0)
        fields.update(
            pa_mpvpe_mm=float(pa_v.mean()) * 1000,
            pa_mpvpe_cm=float(pa_v.mean()) * 100,
            auc_v=auc_v,
            f_at_5mm=float(f_al[0]),
            f_at_15mm=float(f_al[1]),
            ra_mpvpe_mm=float(ra_v.mean()) * 1000,
            ra_mpvpe_cm=float(ra_v.mean()) * 100,
            mpvpe_mm=float(raw_v.mean()) * 1000,
            mpvpe_cm=float(raw_v.mean()) * 100,
            auc_v_unaligned=auc_v_raw,
            f_at_5mm_unaligned=float(f_raw[0]),
            f_at_15mm_unaligned=float(f_raw[1]),
            pck_v=pck_v.cpu().numpy(),
            pck_v_unaligned=pck_v_raw.cpu().numpy(),
            pa_mpvpe_per_sample_mm=pa_v.mean(dim=1).cpu().numpy() * 1000,
        )
    return PoseEvaluation(**fields)
