"""Training losses: one pure function per term, a registry by name, supervision presets and
the weighted :class:`Objective`.

``fn(pred, batch) -> scalar``: ``pred`` a :class:`Prediction`, ``batch`` a batch dict of
:mod:`hifihr.data`. The terms (``LOSSES.names()``), with the reference's names and defaults:

========================= ==================================================================
group                     terms
========================= ==================================================================
3D (ground truth)         joint_3d, joint_3d_norm, vert_3d, bone_direc_3d, edge_length
2D (ground truth)         joint_2d, bone_direc
2D (OpenPose)             open_2dj, open_bone_direc
photometric (GT mask)     texture, mrgb, ssim_tex, perceptual, sil
photometric (self)        texture_self, mrgb_self, ssim_tex_self, lpips_tex, uv_align
priors                    mpose, mshape, mtex, light_reg
========================= ==================================================================
"""

from hifihr.losses import geometry, perceptual, photometric, regularizers, uv_align  # noqa: F401  (fill the registry)
from hifihr.losses.geometry import bone_direction_loss, open_2dj_penalty, root_relative
from hifihr.losses.objective import LossOutput, Objective
from hifihr.losses.photometric import hand_on_black, texture_confidence
from hifihr.losses.prediction import PREDICTION_SOURCES, FieldSource, Prediction, RenderLike
from hifihr.losses.presets import SUPERVISION_PRESETS, preset_weights, resolve_weights
from hifihr.losses.registry import LOSSES, LossTerm, MissingInputError, register_loss
from hifihr.losses.schedule import WeightSchedule, as_schedule

__all__ = [
    "FieldSource",
    "LOSSES",
    "LossOutput",
    "LossTerm",
    "MissingInputError",
    "Objective",
    "PREDICTION_SOURCES",
    "Prediction",
    "RenderLike",
    "SUPERVISION_PRESETS",
    "WeightSchedule",
    "as_schedule",
    "bone_direction_loss",
    "hand_on_black",
    "open_2dj_penalty",
    "preset_weights",
    "register_loss",
    "resolve_weights",
    "root_relative",
    "texture_confidence",
]
