"""Signed distance field of the open hand's skin (design frame, mm, negative inside).

Blended primitives: a palm slab bent across, a forearm stub, the thenar and hypothenar
eminences and tapered round cones for the phalanges, with their axes on the palmar side of
the bones. :func:`project_to_surface` moves points onto the zero level set.
"""

from __future__ import annotations

import numpy as np

from .skeleton import BONE_CHILD, BONE_JOINT, FINGER_BONES, Skeleton, orthonormal_frame


def sd_round_cone(p: np.ndarray, a: np.ndarray, b: np.ndarray, r1: float, r2: float) -> np.ndarray:
    """Exact signed distance [P] from points [P, 3] to a round cone (spheres r1 at a, r2 at b
    and their tangent cone)."""
    ba = b - a
    l2 = float(np.dot(ba, ba))
    rr = r1 - r2
    a2 = l2 - rr * rr
    il2 = 1.0 / l2
    pa = p - a
    y = pa @ ba
    z = y - l2
    x2 = np.sum((pa * l2 - y[:, None] * ba) ** 2, axis=1)
    y2 = y * y * l2
    z2 = z * z * l2
    k = np.sign(rr) * rr * rr * x2
    side = np.sqrt(x2 * a2 * il2) * il2 + y * rr * il2 - r1
    far = np.sqrt(x2 + z2) * il2 - r2
    near = np.sqrt(x2 + y2) * il2 - r1
    out = np.where(np.sign(y) * a2 * y2 < k, near, side)
    return np.where(np.sign(z) * a2 * z2 > k, far, out)


