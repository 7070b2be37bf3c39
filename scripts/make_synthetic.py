#!/usr/bin/env python
"""Render the synthetic dataset (FreiHAND v2 layout) from the open hand.

    python scripts/make_synthetic.py                          # datasets/synthetic, defaults
    python scripts/make_synthetic.py --train 4000 --eval 500 --seed 1 --out datasets/synthetic_big
    python scripts/make_synthetic.py --scene clutter --out datasets/synthetic_clutter
"""

from __future__ import annotations

import argparse
import sys
import time

from hifihr.data.synthetic import SCENES, generate
from hifihr.hand import AssetError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="datasets/synthetic", help="output folder (default: datasets/synthetic)")
    parser.add_argument("--train", type=int, default=1000, help="training samples (default: 1000)")
    parser.add_argument("--eval", type=int, default=200, help="evaluation samples (default: 200)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--scene", choices=sorted(SCENES), default="studio", help="flat backgrounds or procedural clutter (default: studio)"
    )
    parser.add_argument("--assets-dir", default=None, help="NIMBLE-format assets to render (default: the open hand)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        out = generate(
            args.out, args.train, args.eval, args.seed, args.assets_dir, SCENES[args.scene], overwrite=args.overwrite
        )
    except (FileExistsError, AssetError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({args.scene}: {args.train} training, {args.eval} evaluation samples) in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
