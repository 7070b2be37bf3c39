"""Evaluation: 3D pose and mesh metrics (official FreiHAND protocol), texture metrics, benchmark
dumps and a figure of the best, median and worst samples.

For every validation dataset (tag ``<name>_<split>``) the network runs in eval mode on
deterministic crops, placed at the ground-truth root (or its predicted root, ``model.root =
"predicted"``), and renders. Then:

* **Pose and mesh** (:func:`hifihr.metrics.evaluate_split`), on splits with 3D labels: the
  camera-frame prediction ``joints3d + root`` against the ground truth; PA-MPJPE/PA-MPVPE
  (mm, cm), AUC over 0-50 mm with 100 thresholds, F@5/F@15 mm, and the unaligned and
  root-aligned errors, plus the toolbox's ``scores.txt`` keys under ``official``. Mesh metrics
  need the ground-truth vertices and predicted vertices of the same topology (MANO, 778).
* **Texture** (:func:`hifihr.metrics.texture_metrics`): the render (clamped to [0, 1], as a
  saved image) against the input crop, inside the ground-truth hand mask where the split has
  masks and the dataset scores there (``HandDataset.texture_in_gt_mask``; not HO-3D), else
  inside the rendered silhouette, with ``eval.texture_protocol``: ``"masked"`` per image, or
  ``"reference"`` per batch as the paper's numbers. LPIPS (AlexNet) when ``eval.lpips`` and its
  weights are in the cache; when they are not, a note says which file is missing and how to
  provide it, and every other metric is still computed.
* **Dumps** in ``eval/<epoch>/<tag>/``: the dataset's benchmark files
  (``HandDataset.write_predictions``: ``pred.json`` in the FreiHAND Codalab format; HO-3D's
  Codalab ``pred.json`` and ``pred.zip``); ``samples.png``, the best, median and worst samples
  by PA-MPJPE (or by PSNR without 3D labels).
* ``eval/<epoch>/metrics.json``: ``{"epoch", "step", "checkpoint", "run": {"name", "supervision",
  "texture", "hand", "backbone"}, "datasets": {tag: metrics}}``.

Unaligned numbers: the camera-frame prediction is placed at the root the network used, the
ground truth's with ``model.root = "gt"`` (the reference's setting). Each split's metrics then
carry the label and note of the dataset's :meth:`~hifihr.data.HandDataset.root_placement`:
``"unaligned_root": "GT root"`` and a note that the unaligned errors, AUCs and F-scores (and
the toolbox keys ``xyz_mean3d``, ``xyz_auc3d``, ``mesh_mean3d``, ``mesh_auc3d``, ``f_score_*``)
and ``pred.json`` are not the network's own absolute placement. With ``model.root =
"predicted"`` they use the camera head's root (``"unaligned_root": "predicted"``); a dataset
without a 3D root (photos) is evaluated only so. The Procrustes- and root-aligned metrics do
not depend on the root.

Under DDP every rank evaluates its share of each batch; rank 0 gathers, computes and writes. The
``"reference"`` texture protocol then averages per-rank shards of batches (its figure depends on
the batch composition by design); evaluate on one process to compare with the paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from hifihr.config import Config
from hifihr.data import HandDataset, collate, set_epoch
from hifihr.engine.distributed import DistContext, all_gather_objects, unwrap
from hifihr.engine.logging import RunLogger, write_json
from hifihr.engine.setup import NamedDataset, batch_root_index, build_datasets, sharded_loader, to_device
from hifihr.metrics import MissingWeightsError, evaluate_split, load_lpips_alex, texture_metrics
from hifihr.viz import PANEL_TITLES, make_grid, sample_panels, save_png


def texture_map(model: nn.Module, texture_params: Optional[torch.Tensor], batch: int) -> Optional[torch.Tensor]:
    """The diffuse maps [B, T, T, 3] of a hand with a UV texture (the mean map without a texture
    head), or None for a hand without one (MANO's vertex colours)."""
    hand = unwrap(model).hand
    if hand.texture_kind != "uv":
        return None
    if texture_params is None:
        texture_params = torch.zeros(batch, hand.num_texture, device=unwrap(model).background.device)
    return hand.diffuse_map(texture_params)


@dataclass
class _Collected:
    """Per-sample results of one rank (CPU), gathered on rank 0."""

    index: list[int] = field(default_factory=list)
    joints: list[np.ndarray] = field(default_factory=list)  # [21, 3] camera frame, metres
    verts: list[np.ndarray] = field(default_factory=list)  # [V, 3] camera frame, metres
    gt_joints: list[np.ndarray] = field(default_factory=list)
    gt_verts: list[np.ndarray] = field(default_factory=list)
    texture: dict[str, list[float]] = field(default_factory=dict)  # metric -> per averaging unit
    texture_index: list[int] = field(default_factory=list)  # sample of each per-image value
    root_index: set[int] = field(default_factory=set)
    gt_mask: set[bool] = field(default_factory=set)  # texture metrics inside the GT mask (else silhouette)


def _merge(parts: list[_Collected]) -> _Collected:
    out = _Collected()
    for part in parts:
        out.index += part.index
        out.joints += part.joints
        out.verts += part.verts
        out.gt_joints += part.gt_joints
        out.gt_verts += part.gt_verts
        out.texture_index += part.texture_index
        out.root_index |= part.root_index
        out.gt_mask |= part.gt_mask
        for name, values in part.texture.items():
            out.texture.setdefault(name, []).extend(values)
    return out


class Evaluator:
    """Evaluates a network on the config's validation datasets (see the module docstring).

    Args:
        cfg: the run's config (``data.val``, ``data.val_batch_size``, ``data.num_workers``,
            ``eval``, ``render.image_size``).
        ctx: this process.
        logger: where notes go (rank 0's console); None for a quiet evaluator.
        lpips_model: an LPIPS network to use; None builds LPIPS-alex from the cache when
            ``eval.lpips`` is set.
    """

    def __init__(
        self,
        cfg: Config,
        ctx: DistContext,
        logger: Optional[RunLogger] = None,
        lpips_model: Optional[nn.Module] = None,
    ) -> None:
        self.cfg = cfg
        self.ctx = ctx
        self.logger = logger
        self.datasets: list[NamedDataset] = build_datasets(cfg.data.val, cfg, evaluation=True)
        # Asked now, so that a dataset without a root fails before any sample is run.
        self.placements = {named.tag: named.dataset.root_placement(cfg.model.root == "predicted") for named in self.datasets}
        self.loaders = [
            sharded_loader(
                [named.dataset],
                cfg.data.val_batch_size,
                ctx,
                shuffle=False,
                num_workers=cfg.data.num_workers,
                mix="batch",
                seed=cfg.experiment.seed,
            )
            for named in self.datasets
        ]
        self.notes: list[str] = []
        self.lpips = lpips_model
        if self.lpips is None and cfg.eval.lpips:
            try:
                self.lpips = load_lpips_alex()
            except MissingWeightsError as err:
                self.notes.append(f"LPIPS not computed: {err}")
                if logger is not None:
                    logger.warn(f"LPIPS not computed (the other metrics are): {err}")
        if self.lpips is not None:
            self.lpips = self.lpips.to(ctx.device).eval()

    @torch.no_grad()
    def _collect(self, model: nn.Module, loader, progress, tag: str, dataset: HandDataset) -> _Collected:
        out = _Collected()
        protocol = self.cfg.eval.texture_protocol
        task = progress.add_task(f"eval {tag}", total=len(loader), status="")
        for batch in loader:
            batch = to_device(batch, self.ctx.device)
            root_index = batch_root_index(batch)
            pred = model(batch["image"], batch["K"], batch.get("root"), root_index, render=True)
            root = pred.root if pred.root is not None else batch["root"]
            out.root_index.add(root_index)
            indices = batch["index"].tolist()
            out.index += indices
            out.joints += list((pred.joints3d + root[:, None]).double().cpu().numpy())
            out.verts += list((pred.verts3d + root[:, None]).double().cpu().numpy())
            if "joints3d" in batch:
                out.gt_joints += list(batch["joints3d"].double().cpu().numpy())
            if "verts3d" in batch:
                out.gt_verts += list(batch["verts3d"].double().cpu().numpy())
            if pred.render is not None:
                gt_mask = "mask" in batch and dataset.texture_in_gt_mask
                out.gt_mask.add(gt_mask)
                mask = batch["mask"] if gt_mask else (pred.render.alpha > 0).float()
                render = pred.render.rgb.float().clamp(0.0, 1.0)  # what a saved image shows
                values = texture_metrics(render, batch["image"], mask.float(), protocol, self.lpips)
                for name in ("psnr_db", "ssim", "l1", "l2", "lpips"):
                    tensor = getattr(values, name)
                    if tensor is not None:
                        out.texture.setdefault(name, []).extend(tensor.float().cpu().tolist())
                if protocol == "masked":
                    out.texture_index += indices
            progress.advance(task)
        return out

    def _figure(self, model: nn.Module, named: NamedDataset, order: list[int], labels: list[str], path: Path) -> None:
        """Render the samples ``order`` (dataset indices) as rows of panels, saved to ``path``."""
        batch = to_device(collate([named.dataset[i] for i in order]), self.ctx.device)
        with torch.no_grad():
            pred = unwrap(model)(batch["image"], batch["K"], batch.get("root"), batch_root_index(batch), render=True)
            maps = texture_map(model, pred.texture_params, len(order))
        rows = [
            sample_panels(
                batch["image"][i],
                pred.joints2d[i],
                batch["joints2d"][i] if "joints2d" in batch else None,
                pred.render.rgb[i] if pred.render is not None else None,
                pred.render.alpha[i] if pred.render is not None else None,
                maps[i] if maps is not None else None,
            )
            for i in range(len(order))
        ]
        save_png(path, make_grid(rows, PANEL_TITLES, labels))

    def _select(self, scores: np.ndarray, higher_is_better: bool, unit: str, name: str) -> tuple[list[int], list[str]]:
        """Positions of the best, median and worst samples (``eval.figure_samples`` in all) and their labels."""
        count = min(self.cfg.eval.figure_samples, len(scores))
        finite = np.flatnonzero(np.isfinite(scores))
        ranked = finite[np.argsort(-scores[finite] if higher_is_better else scores[finite], kind="stable")]
        count = min(count, len(ranked))
        extremes = count // 3
        middle = count - 2 * extremes
        start = max((len(ranked) - middle) // 2, 0)
        groups = (
            ("best", ranked[:extremes]),
            ("median", ranked[start : start + middle]),
            ("worst", ranked[len(ranked) - extremes :] if extremes else ranked[:0]),
        )
        positions, labels = [], []
        for group, members in groups:
            for rank, position in enumerate(members, 1):
                positions.append(int(position))
                labels.append(f"{group} {rank}: {name} {scores[position]:.2f} {unit}")
        return positions, labels

    def _finish(self, model: nn.Module, named: NamedDataset, data: _Collected, directory: Path) -> dict[str, Any]:
        """Metrics, dumps and figure of one split (rank 0)."""
        order = np.argsort(np.asarray(data.index), kind="stable")
        index = np.asarray(data.index)[order]
        joints = np.stack(data.joints)[order]
        verts = np.stack(data.verts)[order]
        root_index = data.root_index.pop() if len(data.root_index) == 1 else None
        placement = self.placements[named.tag]
        metrics: dict[str, Any] = {"num_samples": int(len(index)), "unaligned_root": placement.label}
        notes: list[str] = list(self.notes)
        if placement.note is not None:
            notes.append(placement.note)
        scores, score_name, higher_better, unit = None, "", False, ""
        if data.gt_joints:
            gt_joints = np.stack(data.gt_joints)[order]
            pred_verts = gt_verts = None
            if not data.gt_verts:
                notes.append("mesh metrics skipped: the split has no ground-truth vertices")
            elif verts.shape[1] != data.gt_verts[0].shape[0]:
                notes.append(
                    f"mesh metrics skipped: the hand model's evaluation vertices ({verts.shape[1]}) are not in the "
                    f"ground truth's topology ({data.gt_verts[0].shape[0]}); give hand.mano_dir for MANO topology"
                )
            else:
                pred_verts, gt_verts = verts, np.stack(data.gt_verts)[order]
            pose = evaluate_split(joints, gt_joints, pred_verts, gt_verts, root_index=root_index if root_index is not None else 9)
            metrics.update(pose.scalars())
            metrics["official"] = pose.official_scores()
            scores, score_name, unit = pose.pa_mpjpe_per_sample_mm, "PA-MPJPE", "mm"
        else:
            notes.append("no 3D ground truth in this split: pose metrics come from the benchmark server (pred.json)")
        if data.texture:
            values = {name: np.asarray(v, dtype=np.float64) for name, v in data.texture.items()}
            finite = np.isfinite(values["psnr_db"])
            for name, array in values.items():
                metrics[name] = float(array[finite].mean()) if finite.any() else None
            metrics["texture_protocol"] = self.cfg.eval.texture_protocol
            metrics["texture_mask"] = " and ".join(
                sorted("ground-truth mask" if gt else "rendered silhouette" for gt in data.gt_mask)
            )
            if not finite.all():
                notes.append(f"texture metrics: {int((~finite).sum())} image(s) or batch(es) with an empty mask left out")
            if scores is None and data.texture_index:
                psnr = np.full(len(index), np.nan)
                position = {int(i): p for p, i in enumerate(index)}
                for i, value in zip(data.texture_index, values["psnr_db"]):
                    psnr[position[int(i)]] = value
                scores, score_name, higher_better, unit = psnr, "PSNR", True, "dB"
        metrics["files"] = named.dataset.write_predictions(directory, joints, verts)
        if self.cfg.eval.figure_samples > 0 and scores is not None:
            positions, labels = self._select(np.asarray(scores, dtype=np.float64), higher_better, unit, score_name)
            if positions:
                self._figure(model, named, [int(index[p]) for p in positions], labels, directory / "samples.png")
                metrics["files"].append("samples.png")
        metrics["notes"] = notes
        return metrics

    def evaluate(
        self,
        model: nn.Module,
        epoch: int,
        step: int,
        out_dir: Path,
        checkpoint: Optional[str] = None,
    ) -> dict[str, dict[str, Any]]:
        """Evaluate ``model`` on every validation dataset.

        Args:
            model: the network (DDP-wrapped or not); it is put in eval mode and left there.
            epoch, step: recorded in the results.
            out_dir: the ``eval/<epoch>`` folder rank 0 writes to.
            checkpoint: recorded in ``metrics.json``.

        Returns:
            tag -> metrics (numbers, lists of notes and file names) on rank 0; an empty dict on
            other ranks.
        """
        model.eval()
        results: dict[str, dict[str, Any]] = {}
        progress = self.logger.progress() if self.logger is not None else RunLogger(None, enabled=False).progress()
        with progress:
            for named, loader in zip(self.datasets, self.loaders):
                set_epoch(loader, 0)
                data = self._collect(model, loader, progress, named.tag, named.dataset)
                parts = all_gather_objects(data, self.ctx)
                if self.ctx.is_main:
                    results[named.tag] = self._finish(model, named, _merge(parts), Path(out_dir) / named.tag)
        if self.ctx.is_main:
            run = {
                "name": self.cfg.experiment.name,
                "supervision": self.cfg.loss.supervision,
                "texture": self.cfg.model.texture,
                "hand": self.cfg.hand.model,
                "backbone": self.cfg.model.backbone,
            }
            record = {"epoch": epoch, "step": step, "checkpoint": checkpoint, "run": run, "datasets": results}
            write_json(out_dir / "metrics.json", record)
        return results


def summary_line(tag: str, metrics: dict[str, Any]) -> str:
    """A one-line digest of a split's metrics for the console."""
    parts = [tag]
    for key, label, fmt in (
        ("pa_mpjpe_mm", "PA-MPJPE", "{:.2f} mm"),
        ("pa_mpvpe_mm", "PA-MPVPE", "{:.2f} mm"),
        ("auc_j", "AUC_J", "{:.3f}"),
        ("f_at_5mm", "F@5", "{:.3f}"),
        ("f_at_15mm", "F@15", "{:.3f}"),
        ("psnr_db", "PSNR", "{:.2f} dB"),
        ("ssim", "SSIM", "{:.3f}"),
        ("lpips", "LPIPS", "{:.3f}"),
    ):
        value = metrics.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            parts.append(f"{label} " + fmt.format(value))
    return " | ".join(parts)
