"""Build the open hand: a right hand in NIMBLE's file format, made from code, CC0.

Run ``python scripts/build_open_hand.py`` to (re)write ``assets/open_hand/``. The build is
deterministic: a seed drives every random draw, and the same seed on the same software gives
byte-identical pickles (their SHA-256 are written to ``assets/open_hand/SHA256SUMS``).

How the hand is made (all lengths in millimetres, NIMBLE's frame: wrist -> fingertips along +z,
thumb on +x, palm facing -y):

1. **Skeleton.** 25 joints and 20 bones with anatomical lengths, built by forward kinematics
   from a flat hand with a slight rest flexion (:func:`make_skeleton`).
2. **Skin.** A signed distance field of blended primitives (palm slab bent across, forearm
   stub, thenar and hypothenar eminences, tapered round cones for the phalanges with their
   axes on the palmar side of the bones), meshed with surface nets on a fine grid, decimated
   with quadric error metrics and projected back onto the zero level set (:func:`make_skin`).
3. **Bones and muscles.** A capsule mesh per bone whose end rings are centred on the joints
   (the joint regressor averages those rings); six ellipsoids for muscle groups.
4. **Skinning.** Nearest-bone labels diffused over the skin surface, normalised per vertex.
5. **Shape PCA** over displacement fields of seeded parametric variations (finger lengths and
   thickness, palm width, length and thickness, overall size, ...) applied as smooth
   bone-driven space warps, so the topology never changes.
6. **Pose PCA** over a seeded sample of joint angles within anatomical limits (flexion of
   every joint, spread, thumb opposition), as NIMBLE's 19 bone axis-angles.
7. **UV layout and textures.** Two islands (back and palm) unrolled with least-squares
   conformal maps; procedural diffuse, normal and specular maps baked in texture space from
   3D features (tone, lighter palm, joint creases, palm lines, nails, mottling); texture PCA.
8. **Keypoints.** A 21-keypoint regressor in FreiHAND order from skin vertex rings
   (``jreg_mano``), and the graph-geodesic distances of the skin (``skin_v_gd``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import pickle
import sys
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import scipy.ndimage
import scipy.sparse
import scipy.sparse.csgraph
import scipy.sparse.linalg
import torch
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "assets" / "open_hand"

#: NIMBLE's joints: carpal, then per finger (thumb first) met, pro, [int,] dis, dis_end.
NUM_JOINTS = 25
NUM_BONES = 20
#: Joint about which each bone rotates (NIMBLE's ``BONE_ID_JOINT``).
BONE_JOINT = (0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 15, 16, 17, 18, 20, 21, 22, 23)
#: Joint at the far end of each bone (-1: the carpal bone has none).
BONE_CHILD = (-1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 19, 21, 22, 23, 24)
#: Bones of each finger, proximal to distal (thumb: met, pro, dis; others: met, pro, int, dis).
FINGER_BONES = ((1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11), (12, 13, 14, 15), (16, 17, 18, 19))
#: NIMBLE's rest frame: the carpal joint of the official template, and a tilt of the palm
#: (rotation about +x that brings the fingers towards -y), so that the open hand lands where
#: the official one does.
CARPAL_POSITION = np.array([9.56, -22.86, -102.15])
PALM_TILT_DEG = -11.0


@dataclass(frozen=True)
class BuildConfig:
    """Every knob of the build. ``FULL`` makes the shipped asset; tests use a tiny one.

    Attributes:
        seed: seed of every random draw.
        grid_mm: spacing of the grid the signed distance field is meshed on (mm).
        skin_verts: target number of skin vertices after decimation.
        texture_size: side of the square texture maps (texels).
        shape_comps / pose_comps / tex_comps: numbers of PCA components kept.
        shape_samples / pose_samples / tex_samples: sizes of the seeded training samples.
    """

    seed: int = 0
    grid_mm: float = 1.6
    skin_verts: int = 1800
    texture_size: int = 240
    shape_comps: int = 20
    pose_comps: int = 30
    tex_comps: int = 10
    shape_samples: int = 400
    pose_samples: int = 4000
    tex_samples: int = 64


FULL = BuildConfig()


# --------------------------------------------------------------------------------------------
# Skeleton
# --------------------------------------------------------------------------------------------


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


def _frame(axial: np.ndarray, dorsal: np.ndarray) -> np.ndarray:
    """Columns (lateral, dorsal, axial) from an axial direction and an approximate dorsal one."""
    axial = unit(axial)
    dorsal = unit(dorsal - axial * np.dot(dorsal, axial))
    return np.stack([np.cross(dorsal, axial), dorsal, axial], axis=1)


def make_skeleton(p: dict[str, np.ndarray]) -> Skeleton:
    """Forward kinematics of the hand described by ``p`` (see :func:`default_hand`)."""
    size = float(p["size"][0])
    center_x = 0.0
    # Palm width scales x about the palm's centre line, palm length scales the metacarpals.
    cmc = p["cmc"].copy()
    mcp = p["mcp"].copy()
    cmc[:, 0] = center_x + (cmc[:, 0] - center_x) * p["palm_width"][0]
    mcp[:, 0] = center_x + (mcp[:, 0] - center_x) * p["palm_width"][0]
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
    frame = _frame(p["thumb_dir"], p["thumb_dorsal"])
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
        frames[met] = _frame(mcp[finger - 1] - cmc[finger], np.array([0.0, 1.0, 0.0]))
        radii[met] = (r[finger, 0] * 0.9, r[finger, 0])
        spread = np.radians(p["spread"][finger - 1])
        frame = _frame(np.array([np.sin(spread), 0.0, np.cos(spread)]), np.array([0.0, 1.0, 0.0]))
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


# --------------------------------------------------------------------------------------------
# Signed distance field of the skin
# --------------------------------------------------------------------------------------------


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", a, b)


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
    frame = skel.frames[met]
    start, end = skel.joints[BONE_JOINT[met]], skel.joints[BONE_CHILD[met]]
    size = float(skel.params["size"][0])
    center = start + 0.42 * (end - start) + size * np.array([-9.0, -5.0, -3.0])
    axes = _frame(end - start + np.array([0.0, 0.0, 10.0]), np.array([0.3, 1.0, 0.0]))
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


# --------------------------------------------------------------------------------------------
# Meshing
# --------------------------------------------------------------------------------------------


def surface_nets(values: np.ndarray, origin: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Naive surface nets of the zero level set of a grid of signed distances.

    Args:
        values: [nx, ny, nz] signed distances (negative inside), positive on the border.
        origin: [3] position of ``values[0, 0, 0]``; spacing: grid step (same units).

    Returns:
        ``(verts [V, 3], faces [F, 3] int64)``, one vertex per cell the surface crosses (at
        the mean of its edge crossings), two triangles per crossed grid edge, outward normals.
    """
    nx, ny, nz = values.shape
    corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    cell_vals = np.stack(
        [values[i : nx - 1 + i, j : ny - 1 + j, k : nz - 1 + k] for i, j, k in corners], axis=-1
    )  # [cx, cy, cz, 8]
    inside = cell_vals < 0
    active = inside.any(-1) & ~inside.all(-1)
    cells = np.argwhere(active)
    index = -np.ones(active.shape, dtype=np.int64)
    index[tuple(cells.T)] = np.arange(len(cells))
    vals = cell_vals[tuple(cells.T)]  # [C, 8]
    edges = [(a, b) for a in range(8) for b in range(a + 1, 8) if np.abs(corners[a] - corners[b]).sum() == 1]
    acc = np.zeros((len(cells), 3))
    count = np.zeros(len(cells))
    for a, b in edges:
        va, vb = vals[:, a], vals[:, b]
        cross = (va < 0) != (vb < 0)
        t = np.where(cross, va / np.where(cross, va - vb, 1.0), 0.0)
        point = corners[a] + t[:, None] * (corners[b] - corners[a])
        acc += cross[:, None] * point
        count += cross
    verts = origin + (cells + acc / count[:, None]) * spacing
    quads = []
    for axis in range(3):
        b_axis, c_axis = (axis + 1) % 3, (axis + 2) % 3
        lo = values.take(np.arange(values.shape[axis] - 1), axis=axis)
        hi = values.take(np.arange(1, values.shape[axis]), axis=axis)
        crossing = np.argwhere((lo < 0) != (hi < 0))
        crossing = crossing[
            (crossing[:, b_axis] > 0) & (crossing[:, c_axis] > 0)
            & (crossing[:, b_axis] < values.shape[b_axis] - 1) & (crossing[:, c_axis] < values.shape[c_axis] - 1)
        ]  # fmt: skip
        ring = []
        for db, dc in ((-1, -1), (0, -1), (0, 0), (-1, 0)):
            c = crossing.copy()
            c[:, b_axis] += db
            c[:, c_axis] += dc
            ring.append(index[tuple(c.T)])
        ring = np.stack(ring, axis=1)
        outward_positive = lo[tuple(crossing.T)] < 0
        ring = np.where(outward_positive[:, None], ring, ring[:, ::-1])
        quads.append(ring)
    quads = np.concatenate(quads)
    # Split each quad along its shorter diagonal.
    d02 = np.linalg.norm(verts[quads[:, 0]] - verts[quads[:, 2]], axis=1)
    d13 = np.linalg.norm(verts[quads[:, 1]] - verts[quads[:, 3]], axis=1)
    tri_a = np.where((d02 <= d13)[:, None], quads[:, [0, 1, 2]], quads[:, [0, 1, 3]])
    tri_b = np.where((d02 <= d13)[:, None], quads[:, [0, 2, 3]], quads[:, [1, 2, 3]])
    return verts, np.concatenate([tri_a, tri_b]).astype(np.int64)


