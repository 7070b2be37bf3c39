"""Detections as weak labels: run a detector over a dataset or a folder of photos, and measure
how well detections agree with ground-truth 2D keypoints.

A dataset sample's annotated hand is the detection nearest to the centre of the sample's
deterministic crop (within half the crop side); that hand's keypoints, in source-image pixels,
become the sample's ``openpose2d`` when the dataset is built with ``keypoints_file``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np

from hifihr.data.base import BadSampleError, HandDataset
from hifihr.data.io import ImageReadError, iter_video_frames, read_image, read_video_frame
from hifihr.data.transforms import AugmentParams, apply_affine
from hifihr.detect.detection import HandDetection, box_from_keypoints, nearest_detection
from hifihr.detect.records import ImageDetections

Detector = Callable[[np.ndarray], list[HandDetection]]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


def crop_centre(dataset: HandDataset, record, image_hw: tuple[int, int]) -> tuple[np.ndarray, float]:
    """(centre [2], side) of a sample's deterministic crop in source-image pixels (the view's
    affine includes a record's mirror, so its inverse lands in the unmirrored source)."""
    view = dataset.view(record, image_hw, AugmentParams())
    inverse = np.linalg.inv(view.affine)
    half = dataset.image_size / 2
    centre = apply_affine(inverse, np.array([[half, half]]))[0]
    side = dataset.image_size * float(np.sqrt(abs(np.linalg.det(inverse[:2, :2]))))
    return centre, side


def detect_dataset(
    dataset: HandDataset,
    detector: Detector,
    progress: Optional[Callable[[int], None]] = None,
    limit: Optional[int] = None,
) -> tuple[list[ImageDetections], float]:
    """Detect hands in every sample's source image (the first ``limit`` samples if given).

    Returns:
        one :class:`ImageDetections` per sample (``match`` = the annotated hand or None; an
        unreadable sample carries ``error``), and the detector's total time in seconds.
    """
    entries, seconds = [], 0.0
    count = len(dataset) if limit is None else min(limit, len(dataset))
    for index in range(count):
        try:
            record, image, _ = dataset.read(index)
        except BadSampleError as err:
            entries.append(ImageDetections(image="", size=(0, 0), sample=index, error=str(err)))
            if progress is not None:
                progress(index)
            continue
        height, width = image.shape[:2]
        start = time.perf_counter()
        hands = detector(image)
        seconds += time.perf_counter() - start
        centre, side = crop_centre(dataset, record, (height, width))
        chosen = nearest_detection(hands, centre, side / 2)
        entries.append(
            ImageDetections(
                image=str(Path(record.image_path).relative_to(dataset.root)) if Path(record.image_path).is_relative_to(dataset.root) else str(record.image_path),
                size=(width, height),
                hands=hands,
                sample=index,
                match=None if chosen is None else hands.index(chosen),
            )
        )
        if progress is not None:
            progress(index)
    return entries, seconds


