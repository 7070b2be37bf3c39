"""The open-hand builder's steps (hifihr.hand.open_hand), each against an independent
computation: distance fields against closed forms, meshing and flattening against known
surfaces, the PCA fits against their definitions, the files against hashlib and the loader."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
import trimesh

from helpers import assert_close
from hifihr.hand import load_pickle
from hifihr.hand.open_hand import pickle_bytes, write_assets
from hifihr.hand.open_hand.meshing import graph_geodesics, surface_area, surface_nets, vertex_normals
from hifihr.hand.open_hand.pca import pose_pca, shape_pca, texture_pca
from hifihr.hand.open_hand.skeleton import BONE_CHILD, BONE_JOINT, FINGER_BONES, default_hand, make_skeleton, rotation
from hifihr.hand.open_hand.skin_field import sd_polygon, sd_round_cone, smin
from hifihr.hand.open_hand.uv_layout import lscm, rasterize_uv


def _points(num: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-3.0, 3.0, size=(num, 3))


def _sphere_grid(radius: float, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Signed distances of a sphere at the origin on a grid, and the grid's origin."""
    axis = np.arange(-radius - 3 * spacing, radius + 3 * spacing + 1e-9, spacing)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    return np.sqrt(x * x + y * y + z * z) - radius, np.full(3, axis[0])


def test_rotation_follows_the_right_hand_rule():
    # A quarter turn about +z takes +x to +y.
    assert_close(torch.tensor(rotation(np.array([0.0, 0.0, 1.0]), 90.0) @ np.array([1.0, 0.0, 0.0])), torch.tensor([0.0, 1.0, 0.0]), atol=1e-12)


def test_skeleton_bones_have_the_lengths_of_the_parameters():
    params = default_hand()
    skel = make_skeleton(params)
    for finger in range(1, 5):
        for step, bone in enumerate(FINGER_BONES[finger][1:]):
            length = np.linalg.norm(skel.joints[BONE_CHILD[bone]] - skel.joints[BONE_JOINT[bone]])
            assert length == pytest.approx(params["phalanges"][finger, step], abs=1e-9), (finger, step)
    # Bone frames are rotations whose axial column points to the child joint.
    for bone in range(1, 20):
        frame = skel.frames[bone]
        assert_close(torch.tensor(frame.T @ frame), torch.eye(3, dtype=torch.float64), atol=1e-12, msg=str(bone))
        direction = skel.joints[BONE_CHILD[bone]] - skel.joints[BONE_JOINT[bone]]
        assert_close(torch.tensor(frame[:, 2]), torch.tensor(direction / np.linalg.norm(direction)), atol=1e-9, msg=str(bone))


def test_round_cone_with_equal_radii_is_a_capsule():
    p = _points(500)
    a, b, radius = np.array([-1.0, 0.2, 0.0]), np.array([1.5, -0.3, 0.4]), 0.7
    t = np.clip((p - a) @ (b - a) / np.dot(b - a, b - a), 0.0, 1.0)
    capsule = np.linalg.norm(p - a - t[:, None] * (b - a), axis=1) - radius
    assert_close(torch.tensor(sd_round_cone(p, a, b, radius, radius)), torch.tensor(capsule), atol=1e-9)


def test_round_cone_is_exact_at_its_end_spheres():
    # Points on the axis beyond each end: the distance to the end sphere of that side.
    a, b, r1, r2 = np.array([0.0, 0.0, 0.0]), np.array([0.0, 0.0, 2.0]), 0.8, 0.3
    p = np.array([[0.0, 0.0, -1.5], [0.0, 0.0, 3.0]])
    assert_close(torch.tensor(sd_round_cone(p, a, b, r1, r2)), torch.tensor([1.5 - r1, 1.0 - r2]), atol=1e-6)


def test_polygon_distance_of_a_square():
    square = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]])
    q = np.array([[1.0, 1.0], [1.0, 0.5], [3.0, 1.0], [3.0, 3.0]])
    assert_close(torch.tensor(sd_polygon(q, square)), torch.tensor([-1.0, -0.5, 1.0, np.sqrt(2.0)]), atol=1e-12)


def test_smooth_minimum():
    a, b = np.array([0.0, 0.0, 1.0]), np.array([0.0, 2.0, -1.0])
    # Far apart (|a - b| >= k): the plain minimum; equal: min - k / 4.
    assert_close(torch.tensor(smin(a, b, 1.0)), torch.tensor([-0.25, 0.0, -1.0]), atol=1e-12)


def test_surface_nets_of_a_sphere():
    radius, spacing = 1.0, 0.1
    values, origin = _sphere_grid(radius, spacing)
    verts, faces = surface_nets(values, origin, spacing)
    mesh = trimesh.Trimesh(verts, faces, process=False)
    assert mesh.is_watertight
    assert mesh.is_winding_consistent
    assert mesh.euler_number == 2
    # Vertices lie within a cell of the sphere; the enclosed volume is positive (outward faces).
    assert float(np.abs(np.linalg.norm(verts, axis=1) - radius).max()) < spacing
    assert mesh.volume == pytest.approx(4.0 / 3.0 * np.pi * radius**3, rel=0.05)
    # Vertex normals point away from the centre.
    normals = vertex_normals(verts, faces)
    assert float(np.sum(normals * verts / np.linalg.norm(verts, axis=1, keepdims=True), axis=1).min()) > 0.8


def test_surface_area_and_geodesics_of_a_unit_square():
    verts = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    assert surface_area(verts, faces) == pytest.approx(1.0, abs=1e-12)
    # Along edges: opposite corners are one diagonal apart (0 -> 2) or two sides (1 -> 3).
    gd = graph_geodesics(verts, faces)
    assert gd[0, 2] == pytest.approx(np.sqrt(2.0), abs=1e-12)
    assert gd[1, 3] == pytest.approx(2.0, abs=1e-12)


