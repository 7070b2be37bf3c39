"""Training and evaluation: the loop, evaluation, checkpoints, processes and devices, logging.

``Trainer(cfg).fit()`` trains a config (``train.py``); :func:`evaluate_config`
(``checkpoint_evaluation``) evaluates a checkpoint or the initial network (``evaluate.py``);
:class:`Evaluator` (``evaluation``) runs the metrics and writes ``eval/<epoch>/``. A run's files live in ``<experiment.output_dir>/<experiment.name>/``:
``config.json``, ``checkpoints/{last.pt, best.pt, epoch_NNNN.pt}``, ``tb/``, ``metrics.jsonl``,
``best.json`` and ``eval/<epoch>/{metrics.json, <tag>/pred.json, <tag>/samples.png}``.
"""

from hifihr.engine.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    load_checkpoint,
    load_model_weights,
    save_checkpoint,
)
from hifihr.engine.distributed import DistContext, ShardedBatchSampler, init_distributed, select_device
from hifihr.engine.checkpoint_evaluation import evaluate_config
from hifihr.engine.evaluation import Evaluator, summary_line
from hifihr.engine.logging import RunLogger, read_metrics
from hifihr.engine.nonfinite import NonFiniteLossError
from hifihr.engine.run_folder import RunFolder
from hifihr.engine.setup import build_network, run_dir
from hifihr.engine.state import BestEpoch, RunState, StepResult
from hifihr.engine.trainer import Trainer, TrainingInterrupted

__all__ = [
    "BestEpoch",
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "DistContext",
    "Evaluator",
    "NonFiniteLossError",
    "RunFolder",
    "RunLogger",
    "RunState",
    "ShardedBatchSampler",
    "StepResult",
    "Trainer",
    "TrainingInterrupted",
    "build_network",
    "evaluate_config",
    "init_distributed",
    "load_checkpoint",
    "load_model_weights",
    "read_metrics",
    "run_dir",
    "save_checkpoint",
    "select_device",
    "summary_line",
]
