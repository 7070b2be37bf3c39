"""Result tables laid out like the paper's: dataset x supervision x method, pose then texture.

Each evaluation's ``eval/<epoch>/metrics.json`` records the run it belongs to (``run``: name,
supervision, texture, hand model, backbone); :func:`collect_rows` turns one or many of them
into :class:`ResultRow` s, :func:`markdown_table` and :func:`csv_table` lay them out. Columns:
PA-MPJPE and PA-MPVPE in mm, AUC_J and AUC_V (0-50 mm), F@5 and F@15 (aligned), PSNR (dB), SSIM,
LPIPS; a metric the evaluation did not produce is shown as "-".
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

#: Table columns: (metrics.json key, header, decimals).
COLUMNS = (
    ("pa_mpjpe_mm", "PA-MPJPE (mm)", 2),
    ("pa_mpvpe_mm", "PA-MPVPE (mm)", 2),
    ("auc_j", "AUC_J", 3),
    ("auc_v", "AUC_V", 3),
    ("f_at_5mm", "F@5", 3),
    ("f_at_15mm", "F@15", 3),
    ("psnr_db", "PSNR (dB)", 2),
    ("ssim", "SSIM", 3),
    ("lpips", "LPIPS", 3),
)
SUPERVISION_ORDER = ("full", "weak", "self")


@dataclass(frozen=True)
class ResultRow:
    """One evaluated split of one run.

    Attributes:
        dataset: the split's tag (``<dataset>_<split>``).
        supervision: ``full``, ``weak`` or ``self`` ("?" when unknown).
        method: the label of the run (its name unless given).
        epoch: the evaluated global epoch.
        values: metric key -> value (keys of :data:`COLUMNS`; None when absent).
        source: the ``metrics.json`` it came from.
    """

    dataset: str
    supervision: str
    method: str
    epoch: int
    values: dict[str, Optional[float]]
    source: str


def latest_metrics(run: Path) -> Path:
    """The ``metrics.json`` of the highest evaluated epoch of a run folder.

    Raises:
        FileNotFoundError: the run has no evaluation.
    """
    candidates = [p for p in (run / "eval").glob("*/metrics.json") if p.parent.name.lstrip("-").isdigit()]
    if not candidates:
        raise FileNotFoundError(f"{run} holds no evaluation (expected {run}/eval/<epoch>/metrics.json)")
    return max(candidates, key=lambda p: int(p.parent.name))


def collect_rows(paths: Iterable[str | Path], labels: Optional[Sequence[str]] = None) -> list[ResultRow]:
    """Rows from ``metrics.json`` files or run folders (their latest evaluation).

    Args:
        paths: files or run folders.
        labels: a method label per path (default: the run's name, with "w/o texture" appended
            for a run without a texture head).
    """
    paths = list(paths)
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"{len(labels)} labels for {len(paths)} inputs")
    rows = []
    for i, path in enumerate(paths):
        path = Path(path)
        file = latest_metrics(path) if path.is_dir() else path
        record = json.loads(file.read_text())
        run: dict[str, Any] = record.get("run", {})
        method = labels[i] if labels is not None else run.get("name", file.parent.parent.parent.name)
        if labels is None and run.get("texture") is False:
            method += " w/o texture"
        for tag, metrics in record["datasets"].items():
            values = {key: _number(metrics.get(key)) for key, _, _ in COLUMNS}
            rows.append(ResultRow(tag, run.get("supervision", "?"), method, int(record["epoch"]), values, str(file)))
    order = {name: i for i, name in enumerate(SUPERVISION_ORDER)}
    return sorted(rows, key=lambda r: (r.dataset, order.get(r.supervision, len(order)), r.method))


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _format(value: Optional[float], decimals: int) -> str:
    return "-" if value is None else f"{value:.{decimals}f}"


def markdown_table(rows: Sequence[ResultRow]) -> str:
    """A Markdown table: dataset | supervision | method | epoch | the metric columns."""
    header = ["dataset", "supervision", "method", "epoch"] + [title for _, title, _ in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 4 + ["---:"] * len(COLUMNS)) + "|"]
    for row in rows:
        cells = [row.dataset, row.supervision, row.method, str(row.epoch)]
        cells += [_format(row.values[key], decimals) for key, _, decimals in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def csv_table(rows: Sequence[ResultRow]) -> str:
    """The same table as CSV, full precision, empty cells for missing metrics, plus the source file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["dataset", "supervision", "method", "epoch"] + [key for key, _, _ in COLUMNS] + ["source"])
    for row in rows:
        values = ["" if row.values[key] is None else repr(row.values[key]) for key, _, _ in COLUMNS]
        writer.writerow([row.dataset, row.supervision, row.method, row.epoch] + values + [row.source])
    return buffer.getvalue()
