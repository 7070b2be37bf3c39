"""Safe loading of asset files that come from outside: restricted unpickling and clear errors.

Every pickle the project reads (NIMBLE and MANO model files, HO-3D meta files) goes through
:func:`load_pickle`. Its unpickler resolves only an allow-list of globals (numpy arrays and
dtypes, torch tensors, scipy sparse matrices, a few builtins); chumpy objects, which the
official MANO files contain, become inert stubs that are turned into numpy arrays afterwards,
so chumpy is never imported. Any other global (``os.system``, ``subprocess.Popen``,
``builtins.eval``, ...) stops the load with :class:`UnsafePickleError` before anything runs.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch


class AssetError(RuntimeError):
    """An asset file is missing, unreadable, or not in the expected format."""


class UnsafePickleError(AssetError):
    """A pickle asked for a global outside the allow-list; nothing from it was executed."""


def _load_tensor_from_bytes(data: bytes) -> torch.Tensor:
    # torch pickles a tensor's storage as a nested torch.save blob; load it with the
    # weights-only unpickler so that the nested pickle is restricted too.
    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


class _ChumpyStub:
    """Inert stand-in for any chumpy class: records constructor arguments and pickled state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        # Objects with __slots__ pickle their state as (dict_or_None, slots_dict).
        if isinstance(state, tuple) and len(state) == 2:
            merged: dict[str, Any] = {}
            for part in state:
                if isinstance(part, dict):
                    merged.update(part)
            state = merged
        if not isinstance(state, dict):
            raise AssetError(f"unexpected chumpy object state of type {type(state).__name__}")
        self.state = state


def _chumpy_stub_class(name: str) -> type:
    return type(name, (_ChumpyStub,), {"__module__": "chumpy_stub"})


_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): __import__("collections").OrderedDict,
    ("_codecs", "encode"): __import__("codecs").encode,
    ("copyreg", "_reconstructor"): __import__("copyreg")._reconstructor,
    ("copy_reg", "_reconstructor"): __import__("copyreg")._reconstructor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_tensor_from_bytes,
    ("torch", "Size"): torch.Size,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
# Python 2 pickles (the official MANO files) name the builtins module ``__builtin__``.
for _builtins in ("builtins", "__builtin__"):
    for _type in (object, set, frozenset, slice, complex):
        _SAFE_GLOBALS[(_builtins, _type.__name__)] = _type
for _core in ("numpy.core", "numpy._core"):
    _SAFE_GLOBALS[(f"{_core}.multiarray", "_reconstruct")] = np._core.multiarray._reconstruct
    _SAFE_GLOBALS[(f"{_core}.multiarray", "scalar")] = np._core.multiarray.scalar
    _SAFE_GLOBALS[(f"{_core}.numeric", "_frombuffer")] = np._core.numeric._frombuffer


def _safe_sparse_class(module: str, name: str) -> type | None:
    """scipy.sparse matrix classes (MANO's J_regressor is a csc_matrix), under old and new paths."""
    if not module.startswith("scipy.sparse") or not name.endswith(("_matrix", "_array")):
        return None
    import scipy.sparse

    cls = getattr(scipy.sparse, name, None)
    return cls if isinstance(cls, type) else None


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, path: Path) -> None:
        super().__init__(file, encoding="latin1")
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        if module.startswith("numpy") and name.endswith("DType"):
            import numpy.dtypes

            cls = getattr(numpy.dtypes, name, None)
            if isinstance(cls, type):
                return cls
        if module == "chumpy" or module.startswith("chumpy."):
            return _chumpy_stub_class(name)
        sparse = _safe_sparse_class(module, name)
        if sparse is not None:
            return sparse
        raise UnsafePickleError(
            f"{self._path}: refused to load: the pickle asks for '{module}.{name}', which is not "
            "on the allow-list of data types (numpy, torch tensors, scipy sparse, chumpy arrays). "
            "Nothing from the file was executed. If this is a genuine asset, it is not in the "
            "expected format."
        )


