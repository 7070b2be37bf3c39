"""Hand datasets: FreiHAND v2 (and the synthetic data in its layout), HO-3D v2/v3, RHD and a
folder of unlabelled photos (hands from the detector).

``build_dataset(name, root, split, **options)`` reads a dataset in its official layout
(``datasets/README.md``); ``build_loader`` batches one or several of them. Every sample is a
dict; a field a dataset does not have is absent (never zero-filled). ``S`` is the crop side
(``image_size`` = 224); batches add a leading ``B``.

=============== ============ ======== ==========================================================
key             shape        dtype    meaning (units, frame)
=============== ============ ======== ==========================================================
image           [3, S, S]    float32  RGB crop in [0, 1]
K               [3, 3]       float32  pinhole intrinsics of the crop, pixels, no skew
mask            [1, S, S]    float32  hand mask {0, 1} (when the dataset has masks)
joints3d        [21, 3]      float32  keypoints, metres, OpenCV camera frame, FreiHAND order
verts3d         [V, 3]       float32  vertices, metres, camera frame (FreiHAND: MANO, V = 778)
joints2d        [21, 2]      float32  keypoints in crop pixels, = project(K, joints3d)
joints_visible  [21]         float32  1 = visible (RHD)
openpose2d      [21, 2]      float32  OpenPose detections, crop pixels (when read)
openpose_conf   [21]         float32  OpenPose peak values
root            [3]          float32  root keypoint, metres, camera frame
root_index      []           int64    9 (middle MCP), or 0 (wrist) on HO-3D evaluation
scale           []           float32  middle-finger MCP-PIP length, metres
bbox            [4]          float32  hand box x_min, y_min, x_max, y_max, crop px (HO-3D eval)
mirrored        []           bool     left hand mirrored to a right hand (RHD)
index           []           int64    index in the dataset
dataset         str                   registry name
=============== ============ ======== ==========================================================

Pixels are continuous, with pixel ``(i, j)``'s centre at ``(i + 0.5, j + 0.5)``; projection is
``u = (K X)_x / (K X)_z``. The same table, as data, is :data:`hifihr.data.sample.SAMPLE_FIELDS`.
"""

from hifihr.data import freihand, ho3d, photos, rhd  # noqa: F401  (fill the registry)
from hifihr.data.base import BadSampleError, BadSampleWarning, HandDataset
from hifihr.data.collate import collate
from hifihr.data.io import AnnotationError, DatasetLayoutError, ImageReadError
from hifihr.data.loader import MixedBatchSampler, build_loader, set_epoch
from hifihr.data.registry import DATASETS, build_dataset, dataset_options, register_dataset
from hifihr.data.sample import SAMPLE_FIELDS, check_sample
from hifihr.data.transforms import Augmentation

__all__ = [
    "AnnotationError",
    "Augmentation",
    "BadSampleError",
    "BadSampleWarning",
    "DATASETS",
    "DatasetLayoutError",
    "HandDataset",
    "ImageReadError",
    "MixedBatchSampler",
    "SAMPLE_FIELDS",
    "build_dataset",
    "build_loader",
    "check_sample",
    "collate",
    "dataset_options",
    "register_dataset",
    "set_epoch",
]
