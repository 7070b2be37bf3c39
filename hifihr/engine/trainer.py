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
step whose loss or gradient is NaN/inf is skipped (no update, BatchNorm statistics restored), logged and counted; more than
``train.max_nonfinite_steps`` in a row stop the run with :class:`NonFiniteLossError`, leaving the
last good checkpoint as it was. (With fp16, overflowing gradients are the GradScaler's business:
it skips that update and lowers its scale; such steps are not counted.)

Starting points:

* fresh: the network from ``experiment.seed``;
* staged (``init.checkpoint``): ``init.load`` picks what to take from another run's checkpoint:
  ``model`` (missing heads keep their fresh initialisation, e.g. the texture and light heads
  after the RHD pretraining), ``optimizer`` (refused with a clear error when the trained
  parameters differ, never dropped silently), ``scheduler`` (continue that run's global epoch
  and step counters instead of ``train.start_epoch``; the learning rates always come from this
  config). ``init.texture_checkpoint`` then replaces ``texture_head`` and ``light_head`` with
  those of a second checkpoint (geometry from one run, texture and light from another, as the
  reference's texture-only stage). ``init.freeze`` leaves module groups untrained: their
  parameters get no gradient and are not in the optimiser; with ``init.freeze_norm = "batch"``
  (the reference) their BatchNorm layers stay in training mode with momentum 0, normalising
  with the batch statistics while their running statistics stay as loaded; with ``"running"``
  they are in eval mode (running statistics used). E.g. the texture-only refinement freezes
  all but ``texture_head`` and ``light_head``;
* ``resume=True``: this run's ``last.pt``: network, optimiser, GradScaler, random-generator
  states, epoch, position inside the epoch (the global batches already trained are skipped
  without being loaded), step and the non-finite counters; on the CPU a resumed run reproduces
  the uninterrupted one bit for bit (same software, same number of threads).

Best epoch: after each evaluation, ``eval.best_metric`` of the first validation dataset is
compared with the best so far; the best (metric, dataset, value, epoch; selected on the
evaluation split, as the reference did) is logged, kept in the checkpoint (so it survives
``--resume``), written with the latest evaluation to ``best.json`` in the run folder, and its
checkpoint kept as ``checkpoints/best.pt``.

SIGINT/SIGTERM (Ctrl-C, a scheduler's preemption) stop the run at the next step boundary on every
rank, write ``last.pt`` with the position inside the epoch and raise
:class:`TrainingInterrupted`; a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import torch
from rich.console import Console
from torch import nn

from hifihr.config import BEST_METRICS, Config, config_to_dict, save_config
from hifihr.data import set_epoch
from hifihr.engine.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
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
    average_batchnorm_stats,
    barrier,
    init_distributed,
    unwrap,
    wrap_model,
)
from hifihr.engine.evaluator import Evaluator, summary_line, texture_map
from hifihr.engine.logging import RunLogger, write_json
from hifihr.engine.setup import batch_root_index, build_datasets, build_network, run_dir, sharded_loader, to_device
from hifihr.losses import LossOutput, Objective, Prediction
from hifihr.viz import PANEL_TITLES, make_grid, sample_panels

#: Autocast dtype of each ``train.amp`` setting (None: full precision).
AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}
#: Training samples drawn in the TensorBoard image of ``train.image_log_interval``.
IMAGE_LOG_SAMPLES = 4


class NonFiniteLossError(RuntimeError):
    """Too many consecutive steps had a NaN or infinite loss or gradient."""


class TrainingInterrupted(RuntimeError):
    """The run was stopped by a signal; ``last.pt`` holds the position to resume from."""


@dataclass(frozen=True)
class StepResult:
    """One training step.

    Attributes:
        loss: the objective on this rank's share of the batch (NaN/inf when skipped).
        terms: unweighted term values; weighted: the same times their weights.
        grad_norm: the global gradient norm before clipping (None when skipped before backward).
        skipped: True when no update was made (non-finite loss or gradient).
        bad_terms: names of the non-finite terms ("gradient" for a non-finite gradient).
    """

    loss: float
    terms: dict[str, float]
    weighted: dict[str, float]
    grad_norm: Optional[float]
    skipped: bool
    bad_terms: tuple[str, ...] = ()


