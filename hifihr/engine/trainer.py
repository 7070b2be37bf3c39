"""The training loop: a plain PyTorch loop over global epochs, alone or under ``torchrun``.

``Trainer(cfg).fit()`` trains global epochs ``train.start_epoch .. train.epochs`` (the counter
continues across stages, so loss-weight and learning-rate schedules read the same epoch
numbers as the config). Per epoch: the learning rate is set from ``optim`` (``lr_at(epoch)``,
an explicit function of the global epoch), the sampler and the datasets' augmentation take the
epoch's seed, every batch takes one optimiser step, then the network is evaluated every
``train.eval_interval`` epochs (and after the last) and ``checkpoints/last.pt`` is written
(plus ``epoch_NNNN.pt`` every ``train.save_interval`` epochs).

One step: forward (under ``train.amp`` autocast), the :class:`~hifihr.losses.Objective` at the
epoch, a check that every term is finite (agreed over the ranks), backward (fp16: through a
GradScaler), the gradient norm (clipped to ``optim.grad_clip`` when set), the optimiser step. A
step whose loss or gradient is NaN/inf is skipped, logged and counted; more than
``train.max_nonfinite_steps`` in a row stop the run with
:class:`~hifihr.engine.nonfinite.NonFiniteLossError`, leaving the last good checkpoint as it was.

The pieces: :mod:`~hifihr.engine.run_folder` (the run's files), :mod:`~hifihr.engine.optim`
(optimiser, learning-rate schedule), :mod:`~hifihr.engine.state` (:class:`RunState`, what a
checkpoint restores besides the network, optimiser and random generators),
:mod:`~hifihr.engine.nonfinite` (the guard); this module wires them into the loop.

Starting points:

* fresh: the network from ``experiment.seed``;
* staged (``init.checkpoint``): ``init.load`` picks what to take from another run's checkpoint:
  ``model`` (missing heads keep their fresh initialisation, e.g. the texture and light heads
  after the RHD pretraining), ``optimizer`` (refused with a clear error when the trained
  parameters differ, never dropped silently), ``scheduler`` (continue that run's global epoch
  and step counters instead of ``train.start_epoch``; the learning rates always come from this
  config). ``init.texture_checkpoint`` then replaces ``texture_head`` and ``light_head`` with
  those of a second checkpoint (geometry from one run, texture and light from another: the
  texture-only stage). ``init.freeze`` leaves module groups untrained: their parameters get no
  gradient and are not in the optimiser; with ``init.freeze_norm = "batch"`` their BatchNorm
  layers stay in training mode with momentum 0, normalising with the batch statistics while
  their running statistics stay as loaded; with ``"running"`` they are in eval mode (running
  statistics used). E.g. the texture-only refinement freezes
  all but ``texture_head`` and ``light_head``;
* ``resume=True``: this run's ``last.pt``: network, optimiser, GradScaler, random-generator
  states and the :class:`RunState` (epoch, position inside the epoch: the global batches
  already trained are skipped without being loaded; step, non-finite counters, log sums, best
  evaluation); on the CPU a resumed run reproduces the uninterrupted one bit for bit (same
  software, same number of threads).

Best epoch: after each evaluation, ``eval.best_metric`` of the first validation dataset is
compared with the best so far; the best (metric, dataset, value, epoch; selected on the
evaluation split; see docs/deviations.md) is logged, kept in the checkpoint (so it survives
``--resume``), written with the latest evaluation to ``best.json`` in the run folder, and its
checkpoint kept as ``checkpoints/best.pt``.

SIGINT/SIGTERM (Ctrl-C, a scheduler's preemption) stop the run at the next step boundary on every
rank, write ``last.pt`` with the position inside the epoch and raise
:class:`TrainingInterrupted`; a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import threading
import time
from typing import Any, Iterator, Optional

import torch
from rich.console import Console
from torch import nn

from hifihr.config import BEST_METRICS, Config, config_to_dict, save_config
from hifihr.data import set_epoch
from hifihr.engine.checkpoint import (
    CHECKPOINT_FORMAT,
    capture_rng_state,
    group_weights,
    keep_copy,
    load_checkpoint,
    load_model_weights,
    load_optimizer_state,
    restore_rng_state,
    save_checkpoint,
)
from hifihr.engine.distributed import (
    DistContext,
    all_reduce,
    any_rank,
    average_batchnorm_stats,
    barrier,
    init_distributed,
    unwrap,
    wrap_model,
)
from hifihr.engine.evaluation import Evaluator, summary_line, texture_map
from hifihr.engine.logging import RunLogger, write_json
from hifihr.engine.nonfinite import NonFiniteGuard, nonfinite_terms
from hifihr.engine.optim import build_optimizer, set_epoch_lr
from hifihr.engine.run_folder import RunFolder, changed_config_keys, prepare_run_folder
from hifihr.engine.setup import batch_root_index, build_datasets, build_network, run_dir, sharded_loader, to_device
from hifihr.engine.state import BestEpoch, LogWindow, RunState, StepResult
from hifihr.losses import LossOutput, Objective, Prediction
from hifihr.viz import PANEL_TITLES, make_grid, sample_panels

#: Autocast dtype of each ``train.amp`` setting (None: full precision).
AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}
#: Training samples drawn in the TensorBoard image of ``train.image_log_interval``.
IMAGE_LOG_SAMPLES = 4


class TrainingInterrupted(RuntimeError):
    """The run was stopped by a signal; ``last.pt`` holds the position to resume from."""


class Trainer:
    """Trains the network of a config (see the module docstring).

    Args:
        cfg: the resolved config.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (see
            :func:`~hifihr.engine.distributed.select_device`); under ``torchrun`` each process
            takes CUDA device ``LOCAL_RANK``.
        resume: continue this run from its ``checkpoints/last.pt``.
        overwrite: start afresh in a run folder that already holds a run (its checkpoints,
            TensorBoard events, metrics and evaluations are deleted).
        console: the rich console for logs and progress (default: stderr).
        tensorboard: write TensorBoard events.

    Attributes:
        folder: the run's files; state: where the run stands (:class:`RunState`).

    Raises:
        FileExistsError: a fresh run (no ``resume``/``overwrite``) in a folder with a checkpoint.
        CheckpointError: nothing to resume, or a checkpoint that does not fit.
        ValueError: a frozen group the network does not have; a bad batch size for the ranks.
    """

    def __init__(
        self,
        cfg: Config,
        *,
        device: str = "auto",
        resume: bool = False,
        overwrite: bool = False,
        console: Optional[Console] = None,
        tensorboard: bool = True,
    ) -> None:
        self.cfg = cfg
        self.ctx: DistContext = init_distributed(device)
        self.folder = RunFolder(run_dir(cfg))
        resumed = prepare_run_folder(self.folder, self.ctx, resume=resume, overwrite=overwrite)

        self.model = build_network(cfg)
        freeze_groups(self.model, cfg.init.freeze, cfg.init.freeze_norm)
        self.model = wrap_model(self.model, self.ctx)
        self.objective = Objective(cfg.loss.resolved_weights(), base=cfg.loss.base).to(self.ctx.device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(self.params, cfg.optim)
        self.amp_dtype = AMP_DTYPES[cfg.train.amp]
        self.scaler = torch.amp.GradScaler(self.ctx.device.type, enabled=cfg.train.amp == "fp16")
        self._build_training_data()

        notes: list[str] = []
        if resumed is not None:
            self.state = self._resume(resumed, notes)
        elif cfg.init.checkpoint is not None:
            self.state = self._initialise_from(cfg.init.checkpoint, cfg.init.load, notes)
        else:
            self.state = RunState(epoch=cfg.train.start_epoch)
        self._stop_requested = False
        self._last_log_time = time.perf_counter()

        self.logger = RunLogger(
            self.folder.root,
            enabled=self.ctx.is_main,
            purge_step=self.state.step if resumed is not None else None,
            console=console,
            tensorboard=tensorboard,
        )
        self.guard = NonFiniteGuard(self.model, self.ctx, cfg.train.max_nonfinite_steps, self.logger.warn)
        self.evaluator = Evaluator(cfg, self.ctx, self.logger) if cfg.data.val else None
        if self.ctx.is_main:
            save_config(cfg, self.folder.config)
        self.logger.info(
            f"run {self.folder.root} on {self.ctx.device} x{self.ctx.world_size}: "
            f"{sum(p.numel() for p in self.params):,} trained parameters, {self.batches_per_epoch} batches of "
            f"{cfg.data.batch_size} per epoch, loss terms {', '.join(self.objective.terms)}"
        )
        for note in notes:
            self.logger.info(note)

    # ------------------------------------------------------------------ setup
    def _build_training_data(self) -> None:
        """``train_sets``, their sharded ``loader`` and ``batches_per_epoch``."""
        cfg = self.cfg
        self.train_sets = build_datasets(cfg.data.train, cfg, evaluation=False)
        if not self.train_sets:
            raise ValueError("data.train is empty: nothing to train on")
        for named in self.train_sets:
            self.objective.check_fields(named.dataset[0].keys())
        self.loader = sharded_loader(
            [named.dataset for named in self.train_sets],
            cfg.data.batch_size,
            self.ctx,
            shuffle=True,
            num_workers=cfg.data.num_workers,
            mix=cfg.data.mix,
            seed=cfg.experiment.seed,
        )
        self.batches_per_epoch = len(self.loader.batch_sampler.inner)
        if self.batches_per_epoch == 0:
            raise ValueError(
                f"data.batch_size ({cfg.data.batch_size}) is larger than every training dataset "
                f"({[len(n.dataset) for n in self.train_sets]} samples); no full batch to train on"
            )

    def _resume(self, checkpoint: dict[str, Any], notes: list[str]) -> RunState:
        """Load this run's ``last.pt`` into the network, optimiser, GradScaler and random
        generators; return its run state."""
        changed = changed_config_keys(checkpoint["config"], config_to_dict(self.cfg))
        if changed:
            notes.append(f"resuming with a config that differs from the checkpoint's in: {', '.join(changed)}")
        load_model_weights(unwrap(self.model), checkpoint["model"], strict=True)
        load_optimizer_state(self.optimizer, checkpoint["optimizer"])
        if checkpoint["scaler"] is not None:
            self.scaler.load_state_dict(checkpoint["scaler"])
        restore_rng_state(checkpoint["rng"], self.ctx.device)
        if checkpoint["world_size"] != self.ctx.world_size:
            notes.append(
                f"resuming a run trained on {checkpoint['world_size']} process(es) on {self.ctx.world_size}: the global "
                "batches are the same, per-rank BatchNorm statistics are not"
            )
        state = RunState.resumed(checkpoint)
        notes.append(f"resumed from {self.folder.last}: epoch {state.epoch}, batch {state.batches_done}, step {state.step}")
        return state

    def _initialise_from(self, path: str, load: tuple[str, ...], notes: list[str]) -> RunState:
        """Take ``init.load`` from another run's checkpoint (and the texture and light heads from
        ``init.texture_checkpoint``); return the run state to start from."""
        checkpoint = load_checkpoint(path)
        if "model" in load:
            report = load_model_weights(unwrap(self.model), checkpoint["model"], strict=False)
            notes.append(f"init from {path}: {report.summary()}")
        texture_path = self.cfg.init.texture_checkpoint
        if texture_path is not None:
            heads = ("texture_head", "light_head")
            weights = group_weights(load_checkpoint(texture_path)["model"], heads, texture_path)
            report = load_model_weights(unwrap(self.model), weights, strict=False)
            notes.append(f"init from {texture_path}: {', '.join(heads)} ({report.loaded} tensors) replace those of {path}")
        if "optimizer" in load:
            load_optimizer_state(self.optimizer, checkpoint["optimizer"])
            notes.append(f"init from {path}: optimiser state loaded (learning rates from this config)")
        state = RunState(epoch=self.cfg.train.start_epoch)
        if "scheduler" in load:
            state = RunState.continued(checkpoint)
            notes.append(f"init from {path}: continuing at global epoch {state.epoch}, step {state.step}")
        if state.epoch > self.cfg.train.epochs:
            raise ValueError(f"init.checkpoint {path} ends at epoch {state.epoch - 1}, train.epochs is {self.cfg.train.epochs}")
        return state

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The checkpoint of the current position (see :mod:`hifihr.engine.checkpoint`)."""
        return {
            "format": CHECKPOINT_FORMAT,
            **self.state.state_dict(),
            "batches_per_epoch": self.batches_per_epoch,
            "model": unwrap(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "lr": [group["lr"] for group in self.optimizer.param_groups],
            "rng": capture_rng_state(self.ctx.device),
            "config": config_to_dict(self.cfg),
            "world_size": self.ctx.world_size,
        }

    def save(self, keep_epoch: bool = False, keep_best: bool = False) -> None:
        """Write ``last.pt`` (rank 0, after averaging BatchNorm statistics over the ranks), and
        keep it as ``epoch_NNNN.pt`` when ``keep_epoch`` and as ``best.pt`` when ``keep_best``."""
        average_batchnorm_stats(self.model, self.ctx)
        if self.ctx.is_main:
            save_checkpoint(self.state_dict(), self.folder.last)
            if keep_epoch:
                keep_copy(self.folder.last, self.folder.epoch_checkpoint(self.state.epoch))
            if keep_best:
                keep_copy(self.folder.last, self.folder.best)
        barrier(self.ctx)

    # ------------------------------------------------------------------ one step
    def set_train_mode(self) -> None:
        """Training mode; frozen groups too with ``init.freeze_norm = "batch"`` (their BatchNorm
        has momentum 0), in eval mode with ``"running"``."""
        self.model.train()
        if self.cfg.init.freeze_norm == "running":
            for group in self.cfg.init.freeze:
                getattr(unwrap(self.model), group).eval()

    def forward(self, batch: dict[str, Any], epoch: int) -> tuple[Prediction, LossOutput]:
        """The network and the objective on a batch already on the device."""
        autocast = (
            torch.autocast(self.ctx.device.type, dtype=self.amp_dtype)
            if self.amp_dtype is not None
            else contextlib.nullcontext()
        )
        with autocast:
            pred = self.model(
                batch["image"], batch["K"], batch.get("root"), batch_root_index(batch), render=self.objective.needs_render_at(epoch)
            )
        return pred, self.objective(pred, batch, epoch)

    def train_step(self, batch: dict[str, Any], epoch: int) -> tuple[StepResult, Prediction]:
        """One optimiser step on this rank's share of a global batch (already on the device).

        The gradients stay in the parameters' ``.grad`` until the next step.
        """
        self.optimizer.zero_grad(set_to_none=True)
        saved_norms = self.guard.snapshot()
        pred, out = self.forward(batch, epoch)
        loss, terms, weighted = loss_values(out)
        finite = math.isfinite(loss) and all(math.isfinite(v) for v in terms.values())
        nonfinite, self._stop_requested = any_rank(self.ctx, not finite, self._stop_requested)
        if nonfinite:
            self.guard.undo_forward(saved_norms, pred, self.optimizer)
            return StepResult(loss, terms, weighted, None, True, nonfinite_terms(terms)), pred
        grad_norm = self._backward(out.total)
        if not math.isfinite(grad_norm) and not self.scaler.is_enabled():
            self.guard.undo(saved_norms)
            return StepResult(loss, terms, weighted, grad_norm, True, ("gradient",)), pred
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return StepResult(loss, terms, weighted, grad_norm, False), pred

    def _backward(self, total: torch.Tensor) -> float:
        """Backward through the GradScaler, then the unscaled gradients' global norm (before
        clipping them to ``optim.grad_clip`` when set)."""
        self.scaler.scale(total).backward()
        self.scaler.unscale_(self.optimizer)
        if self.cfg.optim.grad_clip is not None:
            return float(torch.nn.utils.clip_grad_norm_(self.params, self.cfg.optim.grad_clip))
        return float(torch.nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None]))

    # ------------------------------------------------------------------ epochs
    def _epoch_batches(self, epoch: int, skip: int) -> Iterator[dict[str, Any]]:
        set_epoch(self.loader, epoch)
        self.loader.batch_sampler.set_epoch(epoch, skip_batches=skip)
        for batch in self.loader:
            yield to_device(batch, self.ctx.device)

    def _log(self, epoch: int, lr: float) -> None:
        window = self.state.window
        keys = sorted(window.sums)
        totals = torch.tensor(
            [window.sums[k] for k in keys] + [window.count, window.skipped, window.grad_norm_sum, window.grad_norm_count],
            dtype=torch.float64,
            device=self.ctx.device,
        )
        all_reduce(totals, self.ctx, "sum")
        sums = dict(zip(keys, totals[: len(keys)].tolist()))
        count, skipped, norm_sum, norm_count = totals[len(keys) :].tolist()
        world = self.ctx.world_size
        means = {k: v / max(count, 1.0) for k, v in sums.items()}
        now = time.perf_counter()
        steps = (count + skipped) / world
        images_per_s = steps * self.cfg.data.batch_size / max(now - self._last_log_time, 1e-9)
        self._last_log_time = now
        self.logger.log_train(
            epoch=epoch,
            step=self.state.step,
            lr=lr,
            images_per_s=images_per_s,
            loss=means.pop("loss", float("nan")),
            terms={k: v for k, v in means.items() if not k.startswith("weighted/")},
            weighted={k.split("/", 1)[1]: v for k, v in means.items() if k.startswith("weighted/")},
            grad_norm=norm_sum / norm_count if norm_count else None,
            skipped=int(skipped / world),
        )
        self.state.window = LogWindow()

    def _log_images(self, batch: dict[str, Any], pred: Prediction) -> None:
        count = min(IMAGE_LOG_SAMPLES, batch["image"].shape[0])
        params = pred.texture_params[:count].detach() if pred.texture_params is not None else None
        with torch.no_grad():
            maps = texture_map(self.model, params, count)
        rows = [
            sample_panels(
                batch["image"][i],
                pred.joints2d[i].detach(),
                batch["joints2d"][i] if "joints2d" in batch else None,
                pred.render.rgb[i].detach() if pred.render is not None else None,
                pred.render.alpha[i] if pred.render is not None else None,
                maps[i] if maps is not None else None,
            )
            for i in range(count)
        ]
        self.logger.log_image("train/samples", make_grid(rows, PANEL_TITLES), self.state.step)

    def train_epoch(self, epoch: int, progress) -> None:
        """Train the rest of ``epoch`` (from ``state.batches_done``), logging and checkpointing mid-epoch."""
        train, state = self.cfg.train, self.state
        lr = set_epoch_lr(self.optimizer, self.cfg.optim, epoch)
        self.set_train_mode()
        task = progress.add_task(f"epoch {epoch}/{train.epochs}", total=self.batches_per_epoch, completed=state.batches_done, status="")
        self._last_log_time = time.perf_counter()
        tick = time.perf_counter()
        for batch in self._epoch_batches(epoch, state.batches_done):
            result, pred = self.train_step(batch, epoch)
            state.record(result)
            self.guard.check(state, result, self.folder.last)
            if state.step % train.log_interval == 0:
                self._log(epoch, lr)
            if self.ctx.is_main and state.step % train.image_log_interval == 0:
                self._log_images(batch, pred)
            now = time.perf_counter()
            terms = " ".join(f"{name} {value:.3g}" for name, value in result.weighted.items())
            rate = self.cfg.data.batch_size / max(now - tick, 1e-9)
            progress.update(task, advance=1, status=f"loss {result.loss:.4e} ({terms}) {rate:.1f} img/s")
            tick = now
            if self._stop_requested:
                self.save()
                raise TrainingInterrupted(
                    f"interrupted at epoch {epoch}, batch {state.batches_done}/{self.batches_per_epoch} (step "
                    f"{state.step}); {self.folder.last} written: continue with --resume"
                )
            mid_epoch = state.batches_done < self.batches_per_epoch
            if mid_epoch and train.checkpoint_interval and state.step % train.checkpoint_interval == 0:
                self.save()
        progress.remove_task(task)

    def _on_signal(self, signum, frame) -> None:
        if self._stop_requested:
            raise KeyboardInterrupt
        self._stop_requested = True
        self.logger.warn(f"{signal.Signals(signum).name}: stopping after this step (again to stop at once)")

    def evaluate(self, epoch: int) -> dict[str, dict[str, Any]]:
        """Evaluate on ``data.val`` into ``eval/<epoch>/``; log the numbers; back to training mode."""
        results = self.evaluator.evaluate(self.model, epoch, self.state.step, self.folder.eval_dir(epoch))
        self.logger.log_eval(epoch=epoch, step=self.state.step, datasets=results)
        for tag, metrics in results.items():
            self.logger.info(f"eval epoch {epoch}: {summary_line(tag, metrics)}")
        self.set_train_mode()
        return results

    def update_best(self, epoch: int, results: dict[str, dict[str, Any]]) -> bool:
        """Compare ``eval.best_metric`` of the first validation dataset at ``epoch`` with the
        best so far; log it and write ``best.json`` (rank 0). Returns True when ``epoch`` is
        the new best (a tie keeps the earlier epoch)."""
        if not self.ctx.is_main or not results:
            return False
        metric = self.cfg.eval.best_metric
        tag = next(iter(results))
        value = results[tag].get(metric)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            self.logger.warn(f"eval epoch {epoch}: {tag} has no {metric}; the best epoch is not updated (eval.best_metric)")
            return False
        best = self.state.best
        improved = best is None or best.beaten_by(value, BEST_METRICS[metric])
        if improved:
            best = self.state.best = BestEpoch(metric=metric, dataset=tag, value=float(value), epoch=epoch)
        self.logger.info(
            f"best {metric} on {tag} (selected on the evaluation split): {best.value:.4g} at epoch "
            f"{best.epoch}; epoch {epoch}: {value:.4g}"
        )
        record = {**dataclasses.asdict(best), "selected_on": "evaluation split", "last": {"epoch": epoch, "value": float(value)}}
        write_json(self.folder.best_record, record)
        return improved

    def fit(self) -> dict[str, dict[str, Any]]:
        """Train to ``train.epochs``; return the last evaluation's metrics (rank 0; {} elsewhere).

        Raises:
            NonFiniteLossError: too many consecutive non-finite steps.
            TrainingInterrupted: SIGINT/SIGTERM; ``last.pt`` is written first.
        """
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                handlers[sig] = signal.signal(sig, self._on_signal)
        results: dict[str, dict[str, Any]] = {}
        train = self.cfg.train
        try:
            with self.logger.progress() as progress:
                while self.state.epoch <= train.epochs:
                    epoch = self.state.epoch
                    self.train_epoch(epoch, progress)
                    if self.state.window.count or self.state.window.skipped:
                        self._log(epoch, self.cfg.optim.lr_at(epoch))
                    last = epoch == train.epochs
                    improved = False
                    if self.evaluator is not None and (epoch % train.eval_interval == 0 or last):
                        average_batchnorm_stats(self.model, self.ctx)
                        results = self.evaluate(epoch)
                        improved = self.update_best(epoch, results)
                    self.save(keep_epoch=epoch % train.save_interval == 0 or last, keep_best=improved)
                    self.state.epoch, self.state.batches_done = epoch + 1, 0
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            self.logger.close()
        return results


