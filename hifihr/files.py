"""Writing files so that a reader never sees half of one: the one atomic writer of the project.

Every file goes through a uniquely named temporary file in the target's folder
(``tempfile.mkstemp``), is flushed and fsynced, then renamed over the target with
``os.replace``; on any error the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Optional

#: Permissions of a written file (mkstemp's own 0o600 would hide outputs from other users).
DEFAULT_MODE = 0o644


@contextmanager
def open_atomic(path: str | Path, binary: bool = True, mode: Optional[int] = None) -> Iterator[IO]:
    """A file object to write ``path`` through; the file appears under ``path``, complete, when
    the block ends without error. The parent folder is created if needed.

    Args:
        path: the target file.
        binary: a binary stream (else text, UTF-8).
        mode: permissions of the written file (default :data:`DEFAULT_MODE`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, DEFAULT_MODE if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: bytes | str, mode: Optional[int] = None) -> None:
    """Write ``data`` (bytes, or text written as UTF-8) to ``path`` atomically (:func:`open_atomic`)."""
    with open_atomic(path, binary=isinstance(data, bytes), mode=mode) as out:
        out.write(data)
