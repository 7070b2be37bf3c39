"""Image and annotation readers (hifihr/data/io.py)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from hifihr.data.io import AnnotationError, DatasetLayoutError, ImageReadError, read_channel, read_image, read_json_array, read_labels


def test_images_decode_to_rgb_like_pil(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(rgb).save(tmp_path / "a.jpg", quality=90)
    assert np.array_equal(read_image(tmp_path / "a.png"), rgb)
    assert np.array_equal(read_image(tmp_path / "a.jpg"), np.asarray(Image.open(tmp_path / "a.jpg").convert("RGB")))
    assert np.array_equal(read_channel(tmp_path / "a.png", channel=0), rgb[:, :, 0])
    labels = np.arange(240, dtype=np.uint8).reshape(12, 20) % 34
    cv2.imwrite(str(tmp_path / "labels.png"), labels)
    assert np.array_equal(read_labels(tmp_path / "labels.png"), labels)


def test_unreadable_images_name_the_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "junk.png").write_bytes(b"\x89PNG junk")
    for name in ("empty.jpg", "junk.png", "missing.jpg"):
        with pytest.raises(ImageReadError, match=name):
            read_image(tmp_path / name)


def test_json_arrays_match_json_load(tmp_path):
    values = np.random.default_rng(1).normal(size=(4, 778, 3))
    path = tmp_path / "verts.json"
    path.write_text(json.dumps(values.tolist()))
    array = read_json_array(path, (778, 3))
    assert array.dtype == np.float32 and array.shape == (4, 778, 3)
    assert np.array_equal(array, np.array(json.loads(path.read_text()), dtype=np.float32))
    (tmp_path / "scale.json").write_text("[0.01, 2e-2, 3]")
    assert read_json_array(tmp_path / "scale.json", ()).tolist() == pytest.approx([0.01, 0.02, 3.0])
    (tmp_path / "bad.json").write_text('[[1.0, "x"], [2.0, 3.0]]')
    with pytest.raises(AnnotationError, match="bad.json"):
        read_json_array(tmp_path / "bad.json", (2,))
    (tmp_path / "odd.json").write_text("[[1.0, 2.0, 3.0], [4.0, 5.0]]")
    with pytest.raises(AnnotationError, match=r"5 numbers is not a whole number of items of shape \(3,\)"):
        read_json_array(tmp_path / "odd.json", (3,))
    with pytest.raises(DatasetLayoutError, match="nope.json"):
        read_json_array(tmp_path / "nope.json", (3,))