class _LogWindow:
    """Sums of the logged values since the previous log line (restored on resume)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0
        self.skipped = 0
        self.grad_norm_sum = 0.0
        self.grad_norm_count = 0

    def add(self, result: StepResult) -> None:
        if result.skipped:
            self.skipped += 1
        else:
            self.count += 1
            values = {"loss": result.loss, **result.terms, **{f"weighted/{k}": v for k, v in result.weighted.items()}}
            for key, value in values.items():
                self.sums[key] = self.sums.get(key, 0.0) + value
        if result.grad_norm is not None and math.isfinite(result.grad_norm):
            self.grad_norm_sum += result.grad_norm
            self.grad_norm_count += 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "sums": dict(self.sums),
            "count": self.count,
            "skipped": self.skipped,
            "grad_norm_sum": self.grad_norm_sum,
            "grad_norm_count": self.grad_norm_count,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums = dict(state["sums"])
        self.count = state["count"]
        self.skipped = state["skipped"]
        self.grad_norm_sum = state["grad_norm_sum"]
        self.grad_norm_count = state["grad_norm_count"]


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
        self.run_dir = run_dir(cfg)
        self.checkpoint_dir = self.run_dir / "checkpoints"
        self.last_path = self.checkpoint_dir / "last.pt"
        self._notes: list[str] = []
        resume_state = self._prepare_run_dir(resume, overwrite)

        self.model = build_network(cfg)
        self._freeze(cfg.init.freeze)
        self.model = wrap_model(self.model, self.ctx)
        self.objective = Objective(cfg.loss.resolved_weights(), base=cfg.loss.base).to(self.ctx.device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.norm_buffers = [
            buffer
            for module in self.model.modules()
            if isinstance(module, nn.modules.batchnorm._BatchNorm)
            for buffer in module.buffers()
        ]
        self.optimizer = self._build_optimizer()
        self.amp_dtype = AMP_DTYPES[cfg.train.amp]
        self.scaler = torch.amp.GradScaler(self.ctx.device.type, enabled=cfg.train.amp == "fp16")

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

        # Position: the epoch being trained and how many of its global batches are done.
        self.epoch = cfg.train.start_epoch
        self.batches_done = 0
        self.step_count = 0
        self.nonfinite_consecutive = 0
        self.nonfinite_total = 0
        self.window = _LogWindow()
        self.best: Optional[dict[str, Any]] = None
        self._stop_requested = False
        self._last_log_time = time.perf_counter()

        if resume_state is not None:
            self._restore(resume_state)
        elif cfg.init.checkpoint is not None:
            self._initialise_from(cfg.init.checkpoint, cfg.init.load)
        self.logger = RunLogger(
            self.run_dir,
            enabled=self.ctx.is_main,
            purge_step=self.step_count if resume_state is not None else None,
            console=console,
            tensorboard=tensorboard,
        )
        self.evaluator = Evaluator(cfg, self.ctx, self.logger) if cfg.data.val else None
        if self.ctx.is_main:
            save_config(cfg, self.run_dir / "config.json")
        self.logger.info(
            f"run {self.run_dir} on {self.ctx.device} x{self.ctx.world_size}: "
            f"{sum(p.numel() for p in self.params):,} trained parameters, {self.batches_per_epoch} batches of "
            f"{cfg.data.batch_size} per epoch, loss terms {', '.join(self.objective.terms)}"
        )
        for note in self._notes:
            self.logger.info(note)

    # ------------------------------------------------------------------ setup
    def _prepare_run_dir(self, resume: bool, overwrite: bool) -> Optional[dict[str, Any]]:
        if resume:
            if not self.last_path.is_file():
                raise CheckpointError(f"--resume: no checkpoint to resume at {self.last_path}")
            state = load_checkpoint(self.last_path)
            saved, current = state["config"], config_to_dict(self.cfg)
            changed = sorted(
                f"{section}.{key}"
                for section in current
                if isinstance(current[section], dict)
                for key in current[section]
                if saved.get(section, {}).get(key) != current[section][key]
            )
            if changed:
                self._notes.append(f"resuming with a config that differs from the checkpoint's in: {', '.join(changed)}")
            return state
        if self.last_path.exists():
            if not overwrite:
                raise FileExistsError(
                    f"{self.run_dir} already holds a run ({self.last_path}); continue it with --resume, start it "
                    "again with --overwrite, or choose another experiment.name"
                )
        if overwrite and self.ctx.is_main:
            for name in ("checkpoints", "tb", "eval"):
                shutil.rmtree(self.run_dir / name, ignore_errors=True)
            (self.run_dir / "metrics.jsonl").unlink(missing_ok=True)
            (self.run_dir / "best.json").unlink(missing_ok=True)
        barrier(self.ctx)
        return None

    def _freeze(self, groups: tuple[str, ...]) -> None:
        freeze_groups(self.model, groups, self.cfg.init.freeze_norm)

    def _build_optimizer(self) -> torch.optim.Optimizer:
        optim = self.cfg.optim
        if not self.params:
            raise ValueError("init.freeze leaves no parameter to train")
        cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[optim.optimizer]
        # The fused kernels update all parameters in one pass: on a CPU the default per-tensor
        # loop took ~15x longer (1.5 s against 0.1 s a step for ResNet-18 on 2 cores).
        return cls(self.params, lr=optim.lr, betas=tuple(optim.betas), weight_decay=optim.weight_decay, fused=True)

    def _restore(self, state: dict[str, Any]) -> None:
        load_model_weights(unwrap(self.model), state["model"], strict=True)
        load_optimizer_state(self.optimizer, state["optimizer"])
        if state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        restore_rng_state(state["rng"], self.ctx.device)
        if state["world_size"] != self.ctx.world_size:
            self._notes.append(
                f"resuming a run trained on {state['world_size']} process(es) on {self.ctx.world_size}: the global "
                "batches are the same, per-rank BatchNorm statistics are not"
            )
        self.epoch, self.batches_done, self.step_count = state["epoch"], state["batches_done"], state["step"]
        self.nonfinite_consecutive = state["nonfinite"]["consecutive"]
        self.nonfinite_total = state["nonfinite"]["total"]
        self.window.load_state_dict(state["log_window"])
        self.best = state.get("best")  # absent in checkpoints written before best-epoch tracking
        if self.batches_done >= self.batches_per_epoch:
            self.epoch, self.batches_done = self.epoch + 1, 0
        self._notes.append(f"resumed from {self.last_path}: epoch {self.epoch}, batch {self.batches_done}, step {self.step_count}")

    def _initialise_from(self, path: str, load: tuple[str, ...]) -> None:
        state = load_checkpoint(path)
        if "model" in load:
            report = load_model_weights(unwrap(self.model), state["model"], strict=False)
            self._notes.append(f"init from {path}: {report.summary()}")
        texture_path = self.cfg.init.texture_checkpoint
        if texture_path is not None:
            heads = ("texture_head", "light_head")
            weights = group_weights(load_checkpoint(texture_path)["model"], heads, texture_path)
            report = load_model_weights(unwrap(self.model), weights, strict=False)
            self._notes.append(f"init from {texture_path}: {', '.join(heads)} ({report.loaded} tensors) replace those of {path}")
        if "optimizer" in load:
            load_optimizer_state(self.optimizer, state["optimizer"])
            self._notes.append(f"init from {path}: optimiser state loaded (learning rates from this config)")
        if "scheduler" in load:
            complete = state["batches_done"] >= state["batches_per_epoch"]
            self.epoch = state["epoch"] + 1 if complete else state["epoch"]
            self.step_count = state["step"]
            self._notes.append(f"init from {path}: continuing at global epoch {self.epoch}, step {self.step_count}")
        if self.epoch > self.cfg.train.epochs:
            raise ValueError(f"init.checkpoint {path} ends at epoch {self.epoch - 1}, train.epochs is {self.cfg.train.epochs}")

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The checkpoint of the current position (see :mod:`hifihr.engine.checkpoint`)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "batches_done": self.batches_done,
            "batches_per_epoch": self.batches_per_epoch,
            "step": self.step_count,
            "model": unwrap(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "lr": [group["lr"] for group in self.optimizer.param_groups],
            "rng": capture_rng_state(self.ctx.device),
            "nonfinite": {"consecutive": self.nonfinite_consecutive, "total": self.nonfinite_total},
            "log_window": self.window.state_dict(),
            "config": config_to_dict(self.cfg),
            "world_size": self.ctx.world_size,
            "best": self.best,
        }

    def save(self, keep_epoch: bool = False, keep_best: bool = False) -> None:
        """Write ``last.pt`` (rank 0, after averaging BatchNorm statistics over the ranks), and
        keep it as ``epoch_NNNN.pt`` when ``keep_epoch`` and as ``best.pt`` when ``keep_best``."""
        average_batchnorm_stats(self.model, self.ctx)
        if self.ctx.is_main:
            save_checkpoint(self.state_dict(), self.last_path)
            if keep_epoch:
                keep_copy(self.last_path, self.checkpoint_dir / f"epoch_{self.epoch:04d}.pt")
            if keep_best:
                keep_copy(self.last_path, self.checkpoint_dir / "best.pt")
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
                batch["image"], batch["K"], batch.get("root"), batch_root_index(batch), render=self.objective.needs_render
            )
        return pred, self.objective(pred, batch, epoch)

    def train_step(self, batch: dict[str, Any], epoch: int) -> tuple[StepResult, Prediction]:
        """One optimiser step on this rank's share of a global batch (already on the device).

        The gradients stay in the parameters' ``.grad`` until the next step.
        """
        self.optimizer.zero_grad(set_to_none=True)
        norm_state = [buffer.clone() for buffer in self.norm_buffers]
        pred, out = self.forward(batch, epoch)
        names = list(out.unweighted)
        values = torch.stack([out.total.detach().double()] + [out.unweighted[n].detach().double() for n in names])
        weights = torch.tensor([out.weights[n] for n in names], dtype=torch.float64)
        flags = torch.tensor(
            [float(not torch.isfinite(values).all()), float(self._stop_requested)], device=self.ctx.device
        )
        all_reduce(flags, self.ctx, "max")
        self._stop_requested = bool(flags[1])
        host = values.double().cpu()
        terms = dict(zip(names, host[1:].tolist()))
        weighted = dict(zip(names, (host[1:] * weights).tolist()))
        loss = float(host[0])
        if flags[0]:
            bad = tuple(n for n in names if not math.isfinite(terms[n])) or ("total",)
            if self.ctx.distributed:
                # Every rank skips together; DDP still expects this forward's backward, so run
                # one through the outputs times zero and throw the gradients away.
                (sum(t.float().sum() for t in _output_tensors(pred)) * 0.0).backward()
                self.optimizer.zero_grad(set_to_none=True)
            # A skipped step changes nothing: not even the BatchNorm statistics its forward
            # updated (restored after any backward, which may read them).
            self._restore_norm_buffers(norm_state)
            return StepResult(loss, terms, weighted, None, True, bad), pred
        self.scaler.scale(out.total).backward()
        self.scaler.unscale_(self.optimizer)
        grads = [p.grad for p in self.params if p.grad is not None]
        if self.cfg.optim.grad_clip is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.cfg.optim.grad_clip)
        else:
            grad_norm = torch.nn.utils.get_total_norm(grads)
        grad_norm_value = float(grad_norm)
        if not math.isfinite(grad_norm_value) and not self.scaler.is_enabled():
            self._restore_norm_buffers(norm_state)
            return StepResult(loss, terms, weighted, grad_norm_value, True, ("gradient",)), pred
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return StepResult(loss, terms, weighted, grad_norm_value, False), pred

    def _restore_norm_buffers(self, saved: list[torch.Tensor]) -> None:
        with torch.no_grad():
            for buffer, value in zip(self.norm_buffers, saved):
                buffer.copy_(value)

    # ------------------------------------------------------------------ epochs
    def _epoch_batches(self, epoch: int, skip: int) -> Iterator[dict[str, Any]]:
        set_epoch(self.loader, epoch)
        self.loader.batch_sampler.set_epoch(epoch, skip_batches=skip)
        for batch in self.loader:
            yield to_device(batch, self.ctx.device)

    def _set_lr(self, epoch: int) -> float:
        lr = self.cfg.optim.lr_at(epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def _log(self, epoch: int, lr: float) -> None:
        window = self.window
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
            step=self.step_count,
            lr=lr,
            images_per_s=images_per_s,
            loss=means.pop("loss", float("nan")),
            terms={k: v for k, v in means.items() if not k.startswith("weighted/")},
            weighted={k.split("/", 1)[1]: v for k, v in means.items() if k.startswith("weighted/")},
            grad_norm=norm_sum / norm_count if norm_count else None,
            skipped=int(skipped / world),
        )
        self.window = _LogWindow()

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
        self.logger.log_image("train/samples", make_grid(rows, PANEL_TITLES), self.step_count)

    def _handle_nonfinite(self, result: StepResult, epoch: int) -> None:
        self.nonfinite_consecutive += 1
        self.nonfinite_total += 1
        self.logger.warn(
            f"epoch {epoch} step {self.step_count}: non-finite {', '.join(result.bad_terms)}; step skipped "
            f"({self.nonfinite_consecutive} in a row, {self.nonfinite_total} in all)"
        )
        if self.nonfinite_consecutive > self.cfg.train.max_nonfinite_steps:
            kept = f"the last good checkpoint is {self.last_path}" if self.last_path.exists() else "no checkpoint was written"
            raise NonFiniteLossError(
                f"{self.nonfinite_consecutive} consecutive steps had a non-finite loss or gradient (last: "
                f"{', '.join(result.bad_terms)}) at epoch {epoch}, step {self.step_count}; stopped ({kept}). "
                "Lower optim.lr, set optim.grad_clip, use train.amp = 'none' or 'bf16', or check the data."
            )

    def train_epoch(self, epoch: int, progress) -> None:
        """Train the rest of ``epoch`` (from ``batches_done``), logging and checkpointing mid-epoch."""
        train = self.cfg.train
        lr = self._set_lr(epoch)
        self.set_train_mode()
        task = progress.add_task(f"epoch {epoch}/{train.epochs}", total=self.batches_per_epoch, completed=self.batches_done, status="")
        self._last_log_time = time.perf_counter()
        tick = time.perf_counter()
        for batch in self._epoch_batches(epoch, self.batches_done):
            result, pred = self.train_step(batch, epoch)
            self.batches_done += 1
            self.step_count += 1
            self.window.add(result)
            if result.skipped:
                self._handle_nonfinite(result, epoch)
            else:
                self.nonfinite_consecutive = 0
            if self.step_count % train.log_interval == 0:
                self._log(epoch, lr)
            if self.ctx.is_main and self.step_count % train.image_log_interval == 0:
                self._log_images(batch, pred)
            now = time.perf_counter()
            terms = " ".join(f"{name} {value:.3g}" for name, value in result.weighted.items())
            rate = self.cfg.data.batch_size / max(now - tick, 1e-9)
            progress.update(task, advance=1, status=f"loss {result.loss:.4e} ({terms}) {rate:.1f} img/s")
            tick = now
            mid_epoch = self.batches_done < self.batches_per_epoch
            if self._stop_requested:
                self.save()
                raise TrainingInterrupted(
                    f"interrupted at epoch {epoch}, batch {self.batches_done}/{self.batches_per_epoch} (step "
                    f"{self.step_count}); {self.last_path} written: continue with --resume"
                )
            if mid_epoch and train.checkpoint_interval and self.step_count % train.checkpoint_interval == 0:
                self.save()
        progress.remove_task(task)

    def _on_signal(self, signum, frame) -> None:
        if self._stop_requested:
            raise KeyboardInterrupt
        self._stop_requested = True
        self.logger.warn(f"{signal.Signals(signum).name}: stopping after this step (again to stop at once)")

    def evaluate(self, epoch: int) -> dict[str, dict[str, Any]]:
        """Evaluate on ``data.val`` into ``eval/<epoch>/``; log the numbers; back to training mode."""
        results = self.evaluator.evaluate(self.model, epoch, self.step_count, self.run_dir / "eval" / str(epoch))
        self.logger.log_eval(epoch=epoch, step=self.step_count, datasets=results)
        for tag, metrics in results.items():
            self.logger.info(f"eval epoch {epoch}: {summary_line(tag, metrics)}")
        self.set_train_mode()
        return results

    def update_best(self, epoch: int, results: dict[str, dict[str, Any]]) -> bool:
        """Compare ``eval.best_metric`` of the first validation dataset at ``epoch`` with the
        best so far; log it and write ``best.json`` (rank 0). Returns True when ``epoch`` is
        the new best (ties keep the earlier epoch, as the reference)."""
        if not self.ctx.is_main or not results:
            return False
        metric = self.cfg.eval.best_metric
        tag = next(iter(results))
        value = results[tag].get(metric)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            self.logger.warn(f"eval epoch {epoch}: {tag} has no {metric}; the best epoch is not updated (eval.best_metric)")
            return False
        higher = BEST_METRICS[metric]
        improved = self.best is None or (value > self.best["value"] if higher else value < self.best["value"])
        if improved:
            self.best = {"metric": metric, "dataset": tag, "value": float(value), "epoch": epoch}
        self.logger.info(
            f"best {metric} on {tag} (selected on the evaluation split): {self.best['value']:.4g} at epoch "
            f"{self.best['epoch']}; epoch {epoch}: {value:.4g}"
        )
        record = {
            **self.best,
            "selected_on": "evaluation split",
            "last": {"epoch": epoch, "value": float(value)},
        }
        write_json(self.run_dir / "best.json", record)
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
        try:
            with self.logger.progress() as progress:
                while self.epoch <= self.cfg.train.epochs:
                    epoch = self.epoch
                    self.train_epoch(epoch, progress)
                    if self.window.count or self.window.skipped:
                        self._log(epoch, self.cfg.optim.lr_at(epoch))
                    last = epoch == self.cfg.train.epochs
                    improved = False
                    if self.evaluator is not None and (epoch % self.cfg.train.eval_interval == 0 or last):
                        average_batchnorm_stats(self.model, self.ctx)
                        results = self.evaluate(epoch)
                        improved = self.update_best(epoch, results)
                    self.save(keep_epoch=epoch % self.cfg.train.save_interval == 0 or last, keep_best=improved)
                    self.epoch, self.batches_done = epoch + 1, 0
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            self.logger.close()
        return results



def freeze_groups(model: nn.Module, groups: tuple[str, ...], norm: str) -> None:
    """Leave the module groups ``groups`` of the (unwrapped) network untrained: no gradient for
    their parameters; with ``norm = "batch"`` their BatchNorm layers get momentum 0 (batch
    statistics normalise in training mode, the running ones stay as they are), as the
    reference's ``rec_freeze``. (``"running"``: :meth:`Trainer.set_train_mode` puts them in
    eval mode instead.)

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


def _output_tensors(pred: Prediction) -> Iterator[torch.Tensor]:
    """The prediction's tensors that carry gradient (render included)."""
    render = pred.render
    candidates = [
        pred.joints3d, pred.verts3d, pred.joints2d, pred.pose_params, pred.shape_params, pred.texture_params, pred.light,
        render.rgb if render is not None else None, render.soft_alpha if render is not None else None,
    ]  # fmt: skip
    return (t for t in candidates if t is not None and t.requires_grad)
