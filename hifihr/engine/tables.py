"""Result tables laid out like the paper's: dataset x supervision x method, pose then texture.

Each evaluation's ``eval/<epoch>/metrics.json`` records the run it belongs to (``run``: name,
supervision, texture, hand model, backbone); :func:`collect_rows` turns one or many of them
into :class:`ResultRow` s, :func:`markdown_table` and :func:`csv_table` lay them out. Columns:
PA-MPJPE and PA-MPVPE in mm, AUC_J and AUC_V (0-50 mm), F@5 and F@15 (aligned), PSNR (dB), SSIM,
LPIPS; a metric the evaluation did not produce is shown as "-". With ``unaligned``, also the
unaligned MPJPE and MPVPE (mm) and where their root came from: "GT root" when the network was
placed at the ground-truth root (``model.root = "gt"``), "predicted" otherwise.

Which evaluation of a run folder gives its rows (``select``): ``"last"``, its highest epoch, or
``"best"``, for each dataset the epoch with the best value of ``metric`` (the lowest error, the
highest AUC, F-score, PSNR or SSIM; ties keep the earlier epoch). The best epoch is selected on
the evaluation split itself, as the reference did; the ``selected`` column says so.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal, Optional, Sequence

from hifihr.config import BEST_METRICS

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
#: Unaligned columns shown with ``unaligned=True``: (metrics.json key, header, decimals).
UNALIGNED_COLUMNS = (("mpjpe_mm", "MPJPE (mm)", 2), ("mpvpe_mm", "MPVPE (mm)", 2))
SUPERVISION_ORDER = ("full", "weak", "self")


@dataclass(frozen=True)
class ResultRow:
    """One evaluated split of one run.

    Attributes:
        dataset: the split's tag (``<dataset>_<split>``).
        supervision: ``full``, ``weak`` or ``self`` ("?" when unknown).
        method: the label of the run (its name unless given).
        epoch: the evaluated global epoch.
        values: metric key -> value (keys of :data:`COLUMNS` and :data:`UNALIGNED_COLUMNS`;
            None when absent).
        source: the ``metrics.json`` it came from.
        selected: how the epoch was chosen: "last", "best <metric> on the evaluation split", or
            "given" (a metrics.json named directly).
        unaligned_root: "GT root" or "predicted": where the unaligned numbers' root came from
            (None when the evaluation did not record it).
    """

    dataset: str
    supervision: str
    method: str
    epoch: int
    values: dict[str, Optional[float]]
    source: str
    selected: str = "given"
    unaligned_root: Optional[str] = None


def _evaluations(run: Path) -> list[Path]:
    """The ``eval/<epoch>/metrics.json`` files of a run folder, by epoch.

    Raises:
        FileNotFoundError: the run has no evaluation.
    """
    found = [p for p in (run / "eval").glob("*/metrics.json") if p.parent.name.lstrip("-").isdigit()]
    if not found:
        raise FileNotFoundError(f"{run} holds no evaluation (expected {run}/eval/<epoch>/metrics.json)")
    return sorted(found, key=lambda p: int(p.parent.name))


def latest_metrics(run: Path) -> Path:
    """The ``metrics.json`` of the highest evaluated epoch of a run folder.

    Raises:
        FileNotFoundError: the run has no evaluation.
    """
    return _evaluations(run)[-1]


def best_metrics(run: Path, tag: str, metric: str) -> Path:
    """The ``metrics.json`` of the epoch whose ``metric`` on dataset ``tag`` is best (ties: the
    earlier epoch).

    Raises:
        FileNotFoundError: the run has no evaluation.
        ValueError: no evaluation of ``tag`` has ``metric``.
    """
    if metric not in BEST_METRICS:
        raise ValueError(f"metric {metric!r} cannot select an epoch; choose one of {', '.join(BEST_METRICS)}")
    best: Optional[tuple[float, Path]] = None
    sign = -1.0 if BEST_METRICS[metric] else 1.0
    for path in _evaluations(run):
        value = _number(json.loads(path.read_text())["datasets"].get(tag, {}).get(metric))
        if value is not None and (best is None or sign * value < best[0]):
            best = (sign * value, path)
    if best is None:
        raise ValueError(f"{run}: no evaluation of {tag} has {metric}; choose another metric or select the last epoch")
    return best[1]


def _rows_of(file: Path, label: Optional[str], tags: Optional[Sequence[str]], selected: str) -> list[ResultRow]:
    record = json.loads(file.read_text())
    run: dict[str, Any] = record.get("run", {})
    method = label if label is not None else run.get("name", file.parent.parent.parent.name)
    if label is None and run.get("texture") is False:
        method += " w/o texture"
    rows = []
    for tag, metrics in record["datasets"].items():
        if tags is not None and tag not in tags:
            continue
        keys = [key for key, _, _ in COLUMNS + UNALIGNED_COLUMNS]
        values = {key: _number(metrics.get(key)) for key in keys}
        row = ResultRow(tag, run.get("supervision", "?"), method, int(record["epoch"]), values, str(file), selected, metrics.get("unaligned_root"))
        rows.append(row)
    return rows


def collect_rows(
    paths: Iterable[str | Path],
    labels: Optional[Sequence[str]] = None,
    select: Literal["last", "best"] = "last",
    metric: str = "pa_mpjpe_mm",
) -> list[ResultRow]:
    """Rows from ``metrics.json`` files or run folders (the evaluation ``select`` picks).

    Args:
        paths: files or run folders.
        labels: a method label per path (default: the run's name, with "w/o texture" appended
            for a run without a texture head).
        select: for run folders, ``"last"`` (highest epoch) or ``"best"`` (per dataset, the
            best ``metric``, see the module docstring).
        metric: a key of :data:`hifihr.config.BEST_METRICS`.

    Raises:
        FileNotFoundError: a run folder without evaluations.
        ValueError: mismatched labels, an unknown ``select``, or (``"best"``) no evaluation
            with ``metric``.
    """
    paths = list(paths)
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"{len(labels)} labels for {len(paths)} inputs")
    if select not in ("last", "best"):
        raise ValueError(f"select: expected 'last' or 'best', got {select!r}")
    rows = []
    for i, path in enumerate(paths):
        path = Path(path)
        label = labels[i] if labels is not None else None
        if not path.is_dir():
            rows += _rows_of(path, label, None, "given")
        elif select == "last":
            rows += _rows_of(latest_metrics(path), label, None, "last")
        else:
            tags = json.loads(latest_metrics(path).read_text())["datasets"]
            for tag in tags:
                rows += _rows_of(best_metrics(path, tag, metric), label, [tag], f"best {metric} on the evaluation split")
    order = {name: i for i, name in enumerate(SUPERVISION_ORDER)}
    return sorted(rows, key=lambda r: (r.dataset, order.get(r.supervision, len(order)), r.method))


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _format(value: Optional[float], decimals: int) -> str:
    return "-" if value is None else f"{value:.{decimals}f}"


def _columns(unaligned: bool) -> tuple[tuple[str, str, int], ...]:
    return COLUMNS + UNALIGNED_COLUMNS if unaligned else COLUMNS


def markdown_table(rows: Sequence[ResultRow], unaligned: bool = False) -> str:
    """A Markdown table: dataset | supervision | method | epoch | selected | the metric columns
    (and, with ``unaligned``, MPJPE, MPVPE and the root they used)."""
    columns = _columns(unaligned)
    header = ["dataset", "supervision", "method", "epoch", "selected"] + [title for _, title, _ in columns]
    header += ["unaligned root"] if unaligned else []
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 5 + ["---:"] * len(columns) + ["---"] * unaligned) + "|"]
    for row in rows:
        cells = [row.dataset, row.supervision, row.method, str(row.epoch), row.selected]
        cells += [_format(row.values[key], decimals) for key, _, decimals in columns]
        cells += [row.unaligned_root or "-"] if unaligned else []
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def csv_table(rows: Sequence[ResultRow]) -> str:
    """The same table as CSV, full precision, empty cells for missing metrics, the unaligned
    columns and their root, plus the source file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = _columns(True)
    writer.writerow(["dataset", "supervision", "method", "epoch", "selected"] + [key for key, _, _ in columns] + ["unaligned_root", "source"])
    for row in rows:
        values = ["" if row.values[key] is None else repr(row.values[key]) for key, _, _ in columns]
        writer.writerow([row.dataset, row.supervision, row.method, row.epoch, row.selected] + values + [row.unaligned_root or "", row.source])
    return buffer.getvalue()