def _edge_faces(faces: np.ndarray) -> dict[tuple[int, int], int]:
    """Map each directed edge (a, b) of the triangles [F, 3] to the face that holds it."""
    return {(int(f[k]), int(f[(k + 1) % 3])): i for i, f in enumerate(faces) for k in range(3)}


def split_long_edges(verts: np.ndarray, faces: np.ndarray, max_len: float) -> tuple[np.ndarray, np.ndarray]:
    """Split edges longer than ``max_len`` at their midpoints, longest first, until none is
    left. The new vertices are not on the surface yet (the caller projects them)."""
    verts, faces = verts.copy(), faces.copy()
    while True:
        edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        lengths = np.linalg.norm(verts[edges[:, 0]] - verts[edges[:, 1]], axis=1)
        long = np.flatnonzero((lengths > max_len) & (edges[:, 0] < edges[:, 1]))
        if len(long) == 0:
            return verts, faces
        owner = _edge_faces(faces)
        used = np.zeros(len(faces), dtype=bool)
        new_verts, new_faces = [], []
        for e in long[np.argsort(-lengths[long], kind="stable")]:
            a, b = int(edges[e, 0]), int(edges[e, 1])
            f1, f2 = owner[(a, b)], owner[(b, a)]
            if used[f1] or used[f2]:
                continue
            used[f1] = used[f2] = True
            m = len(verts) + len(new_verts)
            new_verts.append(0.5 * (verts[a] + verts[b]))
            c = int(faces[f1][(list(faces[f1]).index(b) + 1) % 3])
            d = int(faces[f2][(list(faces[f2]).index(a) + 1) % 3])
            faces[f1] = (a, m, c)
            faces[f2] = (b, m, d)
            new_faces += [(m, b, c), (m, a, d)]
        verts = np.concatenate([verts, np.array(new_verts)])
        faces = np.concatenate([faces, np.array(new_faces, dtype=np.int64)])


def flip_edges(verts: np.ndarray, faces: np.ndarray, passes: int = 4) -> np.ndarray:
    """Delaunay edge flips between nearly coplanar triangles (normals within ~25 degrees):
    flip (a, b) -> (c, d) when the angles opposite (a, b) sum to more than pi."""
    faces = faces.copy()
    for _ in range(passes):
        owner = _edge_faces(faces)
        flipped = 0
        used = np.zeros(len(faces), dtype=bool)
        for (a, b), f1 in list(owner.items()):
            if a > b or (b, a) not in owner:
                continue
            f2 = owner[(b, a)]
            if used[f1] or used[f2]:
                continue
            c = int(faces[f1][(list(faces[f1]).index(b) + 1) % 3])
            d = int(faces[f2][(list(faces[f2]).index(a) + 1) % 3])
            if c == d or (c, d) in owner or (d, c) in owner:
                continue
            pa, pb, pc, pd = verts[a], verts[b], verts[c], verts[d]
            n1, n2 = np.cross(pb - pa, pc - pa), np.cross(pa - pb, pd - pb)
            if np.dot(unit(n1), unit(n2)) < 0.9:
                continue
            ang_c = np.arccos(np.clip(np.dot(unit(pa - pc), unit(pb - pc)), -1, 1))
            ang_d = np.arccos(np.clip(np.dot(unit(pa - pd), unit(pb - pd)), -1, 1))
            if ang_c + ang_d <= np.pi + 1e-6:
                continue
            # New triangles (c, a, d) and (d, b, c) keep the orientation.
            if np.dot(np.cross(pa - pc, pd - pc), n1) <= 0 or np.dot(np.cross(pb - pd, pc - pd), n1) <= 0:
                continue
            faces[f1] = (c, a, d)
            faces[f2] = (d, b, c)
            used[f1] = used[f2] = True
            for key in ((a, b), (b, a)):
                owner.pop(key)
            owner.update({(c, a): f1, (a, d): f1, (d, c): f1, (d, b): f2, (b, c): f2, (c, d): f2})
            flipped += 1
        if flipped == 0:
            break
    return faces


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals [V, 3]."""
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    normals = np.zeros_like(verts)
    for k in range(3):
        np.add.at(normals, faces[:, k], fn)
    return unit(normals)


def adjacency(faces: np.ndarray, num_verts: int) -> scipy.sparse.csr_matrix:
    """Symmetric 0/1 vertex adjacency [V, V] of a triangle mesh."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    adj = scipy.sparse.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(num_verts, num_verts))
    adj = ((adj + adj.T) > 0).astype(float)
    return adj.tocsr()


def relax(verts: np.ndarray, faces: np.ndarray, skel: Skeleton, iterations: int) -> np.ndarray:
    """Tangential Laplacian smoothing (moves vertices towards their neighbours' mean within
    the tangent plane), each step followed by a projection onto the surface."""
    adj = adjacency(faces, len(verts))
    degree = np.asarray(adj.sum(axis=1)).ravel()
    for _ in range(iterations):
        normals = vertex_normals(verts, faces)
        step = adj @ verts / degree[:, None] - verts
        step -= normals * np.sum(step * normals, axis=1, keepdims=True)
        verts = project_to_surface(verts + 0.5 * step, skel, iterations=3)
    return verts


