"""MediaPipe's Hand Landmarker (Tasks API, ``mediapipe==1.2.2``) behind a small interface.

``HandDetector(model)`` loads the model once; ``detector(image)`` returns one
:class:`~hifihr.detect.detection.HandDetection` per hand, keypoints in image pixels and in the
project's order. ``mediapipe`` is imported only here and only when a detector is built, so the
rest of the project runs without it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

import numpy as np

from hifihr.detect.detection import HandDetection, box_from_keypoints
from hifihr.detect.model import resolve_model
from hifihr.hand.joints import convert
from hifihr.viz.overlay import to_uint8

#: The packages the detector needs, and the command that installs them.
INSTALL_HINT = "pip install -r requirements-detect.txt && pip install --no-deps -r requirements-mediapipe.txt   (part of `make install`)"


class DetectorUnavailable(ImportError):
    """``mediapipe`` is not installed; the message gives the install command."""


def _import_vision():
    # MediaPipe's C++ core logs through absl/glog to stderr at import and on each graph start.
    os.environ.setdefault("GLOG_minloglevel", "2")
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:
        import mediapipe
        from mediapipe.tasks.python import BaseOptions, vision
    except ImportError as err:
        raise DetectorUnavailable(f"the hand detector needs mediapipe, which is not installed ({err}); install it with: {INSTALL_HINT}") from err
    return mediapipe, BaseOptions, vision


def mediapipe_version() -> Optional[str]:
    """The installed mediapipe version, or None."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("mediapipe")
    except PackageNotFoundError:
        return None


def to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    """An RGB image [H, W, 3] as contiguous uint8: float images are read as [0, 1]."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image: expected [H, W, 3] RGB, got {image.shape}")
    return np.ascontiguousarray(image) if image.dtype == np.uint8 else to_uint8(image)


class HandDetector:
    """MediaPipe Hand Landmarker in image mode.

    Args:
        model: the ``.task`` file (the official ``hand_landmarker.task`` or the one ``make
            install`` builds, the default).
        max_hands: the most hands reported per image.
        min_detection_confidence, min_presence_confidence: MediaPipe's palm-detection and
            hand-presence thresholds (its defaults, 0.5).

    Use as a context manager, or call :meth:`close`: MediaPipe's graph holds native threads.

    Raises:
        DetectorUnavailable: mediapipe is not installed.
        DetectorModelError: the model file is missing or unusable.
    """

    def __init__(
        self,
        model: Optional[str | Path] = None,
        max_hands: int = 2,
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
    ) -> None:
        if max_hands < 1:
            raise ValueError(f"max_hands: expected at least 1, got {max_hands}")
        self._mp, BaseOptions, vision = _import_vision()
        self.model_path = resolve_model(model)
        options = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.IMAGE,
            num_hands=int(max_hands),
            min_hand_detection_confidence=float(min_detection_confidence),
            min_hand_presence_confidence=float(min_presence_confidence),
        )
        self._landmarker = vision.HandLandmarker.create_from_options(options)

    def __call__(self, image: np.ndarray) -> list[HandDetection]:
        """The hands in ``image`` [H, W, 3] RGB (uint8, or float in [0, 1]), left to right."""
        if self._landmarker is None:
            raise RuntimeError("HandDetector is closed")
        rgb = to_uint8_rgb(image)
        height, width = rgb.shape[:2]
        result = self._landmarker.detect(self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb))
        hands = []
        for landmarks, world, handedness in zip(result.hand_landmarks, result.hand_world_landmarks, result.handedness):
            pixels = convert(np.array([[p.x * width, p.y * height] for p in landmarks], dtype=np.float64), "mediapipe", "freihand")
            metric = convert(np.array([[p.x, p.y, p.z] for p in world], dtype=np.float64), "mediapipe", "freihand")
            best = max(handedness, key=lambda c: c.score)
            hands.append(
                HandDetection(
                    box=box_from_keypoints(pixels),
                    handedness=best.category_name.lower(),
                    score=float(best.score),
                    keypoints2d=pixels,
                    confidence=np.full(21, float(best.score)),
                    world_landmarks=metric,
                )
            )
        return sorted(hands, key=lambda h: h.box[0] + h.box[2])

    def close(self) -> None:
        """Stop MediaPipe's graph (idempotent)."""
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> "HandDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        # At interpreter exit MediaPipe's own finaliser may run after its C library is gone.
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass


def detect_hands(image: np.ndarray, model: Optional[str | Path] = None, max_hands: int = 2) -> list[HandDetection]:
    """One-off detection: every hand in ``image`` [H, W, 3] RGB (see :class:`HandDetector`; build
    one detector instead when processing many images)."""
    with HandDetector(model, max_hands=max_hands) as detector:
        return detector(image)
