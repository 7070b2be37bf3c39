"""The detections file: what ``scripts/detect_keypoints.py`` writes and the datasets read.

One JSON object::

    {"format": "hifihr-detections/1",
     "keypoint_order": "freihand", "pixels": "...",
     "detector": {"model": ..., "mediapipe": ..., "max_hands": ...},
     "source": {"kind": "dataset", "name": ..., "root": ..., "split": ..., "options": {...}}
               or {"kind": "folder", "root": ...},
     "images": [{"image": "<path relative to the root>", "frame": null or <video frame index>,
                 "size": [W, H], "sample": null or <dataset index>,
                 "hands": [HandDetection.to_json(), ...],
                 "match": null or <index into hands: the dataset's annotated hand>,
                 "error": null or "<why the file could not be read>"}, ...]}

For a dataset there is one entry per sample, in index order; ``match`` names the hand that the
self-supervised losses get as ``openpose2d``/``openpose_conf`` (source-image pixels; a sample
without a match gets zero confidences, which switch its keypoint losses off). For a folder there
is one entry per image or video frame and every hand becomes a training sample.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from hifihr.detect.detection import HandDetection, detection_from_json
from hifihr.files import write_atomic

FORMAT = "hifihr-detections/1"
PIXELS = "image pixels, pixel (i, j) centred at (i + 0.5, j + 0.5)"


class DetectionsFileError(ValueError):
    """A detections file is missing, malformed or does not fit the dataset reading it."""


@dataclass
class ImageDetections:
    """The detections of one image (or video frame); see the module docstring."""

    image: str
    size: tuple[int, int]
    hands: list[HandDetection] = field(default_factory=list)
    frame: Optional[int] = None
    sample: Optional[int] = None
    match: Optional[int] = None
    error: Optional[str] = None

    def to_json(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "frame": self.frame,
            "size": [int(v) for v in self.size],
            "sample": self.sample,
            "hands": [h.to_json() for h in self.hands],
            "match": self.match,
            "error": self.error,
        }


@dataclass
class DetectionsFile:
    """A whole detections file: where the images came from, the detector, the entries."""

    source: dict[str, Any]
    detector: dict[str, Any]
    images: list[ImageDetections]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "keypoint_order": "freihand",
            "pixels": PIXELS,
            "detector": self.detector,
            "source": self.source,
            "images": [entry.to_json() for entry in self.images],
        }


def write_detections(path: Path, detections: DetectionsFile) -> None:
    """Write ``detections`` to ``path`` as JSON, atomically (temporary file, then rename)."""
    write_atomic(path, json.dumps(detections.to_json()))


def read_detections(path: Path) -> DetectionsFile:
    """Parse a detections file.

    Raises:
        DetectionsFileError: missing file, invalid JSON, another format, a malformed entry
            (the message names the file and the entry).
    """
    path = Path(path)
    if not path.is_file():
        raise DetectionsFileError(f"detections file {path} not found: write it with python scripts/detect_keypoints.py")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DetectionsFileError(f"{path}: not a readable JSON file: {err}") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise DetectionsFileError(f"{path}: expected a {FORMAT!r} detections file, got format {found!r}")
    images = []
    for i, entry in enumerate(data.get("images", [])):
        where = f"{path}: images[{i}]"
        try:
            hands = [detection_from_json(h, f"{where}.hands[{j}]") for j, h in enumerate(entry["hands"])]
            match = entry.get("match")
            if match is not None and not 0 <= int(match) < len(hands):
                raise ValueError(f"{where}: match {match} is not an index into its {len(hands)} hands")
            images.append(
                ImageDetections(
                    image=str(entry["image"]),
                    size=(int(entry["size"][0]), int(entry["size"][1])),
                    hands=hands,
                    frame=None if entry.get("frame") is None else int(entry["frame"]),
                    sample=None if entry.get("sample") is None else int(entry["sample"]),
                    match=None if match is None else int(match),
                    error=entry.get("error"),
                )
            )
        except (KeyError, TypeError, IndexError) as err:
            raise DetectionsFileError(f"{where}: malformed entry ({type(err).__name__}: {err}); keys: image, size, hands, frame, sample, match, error") from err
        except ValueError as err:
            raise DetectionsFileError(str(err)) from err
    return DetectionsFile(source=data.get("source", {}), detector=data.get("detector", {}), images=images)


def sample_keypoints(detections: DetectionsFile, num_samples: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample keypoints of a dataset's detections file: (pixels [N, 21, 2], confidences
    [N, 21]), source-image pixels; zeros (confidence 0) where no hand matched.

    Raises:
        DetectionsFileError: the file is not one entry per sample 0..N-1 in order.
    """
    samples = [entry.sample for entry in detections.images]
    if samples != list(range(num_samples)):
        raise DetectionsFileError(
            f"{where}: expected one entry per sample 0..{num_samples - 1} of the dataset in order, got {len(samples)} entries"
            + (f" starting with samples {samples[:3]}" if samples else "")
            + "; write it for this dataset and split with python scripts/detect_keypoints.py"
        )
    pixels = np.zeros((num_samples, 21, 2))
    confidence = np.zeros((num_samples, 21))
    for i, entry in enumerate(detections.images):
        if entry.match is not None:
            hand = entry.hands[entry.match]
            pixels[i], confidence[i] = hand.keypoints2d, hand.confidence
    return pixels, confidence
