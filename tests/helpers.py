"""Shared test helpers."""

from __future__ import annotations

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
