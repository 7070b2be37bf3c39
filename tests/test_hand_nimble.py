"""NIMBLE layer against a naive implementation of the spec's formulas, and its invariants."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fixtures.hand_assets import make_nimble_arrays, write_mano_file, write_nimble_assets
from helpers import assert_close
from hifihr.hand import AssetError, load_hand_model

# Written out from hand-models.md §2.1, independently of hifihr.hand.joints.
NIMBLE_PARENTS = [-1, 0, 1, 2, 3, 0, 5, 6, 7, 8, 0, 10, 11, 12, 13, 0, 15, 16, 17, 18, 0, 20, 21, 22, 23]
FREI_FROM_MANO21 = [0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20]


def _np(value):
    return value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def rodrigues(aa: np.ndarray) -> np.ndarray:
    theta = np.linalg.norm(aa)
    if theta < 1e-12:
        return np.eye(3)
    k = aa / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * kx @ kx


def naive_nimble(arrays, shape, pose, texture, mano=None):
    """One sample, float64 numpy, every vertex layer, straight from hand-models.md §2."""
    pm = {k: _np(v) for k, v in arrays["pm"].items()}
    vert = pm["vert"].reshape(-1, 3)
    n, nb = len(vert), int(pm["bone_v_sep"])
    s, p, t = len(shape), len(pose) - 3, len(texture)
    beta = shape * pm["shape_pm_std"][:s] + pm["shape_pm_mean"][:s]
    v_shaped = vert + (beta @ pm["shape_basis"][:s]).reshape(n, 3)
    joints = pm["jreg_bone"] @ v_shaped[:nb]
    theta = pose[3:] * pm["pose_pm_std"][:p] + pm["pose_pm_mean"][:p]
    bones = np.concatenate([pose[:3], theta @ pm["pose_basis"][:p] + pm["pose_mean"]]).reshape(20, 3)
    rots = [rodrigues(b) for b in bones]
    feature = np.concatenate([(rots[k] - np.eye(3)).ravel() for k in range(1, 20)])
    v_posed = v_shaped + pm["all_pbs"] @ feature
    end_joints = {4, 9, 14, 19, 24}
    bone_of_joint = {}
    for j in range(25):
        if j not in end_joints:
            bone_of_joint[j] = len(bone_of_joint)
    world = []
    for j in range(25):
        local = np.eye(4)
        local[:3, :3] = rots[bone_of_joint[j]] if j in bone_of_joint else np.eye(3)
        parent = NIMBLE_PARENTS[j]
        local[:3, 3] = joints[j] - (joints[parent] if parent >= 0 else 0)
        world.append(local if parent < 0 else world[parent] @ local)
    posed_joints = np.stack([g[:3, 3] for g in world])
    verts = np.zeros_like(v_posed)
    for v in range(n):
        for j in range(25):
            a = world[j].copy()
            a[:3, 3] -= world[j][:3, :3] @ joints[j]
            verts[v] += pm["all_sw"][v, j] * (a[:3, :3] @ v_posed[v] + a[:3, 3])
    skin = verts[int(pm["skin_v_sep"]) :] * 1e-3
    skin_f = pm["skin_f"]
    vreg = arrays["vreg"]
    mano_verts = np.zeros((778, 3))
    for r in range(vreg["lmk_faces_idx"].shape[0]):
        for l in range(778):
            corners = skin_f[vreg["lmk_faces_idx"][r, l]]
            mano_verts[l] += vreg["lmk_bary_coords"][r, l] @ skin[corners]
    mano_verts /= vreg["lmk_faces_idx"].shape[0]
    if mano is None:
        keypoints = pm["jreg_mano"] @ skin
    else:
        mano21 = np.concatenate([mano["J_regressor"] @ mano_verts, mano_verts[[744, 320, 443, 555, 672]]])
        keypoints = mano21[FREI_FROM_MANO21]
    tex = arrays["tex"]["diffuse"]
    size = int(round(np.sqrt(len(tex["mean"]) / 3)))
    diffuse = ((texture * tex["std"][:t]) @ tex["basis"][:, :t].T + tex["mean"]).reshape(size, size, 3)
    return {
        "verts": skin,
        "model_joints": posed_joints * 1e-3,
        "eval_verts": mano_verts,
        "joints": keypoints,
        "texture": np.clip(diffuse[..., ::-1], 0, 1),
    }


def random_inputs(batch, generator, dtype=torch.float64):
    return (
        torch.randn(batch, 20, generator=generator, dtype=dtype),
        torch.randn(batch, 30, generator=generator, dtype=dtype) * 0.5,
        torch.randn(batch, 10, generator=generator, dtype=dtype),
    )


@pytest.mark.parametrize("negative_skin_sep", [True, False])
@pytest.mark.parametrize("as_torch", [True, False])
@pytest.mark.parametrize("with_mano", [False, True])
def test_matches_naive_formulas(tmp_path, negative_skin_sep, as_torch, with_mano):
    arrays = write_nimble_assets(tmp_path / "nimble", negative_skin_sep=negative_skin_sep, as_torch=as_torch)
    mano = write_mano_file(tmp_path / "mano" / "MANO_RIGHT.pkl") if with_mano else None
    layer = load_hand_model(
        "nimble", tmp_path / "nimble", mano_dir=tmp_path / "mano" if with_mano else None, dtype=torch.float64
    )
    shape, pose, texture = random_inputs(2, torch.Generator().manual_seed(1))
    out = layer(shape, pose, texture)
    for b in range(2):
        expected = naive_nimble(arrays, shape[b].numpy(), pose[b].numpy(), texture[b].numpy(), mano)
        for name, value in expected.items():
            assert_close(getattr(out, name)[b], torch.from_numpy(value.copy()), atol=1e-8, msg=name)
    assert out.faces.dtype == torch.int64 and torch.equal(out.faces, torch.as_tensor(_np(arrays["pm"]["skin_f"])))
    assert (out.eval_faces is not None) == with_mano


def test_zero_pose_gives_rest_pose(tmp_path):
    write_nimble_assets(tmp_path)
    layer = load_hand_model("nimble", tmp_path, dtype=torch.float64)
    shape = torch.randn(2, 20, dtype=torch.float64)
    posed = layer(shape, full_pose=torch.zeros(2, 20, 3, dtype=torch.float64))
    beta = shape * layer.shape_std + layer.shape_mean
    shaped = (layer.skin_template + torch.einsum("vcs,bs->bvc", layer.skin_shapedirs, beta)) * 1e-3
    rest_joints = (layer.joint_template + torch.einsum("jcs,bs->bjc", layer.joint_shapedirs, beta)) * 1e-3
    assert_close(posed.verts, shaped, atol=1e-12)
    assert_close(posed.model_joints, rest_joints, atol=1e-12)


def test_root_rotation_rotates_about_the_carpal_joint(tmp_path):
    write_nimble_assets(tmp_path)
    layer = load_hand_model("nimble", tmp_path, dtype=torch.float64)
    gen = torch.Generator().manual_seed(3)
    shape = torch.randn(1, 20, generator=gen, dtype=torch.float64)
    full_pose = torch.randn(1, 20, 3, generator=gen, dtype=torch.float64) * 0.3
    unrotated = full_pose.clone()
    unrotated[:, 0] = 0
    base = layer(shape, full_pose=unrotated)
    rotated = layer(shape, full_pose=full_pose)
    rot = torch.from_numpy(rodrigues(full_pose[0, 0].numpy()))
    pivot = base.model_joints[:, :1]
    assert_close(rotated.verts, (base.verts - pivot) @ rot.T + pivot, atol=1e-10)
    assert_close(rotated.joints, (base.joints - pivot) @ rot.T + pivot, atol=1e-10)


def test_one_hot_registration_picks_vertices(tmp_path):
    arrays = make_nimble_arrays()
    faces = np.random.default_rng(0).integers(0, 60, size=(20, 778))
    corner = np.random.default_rng(1).integers(0, 3, size=(20, 778))
    faces[1:] = faces[0]
    corner[1:] = corner[0]
    arrays["vreg"] = {"lmk_faces_idx": faces, "lmk_bary_coords": np.eye(3)[corner]}
    write_nimble_assets(tmp_path, arrays=arrays)
    layer = load_hand_model("nimble", tmp_path, dtype=torch.float64)
    out = layer(*random_inputs(2, torch.Generator().manual_seed(0))[:2])
    picked = torch.as_tensor(_np(arrays["pm"]["skin_f"]))[faces[0], corner[0]]
    assert_close(out.eval_verts, out.verts[:, picked], atol=1e-15)


def test_zero_texture_gives_the_mean_maps(tmp_path):
    arrays = write_nimble_assets(tmp_path)
    layer = load_hand_model("nimble", tmp_path, dtype=torch.float64)
    out = layer(pose=torch.zeros(3, 30, dtype=torch.float64), export_maps=True)
    for field, name in (("texture", "diffuse"), ("normal_map", "normal"), ("specular_map", "spec")):
        mean = torch.from_numpy(arrays["tex"][name]["mean"]).reshape(8, 8, 3).flip(-1).clamp(0, 1)
        assert_close(getattr(out, field), mean.expand(3, 8, 8, 3), atol=1e-12, msg=field)
    plain = layer(pose=torch.zeros(3, 30, dtype=torch.float64))
    assert plain.normal_map is None and plain.specular_map is None


def test_gradients_reach_every_input(tmp_path):
    write_nimble_assets(tmp_path)
    layer = load_hand_model("nimble", tmp_path)
    inputs = [x.float().requires_grad_() for x in random_inputs(2, torch.Generator().manual_seed(0))]
    out = layer(*inputs)
    (out.verts.square().sum() + out.joints.sum() + out.texture.sum()).backward()
    for name, x in zip(("shape", "pose", "texture"), inputs):
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0, name
        assert (x.grad.abs().sum(0) > 0).all(), f"{name}: some coefficient gets no gradient"


def test_gradcheck_float64(tmp_path):
    write_nimble_assets(tmp_path, num_bone=8, num_muscle=4, num_skin=10, num_faces=12, tex_size=2)
    layer = load_hand_model("nimble", tmp_path, dtype=torch.float64, shape_ncomp=3, pose_ncomp=4, tex_ncomp=2)
    gen = torch.Generator().manual_seed(0)
    shape = torch.randn(1, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    pose = (0.5 * torch.randn(1, 7, generator=gen, dtype=torch.float64)).requires_grad_()
    # Keep the texture away from the clamp's kinks.
    texture = (0.01 * torch.randn(1, 2, generator=gen, dtype=torch.float64)).requires_grad_()

    def fn(shape, pose, texture):
        out = layer(shape, pose, texture)
        return out.verts, out.joints, out.eval_verts, out.texture

    assert torch.autograd.gradcheck(fn, (shape, pose, texture))


def test_float32_agrees_with_float64(tmp_path):
    write_nimble_assets(tmp_path)
    inputs = random_inputs(2, torch.Generator().manual_seed(5))
    out64 = load_hand_model("nimble", tmp_path, dtype=torch.float64)(*inputs)
    out32 = load_hand_model("nimble", tmp_path)(*(x.float() for x in inputs))
    assert out32.verts.dtype == torch.float32
    assert_close(out32.verts.double(), out64.verts, atol=1e-5, rtol=1e-4)
    assert_close(out32.texture.double(), out64.texture, atol=1e-5)


def test_full_pose_matches_pca_pose(tmp_path):
    write_nimble_assets(tmp_path)
    layer = load_hand_model("nimble", tmp_path, dtype=torch.float64)
    shape, pose, _ = random_inputs(2, torch.Generator().manual_seed(2))
    a = layer(shape, pose)
    b = layer(shape, full_pose=layer.full_pose_from_pca(pose))
    assert_close(a.verts, b.verts, atol=0.0)


def test_bad_inputs_are_named(tmp_path):
    write_nimble_assets(tmp_path)
    layer = load_hand_model("nimble", tmp_path)
    with pytest.raises(ValueError, match=r"pose: expected \[B, 30\]"):
        layer(pose=torch.zeros(2, 29))
    with pytest.raises(ValueError, match="exactly one"):
        layer(pose=torch.zeros(2, 30), full_pose=torch.zeros(2, 20, 3))
    with pytest.raises(ValueError, match=r"shape: expected \[2, 20\]"):
        layer(torch.zeros(2, 19), torch.zeros(2, 30))
    with pytest.raises(ValueError, match=r"shape_ncomp: expected 1..22"):
        load_hand_model("nimble", tmp_path, shape_ncomp=23)


def test_missing_files_give_one_error_naming_each(tmp_path):
    write_nimble_assets(tmp_path)
    (tmp_path / "NIMBLE_DICT_9137.pkl").unlink()
    (tmp_path / "NIMBLE_TEX_FUV.pkl").unlink()
    with pytest.raises(AssetError) as info:
        load_hand_model("nimble", tmp_path)
    message = str(info.value)
    for needed in ("NIMBLE_DICT_9137.pkl", "NIMBLE_TEX_FUV.pkl", "hand.assets_dir", "github.com/reyuwei/NIMBLE_model"):
        assert needed in message
    assert "NIMBLE_TEX_DICT.pkl" not in message


def test_missing_key_and_truncated_file_name_the_path(tmp_path):
    arrays = make_nimble_arrays()
    del arrays["pm"]["jreg_bone"]
    write_nimble_assets(tmp_path, arrays=arrays)
    with pytest.raises(AssetError, match=r"NIMBLE_DICT_9137\.pkl: missing key 'jreg_bone'"):
        load_hand_model("nimble", tmp_path)
    write_nimble_assets(tmp_path)
    tex = tmp_path / "NIMBLE_TEX_DICT.pkl"
    tex.write_bytes(tex.read_bytes()[:1000])
    with pytest.raises(AssetError, match=r"NIMBLE_TEX_DICT\.pkl: not a readable pickle"):
        load_hand_model("nimble", tmp_path)


def test_float_index_arrays_are_rejected_unless_integral(tmp_path):
    arrays = make_nimble_arrays(as_torch=False)
    arrays["pm"]["skin_f"] = arrays["pm"]["skin_f"].astype(np.float32) + 0.5
    write_nimble_assets(tmp_path, arrays=arrays)
    with pytest.raises(AssetError, match="'skin_f' must hold integer indices"):
        load_hand_model("nimble", tmp_path)


@pytest.mark.cuda
def test_cuda_matches_cpu(tmp_path):
    write_nimble_assets(tmp_path)
    layer = load_hand_model("nimble", tmp_path)
    inputs = [x.float() for x in random_inputs(2, torch.Generator().manual_seed(0))]
    cpu = layer(*inputs)
    gpu = layer.to("cuda")(*(x.cuda() for x in inputs))
    assert_close(gpu.verts.cpu(), cpu.verts, atol=1e-5)
    assert_close(gpu.texture.cpu(), cpu.texture, atol=1e-5)
