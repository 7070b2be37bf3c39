"""The open hand's inner meshes: a capsule per bone (their end rings define the joints
through ``jreg_bone``) and six ellipsoids for the muscle groups (design frame, mm)."""

from __future__ import annotations

import numpy as np

from .meshing import signed_volume
from .skeleton import BONE_CHILD, BONE_JOINT, NUM_BONES, NUM_JOINTS, Skeleton, orthonormal_frame, unit


BONE_RING = 8  # vertices per bone ring


def _bone_segment(skel: Skeleton, bone: int) -> tuple[np.ndarray, np.ndarray]:
    """End points of a bone mesh's axis (the carpal bone lies across the wrist, along x)."""
    if bone == 0:
        half = np.array([13.0, 0.0, 0.0]) * float(skel.params["size"][0])
        return skel.joints[0] - half, skel.joints[0] + half
    return skel.joints[BONE_JOINT[bone]], skel.joints[BONE_CHILD[bone]]


def make_bones(skel: Skeleton) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Capsule-like bone meshes: per bone three rings of 8 vertices (at the two ends and the
    middle; the carpal bone's middle ring is centred on the carpal joint) and two poles.

    Returns:
        verts [Nb, 3], faces [Fb, 3] (local indices), owner [Nb] (bone of each vertex) and
        jreg_bone [25, Nb]: each joint is the mean of the ring centred on it.
    """
    verts, faces, owner = [], [], []
    ring_of: dict[tuple[int, int], np.ndarray] = {}
    angles = 2 * np.pi * np.arange(BONE_RING) / BONE_RING
    for bone in range(NUM_BONES):
        a, b = _bone_segment(skel, bone)
        axis = unit(b - a)
        frame = orthonormal_frame(axis, skel.frames[bone][:, 1] if bone else np.array([0.0, 1.0, 0.0]))
        radius = 0.3 * skel.radii[bone].mean() if bone else 6.0 * float(skel.params["size"][0])
        base = sum(len(v) for v in verts)
        ring_dirs = np.cos(angles)[:, None] * frame[:, 0] + np.sin(angles)[:, None] * frame[:, 1]
        rings = [c + radius * ring_dirs for c in (a, 0.5 * (a + b), b)]
        poles = [a - radius * axis, b + radius * axis]
        block = np.concatenate(rings + [np.array(poles)])
        verts.append(block)
        owner.append(np.full(len(block), bone))
        for r in range(3):
            ring_of[(bone, r)] = base + r * BONE_RING + np.arange(BONE_RING)
        for r in range(2):
            for i in range(BONE_RING):
                j = (i + 1) % BONE_RING
                p, q = base + r * BONE_RING + i, base + r * BONE_RING + j
                faces += [(p, q, q + BONE_RING), (p, q + BONE_RING, p + BONE_RING)]
        south, north = base + 3 * BONE_RING, base + 3 * BONE_RING + 1
        for i in range(BONE_RING):
            j = (i + 1) % BONE_RING
            faces += [(south, base + j, base + i), (north, base + 2 * BONE_RING + i, base + 2 * BONE_RING + j)]
    verts = np.concatenate(verts)
    faces = np.array(faces, dtype=np.int64)
    # Orient outwards: the ring parametrisation may wind either way depending on the frame.
    if signed_volume(verts, faces[: 6 * BONE_RING]) < 0:
        faces = faces[:, ::-1].copy()
    jreg = np.zeros((NUM_JOINTS, len(verts)))
    jreg[0, ring_of[(0, 1)]] = 1.0 / BONE_RING
    for bone in range(1, NUM_BONES):
        jreg[BONE_JOINT[bone], ring_of[(bone, 0)]] = 1.0 / BONE_RING
        if BONE_CHILD[bone] in (4, 9, 14, 19, 24):
            jreg[BONE_CHILD[bone], ring_of[(bone, 2)]] = 1.0 / BONE_RING
    return verts, faces, np.concatenate(owner), jreg



def icosphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere: ``(verts [V, 3], faces [F, 3])``, outward-facing."""
    t = (1.0 + 5**0.5) / 2.0
    verts = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
             (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]  # fmt: skip
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2),
             (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5),
             (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]  # fmt: skip
    verts = [np.array(v, dtype=float) / np.linalg.norm(v) for v in verts]
    for _ in range(subdivisions):
        cache: dict[tuple[int, int], int] = {}

        def middle(i: int, j: int) -> int:
            key = (min(i, j), max(i, j))
            if key not in cache:
                verts.append(unit(verts[i] + verts[j]))
                cache[key] = len(verts) - 1
            return cache[key]

        new_faces = []
        for a, b, c in faces:
            ab, bc, ca = middle(a, b), middle(b, c), middle(c, a)
            new_faces += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new_faces
    return np.array(verts), np.array(faces, dtype=np.int64)


def make_muscles(skel: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Six ellipsoids for the muscle groups (thenar, adductor pollicis, hypothenar, three
    interossei), each well inside the skin. Returns ``(verts [Nm, 3], faces [Fm, 3])``."""
    sphere_v, sphere_f = icosphere(1)
    j = skel.joints
    size = float(skel.params["size"][0])
    thumb_mid = 0.5 * (j[1] + j[2])
    groups = [
        (thumb_mid + size * np.array([-8.0, -4.0, -2.0]), orthonormal_frame(j[2] - j[1], np.array([0.3, 1.0, 0.0])), [7.0, 5.0, 13.0]),
        (0.5 * (j[1] + j[11]) + size * np.array([0.0, -6.0, 0.0]), orthonormal_frame(j[11] - j[1], np.array([0.0, 1.0, 0.0])), [6.0, 3.5, 13.0]),
        (np.array([-24.0, -8.0, 32.0]) * size, np.eye(3), [6.0, 5.0, 16.0]),
    ]  # fmt: skip
    for a, b in ((5, 10), (10, 15), (15, 20)):
        start, end = 0.5 * (j[a] + j[b]), 0.5 * (j[a + 1] + j[b + 1])
        groups.append((0.5 * (start + end) + size * np.array([0.0, -1.5, 0.0]), orthonormal_frame(end - start, np.array([0.0, 1.0, 0.0])), [3.0, 3.5, 18.0]))
    verts = [c + (sphere_v * np.array(r) * size) @ axes.T for c, axes, r in groups]
    faces = [sphere_f + i * len(sphere_v) for i in range(len(groups))]
    return np.concatenate(verts), np.concatenate(faces)
