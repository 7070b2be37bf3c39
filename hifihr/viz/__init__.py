"""Images people look at: the render over the input, keypoints, texture maps, figure grids.

``overlay``: per-sample panels from the project's tensors (:func:`sample_panels` gives input |
render | overlay | keypoints | texture map). ``grid``: :func:`make_grid` lays panels out with
titles and labels; :func:`save_png` writes the result.
"""

from hifihr.viz.grid import make_grid, save_png
from hifihr.viz.overlay import (
    FINGER_COLORS,
    GT_COLOR,
    PANEL_TITLES,
    blank_panel,
    draw_keypoints,
    keypoint_panel,
    overlay,
    sample_panels,
    texture_panel,
    to_uint8,
)

__all__ = [
    "FINGER_COLORS",
    "GT_COLOR",
    "PANEL_TITLES",
    "blank_panel",
    "draw_keypoints",
    "keypoint_panel",
    "make_grid",
    "overlay",
    "sample_panels",
    "save_png",
    "texture_panel",
    "to_uint8",
]
