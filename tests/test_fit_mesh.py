"""Mesh regularisers and subdivision of the refinement (hifihr.fit.mesh), and the P2S metric."""

from __future__ import annotations

import itertools

import pytest
import torch
from helpers import assert_close

from hifihr.fit.mesh import (
    displacement_energy,
    edge_length_energy,
    image_laplacian_energy,
    laplacian_energy,
    mesh_edges,
    subdivide_midpoint,
    uniform_laplacian,
    uv_texels,
    vertex_values_to_map,
)
from hifihr.render.textures import sample_uv_map
from hifihr.metrics.surface import point_to_surface

TETRA_FACES = torch.tensor([[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]])


def grid_mesh(n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """An n x n vertex grid in the z = 0 plane, two triangles per cell."""
    ys, xs = torch.meshgrid(torch.arange(n, dtype=torch.float64), torch.arange(n, dtype=torch.float64), indexing="ij")
    verts = torch.stack([xs.flatten(), ys.flatten(), torch.zeros(n * n, dtype=torch.float64)], -1)
    faces = []
    for r, c in itertools.product(range(n - 1), range(n - 1)):
        i = r * n + c
        faces += [[i, i + 1, i + n], [i + 1, i + n + 1, i + n]]
    return verts, torch.tensor(faces)


def test_mesh_edges_of_a_tetrahedron():
    edges = mesh_edges(TETRA_FACES)
    assert edges.tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]


def test_uniform_laplacian_matches_a_loop_over_neighbours():
    verts, faces = grid_mesh()
    values = torch.rand(2, verts.shape[0], 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    edges = mesh_edges(faces)
    neighbours = {i: set() for i in range(verts.shape[0])}
    for a, b in edges.tolist():
        neighbours[a].add(b)
        neighbours[b].add(a)
    expected = torch.stack(
        [values[:, i] - values[:, sorted(neighbours[i])].mean(1) for i in range(verts.shape[0])], dim=1
    )
    assert_close(uniform_laplacian(values, edges), expected, atol=1e-12)
    # a plane is its own average at interior vertices: zero Laplacian there
    interior = uniform_laplacian(verts[None], edges)[0, 5]
    assert_close(interior, torch.zeros(3, dtype=torch.float64), atol=1e-12)


def test_edge_and_displacement_energies_hand_values():
    verts, faces = grid_mesh(2)  # unit square, edges: 4 sides of length 1, 1 diagonal of sqrt 2
    edges = mesh_edges(faces)
    stretched = verts * torch.tensor([2.0, 1.0, 1.0], dtype=torch.float64)  # x sides 2, diagonal sqrt 5
    expected = (2 * 1.0**2 + (5**0.5 - 2**0.5) ** 2) / 5
    assert edge_length_energy(stretched[None], verts[None], edges).item() == pytest.approx(expected)
    offsets = torch.zeros(1, 4, 3, dtype=torch.float64)
    offsets[0, 0] = torch.tensor([3.0, 4.0, 0.0])
    assert displacement_energy(offsets).item() == pytest.approx(25.0 / 4)


def test_image_laplacian_is_zero_on_a_linear_ramp_inside_and_matches_the_stencil():
    ramp = (torch.arange(5, dtype=torch.float64) * 0.1).view(1, 5, 1, 1).expand(1, 5, 5, 1)
    # interior rows: 0; first and last rows (replicated border): |0.025|^2 at each of 10 texels
    assert image_laplacian_energy(ramp).item() == pytest.approx(10 * 0.025**2 / 25)
    maps = torch.zeros(1, 3, 3, 1, dtype=torch.float64)
    maps[0, 1, 1, 0] = 1.0  # a single bright texel
    # centre: (1 - 0)^2; its 4 neighbours (replicated border): (0 - 1/4)^2 each; corners 0
    assert image_laplacian_energy(maps).item() == pytest.approx((1.0 + 4 * 0.0625) / 9)


@pytest.mark.parametrize("energy", ["laplacian", "edge", "displacement", "image"])
def test_regulariser_gradients_match_finite_differences(energy):
    verts, faces = grid_mesh(3)
    edges = mesh_edges(faces)
    g = torch.Generator().manual_seed(1)
    rest = verts[None] + 0.1 * torch.rand(1, 9, 3, generator=g, dtype=torch.float64)
    x = (rest + 0.05 * torch.rand(1, 9, 3, generator=g, dtype=torch.float64)).requires_grad_(True)
    fns = {
        "laplacian": lambda v: laplacian_energy(v, edges),
        "edge": lambda v: edge_length_energy(v, rest, edges),
        "displacement": lambda v: displacement_energy(v - rest),
        "image": lambda v: image_laplacian_energy(v.view(1, 3, 3, 3)),
    }
    assert torch.autograd.gradcheck(fns[energy], (x,), eps=1e-6, atol=1e-6)


def test_vertex_values_written_into_the_uv_map_interpolate_linearly_at_the_texel_positions():
    # a 4 x 4 grid whose UV layout is its own (x, y) over 3: an affine per-vertex value must come
    # back at each texel as the same affine function of the texel's uv (sample_uv_map's positions)
    verts, faces = grid_mesh(4)
    verts_uvs = (verts[:, :2] / 3.0).float()
    size = 7
    texels = uv_texels(verts_uvs, faces, size)
    values = torch.stack([verts_uvs[:, 0], verts_uvs[:, 1], 0.2 + 0.5 * verts_uvs[:, 0] - 0.3 * verts_uvs[:, 1]], 1)
    maps = vertex_values_to_map(values, faces, texels)
    assert maps.shape == (1, size, size, 3)
    cols, rows = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="xy")
    u, v = cols / (size - 1), 1.0 - rows / (size - 1)
    assert_close(maps[0, ..., 0], u.float(), atol=1e-5)
    assert_close(maps[0, ..., 1], v.float(), atol=1e-5)
    assert_close(maps[0, ..., 2], (0.2 + 0.5 * u - 0.3 * v).float(), atol=1e-5)
    # sampled back at the vertices' own uv it gives the vertex values
    assert_close(sample_uv_map(maps, verts_uvs[None, None])[0, 0], values, atol=1e-5)
    # texels outside the layout stay 0; the map is linear in the values (gradient flows)
    half = uv_texels(verts_uvs * 0.5, faces, size)
    assert vertex_values_to_map(torch.ones(16, 1), faces, half)[0, 0, -1].item() == 0.0
    assert vertex_values_to_map(torch.ones(16, 1), faces, half)[0, -1, 0].item() == 1.0
    leaf = values.clone().requires_grad_(True)
    vertex_values_to_map(leaf, faces, texels).sum().backward()
    assert leaf.grad.abs().sum() > 0


