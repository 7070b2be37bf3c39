"""The open hand (assets/open_hand, built by hifihr.hand.open_hand): NIMBLE's file format, a
sound skin, keypoints in FreiHAND order, plausible shape and pose spaces, a deterministic build."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial import cKDTree

from helpers import assert_close
from hifihr.hand import OPEN_HAND_DIR, load_hand_model, load_pickle, open_hand
from hifihr.hand.joints import FREIHAND_NAMES

MODEL_KEYS = {
    "vert", "bone_v_sep", "skin_v_sep", "face", "bone_f", "muscle_f", "skin_f", "all_sw", "all_pbs", "jreg_bone",
    "jreg_mano", "shape_basis", "shape_pm_std", "shape_pm_mean", "pose_basis", "pose_mean", "pose_pm_std",
    "pose_pm_mean", "skin_v_surface_mask", "skin_v_gd",
}  # fmt: skip


@pytest.fixture(scope="module")
def raw():
    return {name: load_pickle(OPEN_HAND_DIR / name) for name in ("NIMBLE_DICT_9137.pkl", "NIMBLE_TEX_DICT.pkl", "NIMBLE_TEX_FUV.pkl")}


@pytest.fixture(scope="module")
def hand():
    return load_hand_model("open_hand", dtype=torch.float64)


@pytest.fixture(scope="module")
def rest_and_mean(hand):
    """Skin [2, Ns, 3] in mm: the rest template (zero axis-angles) and the mean pose."""
    rest = hand(full_pose=torch.zeros(1, 20, 3, dtype=torch.float64))
    mean = hand(pose=torch.zeros(1, 3 + hand.pose_ncomp, dtype=torch.float64))
    return rest, mean


def self_intersections(verts: np.ndarray, faces: np.ndarray) -> int:
    """Number of (edge, triangle) crossings between triangles that share no vertex: zero for
    a surface without self-intersection (two crossing triangles always have an edge of one
    piercing the other). Candidate pairs come from a centroid k-d tree."""
    tri = verts[faces]
    max_edge = np.linalg.norm(tri - np.roll(tri, 1, axis=1), axis=2).max()
    pairs = cKDTree(tri.mean(axis=1)).query_pairs(1.5 * max_edge, output_type="ndarray")
    shared = (faces[pairs[:, 0], :, None] == faces[pairs[:, 1], None, :]).any(axis=(1, 2))
    pairs = pairs[~shared]
    count = 0
    for a, b in (pairs.T, pairs[:, ::-1].T):
        v0, v1, v2 = tri[b, 0], tri[b, 1], tri[b, 2]
        e1, e2 = v1 - v0, v2 - v0
        for k in range(3):
            p, q = tri[a, k], tri[a, (k + 1) % 3]
            d = q - p
            h = np.cross(d, e2)
            det = np.sum(e1 * h, axis=1)
            ok = np.abs(det) > 1e-12
            inv = 1.0 / np.where(ok, det, 1.0)
            s = p - v0
            u = inv * np.sum(s * h, axis=1)
            qv = np.cross(s, e1)
            v = inv * np.sum(d * qv, axis=1)
            t = inv * np.sum(e2 * qv, axis=1)
            hit = ok & (u > 1e-9) & (v > 1e-9) & (u + v < 1 - 1e-9) & (t > 1e-9) & (t < 1 - 1e-9)
            count += int(hit.sum())
    return count


def winding_numbers(verts: np.ndarray, faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Generalised winding number [P] of a closed mesh at points [P, 3] (1 inside, 0 outside),
    summing the solid angles of the triangles (Van Oosterom and Strackee)."""
    a, b, c = (verts[faces[:, k]][None] - points[:, None] for k in range(3))
    la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
    numer = np.sum(a * np.cross(b, c), axis=-1)
    denom = la * lb * lc + np.sum(a * b, -1) * lc + np.sum(b * c, -1) * la + np.sum(c * a, -1) * lb
    return 2.0 * np.arctan2(numer, denom).sum(axis=1) / (4.0 * np.pi)


def test_winding_number_of_a_box():
    box = trimesh.creation.box(extents=(2.0, 2.0, 2.0))
    wn = winding_numbers(box.vertices, box.faces, np.array([[0.0, 0.0, 0.0], [0.9, 0.5, -0.9], [3.0, 0.0, 0.0]]))
    assert_close(torch.tensor(wn), torch.tensor([1.0, 1.0, 0.0]), atol=1e-9)


def test_self_intersection_check_finds_a_crossing():
    # Two unit triangles crossing each other, and the same pair pulled apart.
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0.2, 0.2, -0.5], [0.3, 0.2, 0.5], [0.2, 0.3, 0.5]], dtype=float)
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    assert self_intersections(verts, faces) > 0
    assert self_intersections(verts + np.array([[0, 0, 0]] * 3 + [[5, 0, 0]] * 3), faces) == 0


