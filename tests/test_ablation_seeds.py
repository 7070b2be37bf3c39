"""Seeded ablations: the seed variants of the configs and the aggregation maths (means, sample
standard deviations, the standard error of texture's effect and the verdict against it)."""

from __future__ import annotations

import math
import statistics

import pytest

from hifihr.engine.ablation import (
    WITH_TEXTURE,
    WITHOUT_TEXTURE,
    ablation_configs,
    difference_and_spread,
    mean_and_std,
    seed_summary_table,
    seeded_texture_effect_table,
    summarise_seeds,
)
from hifihr.engine.tables import COLUMNS, ResultRow


def _row(method: str, pa: float, psnr: float, supervision: str = "full", lpips=None) -> ResultRow:
    values = {key: None for key, _, _ in COLUMNS}
    values.update(pa_mpjpe_mm=pa, pa_mpvpe_mm=pa / 2, psnr_db=psnr, lpips=lpips)
    return ResultRow("synthetic_evaluation", supervision, method, 8, values, "x")


def test_mean_and_std_match_the_statistics_module():
    values = [11.2, 12.9, 10.4, 12.0]
    mean, std = mean_and_std(values)
    assert mean == pytest.approx(statistics.mean(values)) and std == pytest.approx(statistics.stdev(values))
    assert mean_and_std([3.5]) == (3.5, 0.0)
    with pytest.raises(ValueError):
        mean_and_std([])


def test_seed_variants_differ_only_in_seed_and_name(tmp_path):
    variants = ablation_configs("config/synthetic/full.json", [], ["full"], tmp_path, seeds=[0, 1, 2])
    assert [(label, cfg.experiment.seed) for label, cfg in variants] == [
        (WITH_TEXTURE, 0), (WITH_TEXTURE, 1), (WITH_TEXTURE, 2), (WITHOUT_TEXTURE, 0), (WITHOUT_TEXTURE, 1), (WITHOUT_TEXTURE, 2),
    ]  # fmt: skip
    assert [cfg.experiment.name for _, cfg in variants[:3]] == ["synthetic_full_full_s0", "synthetic_full_full_s1", "synthetic_full_full_s2"]
    assert variants[0][1].optim == variants[2][1].optim and variants[0][1].model == variants[2][1].model


def test_summaries_and_the_texture_effect_against_its_standard_error():
    with_pa, without_pa = [10.0, 10.4, 9.8], [12.0, 11.0, 12.5]
    with_psnr, without_psnr = [12.0, 12.2, 12.1], [12.1, 11.9, 12.3]
    rows = [_row(WITH_TEXTURE, p, s) for p, s in zip(with_pa, with_psnr)]
    rows += [_row(WITHOUT_TEXTURE, p, s) for p, s in zip(without_pa, without_psnr)]
    summaries = summarise_seeds(rows)
    assert [(c.method, c.n) for c in summaries] == [(WITH_TEXTURE, 3), (WITHOUT_TEXTURE, 3)]
    a, b = summaries
    assert a.mean["pa_mpjpe_mm"] == pytest.approx(statistics.mean(with_pa))
    assert a.std["pa_mpjpe_mm"] == pytest.approx(statistics.stdev(with_pa))
    assert a.mean["lpips"] is None and a.std["lpips"] is None
    diff, se = difference_and_spread(a, b, "pa_mpjpe_mm")
    expected_se = math.sqrt(statistics.variance(with_pa) / 3 + statistics.variance(without_pa) / 3)
    assert diff == pytest.approx(statistics.mean(with_pa) - statistics.mean(without_pa)) and se == pytest.approx(expected_se)
    assert abs(diff) > 2 * se  # -1.83 mm against a standard error of 0.47
    psnr_diff, psnr_se = difference_and_spread(a, b, "psnr_db")
    assert abs(psnr_diff) < 2 * psnr_se
    assert difference_and_spread(a, b, "lpips") is None

    table = seeded_texture_effect_table(summaries)
    line = table.splitlines()[-1]
    assert f"{diff:+.2f} ± {se:.2f}" in line and f"{psnr_diff:+.2f} ± {psnr_se:.2f}" in line
    assert "PA-MPJPE (mm): yes" in line and "PSNR (dB): no" in line and "| 3/3 |" in line
    summary = seed_summary_table(summaries)
    assert f"| {statistics.mean(with_pa):.2f} ± {statistics.stdev(with_pa):.2f} |" in summary.splitlines()[2]


def test_one_seed_has_no_spread_to_compare_with():
    summaries = summarise_seeds([_row(WITH_TEXTURE, 10.0, 12.0), _row(WITHOUT_TEXTURE, 11.0, 11.0)])
    assert "one seed, no spread" in seeded_texture_effect_table(summaries)
    assert summaries[0].std["pa_mpjpe_mm"] == 0.0
