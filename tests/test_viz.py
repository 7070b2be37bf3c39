"""Panels and grids: blending numbers, where keypoints land, grid geometry, PNG round trip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from hifihr.hand.joints import FREIHAND_PARENTS
from hifihr.viz import (
    FINGER_COLORS,
    PANEL_TITLES,
    draw_keypoints,
    make_grid,
    overlay,
    sample_panels,
    save_png,
    texture_panel,
    to_uint8,
)


def test_to_uint8_rounds_clips_and_accepts_both_layouts():
    image = torch.tensor([[[0.0, 0.5], [1.2, -0.1]]]).expand(3, 2, 2)
    expected = np.array([[0, 128], [255, 0]], np.uint8)
    assert np.array_equal(to_uint8(image)[..., 1], expected)
    assert np.array_equal(to_uint8(image.permute(1, 2, 0).numpy()), to_uint8(image))
    with pytest.raises(ValueError, match=r"expected \[3, H, W\]"):
        to_uint8(torch.zeros(2, 4, 4))


def test_overlay_blends_by_coverage_and_opacity():
    image = torch.full((3, 2, 2), 0.2)
    render = torch.full((3, 2, 2), 1.0)
    alpha = torch.tensor([[[0.0, 0.5], [1.0, 1.0]]])
    out = overlay(image, render, alpha, opacity=0.6)
    # 0.2 (1 - 0.6 a) + 1.0 (0.6 a): a = 0, 0.5, 1 -> 0.2, 0.44, 0.68
    assert out[..., 0].tolist() == [[51, 112], [173, 173]]
    with pytest.raises(ValueError, match="alpha"):
        overlay(image, render, alpha[:, :1])


def test_keypoints_are_drawn_at_their_continuous_pixels():
    canvas = np.zeros((40, 40, 3), np.uint8)
    joints = np.tile([[20.5, 20.5]], (21, 1))
    joints[4] = (5.5, 30.5)  # thumb tip at the centre of pixel (5, 30)
    out = draw_keypoints(canvas, joints, radius=1.0, thickness=1)
    assert tuple(out[30, 5]) == FINGER_COLORS[0]  # column 5, row 30
    assert tuple(out[20, 20]) != (0, 0, 0) and out[0:3, 35:40].sum() == 0
    # The bone from joint 3 (at the centre) to the tip passes through the midpoint (13, 25.5):
    # pixels 12 and 13 of row 25 are mostly covered by the anti-aliased line, in the thumb's red.
    assert FREIHAND_PARENTS[4] == 3 and (out[25, 12:14, 0] > 200).all() and (out[25, 12:14, 1:] < 120).all()
    assert np.array_equal(draw_keypoints(canvas, np.full((21, 2), np.nan)), canvas)  # nothing to draw


def test_texture_panel_and_blank_panels_have_the_crop_size():
    texture = torch.zeros(8, 8, 3)
    texture[:4, :, 0] = 1.0  # top half red
    panel = texture_panel(texture, 32)
    assert panel.shape == (32, 32, 3) and tuple(panel[0, 0]) == (255, 0, 0) and tuple(panel[31, 0]) == (0, 0, 0)
    panels = sample_panels(torch.rand(3, 32, 32), torch.full((21, 2), 16.0))
    assert len(panels) == len(PANEL_TITLES) and all(p.shape == (32, 32, 3) and p.dtype == np.uint8 for p in panels)


def test_grid_geometry_and_png_round_trip(tmp_path):
    red, blue = np.zeros((10, 12, 3), np.uint8), np.zeros((10, 12, 3), np.uint8)
    red[..., 0], blue[..., 2] = 255, 255
    grid = make_grid([[red, blue], [blue, red]], pad=2)
    assert grid.shape == (2 * (10 + 2) + 2, 2 * (12 + 2) + 2, 3)
    assert tuple(grid[2, 2]) == (255, 0, 0) and tuple(grid[2, 16]) == (0, 0, 255) and tuple(grid[14, 2]) == (0, 0, 255)
    assert tuple(grid[0, 0]) == (255, 255, 255)  # padding
    titled = make_grid([[red, blue]], column_titles=["a", "b"], row_labels=["row"], pad=2)
    assert titled.shape[0] > 10 + 4 and titled.shape[1] == grid.shape[1]
    path = tmp_path / "figures" / "grid.png"
    save_png(path, grid)
    assert np.array_equal(cv2.imread(str(path))[:, :, ::-1], grid)
    with pytest.raises(ValueError, match="row 1 must hold 2 panels"):
        make_grid([[red, blue], [red]])
