"""The open hand's skeleton: 25 joints and 20 bones built by forward kinematics (mm, degrees).

The design frame is NIMBLE's axes (wrist -> fingertips along +z, thumb on +x, palm facing -y)
with the carpal joint at the origin and the bones' axes of the palm in the plane y = 0;
:func:`design_to_nimble` maps it rigidly into NIMBLE's rest frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from ..joints import NIMBLE_BONE_JOINTS, NIMBLE_PARENTS
from ..nimble import NUM_BONES, NUM_JOINTS


#: Joint about which each bone rotates (NIMBLE's joints: carpal, then per finger, thumb first,
#: met, pro, [int,] dis, dis_end).
BONE_JOINT = NIMBLE_BONE_JOINTS
#: Joint at the far end of each bone (-1: the carpal bone, which has five, has none).
BONE_CHILD = (-1,) + tuple(NIMBLE_PARENTS.index(joint) for joint in BONE_JOINT[1:])
#: Bones of each finger, proximal to distal (thumb: met, pro, dis; others: met, pro, int, dis).
FINGER_BONES = ((1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11), (12, 13, 14, 15), (16, 17, 18, 19))
#: NIMBLE's rest frame: the carpal joint of the official template, and a tilt of the palm
#: (rotation about +x that brings the fingers towards -y), so that the open hand lands where
#: the official one does.
CARPAL_POSITION = np.array([9.56, -22.86, -102.15])
PALM_TILT_DEG = -11.0


def rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    """3x3 rotation about the unit ``axis`` by ``degrees`` (right-hand rule)."""
    return Rotation.from_rotvec(np.radians(degrees) * np.asarray(axis, dtype=float)).as_matrix()


def unit(v: np.ndarray) -> np.ndarray:
    """``v`` [..., 3] scaled to unit length."""
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def default_hand() -> dict[str, np.ndarray]:
    """Anatomical parameters of the open hand in the design frame (mm, degrees).

    The design frame is NIMBLE's axes with the carpal joint at the origin and the palm in the
    plane y = 0 (bones' axes); :func:`design_to_nimble` tilts and moves it into NIMBLE's frame.

    Keys:
        cmc: [5, 3] carpometacarpal joints (thumb, index, middle, ring, little).
        mcp: [4, 3] metacarpophalangeal joints of the four fingers.
        thumb_dir, thumb_dorsal: [3] thumb metacarpal direction and its nail-side normal.
        thumb_met_len: [1] length of the thumb metacarpal.
        phalanges: [5, 3] lengths of the phalanges (thumb: proximal, distal, unused 0).
        spread: [4] finger directions from +z towards +x (degrees).
        rest_flex: [5, 3] rest flexion of the joints distal to each metacarpal (degrees).
        radii: [5, 4] skin radii at the MCP (thumb: CMC), the next two joints and the tip.
        palm_width / palm_length / palm_thickness / size: [1] factors (1 = the default hand).
    """
    return {
        "cmc": np.array([[19.0, -9.0, 9.0], [16.0, 0.0, 18.0], [4.5, 0.0, 19.5], [-6.5, 0.0, 18.0], [-16.5, 0.0, 14.0]]),
        "mcp": np.array([[29.5, 0.0, 80.5], [8.0, 0.0, 83.5], [-12.5, 0.0, 78.5], [-31.0, 0.0, 69.5]]),
        "thumb_dir": unit(np.array([0.50, -0.42, 0.76])),
        "thumb_dorsal": np.array([0.80, 0.55, 0.0]),
        "thumb_met_len": np.array([45.0]),
        "phalanges": np.array([[32.0, 25.0, 0.0], [40.0, 23.5, 17.5], [44.5, 27.5, 18.5], [41.5, 26.5, 18.0], [33.0, 19.5, 16.5]]),
        "spread": np.array([9.0, 0.5, -9.0, -18.0]),
        "rest_flex": np.array([[12.0, 12.0, 0.0], [8.0, 10.0, 6.0], [8.0, 10.0, 6.0], [8.0, 10.0, 6.0], [9.0, 11.0, 6.0]]),
        "radii": np.array(
            [[13.5, 11.8, 10.4, 8.3], [10.6, 9.4, 8.3, 6.9], [10.8, 9.6, 8.5, 7.0], [10.2, 9.0, 8.0, 6.6], [9.1, 8.0, 7.1, 6.0]]
        ),
        "palm_width": np.array([1.0]),
        "palm_length": np.array([1.0]),
        "palm_thickness": np.array([1.0]),
        "size": np.array([1.0]),
    }


@dataclass(frozen=True)
class Skeleton:
    """Joints and bone frames of a hand (design frame, mm).

    Attributes:
        joints: [25, 3] NIMBLE joints.
        frames: [20, 3, 3] per bone, columns (lateral = flexion axis, dorsal normal, axial
            direction towards the child joint); flexing a bone by +angle about its lateral
            axis moves its tip to the palmar side.
        lengths: [20] distance from a bone's joint to its child joint (carpal bone: 20 mm).
        radii: [20, 2] skin radius at the proximal and distal end of each bone.
        params: the parameters it was built from.
    """

    joints: np.ndarray
    frames: np.ndarray
    lengths: np.ndarray
    radii: np.ndarray
    params: dict


def orthonormal_frame(axial: np.ndarray, dorsal: np.ndarray) -> np.ndarray:
    """Columns (lateral, dorsal, axial) from an axial direction and an approximate dorsal one."""
    axial = unit(axial)
    dorsal = unit(dorsal - axial * np.dot(dorsal, axial))
    return np.stack([np.cross(dorsal, axial), dorsal, axial], axis=1)


def make_skeleton(p: dict[str, np.ndarray]) -> Skeleton:
    """Forward kinematics of the hand described by ``p`` (see :func:`default_hand`)."""
    size = float(p["size"][0])
    # Palm width scales x about the palm's centre line (x = 0), palm length the metacarpals.
    cmc = p["cmc"].copy()
    mcp = p["mcp"].copy()
    cmc[:, 0] *= p["palm_width"][0]
    mcp[:, 0] *= p["palm_width"][0]
    mcp[:, 2] = cmc[1:, 2] + (mcp[:, 2] - cmc[1:, 2]) * p["palm_length"][0]
    cmc, mcp = cmc * size, mcp * size
    joints = np.zeros((NUM_JOINTS, 3))
    frames = np.zeros((NUM_BONES, 3, 3))
    frames[0] = np.eye(3)
    radii = np.zeros((NUM_BONES, 2))
    radii[0] = (20.0 * size, 20.0 * size)
    phal = p["phalanges"] * size * p.get("finger_length", np.ones(5))[:, None]
    r = p["radii"] * size * p.get("finger_thickness", np.ones(5))[:, None]
    # Thumb: CMC, MCP, IP, tip.
    joints[1] = cmc[0]
    frame = orthonormal_frame(p["thumb_dir"], p["thumb_dorsal"])
    lengths = [float(p["thumb_met_len"][0]) * size * p.get("finger_length", np.ones(5))[0]] + list(phal[0, :2])
    flex = [0.0] + list(p["rest_flex"][0, :2])
    for step, bone in enumerate(FINGER_BONES[0]):
        frame = rotation(frame[:, 0], flex[step]) @ frame
        frames[bone] = frame
        joints[BONE_CHILD[bone]] = joints[BONE_JOINT[bone]] + lengths[step] * frame[:, 2]
        radii[bone] = (r[0, step], r[0, step + 1])
    for finger in range(1, 5):
        met, pro, mid, dis = FINGER_BONES[finger]
        joints[BONE_JOINT[met]] = cmc[finger]
        joints[BONE_JOINT[pro]] = mcp[finger - 1]
        frames[met] = orthonormal_frame(mcp[finger - 1] - cmc[finger], np.array([0.0, 1.0, 0.0]))
        radii[met] = (r[finger, 0] * 0.9, r[finger, 0])
        spread = np.radians(p["spread"][finger - 1])
        frame = orthonormal_frame(np.array([np.sin(spread), 0.0, np.cos(spread)]), np.array([0.0, 1.0, 0.0]))
        for step, bone in enumerate((pro, mid, dis)):
            frame = rotation(frame[:, 0], p["rest_flex"][finger, step]) @ frame
            frames[bone] = frame
            joints[BONE_CHILD[bone]] = joints[BONE_JOINT[bone]] + phal[finger, step] * frame[:, 2]
            radii[bone] = (r[finger, step], r[finger, step + 1])
    lengths_all = np.array(
        [20.0 * size] + [np.linalg.norm(joints[BONE_CHILD[b]] - joints[BONE_JOINT[b]]) for b in range(1, NUM_BONES)]
    )
    return Skeleton(joints=joints, frames=frames, lengths=lengths_all, radii=radii, params=p)


def design_to_nimble() -> tuple[np.ndarray, np.ndarray]:
    """Rigid map from the design frame to NIMBLE's rest frame: ``x_nimble = R x + t``."""
    rot = rotation(np.array([1.0, 0.0, 0.0]), -PALM_TILT_DEG)
    return rot, CARPAL_POSITION.copy()
