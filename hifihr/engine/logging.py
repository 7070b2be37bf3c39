"""What a run reports: console lines and a progress bar (rich), TensorBoard, ``metrics.jsonl``.

Only rank 0 reports; on other ranks a :class:`RunLogger` is built with ``enabled=False`` and
does nothing.

``outputs/<run>/metrics.jsonl`` holds one JSON object per line:

* ``{"kind": "train", "epoch", "step", "lr", "images_per_s", "loss", "terms": {name: value},
  "weighted": {name: value}, "skipped": n}`` every ``train.log_interval`` steps: the means over
  the steps since the previous line (``terms`` unweighted, ``weighted`` times their weights);
* ``{"kind": "eval", "epoch", "step", "datasets": {tag: {metric: value}}}`` after each
  evaluation (the same numbers as ``eval/<epoch>/metrics.json``).

TensorBoard (``outputs/<run>/tb``): ``train/loss``, ``train/<term>`` (unweighted),
``train/weighted/<term>``, ``train/lr``, ``train/images_per_s``, ``train/grad_norm``,
``train/skipped_steps``; ``eval/<tag>/<metric>``; images ``train/samples`` (input | render |
overlay | keypoints | texture map per row) and ``eval/<tag>/samples``.

On resume, lines and events after the checkpoint's step are dropped (TensorBoard's
``purge_step``), so a resumed run's records read as if it had never stopped.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from hifihr.files import write_atomic


def _json_value(value: Any) -> Any:
    """Floats that JSON can hold (NaN and infinities become None); other values as they are."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


def write_json(path: str | Path, value: Any) -> None:
    """Write ``value`` as indented JSON (non-finite floats as null), atomically."""
    write_atomic(path, json.dumps(_json_value(value), indent=2) + "\n")


def format_terms(values: Mapping[str, float], digits: int = 4) -> str:
    """``name=value`` pairs in scientific notation, for console lines."""
    return " ".join(f"{name}={value:.{digits - 1}e}" for name, value in values.items())


class RunLogger:
    """Console, progress bar, TensorBoard and ``metrics.jsonl`` of one run.

    Args:
        run_dir: ``outputs/<run>``; None for no files (console only).
        enabled: False on ranks other than 0: every method does nothing.
        purge_step: on resume, the checkpoint's step: records after it are dropped.
        console: the rich console (default: a new one on stderr).
        tensorboard: write TensorBoard events.
    """

    def __init__(
        self,
        run_dir: Optional[str | Path],
        enabled: bool = True,
        purge_step: Optional[int] = None,
        console: Optional[Console] = None,
        tensorboard: bool = True,
    ) -> None:
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.writer = None
        self.jsonl: Optional[Path] = None
        if not enabled or self.run_dir is None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.jsonl = self.run_dir / "metrics.jsonl"
        if purge_step is not None:
            self._purge_jsonl(purge_step)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir / "tb"), purge_step=purge_step)

    def _purge_jsonl(self, step: int) -> None:
        if not self.jsonl.is_file():
            return
        kept = [line for line in self.jsonl.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        write_atomic(self.jsonl, "".join(line + "\n" for line in kept))

    def _append(self, record: Mapping[str, Any]) -> None:
        if self.jsonl is not None:
            with open(self.jsonl, "a") as handle:
                handle.write(json.dumps(_json_value(record)) + "\n")

    # ------------------------------------------------------------------ console
    def info(self, message: str) -> None:
        """A console line."""
        if self.enabled:
            self.console.log(message)

    def warn(self, message: str) -> None:
        """A console warning (yellow)."""
        if self.enabled:
            self.console.log(f"[yellow]warning:[/yellow] {message}")

    def progress(self) -> Progress:
        """A rich progress bar (disabled on other ranks); use as a context manager and add tasks
        with a ``status`` field, e.g. ``progress.add_task("epoch 3", total=n, status="")``."""
        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=self.console,
            disable=not self.enabled,
        )

    # ------------------------------------------------------------------ records
    def log_train(
        self,
        *,
        epoch: int,
        step: int,
        lr: float,
        images_per_s: float,
        loss: float,
        terms: Mapping[str, float],
        weighted: Mapping[str, float],
        grad_norm: Optional[float],
        skipped: int,
    ) -> None:
        """One training record (means since the previous one): jsonl, TensorBoard, console."""
        if not self.enabled:
            return
        record = {
            "kind": "train",
            "epoch": epoch,
            "step": step,
            "lr": lr,
            "images_per_s": images_per_s,
            "loss": loss,
            "terms": dict(terms),
            "weighted": dict(weighted),
            "grad_norm": grad_norm,
            "skipped": skipped,
        }
        self._append(record)
        if self.writer is not None:
            self.writer.add_scalar("train/loss", loss, step)
            self.writer.add_scalar("train/lr", lr, step)
            self.writer.add_scalar("train/images_per_s", images_per_s, step)
            self.writer.add_scalar("train/skipped_steps", skipped, step)
            if grad_norm is not None:
                self.writer.add_scalar("train/grad_norm", grad_norm, step)
            for name, value in terms.items():
                self.writer.add_scalar(f"train/{name}", value, step)
            for name, value in weighted.items():
                self.writer.add_scalar(f"train/weighted/{name}", value, step)
        self.console.log(
            f"epoch {epoch} step {step} loss={loss:.4e} {format_terms(terms)} lr={lr:.2e} {images_per_s:.1f} img/s"
            + (f" skipped={skipped}" if skipped else "")
        )

    def log_eval(self, *, epoch: int, step: int, datasets: Mapping[str, Mapping[str, Any]]) -> None:
        """One evaluation record: jsonl and TensorBoard (numbers only)."""
        if not self.enabled:
            return
        self._append({"kind": "eval", "epoch": epoch, "step": step, "datasets": datasets})
        if self.writer is not None:
            for tag, metrics in datasets.items():
                for name, value in metrics.items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool) and value is not None:
                        self.writer.add_scalar(f"eval/{tag}/{name}", value, step)

    def log_image(self, tag: str, image: np.ndarray, step: int) -> None:
        """An [H, W, 3] uint8 image to TensorBoard."""
        if self.enabled and self.writer is not None:
            self.writer.add_image(tag, image, step, dataformats="HWC")

    def close(self) -> None:
        """Flush and close TensorBoard."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def read_metrics(path: str | Path, kind: str) -> list[dict[str, Any]]:
    """The records of one ``kind`` (``"train"`` or ``"eval"``) from a run's ``metrics.jsonl``."""
    lines = Path(path).read_text().splitlines()
    return [record for record in map(json.loads, filter(None, lines)) if record["kind"] == kind]
