"""Texture baking for the open hand: per-texel 3D features (skin side, creases, palm lines,
knuckles, nails, mottling noise) baked from the rest-pose surface, and random procedural
diffuse, normal and specular maps built from them (design frame, mm)."""

from __future__ import annotations

import numpy as np
import scipy.ndimage

from .skeleton import BONE_JOINT, FINGER_BONES, Skeleton, unit
from .skinning import bone_labels


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
        first = bones[1]
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
    crease += (1.0 - back) * np.clip(palm_lines, 0.0, 1.0) * on_palm * _smoothstep(-4.0, -10.0, pos[:, 1])
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
