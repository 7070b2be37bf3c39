"""Figure grids: rows of equally sized panels with column titles and row labels, saved as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

#: Grid background and text colours (RGB).
BACKGROUND = (255, 255, 255)
TEXT = (20, 20, 20)


def _text_height(scale: float) -> int:
    (_, height), baseline = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    return height + baseline + 4


def make_grid(
    rows: Sequence[Sequence[np.ndarray]],
    column_titles: Optional[Sequence[str]] = None,
    row_labels: Optional[Sequence[str]] = None,
    pad: int = 2,
    text_scale: float = 0.4,
) -> np.ndarray:
    """Lay panels out in a grid.

    Args:
        rows: R rows of C panels, every panel [h, w, 3] uint8 of the same size.
        column_titles: C titles written above the columns, or None.
        row_labels: R labels written above each row's first panel (e.g. "best 1: 4.2 mm"), or None.
        pad: pixels between panels and around the grid.
        text_scale: OpenCV font scale of titles and labels.

    Returns:
        [H, W, 3] uint8: ``H = title + R (label + h + pad) + pad``, ``W = C (w + pad) + pad``.
    """
    if not rows or not rows[0]:
        raise ValueError("make_grid: expected at least one row with one panel")
    h, w = rows[0][0].shape[:2]
    columns = len(rows[0])
    for r, row in enumerate(rows):
        if len(row) != columns or any(panel.shape != (h, w, 3) or panel.dtype != np.uint8 for panel in row):
            shapes = [(p.shape, str(p.dtype)) for p in row]
            raise ValueError(f"make_grid: row {r} must hold {columns} panels of ({h}, {w}, 3) uint8, got {shapes}")
    if column_titles is not None and len(column_titles) != columns:
        raise ValueError(f"make_grid: {len(column_titles)} column titles for {columns} columns")
    if row_labels is not None and len(row_labels) != len(rows):
        raise ValueError(f"make_grid: {len(row_labels)} row labels for {len(rows)} rows")
    line = _text_height(text_scale)
    title_h = line if column_titles is not None else 0
    label_h = line if row_labels is not None else 0
    height = title_h + len(rows) * (label_h + h + pad) + pad
    width = columns * (w + pad) + pad
    grid = np.empty((height, width, 3), np.uint8)
    grid[:] = BACKGROUND

    def put(text: str, x: int, y: int) -> None:
        cv2.putText(grid, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, text_scale, TEXT, 1, cv2.LINE_AA)

    for c, title in enumerate(column_titles or ()):
        put(title, pad + c * (w + pad), line - 6)
    for r, row in enumerate(rows):
        top = title_h + r * (label_h + h + pad) + pad
        if row_labels is not None:
            put(row_labels[r], pad, top + label_h - 6)
        for c, panel in enumerate(row):
            left = pad + c * (w + pad)
            grid[top + label_h : top + label_h + h, left : left + w] = panel
    return grid


def save_png(path: str | Path, image: np.ndarray) -> None:
    """Write an [H, W, 3] uint8 RGB image as PNG (parent folders created).

    Raises:
        OSError: the file could not be written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(image[:, :, ::-1])):
        raise OSError(f"could not write {path}")
