"""Build the open hand (a right hand in NIMBLE's file format, made from code) into a folder.

    python scripts/build_open_hand.py [--out assets/open_hand] [--seed 0]

Writes NIMBLE_DICT_9137.pkl, NIMBLE_TEX_DICT.pkl, NIMBLE_TEX_FUV.pkl and SHA256SUMS; the same
seed on the same software gives the same bytes. The builder is :mod:`hifihr.hand.open_hand`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch

from hifihr.hand import OPEN_HAND_DIR
from hifihr.hand.open_hand import FULL, build, write_assets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OPEN_HAND_DIR, help="output directory (default: assets/open_hand)")
    parser.add_argument("--seed", type=int, default=FULL.seed, help="seed of every random draw")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    digests = write_assets(build(replace(FULL, seed=args.seed)), args.out)
    total = sum((args.out / name).stat().st_size for name in digests)
    for name, digest in digests.items():
        print(f"{name}: {(args.out / name).stat().st_size / 1e6:.2f} MB, sha256 {digest}")
    print(f"total {total / 1e6:.2f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
