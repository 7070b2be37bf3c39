"""Measures of a refinement against ground truth (hifihr.fit.evaluate): the 3D joint errors."""

from __future__ import annotations

import math

import pytest
import torch

from hifihr.fit.evaluate import joint_errors
from hifihr.hand.joints import ROOT_INDEX


@pytest.fixture
def truth() -> torch.Tensor:
    return torch.randn(21, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.03 + torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64)


def test_a_translated_hand_has_only_a_root_error(truth):
    errors = joint_errors(truth + torch.tensor([0.003, -0.004, 0.0], dtype=torch.float64), truth)
    assert errors.mpjpe_mm == pytest.approx(0.0, abs=1e-9)
    # 1e-4 mm: the official alignment adds eps = 1e-8 to both norms, a ~1e-6 mm bias
    assert errors.pa_mpjpe_mm == pytest.approx(0.0, abs=1e-4)
    assert errors.root_mm == pytest.approx(5.0, abs=1e-9)  # the 3-4-5 triangle, in mm


def test_a_rotated_scaled_hand_is_wrong_until_procrustes_aligns_it(truth):
    angle = math.radians(30.0)
    rotation = torch.tensor([[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    root = truth[ROOT_INDEX]
    moved = 1.2 * (truth - root) @ rotation.T + root
    errors = joint_errors(moved, truth)
    assert errors.pa_mpjpe_mm == pytest.approx(0.0, abs=1e-4)
    assert errors.root_mm == pytest.approx(0.0, abs=1e-9)
    expected = 1000 * ((moved - root) - (truth - root)).norm(dim=-1).mean()  # computed joint by joint
    assert errors.mpjpe_mm == pytest.approx(float(expected), rel=1e-9)


def test_one_joint_off_by_21_mm_gives_an_mpjpe_of_1_mm(truth):
    tip = 20 if ROOT_INDEX != 20 else 4
    moved = truth.clone()
    moved[tip, 0] += 0.021
    assert joint_errors(moved, truth).mpjpe_mm == pytest.approx(1.0, abs=1e-9)


def test_moving_the_root_joint_moves_every_root_relative_joint(truth):
    moved = truth.clone()
    moved[ROOT_INDEX, 2] += 0.021
    errors = joint_errors(moved, truth)
    # root alignment shifts the 20 other joints by 21 mm; the root itself lands on the true root
    assert errors.mpjpe_mm == pytest.approx(20.0, abs=1e-9)
    assert errors.root_mm == pytest.approx(21.0, abs=1e-9)
