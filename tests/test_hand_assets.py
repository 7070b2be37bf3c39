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
