"""Samples of the open hand's pose space: seeded joint angles within anatomical limits."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from .skeleton import FINGER_BONES, NUM_BONES, Skeleton, rotation


def sample_pose(rng: np.random.Generator, skel: Skeleton) -> np.ndarray:
    """A random plausible hand pose as local rotations [20, 3, 3] relative to the rest pose
    (bone 0, the root, is the identity).

    A grasp level drives every finger (with individual deviations); DIP flexion follows
    2/3 of the PIP; spread opens the MCPs (less when flexed); the ring and little
    metacarpals cup; the thumb opposes (CMC swing across the palm and pronation) and flexes.
    Angles are absolute anatomical angles clipped to their limits, minus the rest angles.
    """
    rots = np.tile(np.eye(3), (NUM_BONES, 1, 1))
    rest = skel.params["rest_flex"]
    grasp = np.clip(rng.beta(1.2, 2.6) * 1.2 - 0.12, -0.15, 1.0)
    spread = np.clip(0.45 + 0.5 * rng.standard_normal(), -0.6, 1.4)
    cup = rng.uniform(0.0, 1.0) * grasp
    for finger in range(1, 5):
        close = np.clip(grasp + 0.2 * rng.standard_normal(), -0.2, 1.05)
        mcp = np.clip(82.0 * close + 8.0 * rng.standard_normal(), -25.0, 92.0)
        pip = np.clip(98.0 * close + 10.0 * rng.standard_normal(), -5.0, 110.0)
        dip = np.clip(0.67 * pip + 7.0 * rng.standard_normal(), -8.0, 85.0)
        abduct = (spread * (10.0, 1.5, -8.0, -15.0)[finger - 1] + 3.0 * rng.standard_normal()) * (1.0 - 0.6 * max(close, 0.0))
        met, pro, mid, dis = FINGER_BONES[finger]
        rots[met] = rotation(skel.frames[met][:, 0], cup * (0.0, 1.0, 4.0, 9.0)[finger - 1])
        frame = skel.frames[pro]
        rots[pro] = rotation(frame[:, 0], mcp - rest[finger, 0]) @ rotation(frame[:, 1], abduct)
        rots[mid] = rotation(skel.frames[mid][:, 0], pip - rest[finger, 1])
        rots[dis] = rotation(skel.frames[dis][:, 0], dip - rest[finger, 2])
    oppose = np.clip(rng.uniform(-0.2, 1.0) * 0.6 + 0.5 * max(grasp, 0.0), -0.2, 1.0)
    thumb_close = np.clip(0.8 * grasp + 0.25 * rng.standard_normal(), -0.2, 1.0)
    met, pro, dis = FINGER_BONES[0]
    swing = rotation(np.array([0.0, 0.15, 1.0]) / np.linalg.norm([0.0, 0.15, 1.0]), -38.0 * oppose + 4.0 * rng.standard_normal())
    pronate = rotation(skel.frames[met][:, 2], 18.0 * oppose)
    flex = rotation(skel.frames[met][:, 0], 12.0 * thumb_close + 5.0 * rng.standard_normal())
    rots[met] = swing @ flex @ pronate
    rots[pro] = rotation(skel.frames[pro][:, 0], np.clip(50.0 * thumb_close + 8.0 * rng.standard_normal(), -10.0, 60.0) - rest[0, 0])
    rots[dis] = rotation(skel.frames[dis][:, 0], np.clip(65.0 * thumb_close + 10.0 * rng.standard_normal(), -15.0, 85.0) - rest[0, 1])
    # Small independent rotations of every bone keep the sample full rank (57 dimensions).
    for bone in range(1, NUM_BONES):
        rots[bone] = rots[bone] @ Rotation.from_rotvec(np.radians(1.5) * rng.standard_normal(3)).as_matrix()
    return rots
