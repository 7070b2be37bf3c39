"""scripts/plot_learning.py: the curve read from a run folder (initial evaluation as step 0,
metrics.jsonl evaluations after it) and the drawn figure."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

_SPEC = importlib.util.spec_from_file_location("plot_learning", Path(__file__).resolve().parents[1] / "scripts" / "plot_learning.py")
plot_learning = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(plot_learning)

TAG = "synthetic_evaluation"


def _run(folder: Path, evals: list[tuple[int, float, float]], initial=None) -> Path:
    folder.mkdir(parents=True)
    lines = [json.dumps({"kind": "train", "epoch": 1, "step": 10, "loss": 1.0})]
    lines += [json.dumps({"kind": "eval", "epoch": s // 125, "step": s, "datasets": {TAG: {"pa_mpjpe_mm": pa, "psnr_db": p}}}) for s, pa, p in evals]
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    if initial is not None:
        (folder / "eval" / "0").mkdir(parents=True)
        (folder / "eval" / "0" / "metrics.json").write_text(json.dumps({"datasets": {TAG: {"pa_mpjpe_mm": initial[0], "psnr_db": initial[1]}}}))
    return folder


def test_curve_has_the_initial_evaluation_first(tmp_path):
    run = _run(tmp_path / "a", [(500, 10.0, 11.0), (250, 12.0, 10.5)], initial=(13.2, 9.7))
    assert plot_learning.learning_curve(run, TAG) == [(0, 13.2, 9.7), (250, 12.0, 10.5), (500, 10.0, 11.0)]
    assert plot_learning.learning_curve(_run(tmp_path / "b", [(250, 12.0, 10.5)]), TAG) == [(250, 12.0, 10.5)]
    with pytest.raises(KeyError):
        plot_learning.learning_curve(run, "other_split")


def test_figure_draws_each_run_in_its_colour(tmp_path):
    a = _run(tmp_path / "a", [(250, 12.0, 10.5), (500, 10.0, 11.0)], initial=(13.2, 9.7))
    b = _run(tmp_path / "b", [(250, 13.0, 10.0), (500, 12.5, 10.2)], initial=(13.2, 9.7))
    out = tmp_path / "curves.png"
    assert plot_learning.main(["--run", f"pretrained={a}", "--run", f"scratch={b}", "--out", str(out)]) == 0
    image = plot_learning.draw({"pretrained": plot_learning.learning_curve(a, TAG), "scratch": plot_learning.learning_curve(b, TAG)}, "t")
    for colour in plot_learning.COLOURS[:2]:
        assert (np.abs(image.astype(int) - colour).sum(-1) == 0).sum() > 100  # each line is drawn
    assert out.stat().st_size > 0
