#!/usr/bin/env python
"""Collect evaluations into result tables laid out like the paper's (Markdown and CSV).

    python scripts/make_tables.py outputs/freihand_full outputs/freihand_weak ... [--out results/table]
    python scripts/make_tables.py outputs/*/eval/600/metrics.json --labels "HiFiHR" ...

Each input is a run folder or a ``metrics.json``. For a run folder, ``--select last`` (default)
takes its latest ``eval/<epoch>/metrics.json``; ``--select best`` takes, per dataset, the epoch
with the best ``--metric`` (default PA-MPJPE), selected on the evaluation split as the reference
did (the ``selected`` column says which). Rows: dataset x supervision x method; columns:
PA-MPJPE, PA-MPVPE (mm), AUC_J, AUC_V, F@5, F@15, PSNR (dB), SSIM, LPIPS; ``--unaligned`` adds
the unaligned MPJPE/MPVPE and their root ("GT root" when the network was placed at the
ground-truth root). Prints the Markdown table; ``--out PREFIX`` also writes ``PREFIX.md`` and
``PREFIX.csv`` (which always has the unaligned columns).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hifihr.config import BEST_METRICS
from hifihr.engine.tables import collect_rows, csv_table, markdown_table
from hifihr.files import write_atomic


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="run folders or metrics.json files")
    parser.add_argument("--labels", nargs="+", help="method label of each input (default: the run names)")
    parser.add_argument("--select", choices=("last", "best"), default="last", help="which evaluation of a run folder")
    parser.add_argument("--metric", choices=tuple(BEST_METRICS), default="pa_mpjpe_mm", help="what --select best minimises or maximises")
    parser.add_argument("--unaligned", action="store_true", help="add the unaligned MPJPE/MPVPE columns and their root")
    parser.add_argument("--out", help="write PREFIX.md and PREFIX.csv")
    args = parser.parse_args(argv)
    try:
        rows = collect_rows(args.inputs, args.labels, select=args.select, metric=args.metric)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    table = markdown_table(rows, unaligned=args.unaligned)
    print(table, end="")
    if args.out:
        prefix = Path(args.out)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(prefix.with_suffix(".md"), table)
        write_atomic(prefix.with_suffix(".csv"), csv_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
