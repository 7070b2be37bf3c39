"""The part every hand dataset shares: from a :class:`Record` to a cropped, augmented sample.

A loader (FreiHAND, HO-3D, RHD) only says what it knows about sample ``i`` in its source frame
(:meth:`HandDataset.record`) and where its crop box lies (:meth:`HandDataset.crop_box`).
This class decodes the image, builds the :class:`~hifihr.data.transforms.View` (mirror, crop,
augmentation), warps the image and mask once, moves every annotation with the same view, and
returns a sample dict (keys in :mod:`hifihr.data`).

Randomness: the augmentation of sample ``i`` draws from ``numpy.random.default_rng((seed,
epoch, i))``, so a run is reproducible whatever the number of workers; call
:meth:`HandDataset.set_epoch` before each epoch. Evaluation crops draw nothing.
"""

from __future__ import annotations

import json
import multiprocessing
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from hifihr.data.io import AnnotationError, DatasetLayoutError, ImageReadError, list_files, read_image
from hifihr.detect.records import read_detections, sample_keypoints
from hifihr.data.transforms import (
    Augmentation,
    AugmentParams,
    View,
    color_jitter,
    crop,
    mirror,
    rotate,
    sample_augmentation,
    warp_image,
)
from hifihr.hand.assets import AssetError
from hifihr.hand.joints import FREIHAND_NAMES

BadImagePolicy = Literal["skip", "raise"]
#: More consecutive unreadable samples than this means a broken dataset, not a bad file.
MAX_CONSECUTIVE_SKIPS = 16
#: Decimals of metres kept in ``pred.json`` (0.1 micrometre, below float32 resolution at 1 m).
PRED_DECIMALS = 7


class BadSampleWarning(UserWarning):
    """An unreadable image or annotation file was skipped."""


class BadSampleError(RuntimeError):
    """A sample's files could not be read; the message names the file."""


@dataclass(frozen=True)
class RootPlacement:
    """Where the unaligned evaluation numbers of a dataset place the hand.

    Attributes:
        label: the ``unaligned_root`` entry of the split's metrics: ``"GT root"`` or
            ``"predicted"``.
        note: what a reader of the unaligned numbers must know, or None.
    """

    label: str
    note: str | None = None


@dataclass
class Record:
    """What a loader knows about one sample before any crop, in its source frame.

    Attributes:
        image_path: the RGB image file.
        K: [3, 3] source intrinsics (pixels, OpenCV).
        joints3d: [21, 3] metres, OpenCV camera frame, FreiHAND order.
        verts3d: [778, 3] metres, OpenCV camera frame (MANO topology).
        joints2d: [21, 2] source pixels, FreiHAND order: stored annotations, or the projection
            of ``joints3d`` where the dataset stores none.
        joints_visible: [21] {0, 1}, per-keypoint visibility where the dataset marks it.
        openpose2d: [21, 2] source pixels of OpenPose detections; ``openpose_conf`` [21].
        root: [3] metres, the root joint (``root_index``) in the camera frame.
        scale: metres, length of the middle finger's MCP-PIP bone.
        bbox: [4] (x_min, y_min, x_max, y_max) source pixels.
        mask: a function that reads the hand mask as float32 [h, w] in {0, 1}; the mask may have
            another resolution than the image (it is scaled to the image's extent).
        mirror: mirror the image and annotations left-right before cropping (RHD left hands).
    """

    image_path: Path
    K: np.ndarray
    joints3d: np.ndarray | None = None
    verts3d: np.ndarray | None = None
    joints2d: np.ndarray | None = None
    joints_visible: np.ndarray | None = None
    openpose2d: np.ndarray | None = None
    openpose_conf: np.ndarray | None = None
    root: np.ndarray | None = None
    root_index: int | None = None
    scale: float | None = None
    bbox: np.ndarray | None = None
    mask: Callable[[], np.ndarray] | None = None
    mirror: bool = False


