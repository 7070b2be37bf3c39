"""Shared test helpers."""

from __future__ import annotations

from pathlib import Path

import torch


def assert_close(actual, expected, atol: float = 1e-6, rtol: float = 0.0, msg: str = "") -> None:
    """Assert two tensors are elementwise close; on failure report the largest difference and where.

    |actual - expected| <= atol + rtol * |expected| must hold everywhere. Shapes must match.
    """
    actual = torch.as_tensor(actual)
    expected = torch.as_tensor(expected, dtype=actual.dtype, device=actual.device)
    if actual.shape != expected.shape:
        raise AssertionError(f"{msg} shape mismatch: {tuple(actual.shape)} vs {tuple(expected.shape)}")
    diff = (actual - expected).abs()
    tol = atol + rtol * expected.abs()
    bad = diff > tol
    if bad.any() or torch.isnan(diff).any():
        flat = torch.nan_to_num(diff, nan=float("inf")).flatten()
        idx = int(flat.argmax())
        where = tuple(int(i) for i in torch.unravel_index(torch.tensor(idx), diff.shape))
        raise AssertionError(
            f"{msg} max |diff| = {flat[idx].item():.3e} at {where} "
            f"(actual {actual[where].item():.6g}, expected {expected[where].item():.6g}); "
            f"{int(bad.sum())} of {diff.numel()} elements out of tolerance (atol={atol}, rtol={rtol})"
        )


#: The research-only real photographs beside the checkout (absent in a user's fresh clone).
REAL_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "real_photos"


def detector_or_skip(**options):
    """A :class:`hifihr.detect.HandDetector`, or skip the test saying what is missing."""
    import pytest

    from hifihr.detect import DetectorModelError, DetectorUnavailable, HandDetector

    try:
        return HandDetector(**options)
    except (DetectorUnavailable, DetectorModelError) as err:
        pytest.skip(f"hand detector not available: {err}")


def real_photos_or_skip():
    """(folder, annotations dict) of ../shared/real_photos, or skip when it is absent."""
    import json

    import pytest

    if not (REAL_PHOTOS / "annotations.json").is_file():
        pytest.skip(f"{REAL_PHOTOS} is absent (research-only photos, not part of the repository)")
    return REAL_PHOTOS, json.loads((REAL_PHOTOS / "annotations.json").read_text())
