"""Result tables: rows from metrics.json files and run folders, paper layout, Markdown and CSV."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from pathlib import Path

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
    assert lines[0].startswith("| dataset | supervision | method | epoch | PA-MPJPE (mm) | PA-MPVPE (mm) | AUC_J")
    assert lines[2] == "| freihand_evaluation | full | run_full | 10 | 10.01 | 11.25 | 0.800 | - | - | - | 24.25 | 0.900 | - |"
    assert lines[3].startswith("| freihand_evaluation | self | run_self w/o texture | 10 | 10.01 | - |")
    assert (tmp_path / "tables" / "result.md").read_text() == markdown
    table = list(csv.DictReader(io.StringIO((tmp_path / "tables" / "result.csv").read_text())))
    assert table[0]["pa_mpjpe_mm"] == "10.01" and table[1]["pa_mpvpe_mm"] == "" and table[1]["psnr_db"] == "21.5"


def test_tables_with_labels_and_errors(tmp_path, capsys):
    run = _write_run(tmp_path, "a", "weak", True, [(3, 18.0)])
    assert make_tables.main([str(run / "eval" / "3" / "metrics.json"), "--labels", "HiFiHR"]) == 0
    assert "| weak | HiFiHR | 3 |" in capsys.readouterr().out
    assert make_tables.main([str(tmp_path / "empty_run"), "--labels", "x"]) == 2
    (tmp_path / "empty_run").mkdir()
    assert make_tables.main([str(tmp_path / "empty_run")]) == 2
    assert "holds no evaluation" in capsys.readouterr().err
