"""RHD, the Rendered Hand Pose Dataset (``RHD_published_v2``, 320×320 synthetic images).

Each frame annotates 42 keypoints (left hand 0-20, right hand 21-41, RHD order) in metres in the
camera frame, their pixels and visibility (``uv_vis``), and K. One hand is used per frame:
``hand="auto"`` (the reference) takes the hand with more visible keypoints, on a tie the one
with more mask pixels, on a further tie the right hand. A left hand is mirrored into a right
hand — image, mask, ``u → W − u``, ``X → −X`` — and K follows: ``cx → W − cx`` (see
:func:`hifihr.data.transforms.mirror`).

Crop (the reference's, deterministic for evaluation): centred on the middle MCP,
``size = clamp(3 · max |uv − centre|, 50, 500)`` px, side ``min(size, 224) / 0.85`` (the crop
never shrinks the image: its zoom is at least 1). Drawing the 0.85 from U(0.8, 0.9) is the
default *training* augmentation; evaluation crops use 0.85.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from hifihr.data.base import BadSampleError, HandDataset, Record, bone_scale, clamp, require_files, require_root
from hifihr.data.io import AnnotationError, DatasetLayoutError, read_labels
from hifihr.data.registry import register_dataset
from hifihr.data.transforms import Augmentation
from hifihr.hand.assets import AssetError, load_pickle
from hifihr.hand.joints import ROOT_INDEX, convert, rhd_hand

LAYOUT = """\
  <root>/                                         (RHD_published_v2)
    training/color/%05d.png                       320x320 RGB images
    training/mask/%05d.png                        class labels: 0 background, 1 person,
                                                  2-17 left hand, 18-33 right hand (optional)
    training/anno_training.pickle                 {id: {"xyz": 42x3 m, "uv_vis": 42x3, "K": 3x3}}
    evaluation/color/%05d.png, evaluation/mask/%05d.png, evaluation/anno_evaluation.pickle"""

_SPLIT_DIRS = {"train": "training", "evaluation": "evaluation"}
#: Mask label ranges of each hand (inclusive).
HAND_LABELS = {"left": (2, 17), "right": (18, 33)}


def _hand_mask(labels: np.ndarray, hand: str) -> np.ndarray:
    low, high = HAND_LABELS[hand]
    return ((labels >= low) & (labels <= high)).astype(np.float32)


def _read_hand_mask(path: Path, hand: str) -> np.ndarray:
    return _hand_mask(read_labels(path), hand)


@register_dataset("rhd", "RHD: 41258 training and 2728 evaluation synthetic frames, 42 keypoints")
class RHD(HandDataset):
    """RHD in its official layout (see :data:`LAYOUT`).

    Sample fields: ``image``, ``K``, ``joints3d``, ``joints2d`` (RHD's stored pixels),
    ``joints_visible``, ``root`` (middle MCP, ``root_index`` 9), ``scale``, ``mirrored`` (True
    when a left hand was mirrored), ``mask`` (when read), ``index``, ``dataset``.

    Args:
        hand: ``"auto"`` (more visible keypoints, see the module docstring), ``"left"`` or
            ``"right"``.
        masks: ``True`` requires the mask images, ``False`` skips them, ``None`` reads them when
            the ``mask`` folder exists. ``hand="auto"`` reads the label image on visibility ties
            whatever this says.
        Other options: see :class:`~hifihr.data.base.HandDataset`. Default training
        augmentation (the reference's): crop zoom × U(0.8, 0.9)/0.85.
    """

    name = "rhd"
    mirrors = True
    default_augmentation = Augmentation(scale_range=(0.8 / 0.85, 0.9 / 0.85))
    #: The reference's crop: box = factor × extent, clamped (px); largest side before 1/0.85.
    extent_factor, min_size, max_size, max_side, crop_factor = 3.0, 50.0, 500.0, 224.0, 0.85

    def __init__(self, root: str | Path, split: str, *, hand: str = "auto", masks: bool | None = None, **common) -> None:
        super().__init__(root, split, **common)
        if hand not in ("auto", "left", "right"):
            raise ValueError(f"hand: expected 'auto', 'left' or 'right', got {hand!r}")
        self.hand = hand
        require_root(self.root, "RHD", LAYOUT)
        split_dir = self.root / _SPLIT_DIRS[split]
        anno_path = split_dir / f"anno_{_SPLIT_DIRS[split]}.pickle"
        if not anno_path.is_file():
            raise DatasetLayoutError(f"RHD: annotation file {anno_path} not found. Expected layout:\n{LAYOUT}")
        try:
            annotations = load_pickle(anno_path)
        except AssetError as err:
            raise AnnotationError(str(err)) from err
        if not isinstance(annotations, dict) or not annotations:
            raise AnnotationError(f"{anno_path}: expected a non-empty dict {{sample id: annotation}}, got {type(annotations).__name__}")
        self.ids = sorted(int(key) for key in annotations)
        xyz, uv_vis, K = [], [], []
        for sample_id in self.ids:
            entry = annotations[sample_id]
            try:
                arrays = [np.asarray(entry[key], dtype=np.float64) for key in ("xyz", "uv_vis", "K")]
            except (KeyError, TypeError, ValueError) as err:
                raise AnnotationError(f"{anno_path}: sample {sample_id}: expected keys xyz, uv_vis, K: {err!r}") from err
            for key, array, shape in zip(("xyz", "uv_vis", "K"), arrays, ((42, 3), (42, 3), (3, 3))):
                if array.shape != shape:
                    raise AnnotationError(f"{anno_path}: sample {sample_id}: {key}: expected {shape}, got {array.shape}")
            if arrays[2][0, 1] != 0 or arrays[2][1, 0] != 0 or np.any(arrays[2][2] != (0, 0, 1)):
                raise AnnotationError(f"{anno_path}: sample {sample_id}: K is not a pinhole matrix: {arrays[2].tolist()}")
            xyz.append(arrays[0]), uv_vis.append(arrays[1]), K.append(arrays[2])
        self.xyz, self.uv_vis, self.K = np.stack(xyz), np.stack(uv_vis), np.stack(K)
        self.visible_counts = {
            side: (rhd_hand(self.uv_vis, side)[:, :, 2] == 1).sum(axis=1) for side in ("left", "right")
        }

        self.color_dir = split_dir / "color"
        if not self.color_dir.is_dir():
            raise DatasetLayoutError(f"RHD: image folder {self.color_dir} not found. Expected layout:\n{LAYOUT}")
        names = [f"{sample_id:05d}.png" for sample_id in self.ids]
        require_files(self.color_dir, names, "images", "RHD", LAYOUT)
        self.mask_dir = split_dir / "mask"
        if masks is False or (masks is None and not self.mask_dir.is_dir()):
            self.read_masks = False
        else:
            require_files(self.mask_dir, names, "masks", "RHD", LAYOUT)
            self.read_masks = True
        if hand == "auto" and not self.mask_dir.is_dir():
            ties = np.flatnonzero(self.visible_counts["left"] == self.visible_counts["right"])
            if ties.size:
                raise DatasetLayoutError(
                    f"RHD: hand='auto' needs {self.mask_dir} to break {ties.size} visibility ties "
                    f"(first: sample {self.ids[ties[0]]}); pass hand='left' or 'right' or add the masks"
                )

    def __len__(self) -> int:
        return len(self.ids)

    def choose_hand(self, index: int) -> str:
        """The hand sample ``index`` uses ("left" or "right"), as the module docstring says."""
        if self.hand != "auto":
            return self.hand
        left, right = self.visible_counts["left"][index], self.visible_counts["right"][index]
        if left != right:
            return "left" if left > right else "right"
        labels = read_labels(self.mask_dir / f"{self.ids[index]:05d}.png")
        return "left" if _hand_mask(labels, "left").sum() > _hand_mask(labels, "right").sum() else "right"

    def record(self, index: int) -> Record:
        try:
            hand = self.choose_hand(index)
        except OSError as err:
            raise BadSampleError(str(err)) from err
        uv_vis = convert(rhd_hand(self.uv_vis[index], hand), "rhd", "freihand")
        joints3d = convert(rhd_hand(self.xyz[index], hand), "rhd", "freihand")
        record = Record(
            image_path=self.color_dir / f"{self.ids[index]:05d}.png",
            K=self.K[index],
            joints3d=joints3d,
            joints2d=uv_vis[:, :2],
            joints_visible=(uv_vis[:, 2] == 1).astype(np.float32),
            root=joints3d[ROOT_INDEX],
            root_index=ROOT_INDEX,
            scale=bone_scale(joints3d),
            mirror=hand == "left",  # the view mirrors image, mask, 2D, 3D and K together
        )
        if self.read_masks:
            record.mask = functools.partial(_read_hand_mask, self.mask_dir / f"{self.ids[index]:05d}.png", hand)
        return record

    def crop_box(self, joints2d, bbox, image_hw):
        """Centred on the middle MCP, see the module docstring."""
        center = joints2d[ROOT_INDEX]
        size = clamp(self.extent_factor * float(np.abs(joints2d - center).max()), self.min_size, self.max_size)
        return center, min(size, self.max_side) / self.crop_factor
