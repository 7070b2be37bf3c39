"""Joint and keypoint orders of every convention the project meets, and converters between them.

Inside the project, 21 keypoints are always in **FreiHAND order** (= OpenPose order):
0 wrist; 1-4 thumb (CMC, MCP, IP, tip); 5-8 index (MCP, PIP, DIP, tip); 9-12 middle;
13-16 ring; 17-20 pinky. Every other order is defined here by its joint names, so that
permutations are derived from names, never typed by hand:

=========== ==========================================================================
order       meaning
=========== ==========================================================================
freihand    FreiHAND / OpenPose (the project's order); alias ``openpose``
mano        MANO's 16 joints then the 5 tips (thumb, index, middle, ring, pinky);
            this is also the HO-3D annotation order and manopth's pre-reorder output;
            alias ``ho3d``
s2hand      S2HAND/HiFiHR internal MANO order: wrist, then index, middle, pinky, ring,
            thumb, each 3 joints followed by its tip
rhd         RHD, one hand: wrist, then each finger tip -> base (thumb, index, middle,
            ring, pinky). RHD files hold 42 = left (0-20) then right (21-41)
mediapipe   MediaPipe's ``HandLandmark`` enum (:data:`MEDIAPIPE_LANDMARK_NAMES`), mapped
            onto the project's names; it lists the keypoints in the FreiHAND order
=========== ==========================================================================

NIMBLE's 25 anatomical joints (carpal root, a CMC joint for every metacarpal, bone-end tips)
are listed in :data:`NIMBLE_JOINT_NAMES`. They sit inside the bones; the 21 keypoints are
regressed from the skin.
"""

from __future__ import annotations

from typing import Sequence, TypeVar

import numpy as np
import torch

FINGERS = ("thumb", "index", "middle", "ring", "pinky")

#: The project's keypoint order (FreiHAND = OpenPose).
FREIHAND_NAMES: tuple[str, ...] = ("wrist",) + tuple(
    f"{finger}_{part}"
    for finger in FINGERS
    for part in (("cmc", "mcp", "ip", "tip") if finger == "thumb" else ("mcp", "pip", "dip", "tip"))
)


def _finger_joints(finger: str) -> tuple[str, str, str]:
    """The three non-tip keypoints of a finger, proximal to distal."""
    return tuple(FREIHAND_NAMES[1 + 4 * FINGERS.index(finger) + i] for i in range(3))  # type: ignore[return-value]


#: MANO's 16 kinematic joints: wrist, then index, middle, pinky, ring, thumb (3 each).
MANO16_NAMES: tuple[str, ...] = ("wrist",) + tuple(
    name for finger in ("index", "middle", "pinky", "ring", "thumb") for name in _finger_joints(finger)
)

_TIPS = tuple(f"{finger}_tip" for finger in FINGERS)

KEYPOINT_ORDERS: dict[str, tuple[str, ...]] = {
    "freihand": FREIHAND_NAMES,
    "mano": MANO16_NAMES + _TIPS,
    "s2hand": ("wrist",)
    + tuple(
        name
        for finger in ("index", "middle", "pinky", "ring", "thumb")
        for name in _finger_joints(finger) + (f"{finger}_tip",)
    ),
    "rhd": ("wrist",)
    + tuple(name for finger in FINGERS for name in reversed(_finger_joints(finger) + (f"{finger}_tip",))),
}
#: MediaPipe's hand landmark names (``mediapipe.tasks.python.vision.HandLandmark``), in its order.
MEDIAPIPE_LANDMARK_NAMES: tuple[str, ...] = ("WRIST",) + tuple(
    f"{'THUMB' if finger == 'thumb' else finger.upper() + ('' if finger == 'pinky' else '_FINGER')}_{part}"
    for finger in FINGERS
    for part in (("CMC", "MCP", "IP", "TIP") if finger == "thumb" else ("MCP", "PIP", "DIP", "TIP"))
)
KEYPOINT_ORDERS["mediapipe"] = tuple(
    name.lower().replace("_finger", "") for name in MEDIAPIPE_LANDMARK_NAMES
)
_ALIASES = {"openpose": "freihand", "ho3d": "mano"}

#: Index of the root keypoint (middle MCP) used to make 3D outputs root-relative.
ROOT_INDEX = FREIHAND_NAMES.index("middle_mcp")
#: Index of the wrist, the root of HO-3D's evaluation split.
WRIST_INDEX = FREIHAND_NAMES.index("wrist")