def make_skin(skel: Skeleton, config: BuildConfig) -> tuple[np.ndarray, np.ndarray]:
    """Rest skin (design frame, mm): surface nets on a ``grid_mm`` grid, quadric decimation,
    long-edge splits, Delaunay flips and tangential relaxation on the exact surface.

    Returns ``(verts [Ns, 3], faces [Fs, 3] int64)``, watertight, outward-facing.
    """
    import fast_simplification

    lo, hi = np.array([-70.0, -85.0, -75.0]), np.array([120.0, 45.0, 205.0])
    h = config.grid_mm
    n = np.ceil((hi - lo) / h).astype(int) + 1
    axes = [lo[i] + h * np.arange(n[i]) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    values = np.concatenate([hand_sdf(chunk, skel) for chunk in np.array_split(grid, 16)]).reshape(n)
    verts, faces = surface_nets(values, lo, h)
    # Decimate below the target, then split the long edges QEM leaves on flat regions.
    first = int(0.62 * config.skin_verts)
    verts, faces = fast_simplification.simplify(
        verts.astype(np.float64), faces.astype(np.int32), target_reduction=1.0 - first / len(verts)
    )
    verts, faces = project_to_surface(verts.astype(np.float64), skel), faces.astype(np.int64)
    max_len = 2.6 * np.sqrt(_surface_area(verts, faces) / config.skin_verts)
    verts, faces = split_long_edges(verts, faces, max_len)
    verts = project_to_surface(verts, skel)
    for _ in range(3):
        faces = flip_edges(verts, faces)
        verts = relax(verts, faces, skel, iterations=3)
    return verts, faces


def _surface_area(verts: np.ndarray, faces: np.ndarray) -> float:
    cross = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    return float(0.5 * np.linalg.norm(cross, axis=1).sum())


# --------------------------------------------------------------------------------------------
# Bones and muscles
# --------------------------------------------------------------------------------------------

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
        frame = _frame(axis, skel.frames[bone][:, 1] if bone else np.array([0.0, 1.0, 0.0]))
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
    if _signed_volume(verts, faces[: 6 * BONE_RING]) < 0:
        faces = faces[:, ::-1].copy()
    jreg = np.zeros((NUM_JOINTS, len(verts)))
    jreg[0, ring_of[(0, 1)]] = 1.0 / BONE_RING
    for bone in range(1, NUM_BONES):
        jreg[BONE_JOINT[bone], ring_of[(bone, 0)]] = 1.0 / BONE_RING
        if BONE_CHILD[bone] in (4, 9, 14, 19, 24):
            jreg[BONE_CHILD[bone], ring_of[(bone, 2)]] = 1.0 / BONE_RING
    return verts, faces, np.concatenate(owner), jreg


def _signed_volume(verts: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    return float(np.sum(a * np.cross(b, c)) / 6.0)


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
        (thumb_mid + size * np.array([-8.0, -4.0, -2.0]), _frame(j[2] - j[1], np.array([0.3, 1.0, 0.0])), [7.0, 5.0, 13.0]),
        (0.5 * (j[1] + j[11]) + size * np.array([0.0, -6.0, 0.0]), _frame(j[11] - j[1], np.array([0.0, 1.0, 0.0])), [6.0, 3.5, 13.0]),
        (np.array([-24.0, -8.0, 32.0]) * size, np.eye(3), [6.0, 5.0, 16.0]),
    ]  # fmt: skip
    for a, b in ((5, 10), (10, 15), (15, 20)):
        start, end = 0.5 * (j[a] + j[b]), 0.5 * (j[a + 1] + j[b + 1])
        groups.append((0.5 * (start + end) + size * np.array([0.0, -1.5, 0.0]), _frame(end - start, np.array([0.0, 1.0, 0.0])), [3.0, 3.5, 18.0]))
    verts = [c + (sphere_v * np.array(r) * size) @ axes.T for c, axes, r in groups]
    faces = [sphere_f + i * len(sphere_v) for i in range(len(groups))]
    return np.concatenate(verts), np.concatenate(faces)


# --------------------------------------------------------------------------------------------
# Skinning weights
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Shape space
# --------------------------------------------------------------------------------------------


def sample_shape_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A random plausible hand: overall size, palm width/length/thickness, per-finger length
    and thickness (a shared and an individual part), fleshiness of the two eminences."""
    p = default_hand()
    p["size"] = np.array([1.0 + 0.06 * rng.standard_normal()])
    p["palm_width"] = np.array([1.0 + 0.045 * rng.standard_normal()])
    p["palm_length"] = np.array([1.0 + 0.04 * rng.standard_normal()])
    p["palm_thickness"] = np.array([1.0 + 0.06 * rng.standard_normal()])
    p["finger_length"] = 1.0 + 0.04 * rng.standard_normal() + 0.025 * rng.standard_normal(5)
    p["finger_thickness"] = 1.0 + 0.06 * rng.standard_normal() + 0.03 * rng.standard_normal(5)
    p["thenar"] = np.array([1.8 * rng.standard_normal()])
    p["hypothenar"] = np.array([1.4 * rng.standard_normal()])
    p["tip_taper"] = np.array([0.05 * rng.standard_normal()])
    return p


def _bone_affines(src: Skeleton, dst: Skeleton) -> np.ndarray:
    """Per-bone affine maps [20, 3, 4] taking the rest skeleton's bones onto ``dst``'s:
    axial scale = length ratio, radial scale = radius ratio (palm bones: palm width and
    thickness), rotation = the change of bone frame."""
    out = np.zeros((NUM_BONES, 3, 4))
    p = dst.params
    size = float(p["size"][0])
    for bone in range(NUM_BONES):
        if bone == 0:
            scale = size * np.array([p["palm_width"][0], p["palm_thickness"][0], 1.0])
        elif bone in (4, 8, 12, 16):
            lateral = size * p["palm_width"][0]
            scale = np.array([lateral, size * p["palm_thickness"][0], dst.lengths[bone] / src.lengths[bone]])
        else:
            radial = dst.radii[bone].mean() / src.radii[bone].mean()
            if bone == 1:
                radial *= p["palm_thickness"][0] ** 0.5
            scale = np.array([radial, radial, dst.lengths[bone] / src.lengths[bone]])
        linear = dst.frames[bone] @ np.diag(scale) @ src.frames[bone].T
        origin_src, origin_dst = src.joints[BONE_JOINT[bone]], dst.joints[BONE_JOINT[bone]]
        out[bone, :, :3] = linear
        out[bone, :, 3] = origin_dst - linear @ origin_src
    return out


def warp_points(points: np.ndarray, weights: np.ndarray, affines: np.ndarray) -> np.ndarray:
    """Blend per-bone affine maps [20, 3, 4] with weights [P, 20]: points [P, 3] -> [P, 3]."""
    moved = np.einsum("bij,pj->pbi", affines[:, :, :3], points) + affines[None, :, :, 3]
    return np.einsum("pb,pbi->pi", weights, moved)


def _bump(points: np.ndarray, center: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Smooth bump in [0, 1]: a Gaussian of the ellipsoidal distance to ``center``."""
    return np.exp(-0.5 * np.sum(((points - center) / radii) ** 2, axis=1))


def shape_displacement(
    rest: Skeleton, params: dict, verts: np.ndarray, normals: np.ndarray, weights: np.ndarray, is_skin: np.ndarray
) -> np.ndarray:
    """Displacement [N, 3] (mm) of all vertices for the hand ``params``: blended bone affines,
    a taper of the fingertips, and skin-only bulges of the thenar and hypothenar eminences
    along the normals."""
    dst = make_skeleton(params)
    moved = warp_points(verts, weights, _bone_affines(rest, dst))
    disp = moved - verts
    # Fingertip taper: radial scaling about the distal bones' axes, growing towards the tip.
    for finger in range(5):
        bone = FINGER_BONES[finger][-1]
        a, b = rest.joints[BONE_JOINT[bone]], rest.joints[BONE_CHILD[bone]]
        axis = unit(b - a)
        rel = verts - a
        t = np.clip(rel @ axis / np.linalg.norm(b - a), 0.0, 1.3)
        radial = rel - np.outer(rel @ axis, axis)
        disp += -params["tip_taper"][0] * (t * weights[:, bone])[:, None] * radial
    thenar = _bump(verts, 0.55 * rest.joints[1] + 0.45 * rest.joints[2] + np.array([-10.0, -8.0, -2.0]), np.array([12.0, 10.0, 18.0]))
    hypo = _bump(verts, np.array([-26.0, -12.0, 30.0]), np.array([9.0, 9.0, 20.0]))
    bulge = params["thenar"][0] * thenar + params["hypothenar"][0] * hypo
    disp += (is_skin * bulge)[:, None] * normals
    return disp


def shape_pca(displacements: np.ndarray, comps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of displacement fields [M, 3N]: ``(basis [K, 3N] unit rows, pm_mean [K], pm_std [K])``
    where pm_mean/pm_std are the mean/std of the samples' (uncentred) coefficients."""
    centred = displacements - displacements.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    basis = _fix_signs(vt[:comps])
    coeffs = displacements @ basis.T
    return basis, coeffs.mean(axis=0), coeffs.std(axis=0)


def _fix_signs(basis: np.ndarray) -> np.ndarray:
    """Make each row's largest-magnitude entry positive (SVD signs are arbitrary)."""
    idx = np.argmax(np.abs(basis), axis=1)
    return basis * np.sign(basis[np.arange(len(basis)), idx])[:, None]


# --------------------------------------------------------------------------------------------
# Pose space
# --------------------------------------------------------------------------------------------


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


def pose_pca(axis_angles: np.ndarray, comps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """PCA of poses [M, 57]: ``(basis [K, 57], mean [57], pm_mean [K], pm_std [K])``;
    zero normalised coefficients give the sample mean."""
    mean = axis_angles.mean(axis=0)
    _, _, vt = np.linalg.svd(axis_angles - mean, full_matrices=False)
    basis = _fix_signs(vt[:comps])
    coeffs = (axis_angles - mean) @ basis.T
    return basis, mean, coeffs.mean(axis=0), coeffs.std(axis=0)


# --------------------------------------------------------------------------------------------
# UV layout
# --------------------------------------------------------------------------------------------


def _face_adjacency(faces: np.ndarray) -> scipy.sparse.csr_matrix:
    """Faces sharing an edge [F, F] (0/1, symmetric)."""
    owner = _edge_faces(faces)
    pairs = np.array([(f, owner[(b, a)]) for (a, b), f in owner.items() if (b, a) in owner])
    adj = scipy.sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(faces), len(faces)))
    return adj.tocsr()


def split_islands(verts: np.ndarray, faces: np.ndarray, dorsal_dirs: np.ndarray) -> np.ndarray:
    """Label each face 0 (back: its normal along the local dorsal direction) or 1 (palm),
    smoothed by majority votes, with every label's stray components given to the other one,
    so that each label is one disk. Returns labels [F] int64."""
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    labels = (np.sum(unit(fn) * dorsal_dirs[faces].mean(axis=1), axis=1) < 0).astype(np.int64)
    adj = _face_adjacency(faces)
    for _ in range(3):
        votes = adj @ labels + labels
        labels = (votes >= 2).astype(np.int64)
    for _ in range(4):
        changed = False
        for label in (0, 1):
            mask = labels == label
            sub = adj[mask][:, mask]
            count, comp = scipy.sparse.csgraph.connected_components(sub, directed=False)
            if count > 1:
                keep = np.argmax(np.bincount(comp))
                idx = np.flatnonzero(mask)[comp != keep]
                labels[idx] = 1 - label
                changed = True
        if not changed:
            break
    return labels


def lscm(verts: np.ndarray, faces: np.ndarray, pins: tuple[int, int]) -> np.ndarray:
    """Least-squares conformal map of a disk-like mesh to the plane.

    Args:
        verts: [V, 3]; faces: [F, 3] (outward-facing); pins: two vertices fixed at (0, 0)
            and (0, d), d their 3D distance.

    Returns:
        [V, 2] coordinates, orientation preserved (counter-clockwise faces stay so).
    """
    p1, p2, p3 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    ex = unit(p2 - p1)
    normal = unit(np.cross(p2 - p1, p3 - p1))
    ey = np.cross(normal, ex)
    z = np.stack(
        [np.zeros(len(faces), dtype=complex), np.linalg.norm(p2 - p1, axis=1) + 0j, np.sum((p3 - p1) * ex, axis=1) + 1j * np.sum((p3 - p1) * ey, axis=1)],
        axis=1,
    )
    w = np.stack([z[:, 2] - z[:, 1], z[:, 0] - z[:, 2], z[:, 1] - z[:, 0]], axis=1)
    area2 = np.abs((np.conj(z[:, 1]) * z[:, 2]).imag)
    w = w / np.sqrt(area2)[:, None]
    num_faces, num_verts = len(faces), len(verts)
    rows = np.repeat(np.arange(num_faces), 3)
    cols = faces.reshape(-1)
    wr, wi = w.real.reshape(-1), w.imag.reshape(-1)
    # Unknowns [u; v]: Re row = wr u - wi v, Im row = wi u + wr v.
    data = np.concatenate([wr, -wi, wi, wr])
    r = np.concatenate([rows, rows, rows + num_faces, rows + num_faces])
    c = np.concatenate([cols, cols + num_verts, cols, cols + num_verts])
    system = scipy.sparse.csr_matrix((data, (r, c)), shape=(2 * num_faces, 2 * num_verts))
    dist = float(np.linalg.norm(verts[pins[0]] - verts[pins[1]]))
    fixed = {pins[0]: 0.0, pins[0] + num_verts: 0.0, pins[1]: 0.0, pins[1] + num_verts: dist}
    free = np.array([i for i in range(2 * num_verts) if i not in fixed])
    fixed_idx = np.array(list(fixed))
    rhs = -system[:, fixed_idx] @ np.array(list(fixed.values()))
    a = system[:, free]
    solution = scipy.sparse.linalg.spsolve((a.T @ a).tocsc(), a.T @ rhs)
    x = np.zeros(2 * num_verts)
    x[free] = solution
    x[fixed_idx] = list(fixed.values())
    return np.stack([x[:num_verts], x[num_verts:]], axis=1)


def _local_coords(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Each triangle's corners [F, 3, 2] in an isometric 2D frame of its own plane (CCW)."""
    p1, p2, p3 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    ex = unit(p2 - p1)
    ey = np.cross(unit(np.cross(p2 - p1, p3 - p1)), ex)
    out = np.zeros((len(faces), 3, 2))
    out[:, 1, 0] = np.linalg.norm(p2 - p1, axis=1)
    out[:, 2] = np.stack([np.sum((p3 - p1) * ex, axis=1), np.sum((p3 - p1) * ey, axis=1)], axis=1)
    return out


def arap(verts: np.ndarray, faces: np.ndarray, uv: np.ndarray, iterations: int) -> np.ndarray:
    """As-rigid-as-possible parametrisation (local/global, cotangent weights), from ``uv``
    [V, 2]; reduces the area distortion a conformal map leaves on the fingers."""
    x = _local_coords(verts, faces)
    num = len(verts)
    cots = np.zeros((len(faces), 3))  # cot of the angle at corner i, opposite edge (i+1, i+2)
    for i in range(3):
        a, b = x[:, (i + 1) % 3] - x[:, i], x[:, (i + 2) % 3] - x[:, i]
        cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
        cots[:, i] = np.clip(np.sum(a * b, axis=1) / np.maximum(cross, 1e-12), 1e-3, 1e3)
    rows, cols, vals = [], [], []
    for i in range(3):
        j, k = faces[:, (i + 1) % 3], faces[:, (i + 2) % 3]
        c = cots[:, i]
        rows += [j, k, j, k]
        cols += [j, k, k, j]
        vals += [c, c, -c, -c]
    lap = scipy.sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(num, num))
    keep = np.arange(1, num)
    solve = scipy.sparse.linalg.factorized(lap[keep][:, keep].tocsc())
    for _ in range(iterations):
        cov = np.zeros((len(faces), 2, 2))
        for i in range(3):
            j, k = (i + 1) % 3, (i + 2) % 3
            du = uv[faces[:, j]] - uv[faces[:, k]]
            dx = x[:, j] - x[:, k]
            cov += cots[:, i, None, None] * np.einsum("fa,fb->fab", du, dx)
        u_svd, _, vt = np.linalg.svd(cov)
        det = np.linalg.det(u_svd @ vt)
        u_svd[:, :, 1] *= np.where(det < 0, -1.0, 1.0)[:, None]
        rot = u_svd @ vt
        rhs = np.zeros((num, 2))
        for i in range(3):
            j, k = (i + 1) % 3, (i + 2) % 3
            edge = cots[:, i, None] * np.einsum("fab,fb->fa", rot, x[:, j] - x[:, k])
            np.add.at(rhs, faces[:, j], edge)
            np.add.at(rhs, faces[:, k], -edge)
        rhs[keep] -= lap[keep][:, [0]] @ uv[[0]]
        uv = uv.copy()
        uv[keep] = np.stack([solve(rhs[keep, 0]), solve(rhs[keep, 1])], axis=1)
    return uv


def make_uv_layout(
    verts: np.ndarray, faces: np.ndarray, dorsal_dirs: np.ndarray, skel: Skeleton, margin: float = 0.02
) -> tuple[np.ndarray, np.ndarray, float]:
    """Two UV islands, the back (fingers up, top left) and the palm (turned by 180 degrees,
    bottom right), at one common texel density, as large as they fit without touching.

    Returns:
        verts_uvs [T, 2] in [0, 1] (OBJ convention, v up), faces_uvs [F, 3], and the scale in
        UV units per millimetre.
    """
    labels = split_islands(verts, faces, dorsal_dirs)
    tip = skel.joints[14]
    islands = []
    for label in (0, 1):
        face_ids = np.flatnonzero(labels == label)
        used = np.unique(faces[face_ids])
        local = -np.ones(len(verts), dtype=np.int64)
        local[used] = np.arange(len(used))
        sub_faces = local[faces[face_ids]]
        sub_verts = verts[used]
        top = int(np.argmin(np.linalg.norm(sub_verts - tip, axis=1)))
        bottom = int(np.argmin(sub_verts[:, 2]))
        uv = arap(sub_verts, sub_faces, lscm(sub_verts, sub_faces, (bottom, top)), iterations=30)
        # Scale so that the island's area equals the surface's, fingers up.
        area3d = _surface_area(sub_verts, sub_faces)
        area2d = _surface_area(np.concatenate([uv, np.zeros((len(uv), 1))], axis=1), sub_faces)
        uv = (uv - uv[bottom]) * np.sqrt(area3d / area2d)
        # Fingers up: turn the wrist-to-middle-fingertip direction onto +v.
        up = unit(uv[top])
        uv = uv @ np.array([[up[1], up[0]], [-up[0], up[1]]])
        islands.append((face_ids, used, uv))
    # The back island fingers up in the top-left corner, the palm island turned by 180 degrees
    # in the bottom-right corner; the largest common scale at which they do not touch.
    placed_uvs = [islands[0][2] - islands[0][2].min(axis=0), -islands[1][2] + islands[1][2].max(axis=0)]
    extents = [uv.max(axis=0) for uv in placed_uvs]

    def place(scale: float) -> list[np.ndarray]:
        top_left = placed_uvs[0] * scale + np.array([margin, 1.0 - margin - extents[0][1] * scale])
        bottom_right = placed_uvs[1] * scale + np.array([1.0 - margin - extents[1][0] * scale, margin])
        return [top_left, bottom_right]

    def overlaps(scale: float, res: int = 160) -> bool:
        masks = []
        for (face_ids, used, _), uv in zip(islands, place(scale)):
            lookup = -np.ones(len(verts), dtype=np.int64)
            lookup[used] = np.arange(len(used))
            covered = rasterize_uv(uv, lookup[faces[face_ids]], res)[0] >= 0
            masks.append(scipy.ndimage.binary_dilation(covered, iterations=3))
        return bool((masks[0] & masks[1]).any())

    low = min((0.5 - 2 * margin) / max(e[0] for e in extents), (1.0 - 2 * margin) / max(e[1] for e in extents))
    high = (1.0 - 2 * margin) / max(max(e) for e in extents)
    if not overlaps(high):
        low = high
    for _ in range(8):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if not overlaps(mid) else (low, mid)
    scale = low
    verts_uvs, faces_uvs = [], np.zeros_like(faces)
    offset = 0
    for (face_ids, used, _), uv in zip(islands, place(scale)):
        lookup = -np.ones(len(verts), dtype=np.int64)
        lookup[used] = offset + np.arange(len(used))
        faces_uvs[face_ids] = lookup[faces[face_ids]]
        verts_uvs.append(uv)
        offset += len(used)
    return np.concatenate(verts_uvs), faces_uvs, scale


# --------------------------------------------------------------------------------------------
# Textures
# --------------------------------------------------------------------------------------------


def rasterize_uv(verts_uvs: np.ndarray, faces_uvs: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Which face covers each texel centre and where.

    Texel (row, col) sits at uv = (col / (size - 1), 1 - row / (size - 1)) (``align_corners``
    convention of the renderer). Returns ``face [size, size]`` (-1: empty) and barycentric
    weights ``bary [size, size, 3]``.
    """
    face = -np.ones((size, size), dtype=np.int64)
    bary = np.zeros((size, size, 3))
    pix = np.stack([verts_uvs[:, 0] * (size - 1), (1.0 - verts_uvs[:, 1]) * (size - 1)], axis=1)
    for f, tri in enumerate(faces_uvs):
        p = pix[tri]
        lo = np.maximum(np.floor(p.min(axis=0)).astype(int), 0)
        hi = np.minimum(np.ceil(p.max(axis=0)).astype(int), size - 1)
        cols, rows = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1))
        q = np.stack([cols.ravel(), rows.ravel()], axis=1).astype(float)
        m = np.array([p[1] - p[0], p[2] - p[0]]).T
        if abs(np.linalg.det(m)) < 1e-12:
            continue
        st = np.linalg.solve(m, (q - p[0]).T).T
        w = np.stack([1.0 - st.sum(axis=1), st[:, 0], st[:, 1]], axis=1)
        inside = (w >= -1e-6).all(axis=1)
        r, c = rows.ravel()[inside], cols.ravel()[inside]
        face[r, c] = f
        bary[r, c] = w[inside]
    return face, bary


def bake_attribute(values: np.ndarray, faces: np.ndarray, face: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """Interpolate per-vertex ``values`` [V, C] at every texel [S, S, C]; empty texels take
    the value of the nearest covered texel (so that bilinear lookups at seams stay clean)."""
    covered = face >= 0
    out = np.zeros(face.shape + (values.shape[1],))
    out[covered] = np.einsum("tk,tkc->tc", bary[covered], values[faces[face[covered]]])
    _, (ri, ci) = scipy.ndimage.distance_transform_edt(~covered, return_indices=True)
    return out[ri, ci]


def _polyline_distance(q: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance [P] from 2D points [P, 2] to a polyline [M, 2]."""
    d = np.full(len(q), np.inf)
    for a, b in zip(line[:-1], line[1:]):
        e = b - a
        t = np.clip((q - a) @ e / np.dot(e, e), 0.0, 1.0)
        d = np.minimum(d, np.linalg.norm(q - a - t[:, None] * e, axis=1))
    return d


def _smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def value_noise(points: np.ndarray, cell: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth 3D value noise [P] in about [-1, 1] with feature size ``cell`` (mm)."""
    lo = points.min(axis=0) - cell
    grid_pts = (points - lo) / cell
    shape = np.ceil(grid_pts.max(axis=0)).astype(int) + 2
    lattice = rng.uniform(-1.0, 1.0, size=shape)
    base = np.floor(grid_pts).astype(int)
    frac = grid_pts - base
    s = frac * frac * (3.0 - 2.0 * frac)
    out = np.zeros(len(points))
    for corner in np.ndindex(2, 2, 2):
        w = np.prod(np.where(np.array(corner), s, 1.0 - s), axis=1)
        out += w * lattice[base[:, 0] + corner[0], base[:, 1] + corner[1], base[:, 2] + corner[2]]
    return out


#: Palm lines in the design frame's (x, z) plane: distal and proximal transverse creases, the
#: thenar crease and two wrist creases.
PALM_LINES = (
    np.array([[-38.0, 60.0], [-22.0, 63.0], [-5.0, 69.0], [12.0, 79.0]]),
    np.array([[33.0, 58.0], [16.0, 52.0], [-4.0, 47.0], [-26.0, 41.0]]),
    np.array([[33.0, 58.0], [23.0, 46.0], [16.0, 31.0], [13.0, 16.0], [13.0, 3.0]]),
    np.array([[-24.0, -7.0], [22.0, -7.0]]),
    np.array([[-23.0, -12.0], [21.0, -12.0]]),
)


def texture_features(
    pos: np.ndarray, normal: np.ndarray, dorsal: np.ndarray, skel: Skeleton, mm_per_texel: float, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per-texel features [P] in [0, 1] (noise in [-1, 1]) from the rest-pose position,
    normal and local dorsal direction of each texel (design frame, mm); lines are at least
    about a texel wide so that they do not alias."""
    back = _smoothstep(-0.3, 0.3, np.sum(normal * dorsal, axis=1))
    palm_side = (1.0 - back) * _smoothstep(-30.0, -8.0, pos[:, 2])
    labels = bone_labels(pos, skel)
    on_palm = np.isin(labels, (0, 1, 4, 8, 12, 16)).astype(float)
    crease = np.zeros(len(pos))
    wrinkle = np.zeros(len(pos))
    knuckle = np.zeros(len(pos))
    nail = np.zeros(len(pos))
    lunula = np.zeros(len(pos))
    free_edge = np.zeros(len(pos))

    def line(dist: np.ndarray, width: float) -> np.ndarray:
        return np.exp(-0.5 * (dist / max(width, 0.5 * mm_per_texel)) ** 2)

    for finger in range(5):
        bones = FINGER_BONES[finger]
        for bone in bones[1:]:
            joint = skel.joints[BONE_JOINT[bone]]
            frame = skel.frames[bone]
            rel = pos - joint
            axial = rel @ frame[:, 2]
            radial = np.linalg.norm(rel - np.outer(axial, frame[:, 2]), axis=1)
            near = _smoothstep(2.2, 1.2, radial / skel.radii[bone][0])
            if bone == bones[-1]:
                palm_offsets = (-0.6,)
            else:
                palm_offsets = (-1.3, 0.2)
            for off in palm_offsets:
                crease += (1.0 - back) * near * line(axial - off, 0.55)
            for off in (-2.6, -0.8, 1.0) if bone != bones[1] else ():
                wrinkle += back * near * line(axial - off, 0.6) * 0.5
            bump = joint + skel.radii[bone][0] * frame[:, 1]
            knuckle += back * np.exp(-0.5 * np.sum((pos - bump) ** 2, axis=1) / 5.0**2)
        # Crease where the finger meets the palm, a third along the proximal phalanx.
        first = bones[1] if finger else bones[1]
        joint, frame = skel.joints[BONE_JOINT[first]], skel.frames[first]
        rel = pos - joint
        axial = rel @ frame[:, 2]
        radial = np.linalg.norm(rel - np.outer(axial, frame[:, 2]), axis=1)
        near = _smoothstep(2.0, 1.1, radial / skel.radii[first][0])
        base = 0.28 * skel.lengths[first] if finger else 0.1 * skel.lengths[first]
        for off in (base - 1.0, base + 1.0):
            crease += (1.0 - back) * near * line(axial - off, 0.6)
        if finger == 0:
            mcp = skel.joints[BONE_JOINT[first]]
            knuckle += back * np.exp(-0.5 * np.sum((pos - mcp - 8.0 * frame[:, 1]) ** 2, axis=1) / 6.0**2)
        # Nail on the back of the distal phalanx, from 40 % of its length to beyond the bone end.
        dist_bone = bones[-1]
        frame, length = skel.frames[dist_bone], skel.lengths[dist_bone]
        radius = skel.radii[dist_bone].mean()
        q = (pos - skel.joints[BONE_JOINT[dist_bone]]) @ frame
        start, end = 0.42 * length, length + 3.2
        width = 0.66 * radius * np.sqrt(np.clip(1.0 - ((q[:, 2] - end + 2.0) / 6.0).clip(0.0) ** 2, 0.0, 1.0))
        mask = (
            _smoothstep(start, start + 1.0, q[:, 2])
            * _smoothstep(0.6, -0.6, np.abs(q[:, 0]) - width)
            * _smoothstep(-0.5, 1.0, q[:, 1])
            * _smoothstep(0.1, 0.45, np.sum(normal * frame[:, 1], axis=1))
        )
        nail = np.maximum(nail, mask)
        lunula = np.maximum(lunula, mask * _smoothstep(start + 3.0, start + 1.8, q[:, 2]) * _smoothstep(0.55, 0.2, np.abs(q[:, 0]) / (width + 1e-6)))
        free_edge = np.maximum(free_edge, mask * _smoothstep(end - 2.6, end - 1.8, q[:, 2]))
    xz = pos[:, [0, 2]]
    palm_lines = sum(line(_polyline_distance(xz, pl), 0.7) for pl in PALM_LINES)
    crease += (1.0 - back) * np.clip(palm_lines, 0.0, 1.0) * on_palm * _smoothstep(-4.0, -10.0, pos[:, 1] - 0.0 * pos[:, 1])
    return {
        "back": back,
        "palm": palm_side,
        "crease": np.clip(crease, 0.0, 1.0),
        "wrinkle": np.clip(wrinkle, 0.0, 1.0),
        "knuckle": np.clip(knuckle, 0.0, 1.0),
        "nail": nail,
        "lunula": lunula,
        "free_edge": free_edge,
        "mottle_coarse": value_noise(pos, 14.0, rng),
        "mottle_fine": value_noise(pos, 5.0, rng),
        "grain": value_noise(pos, 1.6, rng),
    }


#: Skin tones (sRGB) from very light to very dark, evenly spaced in melanin in [0, 1].
SKIN_TONES = np.array(
    [[0.96, 0.82, 0.74], [0.90, 0.71, 0.59], [0.78, 0.57, 0.43], [0.58, 0.40, 0.28], [0.40, 0.26, 0.18], [0.27, 0.17, 0.12]]
)


def texture_sample(feat: dict[str, np.ndarray], size: int, mm_per_texel: float, rng: np.random.Generator) -> np.ndarray:
    """One random skin: diffuse, normal and specular maps, each flattened BGR
    ``(row * size + col) * 3 + ch``, concatenated -> [3 * 3 * size**2] in [0, 1]."""
    melanin = rng.uniform(0.0, 1.0)
    tone = np.array([np.interp(melanin, np.linspace(0, 1, len(SKIN_TONES)), SKIN_TONES[:, c]) for c in range(3)])
    tone = tone + 0.025 * rng.standard_normal() * np.array([1.0, -0.4, -0.3]) + 0.015 * rng.standard_normal() * np.array([0.5, 0.4, -1.0])
    palm_lift = (0.16 + 0.42 * melanin) * rng.uniform(0.7, 1.2)
    palm_tone = tone + (1.0 - tone) * palm_lift + np.array([0.02, -0.015, -0.01])
    color = tone + feat["palm"][:, None] * (palm_tone - tone)
    color = color * (1.0 - rng.uniform(0.3, 1.0) * (0.05 + 0.28 * melanin) * feat["knuckle"])[:, None]
    mottle = 0.04 * rng.standard_normal() * feat["mottle_coarse"] + 0.025 * rng.standard_normal() * feat["mottle_fine"]
    color = color * (1.0 + mottle)[:, None] * (1.0 + np.array([0.012, -0.004, -0.008]) * rng.standard_normal())
    crease_strength = rng.uniform(0.5, 1.3)
    lines = np.clip(feat["crease"] + 0.6 * feat["wrinkle"], 0.0, 1.0)
    color = color * (1.0 - 0.3 * crease_strength * lines)[:, None] + 0.02 * crease_strength * lines[:, None] * np.array([1.0, 0.0, 0.0])
    nail_tone = color + (np.array([0.93, 0.74, 0.71]) - color) * rng.uniform(0.45, 0.8)
    nail_tone = nail_tone + feat["lunula"][:, None] * (np.array([0.96, 0.9, 0.88]) - nail_tone) * 0.6
    nail_tone = nail_tone + feat["free_edge"][:, None] * (np.array([0.97, 0.94, 0.9]) - nail_tone) * 0.85
    diffuse = color + feat["nail"][:, None] * (nail_tone - color)
    # Height (mm): creases are grooves, the nail a raised plate, plus a fine grain.
    depth = rng.uniform(0.15, 0.35)
    height = -depth * lines + 0.25 * feat["nail"] + 0.03 * rng.uniform(0.5, 1.5) * feat["grain"]
    height = height.reshape(size, size)
    d_row, d_col = np.gradient(height, mm_per_texel)
    normal = unit(np.stack([-d_col, d_row, np.ones_like(height)], axis=-1)).reshape(-1, 3)  # (du, dv): v grows upwards
    normal_rgb = 0.5 * (normal + 1.0)
    oil = rng.uniform(0.0, 1.0)
    spec = 0.18 + 0.1 * oil - 0.08 * lines - 0.04 * feat["palm"] + 0.32 * feat["nail"]
    spec_rgb = np.repeat(spec[:, None], 3, axis=1)
    maps = [np.clip(m, 0.0, 1.0)[:, ::-1].reshape(-1) for m in (diffuse, normal_rgb, spec_rgb)]  # RGB -> BGR
    return np.concatenate(maps).astype(np.float32)


def texture_pca(samples: np.ndarray, comps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of texture samples [M, D] through their Gram matrix:
    ``(basis [D, K] unit columns, mean [D], std [K])``."""
    mean = samples.mean(axis=0, dtype=np.float64)
    centred = samples - mean.astype(np.float32)
    gram = (centred @ centred.T).astype(np.float64)
    eigval, eigvec = np.linalg.eigh(gram)
    order = np.argsort(eigval)[::-1][:comps]
    eigval, eigvec = eigval[order], eigvec[:, order]
    basis = (centred.T.astype(np.float64) @ eigvec) / np.sqrt(eigval)
    basis = _fix_signs(basis.T).T
    return basis, mean, np.sqrt(eigval / len(samples))


# --------------------------------------------------------------------------------------------
# Keypoints and geodesics
# --------------------------------------------------------------------------------------------

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


def graph_geodesics(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Shortest-path distances [V, V] (mm) along the mesh edges (an upper bound of the
    geodesic distance, within ~10 % on this mesh)."""
    edges = np.unique(np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1), axis=0)
    lengths = np.linalg.norm(verts[edges[:, 0]] - verts[edges[:, 1]], axis=1)
    graph = scipy.sparse.coo_matrix((lengths, (edges[:, 0], edges[:, 1])), shape=(len(verts), len(verts))).tocsr()
    return scipy.sparse.csgraph.dijkstra(graph, directed=False)


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------

FILE_NAMES = ("NIMBLE_DICT_9137.pkl", "NIMBLE_TEX_DICT.pkl", "NIMBLE_TEX_FUV.pkl")


def uv_layout_lines(skin_f: np.ndarray, verts_uvs: np.ndarray, faces_uvs: np.ndarray) -> list[str]:
    """NIMBLE's ``NIMBLE_TEX_FUV.pkl`` content: OBJ lines ``vt u v`` and ``f v/vt/v`` (1-based),
    the faces row by row equal to ``skin_f + 1``."""
    lines = ["\n", "usemtl material_0\n"]
    lines += [f"vt {u:.6f} {v:.6f}\n" for u, v in verts_uvs]
    lines += ["f " + " ".join(f"{v + 1}/{t + 1}/{v + 1}" for v, t in zip(fv, ft)) + "\n" for fv, ft in zip(skin_f, faces_uvs)]
    lines += [f"# {len(skin_f)} faces, {len(verts_uvs)} coords texture\n", "\n", "# End of File"]
    return lines


def build(config: BuildConfig = FULL, log=print) -> dict[str, object]:
    """Build the three NIMBLE-format objects of the open hand.

    Returns:
        ``{file name: object}``: the parametric model dict (torch tensors), the texture dict
        (numpy arrays) and the UV layout (list of OBJ lines).
    """
    shape_rng, pose_rng, tex_rng, noise_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(4))
    rest = make_skeleton(default_hand())
    skin_v, skin_f = make_skin(rest, config)
    log(f"skin: {len(skin_v)} vertices, {len(skin_f)} faces")
    bone_v, bone_f, bone_owner, jreg_bone = make_bones(rest)
    muscle_v, muscle_f = make_muscles(rest)
    for name, pts in (("bone", bone_v), ("muscle", muscle_v)):
        if hand_sdf(pts, rest).max() > -0.5:
            raise RuntimeError(f"a {name} vertex is not inside the skin")

    skin_labels = bone_labels(skin_v, rest)
    skin_bw = diffuse_labels(skin_labels, skin_f, iterations=12)
    warp_bw = diffuse_labels(skin_labels, skin_f, iterations=60)
    _, nearest = cKDTree(skin_v).query(muscle_v)
    bone_bw = np.eye(NUM_BONES)[bone_owner]
    all_bw = np.concatenate([bone_bw, skin_bw[nearest], skin_bw])
    warp_w = np.concatenate([bone_bw, warp_bw[nearest], warp_bw])
    verts = np.concatenate([bone_v, muscle_v, skin_v])
    num_bone, num_muscle, num_skin = len(bone_v), len(muscle_v), len(skin_v)
    is_skin = np.arange(len(verts)) >= num_bone + num_muscle
    skin_normals = vertex_normals(skin_v, skin_f)
    normals = np.concatenate([np.zeros((num_bone + num_muscle, 3)), skin_normals])

    displacements = np.stack(
        [
            shape_displacement(rest, sample_shape_params(shape_rng), verts, normals, warp_w, is_skin).reshape(-1)
            for _ in range(config.shape_samples)
        ]
    )
    shape_basis, shape_mean, shape_std = shape_pca(displacements, config.shape_comps)
    poses = np.stack(
        [Rotation.from_matrix(sample_pose(pose_rng, rest)[1:]).as_rotvec().reshape(-1) for _ in range(config.pose_samples)]
    )
    log(f"shape and pose samples: {config.shape_samples}, {config.pose_samples}")

    dorsal_dirs = unit(warp_bw @ rest.frames[:, :, 1])
    verts_uvs, faces_uvs, uv_scale = make_uv_layout(skin_v, skin_f, dorsal_dirs, rest)
    size = config.texture_size
    face, bary = rasterize_uv(verts_uvs, faces_uvs, size)
    pos = bake_attribute(skin_v, skin_f, face, bary).reshape(-1, 3)
    nrm = unit(bake_attribute(skin_normals, skin_f, face, bary).reshape(-1, 3))
    dors = unit(bake_attribute(dorsal_dirs, skin_f, face, bary).reshape(-1, 3))
    mm_per_texel = 1.0 / (uv_scale * (size - 1))
    features = texture_features(pos, nrm, dors, rest, mm_per_texel, noise_rng)
    samples = np.stack([texture_sample(features, size, mm_per_texel, tex_rng) for _ in range(config.tex_samples)])
    tex_basis, tex_mean, tex_std = texture_pca(samples, config.tex_comps)
    log(f"textures: {config.tex_samples} samples of {size}x{size}, {mm_per_texel:.2f} mm per texel")

    # Into NIMBLE's rest frame: rotate positions, displacements and rotation vectors.
    rot, trans = design_to_nimble()
    verts_n = verts @ rot.T + trans
    shape_basis_n = (shape_basis.reshape(len(shape_basis), -1, 3) @ rot.T).reshape(len(shape_basis), -1)
    poses_n = (poses.reshape(len(poses), -1, 3) @ rot.T).reshape(len(poses), -1)
    pose_basis, pose_mean, pose_pm_mean, pose_pm_std = pose_pca(poses_n, config.pose_comps)

    offsets = (0, num_bone, num_bone + num_muscle)
    face_all = np.concatenate([bone_f + offsets[0], muscle_f + offsets[1], skin_f + offsets[2]])
    f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    i64 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))  # noqa: E731
    model = {
        "vert": f32(verts_n),
        "bone_v_sep": int(num_bone),
        "skin_v_sep": -int(num_skin),
        "face": i64(face_all),
        "bone_f": i64(bone_f),
        "muscle_f": i64(muscle_f),
        "skin_f": i64(skin_f),
        "all_sw": f32(bone_to_joint_weights(all_bw)),
        # No pose correctives: an all-zero tensor whose storage holds a single element.
        "all_pbs": torch.zeros(1, dtype=torch.float32).expand(len(verts), 3, 9 * (NUM_BONES - 1)),
        "jreg_bone": f32(jreg_bone),
        "jreg_mano": f32(keypoint_regressor(skin_v, rest)),
        "shape_basis": f32(shape_basis_n),
        "shape_pm_std": f32(shape_std),
        "shape_pm_mean": f32(shape_mean),
        "pose_basis": f32(pose_basis),
        "pose_mean": f32(pose_mean),
        "pose_pm_std": f32(pose_pm_std),
        "pose_pm_mean": f32(pose_pm_mean),
        "skin_v_surface_mask": torch.ones(num_skin, dtype=torch.bool),
        "skin_v_gd": torch.from_numpy(graph_geodesics(skin_v, skin_f).astype(np.float16)),
    }
    span = 3 * size * size
    textures = {
        name: {
            "basis": np.ascontiguousarray(tex_basis[k * span : (k + 1) * span], dtype=np.float16),
            "mean": np.ascontiguousarray(tex_mean[k * span : (k + 1) * span], dtype=np.float16),
            "std": tex_std.astype(np.float32),
        }
        for k, name in enumerate(("diffuse", "normal", "spec"))
    }
    return {
        "NIMBLE_DICT_9137.pkl": model,
        "NIMBLE_TEX_DICT.pkl": textures,
        "NIMBLE_TEX_FUV.pkl": uv_layout_lines(skin_f, verts_uvs, faces_uvs),
    }