def test_format_contract(raw):
    model, tex, fuv = raw["NIMBLE_DICT_9137.pkl"], raw["NIMBLE_TEX_DICT.pkl"], raw["NIMBLE_TEX_FUV.pkl"]
    assert set(model) == MODEL_KEYS
    num_all = model["vert"].shape[0]
    num_bone, num_skin = model["bone_v_sep"], -model["skin_v_sep"]
    assert isinstance(num_bone, int)
    assert isinstance(model["skin_v_sep"], int)
    assert model["skin_v_sep"] < 0
    num_muscle = num_all - num_bone - num_skin
    assert num_bone > 0
    assert num_muscle > 0
    assert 1500 <= num_skin <= 3000
    for key, value in model.items():
        if key.endswith("_sep"):
            continue
        assert isinstance(value, torch.Tensor), key
    for key in ("face", "bone_f", "muscle_f", "skin_f"):
        assert model[key].dtype == torch.int64, key
        assert model[key].shape[1] == 3, key
    assert int(model["bone_f"].max()) < num_bone
    assert int(model["muscle_f"].max()) < num_muscle
    assert int(model["skin_f"].max()) == num_skin - 1
    assert int(model["skin_f"].min()) == 0
    assert model["face"].shape[0] == sum(model[k].shape[0] for k in ("bone_f", "muscle_f", "skin_f"))
    assert torch.equal(model["face"][-model["skin_f"].shape[0] :], model["skin_f"] + num_bone + num_muscle)
    shapes = {
        "vert": (num_all, 3), "all_sw": (num_all, 25), "all_pbs": (num_all, 3, 171), "jreg_bone": (25, num_bone),
        "jreg_mano": (21, num_skin), "pose_mean": (57,), "skin_v_surface_mask": (num_skin,), "skin_v_gd": (num_skin, num_skin),
    }  # fmt: skip
    for key, shape in shapes.items():
        assert tuple(model[key].shape) == shape, key
    num_shape, num_pose = model["shape_basis"].shape[0], model["pose_basis"].shape[0]
    assert num_shape >= 20
    assert model["shape_basis"].shape[1] == 3 * num_all
    assert num_pose >= 30
    assert model["pose_basis"].shape[1] == 57
    for key, size in (("shape_pm_std", num_shape), ("shape_pm_mean", num_shape), ("pose_pm_std", num_pose), ("pose_pm_mean", num_pose)):
        assert tuple(model[key].shape) == (size,), key
        assert model[key].is_floating_point()
    assert (model["shape_pm_std"] > 0).all()
    assert (model["pose_pm_std"] > 0).all()
    assert model["skin_v_surface_mask"].dtype == torch.bool
    assert bool(model["skin_v_surface_mask"].all())
    assert torch.count_nonzero(model["all_pbs"]) == 0  # no pose correctives (documented)
    gd = model["skin_v_gd"].double()
    assert_close(gd, gd.T, atol=0.0)
    assert float(gd.diagonal().abs().max()) == 0.0
    assert float(gd.min()) >= 0.0
    # Texture PCA: numpy arrays, flattened BGR maps, >= 10 components shared by the three maps.
    assert set(tex) == {"diffuse", "normal", "spec"}
    sizes = set()
    for name, entry in tex.items():
        assert set(entry) == {"basis", "mean", "std"}
        assert all(isinstance(v, np.ndarray) for v in entry.values())
        texels, comps = entry["basis"].shape
        sizes.add(texels)
        assert comps >= 10
        assert entry["mean"].shape == (texels,)
        assert entry["std"].shape == (comps,)
        assert round((texels / 3) ** 0.5) ** 2 * 3 == texels
    assert len(sizes) == 1
    # UV layout: OBJ lines whose faces are skin_f + 1 row by row.
    assert all(isinstance(line, str) for line in fuv)
    face_lines = [line.split()[1:] for line in fuv if line.startswith("f ")]
    corners = np.array([[int(c.split("/")[0]) for c in f] for f in face_lines])
    np.testing.assert_array_equal(corners, model["skin_f"].numpy() + 1)
    assert not (OPEN_HAND_DIR / "NIMBLE_MANO_VREG.pkl").exists()


