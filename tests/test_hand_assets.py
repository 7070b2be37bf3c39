"""The restricted unpickler: data loads, code never runs."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import scipy.sparse
import torch

from hifihr.hand.assets import AssetError, UnsafePickleError, load_pickle


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _NestedTorchBlob:
    """Smuggles a code-running pickle inside a torch storage blob."""

    def __init__(self, marker):
        self.payload = pickle.dumps(_RunsCode(marker))

    def __reduce__(self):
        return (torch.storage._load_from_bytes, (self.payload,))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_data_round_trips(tmp_path, protocol):
    data = {
        "tensor": torch.arange(6.0).reshape(2, 3),
        "index": torch.arange(3),
        "array": np.arange(4, dtype=np.int64),
        "sparse": scipy.sparse.csc_matrix(np.eye(3)),
        "nested": [{"x": np.float32(2.5)}, (1, "a")],
    }
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    loaded = load_pickle(path)
    assert torch.equal(loaded["tensor"], data["tensor"]) and loaded["index"].dtype == torch.int64
    assert np.array_equal(loaded["array"], data["array"])
    assert np.array_equal(loaded["sparse"].toarray(), np.eye(3))
    assert loaded["nested"][0]["x"] == np.float32(2.5) and loaded["nested"][1] == (1, "a")


@pytest.mark.parametrize("make", [_RunsCode, _NestedTorchBlob])
def test_code_running_pickles_are_refused_and_nothing_runs(tmp_path, make):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"x": make(marker)}))
    with pytest.raises(AssetError) as info:
        load_pickle(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_refusal_names_the_global(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"x": _RunsCode(tmp_path / "m")}))
    with pytest.raises(UnsafePickleError, match=r"asks for 'posix\.system'|asks for 'nt\.system'"):
        load_pickle(path)


def test_truncated_and_missing_files(tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps({"a": np.zeros(100)})[:40])
    with pytest.raises(AssetError, match="cut.pkl: not a readable pickle"):
        load_pickle(path)
    with pytest.raises(AssetError, match="nothing.pkl: file not found"):
        load_pickle(tmp_path / "nothing.pkl")
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(AssetError, match="not a readable pickle"):
        load_pickle(path)


def test_mano_fixture_has_the_official_structure(tmp_path):
    """The generated files import exactly what the official MANO file (Python 2) imports, and
    what a Python 3 re-save imports; the set of ``_dirty_vars`` survives both."""
    from fixtures.hand_assets import write_mano_file
    from fixtures.mano_pickle import OFFICIAL_GLOBALS, pickle_globals, read_with_chumpy

    write_mano_file(tmp_path / "py2.pkl")
    write_mano_file(tmp_path / "py3.pkl", flavour="python3")
    py2, py3 = (tmp_path / "py2.pkl").read_bytes(), (tmp_path / "py3.pkl").read_bytes()
    assert py2[:2] == b"\x80\x02" and py3[:2] == b"\x80\x04"
    assert pickle_globals(py2) == OFFICIAL_GLOBALS
    assert pickle_globals(py3) == {
        ("numpy", "dtype"), ("numpy", "ndarray"), ("numpy._core.multiarray", "_reconstruct"),
        ("scipy.sparse._csc", "csc_matrix"), ("chumpy.ch", "Ch"), ("chumpy.reordering", "Select"),
    }  # fmt: skip
    for name in ("py2.pkl", "py3.pkl"):
        content = read_with_chumpy(tmp_path / name)
        assert list(content) == ["hands_components", "f", "J_regressor", "kintree_table", "J", "bs_style",
                                 "hands_coeffs", "weights", "posedirs", "hands_mean", "v_template",
                                 "shapedirs", "bs_type"]  # fmt: skip
        select = content["shapedirs"]
        assert select._dirty_vars == {"a", "idxs", "preferred_shape"} and select._itr is None
        assert select.idxs.dtype == np.int64 and select.idxs.shape == (23340,)
        assert np.asarray(select.a).shape == (778, 3, 20) and select.preferred_shape == (778, 3, 10)
        assert content["f"].dtype == np.uint32 and content["kintree_table"].dtype == np.int64
        assert isinstance(content["J_regressor"], scipy.sparse.csc_matrix)


def test_python2_builtins_are_admitted_only_where_python3_ones_are(tmp_path):
    # A protocol-2 pickle as Python 2 writes it: GLOBAL '__builtin__ <name>', then a call.
    marker = tmp_path / "pwned"
    for name, arg in [("eval", f"__import__('os').system('touch {marker}')"), ("getattr", None), ("__import__", "os"),
                      ("open", str(marker))]:  # fmt: skip
        call = b"U" + bytes([len(arg)]) + arg.encode() + b"\x85R" if arg else b")R"
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(b"\x80\x02c__builtin__\n" + name.encode() + b"\n" + call + b".")
        with pytest.raises(UnsafePickleError, match=rf"asks for '__builtin__\.{name}'"):
            load_pickle(path)
        assert not marker.exists()
    path = tmp_path / "set.pkl"
    path.write_bytes(b"\x80\x02c__builtin__\nset\n]q\x00(U\x01aU\x01be\x85R.")
    assert load_pickle(path) == {"a", "b"}