class _StorageBytes:
    """A tensor storage pickled as torch does (``torch.storage._load_from_bytes``), but saved
    in torch's zip format, whose record names do not depend on memory addresses."""

    def __init__(self, tensor: torch.Tensor) -> None:
        storage = torch.storage.TypedStorage(wrap_storage=tensor.untyped_storage(), dtype=tensor.dtype, _internal=True)
        buffer = io.BytesIO()
        torch.save(storage, buffer)
        self.data = buffer.getvalue()

    def __reduce__(self):
        return (torch.storage._load_from_bytes, (self.data,))


class _DeterministicPickler(pickle.Pickler):
    """Pickles tensors exactly as ``torch.Tensor.__reduce_ex__`` does (``_rebuild_tensor_v2``),
    except that the storage bytes are the same on every run (torch's own legacy format names
    each storage by its memory address)."""

    def reducer_override(self, obj):
        if type(obj) is torch.Tensor:
            args = (_StorageBytes(obj), obj.storage_offset(), tuple(obj.shape), obj.stride(), False, OrderedDict())
            return (torch._utils._rebuild_tensor_v2, args)
        return NotImplemented


def pickle_bytes(obj: object) -> bytes:
    """The bytes of ``obj`` pickled with protocol 4 (as written to disk), deterministic."""
    buffer = io.BytesIO()
    _DeterministicPickler(buffer, protocol=4).dump(obj)
    return buffer.getvalue()


def write_assets(objects: dict[str, object], out_dir: Path) -> dict[str, str]:
    """Write each object atomically (temporary file, then rename) and a ``SHA256SUMS`` file.

    Returns {file name: SHA-256 hex digest}.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, obj in objects.items():
        data = pickle_bytes(obj)
        digests[name] = hashlib.sha256(data).hexdigest()
        _atomic_write(out_dir / name, data)
    sums = "".join(f"{digest}  {name}\n" for name, digest in digests.items())
    _atomic_write(out_dir / "SHA256SUMS", sums.encode())
    return digests


def _atomic_write(path: Path, data: bytes) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: assets/open_hand)")
    parser.add_argument("--seed", type=int, default=FULL.seed, help="seed of every random draw")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    objects = build(replace(FULL, seed=args.seed))
    digests = write_assets(objects, args.out)
    total = sum((args.out / name).stat().st_size for name in digests)
    for name, digest in digests.items():
        print(f"{name}: {(args.out / name).stat().st_size / 1e6:.2f} MB, sha256 {digest}")
    print(f"total {total / 1e6:.2f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
