"""Evaluating a checkpoint, or the network a config starts from (``evaluate.py``), and comparing the
result with a baseline's ``metrics.json`` (``--baseline``, the learning targets of ``make train``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional

from rich.console import Console
from rich.table import Table

from hifihr.config import Config
from hifihr.engine.checkpoint import load_checkpoint, load_model_weights
from hifihr.engine.distributed import barrier, init_distributed, wrap_model
from hifihr.engine.evaluation import Evaluator, summary_line
from hifihr.engine.logging import RunLogger
from hifihr.engine.setup import build_network, run_dir

#: Metrics compared by :func:`comparison_table`: key, label, whether lower is better.
COMPARED = (
    ("pa_mpjpe_mm", "PA-MPJPE (mm)", True),
    ("pa_mpvpe_mm", "PA-MPVPE (mm)", True),
    ("auc_j", "AUC_J", False),
    ("auc_v", "AUC_V", False),
    ("f_at_5mm", "F@5", False),
    ("f_at_15mm", "F@15", False),
    ("mpjpe_mm", "MPJPE, unaligned (mm)", True),
    ("psnr_db", "PSNR (dB)", False),
    ("ssim", "SSIM", False),
    ("lpips", "LPIPS", True),
)


def evaluate_config(
    cfg: Config,
    checkpoint: Optional[str | Path] = None,
    *,
    device: str = "auto",
    out_dir: Optional[str | Path] = None,
    console: Optional[Console] = None,
) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Evaluate the network of ``cfg`` on ``data.val``.

    Args:
        cfg: the run's config.
        checkpoint: a checkpoint of this project (its ``model`` is loaded, strictly); None
            evaluates the network the run starts from: the seeded initialisation, plus
            ``init.checkpoint`` (``init.load`` with ``model``) when the config has one.
        device: see :func:`hifihr.engine.distributed.select_device`.
        out_dir: the evaluation folder; default ``<run>/eval/<epoch>`` with the checkpoint's epoch
            (``train.start_epoch - 1`` for the initial network).
        console: where the console output goes.

    Returns:
        (the evaluation folder, tag -> metrics; {} on ranks other than 0).
    """
    if not cfg.data.val:
        raise ValueError("data.val is empty: nothing to evaluate on")
    ctx = init_distributed(device)
    model = build_network(cfg)
    logger = RunLogger(None, enabled=ctx.is_main, console=console, tensorboard=False)
    if checkpoint is not None:
        state = load_checkpoint(checkpoint)
        load_model_weights(model, state["model"], strict=True)
        epoch, step = state["epoch"], state["step"]
        if state["batches_done"] < state["batches_per_epoch"]:
            logger.warn(f"{checkpoint} was written mid-epoch ({state['batches_done']}/{state['batches_per_epoch']} batches)")
        source = str(checkpoint)
    else:
        epoch, step, source = cfg.train.start_epoch - 1, 0, None
        if cfg.init.checkpoint is not None and "model" in cfg.init.load:
            report = load_model_weights(model, load_checkpoint(cfg.init.checkpoint)["model"], strict=False)
            logger.info(f"initial network from {cfg.init.checkpoint}: {report.summary()}")
            source = cfg.init.checkpoint
    folder = Path(out_dir) if out_dir is not None else run_dir(cfg) / "eval" / str(epoch)
    model = wrap_model(model, ctx)
    evaluator = Evaluator(cfg, ctx, logger)
    results = evaluator.evaluate(model, epoch, step, folder, checkpoint=source)
    for tag, metrics in results.items():
        logger.info(f"epoch {epoch}: {summary_line(tag, metrics)}")
        for note in metrics["notes"]:
            logger.info(f"  note: {note}")
    barrier(ctx)
    return folder, results


def comparison_table(results: dict[str, dict[str, Any]], baseline_path: str | Path) -> Table:
    """A rich table of this evaluation against another ``metrics.json`` (e.g. the untrained
    network's): both values, the ratio and whether the change is an improvement."""
    baseline = json.loads(Path(baseline_path).read_text())["datasets"]
    table = Table(title=f"against {baseline_path}")
    for column in ("dataset", "metric", "baseline", "this", "this / baseline", "better"):
        table.add_column(column)
    for tag, metrics in results.items():
        base = baseline.get(tag, {})
        for key, label, lower_is_better in COMPARED:
            now, before = metrics.get(key), base.get(key)
            if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (now, before)):
                continue
            ratio = f"{now / before:.3f}" if before else "-"
            better = now < before if lower_is_better else now > before
            table.add_row(tag, label, f"{before:.4g}", f"{now:.4g}", ratio, "yes" if better else "no")
    return table


def learning_targets(
    results: dict[str, dict[str, Any]], baseline_path: str | Path, pa_mpjpe_ratio: float, psnr_gain_db: float
) -> list[tuple[str, bool]]:
    """Whether this evaluation meets the learning targets against the baseline's (e.g. the
    untrained network's): PA-MPJPE at most ``pa_mpjpe_ratio`` times the baseline's, and PSNR at
    least ``psnr_gain_db`` dB above it, per dataset present in both.

    Returns:
        (a line stating the value, the target and PASS/FAIL, whether it passed) per check.

    Raises:
        ValueError: a dataset lacks PA-MPJPE or PSNR on either side, or no dataset is shared.
    """
    baseline = json.loads(Path(baseline_path).read_text())["datasets"]
    checks = []
    for tag, metrics in results.items():
        if tag not in baseline:
            continue
        values = {}
        for key in ("pa_mpjpe_mm", "psnr_db"):
            now, before = metrics.get(key), baseline[tag].get(key)
            if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (now, before)):
                raise ValueError(f"{tag}: {key} is missing from this evaluation or from {baseline_path}")
            values[key] = (now, before)
        (pa, pa0), (psnr, psnr0) = values["pa_mpjpe_mm"], values["psnr_db"]
        ok = pa <= pa_mpjpe_ratio * pa0
        checks.append(
            (
                f"{tag}: PA-MPJPE {pa:.2f} mm = {100 * pa / pa0:.0f}% of the baseline's {pa0:.2f} mm "
                f"(target at most {100 * pa_mpjpe_ratio:.0f}%): {'PASS' if ok else 'FAIL'}",
                ok,
            )
        )
        ok = psnr - psnr0 >= psnr_gain_db
        checks.append(
            (
                f"{tag}: PSNR {psnr:.2f} dB = baseline {psnr0:.2f} dB {psnr - psnr0:+.2f} dB "
                f"(target at least {psnr_gain_db:+.1f} dB): {'PASS' if ok else 'FAIL'}",
                ok,
            )
        )
    if not checks:
        raise ValueError(f"no dataset of this evaluation ({', '.join(results)}) is in {baseline_path}")
    return checks
