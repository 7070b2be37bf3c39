"""Hand models: NIMBLE (official files or the open hand, same format) and MANO.

One door: :func:`load_hand_model` builds a layer by name from :data:`HAND_MODELS`. Every layer returns
a :class:`HandOutput` (metres, model frame, 21 keypoints in FreiHAND order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from hifihr.registry import Registry

from .assets import AssetError, UnsafePickleError, load_pickle
from .mano import ManoLayer, load_mano_data, mano_file
from .nimble import NimbleLayer, load_nimble_data
from .output import HandOutput

#: Where the open hand (our NIMBLE-format model, built by :mod:`hifihr.hand.open_hand`) lives;
#: the default output of ``scripts/build_open_hand.py``.
OPEN_HAND_DIR = Path(__file__).resolve().parents[2] / "assets" / "open_hand"

#: Hand-model builders by name: ``builder(assets_dir, mano_dir=, dtype=, **options) -> layer``.
HAND_MODELS: Registry[Callable[..., nn.Module]] = Registry("hand model")


@HAND_MODELS.register("nimble", description="NIMBLE from its official files (hand.assets_dir)")
def _build_nimble(
    assets_dir: Optional[str | Path], mano_dir: Optional[str | Path] = None, dtype: torch.dtype = torch.float32, **options
) -> NimbleLayer:
    if assets_dir is None:
        raise AssetError(
            "the NIMBLE model needs its asset directory: set the config key 'hand.assets_dir' "
            "(or use hand model 'open_hand', which ships with the project)"
        )
    mano = load_mano_data(mano_file(mano_dir)) if mano_dir is not None else None
    return NimbleLayer(load_nimble_data(assets_dir), mano=mano, dtype=dtype, **options)


@HAND_MODELS.register("open_hand", description="the project's open hand in NIMBLE format (assets/open_hand)")
def _build_open_hand(
    assets_dir: Optional[str | Path] = None, mano_dir: Optional[str | Path] = None, dtype: torch.dtype = torch.float32, **options
) -> NimbleLayer:
    return _build_nimble(assets_dir or OPEN_HAND_DIR, mano_dir=mano_dir, dtype=dtype, **options)


@HAND_MODELS.register("mano", description="MANO from MANO_RIGHT.pkl (hand.mano_dir)")
def _build_mano(
    assets_dir: Optional[str | Path] = None,
    mano_dir: Optional[str | Path] = None,
    dtype: torch.dtype = torch.float32,
    side: str = "right",
    **options,
) -> ManoLayer:
    directory = mano_dir or assets_dir
    if directory is None:
        raise AssetError("the MANO model needs its directory: set the config key 'hand.mano_dir'")
    return ManoLayer(load_mano_data(mano_file(directory, side)), dtype=dtype, **options)


def load_hand_model(
    kind: str,
    assets_dir: Optional[str | Path] = None,
    mano_dir: Optional[str | Path] = None,
    dtype: torch.dtype = torch.float32,
    **options,
) -> nn.Module:
    """Build a hand layer by name.

    Args:
        kind: ``"nimble"`` (official files in ``assets_dir``), ``"open_hand"`` (the project's
            open model; ``assets_dir`` defaults to ``assets/open_hand``) or ``"mano"``
            (``MANO_RIGHT.pkl`` in ``mano_dir``).
        assets_dir: the NIMBLE-format asset directory.
        mano_dir: directory holding ``MANO_RIGHT.pkl``; for NIMBLE it switches the keypoints to
            HiFiHR's MANO regression and gives MANO faces to ``eval_verts``.
        dtype: float32 or float64.
        options: passed to the layer (e.g. ``shape_ncomp``, ``pose_ncomp``, ``tex_ncomp`` for
            NIMBLE; ``num_pca_comps``, ``flat_hand_mean``, ``fingertips``, ``side`` for MANO).
    """
    return HAND_MODELS.get(kind)(assets_dir, mano_dir=mano_dir, dtype=dtype, **options)


__all__ = [
    "AssetError",
    "HAND_MODELS",
    "HandOutput",
    "ManoLayer",
    "NimbleLayer",
    "OPEN_HAND_DIR",
    "UnsafePickleError",
    "load_hand_model",
    "load_pickle",
]
