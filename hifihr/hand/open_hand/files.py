"""The open hand's files: NIMBLE's file names and UV-layout lines, deterministic pickles and
atomic writes with a ``SHA256SUMS`` file."""

from __future__ import annotations

import hashlib
import io
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from ...files import write_atomic
from ..nimble import NIMBLE_FILES


#: NIMBLE's required files, in the order :func:`~.builder.build` returns them: the parametric
#: model, the texture PCA and the UV layout.
FILE_NAMES = tuple(asset.name for asset in NIMBLE_FILES if asset.required)


def uv_layout_lines(skin_f: np.ndarray, verts_uvs: np.ndarray, faces_uvs: np.ndarray) -> list[str]:
    """NIMBLE's ``NIMBLE_TEX_FUV.pkl`` content: OBJ lines ``vt u v`` and ``f v/vt/v`` (1-based),
    the faces row by row equal to ``skin_f + 1``."""
    lines = ["\n", "usemtl material_0\n"]
    lines += [f"vt {u:.6f} {v:.6f}\n" for u, v in verts_uvs]
    lines += ["f " + " ".join(f"{v + 1}/{t + 1}/{v + 1}" for v, t in zip(fv, ft)) + "\n" for fv, ft in zip(skin_f, faces_uvs)]
    lines += [f"# {len(skin_f)} faces, {len(verts_uvs)} coords texture\n", "\n", "# End of File"]
    return lines



class _StorageBytes:
    """A tensor storage pickled as torch does (``torch.storage._load_from_bytes``), but saved
    in torch's zip format, whose record names do not depend on memory addresses."""

    def __init__(self, tensor: torch.Tensor) -> None:
        storage = torch.storage.TypedStorage(wrap_storage=tensor.untyped_storage(), dtype=tensor.dtype, _internal=True)
        buffer = io.BytesIO()
        torch.save(storage, buffer)
        self.data = buffer.getvalue()

    def __reduce__(self):
        return (torch.storage._load_from_bytes, (self.data,))


class _DeterministicPickler(pickle.Pickler):
    """Pickles tensors exactly as ``torch.Tensor.__reduce_ex__`` does (``_rebuild_tensor_v2``),
    except that the storage bytes are the same on every run (torch's own legacy format names
    each storage by its memory address)."""

    def reducer_override(self, obj):
        if type(obj) is torch.Tensor:
            args = (_StorageBytes(obj), obj.storage_offset(), tuple(obj.shape), obj.stride(), False, OrderedDict())
            return (torch._utils._rebuild_tensor_v2, args)
        return NotImplemented


def pickle_bytes(obj: object) -> bytes:
    """The bytes of ``obj`` pickled with protocol 4 (as written to disk), deterministic."""
    buffer = io.BytesIO()
    _DeterministicPickler(buffer, protocol=4).dump(obj)
    return buffer.getvalue()


def write_assets(objects: dict[str, object], out_dir: Path) -> dict[str, str]:
    """Write each object atomically (temporary file, then rename) and a ``SHA256SUMS`` file.

    Returns {file name: SHA-256 hex digest}.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, obj in objects.items():
        data = pickle_bytes(obj)
        digests[name] = hashlib.sha256(data).hexdigest()
        write_atomic(out_dir / name, data, mode=0o644)
    sums = "".join(f"{digest}  {name}\n" for name, digest in digests.items())
    write_atomic(out_dir / "SHA256SUMS", sums.encode(), mode=0o644)
    return digests