#: Parent of each FreiHAND keypoint (-1 for the wrist): each finger is a chain from the wrist.
FREIHAND_PARENTS: tuple[int, ...] = (-1,) + tuple(
    0 if (k - 1) % 4 == 0 else k - 1 for k in range(1, 21)
)

#: MANO vertex ids of the fingertips, in the order (thumb, index, middle, ring, pinky).
#: The three public conventions differ by up to a vertex spacing; pick one per dataset.
FINGERTIP_VERTICES: dict[str, tuple[int, int, int, int, int]] = {
    "freihand": (744, 320, 443, 555, 672),  # FreiHAND toolbox, S2HAND, HiFiHR
    "ho3d": (744, 333, 444, 555, 672),  # HO-3D toolkit
    "manopth": (745, 317, 444, 556, 673),  # manopth, right hand
}

#: NIMBLE's 25 joints (carpal root; per finger met(acarpal), pro(ximal), int(ermediate),
#: dis(tal), bone end). The thumb has no intermediate phalanx.
NIMBLE_JOINT_NAMES: tuple[str, ...] = (
    "carpal",
    "met1", "pro1", "dis1", "dis1_end",
    "met2", "pro2", "int2", "dis2", "dis2_end",
    "met3", "pro3", "int3", "dis3", "dis3_end",
    "met4", "pro4", "int4", "dis4", "dis4_end",
    "met5", "pro5", "int5", "dis5", "dis5_end",
)  # fmt: skip
#: Parent of each NIMBLE joint (-1 for the root): each finger is a chain from the carpal.
NIMBLE_PARENTS: tuple[int, ...] = (-1,) + tuple(
    0 if NIMBLE_JOINT_NAMES[j].startswith("met") else j - 1 for j in range(1, 25)
)
#: For each of NIMBLE's 20 bones, the joint it rotates about (the joint's row of the full pose).
NIMBLE_BONE_JOINTS: tuple[int, ...] = tuple(j for j in range(25) if not NIMBLE_JOINT_NAMES[j].endswith("_end"))


def _canonical(order: str) -> str:
    name = _ALIASES.get(order, order)
    if name not in KEYPOINT_ORDERS:
        valid = sorted(KEYPOINT_ORDERS) + sorted(_ALIASES)
        raise ValueError(f"unknown keypoint order {order!r}; valid orders: {', '.join(valid)}")
    return name


def keypoint_names(order: str) -> tuple[str, ...]:
    """The 21 keypoint names of ``order`` (see the module docstring for the orders)."""
    return KEYPOINT_ORDERS[_canonical(order)]


def permutation(src: str, dst: str) -> tuple[int, ...]:
    """Gather indices ``P`` such that ``x_dst = x_src[..., P, :]`` for keypoints [..., 21, D].

    Example: ``permutation("mano", "freihand")`` is
    ``(0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20)``.
    """
    src_names = keypoint_names(src)
    return tuple(src_names.index(name) for name in keypoint_names(dst))


ArrayLike = TypeVar("ArrayLike", torch.Tensor, np.ndarray)


def convert(keypoints: ArrayLike, src: str, dst: str) -> ArrayLike:
    """Reorder keypoints [..., 21, D] (tensor or array) from order ``src`` to order ``dst``."""
    if keypoints.shape[-2] != 21:
        raise ValueError(f"keypoints: expected [..., 21, D], got {tuple(keypoints.shape)}")
    index: Sequence[int] = permutation(src, dst)
    if isinstance(keypoints, torch.Tensor):
        return keypoints[..., torch.tensor(index, device=keypoints.device), :]
    return keypoints[..., list(index), :]


def rhd_hand(keypoints: ArrayLike, hand: str) -> ArrayLike:
    """The 21 keypoints [..., 21, D] of one hand ("left" or "right") from RHD's 42 [..., 42, D]."""
    if keypoints.shape[-2] != 42:
        raise ValueError(f"RHD keypoints: expected [..., 42, D], got {tuple(keypoints.shape)}")
    offsets = {"left": 0, "right": 21}
    if hand not in offsets:
        raise ValueError(f"hand: expected 'left' or 'right', got {hand!r}")
    return keypoints[..., offsets[hand] : offsets[hand] + 21, :]
