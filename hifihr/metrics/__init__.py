"""Evaluation metrics: 3D pose and mesh (official FreiHAND protocol) and texture (PSNR, SSIM, LPIPS).

``pose``: :func:`evaluate_split` runs the whole FreiHAND protocol (Procrustes alignment,
PCK/AUC over 0-5 cm, F-scores at 5/15 mm) and returns a :class:`PoseEvaluation`.
``texture``: :func:`texture_metrics` compares renders with input images inside a mask, per
image or as the reference did per batch; :func:`ssim` is shared with the losses.
"""

from hifihr.metrics.pose import (
    FSCORE_THRESHOLDS_M,
    PoseEvaluation,
    evaluate_split,
    fscore,
    nearest_distances,
    pck_auc,
    point_errors,
    procrustes_align,
)
from hifihr.metrics.texture import (
    TEXTURE_PROTOCOLS,
    MissingWeightsError,
    TextureMetrics,
    alexnet_weights_path,
    alexnet_weights_url,
    load_lpips_alex,
    lpips_distance,
    masked_mean,
    psnr,
    reference_batch_psnr,
    ssim,
    texture_metrics,
)

__all__ = [
    "FSCORE_THRESHOLDS_M",
    "PoseEvaluation",
    "evaluate_split",
    "fscore",
    "nearest_distances",
    "pck_auc",
    "point_errors",
    "procrustes_align",
    "TEXTURE_PROTOCOLS",
    "MissingWeightsError",
    "TextureMetrics",
    "alexnet_weights_path",
    "alexnet_weights_url",
    "load_lpips_alex",
    "lpips_distance",
    "masked_mean",
    "psnr",
    "reference_batch_psnr",
    "ssim",
    "texture_metrics",
]
