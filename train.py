#!/usr/bin/env python
"""Train a config: ``python train.py --config FILE [--set key=value ...] [--resume]``.

Several GPUs or nodes: ``torchrun --nproc-per-node N train.py --config FILE`` (``data.batch_size``
is the global batch). Outputs go to ``<experiment.output_dir>/<experiment.name>/`` (see
``hifihr.engine``). Exit status: 0 done, 2 bad config or arguments, 3 stopped on non-finite
losses, 130 interrupted (resume with ``--resume``).
"""

from __future__ import annotations

import argparse
import sys

from hifihr.config import ConfigError, load_config
from hifihr.engine import CheckpointError, NonFiniteLossError, Trainer, TrainingInterrupted
from hifihr.engine.distributed import shutdown_distributed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="JSON config file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a config key (repeatable)")
    parser.add_argument("--resume", action="store_true", help="continue this run from its checkpoints/last.pt")
    parser.add_argument("--overwrite", action="store_true", help="start the run again, deleting its previous outputs")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    parser.add_argument("--no-tensorboard", action="store_true", help="do not write TensorBoard events")
    args = parser.parse_args(argv)
    if args.resume and args.overwrite:
        parser.error("--resume and --overwrite exclude each other")
    try:
        cfg = load_config(args.config, args.overrides)
        trainer = Trainer(cfg, device=args.device, resume=args.resume, overwrite=args.overwrite, tensorboard=not args.no_tensorboard)
        trainer.fit()
    except (ConfigError, CheckpointError, FileExistsError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    except TrainingInterrupted as err:
        print(str(err), file=sys.stderr)
        return 130
    finally:
        shutdown_distributed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
