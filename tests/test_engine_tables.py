"""Result tables: rows from metrics.json files and run folders, paper layout, Markdown and CSV."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from pathlib import Path

import pytest

from hifihr.engine.tables import collect_rows, latest_metrics

_SPEC = importlib.util.spec_from_file_location("make_tables", Path(__file__).resolve().parents[1] / "scripts" / "make_tables.py")
make_tables = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(make_tables)


def _write_run(root, name, supervision, texture, epochs_and_psnr):
    for epoch, psnr in epochs_and_psnr:
        metrics = {"pa_mpjpe_mm": 10.0 + epoch / 1000, "auc_j": 0.8, "psnr_db": psnr, "ssim": 0.9, "notes": []}
        if texture:
            metrics["pa_mpvpe_mm"] = 11.25
        record = {
            "epoch": epoch,
            "step": 10 * epoch,
            "run": {"name": name, "supervision": supervision, "texture": texture},
            "datasets": {"freihand_evaluation": metrics},
        }
        path = root / name / "eval" / str(epoch) / "metrics.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(record))
    return root / name


def test_tables_from_run_folders(tmp_path, capsys):
    self_run = _write_run(tmp_path, "run_self", "self", False, [(5, 20.0), (10, 21.5)])
    full_run = _write_run(tmp_path, "run_full", "full", True, [(10, 24.25)])
    assert latest_metrics(self_run).parent.name == "10"
    rows = collect_rows([self_run, full_run])
    assert [(r.supervision, r.method, r.epoch) for r in rows] == [("full", "run_full", 10), ("self", "run_self w/o texture", 10)]
    assert rows[1].values["psnr_db"] == 21.5 and rows[1].values["pa_mpvpe_mm"] is None

    assert make_tables.main([str(self_run), str(full_run), "--out", str(tmp_path / "tables" / "result")]) == 0
    markdown = capsys.readouterr().out
    lines = markdown.splitlines()
    assert lines[0].startswith("| dataset | supervision | method | epoch | selected | PA-MPJPE (mm) | PA-MPVPE (mm) | AUC_J")
    assert lines[2] == "| freihand_evaluation | full | run_full | 10 | last | 10.01 | 11.25 | 0.800 | - | - | - | 24.25 | 0.900 | - |"
    assert lines[3].startswith("| freihand_evaluation | self | run_self w/o texture | 10 | last | 10.01 | - |")
    assert (tmp_path / "tables" / "result.md").read_text() == markdown
    table = list(csv.DictReader(io.StringIO((tmp_path / "tables" / "result.csv").read_text())))
    assert table[0]["pa_mpjpe_mm"] == "10.01" and table[1]["pa_mpvpe_mm"] == "" and table[1]["psnr_db"] == "21.5"


def test_tables_with_labels_and_errors(tmp_path, capsys):
    run = _write_run(tmp_path, "a", "weak", True, [(3, 18.0)])
    assert make_tables.main([str(run / "eval" / "3" / "metrics.json"), "--labels", "HiFiHR"]) == 0
    assert "| weak | HiFiHR | 3 | given |" in capsys.readouterr().out
    assert make_tables.main([str(tmp_path / "empty_run"), "--labels", "x"]) == 2
    (tmp_path / "empty_run").mkdir()
    assert make_tables.main([str(tmp_path / "empty_run")]) == 2
    assert "holds no evaluation" in capsys.readouterr().err


def _write_evaluation(run, epoch, datasets, root="GT root"):
    path = run / "eval" / str(epoch) / "metrics.json"
    path.parent.mkdir(parents=True)
    record = {"epoch": epoch, "run": {"name": run.name, "supervision": "full", "texture": True}, "datasets": datasets}
    for metrics in datasets.values():
        metrics["unaligned_root"] = root
    path.write_text(json.dumps(record))


def test_best_epoch_per_dataset_selected_on_the_evaluation_split(tmp_path, capsys):
    run = tmp_path / "run"
    # PA-MPJPE is best at 20 on FreiHAND, PSNR best at 30; HO-3D has no PA-MPJPE.
    for epoch, pa, psnr in ((10, 9.0, 20.0), (20, 8.0, 21.0), (30, 8.5, 22.0), (40, 8.0, 19.0)):
        _write_evaluation(run, epoch, {"freihand_evaluation": {"pa_mpjpe_mm": pa, "psnr_db": psnr, "mpjpe_mm": 30.0 + epoch}, "ho3d_v2_evaluation": {"psnr_db": psnr}})
    last = collect_rows([run])
    assert [(r.dataset, r.epoch, r.selected) for r in last] == [("freihand_evaluation", 40, "last"), ("ho3d_v2_evaluation", 40, "last")]
    by_psnr = collect_rows([run], select="best", metric="psnr_db")
    assert [(r.dataset, r.epoch) for r in by_psnr] == [("freihand_evaluation", 30), ("ho3d_v2_evaluation", 30)]
    assert by_psnr[0].selected == "best psnr_db on the evaluation split"
    with pytest.raises(ValueError, match="no evaluation of ho3d_v2_evaluation has pa_mpjpe_mm"):
        collect_rows([run], select="best")
    only_frei = tmp_path / "frei"
    for epoch, pa in ((10, 9.0), (20, 8.0), (30, 8.0)):
        _write_evaluation(only_frei, epoch, {"freihand_evaluation": {"pa_mpjpe_mm": pa, "mpjpe_mm": 30.0 + epoch}})
    assert [r.epoch for r in collect_rows([only_frei], select="best")] == [20]  # ties keep the earlier epoch

    assert make_tables.main([str(only_frei), "--select", "best", "--unaligned"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("| MPJPE (mm) | MPVPE (mm) | unaligned root |")
    assert lines[2] == "| freihand_evaluation | full | frei | 20 | best pa_mpjpe_mm on the evaluation split | 8.00 | - | - | - | - | - | - | - | - | 50.00 | - | GT root |"
    assert make_tables.main([str(run), "--select", "best"]) == 2
    assert "choose another metric" in capsys.readouterr().err
