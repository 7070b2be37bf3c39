"""Crops, rotation, mirroring, image warping and colour jitter (hifihr/data/transforms.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from helpers import assert_close

from hifihr.data.transforms import (
    Augmentation,
    AugmentParams,
    View,
    color_jitter,
    crop,
    mirror,
    project,
    rotate,
    sample_augmentation,
    warp_image,
)


def _points(rng: np.random.Generator, n: int = 30) -> np.ndarray:
    return np.stack([rng.uniform(-0.1, 0.1, n), rng.uniform(-0.1, 0.1, n), rng.uniform(0.4, 0.8, n)], axis=1)


K_OFF = np.array([[512.0, 0.0, 301.3], [0.0, 547.0, 236.8], [0.0, 0.0, 1.0]])  # fx != fy, off-centre


def _assert_pinhole(K: np.ndarray) -> None:
    assert K[0, 1] == 0 and K[1, 0] == 0 and K[2].tolist() == [0, 0, 1] and K[0, 0] > 0 and K[1, 1] > 0


def test_crop_scales_pixels_and_K_by_the_same_map():
    points = _points(np.random.default_rng(0))
    view = crop(View.identity(K_OFF), np.array([300.0, 250.0]), 400.0, 224)
    zoom = 224 / 400
    expected_K = np.array([[512 * zoom, 0, zoom * (301.3 - 300) + 112], [0, 547 * zoom, zoom * (236.8 - 250) + 112], [0, 0, 1]])
    assert_close(torch.tensor(view.K), torch.tensor(expected_K), atol=1e-12)
    uv = project(K_OFF, points)
    assert_close(torch.tensor(view.points2d(uv)), torch.tensor(zoom * (uv - (300, 250)) + 112), atol=1e-10)
    assert_close(torch.tensor(project(view.K, view.points3d(points))), torch.tensor(view.points2d(uv)), atol=1e-9)


@pytest.mark.parametrize("angle_deg", [-170.0, -33.0, 12.5, 90.0])
def test_rotation_about_any_point_keeps_projection_and_a_pinhole_K(angle_deg):
    points = _points(np.random.default_rng(1))
    base = crop(View.identity(K_OFF), np.array([290.0, 240.0]), 300.0, 224)
    center = np.array([112.0, 112.0])
    view = rotate(base, math.radians(angle_deg), center)
    _assert_pinhole(view.K)
    assert view.K[0, 0] == base.K[0, 0] and view.K[1, 1] == base.K[1, 1]
    # The 3D turns about the optical axis: z unchanged, (x, y) rotated by the angle.
    out = view.points3d(points)
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    expected = np.stack([c * points[:, 0] - s * points[:, 1], s * points[:, 0] + c * points[:, 1], points[:, 2]], axis=1)
    assert_close(torch.tensor(out), torch.tensor(expected), atol=1e-12)
    # 2D warped by the affine = projection of the rotated 3D through the new K.
    uv = project(K_OFF, points)
    assert_close(torch.tensor(view.points2d(uv)), torch.tensor(project(view.K, out)), atol=1e-9)
    # The rotation step fixes its centre.
    step = view.affine @ np.linalg.inv(base.affine)
    assert_close(torch.tensor(step @ (112.0, 112.0, 1.0)), torch.tensor([112.0, 112.0, 1.0]), atol=1e-9)


def test_rotation_about_the_principal_point_changes_only_the_3d():
    K = np.array([[500.0, 0, 112], [0, 500.0, 112], [0, 0, 1]])
    view = rotate(View.identity(K), math.pi / 2, np.array([112.0, 112.0]))
    assert_close(torch.tensor(view.K), torch.tensor(K), atol=1e-12)
    # The module docstring's worked example.
    assert_close(torch.tensor(view.points3d(np.array([[0.01, 0, 0.5]]))), torch.tensor(np.array([[0.0, 0.01, 0.5]])), atol=1e-15)
    assert_close(torch.tensor(view.points2d(np.array([[122.0, 112.0]]))), torch.tensor(np.array([[112.0, 122.0]])), atol=1e-12)


def test_mirror_flips_pixels_3d_and_cx():
    points = _points(np.random.default_rng(2))
    view = mirror(View.identity(K_OFF), 640)
    assert_close(torch.tensor(view.K), torch.tensor(np.array([[512.0, 0, 640 - 301.3], [0, 547, 236.8], [0, 0, 1]])), atol=1e-12)
    uv = project(K_OFF, points)
    assert_close(torch.tensor(view.points2d(uv)), torch.tensor(np.stack([640 - uv[:, 0], uv[:, 1]], 1)), atol=1e-12)
    assert_close(torch.tensor(view.points3d(points)), torch.tensor(points * (-1, 1, 1)), atol=0)
    assert_close(torch.tensor(project(view.K, view.points3d(points))), torch.tensor(view.points2d(uv)), atol=1e-9)
    twice = mirror(view, 640)
    assert_close(torch.tensor(twice.K), torch.tensor(K_OFF), atol=1e-12)
    assert_close(torch.tensor(twice.affine), torch.eye(3, dtype=torch.float64), atol=0)


def test_warp_follows_the_pixel_centre_convention():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)
    K = np.array([[500.0, 0, 112], [0, 500.0, 112], [0, 0, 1]])
    # Mirror: exactly the columns reversed.
    assert np.array_equal(warp_image(image, mirror(View.identity(K), 224).affine, 224), image[:, ::-1])
    # 90° clockwise about the centre: exactly numpy's clockwise rotation.
    turned = rotate(View.identity(K), math.pi / 2, np.array([112.0, 112.0]))
    assert np.array_equal(warp_image(image, turned.affine, 224), np.rot90(image, k=-1))
    # Integer crop offset: a plain slice.
    shifted = crop(View.identity(K), np.array([100.0 + 56, 90.0 + 56]), 112.0, 112)
    assert np.array_equal(warp_image(image, shifted.affine, 112), image[90:202, 100:212])


def test_warp_downscale_averages_blocks_without_moving_them():
    blocks = np.random.default_rng(4).uniform(0, 1, (56, 56)).astype(np.float32)
    image = np.kron(blocks, np.ones((4, 4), np.float32))  # 224², constant 4×4 blocks
    K = np.array([[500.0, 0, 112], [0, 500.0, 112], [0, 0, 1]])
    view = crop(View.identity(K), np.array([112.0, 112.0]), 224.0, 56)  # zoom 1/4
    assert_close(torch.tensor(warp_image(image, view.affine, 56)), torch.tensor(blocks), atol=1e-5)


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(64, 166, (16, 16, 3), dtype=np.uint8)


def _float01(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.astype(np.float32) / 255)


@pytest.mark.parametrize(
    "params, reference",
    [
        (AugmentParams(brightness=1.15), lambda x: TF.adjust_brightness(x, 1.15)),
        (AugmentParams(contrast=0.8), lambda x: TF.adjust_contrast(x, 0.8)),
        (AugmentParams(saturation=1.2), lambda x: TF.adjust_saturation(x, 1.2)),
        (
            AugmentParams(brightness=0.9, contrast=1.1, saturation=0.7),
            lambda x: TF.adjust_saturation(TF.adjust_contrast(TF.adjust_brightness(x, 0.9), 1.1), 0.7),
        ),
    ],
)
def test_color_jitter_matches_torchvision(params, reference):
    image = _image(5)
    expected = reference(_float01(image).permute(2, 0, 1)).permute(1, 2, 0)
    out = color_jitter(image, params)
    assert out.dtype == np.uint8
    # Same values within one 8-bit level (OpenCV's fixed-point transform and the final rounding).
    assert_close(_float01(out), expected, atol=1.0 / 255 + 1e-6)


def test_hue_rotation_keeps_gray_and_luma_and_composes():
    image = _image(6)
    image[0, :4] = 128  # gray pixels
    out = color_jitter(image, AugmentParams(hue=0.13))
    assert (out[0, :4] == 128).all()
    luma = torch.tensor([0.299, 0.587, 0.114])
    assert_close(_float01(out) @ luma, _float01(image) @ luma, atol=1.0 / 255)
    twice = color_jitter(color_jitter(image, AugmentParams(hue=0.1)), AugmentParams(hue=-0.04))
    assert_close(_float01(twice), _float01(color_jitter(image, AugmentParams(hue=0.06))), atol=1.5 / 255)
    assert np.abs(out.astype(int) - image).max() > 5


def test_sample_augmentation_is_seeded_and_in_range():
    aug = Augmentation(rotation_deg=30, scale_range=(0.9, 1.1), translation_std_px=2, brightness=0.2, hue=0.05)
    draws = [sample_augmentation(aug, np.random.default_rng((7, e))) for e in range(200)]
    assert draws[3] == sample_augmentation(aug, np.random.default_rng((7, 3)))
    angles = np.array([d.angle for d in draws])
    assert np.abs(angles).max() <= math.radians(30) and np.abs(angles).max() > math.radians(25)
    assert all(0.9 <= d.zoom <= 1.1 and 0.8 <= d.brightness <= 1.2 and abs(d.hue) <= 0.05 for d in draws)
    assert abs(np.std([d.shift[0] for d in draws]) - 2) < 0.4
    assert sample_augmentation(Augmentation(), np.random.default_rng(0)) == AugmentParams()
    with pytest.raises(ValueError, match="scale_range"):
        Augmentation(scale_range=(1.2, 1.0))
