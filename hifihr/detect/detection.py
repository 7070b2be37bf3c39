"""What the detector reports for one hand, and the pure geometry around it.

Pixels are continuous image coordinates with pixel ``(i, j)``'s centre at ``(i + 0.5, j + 0.5)``
(MediaPipe's normalised landmarks times the image size land in the same convention: 0 and 1 are
the image's outer edges). Keypoints are in the project's FreiHAND order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

HANDEDNESS = ("left", "right")


@dataclass(frozen=True, eq=False)  # arrays inside: compared by identity
class HandDetection:
    """One detected hand in one image.

    Attributes:
        box: [4] float64 (x_min, y_min, x_max, y_max), image pixels: the tight box around
            ``keypoints2d``.
        handedness: ``"left"`` or ``"right"`` (the hand's true side in an ordinary photo).
        score: handedness classification score in [0, 1].
        keypoints2d: [21, 2] float64 image pixels, FreiHAND order.
        confidence: [21] float64 in [0, 1]; MediaPipe's Tasks API reports no per-keypoint
            score, so every keypoint carries ``score``.
        world_landmarks: [21, 3] float64 metres, MediaPipe's hand-centred metric frame
            (origin near the hand's centre, not the camera's), FreiHAND order; None if absent.
    """

    box: np.ndarray
    handedness: str
    score: float
    keypoints2d: np.ndarray
    confidence: np.ndarray
    world_landmarks: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        if self.handedness not in HANDEDNESS:
            raise ValueError(f"handedness: expected one of {HANDEDNESS}, got {self.handedness!r}")
        if np.shape(self.keypoints2d) != (21, 2):
            raise ValueError(f"keypoints2d: expected [21, 2], got {np.shape(self.keypoints2d)}")
        if np.shape(self.confidence) != (21,):
            raise ValueError(f"confidence: expected [21], got {np.shape(self.confidence)}")
        if self.world_landmarks is not None and np.shape(self.world_landmarks) != (21, 3):
            raise ValueError(f"world_landmarks: expected [21, 3], got {np.shape(self.world_landmarks)}")

    @property
    def left(self) -> bool:
        return self.handedness == "left"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (see :func:`detection_from_json`)."""
        return {
            "box_xyxy_px": [round(float(v), 3) for v in self.box],
            "handedness": self.handedness,
            "score": round(float(self.score), 5),
            "keypoints2d_px": np.round(self.keypoints2d, 3).tolist(),
            "confidence": np.round(self.confidence, 5).tolist(),
            "world_landmarks_m": None if self.world_landmarks is None else np.round(self.world_landmarks, 6).tolist(),
        }


def detection_from_json(entry: Mapping[str, Any], where: str = "detection") -> HandDetection:
    """The :class:`HandDetection` of a :meth:`HandDetection.to_json` dict.

    Raises:
        ValueError: a key is missing or has the wrong shape; the message starts with ``where``.
    """
    keys = ("box_xyxy_px", "handedness", "score", "keypoints2d_px", "confidence")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise ValueError(f"{where}: missing key(s) {missing}; expected {list(keys) + ['world_landmarks_m']}")
    world = entry.get("world_landmarks_m")
    try:
        return HandDetection(
            box=np.asarray(entry["box_xyxy_px"], dtype=np.float64).reshape(4),
            handedness=str(entry["handedness"]),
            score=float(entry["score"]),
            keypoints2d=np.asarray(entry["keypoints2d_px"], dtype=np.float64),
            confidence=np.asarray(entry["confidence"], dtype=np.float64),
            world_landmarks=None if world is None else np.asarray(world, dtype=np.float64),
        )
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err


def box_from_keypoints(keypoints2d: np.ndarray) -> np.ndarray:
    """The tight axis-aligned box (x_min, y_min, x_max, y_max) [4] around keypoints [N, 2]."""
    points = np.asarray(keypoints2d, dtype=np.float64)
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x_min, y_min, x_max, y_max) boxes (0 when disjoint)."""
    ax0, ay0, ax1, ay1 = (float(v) for v in a)
    bx0, by0, bx1, by1 = (float(v) for v in b)
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def nearest_detection(detections: Sequence[HandDetection], point: np.ndarray, max_distance: float) -> Optional[HandDetection]:
    """The detection whose box centre lies closest to ``point`` [2] (pixels), if within
    ``max_distance`` pixels; None otherwise. Picks the annotated hand among several."""
    best, best_distance = None, float(max_distance)
    for detection in detections:
        centre = (detection.box[:2] + detection.box[2:]) / 2
        distance = float(np.linalg.norm(centre - np.asarray(point, dtype=np.float64)))
        if distance <= best_distance:
            best, best_distance = detection, distance
    return best
