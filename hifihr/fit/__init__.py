"""Inverse-rendering refinement of a hand from one or more calibrated views (FMHR's HAM).

:class:`Fitter` runs the stages (keypoints, render, ham) on :class:`FitViews`;
:mod:`hifihr.fit.mesh` holds the mesh regularisers, :mod:`hifihr.fit.outputs` writes the
results (``scripts/fit.py``).
"""

from .fitter import (
    ALBEDO_MODES,
    STAGES,
    FitOptions,
    FitResult,
    Fitter,
    HamStage,
    HandState,
    KeypointStage,
    RenderStage,
    StageRecord,
    fit_light,
    initial_state,
    posed,
)
from .views import FitViews, read_image_tensor, read_keypoints_json, single_view

__all__ = [
    "ALBEDO_MODES",
    "FitOptions",
    "FitResult",
    "FitViews",
    "Fitter",
    "HamStage",
    "HandState",
    "KeypointStage",
    "RenderStage",
    "STAGES",
    "StageRecord",
    "fit_light",
    "initial_state",
    "posed",
    "read_image_tensor",
    "read_keypoints_json",
    "single_view",
]
