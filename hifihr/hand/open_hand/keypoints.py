"""The open hand's 21-keypoint regressor (FreiHAND order) over its skin vertices."""

from __future__ import annotations

import numpy as np

from .skeleton import BONE_CHILD, BONE_JOINT, NUM_BONES, Skeleton, unit


#: NIMBLE joint of each FreiHAND keypoint that is not a fingertip (-1: wrist, -2: a tip).
_FREIHAND_SOURCES = (-1, 1, 2, 3, -2, 6, 7, 8, -2, 11, 12, 13, -2, 16, 17, 18, -2, 21, 22, 23, -2)
#: Distal bone of each finger, in FreiHAND's finger order (thumb, index, middle, ring, little).
_TIP_BONES = (3, 7, 11, 15, 19)
#: Level of the wrist keypoint on the forearm axis (design frame z, mm).
WRIST_Z = -12.0


def convex_fit(points: np.ndarray, target: np.ndarray, smooth: float = 1e-3) -> np.ndarray:
    """Convex weights [P] (>= 0, summing to 1) with ``weights @ points`` ~ ``target``, as close
    to uniform as allowed (non-negative least squares with a heavy row for each constraint)."""
    from scipy.optimize import nnls

    n = len(points)
    heavy = 1e3
    a = np.concatenate([heavy * points.T, heavy * np.ones((1, n)), np.sqrt(smooth) * np.eye(n)])
    b = np.concatenate([heavy * target, [heavy], np.full(n, np.sqrt(smooth) / n)])
    weights, _ = nnls(a, b, maxiter=50 * n)
    return weights / weights.sum()


def keypoint_regressor(skin_v: np.ndarray, skel: Skeleton) -> np.ndarray:
    """21 x Ns regressor in FreiHAND order: the wrist is the centroid of the skin ring at
    ``WRIST_Z``; every joint a convex combination of the skin ring around it (cut by the plane
    through the joint normal to the bisector of its two bones) that reproduces the joint
    centre; every tip the skin vertex furthest along its distal bone (penalising the distance
    from the bone's axis twice)."""
    reg = np.zeros((21, len(skin_v)))
    for k, source in enumerate(_FREIHAND_SOURCES):
        if source == -1:
            ring = np.flatnonzero((np.abs(skin_v[:, 2] - WRIST_Z) < 3.0) & (skin_v[:, 0] > -45.0))
            reg[k, ring] = 1.0 / len(ring)
        elif source == -2:
            bone = _TIP_BONES[(k - 1) // 4]
            a, b = skel.joints[BONE_JOINT[bone]], skel.joints[BONE_CHILD[bone]]
            axis = unit(b - a)
            rel = skin_v - a
            radial = np.linalg.norm(rel - np.outer(rel @ axis, axis), axis=1)
            reg[k, np.argmax(rel @ axis - 2.0 * radial)] = 1.0
        else:
            bone = BONE_JOINT.index(source)
            child_axis = skel.frames[bone][:, 2]
            parent_bone = [b for b in range(1, NUM_BONES) if BONE_CHILD[b] == source]
            axis = unit(child_axis + (skel.frames[parent_bone[0]][:, 2] if parent_bone else child_axis))
            center = skel.joints[source]
            rel = skin_v - center
            along = rel @ axis
            dist = np.linalg.norm(rel, axis=1)
            ring = np.flatnonzero((np.abs(along) < 3.0) & (dist < 2.6 * skel.radii[bone][0]))
            reg[k, ring] = convex_fit(skin_v[ring], center)
    return reg
