#!/usr/bin/env python
"""Export a posed, textured hand as OBJ + MTL + PNG maps and GLB.

Examples:
    python scripts/export_hand.py --out outputs/export/hand                     # the open hand
    python scripts/export_hand.py --model nimble --assets-dir assets/nimble --mano-dir assets/mano \
        --seed 3 --scale 1.0 --out outputs/export/nimble_hand
"""

from __future__ import annotations

import argparse
import sys

import torch

from hifihr.hand import HAND_MODELS, ROOT_POSE_SIZE, AssetError, load_hand_model
from hifihr.hand.export import export_hand


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="open_hand", choices=HAND_MODELS.names())
    parser.add_argument("--assets-dir", default=None, help="NIMBLE-format asset directory (default for open_hand: assets/open_hand)")
    parser.add_argument("--mano-dir", default=None, help="directory holding MANO_RIGHT.pkl (needed for --model mano)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random shape, pose and texture coefficients")
    parser.add_argument("--scale", type=float, default=0.0, help="std of the random normalised coefficients (0: the mean hand)")
    parser.add_argument("--out", required=True, help="output path without extension")
    args = parser.parse_args(argv)

    try:
        layer = load_hand_model(args.model, args.assets_dir, mano_dir=args.mano_dir)
    except AssetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    gen = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        shape = args.scale * torch.randn(1, layer.num_shape, generator=gen)
        articulation = args.scale * torch.randn(1, layer.num_pose - ROOT_POSE_SIZE, generator=gen)
        pose = torch.cat([torch.zeros(1, ROOT_POSE_SIZE), articulation], dim=1)
        if layer.texture_kind == "uv":  # the normal and specular maps of the UV texture too
            texture = args.scale * torch.randn(1, layer.num_texture, generator=gen)
            output = layer(shape, pose, texture, export_maps=True)
        else:
            output = layer(shape, pose)
    for kind, path in export_hand(output, args.out).items():
        print(f"{kind:8s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
