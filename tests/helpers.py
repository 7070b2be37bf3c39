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


def pytorch_ssim_reference(img1, img2, window_size: int = 11):
    """SSIM as the reference's ``utils/pytorch_ssim.ssim`` defines it, computed another way.

    The reference builds its window in float32 (``torch.Tensor`` of ``exp(-(x - 5)^2 / (2 * 1.5^2))``,
    normalised, outer product), casts it to the images' dtype, takes local statistics with zero
    padding of ``window_size // 2``, uses C1 = 0.01^2 and C2 = 0.03^2, and averages the map over
    batch, channels and pixels. Here the windows are gathered explicitly with ``unfold``.
    [B, C, H, W] x 2 -> scalar.
    """
    import math

    import torch.nn.functional as F

    gauss = torch.tensor([math.exp(-((x - window_size // 2) ** 2) / (2 * 1.5**2)) for x in range(window_size)], dtype=torch.float32)
    gauss = gauss / gauss.sum()
    window = (gauss[:, None] * gauss[None, :]).to(img1.dtype).flatten()
    batch, channels, height, width = img1.shape
    pad = window_size // 2

    def local_mean(x):  # [B, C, H, W] -> [B, C, H, W], each pixel's window-weighted mean
        patches = F.unfold(F.pad(x, (pad, pad, pad, pad)).reshape(batch * channels, 1, height + 2 * pad, width + 2 * pad), window_size)
        return (patches * window[None, :, None]).sum(1).reshape(batch, channels, height, width)

    mu1, mu2 = local_mean(img1), local_mean(img2)
    var1 = local_mean(img1 * img1) - mu1**2
    var2 = local_mean(img2 * img2) - mu2**2
    cov = local_mean(img1 * img2) - mu1 * mu2
    c1, c2 = 0.01**2, 0.03**2
    return (((2 * mu1 * mu2 + c1) * (2 * cov + c2)) / ((mu1**2 + mu2**2 + c1) * (var1 + var2 + c2))).mean()

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
