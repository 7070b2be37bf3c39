"""MANO layer against smplx (an independent implementation) on generated MANO files of the
official structure (``fixtures.mano_pickle``): the Python 2 file and its Python 3 re-save.

smplx reads the same file itself (its own ``pickle.load``, with stand-ins for chumpy's
classes). It stores its arrays through float32, hence tolerances of 1e-7 m; with 45
components it switches PCA off, so PCA cases use fewer (the axis-angle test covers the full pose).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import torch

from fixtures.hand_assets import make_mano_arrays, write_mano_file
from fixtures.mano_pickle import chumpy_importable
from helpers import assert_close
from hifihr.hand import AssetError, load_hand_model
from hifihr.hand.mano import load_mano_data
from hifihr.hand.lbs import axis_angle_to_matrix

FREI_FROM_MANO21 = [0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20]
TIPS = {"freihand": [744, 320, 443, 555, 672], "ho3d": [744, 333, 444, 555, 672], "manopth": [745, 317, 444, 556, 673]}


@pytest.fixture
def mano_dir(tmp_path):
    write_mano_file(tmp_path / "MANO_RIGHT.pkl")
    return tmp_path


def smplx_layer(path, num_pca_comps, flat_hand_mean, is_rhand=True):
    """smplx's MANO reading ``path`` with its own loader (chumpy stand-ins importable)."""
    smplx = pytest.importorskip("smplx")
    with chumpy_importable(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy.sparse.csc, numpy.core in the file
        return smplx.MANO(
            model_path=str(path),
            is_rhand=is_rhand,
            use_pca=num_pca_comps < 45,
            num_pca_comps=num_pca_comps,
            flat_hand_mean=flat_hand_mean,
            dtype=torch.float64,
        )


@pytest.mark.parametrize("flavour", ["python2", "python3"])
@pytest.mark.parametrize("num_pca_comps,flat_hand_mean", [(30, False), (12, False), (44, True), (6, True)])
def test_matches_smplx(tmp_path, num_pca_comps, flat_hand_mean, flavour):
    path = tmp_path / "MANO_RIGHT.pkl"
    write_mano_file(path, make_mano_arrays(seed=4), flavour=flavour)
    ours = load_hand_model(
        "mano", mano_dir=tmp_path, num_pca_comps=num_pca_comps, flat_hand_mean=flat_hand_mean, dtype=torch.float64
    )
    reference = smplx_layer(path, num_pca_comps, flat_hand_mean)
    gen = torch.Generator().manual_seed(0)
    betas = torch.randn(3, 10, generator=gen, dtype=torch.float64)
    root = 0.5 * torch.randn(3, 3, generator=gen, dtype=torch.float64)
    coeffs = 0.5 * torch.randn(3, num_pca_comps, generator=gen, dtype=torch.float64)
    out = ours(betas, torch.cat([root, coeffs], dim=1))
    expected = reference(betas=betas, global_orient=root, hand_pose=coeffs)
    assert_close(out.verts, expected.vertices, atol=1e-7)
    assert_close(out.model_joints, expected.joints[:, :16], atol=1e-7)
    mano21 = torch.cat([expected.joints[:, :16], expected.vertices[:, TIPS["freihand"]]], dim=1)
    assert_close(out.joints, mano21[:, FREI_FROM_MANO21], atol=1e-7)


@pytest.mark.parametrize("flavour", ["python2", "python3"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_axis_angle_input_matches_smplx(tmp_path, side, flavour):
    path = tmp_path / f"MANO_{side.upper()}.pkl"
    write_mano_file(path, make_mano_arrays(seed=1 if side == "right" else 2), flavour=flavour)
    ours = load_hand_model("mano", mano_dir=tmp_path, side=side, dtype=torch.float64)
    reference = smplx_layer(path, 45, False, is_rhand=side == "right")
    full_pose = 0.4 * torch.randn(2, 16, 3, dtype=torch.float64)
    betas = torch.randn(2, 10, dtype=torch.float64)
    out = ours(betas, full_pose=full_pose)
    expected = reference(betas=betas, global_orient=full_pose[:, 0], hand_pose=full_pose[:, 1:].flatten(1))
    assert_close(out.verts, expected.vertices, atol=1e-7)
    assert_close(out.model_joints, expected.joints[:, :16], atol=1e-7)


def test_official_file_arrays_are_read_exactly(tmp_path):
    """Every array the layer takes equals the generator's, through the Select of shapedirs."""
    arrays = write_mano_file(tmp_path / "MANO_RIGHT.pkl", make_mano_arrays(seed=3))
    data = load_mano_data(tmp_path / "MANO_RIGHT.pkl")
    assert torch.equal(data.shapedirs, torch.from_numpy(arrays["shapedirs_full"][:, :, :10]))
    assert torch.equal(data.j_regressor, torch.from_numpy(arrays["J_regressor"]))
    assert torch.equal(data.faces, torch.from_numpy(arrays["f"].astype(np.int64)))
    for ours, key in [("v_template", "v_template"), ("posedirs", "posedirs"), ("weights", "weights"),
                      ("hands_components", "hands_components"), ("hands_mean", "hands_mean")]:  # fmt: skip
        assert torch.equal(getattr(data, ours), torch.from_numpy(arrays[key])), ours


def test_loads_chumpy_pickle_without_chumpy(mano_dir):
    assert "chumpy" not in sys.modules
    layer = load_hand_model("mano", mano_dir=mano_dir, dtype=torch.float64)
    assert "chumpy" not in sys.modules
    assert layer.shapedirs.shape == (778, 3, 10) and layer.faces.dtype == torch.int64
    assert layer.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)


@pytest.mark.parametrize("fingertips", sorted(TIPS))
def test_fingertip_sets(mano_dir, fingertips):
    layer = load_hand_model("mano", mano_dir=mano_dir, fingertips=fingertips, dtype=torch.float64)
    out = layer(pose=0.3 * torch.randn(2, 48, dtype=torch.float64))
    # FreiHAND order puts the tips of thumb, index, middle, ring, pinky at 4, 8, 12, 16, 20.
    assert torch.equal(out.joints[:, [4, 8, 12, 16, 20]], out.verts[:, TIPS[fingertips]])


def test_root_rotation_rotates_about_the_wrist(mano_dir):
    layer = load_hand_model("mano", mano_dir=mano_dir, dtype=torch.float64)
    full_pose = 0.3 * torch.randn(1, 16, 3, dtype=torch.float64)
    unrotated = full_pose.clone()
    unrotated[:, 0] = 0
    base, rotated = layer(full_pose=unrotated), layer(full_pose=full_pose)
    rot = axis_angle_to_matrix(full_pose[0, 0])
    pivot = base.model_joints[:, :1]
    assert_close(rotated.verts, (base.verts - pivot) @ rot.T + pivot, atol=1e-12)


def test_zero_pose_flat_hand_gives_template(mano_dir):
    layer = load_hand_model("mano", mano_dir=mano_dir, flat_hand_mean=True, dtype=torch.float64)
    out = layer(pose=torch.zeros(1, 48, dtype=torch.float64))
    assert_close(out.verts[0], layer.v_template, atol=1e-12)


def test_missing_and_malformed_mano_files(tmp_path):
    with pytest.raises(AssetError) as info:
        load_hand_model("mano", mano_dir=tmp_path)
    assert "MANO_RIGHT.pkl" in str(info.value) and "hand.mano_dir" in str(info.value) and "mano.is.tue.mpg.de" in str(info.value)
    arrays = make_mano_arrays()
    arrays["posedirs"] = np.zeros((778, 3, 10))
    write_mano_file(tmp_path / "MANO_RIGHT.pkl", arrays)
    with pytest.raises(AssetError, match=r"'posedirs' has shape \(778, 3, 10\), expected \(778, 3, 135\)"):
        load_hand_model("mano", mano_dir=tmp_path)
