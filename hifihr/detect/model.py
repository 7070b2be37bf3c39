"""The hand landmarker's model file (a ``.task`` bundle) and how it is built once.

``mediapipe==1.2.2`` ships no model. The ``mediapipe==0.10.21`` wheel (the last one that
bundles the hand models) holds the palm detector and the landmark network as ``.tflite`` files;
a ``.task`` file is a plain (stored) zip of the two under the names the Tasks API looks for.
:func:`build_task` checks both against pinned SHA-256 sums and writes the bundle atomically.
The official ``hand_landmarker.task`` (Google's download) is the same kind of zip and is
accepted wherever a model path is asked for.

The default path is ``$HIFIHR_CACHE/hand_landmarker_mp0.10.21.task`` with ``HIFIHR_CACHE``
defaulting to ``$XDG_CACHE_HOME/hifihr`` (``~/.cache/hifihr``); ``make install`` fills it
through ``scripts/install_detector.py``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from hifihr.files import open_atomic

#: The wheel the models come from, and where pip finds it (PyPI).
SOURCE_WHEEL = "mediapipe==0.10.21"
#: The command that builds the default model file.
INSTALL_COMMAND = "python scripts/install_detector.py   (part of `make install`)"
DEFAULT_NAME = "hand_landmarker_mp0.10.21.task"


@dataclass(frozen=True)
class ModelMember:
    """One network of the bundle: its name in the ``.task``, its path in the wheel, size, SHA-256."""

    task_name: str
    wheel_path: str
    size: int
    sha256: str


MEMBERS = (
    ModelMember(
        "hand_detector.tflite",
        "mediapipe/modules/palm_detection/palm_detection_full.tflite",
        2_339_846,
        "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54",
    ),
    ModelMember(
        "hand_landmarks_detector.tflite",
        "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
        5_478_917,
        "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3",
    ),
)


class DetectorModelError(FileNotFoundError):
    """The model file is missing or is not a hand landmarker bundle; the message gives the fix."""


def cache_dir() -> Path:
    """``$HIFIHR_CACHE``, else ``$XDG_CACHE_HOME/hifihr``, else ``~/.cache/hifihr``."""
    if os.environ.get("HIFIHR_CACHE"):
        return Path(os.environ["HIFIHR_CACHE"])
    base = Path(os.environ["XDG_CACHE_HOME"]) if os.environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "hifihr"


def default_model_path() -> Path:
    """Where ``make install`` writes the model built from the 0.10.21 wheel."""
    return cache_dir() / DEFAULT_NAME


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_task(path: Path, pinned: bool) -> None:
    """Raise :class:`DetectorModelError` unless ``path`` is a zip holding both networks; with
    ``pinned`` their SHA-256 must also match :data:`MEMBERS` (the file this module builds)."""
    try:
        with zipfile.ZipFile(path) as bundle:
            names = set(bundle.namelist())
            missing = [m.task_name for m in MEMBERS if m.task_name not in names]
            if missing:
                raise DetectorModelError(f"{path}: not a hand landmarker model (no {', '.join(missing)} inside); rebuild it with {INSTALL_COMMAND}")
            if pinned:
                for member in MEMBERS:
                    if _sha256(bundle.read(member.task_name)) != member.sha256:
                        raise DetectorModelError(f"{path}: {member.task_name} does not match its pinned SHA-256; rebuild it with {INSTALL_COMMAND} --force")
    except (zipfile.BadZipFile, OSError) as err:
        raise DetectorModelError(f"{path}: not a readable .task (zip) file ({err}); rebuild it with {INSTALL_COMMAND} --force") from err


def resolve_model(path: Optional[str | Path] = None) -> Path:
    """The model file to load: ``path`` (e.g. the official ``hand_landmarker.task``) or the
    default one; checked with :func:`check_task`.

    Raises:
        DetectorModelError: the file is missing or unusable; the message says how to get it.
    """
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise DetectorModelError(
                f"detector model {path} not found: give the official hand_landmarker.task or build the default one with {INSTALL_COMMAND}"
            )
        check_task(path, pinned=False)
        return path
    path = default_model_path()
    if not path.is_file():
        raise DetectorModelError(f"the hand detector model {path} is not built yet: run {INSTALL_COMMAND}")
    check_task(path, pinned=True)
    return path


def build_task(wheel: Path, out: Path) -> Path:
    """Write the ``.task`` bundle ``out`` from the two ``.tflite`` files inside ``wheel`` (the
    mediapipe 0.10.21 wheel), after checking their sizes and SHA-256; atomic (temporary file,
    then rename). The bundle is byte-for-byte the same on every machine.

    Raises:
        DetectorModelError: the wheel lacks a file or a file differs from its pinned sum.
    """
    try:
        with zipfile.ZipFile(wheel) as source:
            blobs = []
            for member in MEMBERS:
                try:
                    data = source.read(member.wheel_path)
                except KeyError as err:
                    raise DetectorModelError(f"{wheel}: has no {member.wheel_path}; expected the {SOURCE_WHEEL} wheel") from err
                if len(data) != member.size or _sha256(data) != member.sha256:
                    raise DetectorModelError(
                        f"{wheel}: {member.wheel_path} has {len(data)} bytes and SHA-256 {_sha256(data)}, "
                        f"expected {member.size} bytes and {member.sha256}"
                    )
                blobs.append((member.task_name, data))
    except zipfile.BadZipFile as err:
        raise DetectorModelError(f"{wheel}: not a wheel (zip) file: {err}") from err
    with open_atomic(out, mode=0o644) as stream, zipfile.ZipFile(stream, "w", zipfile.ZIP_STORED) as bundle:
        for name, data in blobs:
            # A fixed timestamp makes the bundle byte-for-byte reproducible.
            bundle.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return out


def download_wheel(directory: Path) -> Path:
    """Download the 0.10.21 wheel (no dependencies, CPython 3.11 manylinux build: every build
    holds the same model files) into ``directory`` with pip; returns its path."""
    command = [
        sys.executable, "-m", "pip", "download", SOURCE_WHEEL, "--no-deps", "--only-binary", ":all:",
        "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64", "--dest", str(directory), "--quiet",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(directory.glob("mediapipe-0.10.21-*.whl"))
    if result.returncode != 0 or not wheels:
        raise DetectorModelError(f"could not download the {SOURCE_WHEEL} wheel with pip ({' '.join(command)}):\n{result.stderr.strip()}")
    return wheels[0]
