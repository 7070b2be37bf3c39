#!/usr/bin/env python
"""Render the synthetic dataset (FreiHAND v2 layout) from the open hand.

    python scripts/make_synthetic.py                          # datasets/synthetic, defaults
    python scripts/make_synthetic.py --train 4000 --eval 500 --seed 1 --out datasets/synthetic_big
    python scripts/make_synthetic.py --scene clutter --out datasets/synthetic_clutter
    python scripts/make_synthetic.py --views 4 --out datasets/synthetic_mv4  # multi-view hands

With ``--views N`` it writes multi-view hands instead (``--hands`` hands, N fitting and
``--holdout-views`` held-out cameras each; layout in ``hifihr/data/multiview.py``), which
``scripts/fit.py --multiview`` reads; ``--train``, ``--eval`` and ``--scene`` do not apply.
"""

from __future__ import annotations

import argparse
import sys
import time

from hifihr.data.multiview import MultiViewOptions, generate_multiview
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
    parser.add_argument("--views", type=int, default=None, help="write multi-view hands with N fitting cameras each")
    parser.add_argument("--holdout-views", type=int, default=2, help="held-out cameras per multi-view hand (default: 2)")
    parser.add_argument("--hands", type=int, default=4, help="multi-view hands to write (default: 4)")
    parser.add_argument("--image-size", type=int, default=128, help="multi-view image side, pixels (default: 128)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.views is not None:
        try:
            out = generate_multiview(
                args.out, args.hands, args.views, args.holdout_views, args.seed, args.assets_dir,
                MultiViewOptions(image_size=args.image_size), overwrite=args.overwrite,
            )  # fmt: skip
        except (FileExistsError, AssetError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"wrote {out} ({args.hands} hands x {args.views} + {args.holdout_views} views) in {time.perf_counter() - start:.0f} s")
        return 0
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
