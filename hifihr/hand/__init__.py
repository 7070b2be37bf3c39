"""Hand models: NIMBLE (official files or the open hand, same format) and MANO.

One door: :func:`load_hand_model` builds a layer by name from :data:`HAND_MODELS`. Every layer
implements :class:`HandModel` and returns a :class:`HandOutput` (metres, model frame, 21 keypoints
in FreiHAND order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from hifihr.registry import Registry

from .assets import AssetError, UnsafePickleError, load_pickle
from .interface import ROOT_POSE_SIZE, HandModel, HandModelSpec, TextureKind
from .mano import ManoLayer, load_mano_data, mano_file
from .nimble import NimbleLayer, load_nimble_data
from .output import HandOutput

#: Where the open hand (our NIMBLE-format model, built by :mod:`hifihr.hand.open_hand`) lives;
#: the default output of ``scripts/build_open_hand.py``.
OPEN_HAND_DIR = Path(__file__).resolve().parents[2] / "assets" / "open_hand"

#: Hand models by name: a :class:`HandModelSpec` (builder and capabilities) each.
HAND_MODELS: Registry[HandModelSpec] = Registry("hand model")


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


def _build_open_hand(
    assets_dir: Optional[str | Path] = None, mano_dir: Optional[str | Path] = None, dtype: torch.dtype = torch.float32, **options
) -> NimbleLayer:
    return _build_nimble(assets_dir or OPEN_HAND_DIR, mano_dir=mano_dir, dtype=dtype, **options)


def _build_mano(
    assets_dir: Optional[str | Path] = None,
    mano_dir: Optional[str | Path] = None,
    dtype: torch.dtype = torch.float32,
    side: str = "right",
    shape_ncomp: Optional[int] = None,
    pose_ncomp: Optional[int] = None,
    tex_ncomp: Optional[int] = None,
    **options,
) -> ManoLayer:
    # MANO's spaces are fixed (10 shape values, num_pca_comps pose PCA, per-vertex colours): the
    # NIMBLE-format sizes of the hand config do not apply to it.
    del shape_ncomp, pose_ncomp, tex_ncomp
    directory = mano_dir or assets_dir
    if directory is None:
        raise AssetError("the MANO model needs its directory: set the config key 'hand.mano_dir'")
    return ManoLayer(load_mano_data(mano_file(directory, side)), dtype=dtype, **options)


HAND_MODELS.register(
    "nimble",
    HandModelSpec(_build_nimble, comparable_verts=False),
    description="NIMBLE from its official files (hand.assets_dir)",
)
HAND_MODELS.register(
    "open_hand",
    HandModelSpec(_build_open_hand, comparable_verts=True),
    description="the project's open hand in NIMBLE format (assets/open_hand)",
)
HAND_MODELS.register("mano", HandModelSpec(_build_mano, comparable_verts=True), description="MANO from MANO_RIGHT.pkl (hand.mano_dir)")


def load_hand_model(
    kind: str,
    assets_dir: Optional[str | Path] = None,
    mano_dir: Optional[str | Path] = None,
    dtype: torch.dtype = torch.float32,
    **options,
) -> HandModel:
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
            NIMBLE; ``num_pca_comps``, ``flat_hand_mean``, ``fingertips``, ``side`` for MANO, which
            ignores the NIMBLE sizes).
    """
    return HAND_MODELS.get(kind).build(assets_dir, mano_dir=mano_dir, dtype=dtype, **options)


__all__ = [
    "AssetError",
    "HAND_MODELS",
    "HandModel",
    "HandModelSpec",
    "HandOutput",
    "ManoLayer",
    "NimbleLayer",
    "OPEN_HAND_DIR",
    "ROOT_POSE_SIZE",
    "TextureKind",
    "UnsafePickleError",
    "load_hand_model",
    "load_pickle",
]
