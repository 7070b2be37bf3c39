"""Triangle meshes of the open hand: the skin meshed from its distance field, and the mesh
quantities the build needs (normals, adjacency, areas, graph geodesics); lengths in mm.

The skin is made by surface nets on a regular grid, quadric decimation (fast-simplification,
imported only here and only when a skin is built), long-edge splits, Delaunay edge flips and
tangential relaxation with every vertex projected back onto the exact surface.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph

from .skeleton import Skeleton, unit
from .skin_field import hand_sdf, project_to_surface


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


def edge_faces(faces: np.ndarray) -> dict[tuple[int, int], int]:
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
        owner = edge_faces(faces)
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
        owner = edge_faces(faces)
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


def make_skin(skel: Skeleton, grid_mm: float, num_verts: int) -> tuple[np.ndarray, np.ndarray]:
    """Rest skin of ``skel`` (design frame, mm): surface nets on a ``grid_mm`` grid, quadric
    decimation, long-edge splits, Delaunay flips and tangential relaxation on the exact surface,
    ending near ``num_verts`` vertices.

    Returns ``(verts [Ns, 3], faces [Fs, 3] int64)``, watertight, outward-facing.
    """
    import fast_simplification

    lo, hi = np.array([-70.0, -85.0, -75.0]), np.array([120.0, 45.0, 205.0])
    h = grid_mm
    n = np.ceil((hi - lo) / h).astype(int) + 1
    axes = [lo[i] + h * np.arange(n[i]) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    values = np.concatenate([hand_sdf(chunk, skel) for chunk in np.array_split(grid, 16)]).reshape(n)
    verts, faces = surface_nets(values, lo, h)
    # Decimate below the target, then split the long edges QEM leaves on flat regions.
    first = int(0.62 * num_verts)
    verts, faces = fast_simplification.simplify(
        verts.astype(np.float64), faces.astype(np.int32), target_reduction=1.0 - first / len(verts)
    )
    verts, faces = project_to_surface(verts.astype(np.float64), skel), faces.astype(np.int64)
    max_len = 2.6 * np.sqrt(surface_area(verts, faces) / num_verts)
    verts, faces = split_long_edges(verts, faces, max_len)
    verts = project_to_surface(verts, skel)
    for _ in range(3):
        faces = flip_edges(verts, faces)
        verts = relax(verts, faces, skel, iterations=3)
    return verts, faces


def surface_area(verts: np.ndarray, faces: np.ndarray) -> float:
    cross = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    return float(0.5 * np.linalg.norm(cross, axis=1).sum())



def signed_volume(verts: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    return float(np.sum(a * np.cross(b, c)) / 6.0)



def graph_geodesics(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Shortest-path distances [V, V] (mm) along the mesh edges (an upper bound of the
    geodesic distance, within ~10 % on this mesh)."""
    edges = np.unique(np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1), axis=0)
    lengths = np.linalg.norm(verts[edges[:, 0]] - verts[edges[:, 1]], axis=1)
    graph = scipy.sparse.coo_matrix((lengths, (edges[:, 0], edges[:, 1])), shape=(len(verts), len(verts))).tocsr()
    return scipy.sparse.csgraph.dijkstra(graph, directed=False)