def _float(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


class HandDataset(Dataset, ABC):
    """Base of the hand datasets: crops, augmentation, bad-file handling.

    Args:
        root: the dataset folder (the one the layout in ``datasets/README.md`` starts from).
        split: ``"train"`` or ``"evaluation"``.
        image_size: side of the square output crop, pixels.
        augment: apply ``augmentation`` (default: on for ``train``, off for ``evaluation``).
        augmentation: the random augmentation; default: the dataset's reference augmentation.
        seed: seed of the augmentation draws.
        on_bad_image: ``"skip"`` warns, counts (:attr:`num_skipped`) and returns the next
            readable sample instead (its ``index`` says which); ``"raise"`` raises
            :class:`BadSampleError`. Default: ``"skip"`` for ``train``, ``"raise"`` for
            ``evaluation`` (a benchmark needs every sample).
        keypoints_file: a detections file that ``scripts/detect_keypoints.py`` wrote for this
            dataset and split (absolute, or relative to ``root``); its matched hands become
            ``openpose2d`` / ``openpose_conf`` (replacing any OpenPose file the dataset reads),
            so ``supervision: self`` runs on any dataset.
    """

    #: Registry name, set by subclasses.
    name: str = ""
    #: The augmentation a training split gets when none is given (the reference's).
    default_augmentation: Augmentation = Augmentation()
    #: Whether the dataset may mirror samples (then every sample carries ``mirrored``).
    mirrors: bool = False
    #: The values ``split`` accepts.
    splits: tuple[str, ...] = ("train", "evaluation")
    #: Whether the samples carry the 3D ``root`` that ``model.root = "gt"`` places the hand at;
    #: without one the network must predict it (``model.root = "predicted"``).
    has_root: bool = True
    #: Whether the evaluation scores texture inside the ground-truth mask where the split has
    #: masks; otherwise inside the rendered silhouette.
    texture_in_gt_mask: bool = True
    #: Keypoint confidence at or below which :meth:`texture_confidence` gives a sample 0.
    texture_confidence_min: float = 0.1
    #: For an unlabelled folder that ``scripts/detect_keypoints.py`` labels in place: (the
    #: option naming its detections file, that option's default). None for a dataset with its
    #: own labels, whose detections go to a ``keypoints_file``.
    detections_option: tuple[str, str] | None = None

    def __init__(
        self,
        root: str | Path,
        split: str,
        *,
        image_size: int = 224,
        augment: bool | None = None,
        augmentation: Augmentation | None = None,
        seed: int = 0,
        on_bad_image: BadImagePolicy | None = None,
        keypoints_file: str | None = None,
    ) -> None:
        if split not in self.splits:
            raise ValueError(f"split: expected one of {', '.join(self.splits)}, got {split!r}")
        if on_bad_image not in (None, "skip", "raise"):
            raise ValueError(f"on_bad_image: expected 'skip' or 'raise', got {on_bad_image!r}")
        if image_size <= 0:
            raise ValueError(f"image_size: expected a positive number of pixels, got {image_size}")
        self.root = Path(root)
        self.split = split
        self.image_size = int(image_size)
        self.augment = (split == "train") if augment is None else bool(augment)
        self.augmentation = self.default_augmentation if augmentation is None else augmentation
        self.seed = int(seed)
        self.epoch = 0
        self.on_bad_image: BadImagePolicy = on_bad_image or ("skip" if split == "train" else "raise")
        self._skipped = multiprocessing.Value("q", 0)
        self.keypoints_file = None if keypoints_file is None else self.root / keypoints_file
        self._detected: tuple[np.ndarray, np.ndarray] | None = None
        if self.keypoints_file is not None:
            self._detections = read_detections(self.keypoints_file)

    # ----------------------------------------------------------------- for subclasses
    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def record(self, index: int) -> Record:
        """The source-frame annotations of sample ``index``; raises :class:`BadSampleError` when
        a per-sample annotation file cannot be read."""

    @abstractmethod
    def crop_box(
        self, joints2d: np.ndarray | None, bbox: np.ndarray | None, image_hw: tuple[int, int]
    ) -> tuple[np.ndarray, float]:
        """The deterministic square crop: centre [2] and side, in (mirrored) source pixels.

        ``joints2d`` [21, 2] and ``bbox`` [4] are the record's, already mirrored if the record
        asks for it; ``image_hw`` is the source image's (height, width).
        """

    # ----------------------------------------------------------------- dataset conventions
    @classmethod
    def texture_confidence(cls, openpose_conf: Tensor) -> Tensor:
        """Per-sample confidence t [N] of the self-supervised photometric terms, from the
        keypoint confidences [N, 21]: their mean, or 0 where the lowest is at most
        :attr:`texture_confidence_min` (a missed or doubtful hand)."""
        gate = openpose_conf.amin(-1) > cls.texture_confidence_min
        return openpose_conf.mean(-1) * gate.to(openpose_conf.dtype)

    @classmethod
    def root_placement(cls, predicted: bool) -> RootPlacement:
        """Where this dataset's unaligned evaluation numbers place the hand: at the network's
        predicted root (``predicted``) or at the samples' ground-truth root.

        Raises:
            ValueError: the ground-truth root is asked for but the samples carry none.
        """
        if predicted:
            return RootPlacement("predicted")
        if not cls.has_root:
            raise ValueError(f"{cls.name}: the samples have no 3D root; evaluate with model.root = 'predicted'")
        return RootPlacement(
            "GT root",
            "unaligned metrics and pred.json use the ground-truth root (model.root = 'gt'): they are not "
            "the network's own absolute placement; the aligned metrics do not depend on it",
        )

    @classmethod
    def write_predictions(cls, directory: Path, joints: np.ndarray, verts: np.ndarray) -> list[str]:
        """Write the benchmark file of this split: ``pred.json``, the FreiHAND Codalab format
        ``[xyz_list, verts_list]``; return the names of the files written.

        Args:
            directory: where to write (created if missing).
            joints: [N, 21, 3] camera-frame keypoints, metres, OpenCV frame, FreiHAND order, in
                dataset order.
            verts: [N, V, 3] camera-frame evaluation vertices, metres, OpenCV frame.
        """
        directory.mkdir(parents=True, exist_ok=True)
        write_pred_json(directory / "pred.json", joints, verts)
        return ["pred.json"]

    # ----------------------------------------------------------------- public
    @property
    def num_skipped(self) -> int:
        """How many unreadable samples were skipped so far, in all worker processes."""
        return int(self._skipped.value)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of ``epoch`` (call before creating the epoch's iterator)."""
        self.epoch = int(epoch)

    def rng(self, index: int) -> np.random.Generator:
        """The generator of sample ``index`` in the current epoch."""
        return np.random.default_rng((self.seed, self.epoch, index))

    def augment_params(self, index: int) -> AugmentParams:
        """The augmentation draw of sample ``index`` (identity when augmentation is off)."""
        if not self.augment:
            return AugmentParams()
        return sample_augmentation(self.augmentation, self.rng(index))

    def __getitem__(self, index: int) -> dict[str, object]:
        if not 0 <= index < len(self):
            raise IndexError(f"{self.name}: index {index} out of range for {len(self)} samples")
        for attempt in range(MAX_CONSECUTIVE_SKIPS + 1):
            current = (index + attempt) % len(self)
            try:
                return self.load(current)
            except BadSampleError as err:
                if self.on_bad_image == "raise":
                    raise
                with self._skipped.get_lock():
                    self._skipped.value += 1
                    count = self._skipped.value
                warnings.warn(f"{err}; sample {current} skipped ({count} skipped so far)", BadSampleWarning, stacklevel=2)
        raise BadSampleError(
            f"{self.name}: {MAX_CONSECUTIVE_SKIPS + 1} consecutive samples from {index} are unreadable; "
            f"check the files under {self.root}"
        )

    def detected_keypoints(self) -> tuple[np.ndarray, np.ndarray]:
        """(pixels [N, 21, 2], confidences [N, 21]) of ``keypoints_file``, source pixels.

        Raises:
            DetectionsFileError: the file is not one entry per sample of this dataset.
        """
        if self._detected is None:
            self._detected = sample_keypoints(self._detections, len(self), str(self.keypoints_file))
        return self._detected

    def view(self, record: Record, image_hw: tuple[int, int], params: AugmentParams) -> View:
        """Mirror (if asked), crop box, then the augmentation: zoom, centre shift, rotation."""
        view = View.identity(record.K)
        if record.mirror:
            view = mirror(view, image_hw[1])
        joints2d = None if record.joints2d is None else view.points2d(record.joints2d)
        bbox = None if record.bbox is None else _box_points(view.points2d(_box_corners(record.bbox)))
        center, side = self.crop_box(joints2d, bbox, image_hw)
        center = np.asarray(center, dtype=np.float64) + params.shift
        view = crop(view, center, side / params.zoom, self.image_size)
        if params.angle:
            half = self.image_size / 2
            view = rotate(view, params.angle, np.array([half, half]))
        return view

    def read(self, index: int) -> tuple[Record, np.ndarray, np.ndarray | None]:
        """Decode sample ``index``: its record, image [H, W, 3] uint8 and mask [h, w] float32 or None.

        Raises:
            BadSampleError: an image, mask or per-sample annotation file is unreadable.
        """
        try:
            record = self.record(index)
            if self.keypoints_file is not None:
                record.openpose2d, record.openpose_conf = (a[index] for a in self.detected_keypoints())
            image = read_image(record.image_path)
            mask = None if record.mask is None else record.mask()
        except (ImageReadError, AssetError) as err:
            raise BadSampleError(str(err)) from err
        return record, image, mask

    def transform(self, index: int, record: Record, image: np.ndarray, mask: np.ndarray | None) -> dict[str, object]:
        """Crop, augment and package a decoded sample (the sample dict of :mod:`hifihr.data`)."""
        params = self.augment_params(index)
        view = self.view(record, image.shape[:2], params)
        crop_rgb = warp_image(image, view.affine, self.image_size)
        if params.has_color:
            crop_rgb = color_jitter(crop_rgb, params)
        # numpy, not torch: torch's intra-op threads stall when the loader already fills the cores.
        chw = np.ascontiguousarray(crop_rgb.transpose(2, 0, 1)).astype(np.float32)
        chw *= np.float32(1 / 255)
        sample: dict[str, object] = {"image": torch.from_numpy(chw), "K": _float(view.K)}
        if mask is not None:
            height, width = image.shape[:2]
            to_image = np.diag([width / mask.shape[1], height / mask.shape[0], 1.0])
            warped = warp_image(mask, view.affine @ to_image, self.image_size)
            sample["mask"] = torch.from_numpy((warped > 0.5).astype(np.float32))[None]
        if record.joints3d is not None:
            sample["joints3d"] = _float(view.points3d(record.joints3d))
        if record.verts3d is not None:
            sample["verts3d"] = _float(view.points3d(record.verts3d))
        if record.joints2d is not None:
            sample["joints2d"] = _float(view.points2d(record.joints2d))
        if record.joints_visible is not None:
            sample["joints_visible"] = _float(record.joints_visible)
        if record.openpose2d is not None:
            sample["openpose2d"] = _float(view.points2d(record.openpose2d))
            sample["openpose_conf"] = _float(record.openpose_conf)
        if record.root is not None:
            sample["root"] = _float(view.points3d(record.root[None])[0])
        if record.root_index is not None:  # also without a root: which keypoint a predicted root means
            sample["root_index"] = torch.tensor(record.root_index, dtype=torch.int64)
        if record.scale is not None:
            sample["scale"] = torch.tensor(record.scale, dtype=torch.float32)
        if record.bbox is not None:
            sample["bbox"] = _float(_box_points(view.points2d(_box_corners(record.bbox))))
        if self.mirrors:
            sample["mirrored"] = torch.tensor(record.mirror)
        sample["index"] = torch.tensor(index, dtype=torch.int64)
        sample["dataset"] = self.name
        return sample

    def load(self, index: int) -> dict[str, object]:
        """Sample ``index`` without the skip logic (raises :class:`BadSampleError`)."""
        return self.transform(index, *self.read(index))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, samples={len(self)}, augment={self.augment})"


def _box_corners(bbox: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = bbox
    return np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], dtype=np.float64)


