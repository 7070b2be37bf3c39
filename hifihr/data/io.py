"""Reading images, masks and annotation files from dataset folders.

Decoding goes through OpenCV (``cv2.imdecode``, built on libjpeg-turbo and libpng). On the
project's 2-core benchmark machine it was the fastest of the decoders among our dependencies
for every format the datasets use (224² JPEG 0.31 ms, 640×480 JPEG 1.86 ms, 640×480 PNG 4.6 ms,
against PIL 0.48 / 2.26 / 4.97 ms and ``torchvision.io.decode_jpeg`` 0.33 / 2.01 ms; see
``docs/performance.md``).

Every reader returns numpy arrays in the layout the transforms expect: images ``[H, W, 3]``
uint8 RGB, masks ``[H, W]`` float32 in {0, 1}. An unreadable file raises
:class:`ImageReadError`, which names the path; the datasets turn it into a skipped sample or an
error according to their ``on_bad_image`` option.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np


class DatasetLayoutError(FileNotFoundError):
    """A dataset folder does not have the expected files; the message shows the layout."""


class AnnotationError(ValueError):
    """Annotation files disagree with each other or with the images on disk."""


class ImageReadError(OSError):
    """An image or mask file is missing, truncated or not decodable; the message names it."""


def _read_bytes(path: Path) -> np.ndarray:
    try:
        return np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise ImageReadError(f"{path}: cannot read the file: {err}") from err


def read_image(path: str | Path) -> np.ndarray:
    """Decode an RGB image file (JPEG or PNG).

    Returns:
        ``[H, W, 3]`` uint8 array, RGB channel order.
    Raises:
        ImageReadError: missing, empty, truncated or undecodable file.
    """
    path = Path(path)
    data = _read_bytes(path)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR_RGB) if data.size else None
    if image is None:
        raise ImageReadError(f"{path}: not a decodable image ({data.size} bytes)")
    return image


def read_video_frame(path: Path, frame: int) -> np.ndarray:
    """Frame ``frame`` of a video as [H, W, 3] uint8 RGB; ImageReadError when unreadable."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ImageReadError(f"{path}: not a readable video")
        capture.set(cv2.CAP_PROP_POS_FRAMES, frame)
        ok, data = capture.read()
    finally:
        capture.release()
    if not ok:
        raise ImageReadError(f"{path}: cannot read frame {frame}")
    return cv2.cvtColor(data, cv2.COLOR_BGR2RGB)


def iter_video_frames(path: Path, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, [H, W, 3] uint8 RGB) of every ``every``-th frame of a video, in order;
    ImageReadError before the first frame when the file is not a readable video."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ImageReadError(f"{path}: not a readable video")
        index = 0
        while True:
            ok, data = capture.read()
            if not ok:
                return
            if index % every == 0:
                yield index, cv2.cvtColor(data, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()


@contextmanager
def folder_written_atomically(out: Path) -> Iterator[Path]:
    """A temporary sibling folder of ``out`` to write into; renamed to ``out`` (replacing it)
    when the block succeeds, removed when it fails, so ``out`` is never half-written."""
    partial = out.parent / f".{out.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        yield partial
        if out.exists():
            shutil.rmtree(out)
        os.replace(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def read_channel(path: str | Path, channel: int | None = None) -> np.ndarray:
    """Decode one 8-bit channel of an image file.

    Args:
        channel: RGB channel index (0 = red), or ``None`` for the grayscale conversion.
    Returns:
        ``[H, W]`` uint8 array.
    """
    path = Path(path)
    data = _read_bytes(path)
    if not data.size:
        raise ImageReadError(f"{path}: empty file")
    if channel is None:
        image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    else:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR_RGB)
        image = None if image is None else np.ascontiguousarray(image[:, :, channel])
    if image is None:
        raise ImageReadError(f"{path}: not a decodable image ({data.size} bytes)")
    return image


def read_labels(path: str | Path) -> np.ndarray:
    """Decode a label image (e.g. RHD's class masks) without any conversion: ``[H, W]`` uint8."""
    path = Path(path)
    data = _read_bytes(path)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise ImageReadError(f"{path}: not a decodable image ({data.size} bytes)")
    if image.ndim == 3:  # a label map saved with three equal channels
        image = image[:, :, 0]
    return image


def binary_mask(values: np.ndarray, threshold: float) -> np.ndarray:
    """``values > threshold`` as float32 {0, 1}, same shape."""
    return (values > threshold).astype(np.float32)


def read_json(path: Path) -> object:
    """Parse a JSON file; a missing or malformed file raises an error naming it."""
    if not path.is_file():
        raise DatasetLayoutError(f"{path}: file not found")
    try:
        with open(path, "rb") as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise AnnotationError(f"{path}: not valid JSON: {err}") from err


def read_json_array(path: Path, item_shape: Sequence[int], dtype: type = np.float32) -> np.ndarray:
    """Read a JSON list of equally shaped numeric items as an array ``[N, *item_shape]`` of ``dtype``.

    FreiHAND's ``training_verts.json`` holds 32560×778×3 numbers (~600 MB of text); ``json.load``
    would build 76 million Python floats (several GB). This parser deletes the brackets and
    reads the numbers with numpy's C parser, then checks that every number was read and that
    the count is a whole number of items. Nesting is not checked beyond that count.

    Raises:
        DatasetLayoutError: the file does not exist.
        AnnotationError: the text is not a flat-able list of numbers of the expected size.
    """
    if not path.is_file():
        raise DatasetLayoutError(f"{path}: file not found")
    text = path.read_bytes()
    if not text.lstrip().startswith(b"["):
        raise AnnotationError(f"{path}: expected a JSON list, got {text[:40]!r}")
    stripped = text.translate(None, b"[] \n\r\t")
    del text  # the file can be ~600 MB
    if not stripped:
        return np.zeros((0, *item_shape), dtype=dtype)
    expected = stripped.count(b",") + 1
    try:
        with warnings.catch_warnings():  # older numpy warns instead of raising on bad text
            warnings.simplefilter("error", DeprecationWarning)
            values = np.fromstring(stripped, dtype=np.float64, sep=",")
    except (ValueError, DeprecationWarning) as err:
        raise AnnotationError(f"{path}: not a JSON list of numbers: {err}") from err
    if values.size != expected:
        raise AnnotationError(f"{path}: not a JSON list of numbers ({values.size} of {expected} values read)")
    item = int(np.prod(item_shape))
    if values.size % item:
        raise AnnotationError(
            f"{path}: {values.size} numbers is not a whole number of items of shape {tuple(item_shape)}"
        )
    return values.reshape(-1, *item_shape).astype(dtype, copy=False)


def list_files(directory: Path) -> set[str]:
    """Names of the entries of ``directory`` (empty when it does not exist)."""
    try:
        with os.scandir(directory) as entries:
            return {entry.name for entry in entries}
    except FileNotFoundError:
        return set()
