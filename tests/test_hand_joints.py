"""Keypoint orders: permutations against the published arrays, round trips and anatomy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from hifihr.hand import joints as J

# Published gather arrays (shared/reference/datasets-and-evaluation.md §4.3).
PUBLISHED = {
    ("mano", "freihand"): [0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20],
    ("freihand", "mano"): [0, 5, 6, 7, 9, 10, 11, 17, 18, 19, 13, 14, 15, 1, 2, 3, 4, 8, 12, 16, 20],
    ("s2hand", "freihand"): [0, 17, 18, 19, 20, 1, 2, 3, 4, 5, 6, 7, 8, 13, 14, 15, 16, 9, 10, 11, 12],
    ("freihand", "s2hand"): [0, 5, 6, 7, 8, 9, 10, 11, 12, 17, 18, 19, 20, 13, 14, 15, 16, 1, 2, 3, 4],
    ("rhd", "freihand"): [0, 4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13, 20, 19, 18, 17],
    ("freihand", "rhd"): [0, 4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13, 20, 19, 18, 17],
    ("ho3d", "rhd"): [0, 16, 15, 14, 13, 17, 3, 2, 1, 18, 6, 5, 4, 19, 12, 11, 10, 20, 9, 8, 7],
    ("rhd", "ho3d"): [0, 8, 7, 6, 12, 11, 10, 20, 19, 18, 16, 15, 14, 4, 3, 2, 1, 5, 9, 13, 17],
}


@pytest.mark.parametrize("src,dst", sorted(PUBLISHED))
def test_permutations_match_published_arrays(src, dst):
    assert list(J.permutation(src, dst)) == PUBLISHED[(src, dst)]


@pytest.mark.parametrize("src,dst", list(itertools.permutations(["freihand", "mano", "s2hand", "rhd"], 2)))
def test_round_trips_are_identity(src, dst):
    x = torch.randn(2, 21, 3)
    assert torch.equal(J.convert(J.convert(x, src, dst), dst, src), x)
    arr = x.numpy()
    assert np.array_equal(J.convert(arr, src, dst), J.convert(x, src, dst).numpy())


@pytest.mark.parametrize("order", ["freihand", "openpose", "mano", "ho3d", "s2hand", "rhd"])
def test_anatomy_of_each_order(order):
    names = J.keypoint_names(order)
    assert names[0] == "wrist" and len(set(names)) == 21
    for finger in J.FINGERS:
        chain = [i for i, n in enumerate(names) if n.startswith(finger)]
        parts = [names[i].split("_")[1] for i in chain]
        proximal_to_distal = ["cmc", "mcp", "ip", "tip"] if finger == "thumb" else ["mcp", "pip", "dip", "tip"]
        assert sorted(parts, key=proximal_to_distal.index) == proximal_to_distal
    frei = J.keypoint_names("freihand")
    for f, finger in enumerate(J.FINGERS):  # FreiHAND: each finger's 4 keypoints, tip last
        assert frei[4 * f + 4] == f"{finger}_tip" and all(frei[4 * f + k].startswith(finger) for k in (1, 2, 3))


def test_freihand_parents_and_root():
    assert J.ROOT_INDEX == 9 and J.WRIST_INDEX == 0
    assert J.FREIHAND_PARENTS == (-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19)


def test_nimble_joint_tables():
    assert J.NIMBLE_PARENTS == (-1, 0, 1, 2, 3, 0, 5, 6, 7, 8, 0, 10, 11, 12, 13, 0, 15, 16, 17, 18, 0, 20, 21, 22, 23)
    assert J.NIMBLE_BONE_JOINTS == (0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 15, 16, 17, 18, 20, 21, 22, 23)


def test_rhd_hand_split_and_errors():
    x = torch.arange(42 * 2).reshape(42, 2)
    assert torch.equal(J.rhd_hand(x, "right")[0], x[21])
    with pytest.raises(ValueError, match="valid orders"):
        J.permutation("frei", "mano")
    with pytest.raises(ValueError, match=r"expected \[\.\.\., 21, D\]"):
        J.convert(torch.zeros(20, 3), "mano", "freihand")


# MediaPipe's hand landmark model card / HandLandmark enum, typed from its documentation.
MEDIAPIPE_DOCUMENTED = (
    "WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP",
    "INDEX_FINGER_MCP", "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP",
    "MIDDLE_FINGER_MCP", "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP",
    "RING_FINGER_MCP", "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP",
    "PINKY_MCP", "PINKY_PIP", "PINKY_DIP", "PINKY_TIP",
)  # fmt: skip


def test_mediapipe_order_is_the_freihand_order():
    assert J.MEDIAPIPE_LANDMARK_NAMES == MEDIAPIPE_DOCUMENTED
    assert J.permutation("mediapipe", "freihand") == tuple(range(21))
    x = np.random.default_rng(0).normal(size=(3, 21, 2))
    assert np.array_equal(J.convert(J.convert(x, "mediapipe", "rhd"), "rhd", "mediapipe"), x)


def test_mediapipe_order_matches_the_installed_enum():
    landmarker = pytest.importorskip("mediapipe.tasks.python.vision.hand_landmarker", reason="mediapipe is not installed (make install)")
    assert tuple(m.name for m in sorted(landmarker.HandLandmark, key=int)) == J.MEDIAPIPE_LANDMARK_NAMES
