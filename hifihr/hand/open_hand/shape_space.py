"""Samples of the open hand's shape space: seeded parametric variations (overall size, palm
width, length and thickness, finger lengths and thickness, eminences, fingertip taper) turned
into displacement fields by smooth bone-driven space warps, so the topology never changes."""

from __future__ import annotations

import numpy as np

from .skeleton import BONE_CHILD, BONE_JOINT, FINGER_BONES, NUM_BONES, Skeleton, default_hand, make_skeleton, unit


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
