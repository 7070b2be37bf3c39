"""A folder of the user's own photos (and video frames), unlabelled: hands found by the detector.

``scripts/detect_keypoints.py --photos FOLDER`` writes ``FOLDER/detections.json`` (see
:mod:`hifihr.detect.records`); every detected hand is one sample. Each sample's camera is the
estimate of :func:`hifihr.detect.crop.estimated_camera` (``focal_factor`` times the image's
longer side, principal point at the centre), the crop is the square of
:func:`hifihr.detect.crop.square_crop` around the detected keypoints (``box_scale`` times the
longer side of their tight box): the same convention as ``scripts/demo.py``. A left hand is
mirrored into a right hand (the hand models are right hands).

Sample fields: ``image``, ``K``, ``openpose2d`` (the detected keypoints, crop pixels),
``openpose_conf``, ``bbox`` (the keypoints' tight box, crop pixels), ``root_index`` (9: the
predicted root is the middle MCP), ``mirrored``, ``index``, ``dataset``: what ``supervision: "self"`` reads, with ``model.root = "predicted"`` (a photo
has no 3D root).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hifihr.data.base import BadSampleError, HandDataset, Record, require_root
from hifihr.data.io import DatasetLayoutError, ImageReadError, read_video_frame
from hifihr.data.registry import register_dataset
from hifihr.data.transforms import Augmentation
from hifihr.detect.crop import KEYPOINT_BOX_SCALE, estimated_camera, square_crop
from hifihr.detect.detection import HandDetection
from hifihr.detect.records import DetectionsFileError, read_detections
from hifihr.hand.joints import ROOT_INDEX

LAYOUT = """\
  <root>/                     any images (.jpg, .png, ...) and videos (.mp4, .mov, ...)
    detections.json           written by: python scripts/detect_keypoints.py --photos <root>"""


@dataclass(frozen=True)
class _Hand:
    image: Path
    frame: int | None
    size: tuple[int, int]
    detection: HandDetection


@register_dataset("photos", "A folder of unlabelled photos and video frames; hands and keypoints from the detector")
class Photos(HandDataset):
    """Every hand that ``detections`` lists for the images of ``root``.

    Args:
        detections: the detections file (relative to ``root``, or absolute).
        focal_factor: the estimated focal length in units of the image's longer side.
        box_scale: crop side / longer side of the keypoints' tight box.
        min_score: hands with a lower detection score are left out.
        intrinsics: the camera (fx, fy, cx, cy) in pixels when every photo comes from one known
            camera at one resolution; None = the estimate.
    """

    name = "photos"
    mirrors = True
    has_root = False
    default_augmentation = Augmentation(rotation_deg=30.0)
    detections_option = ("detections", "detections.json")

    def __init__(
        self,
        root: str | Path,
        split: str,
        *,
        detections: str = "detections.json",
        focal_factor: float = 1.0,
        box_scale: float = KEYPOINT_BOX_SCALE,
        min_score: float = 0.5,
        intrinsics: tuple[float, float, float, float] | None = None,
        **common,
    ) -> None:
        super().__init__(root, split, **common)
        require_root(self.root, "photos", LAYOUT)
        if box_scale <= 0 or focal_factor <= 0:
            raise ValueError(f"photos: box_scale and focal_factor must be positive, got {box_scale} and {focal_factor}")
        path = self.root / detections
        if not path.is_file():
            raise DatasetLayoutError(
                f"photos: {path} not found; detect the hands first with python scripts/detect_keypoints.py --photos {self.root}. Layout:\n{LAYOUT}"
            )
        try:
            found = read_detections(path)
        except DetectionsFileError as err:
            raise DatasetLayoutError(str(err)) from err
        self.focal_factor = float(focal_factor)
        self.box_scale = float(box_scale)
        self.intrinsics = None if intrinsics is None else tuple(float(v) for v in intrinsics)
        self.hands = [
            _Hand(self.root / entry.image, entry.frame, entry.size, hand)
            for entry in found.images
            if entry.error is None
            for hand in entry.hands
            if hand.score >= min_score
        ]
        if not self.hands:
            raise DatasetLayoutError(f"photos: {path} lists no hand with a score of at least {min_score} in {len(found.images)} images")

    def __len__(self) -> int:
        return len(self.hands)

    def record(self, index: int) -> Record:
        hand = self.hands[index]
        width, height = hand.size
        return Record(
            image_path=hand.image,
            K=estimated_camera(width, height, self.focal_factor, self.intrinsics),
            openpose2d=hand.detection.keypoints2d,
            openpose_conf=hand.detection.confidence,
            bbox=hand.detection.box,
            root_index=ROOT_INDEX,
            mirror=hand.detection.left,
        )

    def read(self, index: int):
        hand = self.hands[index]
        if hand.frame is None:
            return super().read(index)
        try:
            image = read_video_frame(hand.image, hand.frame)
        except ImageReadError as err:
            raise BadSampleError(str(err)) from err
        return self.record(index), image, None

    def crop_box(self, joints2d, bbox, image_hw):
        """The square of ``box_scale`` times the longer side of the detected keypoints' box."""
        height, width = image_hw
        return square_crop(bbox, width, height, self.box_scale)