def test_asset_size_and_checksums():
    files = [p for p in OPEN_HAND_DIR.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 20 * 1024 * 1024
    recorded = dict(line.split()[::-1] for line in (OPEN_HAND_DIR / "SHA256SUMS").read_text().splitlines())
    assert set(recorded) == {"NIMBLE_DICT_9137.pkl", "NIMBLE_TEX_DICT.pkl", "NIMBLE_TEX_FUV.pkl"}
    for name, digest in recorded.items():
        assert hashlib.sha256((OPEN_HAND_DIR / name).read_bytes()).hexdigest() == digest, name


def test_loads_through_the_nimble_layer(hand):
    out = hand(
        shape=torch.zeros(2, 20, dtype=torch.float64),
        pose=torch.zeros(2, 30, dtype=torch.float64),
        texture=torch.zeros(2, 10, dtype=torch.float64),
        export_maps=True,
    )
    num_skin = hand.skin_template.shape[0]
    assert out.verts.shape == (2, num_skin, 3)
    assert out.joints.shape == (2, 21, 3)
    assert out.model_joints.shape == (2, 25, 3)
    assert out.eval_verts.shape == out.verts.shape
    assert torch.equal(out.eval_faces, out.faces)
    assert out.texture.shape[1:] == (hand.texture_size, hand.texture_size, 3)
    assert out.normal_map.shape == out.texture.shape
    # Metres: a hand is 15-25 cm from the wrist keypoint to the middle fingertip (flattened).
    flat = hand(full_pose=torch.zeros(1, 20, 3, dtype=torch.float64))
    length = torch.linalg.vector_norm(flat.joints[0, 12] - flat.joints[0, 0])
    assert 0.15 < float(length) < 0.25
    # The mean diffuse map looks like skin: red > green > blue on average, mid brightness.
    mean_rgb = out.texture[0].reshape(-1, 3).mean(0)
    assert mean_rgb[0] > mean_rgb[1] > mean_rgb[2]
    assert 0.3 < float(mean_rgb.mean()) < 0.8
    # The normal map is tangent-space with +z (blue) up.
    assert float(out.normal_map[0, ..., 2].mean()) > 0.95


def test_skinning_weights_and_joint_regressor(raw):
    model = raw["NIMBLE_DICT_9137.pkl"]
    weights = model["all_sw"].double()
    assert float(weights.min()) >= 0.0
    assert_close(weights.sum(1), torch.ones(weights.shape[0], dtype=torch.float64), atol=1e-5)
    for key in ("jreg_bone", "jreg_mano"):
        reg = model[key].double()
        assert float(reg.min()) >= 0.0, key
        assert_close(reg.sum(1), torch.ones(reg.shape[0], dtype=torch.float64), atol=1e-5, msg=key)
    # Weights vary smoothly: across a skin edge, no weight jumps by more than 0.5.
    skin_w = weights[model["skin_v_sep"] :]
    f = model["skin_f"]
    jump = (skin_w[f[:, [0, 1, 2]]] - skin_w[f[:, [1, 2, 0]]]).abs().max()
    assert float(jump) < 0.5


def test_rest_and_mean_skin_are_watertight_and_do_not_self_intersect(hand, rest_and_mean):
    faces = hand.faces.numpy()
    for out in rest_and_mean:
        verts = out.verts[0].numpy() * 1000.0
        mesh = trimesh.Trimesh(verts, faces, process=False)
        assert mesh.is_watertight
        assert mesh.is_winding_consistent
        assert mesh.euler_number == 2
        assert mesh.volume > 2e5  # mm^3: about 0.36 litres
        assert self_intersections(verts, faces) == 0


def test_keypoints_inside_the_hand_and_in_order(hand, rest_and_mean):
    assert FREIHAND_NAMES[0] == "wrist"
    assert FREIHAND_NAMES[4] == "thumb_tip"
    for out in rest_and_mean:
        verts = out.verts[0].numpy() * 1000.0
        joints = out.joints[0].numpy() * 1000.0
        inside = winding_numbers(verts, hand.faces.numpy(), joints)
        gap = cKDTree(verts).query(joints)[0]  # distance to the nearest skin vertex (mm)
        tips = [4, 8, 12, 16, 20]
        others = [k for k in range(21) if k not in tips]
        # Joint centres lie well inside the skin; tips are skin points.
        assert (inside[others] > 0.99).all(), (inside, gap)
        assert (gap[others] > 2.0).all(), (inside, gap)
        assert (gap[tips] < 0.5).all(), gap[tips]
        for finger in range(5):
            chain = joints[[0] + [1 + 4 * finger + i for i in range(4)]]
            dist = np.linalg.norm(chain[1:] - chain[0], axis=1)
            assert (np.diff(dist) > 0).all(), (finger, dist)
        # Right hand in NIMBLE's frame: the thumb on +x (MCPs ordered along x), fingers along +z.
        assert joints[2, 0] > joints[5, 0] > joints[9, 0] > joints[13, 0] > joints[17, 0]
        assert joints[12, 2] - joints[0, 2] > 100.0


def test_mean_pose_is_relaxed_and_rest_is_flat_enough(hand, rest_and_mean):
    rest, mean = (out.joints[0].numpy() * 1000.0 for out in rest_and_mean)
    # Zero normalised coefficients give the PCA mean pose.
    pose = hand.full_pose_from_pca(torch.zeros(1, 3 + hand.pose_ncomp, dtype=torch.float64))
    assert_close(pose[0, 1:].reshape(-1), hand.pose_mean, atol=1e-12)
    # Relaxed: fingertips move to the palm side (-y) by 1-6 cm, the hand does not close.
    for tip in (8, 12, 16, 20):
        drop = rest[tip, 1] - mean[tip, 1]
        assert 10.0 < drop < 60.0, (tip, drop)
    angles = torch.linalg.vector_norm(pose[0, 1:], dim=-1)
    assert float(angles.max()) < np.radians(70.0)


def finger_lengths(joints: torch.Tensor) -> torch.Tensor:
    """MCP (thumb: CMC) to tip distance [B, 5] along each finger's keypoint chain (mm)."""
    segments = [torch.linalg.vector_norm(joints[:, 1 + 4 * f + 1 : 1 + 4 * f + 4] - joints[:, 1 + 4 * f : 1 + 4 * f + 3], dim=-1).sum(-1) for f in range(5)]
    return torch.stack(segments, dim=1) * 1000.0


def test_shape_components_are_smooth_and_plausible(hand):
    steps = torch.linspace(-2.0, 2.0, 5, dtype=torch.float64)
    flat = torch.zeros(5, 20, 3, dtype=torch.float64)
    faces = hand.faces
    edge_len = torch.linalg.vector_norm(hand.skin_template[faces[:, 0]] - hand.skin_template[faces[:, 1]], dim=-1)
    spans = []
    for k in range(10):
        shape = torch.zeros(5, 20, dtype=torch.float64)
        shape[:, k] = steps
        out = hand(shape=shape, full_pose=flat)
        disp = (out.verts - out.verts[2:3]) * 1000.0
        # Bounded: at 2 standard deviations no vertex moves more than 25 mm.
        assert float(disp.abs().max()) < 25.0, k
        # Smooth: neighbouring vertices move alike (relative stretch of any edge under 35 %).
        stretch = torch.linalg.vector_norm(disp[:, faces[:, 0]] - disp[:, faces[:, 1]], dim=-1) / edge_len
        assert float(stretch.max()) < 0.35, (k, float(stretch.max()))
        lengths = finger_lengths(out.joints)
        diffs = lengths[1:] - lengths[:-1]
        # Every finger's length changes monotonically along the component.
        assert bool(((diffs >= -1e-6).all(0) | (diffs <= 1e-6).all(0)).all()), k
        spans.append(float((lengths[-1] - lengths[0]).abs().max()))
    # The leading components change finger lengths by centimetre-scale amounts, not the noise.
    assert max(spans) > 8.0
    # The whole shape space keeps the skin watertight (no topology change) and roughly a hand.
    out = hand(shape=torch.full((1, 20), 2.0, dtype=torch.float64), full_pose=flat[:1])
    mesh = trimesh.Trimesh(out.verts[0].numpy() * 1000.0, faces.numpy(), process=False)
    assert mesh.is_watertight
    assert 1.5e5 < mesh.volume < 8e5


def test_pose_components_span_flexion_spread_and_opposition(hand):
    num = hand.pose_ncomp
    pose = torch.zeros(2 * num + 1, 3 + num, dtype=torch.float64)
    pose[torch.arange(num), 3 + torch.arange(num)] = -2.0
    pose[num + torch.arange(num), 3 + torch.arange(num)] = 2.0
    joints = hand(pose=pose).joints * 1000.0  # the last row is the mean pose
    tips = joints[:-1, [4, 8, 12, 16, 20]] - joints[-1:, [4, 8, 12, 16, 20]]
    # Every fingertip (thumb included) moves by more than 2 cm somewhere in the pose space.
    assert float(tips.norm(dim=-1).max(0).values.min()) > 20.0
    # Plausible: at 2 standard deviations no bone turns by more than 150 degrees.
    angles = torch.linalg.vector_norm(hand.full_pose_from_pca(pose)[:, 1:], dim=-1)
    assert float(angles.max()) < np.radians(150.0)


def test_build_is_deterministic():
    pytest.importorskip("fast_simplification", reason="the open-hand builder decimates with fast-simplification")
    tiny = replace(open_hand.FULL, grid_mm=3.0, skin_verts=500, texture_size=24, shape_samples=24, pose_samples=60, tex_samples=12)
    first = {name: open_hand.pickle_bytes(obj) for name, obj in open_hand.build(tiny, log=lambda *args: None).items()}
    second = {name: open_hand.pickle_bytes(obj) for name, obj in open_hand.build(tiny, log=lambda *args: None).items()}
    assert first == second
    assert len(first["NIMBLE_DICT_9137.pkl"]) > 100_000
