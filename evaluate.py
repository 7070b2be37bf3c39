#!/usr/bin/env python
"""Evaluate a checkpoint: ``python evaluate.py --config FILE --checkpoint FILE [--set key=value ...]``.

``--initial`` evaluates the network the config starts from instead (its seeded initialisation,
or ``init.checkpoint``), ``--baseline METRICS_JSON`` prints this evaluation against another one
(e.g. ``outputs/<run>/eval/0/metrics.json`` of the untrained network), and with
``--target-pa-ratio R --target-psnr-gain G`` also PASS/FAIL against the targets "PA-MPJPE at
most R times the baseline's, PSNR at least G dB above it". Writes
``<run>/eval/<epoch>/`` (``metrics.json``, ``<dataset>/pred.json``, ``<dataset>/samples.png``;
HO-3D also ``pred.zip``) unless ``--out`` says otherwise. Exit status: 0 done, 2 bad config,
checkpoint or arguments.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from hifihr.config import ConfigError, load_config
from hifihr.engine import CheckpointError, evaluate_config
from hifihr.engine.distributed import shutdown_distributed
from hifihr.engine.checkpoint_evaluation import comparison_table, learning_targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="JSON config file of the run")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--checkpoint", help="checkpoint to evaluate (e.g. outputs/<run>/checkpoints/last.pt)")
    which.add_argument("--initial", action="store_true", help="evaluate the network the run starts from")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a config key (repeatable)")
    parser.add_argument("--out", help="evaluation folder (default: <run>/eval/<epoch>)")
    parser.add_argument("--baseline", help="metrics.json of another evaluation to compare with")
    parser.add_argument("--target-pa-ratio", type=float, help="with --baseline: PASS when PA-MPJPE <= this x the baseline's")
    parser.add_argument("--target-psnr-gain", type=float, help="with --baseline: PASS when PSNR >= the baseline's + this (dB)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    args = parser.parse_args(argv)
    targets = (args.target_pa_ratio, args.target_psnr_gain)
    if any(t is not None for t in targets) and (None in targets or not args.baseline):
        parser.error("--target-pa-ratio and --target-psnr-gain go together, with --baseline")
    console = Console(stderr=True)
    try:
        cfg = load_config(args.config, args.overrides)
        folder, results = evaluate_config(cfg, args.checkpoint, device=args.device, out_dir=args.out, console=console)
        if results:
            console.print(f"wrote {folder}")
            if args.baseline:
                Console().print(comparison_table(results, args.baseline))
            if args.baseline and args.target_pa_ratio is not None:
                for line, _ in learning_targets(results, args.baseline, args.target_pa_ratio, args.target_psnr_gain):
                    print(line)
    except (ConfigError, CheckpointError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        shutdown_distributed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
