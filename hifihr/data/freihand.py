"""FreiHAND v2 (``FreiHAND_pub_v2``, with the ``FreiHAND_pub_v2_eval`` ground truth), and the
project's synthetic dataset, which is written in the same layout.

The number of unique samples ``N`` is read from ``<split>_K.json`` (32560 for FreiHAND training,
3960 for its evaluation split, anything for the synthetic data); every other annotation file must
have ``N`` entries and every image the split needs must exist, or construction fails.

Training images come in four versions (``gs`` green screen, ``hom``, ``sample``, ``auto``);
image ``id = uid + N · version_index`` shares the annotations and the mask of ``uid``.
The reference trains on ``gs`` only (the default); ``versions=FREIHAND_VERSIONS`` uses all four,
and dataset index ``i`` then reads version ``versions[i // N]`` of unique sample ``i % N``.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from hifihr.data.base import HandDataset, Record, require_files, require_root
from hifihr.data.io import AnnotationError, DatasetLayoutError, binary_mask, read_channel, read_image, read_json, read_json_array
from hifihr.data.registry import register_dataset
from hifihr.data.transforms import Augmentation, project
from hifihr.hand.joints import ROOT_INDEX

#: The four image versions of a training sample, in file-id order.
FREIHAND_VERSIONS = ("gs", "hom", "sample", "auto")

LAYOUT = """\
  <root>/                                  (FreiHAND_pub_v2, plus FreiHAND_pub_v2_eval for evaluation)
    training_K.json       N x 3 x 3        intrinsics of the 224x224 images
    training_xyz.json     N x 21 x 3       3D keypoints, metres, camera frame, FreiHAND order
    training_verts.json   N x 778 x 3      MANO vertices, metres, camera frame
    training_scale.json   N                middle-finger MCP-PIP length, metres
    training/rgb/%08d.jpg                  N images per version (gs, hom, sample, auto: id = uid + N*version)
    training/mask/%08d.jpg                 N hand masks (optional)
    evaluation_K.json, evaluation_xyz.json, evaluation_verts.json, evaluation_scale.json
    evaluation/rgb/%08d.jpg                (3960 images for FreiHAND)
    evaluation/mask/%08d.jpg or evaluation/segmap/%08d.png   hand masks (optional)
    outputs/freihand-train_openpose_keypoints.json           OpenPose detections, training (optional)
    openpose/evaluation/detect.json                          OpenPose detections, evaluation (optional)"""

#: OpenPose detection files, relative to the root, by split.
OPENPOSE_FILES = {
    "train": "outputs/freihand-train_openpose_keypoints.json",
    "evaluation": "openpose/evaluation/detect.json",
}


def _image_name(file_id: int) -> str:
    return f"{file_id:08d}.jpg"


def _read_jpeg_mask(path: Path) -> np.ndarray:
    """A training mask: grayscale JPEG, hand where the value is at least 128."""
    return binary_mask(read_channel(path), 127.0)


def _read_segmap(path: Path) -> np.ndarray:
    """An evaluation segmentation map: hand wherever any colour channel is not 0 (HiFiHR keeps
    gray > 0.001; a grayscale conversion would round dark label colours to 0)."""
    return binary_mask(read_image(path).max(axis=2), 0.0)


@register_dataset("freihand", "FreiHAND v2: 32560 training samples x 4 image versions, 3960 evaluation samples")
@register_dataset("synthetic", "The project's synthetic hands, written in the FreiHAND v2 layout", num_verts=None)
class FreiHAND(HandDataset):
    """FreiHAND v2 in its official layout (see :data:`LAYOUT`).

    Sample fields: ``image``, ``K``, ``joints3d``, ``joints2d`` (projection of ``joints3d``),
    ``verts3d`` (unless ``verts=False``), ``root`` (middle MCP, ``root_index`` 9), ``scale``,
    ``mask`` (when masks are read), ``openpose2d``/``openpose_conf`` (when detections are read),
    ``index``, ``dataset``.

    Args:
        versions: training image versions to use, from ``FREIHAND_VERSIONS`` (the evaluation
            split has only ``gs``).
        masks: ``True`` requires the masks, ``False`` skips them, ``None`` reads them when the
            mask folder exists. Evaluation masks come from ``evaluation/mask/*.jpg`` (HiFiHR's
            preprocessed files) or else from ``evaluation/segmap/*.png`` (any non-zero colour).
        openpose: the same choice for the OpenPose detections file (:data:`OPENPOSE_FILES`).
        verts: read the 778 MANO vertices (``<split>_verts.json``, ~600 MB for training).
        num_verts: vertices per sample in ``<split>_verts.json`` (778, MANO), or None to take
            the count from the file (the synthetic data stores the open hand's skin).
        Other options: see :class:`~hifihr.data.base.HandDataset`. Default training
        augmentation (the reference's): rotation uniform in ±180° about the image centre.
    """

    name = "freihand"
    default_augmentation = Augmentation(rotation_deg=180.0)

    def __init__(
        self,
        root: str | Path,
        split: str,
        *,
        versions: Sequence[str] = ("gs",),
        masks: bool | None = None,
        openpose: bool | None = None,
        verts: bool = True,
        num_verts: int | None = 778,
        **common,
    ) -> None:
        super().__init__(root, split, **common)
        require_root(self.root, "FreiHAND", LAYOUT)
        versions = tuple(versions)
        unknown = [v for v in versions if v not in FREIHAND_VERSIONS]
        if unknown or not versions or len(set(versions)) != len(versions):
            raise ValueError(f"versions: expected distinct names from {FREIHAND_VERSIONS}, got {versions}")
        if split == "evaluation" and versions != ("gs",):
            raise ValueError(f"versions: the FreiHAND evaluation split has only 'gs' images, got {versions}")
        self.versions = versions
        prefix = "training" if split == "train" else "evaluation"

        K = read_json_array(self._annotation(prefix, "K"), (3, 3), dtype=np.float64)
        self.num_unique = len(K)
        if not self.num_unique:
            raise AnnotationError(f"{self._annotation(prefix, 'K')}: lists no samples")
        self.K = K
        bad = np.flatnonzero((np.abs(K[:, 0, 1]) > 1e-9) | (K[:, 1, 0] != 0) | np.any(K[:, 2] != (0, 0, 1), axis=1))
        if bad.size:
            raise AnnotationError(f"{self._annotation(prefix, 'K')}: entry {bad[0]} is not a pinhole matrix: {K[bad[0]].tolist()}")
        self.xyz = read_json_array(self._annotation(prefix, "xyz"), (21, 3))
        self.scale = read_json_array(self._annotation(prefix, "scale"), ())
        self.verts = None
        if verts:
            self.verts = read_json_array(self._annotation(prefix, "verts"), (num_verts or 1, 3))
            if num_verts is None:
                if len(self.verts) % self.num_unique:
                    raise AnnotationError(
                        f"{self._annotation(prefix, 'verts')}: {len(self.verts)} vertices do not split evenly "
                        f"over the {self.num_unique} samples of {prefix}_K.json"
                    )
                self.verts = self.verts.reshape(self.num_unique, -1, 3)
        counts = {"K": len(K), "xyz": len(self.xyz), "scale": len(self.scale)}
        if self.verts is not None:
            counts["verts"] = len(self.verts)
        if len(set(counts.values())) != 1:
            listing = ", ".join(f"{prefix}_{key}.json: {n}" for key, n in counts.items())
            raise AnnotationError(f"FreiHAND: the annotation files under {self.root} disagree on the number of samples ({listing})")

        file_ids = [uid + self.num_unique * FREIHAND_VERSIONS.index(v) for v in versions for uid in range(self.num_unique)]
        self.image_dir = self.root / prefix / "rgb"
        if not self.image_dir.is_dir():
            raise DatasetLayoutError(f"FreiHAND: image folder {self.image_dir} not found. Expected layout:\n{LAYOUT}")
        on_disk = require_files(self.image_dir, [_image_name(i) for i in file_ids], "images", "FreiHAND", LAYOUT)
        if on_disk not in (self.num_unique, self.num_unique * (len(FREIHAND_VERSIONS) if split == "train" else 1)):
            warnings.warn(
                f"FreiHAND: {self.image_dir} holds {on_disk} files but the annotations describe "
                f"{self.num_unique} samples ({'x4 versions' if split == 'train' else 'one image each'})",
                stacklevel=2,
            )
        self.file_ids = file_ids
        self.mask_reader = self._find_masks(prefix, masks)
        self.openpose = self._read_openpose(openpose)

    def _annotation(self, prefix: str, key: str) -> Path:
        path = self.root / f"{prefix}_{key}.json"
        if not path.is_file():
            release = "FreiHAND_pub_v2_eval.zip" if prefix == "evaluation" and key in ("xyz", "verts") else "FreiHAND_pub_v2.zip"
            raise DatasetLayoutError(f"FreiHAND: {path} not found (it is part of {release}). Expected layout:\n{LAYOUT}")
        return path

    def _find_masks(self, prefix: str, masks: bool | None) -> tuple[Path, str, Callable[[Path], np.ndarray]] | None:
        """(folder, file-name pattern, reader) of the masks, or None."""
        if masks is False:
            return None
        candidates = [(self.root / prefix / "mask", "{:08d}.jpg", _read_jpeg_mask)]
        if prefix == "evaluation":
            candidates.append((self.root / prefix / "segmap", "{:08d}.png", _read_segmap))
        for folder, pattern, reader in candidates:
            if folder.is_dir():
                names = [pattern.format(uid) for uid in range(self.num_unique)]
                require_files(folder, names, "masks", "FreiHAND", LAYOUT)
                return folder, pattern, reader
        if masks:
            tried = " or ".join(str(folder) for folder, _, _ in candidates)
            raise DatasetLayoutError(f"FreiHAND: masks requested but {tried} not found. Expected layout:\n{LAYOUT}")
        return None

    def _read_openpose(self, openpose: bool | None) -> tuple[np.ndarray, np.ndarray] | None:
        """OpenPose detections: ``[peaks N×21×2 (integer pixel x, y), values N×21×1, names]``.

        One entry per unique sample (shared by the four versions) or one per image id.
        Returns (pixels [M, 21, 2] with the +0.5 pixel-centre shift, confidences [M, 21]).
        """
        path = self.root / OPENPOSE_FILES[self.split]
        if openpose is False or (openpose is None and not path.is_file()):
            return None
        if not path.is_file():
            raise DatasetLayoutError(f"FreiHAND: OpenPose detections requested but {path} not found. Expected layout:\n{LAYOUT}")
        data = read_json(path)
        if not isinstance(data, list) or len(data) < 2:
            raise AnnotationError(f"{path}: expected [peaks, values, names], got a {type(data).__name__} of length {len(data) if isinstance(data, list) else '-'}")
        try:
            peaks = np.asarray(data[0], dtype=np.float64).reshape(-1, 21, 2)
            values = np.asarray(data[1], dtype=np.float64).reshape(-1, 21)
        except ValueError as err:
            raise AnnotationError(f"{path}: peaks must be M x 21 x 2 and values M x 21 x 1: {err}") from err
        allowed = {self.num_unique, self.num_unique * len(FREIHAND_VERSIONS)} if self.split == "train" else {self.num_unique}
        if len(peaks) != len(values) or len(peaks) not in allowed:
            raise AnnotationError(
                f"{path}: {len(peaks)} detections and {len(values)} confidences, expected {' or '.join(map(str, sorted(allowed)))} "
                f"(one per sample of the {self.num_unique} in the annotations, or one per image)"
            )
        return peaks + 0.5, values

    def __len__(self) -> int:
        return len(self.file_ids)

    def record(self, index: int) -> Record:
        uid = index % self.num_unique
        file_id = self.file_ids[index]
        K = self.K[uid]
        joints3d = self.xyz[uid].astype(np.float64)
        record = Record(
            image_path=self.image_dir / _image_name(file_id),
            K=K,
            joints3d=joints3d,
            verts3d=None if self.verts is None else self.verts[uid].astype(np.float64),
            joints2d=project(K, joints3d),
            root=joints3d[ROOT_INDEX],
            root_index=ROOT_INDEX,
            scale=float(self.scale[uid]),
        )
        if self.mask_reader is not None:
            folder, pattern, reader = self.mask_reader
            record.mask = functools.partial(reader, folder / pattern.format(uid))
        if self.openpose is not None:
            peaks, values = self.openpose
            row = uid if len(peaks) == self.num_unique else file_id
            record.openpose2d, record.openpose_conf = peaks[row], values[row]
        return record

    def crop_box(self, joints2d, bbox, image_hw):
        """The whole image (FreiHAND images are already hand crops)."""
        height, width = image_hw
        return np.array([width / 2, height / 2]), float(max(height, width))