def test_midpoint_subdivision_keeps_the_surface_and_refines_the_topology():
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float64)[None]
    uvs = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.5]])
    faces_uvs = torch.tensor([[0, 2, 1], [0, 1, 3], [1, 2, 4], [0, 3, 2]])
    new_verts, new_faces, new_uvs, new_faces_uvs = subdivide_midpoint(verts, TETRA_FACES, uvs, faces_uvs)
    assert new_verts.shape == (1, 4 + 6, 3) and new_faces.shape == (16, 3) and new_faces_uvs.shape == (16, 3)
    assert_close(new_verts[:, :4], verts)
    # Euler characteristic of a closed surface is kept: V - E + F = 2
    assert new_verts.shape[1] - mesh_edges(new_faces).shape[0] + new_faces.shape[0] == 2
    # every new vertex is the midpoint of an input edge, and every child face lies in its parent
    for e, (a, b) in enumerate(mesh_edges(TETRA_FACES).tolist()):
        assert_close(new_verts[0, 4 + e], 0.5 * (verts[0, a] + verts[0, b]), atol=1e-12)
    area = lambda v, f: torch.linalg.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]], dim=-1).norm(dim=-1).sum()  # noqa: E731
    assert area(new_verts[0], new_faces).item() == pytest.approx(area(verts[0], TETRA_FACES).item())
    # UV corners of each child face are the parent's UV corners and their midpoints
    assert new_uvs.shape[0] == uvs.shape[0] + mesh_edges(faces_uvs).shape[0]
    assert_close(new_uvs[new_faces_uvs[0, 0]], uvs[0])


def test_point_to_surface_hand_values_and_dense_sampling():
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2]])
    points = torch.tensor(
        [[0.2, 0.2, 0.5], [-1.0, -1.0, 0.0], [0.5, -2.0, 0.0], [1.0, 1.0, 0.0], [2.0, 0.0, 3.0]], dtype=torch.float64
    )
    expected = torch.tensor([0.5, 2**0.5, 2.0, 0.5**0.5, 10**0.5], dtype=torch.float64)
    assert_close(point_to_surface(points, verts, faces), expected, atol=1e-12)
    # a random mesh: against the nearest of dense samples of every triangle (an upper bound
    # that converges to the true distance)
    g = torch.Generator().manual_seed(2)
    verts = torch.rand(6, 3, generator=g, dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2], [2, 3, 4], [1, 4, 5], [0, 5, 3]])
    points = 2 * torch.rand(40, 3, generator=g, dtype=torch.float64) - 0.5
    steps = 120
    a, b = torch.meshgrid(torch.linspace(0, 1, steps + 1, dtype=torch.float64), torch.linspace(0, 1, steps + 1, dtype=torch.float64), indexing="ij")
    keep = (a + b) <= 1
    bary = torch.stack([1 - a[keep] - b[keep], a[keep], b[keep]], -1)
    samples = torch.einsum("sk,fkc->fsc", bary, verts[faces]).reshape(-1, 3)
    dense = torch.cdist(points, samples).amin(1)
    exact = point_to_surface(points, verts, faces)
    assert (exact <= dense + 1e-12).all()
    assert_close(exact, dense, atol=2e-2)