def _box_points(points: np.ndarray) -> np.ndarray:
    """The axis-aligned box (x_min, y_min, x_max, y_max) [4] around points [N, 2]."""
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def write_pred_json(path: Path, joints: np.ndarray, verts: np.ndarray) -> None:
    """Write the Codalab layout ``[joints, verts]`` (arrays [N, 21, 3] and [N, V, 3], metres) as
    JSON lists rounded to :data:`PRED_DECIMALS` decimals."""
    rounded = [np.round(array.astype(np.float64), PRED_DECIMALS).tolist() for array in (joints, verts)]
    path.write_text(json.dumps(rounded))


_MIDDLE_MCP, _MIDDLE_PIP = FREIHAND_NAMES.index("middle_mcp"), FREIHAND_NAMES.index("middle_pip")


def bone_scale(joints3d: np.ndarray) -> float:
    """FreiHAND's ``scale``: the middle finger's MCP-PIP length (metres) of joints [21, 3] (FreiHAND order)."""
    return float(np.linalg.norm(joints3d[_MIDDLE_MCP] - joints3d[_MIDDLE_PIP]))


def clamp(value: float, low: float, high: float) -> float:
    """``value`` limited to [low, high]."""
    return float(min(max(value, low), high))


def require_root(root: Path, dataset: str, layout: str) -> None:
    """Raise :class:`DatasetLayoutError` showing ``layout`` when ``root`` is not a folder."""
    if not root.is_dir():
        raise DatasetLayoutError(f"{dataset}: dataset folder {root} not found. Expected layout:\n{layout}")


def require_files(directory: Path, names: list[str], what: str, dataset: str, layout: str) -> int:
    """Raise :class:`AnnotationError` when any of ``names`` is missing from ``directory``.

    The message gives how many are missing, the first few paths and the expected layout.
    Returns the number of entries in ``directory``.
    """
    present = list_files(directory)
    missing = [name for name in names if name not in present]
    if missing:
        shown = "\n".join(f"  {directory / name}" for name in missing[:5])
        more = f"\n  ... and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise AnnotationError(
            f"{dataset}: {len(missing)} of {len(names)} {what} listed by the annotations are missing "
            f"({len(present)} files in {directory}):\n{shown}{more}\nExpected layout:\n{layout}"
        )
    return len(present)
