"""Supervision presets: the active loss terms and their weights for ``full``, ``weak`` and ``self``.

Each preset mirrors the reference's final FreiHAND run of that mode (weights by global epoch):

* ``full`` = ``config/FreiHAND/full_rhd_freihand.json``: 3D keypoints and MANO vertices,
  bone directions, edge lengths, the supervised photometric terms and the silhouette.
* ``weak`` = ``config/FreiHAND/weak_rhd_freihand.json``: ground-truth 2D keypoints and 2D bone
  directions instead of 3D, the same photometric terms.
* ``self`` = ``config/FreiHAND/self_superv_freihand_w_texture.json``: OpenPose keypoints and
  bone directions, the self-supervised photometric terms (no ground-truth mask, except
  ``perceptual``, which the reference ran with the ground-truth mask).

A config starts from a preset and may ``add`` terms, ``drop`` terms and override ``weights``
(:func:`resolve_weights`).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional

from hifihr.losses.registry import LOSSES
from hifihr.losses.schedule import WeightSchedule, WeightSpec, as_schedule
from hifihr.registry import Registry

_S = WeightSchedule

#: The parameter priors of the reference's full and weak FreiHAND runs.
_PRIORS_FULL_WEAK = {
    "mpose": _S((1e-2, 1e-3, 1e-5), (10, 20)),
    "mshape": _S((0.1, 1e-3, 1e-5), (270, 300)),
    "mtex": _S((5e-3, 5e-5, 5e-7), (260, 270)),
}

#: Supervision mode -> active term -> weight schedule.
SUPERVISION_PRESETS: Registry[dict[str, WeightSchedule]] = Registry("supervision")
SUPERVISION_PRESETS.register(
    "full",
    {
        "joint_3d": _S.constant(200.0),
        "vert_3d": _S.constant(150.0),
        "edge_length": _S.constant(100.0),
        "bone_direc_3d": _S.constant(6.0),
        "texture": _S.constant(0.02),
        "mrgb": _S.constant(2e-3),
        "ssim_tex": _S.constant(0.01),
        "perceptual": _S.constant(1e-8),
        "sil": _S.constant(8e-4),
        **_PRIORS_FULL_WEAK,
    },
    description="3D keypoints and vertices, bones, edges, the supervised photometric terms (full_rhd_freihand.json)",
)
SUPERVISION_PRESETS.register(
    "weak",
    {
        "joint_2d": _S.constant(0.01),
        "bone_direc": _S.constant(0.1),
        "texture": _S.constant(0.01),
        "mrgb": _S.constant(1e-3),
        "ssim_tex": _S.constant(2e-3),
        "perceptual": _S.constant(1e-8),
        "sil": _S.constant(8e-4),
        **_PRIORS_FULL_WEAK,
    },
    description="ground-truth 2D keypoints and bones, the supervised photometric terms (weak_rhd_freihand.json)",
)
SUPERVISION_PRESETS.register(
    "self",
    {
        "open_2dj": _S.constant(1e-3),
        "open_bone_direc": _S.constant(0.2),
        "texture_self": _S.constant(3e-3),
        "mrgb_self": _S.constant(1e-3),
        "ssim_tex_self": _S.constant(1e-3),
        "perceptual": _S.constant(1e-6),
        "mpose": _S((1e-3, 1e-4, 1e-4), (260, 280)),
        "mshape": _S((0.1, 1e-3, 1e-5), (270, 300)),
        "mtex": _S((3e-3, 3e-5, 3e-7), (260, 270)),
    },
    description="OpenPose keypoints and bones, the self-supervised photometric terms (self_superv_freihand_w_texture.json)",
)


def preset_weights(supervision: str) -> dict[str, WeightSchedule]:
    """A copy of the preset ``supervision`` (term name -> weight schedule).

    Raises:
        UnknownNameError: an unknown preset (the message gives the closest and the valid ones).
    """
    return dict(SUPERVISION_PRESETS.get(supervision))


def resolve_weights(
    supervision: str,
    add: Optional[Mapping[str, WeightSpec]] = None,
    drop: Iterable[str] = (),
    weights: Optional[Mapping[str, WeightSpec]] = None,
) -> dict[str, WeightSchedule]:
    """The active terms and their schedules: the preset, plus ``add``, reweighted, minus ``drop``.

    Steps, in order: start from :func:`preset_weights`; ``add`` terms that are not in the preset;
    replace the weight of active terms listed in ``weights``; remove the terms in ``drop``.

    Args:
        supervision: a name of :data:`SUPERVISION_PRESETS` ("full", "weak", "self").
        add: new term name -> weight (number or schedule).
        drop: names of active terms to remove.
        weights: active term name -> new weight (number or schedule).

    Raises:
        ValueError: an unknown loss name (with the closest valid one), adding an active term,
            reweighting or dropping an inactive one, or an invalid weight.
    """
    active = preset_weights(supervision)
    for name, weight in (add or {}).items():
        LOSSES.get(name)
        if name in active:
            raise ValueError(f"loss.add: {name!r} is already in the {supervision!r} preset; change its weight in loss.weights")
        active[name] = as_schedule(weight)
    for name, weight in (weights or {}).items():
        LOSSES.get(name)
        if name not in active:
            raise ValueError(
                f"loss.weights: {name!r} is not active (active: {', '.join(sorted(active))}); "
                "add it with loss.add"
            )
        active[name] = as_schedule(weight)
    for name in drop:
        LOSSES.get(name)
        if name not in active:
            raise ValueError(f"loss.drop: {name!r} is not active (active: {', '.join(sorted(active))})")
        del active[name]
    return active
