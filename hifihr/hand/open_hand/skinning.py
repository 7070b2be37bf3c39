"""Skinning weights of the open hand: nearest-bone labels diffused over the skin surface."""

from __future__ import annotations

import numpy as np

from .meshing import adjacency
from .skeleton import BONE_CHILD, BONE_JOINT, NUM_BONES, NUM_JOINTS, Skeleton
from .skin_field import sd_round_cone


def _bone_distance(points: np.ndarray, skel: Skeleton) -> np.ndarray:
    """Distance [P, 20] from points to each bone's tapered skin primitive (negative inside);
    the carpal bone stands for the wrist and forearm (a segment along z)."""
    out = np.zeros((len(points), NUM_BONES))
    size = float(skel.params["size"][0])
    out[:, 0] = sd_round_cone(points, np.array([0.0, -3.0, -45.0]) * size, np.array([0.0, -3.0, 4.0]) * size, 20.0 * size, 20.0 * size)
    for bone in range(1, NUM_BONES):
        a, b = skel.joints[BONE_JOINT[bone]], skel.joints[BONE_CHILD[bone]]
        r1, r2 = skel.radii[bone]
        out[:, bone] = sd_round_cone(points, a, b, r1, r2)
    return out


def bone_labels(points: np.ndarray, skel: Skeleton) -> np.ndarray:
    """The nearest bone [P] of each point (by the distance to its tapered primitive)."""
    return np.argmin(_bone_distance(points, skel), axis=1)


def diffuse_labels(labels: np.ndarray, faces: np.ndarray, iterations: int) -> np.ndarray:
    """One-hot bone labels [V] diffused over the mesh (uniform Laplacian, step 1/2), with
    weights under 1 % dropped; returns [V, 20] rows summing to 1."""
    adj = adjacency(faces, len(labels))
    degree = np.asarray(adj.sum(axis=1)).ravel()
    weights = np.eye(NUM_BONES)[labels]
    for _ in range(iterations):
        weights = 0.5 * weights + 0.5 * (adj @ weights) / degree[:, None]
    weights[weights < 0.01] = 0.0
    return weights / weights.sum(axis=1, keepdims=True)


def bone_to_joint_weights(bone_weights: np.ndarray) -> np.ndarray:
    """Per-bone weights [V, 20] -> NIMBLE's per-joint skinning weights [V, 25] (a bone moves
    with the transform of the joint it rotates about)."""
    out = np.zeros((len(bone_weights), NUM_JOINTS))
    out[:, list(BONE_JOINT)] = bone_weights
    return out
