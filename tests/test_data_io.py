"""Image and annotation readers (hifihr/data/io.py)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from hifihr.data.io import (
    AnnotationError,
    DatasetLayoutError,
    ImageReadError,
    iter_video_frames,
    read_channel,
    read_image,
    read_json_array,
    read_labels,
)


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


def test_video_frames_every_nth_in_order(tmp_path):
    """Six MJPG frames of grey 0, 40, ..., 200, read every 2nd: frames 0, 2, 4 with their grey."""
    writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for value in range(6):
        writer.write(np.full((24, 32, 3), 40 * value, np.uint8))
    writer.release()
    frames = list(iter_video_frames(tmp_path / "clip.avi", every=2))
    assert [index for index, _ in frames] == [0, 2, 4]
    assert [round(float(frame.mean()) / 40) for _, frame in frames] == [0, 2, 4]
    assert frames[0][1].shape == (24, 32, 3)


def test_video_frames_of_a_non_video_raise(tmp_path):
    (tmp_path / "clip.avi").write_bytes(b"not a video")
    with pytest.raises(ImageReadError, match="not a readable video"):
        list(iter_video_frames(tmp_path / "clip.avi"))