def loss_values(out: LossOutput) -> tuple[float, dict[str, float], dict[str, float]]:
    """The objective's total, unweighted terms and weighted terms as host floats (float64)."""
    names = list(out.unweighted)
    values = torch.stack([out.total.detach().double()] + [out.unweighted[n].detach().double() for n in names]).cpu()
    weights = torch.tensor([out.weights[n] for n in names], dtype=torch.float64)
    return float(values[0]), dict(zip(names, values[1:].tolist())), dict(zip(names, (values[1:] * weights).tolist()))


def freeze_groups(model: nn.Module, groups: tuple[str, ...], norm: str) -> None:
    """Leave the module groups ``groups`` of the (unwrapped) network untrained: no gradient for
    their parameters; with ``norm = "batch"`` their BatchNorm layers get momentum 0 (batch
    statistics normalise in training mode, the running ones stay as they are). (``"running"``:
    :meth:`Trainer.set_train_mode` puts them in eval mode instead.)

    Raises:
        ValueError: a group the network does not have.
    """
    for group in groups:
        module = getattr(model, group, None)
        if not isinstance(module, nn.Module):
            raise ValueError(
                f"init.freeze: the network has no {group!r} (texture_head needs model.texture, light_head "
                "model.light != 'none', camera_head model.root = 'predicted')"
            )
        module.requires_grad_(False)
        if norm == "batch":
            for layer in module.modules():
                if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                    layer.momentum = 0.0
