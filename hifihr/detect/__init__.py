"""Hands in photos: MediaPipe's Hand Landmarker as an optional project component.

* :class:`HandDetector` / :func:`detect_hands`: image in, one :class:`HandDetection` per hand
  (box, handedness, 21 keypoints in FreiHAND order with confidences, MediaPipe's metric world
  landmarks). Needs ``mediapipe`` (``make install``) and a model file (:mod:`.model`).
* :mod:`.crop`: the estimated camera and the crop of a detected hand, shared by the demo and
  the ``photos`` dataset.
* :mod:`.records`: the detections file that ``scripts/detect_keypoints.py`` writes and the
  datasets read; :mod:`hifihr.detect.labels` runs the detector over a dataset or a folder.

Importing this package does not import mediapipe; building a detector does.
"""

from hifihr.detect.crop import BOX_SCALE, KEYPOINT_BOX_SCALE, CropError, estimated_camera, mirror_box, square_crop
from hifihr.detect.detection import HandDetection, box_from_keypoints, box_iou, detection_from_json, nearest_detection
from hifihr.detect.landmarker import DetectorUnavailable, HandDetector, detect_hands, mediapipe_version
from hifihr.detect.model import DetectorModelError, default_model_path, resolve_model
from hifihr.detect.records import (
    DetectionsFile,
    DetectionsFileError,
    ImageDetections,
    read_detections,
    sample_keypoints,
    write_detections,
)

__all__ = [
    "BOX_SCALE",
    "CropError",
    "DetectionsFile",
    "DetectionsFileError",
    "DetectorModelError",
    "DetectorUnavailable",
    "HandDetection",
    "HandDetector",
    "ImageDetections",
    "KEYPOINT_BOX_SCALE",
    "box_from_keypoints",
    "box_iou",
    "default_model_path",
    "detect_hands",
    "detection_from_json",
    "estimated_camera",
    "mediapipe_version",
    "mirror_box",
    "nearest_detection",
    "read_detections",
    "resolve_model",
    "sample_keypoints",
    "square_crop",
    "write_detections",
]