def test_lscm_of_a_planar_patch_is_an_isometry():
    # A bent-free triangulated grid in a tilted plane flattens without distortion.
    u, v = np.meshgrid(np.linspace(0.0, 2.0, 5), np.linspace(0.0, 1.0, 4), indexing="ij")
    plane = np.stack([u.ravel(), v.ravel(), np.zeros(u.size)], axis=1)
    verts = plane @ rotation(np.array([1.0, 1.0, 0.0]) / np.sqrt(2.0), 35.0).T
    idx = np.arange(u.size).reshape(u.shape)
    faces = np.array(
        [f for i in range(4) for j in range(3) for f in ((idx[i, j], idx[i + 1, j], idx[i + 1, j + 1]), (idx[i, j], idx[i + 1, j + 1], idx[i, j + 1]))]
    )
    uv = lscm(verts, faces, (0, int(idx[4, 3])))
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    len_3d = np.linalg.norm(verts[edges[:, 0]] - verts[edges[:, 1]], axis=1)
    len_2d = np.linalg.norm(uv[edges[:, 0]] - uv[edges[:, 1]], axis=1)
    assert_close(torch.tensor(len_2d), torch.tensor(len_3d), atol=1e-9)
    assert_close(torch.tensor(uv[0]), torch.zeros(2, dtype=torch.float64), atol=1e-12)


def test_rasterized_barycentrics_give_the_texel_centres():
    verts_uvs = np.array([[0.05, 0.1], [0.9, 0.2], [0.3, 0.95]])
    faces_uvs = np.array([[0, 1, 2]])
    size = 16
    face, bary = rasterize_uv(verts_uvs, faces_uvs, size)
    rows, cols = np.nonzero(face == 0)
    assert len(rows) > 50
    # Texel (row, col) sits at uv = (col / (size - 1), 1 - row / (size - 1)).
    expected = np.stack([cols / (size - 1), 1.0 - rows / (size - 1)], axis=1)
    assert_close(torch.tensor(bary[rows, cols] @ verts_uvs), torch.tensor(expected), atol=1e-9)
    assert float(bary[rows, cols].min()) >= -1e-6


def test_shape_and_pose_pca_follow_their_definitions():
    rng = np.random.default_rng(1)
    samples = rng.standard_normal((40, 12)) @ rng.standard_normal((12, 12)) + 3.0
    basis, pm_mean, pm_std = shape_pca(samples, 5)
    assert_close(torch.tensor(basis @ basis.T), torch.eye(5, dtype=torch.float64), atol=1e-10)
    coeffs = samples @ basis.T  # uncentred coefficients
    assert_close(torch.tensor(pm_mean), torch.tensor(coeffs.mean(0)), atol=1e-10)
    assert_close(torch.tensor(pm_std), torch.tensor(coeffs.std(0)), atol=1e-10)
    # The leading component spans the largest variance, as the covariance's top eigenvector.
    top = np.linalg.eigh(np.cov(samples.T))[1][:, -1]
    assert abs(float(basis[0] @ top)) == pytest.approx(1.0, abs=1e-8)
    # Signs: each component's largest-magnitude entry is positive.
    assert (basis[np.arange(5), np.abs(basis).argmax(1)] > 0).all()
    p_basis, mean, p_pm_mean, _ = pose_pca(samples, 5)
    assert_close(torch.tensor(mean), torch.tensor(samples.mean(0)), atol=1e-12)
    assert_close(torch.tensor(p_pm_mean), torch.zeros(5, dtype=torch.float64), atol=1e-10)
    assert_close(torch.tensor(np.abs(p_basis)), torch.tensor(np.abs(basis)), atol=1e-8)


def test_texture_pca_through_the_gram_matrix_matches_the_svd():
    rng = np.random.default_rng(2)
    samples = rng.uniform(0.0, 1.0, size=(10, 60)).astype(np.float32)
    basis, mean, std = texture_pca(samples, 4)
    centred = samples.astype(np.float64) - samples.mean(0, dtype=np.float64)
    _, sing, vt = np.linalg.svd(centred, full_matrices=False)
    assert_close(torch.tensor(mean), torch.tensor(samples.mean(0, dtype=np.float64)), atol=1e-12)
    assert_close(torch.tensor(std), torch.tensor(sing[:4] / np.sqrt(len(samples))), atol=1e-5)
    assert_close(torch.tensor(np.abs(basis.T)), torch.tensor(np.abs(vt[:4])), atol=1e-4)


def test_pickles_are_deterministic_and_load_through_the_safe_unpickler(tmp_path):
    values = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    first = {"a": values.clone(), "n": 3, "e": torch.zeros(1).expand(2, 5)}
    second = {"a": values.clone(), "n": 3, "e": torch.zeros(1).expand(2, 5)}  # other storages
    assert pickle_bytes(first) == pickle_bytes(second)
    digests = write_assets({"x.pkl": first}, tmp_path)
    data = (tmp_path / "x.pkl").read_bytes()
    assert digests == {"x.pkl": hashlib.sha256(data).hexdigest()}
    assert (tmp_path / "SHA256SUMS").read_text() == f"{digests['x.pkl']}  x.pkl\n"
    loaded = load_pickle(tmp_path / "x.pkl")
    assert torch.equal(loaded["a"], values)
    assert loaded["n"] == 3
    assert loaded["e"].shape == (2, 5)
    assert loaded["e"].stride() == (0, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SHA256SUMS", "x.pkl"]  # no temporary left
