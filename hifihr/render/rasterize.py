"""Hard rasterization of a batch of triangle meshes with shared faces, in plain PyTorch.

Visibility is a depth buffer and has no gradient. The barycentric coordinates of the visible
surface are then recomputed, differentiably, for the covered pixels only, so gradients reach the
vertex positions through everything that is interpolated (UVs, normals, positions).

The depth test is a ``scatter_reduce(amax)`` over all (face, pixel) candidates of a batch. Each
face lists the image rows it spans and each row the columns whose pixel centre lies inside the
triangle (two ``repeat_interleave`` over counts; ``face_pixel_candidates``), so the work is
proportional to the covered area. Each candidate writes a 64-bit key whose high half is the
float32 bit pattern of 1/z (monotonic for positive floats; 1/z is affine along a row) and whose
low half encodes the face index: the largest key per pixel is the nearest face, and equal depths
go to the smaller face index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from torch import Tensor

from hifihr.render.camera import check_shape

#: Faces with a vertex at a depth at or below this (metres) are culled: they touch or cross the
#: camera plane and their projection is meaningless.
DEFAULT_Z_NEAR = 1e-4
#: Faces whose doubled screen-space area (px²) is at or below this are degenerate and culled.
MIN_DOUBLE_AREA_PX2 = 1e-10
#: (face, pixel) candidates processed at once, by device type: bounds the peak memory of a
#: chunk to about 0.3 GB on CPU and 2.5 GB on a GPU, where fewer, larger chunks launch fewer kernels.
MAX_CANDIDATES = {"cpu": 1 << 22, "cuda": 1 << 25}


def default_max_candidates(device: torch.device) -> int:
    """Chunk size for ``face_pixel_candidates`` on ``device`` (``MAX_CANDIDATES``, else the CPU one)."""
    return MAX_CANDIDATES.get(device.type, MAX_CANDIDATES["cpu"])


_LOW_BITS = 0xFFFFFFFF


@dataclass(frozen=True)
class Fragments:
    """What the rasterizer found in each pixel (one face per pixel, the nearest).

    Attributes:
        pix_to_face: [B, H, W] int64, index of the visible face in the shared face list
            (0..F-1, the same for every mesh of the batch); -1 on background.
        bary: [B, H, W, 3] perspective-correct barycentric coordinates of the pixel centre with
            respect to the corners of ``faces[pix_to_face]`` (they sum to 1); differentiable with
            respect to the vertex positions; 0 on background.
        zbuf: [B, H, W] depth (camera z, metres) of the visible surface at the pixel centre;
            -1 on background (as PyTorch3D).
    """

    pix_to_face: Tensor
    bary: Tensor
    zbuf: Tensor

    def detach(self) -> Fragments:
        return Fragments(self.pix_to_face, self.bary.detach(), self.zbuf.detach())


def check_faces(faces: Tensor, num_verts: int) -> Tensor:
    """Validate a shared face list and return it as int64.

    Args:
        faces: [F, 3] integer vertex indices, each in [0, num_verts).
        num_verts: V, the number of vertices per mesh.

    Returns:
        [F, 3] int64 faces.

    Raises:
        ValueError: wrong shape, non-integer dtype or an index out of range.
    """
    check_shape("faces", faces, ("F", 3))
    if faces.dtype.is_floating_point or faces.dtype.is_complex or faces.dtype == torch.bool:
        raise ValueError(f"faces: expected an integer dtype (int64), got {faces.dtype}")
    faces = faces.long()
    if faces.numel() > 0:
        low, high = int(faces.min()), int(faces.max())
        if low < 0 or high >= num_verts:
            raise ValueError(
                f"faces: expected vertex indices in [0, {num_verts - 1}] for {num_verts} vertices, "
                f"got indices in [{low}, {high}]"
            )
    return faces


def face_validity(face_verts: Tensor, z_near: float = DEFAULT_Z_NEAR) -> Tensor:
    """Which faces can be rasterized.

    Args:
        face_verts: [..., 3, 3] screen-space corners (u px, v px, z m) of each face.
        z_near: depth in metres at or below which a corner counts as behind the camera.

    Returns:
        [...] bool: all coordinates finite, every corner in front of ``z_near``, and the
        screen-space triangle not degenerate (doubled area above ``MIN_DOUBLE_AREA_PX2`` px²).
    """
    finite = torch.isfinite(face_verts).flatten(-2).all(-1)
    in_front = (face_verts[..., 2] > z_near).all(-1)
    e1 = face_verts[..., 1, :2] - face_verts[..., 0, :2]
    e2 = face_verts[..., 2, :2] - face_verts[..., 0, :2]
    double_area = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
    return finite & in_front & (double_area.abs() > MIN_DOUBLE_AREA_PX2)


def _pixel_span(lo: Tensor, hi: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """First index and count of the pixels whose centre (index + 0.5) lies in [lo, hi] (float)."""
    first = torch.ceil(lo - 0.5).clamp(0, size)
    last = torch.floor(hi - 0.5).clamp(-1, size - 1)
    return first, (last - first + 1).clamp_min(0)


@dataclass(frozen=True)
class CandidateChunk:
    """A run of (face, pixel) candidates, grouped by image row.

    Row level (R rows): ``row_face`` [R] packed face index b·F + f, ``row_y`` [R] pixel row,
    ``row_col0`` [R] first pixel column. Pixel level (N candidates): ``owner`` [N] index into the
    rows, ``offset`` [N] column offset, so the pixel is (row_y[owner], row_col0[owner] + offset).
    All int64.
    """

    row_face: Tensor
    row_y: Tensor
    row_col0: Tensor
    owner: Tensor
    offset: Tensor


def _edge_table(corners: Tensor) -> Tensor:
    """Per-face edges prepared for intersection with horizontal lines.

    Args:
        corners: [N, 3, 2] screen-space triangle corners (x, y).

    Returns:
        [N, 3, 4]: for each edge (x at its lower-y end, lower y, upper y, dx/dy), its endpoints
        ordered by y so that two faces sharing an edge get bit-identical intersections (a pixel
        centre on a shared edge is never missed by both). Horizontal edges get an empty y-range
        (+inf, -inf): the two other edges bound the triangle at their height.
    """
    start, end = corners, corners.roll(-1, dims=1)
    swap = start[..., 1] > end[..., 1]
    low = torch.where(swap[..., None], end, start)
    high = torch.where(swap[..., None], start, end)
    flat = low[..., 1] == high[..., 1]
    slope = (high[..., 0] - low[..., 0]) / (high[..., 1] - low[..., 1])
    return torch.stack(
        [
            low[..., 0],
            low[..., 1].masked_fill(flat, torch.inf),
            high[..., 1].masked_fill(flat, -torch.inf),
            slope.masked_fill(flat, 0.0),
        ],
        dim=-1,
    )


def _line_extent(edges: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """x-extent of triangles on horizontal lines.

    Args:
        edges: [R, 3, 4] ``_edge_table`` of R triangles.
        y: [R] line heights.

    Returns:
        (x_min, x_max) [R]; (+inf, -inf) when the line misses the triangle.
    """
    x_low, y_low, y_high, slope = edges.unbind(-1)
    y = y[:, None]
    hit = (y_low <= y) & (y <= y_high)
    x = x_low + (y - y_low) * slope
    return x.masked_fill(~hit, torch.inf).amin(1), x.masked_fill(~hit, -torch.inf).amax(1)


def _band_extent(corners: Tensor, edges: Tensor, lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor]:
    """x-extent of triangles within horizontal bands lo <= y <= hi: over the corners inside the
    band and the edge crossings of its two limits.

    Args:
        corners: [R, 3, 2] triangle corners (x, y).
        edges: [R, 3, 4] their ``_edge_table``.
        lo, hi: [R] band limits, lo <= hi.

    Returns:
        (x_min, x_max) [R]; (+inf, -inf) when the band misses the triangle.
    """
    lo_min, lo_max = _line_extent(edges, lo)
    hi_min, hi_max = _line_extent(edges, hi)
    outside = (corners[..., 1] < lo[:, None]) | (corners[..., 1] > hi[:, None])
    x = corners[..., 0]
    x_min = torch.minimum(torch.minimum(lo_min, hi_min), x.masked_fill(outside, torch.inf).amin(1))
    x_max = torch.maximum(torch.maximum(lo_max, hi_max), x.masked_fill(outside, -torch.inf).amax(1))
    return x_min, x_max


def face_pixel_candidates(
    face_verts: Tensor,
    valid: Tensor,
    image_size: tuple[int, int],
    margin_px: float = 0.0,
    max_candidates: int | None = None,
) -> Iterator[CandidateChunk]:
    """Enumerate the pixels near each valid face, row by row.

    With ``margin_px = 0`` these are exactly the pixels whose centre lies in the closed
    triangle (up to rounding on the edges); with a margin m, a superset of the pixels whose
    centre is within m of the triangle (the triangle's x-extent within the band y ± m, grown by
    m). Each face first lists the rows its (grown) y-range covers, then each row lists its
    columns, so the work is proportional to the covered area, not to the bounding boxes.

    Args:
        face_verts: [B, F, 3, 3] screen-space corners (u px, v px, z m), no gradient needed.
        valid: [B, F] bool, faces to enumerate.
        image_size: (H, W).
        margin_px: distance in pixels around each triangle.
        max_candidates: bound on the bounding-box pixels of the faces handled per chunk (one
            larger face is a chunk of its own), hence on memory; None for
            ``default_max_candidates``.

    Yields:
        CandidateChunk, in chunks that together list every candidate once.
    """
    height, width = image_size
    if max_candidates is None:
        max_candidates = default_max_candidates(face_verts.device)
    x, y = face_verts[..., 0], face_verts[..., 1]
    _, num_cols = _pixel_span(x.amin(-1) - margin_px, x.amax(-1) + margin_px, width)
    row0, num_rows = _pixel_span(y.amin(-1) - margin_px, y.amax(-1) + margin_px, height)
    area = torch.where(valid, num_cols * num_rows, 0).flatten()
    active = area.nonzero().squeeze(1)
    area_ends = area[active].long().cumsum(0)
    num_rows = num_rows.flatten()[active].long()
    row0 = row0.flatten()[active].long()
    corners = face_verts.reshape(-1, 3, 3)[active, :, :2]
    edges = _edge_table(corners)
    start = 0
    while start < active.numel():
        base = int(area_ends[start - 1]) if start > 0 else 0
        stop = max(int(torch.searchsorted(area_ends, base + max_candidates, right=True)), start + 1)
        rows = num_rows[start:stop]
        face_owner = torch.repeat_interleave(torch.arange(start, stop, device=active.device), rows)
        row_in_face = torch.arange(face_owner.numel(), device=active.device) - (rows.cumsum(0) - rows)[face_owner - start]
        row_y = row0[face_owner] + row_in_face
        centre = row_y.to(corners.dtype) + 0.5
        if margin_px > 0:
            x_min, x_max = _band_extent(
                corners[face_owner], edges[face_owner], centre - margin_px, centre + margin_px
            )
        else:
            x_min, x_max = _line_extent(edges[face_owner], centre)
        col0, count = _pixel_span(x_min - margin_px, x_max + margin_px, width)
        count = count.long()
        total = int(count.sum())
        owner = torch.repeat_interleave(torch.arange(count.numel(), device=count.device), count, output_size=total)
        offset = torch.arange(total, device=count.device) - (count.cumsum(0) - count)[owner]
        yield CandidateChunk(active[face_owner], row_y, col0.long(), owner, offset)
        start = stop


def _depth_test(
    face_verts: Tensor, valid: Tensor, image_size: tuple[int, int], max_candidates: int | None
) -> Tensor:
    """Nearest covering face of every pixel (no gradient).

    Args:
        face_verts: [B, F, 3, 3] screen-space corners, detached.
        valid: [B, F] bool, faces that may be rasterized.
        image_size: (H, W).
        max_candidates: chunk size of ``face_pixel_candidates``.

    Returns:
        [B, H, W] int64 face index in 0..F-1, -1 on background.
    """
    batch, num_faces = valid.shape
    height, width = image_size
    keys = torch.full((batch * height * width,), -1, dtype=torch.int64, device=face_verts.device)
    # 1/z is affine in screen space on each face: 1/z = slope_x u + slope_y v + offset.
    corners = face_verts.reshape(-1, 3, 3).double()
    e1 = corners[:, 1] - corners[:, 0]
    e2 = corners[:, 2] - corners[:, 0]
    inv_z = 1.0 / corners[..., 2]
    d1, d2 = inv_z[:, 1] - inv_z[:, 0], inv_z[:, 2] - inv_z[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    slope_x = (e2[:, 1] * d1 - e1[:, 1] * d2) / det
    slope_y = (e1[:, 0] * d2 - e2[:, 0] * d1) / det
    offset = inv_z[:, 0] - slope_x * corners[:, 0, 0] - slope_y * corners[:, 0, 1]
    for chunk in face_pixel_candidates(face_verts, valid, image_size, 0.0, max_candidates):
        face = chunk.row_face
        row_inv_depth = (
            slope_x[face] * (chunk.row_col0 + 0.5) + slope_y[face] * (chunk.row_y + 0.5) + offset[face]
        )
        row_float = torch.stack([row_inv_depth, slope_x[face]], dim=1).float()
        row_int = torch.stack(
            [
                (face // num_faces) * (height * width) + chunk.row_y * width + chunk.row_col0,
                _LOW_BITS - face % num_faces,
            ],
            dim=1,
        )
        start_step = row_float.index_select(0, chunk.owner)
        pixel_code = row_int.index_select(0, chunk.owner)
        inv_depth = start_step[:, 0] + chunk.offset * start_step[:, 1]
        key = (inv_depth.view(torch.int32).long() << 32) | pixel_code[:, 1]
        keys.scatter_reduce_(0, pixel_code[:, 0] + chunk.offset, key, reduce="amax")
    face = torch.where(keys >= 0, _LOW_BITS - (keys & _LOW_BITS), -1)
    return face.view(batch, height, width)


def _perspective_bary(tri: Tensor, pixel_xy: Tensor) -> tuple[Tensor, Tensor]:
    """Perspective-correct barycentrics and depth of pixel centres in screen-space triangles.

    Args:
        tri: [P, 3, 3] corners (u px, v px, z m).
        pixel_xy: [P, 2] pixel centres in pixels.

    Returns:
        bary [P, 3] (sum to 1) and depth [P] in metres, both differentiable w.r.t. ``tri``.
    """
    v0 = tri[:, 0, :2]
    e1 = tri[:, 1, :2] - v0
    e2 = tri[:, 2, :2] - v0
    d = pixel_xy - v0
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    w1 = (d[:, 0] * e2[:, 1] - d[:, 1] * e2[:, 0]) / det
    w2 = (e1[:, 0] * d[:, 1] - e1[:, 1] * d[:, 0]) / det
    screen_bary = torch.stack([1.0 - w1 - w2, w1, w2], dim=1)
    weighted = screen_bary / tri[:, :, 2]
    inv_depth = weighted.sum(1)
    return weighted / inv_depth[:, None], 1.0 / inv_depth


def rasterize(
    verts_screen: Tensor,
    faces: Tensor,
    image_size: tuple[int, int],
    z_near: float = DEFAULT_Z_NEAR,
    max_candidates: int | None = None,
) -> Fragments:
    """Rasterize a batch of meshes sharing one face list; nearest face per pixel.

    A pixel is covered by a face when its centre (i + 0.5, j + 0.5) lies in the closed
    screen-space triangle. Faces are culled (never drawn, never NaN) when a corner is non-finite,
    at or behind ``z_near``, or when the triangle is degenerate (see ``face_validity``). Faces
    are not back-face culled.

    Args:
        verts_screen: [B, V, 3] vertices projected by ``project_points``: u, v in pixels of this
            image (origin top-left), z camera depth in metres.
        faces: [F, 3] int64 vertex indices, shared by the batch.
        image_size: (H, W) in pixels.
        z_near: near plane in metres.
        max_candidates: (face, pixel) pairs processed per chunk of the depth test (None: by
            device, ``MAX_CANDIDATES``); only bounds memory, the result does not depend on it.

    Returns:
        Fragments with [B, H, W] fields; ``bary`` and ``zbuf`` are differentiable w.r.t.
        ``verts_screen``.
    """
    check_shape("verts_screen", verts_screen, ("B", "V", 3))
    faces = check_faces(faces, verts_screen.shape[1])
    height, width = image_size
    batch, num_verts, _ = verts_screen.shape
    with torch.no_grad():
        face_verts = verts_screen.detach()[:, faces]
        pix_to_face = _depth_test(face_verts, face_validity(face_verts, z_near), (height, width), max_candidates)

    covered = (pix_to_face >= 0).flatten().nonzero().squeeze(1)
    face = pix_to_face.flatten()[covered]
    image_index = covered // (height * width)
    pixel = covered % (height * width)
    pixel_xy = torch.stack([pixel % width, pixel // width], dim=1).to(verts_screen.dtype) + 0.5
    corner_index = (image_index * num_verts)[:, None] + faces[face]
    tri = verts_screen.reshape(-1, 3)[corner_index.flatten()].view(-1, 3, 3)
    bary, depth = _perspective_bary(tri, pixel_xy)

    num_pixels = batch * height * width
    bary_image = verts_screen.new_zeros(num_pixels, 3).index_put((covered,), bary)
    zbuf = verts_screen.new_full((num_pixels,), -1.0).index_put((covered,), depth)
    return Fragments(
        pix_to_face=pix_to_face,
        bary=bary_image.view(batch, height, width, 3),
        zbuf=zbuf.view(batch, height, width),
    )
