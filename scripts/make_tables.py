#!/usr/bin/env python
"""Collect evaluations into result tables laid out like the paper's (Markdown and CSV).

    python scripts/make_tables.py outputs/freihand_full outputs/freihand_weak ... [--out results/table]
    python scripts/make_tables.py outputs/*/eval/600/metrics.json --labels "HiFiHR" ...

Each input is a run folder (its latest ``eval/<epoch>/metrics.json``) or a ``metrics.json``.
Rows: dataset x supervision x method; columns: PA-MPJPE, PA-MPVPE (mm), AUC_J, AUC_V, F@5,
F@15, PSNR (dB), SSIM, LPIPS. Prints the Markdown table; ``--out PREFIX`` also writes
``PREFIX.md`` and ``PREFIX.csv``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hifihr.engine.tables import collect_rows, csv_table, markdown_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="run folders or metrics.json files")
    parser.add_argument("--labels", nargs="+", help="method label of each input (default: the run names)")
    parser.add_argument("--out", help="write PREFIX.md and PREFIX.csv")
    args = parser.parse_args(argv)
    try:
        rows = collect_rows(args.inputs, args.labels)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    table = markdown_table(rows)
    print(table, end="")
    if args.out:
        prefix = Path(args.out)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        prefix.with_suffix(".md").write_text(table)
        prefix.with_suffix(".csv").write_text(csv_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