def list_media(folder: Path) -> list[Path]:
    """Image and video files directly in ``folder``, sorted by name.

    Raises:
        FileNotFoundError: ``folder`` is not a folder or holds no image or video.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) or videos ({', '.join(VIDEO_SUFFIXES)}) in this folder")
    return files


def iter_media(folder: Path, every: int = 1) -> Iterator[tuple[str, Optional[int], np.ndarray | ImageReadError]]:
    """(file name, frame index or None, image [H, W, 3] uint8 RGB or the read error) for every
    image of ``folder`` and every ``every``-th frame of each video in it."""
    if every < 1:
        raise ValueError(f"every: expected at least 1, got {every}")
    for path in list_media(folder):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            try:
                yield path.name, None, read_image(path)
            except ImageReadError as err:
                yield path.name, None, err
            continue
        try:
            for index, frame in iter_video_frames(path, every):
                yield path.name, index, frame
        except ImageReadError as err:
            yield path.name, 0, err


def detect_folder(
    folder: Path, detector: Detector, every: int = 1, progress: Optional[Callable[[str], None]] = None
) -> tuple[list[ImageDetections], float]:
    """Detect hands in every image and video frame of ``folder`` (see :func:`iter_media`); an
    unreadable file gets an entry with ``error`` and the others go on.

    Returns:
        the entries and the detector's total time in seconds.
    """
    entries, seconds = [], 0.0
    for name, frame, image in iter_media(folder, every):
        if isinstance(image, ImageReadError):
            entries.append(ImageDetections(image=name, size=(0, 0), frame=frame, error=str(image)))
        else:
            start = time.perf_counter()
            hands = detector(image)
            seconds += time.perf_counter() - start
            entries.append(ImageDetections(image=name, size=(image.shape[1], image.shape[0]), frame=frame, hands=hands))
        if progress is not None:
            progress(name)
    return entries, seconds


def keypoint_agreement(
    detected: Sequence[Optional[np.ndarray]], truth: np.ndarray, visible: Optional[np.ndarray] = None
) -> dict[str, float]:
    """How detected keypoints agree with ground truth.

    Args:
        detected: per sample, [21, 2] pixels or None (no detection).
        truth: [N, 21, 2] ground-truth pixels, same frame.
        visible: [N, 21] {0, 1}: which ground-truth keypoints are annotated (default: all);
            the others count neither in the errors nor in the box.

    Returns:
        ``num``, ``detected``, ``detection_rate``; over the annotated keypoints of detected
        samples: ``median_px`` and ``mean_px`` (Euclidean error), ``median_box_frac`` (error /
        diagonal of the ground truth's tight keypoint box), ``pck_10pct`` (fraction of keypoints
        within 0.1 of that diagonal). NaN where no sample was detected.
    """
    truth = np.asarray(truth, dtype=np.float64)
    if truth.ndim != 3 or truth.shape[1:] != (21, 2) or len(detected) != len(truth):
        raise ValueError(f"truth: expected [N, 21, 2] for {len(detected)} detections, got {truth.shape}")
    visible = np.ones(truth.shape[:2], dtype=bool) if visible is None else np.asarray(visible, dtype=bool)
    if visible.shape != truth.shape[:2]:
        raise ValueError(f"visible: expected {truth.shape[:2]}, got {visible.shape}")
    errors, fractions = [], []
    for points, gt, seen in zip(detected, truth, visible):
        if points is None:
            continue
        box = box_from_keypoints(gt[seen])
        diagonal = float(np.linalg.norm(box[2:] - box[:2]))
        error = np.linalg.norm(np.asarray(points, dtype=np.float64)[seen] - gt[seen], axis=1)
        errors.append(error)
        fractions.append(error / diagonal)
    found = len(errors)
    nan = float("nan")
    errors_all = np.concatenate(errors) if errors else np.array([])
    fractions_all = np.concatenate(fractions) if fractions else np.array([])
    return {
        "num": len(truth),
        "detected": found,
        "detection_rate": found / len(truth) if len(truth) else nan,
        "median_px": float(np.median(errors_all)) if found else nan,
        "mean_px": float(errors_all.mean()) if found else nan,
        "median_box_frac": float(np.median(fractions_all)) if found else nan,
        "pck_10pct": float((fractions_all <= 0.1).mean()) if found else nan,
    }


def dataset_agreement(dataset: HandDataset, entries: Sequence[ImageDetections]) -> Optional[dict[str, float]]:
    """:func:`keypoint_agreement` of the matched hands of ``entries`` (from
    :func:`detect_dataset`) with the dataset's ground-truth 2D keypoints (source pixels);
    None when the dataset has none. Unreadable samples are left out."""
    detected, truth = [], []
    for entry in entries:
        if entry.error is not None:
            continue
        record = dataset.record(entry.sample)
        if record.joints2d is None:
            return None
        truth.append(record.joints2d)  # source pixels, as the detections (mirroring comes later)
        detected.append(None if entry.match is None else entry.hands[entry.match].keypoints2d)
    if not truth:
        return None
    return keypoint_agreement(detected, np.stack(truth))


def evaluate_annotated(
    folder: Path, annotations: dict, detector: Detector
) -> tuple[dict[str, float], list[dict]]:
    """Detections against annotated photos.

    Args:
        folder: the images' folder.
        annotations: ``{"<path relative to folder>": [{"uv": [21, 2] pixels (FreiHAND order),
            "visible": [21] {0, 1} (optional), "side": "left" | "right" (optional)}, ...], ...}``;
            keys starting with ``_`` are comments.
        detector: image [H, W, 3] uint8 RGB -> hands.

    Annotated hands and detections are paired one to one, closest pairs first, by the distance
    between the detection's box centre and the annotated keypoints' box centre (at most that
    box's diagonal).

    Returns:
        the :func:`keypoint_agreement` over all annotated hands, plus ``images``,
        ``ms_per_image`` (detector only), ``handedness_correct`` / ``handedness_known`` (matched
        hands with a known side); and one row per annotated hand (image, side, detected,
        median_px, median_box_frac, handedness).
    """
    detected, truth, visibility, rows, seconds = [], [], [], [], 0.0
    handedness_known = handedness_correct = 0
    names = sorted(k for k in annotations if not k.startswith("_"))
    for name in names:
        image = read_image(folder / name)
        start = time.perf_counter()
        hands = detector(image)
        seconds += time.perf_counter() - start
        uvs = [np.asarray(hand["uv"], dtype=np.float64) for hand in annotations[name]]
        seen = [np.asarray(hand.get("visible", [1] * 21), dtype=bool) for hand in annotations[name]]
        boxes = [box_from_keypoints(uv[v]) for uv, v in zip(uvs, seen)]
        pairs = sorted(
            (float(np.linalg.norm((d.box[:2] + d.box[2:]) / 2 - (b[:2] + b[2:]) / 2)), a, j)
            for a, b in enumerate(boxes)
            for j, d in enumerate(hands)
        )
        matches: dict[int, HandDetection] = {}
        used: set[int] = set()
        for distance, a, j in pairs:
            if a not in matches and j not in used and distance <= np.linalg.norm(boxes[a][2:] - boxes[a][:2]):
                matches[a] = hands[j]
                used.add(j)
        for a, (hand, uv, box, v) in enumerate(zip(annotations[name], uvs, boxes, seen)):
            diagonal = float(np.linalg.norm(box[2:] - box[:2]))
            match = matches.get(a)
            row = {"image": name, "side": hand.get("side"), "detected": match is not None}
            if match is not None:
                error = np.linalg.norm(match.keypoints2d[v] - uv[v], axis=1)
                row.update(median_px=float(np.median(error)), median_box_frac=float(np.median(error) / diagonal), handedness=match.handedness)
                if hand.get("side") is not None:
                    handedness_known += 1
                    handedness_correct += match.handedness == hand["side"]
            rows.append(row)
            detected.append(None if match is None else match.keypoints2d)
            truth.append(uv)
            visibility.append(v)
    summary = keypoint_agreement(detected, np.stack(truth), np.stack(visibility))
    summary.update(
        images=len(names),
        ms_per_image=1000 * seconds / max(len(names), 1),
        handedness_known=handedness_known,
        handedness_correct=handedness_correct,
    )
    return summary, rows
