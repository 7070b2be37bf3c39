"""HO-3D v2 and v3 (hands manipulating objects, 640×480 RGB), in the official layout.

HO-3D stores 3D points in the **OpenGL** camera frame (y up, the hand at negative z);
:func:`opengl_to_opencv` is the one place where they become OpenCV points (``diag(1, −1, −1)``).
Joints come in HO-3D order (MANO's 16 joints then the 5 tips) and are converted to FreiHAND
order with :func:`hifihr.hand.joints.convert`.

The training split has 21 joints per frame; the evaluation split only the wrist
(``handJoints3D`` of shape (3,)) and ``handBoundingBox``, so its samples carry ``root`` (the
wrist, ``root_index`` 0) and ``bbox`` but no ``joints3d``/``joints2d``.

Crop (the reference's, made deterministic for evaluation): the square around the projected
joints (training) or the box corners (evaluation), ``half`` = the largest distance from the
centre of their min/max to the min/max widened by 10 px and clipped to the image,
``size = clamp(4·half, 50, max(H, W))``, side ``size / 0.85``. Drawing the 0.85 from
U(0.8, 0.9) and adding N(0, 5²) px to the centre is the default *training* augmentation;
evaluation crops are deterministic.
"""

from __future__ import annotations

import functools
import zipfile
from pathlib import Path

import numpy as np
from torch import Tensor

from hifihr.data.base import BadSampleError, HandDataset, Record, bone_scale, clamp, require_files, require_root, write_pred_json
from hifihr.data.io import AnnotationError, DatasetLayoutError, binary_mask, list_files, read_channel, read_json
from hifihr.data.registry import register_dataset
from hifihr.data.transforms import Augmentation, project
from hifihr.hand.assets import get_key, load_pickle
from hifihr.hand.joints import ROOT_INDEX, WRIST_INDEX, convert

LAYOUT = """\
  <root>/                                   (HO3D_v2 or HO3D_v3)
    train.txt, evaluation.txt               one "SEQ/FRAME" per line (e.g. "ABF10/0000")
    train/<SEQ>/rgb/<FRAME>.png|.jpg         640x480 images (v2: png, v3: jpg)
    train/<SEQ>/meta/<FRAME>.pkl             camMat, handJoints3D (21x3, OpenGL, HO-3D order), ...
    train/<SEQ>/seg/<FRAME>.jpg|.png         hand segmentation, red channel = hand (optional;
                                             v3 may use segr/<FRAME>.png)
    evaluation/<SEQ>/rgb/<FRAME>.png|.jpg
    evaluation/<SEQ>/meta/<FRAME>.pkl        camMat, handJoints3D (wrist only), handBoundingBox
    openpose/<SEQ>/detect.json               OpenPose detections [xy, conf] by frame number (optional)"""

_SPLIT_DIRS = {"train": "train", "evaluation": "evaluation"}
_SEG_CANDIDATES = (("seg", ".jpg"), ("seg", ".png"), ("segr", ".png"))
_OPENGL_TO_OPENCV = np.array([1.0, -1.0, -1.0])


def opengl_to_opencv(points: np.ndarray) -> np.ndarray:
    """HO-3D's OpenGL camera frame (x right, y up, z backwards) -> OpenCV (x right, y down, z
    forward): ``diag(1, −1, −1)``, its own inverse. points [..., 3] in metres."""
    return np.asarray(points, dtype=np.float64) * _OPENGL_TO_OPENCV


def keypoint_half_extent(points: np.ndarray, margin: float, image_hw: tuple[int, int]) -> tuple[np.ndarray, float]:
    """HO-3D's crop extent around points [N, 2] (pixels): the centre [2] of their min/max, and the
    largest distance (pixels) from that centre to the min/max widened by ``margin`` pixels and
    clipped to the image of size ``image_hw`` (height, width)."""
    height, width = image_hw
    low, high = points.min(axis=0), points.max(axis=0)
    center = (low + high) / 2
    limit = np.array([width, height], dtype=np.float64)
    low = np.clip(low - margin, 0, limit)
    high = np.clip(high + margin, 0, limit)
    half = float(max((high - center).max(), (center - low).max()))
    return center, half


def _read_seg(path: Path) -> np.ndarray:
    """Hand mask from a HO-3D segmentation image: red channel above 127 (blue is the object)."""
    return binary_mask(read_channel(path, channel=0), 127.0)


def _pinhole(K: np.ndarray, path: Path) -> np.ndarray:
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or K[0, 1] != 0 or K[1, 0] != 0 or np.any(K[2] != (0, 0, 1)):
        raise BadSampleError(f"{path}: camMat is not a pinhole matrix: {K.tolist()}")
    return K


