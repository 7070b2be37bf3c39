"""The learning targets make train prints: PA-MPJPE ratio and PSNR gain against the untrained
network's metrics.json, PASS/FAIL at the boundaries."""

from __future__ import annotations

import json

import pytest

from hifihr.engine.checkpoint_evaluation import learning_targets


def _baseline(tmp_path, pa=13.2, psnr=9.75):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"datasets": {"synthetic_evaluation": {"pa_mpjpe_mm": pa, "psnr_db": psnr}}}))
    return path


def test_targets_pass_and_fail(tmp_path):
    base = _baseline(tmp_path)
    checks = learning_targets({"synthetic_evaluation": {"pa_mpjpe_mm": 7.91, "psnr_db": 11.75}}, base, 0.6, 2.0)
    assert [ok for _, ok in checks] == [True, True]  # 0.6 x 13.2 = 7.92; 11.75 = 9.75 + 2 exactly
    assert checks[0][0] == "synthetic_evaluation: PA-MPJPE 7.91 mm = 60% of the baseline's 13.20 mm (target at most 60%): PASS"
    assert checks[1][0] == "synthetic_evaluation: PSNR 11.75 dB = baseline 9.75 dB +2.00 dB (target at least +2.0 dB): PASS"
    checks = learning_targets({"synthetic_evaluation": {"pa_mpjpe_mm": 8.0, "psnr_db": 11.7}}, base, 0.6, 2.0)
    assert [ok for _, ok in checks] == [False, False] and checks[0][0].endswith("61% of the baseline's 13.20 mm (target at most 60%): FAIL")


def test_targets_need_both_metrics_and_a_shared_dataset(tmp_path):
    base = _baseline(tmp_path)
    with pytest.raises(ValueError, match="psnr_db is missing"):
        learning_targets({"synthetic_evaluation": {"pa_mpjpe_mm": 7.0}}, base, 0.6, 2.0)
    with pytest.raises(ValueError, match="no dataset of this evaluation"):
        learning_targets({"other": {"pa_mpjpe_mm": 7.0, "psnr_db": 12.0}}, base, 0.6, 2.0)
