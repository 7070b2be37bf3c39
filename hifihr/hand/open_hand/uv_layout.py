"""UV layout of the open hand's skin: two islands (back and palm) cut where the normal
crosses the local dorsal direction, unrolled by least-squares conformal maps refined
as-rigid-as-possible, and packed into the unit square; and the rasterization of a layout
into texels that the layout and the texture baking share."""

from __future__ import annotations

import numpy as np
import scipy.ndimage
import scipy.sparse
import scipy.sparse.csgraph
import scipy.sparse.linalg

from .meshing import edge_faces, surface_area
from .skeleton import Skeleton, unit


def _face_adjacency(faces: np.ndarray) -> scipy.sparse.csr_matrix:
    """Faces sharing an edge [F, F] (0/1, symmetric)."""
    owner = edge_faces(faces)
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
        area3d = surface_area(sub_verts, sub_faces)
        area2d = surface_area(np.concatenate([uv, np.zeros((len(uv), 1))], axis=1), sub_faces)
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