@register_dataset("ho3d_v2", "HO-3D v2: 66034 training frames, 11524 evaluation frames", version="v2")
@register_dataset("ho3d_v3", "HO-3D v3: 78297 training frames, 20137 evaluation frames", version="v3")
class HO3D(HandDataset):
    """HO-3D in its official layout (see :data:`LAYOUT`).

    Sample fields, training: ``image``, ``K``, ``joints3d``, ``joints2d`` (projection of
    ``joints3d``), ``root`` (middle MCP, ``root_index`` 9), ``scale``; evaluation: ``image``,
    ``K``, ``root`` (the wrist, ``root_index`` 0), ``bbox``; both: ``mask`` and
    ``openpose2d``/``openpose_conf`` when read, ``index``, ``dataset``.

    Args:
        version: ``"v2"`` or ``"v3"``; images are looked up as ``.png`` first for v2 and ``.jpg``
            first for v3 (the toolkit tries both).
        masks: ``True`` requires segmentation images for every frame, ``False`` skips them,
            ``None`` reads them when every sequence of the split has a ``seg``/``segr`` folder.
        openpose: ``True``/``False``/``None`` (read when ``openpose/`` exists), for the
            detections in ``openpose/<SEQ>/detect.json``.
        Other options: see :class:`~hifihr.data.base.HandDataset`. Default training
        augmentation (the reference's): crop zoom × U(0.8, 0.9)/0.85, centre shift N(0, 5²) px.
    """

    name = "ho3d"
    default_augmentation = Augmentation(scale_range=(0.8 / 0.85, 0.9 / 0.85), translation_std_px=5.0)
    #: The reference's crop: margin around the keypoints (px), box scale, minimum side (px).
    margin_px, crop_factor, min_size = 10.0, 0.85, 50.0
    #: Texture is scored inside the rendered silhouette, whether or not the split has masks (as
    #: the reference's HO-3D evaluation).
    texture_in_gt_mask = False

    def __init__(
        self,
        root: str | Path,
        split: str,
        *,
        version: str = "v2",
        masks: bool | None = None,
        openpose: bool | None = None,
        **common,
    ) -> None:
        super().__init__(root, split, **common)
        if version not in ("v2", "v3"):
            raise ValueError(f"version: expected 'v2' or 'v3', got {version!r}")
        self.version = version
        require_root(self.root, f"HO-3D {version}", LAYOUT)
        list_path = self.root / f"{_SPLIT_DIRS[split]}.txt"
        if not list_path.is_file():
            raise DatasetLayoutError(f"HO-3D: {list_path} not found. Expected layout:\n{LAYOUT}")
        self.frames: list[tuple[str, str]] = []
        for number, line in enumerate(list_path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.strip().split("/")
            if len(parts) != 2 or not all(parts):
                raise AnnotationError(f"{list_path}:{number}: expected 'SEQ/FRAME', got {line!r}")
            self.frames.append((parts[0], parts[1]))
        if not self.frames:
            raise AnnotationError(f"{list_path}: lists no frames")
        self.split_dir = self.root / _SPLIT_DIRS[split]

        by_sequence: dict[str, list[str]] = {}
        for seq, frame in self.frames:
            by_sequence.setdefault(seq, []).append(frame)
        extensions = (".png", ".jpg") if version == "v2" else (".jpg", ".png")
        self.image_ext: dict[str, str] = {}
        self.seg: dict[str, tuple[str, str]] = {}
        for seq, frames in by_sequence.items():
            seq_dir = self.split_dir / seq
            if not seq_dir.is_dir():
                raise DatasetLayoutError(f"HO-3D: sequence folder {seq_dir} (listed in {list_path.name}) not found. Expected layout:\n{LAYOUT}")
            images = list_files(seq_dir / "rgb")
            ext = next((e for e in extensions if f"{frames[0]}{e}" in images), extensions[0])
            self.image_ext[seq] = ext
            require_files(seq_dir / "rgb", [f"{f}{ext}" for f in frames], "images", "HO-3D", LAYOUT)
            require_files(seq_dir / "meta", [f"{f}.pkl" for f in frames], "meta files", "HO-3D", LAYOUT)
            if masks is not False:
                for folder, seg_ext in _SEG_CANDIDATES:
                    if f"{frames[0]}{seg_ext}" in list_files(seq_dir / folder):
                        require_files(seq_dir / folder, [f"{f}{seg_ext}" for f in frames], "segmentation images", "HO-3D", LAYOUT)
                        self.seg[seq] = (folder, seg_ext)
                        break
        without_seg = sorted(set(by_sequence) - set(self.seg))
        if masks is not False and without_seg:
            if masks:
                raise DatasetLayoutError(
                    f"HO-3D: masks requested but {len(without_seg)} sequences have no seg/ or segr/ folder "
                    f"(first: {self.split_dir / without_seg[0]}). Expected layout:\n{LAYOUT}"
                )
            self.seg = {}  # masks=None: only when every sequence has them
        self.openpose = self._read_openpose(openpose, by_sequence)

    def _read_openpose(self, openpose: bool | None, by_sequence: dict[str, list[str]]) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
        """Per sequence: (pixels [F, 21, 2] with the +0.5 pixel-centre shift, confidences [F, 21]),
        indexed by the integer frame number."""
        folder = self.root / "openpose"
        if openpose is False or (openpose is None and not folder.is_dir()):
            return None
        detections: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for seq, frames in by_sequence.items():
            path = folder / seq / "detect.json"
            if not path.is_file():
                raise DatasetLayoutError(f"HO-3D: OpenPose detections {path} not found. Expected layout:\n{LAYOUT}")
            data = read_json(path)
            try:
                peaks = np.asarray(data[0], dtype=np.float64).reshape(-1, 21, 2)  # type: ignore[index]
                values = np.asarray(data[1], dtype=np.float64).reshape(-1, 21)  # type: ignore[index]
            except (ValueError, TypeError, IndexError, KeyError) as err:
                raise AnnotationError(f"{path}: expected [xy F x 21 x 2, conf F x 21 (x 1)]: {err}") from err
            last = max(int(frame) for frame in frames)
            if len(peaks) != len(values) or len(peaks) <= last:
                raise AnnotationError(f"{path}: {len(peaks)} detections, {len(values)} confidences; frame {last} is listed")
            detections[seq] = (peaks + 0.5, values)
        return detections

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def texture_confidence(cls, openpose_conf: Tensor) -> Tensor:
        """Per-sample confidence t [N]: the mean of the keypoint confidences [N, 21], ungated."""
        return openpose_conf.mean(-1)

    @classmethod
    def write_predictions(cls, directory: Path, joints: np.ndarray, verts: np.ndarray) -> list[str]:
        """Write HO-3D's Codalab files: ``pred.json`` (``[xyz_list, verts_list]``, HO-3D joint
        order, OpenGL frame for joints *and* vertices, ``evaluation.txt`` order) and ``pred.zip``
        holding it, ready to upload; return their names. Arguments as
        :meth:`HandDataset.write_predictions` (OpenCV frame, FreiHAND order).
        """
        directory.mkdir(parents=True, exist_ok=True)
        # The flip is its own inverse.
        write_pred_json(directory / "pred.json", opengl_to_opencv(convert(joints, "freihand", "ho3d")), opengl_to_opencv(verts))
        with zipfile.ZipFile(directory / "pred.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(directory / "pred.json", arcname="pred.json")
        return ["pred.json", "pred.zip"]

    def record(self, index: int) -> Record:
        seq, frame = self.frames[index]
        seq_dir = self.split_dir / seq
        meta_path = seq_dir / "meta" / f"{frame}.pkl"
        meta = load_pickle(meta_path)
        K = _pinhole(get_key(meta, "camMat", meta_path), meta_path)
        joints = get_key(meta, "handJoints3D", meta_path)
        if joints is None:
            raise BadSampleError(f"{meta_path}: handJoints3D is None (frame without a hand annotation)")
        joints = np.asarray(joints, dtype=np.float64)
        record = Record(image_path=seq_dir / "rgb" / f"{frame}{self.image_ext[seq]}", K=K)
        if self.split == "train":
            if joints.shape != (21, 3):
                raise BadSampleError(f"{meta_path}: handJoints3D: expected (21, 3), got {joints.shape}")
            joints3d = convert(opengl_to_opencv(joints), "ho3d", "freihand")
            record.joints3d = joints3d
            record.joints2d = project(K, joints3d)
            record.root, record.root_index = joints3d[ROOT_INDEX], ROOT_INDEX
            record.scale = bone_scale(joints3d)
        else:
            if joints.shape != (3,):
                raise BadSampleError(f"{meta_path}: handJoints3D of an evaluation frame: expected the wrist (3,), got {joints.shape}")
            box = np.asarray(get_key(meta, "handBoundingBox", meta_path), dtype=np.float64)
            if box.shape != (4,):
                raise BadSampleError(f"{meta_path}: handBoundingBox: expected [x_min, y_min, x_max, y_max], got shape {box.shape}")
            record.root, record.root_index = opengl_to_opencv(joints), WRIST_INDEX
            record.bbox = box
        if seq in self.seg:
            folder, ext = self.seg[seq]
            record.mask = functools.partial(_read_seg, seq_dir / folder / f"{frame}{ext}")
        if self.openpose is not None:
            peaks, values = self.openpose[seq]
            record.openpose2d, record.openpose_conf = peaks[int(frame)], values[int(frame)]
        return record

    def crop_box(self, joints2d, bbox, image_hw):
        """Keypoint box (training) or bounding-box box (evaluation), see the module docstring."""
        points = joints2d if joints2d is not None else bbox.reshape(2, 2)
        center, half = keypoint_half_extent(points, self.margin_px, image_hw)
        size = clamp(4.0 * half, self.min_size, float(max(image_hw)))
        return center, size / self.crop_factor
