#!/usr/bin/env python
"""The supervision ablation: full, weak and self supervision, each with and without texture, from
one base config; trains and evaluates the six runs and writes their table.

    python scripts/ablate.py --config config/synthetic/full.json            # the CPU-sized default
    python scripts/ablate.py --config config/FreiHAND/full.json --modes full weak --out outputs/ablation_fh

Each variant is the base config with (``hifihr.engine.ablation``):

* ``loss.supervision`` set to the mode; the base's ``loss.drop``/``weights``/``add`` entries kept
  where they name a term of that mode's preset, and a term the base adds from one of the presets
  (say weak's ``joint_2d`` added to full) only in the base's own mode; ``self`` reads the
  OpenPose-format detections (``openpose: true`` in every training set's options);
* without texture: no texture or light head (``model.texture = false``, ``model.light =
  "none"``, no soft silhouette) and none of the photometric terms, the silhouette, ``mtex`` or
  ``light_reg``, like the reference's ``*_no_tex`` configs. Such a network still renders its
  mean texture, so its PSNR, SSIM and LPIPS are measured like the others' and the table shows
  what the texture head adds.

Runs go to ``<out>/<base name>_<mode>[_no_tex]``; the table to ``<out>/ablation.md`` and
``.csv``, with the texture effect (with minus without) per mode. ``--set`` overrides apply to
the base config (all six runs), e.g. ``--set train.epochs=2``.

``--jobs N`` trains N variants at a time, each in its own process with an equal share of the CPU
threads (on a 2-core CPU, ``--jobs 2`` with one thread each beats one run on two threads: small
batches do not scale across threads).

``--seeds N`` runs every variant N times, with ``experiment.seed`` 0 .. N-1 (run names ending
``_s<seed>``), and adds to the table each cell's mean ± sample standard deviation over the seeds
and texture's effect on PA-MPJPE, PA-MPVPE and PSNR with its standard error, saying whether the
effect exceeds two standard errors (``hifihr.engine.ablation.seeded_texture_effect_table``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from rich.console import Console

from hifihr.config import ConfigError
from hifihr.engine.ablation import (
    MODES,
    ablation_configs,
    seed_summary_table,
    seeded_texture_effect_table,
    summarise_seeds,
    texture_effect_table,
    train_variant,
)
from hifihr.engine.tables import collect_rows, csv_table, markdown_table
from hifihr.files import write_atomic


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config/synthetic/full.json", help="base config (default: config/synthetic/full.json)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a key of the base config")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES, help="supervision modes (default: all)")
    parser.add_argument("--out", default="outputs/ablation", help="folder of the runs and the table (default: outputs/ablation)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    parser.add_argument("--seeds", type=int, default=None, metavar="N", help="run every variant with seeds 0..N-1 and report mean and spread")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="variants trained at a time, in separate processes (default: 1)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs: expected a positive number of processes, got {args.jobs}")
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds: expected a positive number of seeds, got {args.seeds}")
    console = Console(stderr=True)
    seeds = None if args.seeds is None else list(range(args.seeds))
    try:
        variants = ablation_configs(args.config, args.overrides, args.modes, args.out, seeds=seeds)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    if args.jobs == 1:
        runs = []
        for label, cfg in variants:
            console.rule(f"{label}: {cfg.experiment.name}")
            runs.append(train_variant(cfg, args.device, torch.get_num_threads()))
    else:
        threads = max(1, (os.cpu_count() or 1) // args.jobs)
        console.print(f"{len(variants)} runs, {args.jobs} at a time with {threads} thread(s) each")
        # spawn: a forked child would inherit the parent's OpenMP state.
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            runs = list(pool.map(train_variant, [cfg for _, cfg in variants], [args.device] * len(variants), [threads] * len(variants)))
    rows = collect_rows(runs, [label for label, _ in variants])
    if seeds is None:
        table = markdown_table(rows) + "\n" + texture_effect_table(rows)
    else:
        summaries = summarise_seeds(rows)
        table = markdown_table(rows) + "\n" + seed_summary_table(summaries) + "\n" + seeded_texture_effect_table(summaries)
    out = Path(args.out)
    write_atomic(out / "ablation.md", table)
    write_atomic(out / "ablation.csv", csv_table(rows))
    print(table, end="")
    console.print(f"{len(runs)} runs in {time.perf_counter() - start:.0f} s; table in {out / 'ablation.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
