"""Atomic file writes (hifihr/files.py): the one writer every output goes through."""

from __future__ import annotations

import stat
import tempfile

import pytest

from hifihr.files import DEFAULT_MODE, open_atomic, write_atomic


def test_write_replaces_the_file(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new"


def test_write_sets_the_mode(tmp_path):
    path = tmp_path / "a.bin"
    write_atomic(path, b"new", mode=0o640)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_the_default_mode_is_readable_by_all(tmp_path):
    path = tmp_path / "a.bin"
    write_atomic(path, b"new")
    assert stat.S_IMODE(path.stat().st_mode) == DEFAULT_MODE


def test_a_write_leaves_no_temporary(tmp_path):
    write_atomic(tmp_path / "a.bin", b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_text_is_written_as_utf8(tmp_path):
    path = tmp_path / "a.txt"
    write_atomic(path, "µm\n")
    assert path.read_bytes() == "µm\n".encode("utf-8")


def test_the_parent_folder_is_created(tmp_path):
    path = tmp_path / "new" / "a.bin"
    write_atomic(path, b"x")
    assert path.read_bytes() == b"x"


def _fail_while_replacing(path):
    """Write half a new version of ``path`` (holding b"old"), then raise inside the writer."""
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), open_atomic(path) as out:
        out.write(b"half")
        raise RuntimeError("the writer fails mid-way")


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "a.bin"
    _fail_while_replacing(path)
    assert path.read_bytes() == b"old"


def test_a_failed_write_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.bin"
    _fail_while_replacing(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_two_open_writes_use_two_temporary_names(tmp_path):
    path = tmp_path / "a.bin"
    with open_atomic(path) as first, open_atomic(path) as second:
        names = {p.name for p in tmp_path.iterdir()}
        first.write(b"1")
        second.write(b"2")
    assert len(names) == 2


def test_the_temporary_name_is_unique_per_write(tmp_path, monkeypatch):
    made = []
    real = tempfile.mkstemp

    def recording(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkstemp", recording)
    write_atomic(tmp_path / "a.bin", b"1")
    write_atomic(tmp_path / "a.bin", b"2")
    assert made[0][1] != made[1][1]


def test_the_file_is_fsynced_before_the_rename(tmp_path, monkeypatch):
    import os

    events = []
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync"))
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b)))
    write_atomic(tmp_path / "a.bin", b"1")
    assert events == ["fsync", "replace"]