def sd_ellipsoid(p: np.ndarray, center: np.ndarray, axes: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Approximate signed distance [P] to an ellipsoid with columns ``axes`` [3, 3] and
    semi-axes ``radii`` [3] (exact on the surface, a bound elsewhere)."""
    q = (p - center) @ axes
    k0 = np.linalg.norm(q / radii, axis=1)
    k1 = np.linalg.norm(q / (radii * radii), axis=1)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-9)


def sd_polygon(q: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Signed distance [P] from 2D points [P, 2] to a closed polygon [M, 2] (negative inside)."""
    d = np.sum((q - poly[0]) ** 2, axis=1)
    s = np.ones(len(q))
    for i in range(len(poly)):
        vi, vj = poly[i], poly[i - 1]
        e = vj - vi
        w = q - vi
        b = w - e * np.clip((w @ e) / np.dot(e, e), 0.0, 1.0)[:, None]
        d = np.minimum(d, np.sum(b * b, axis=1))
        c1 = q[:, 1] >= vi[1]
        c2 = q[:, 1] < vj[1]
        c3 = e[0] * w[:, 1] > e[1] * w[:, 0]
        flip = (c1 & c2 & c3) | (~c1 & ~c2 & ~c3)
        s = np.where(flip, -s, s)
    return s * np.sqrt(d)


def smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Smooth minimum of two distance fields with a blend radius ``k`` (quadratic)."""
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * k * 0.25


#: Palm outline in the design frame's (x, z) plane at mid-thickness (mm), counter-clockwise.
PALM_OUTLINE = np.array(
    [[22.0, -14.0], [34.0, 30.0], [38.0, 62.0], [36.0, 80.0], [28.0, 88.0], [8.0, 92.0], [-12.0, 87.0],
     [-29.0, 78.0], [-37.0, 66.0], [-38.0, 30.0], [-27.0, -14.0]]
)  # fmt: skip


def palm_sdf(p: np.ndarray, skel: Skeleton) -> np.ndarray:
    """Palm slab, forearm stub and the two eminences (design frame, mm)."""
    prm = skel.params
    size = float(prm["size"][0])
    width, length, thick = float(prm["palm_width"][0]), float(prm["palm_length"][0]), float(prm["palm_thickness"][0])
    # Undo the palm's own scalings so one outline serves every shape.
    q = p / size
    x = q[:, 0] / width
    zc = 18.0
    z = zc + (q[:, 2] - zc) / length
    # Transverse arch: the back is convex, the palm cupped.
    y = q[:, 1] + 0.0045 * x * x
    d2 = sd_polygon(np.stack([x, z], axis=1), PALM_OUTLINE)
    # Half-thickness: 15 mm at the wrist down to 11.5 mm at the knuckles; centre on the palmar side.
    half = (15.0 - 3.5 * np.clip((z - 10.0) / 70.0, 0.0, 1.0)) * thick
    yc = -3.5 * thick
    rnd = 0.8 * half
    ex = np.stack([d2 + rnd, np.abs(y - yc) - half + rnd], axis=1)
    slab = np.linalg.norm(np.maximum(ex, 0.0), axis=1) + np.minimum(ex.max(axis=1), 0.0) - rnd
    # Forearm stub: elliptic section (60 x 38 mm), a rounded end 45 mm proximal to the carpal joint.
    fq = np.stack([(q[:, 0] + 1.5) / (1.45 * width), q[:, 1] + 3.0, q[:, 2]], axis=1)
    arm = sd_round_cone(fq, np.array([0.0, 0.0, -32.0]), np.array([0.0, 0.0, 6.0]), 19.0 * thick, 18.0 * thick)
    body = smin(slab, arm, 14.0)
    hypothenar = sd_ellipsoid(
        np.stack([x, q[:, 1], z], axis=1), np.array([-24.0, -9.0 * thick, 30.0]), np.eye(3), np.array([13.0, 10.0 * thick, 27.0])
    )
    body = smin(body, hypothenar, 8.0)
    return body * size


def finger_sdf(p: np.ndarray, skel: Skeleton, finger: int) -> np.ndarray:
    """A finger (thumb: metacarpal and two phalanges) as round cones whose axes lie 1.5 mm
    palmar of the bones, ending in a rounded tip 3.5 mm beyond the distal bone end."""
    bones = FINGER_BONES[finger] if finger == 0 else FINGER_BONES[finger][1:]
    d = np.full(len(p), np.inf)
    for i, bone in enumerate(bones):
        frame = skel.frames[bone]
        shift = -1.5 * frame[:, 1]
        a = skel.joints[BONE_JOINT[bone]] + shift
        b = skel.joints[BONE_CHILD[bone]] + shift
        r1, r2 = skel.radii[bone]
        if i == 0 and finger > 0:
            a = a - 6.0 * frame[:, 2]  # start inside the palm so the knuckle blends in
        if i == len(bones) - 1:
            b = b + (3.5 - r2 * 0.55) * frame[:, 2] - 0.6 * frame[:, 1]
            r2 = r2 * 0.92
        d = np.minimum(d, sd_round_cone(p, a, b, r1, r2))
    return d


def thenar_sdf(p: np.ndarray, skel: Skeleton) -> np.ndarray:
    """The thenar eminence: an ellipsoid along the thumb metacarpal, on the palm side."""
    met = 1
    start, end = skel.joints[BONE_JOINT[met]], skel.joints[BONE_CHILD[met]]
    size = float(skel.params["size"][0])
    center = start + 0.42 * (end - start) + size * np.array([-9.0, -5.0, -3.0])
    axes = orthonormal_frame(end - start + np.array([0.0, 0.0, 10.0]), np.array([0.3, 1.0, 0.0]))
    return sd_ellipsoid(p, center, axes, size * np.array([16.0, 11.5, 25.0]))


def hand_sdf(p: np.ndarray, skel: Skeleton) -> np.ndarray:
    """Signed distance [P] (mm, negative inside) of the skin at points [P, 3], design frame."""
    body = palm_sdf(p, skel)
    thumb = smin(finger_sdf(p, skel, 0), thenar_sdf(p, skel), 9.0)
    hand = smin(body, thumb, 10.0)
    for finger in range(1, 5):
        hand = smin(hand, finger_sdf(p, skel, finger), 5.0)
    return hand


def sdf_gradient(p: np.ndarray, skel: Skeleton, eps: float = 0.05) -> np.ndarray:
    """Central-difference gradient [P, 3] of :func:`hand_sdf`."""
    grad = np.zeros_like(p)
    for axis in range(3):
        step = np.zeros(3)
        step[axis] = eps
        grad[:, axis] = (hand_sdf(p + step, skel) - hand_sdf(p - step, skel)) / (2.0 * eps)
    return grad


def project_to_surface(verts: np.ndarray, skel: Skeleton, iterations: int = 4) -> np.ndarray:
    """Move points [V, 3] onto the zero level set by Newton steps along the gradient."""
    for _ in range(iterations):
        d = hand_sdf(verts, skel)
        g = sdf_gradient(verts, skel)
        verts = verts - (d / np.maximum(np.sum(g * g, axis=1), 1e-6))[:, None] * g
    return verts