def _dechumpify(obj: Any) -> Any:
    """Replace chumpy stubs (recursively, in dicts, lists and tuples) with numpy arrays."""
    if isinstance(obj, _ChumpyStub):
        state = obj.state
        if "x" in state:  # a plain chumpy.Ch holding a value
            return np.asarray(_dechumpify(state["x"]))
        if "a" in state and "idxs" in state:  # chumpy.reordering.Select: a.ravel()[idxs]
            flat = np.asarray(_dechumpify(state["a"])).ravel()[np.asarray(state["idxs"])]
            shape = state.get("preferred_shape")
            return flat.reshape(shape) if shape is not None else flat
        raise AssetError(
            f"a chumpy object of type {type(obj).__name__} with fields {sorted(state)} "
            "cannot be turned into an array"
        )
    if isinstance(obj, dict):
        return {key: _dechumpify(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_dechumpify(value) for value in obj)
    return obj


def load_pickle(path: str | Path) -> Any:
    """Load a pickle from outside the project through the restricted unpickler.

    Returns the unpickled object with numpy arrays, torch tensors and scipy sparse matrices
    as stored, and chumpy objects converted to numpy arrays.

    Raises:
        AssetError: the file is missing or truncated/corrupt (the message names the path).
        UnsafePickleError: the pickle references a global outside the allow-list.
    """
    path = Path(path)
    if not path.is_file():
        raise AssetError(f"{path}: file not found")
    try:
        with open(path, "rb") as handle:
            obj = _RestrictedUnpickler(handle, path).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, RuntimeError) as err:
        raise AssetError(f"{path}: not a readable pickle (truncated or corrupt?): {type(err).__name__}: {err}") from err
    return _dechumpify(obj)


@dataclass(frozen=True)
class AssetFile:
    """One file an asset directory must hold, with what it is for."""

    name: str
    description: str
    required: bool = True


def check_asset_dir(
    directory: str | Path,
    files: Sequence[AssetFile],
    *,
    model: str,
    source: str,
    config_key: str,
) -> dict[str, Path]:
    """Check that ``directory`` holds every required file; return {name: path} of those present.

    Raises one :class:`AssetError` naming every missing required file, where to obtain the
    files (``source``) and the config key that points at the directory (``config_key``).
    """
    directory = Path(directory)
    present = {f.name: directory / f.name for f in files if (directory / f.name).is_file()}
    missing = [f for f in files if f.required and f.name not in present]
    if missing:
        listing = "\n".join(f"  - {f.name}: {f.description}" for f in missing)
        raise AssetError(
            f"The {model} model files are missing from {directory}:\n{listing}\n"
            f"Get them from {source}, put them in that directory, or point the config key "
            f"'{config_key}' at the directory that holds them."
        )
    return present


def as_tensor(value: Any, name: str, *, integer: bool = False) -> torch.Tensor:
    """Convert a numpy array, tensor, scipy sparse matrix or number from an asset to a tensor.

    Index arrays (``integer=True``) become int64 and must hold whole numbers; everything else
    becomes float64 (the layers cast buffers to their own dtype later).
    """
    if hasattr(value, "toarray"):  # scipy sparse
        value = value.toarray()
    tensor = torch.as_tensor(np.asarray(value)) if not isinstance(value, torch.Tensor) else value.detach().cpu()
    if integer:
        if tensor.is_floating_point():
            if not torch.equal(tensor, tensor.round()):
                raise AssetError(f"'{name}' must hold integer indices, got non-integer values")
        return tensor.to(torch.int64)
    return tensor.to(torch.float64)


def get_key(data: Mapping[str, Any], key: str, path: Path) -> Any:
    """``data[key]``, or an :class:`AssetError` naming the file and the missing key."""
    if not isinstance(data, Mapping):
        raise AssetError(f"{path}: expected a dict at the top level, got {type(data).__name__}")
    if key not in data:
        raise AssetError(f"{path}: missing key '{key}' (keys present: {', '.join(sorted(map(str, data)))})")
    return data[key]
