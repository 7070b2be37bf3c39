"""The hand detector component: geometry, the model bundle, the detections file, running over
folders and datasets, agreement metrics; MediaPipe itself where installed."""

from __future__ import annotations

import hashlib
import json
import zipfile

import cv2
import numpy as np
import pytest

from helpers import detector_or_skip, real_photos_or_skip
from hifihr.data import build_dataset
from hifihr.data.synthetic import generate
from hifihr.data.transforms import project
from hifihr.detect import (
    CropError,
    DetectionsFile,
    DetectionsFileError,
    DetectorModelError,
    HandDetection,
    ImageDetections,
    box_from_keypoints,
    box_iou,
    detection_from_json,
    estimated_camera,
    mirror_box,
    nearest_detection,
    read_detections,
    sample_keypoints,
    square_crop,
    write_detections,
)
from hifihr.detect import model as model_files
from hifihr.detect.labels import dataset_agreement, detect_dataset, detect_folder, keypoint_agreement


def _hand(keypoints, side="right", score=0.8):
    keypoints = np.asarray(keypoints, dtype=np.float64)
    return HandDetection(box_from_keypoints(keypoints), side, score, keypoints, np.full(21, score))


# ----------------------------------------------------------------------------- geometry
def test_boxes_crops_and_cameras_by_hand():
    points = np.array([[10.0, 20.0], [30.0, 5.0], [25.0, 40.0]] + [[20.0, 20.0]] * 18)
    assert box_from_keypoints(points).tolist() == [10.0, 5.0, 30.0, 40.0]
    centre, side = square_crop((100, 50, 200, 250), 640, 480, 1.5)  # the docstring's example
    assert centre.tolist() == [150.0, 150.0] and side == 300.0
    centre, side = square_crop(None, 640, 480, 1.5)  # central square
    assert centre.tolist() == [320.0, 240.0] and side == 480.0
    with pytest.raises(CropError, match="x0 < x1"):
        square_crop((5, 5, 5, 10), 64, 64, 1.0)
    with pytest.raises(CropError, match="outside the 64x64 image"):
        square_crop((70, 0, 80, 10), 64, 64, 1.0)
    K = estimated_camera(640, 480, focal_factor=1.5)
    assert K.tolist() == [[960.0, 0.0, 320.0], [0.0, 960.0, 240.0], [0.0, 0.0, 1.0]]
    assert estimated_camera(640, 480, intrinsics=(500, 510, 300, 200))[:2].tolist() == [[500.0, 0.0, 300.0], [0.0, 510.0, 200.0]]
    assert mirror_box((10, 20, 30, 40), 100) == (70.0, 20.0, 90.0, 40.0)
    assert box_iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7) and box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


def test_nearest_detection_picks_the_annotated_hand():
    base = np.random.default_rng(0).uniform(0, 20, size=(21, 2))
    left, right = _hand(base + [10, 50], "left"), _hand(base + [100, 50])
    assert nearest_detection([left, right], np.array([110.0, 60.0]), 30.0) is right
    assert nearest_detection([left, right], np.array([20.0, 60.0]), 30.0) is left
    assert nearest_detection([left, right], np.array([60.0, 200.0]), 30.0) is None
    assert nearest_detection([], np.array([0.0, 0.0]), 1e9) is None


def test_detection_validation_and_json_round_trip():
    with pytest.raises(ValueError, match="handedness"):
        HandDetection(np.zeros(4), "both", 1.0, np.zeros((21, 2)), np.zeros(21))
    with pytest.raises(ValueError, match=r"keypoints2d: expected \[21, 2\]"):
        HandDetection(np.zeros(4), "left", 1.0, np.zeros((20, 2)), np.zeros(21))
    hand = _hand(np.random.default_rng(1).uniform(0, 50, (21, 2)), "left", 0.73)
    hand = HandDetection(hand.box, hand.handedness, hand.score, hand.keypoints2d, hand.confidence, np.full((21, 3), 0.01))
    back = detection_from_json(json.loads(json.dumps(hand.to_json())))
    assert back.handedness == "left" and back.left and back.score == pytest.approx(0.73)
    assert np.allclose(back.keypoints2d, hand.keypoints2d, atol=1e-3) and np.allclose(back.world_landmarks, 0.01)
    with pytest.raises(ValueError, match=r"here: missing key\(s\) \['confidence'\]"):
        detection_from_json({k: v for k, v in hand.to_json().items() if k != "confidence"}, "here")


# ----------------------------------------------------------------------------- model file
def _fake_wheel(path, contents):
    with zipfile.ZipFile(path, "w") as wheel:
        for member, data in zip(model_files.MEMBERS, contents):
            wheel.writestr(member.wheel_path, data)
    return path


def test_build_task_checks_the_pinned_sums(tmp_path, monkeypatch):
    with pytest.raises(DetectorModelError, match="expected 2339846 bytes and 1b14e942"):
        model_files.build_task(_fake_wheel(tmp_path / "bad.whl", [b"a", b"b"]), tmp_path / "x.task")
    assert not (tmp_path / "x.task").exists()
    with zipfile.ZipFile(tmp_path / "empty.whl", "w") as wheel:
        wheel.writestr("mediapipe/__init__.py", "")
    with pytest.raises(DetectorModelError, match="has no mediapipe/modules/palm_detection"):
        model_files.build_task(tmp_path / "empty.whl", tmp_path / "x.task")
    # With sums pinned to stand-in files, the bundle holds them stored under the Tasks API's names.
    blobs = [b"palm" * 10, b"landmarks" * 10]
    members = tuple(
        model_files.ModelMember(m.task_name, m.wheel_path, len(b), hashlib.sha256(b).hexdigest()) for m, b in zip(model_files.MEMBERS, blobs)
    )
    monkeypatch.setattr(model_files, "MEMBERS", members)
    out = model_files.build_task(_fake_wheel(tmp_path / "ok.whl", blobs), tmp_path / "cache" / "hand.task")
    with zipfile.ZipFile(out) as bundle:
        assert bundle.read("hand_detector.tflite") == blobs[0] and bundle.read("hand_landmarks_detector.tflite") == blobs[1]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in bundle.infolist())
    first = out.read_bytes()
    model_files.build_task(tmp_path / "ok.whl", out)
    assert out.read_bytes() == first  # reproducible
    model_files.check_task(out, pinned=True)


def test_model_resolution_errors_say_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HIFIHR_CACHE", str(tmp_path / "cache"))
    assert model_files.default_model_path() == tmp_path / "cache" / model_files.DEFAULT_NAME
    with pytest.raises(DetectorModelError, match="not built yet: run python scripts/install_detector.py"):
        model_files.resolve_model()
    with pytest.raises(DetectorModelError, match="official hand_landmarker.task"):
        model_files.resolve_model(tmp_path / "missing.task")
    (tmp_path / "junk.task").write_bytes(b"not a zip")
    with pytest.raises(DetectorModelError, match="not a readable .task"):
        model_files.resolve_model(tmp_path / "junk.task")
    with zipfile.ZipFile(tmp_path / "other.task", "w") as bundle:
        bundle.writestr("hand_detector.tflite", b"x")
    with pytest.raises(DetectorModelError, match="no hand_landmarks_detector.tflite"):
        model_files.resolve_model(tmp_path / "other.task")


def test_installed_model_matches_the_pinned_sums():
    path = model_files.default_model_path()
    if not path.is_file():
        pytest.skip(f"{path} is not built (make install)")
    model_files.check_task(path, pinned=True)


# ----------------------------------------------------------------------------- detections file
def test_detections_file_round_trip_and_errors(tmp_path):
    rng = np.random.default_rng(2)
    hands = [_hand(rng.uniform(0, 99, (21, 2))), _hand(rng.uniform(0, 99, (21, 2)), "left")]
    entries = [
        ImageDetections("a.jpg", (100, 80), hands, sample=0, match=1),
        ImageDetections("b.jpg", (100, 80), [], sample=1),
        ImageDetections("c.jpg", (0, 0), sample=2, error="c.jpg: not a decodable image"),
    ]
    path = tmp_path / "d.json"
    write_detections(path, DetectionsFile({"kind": "dataset"}, {"model": "m"}, entries))
    back = read_detections(path)
    assert [e.match for e in back.images] == [1, None, None] and back.images[2].error.startswith("c.jpg")
    pixels, conf = sample_keypoints(back, 3, "d.json")
    assert np.allclose(pixels[0], hands[1].keypoints2d, atol=1e-3) and np.allclose(conf[0], 0.8)
    assert not pixels[1:].any() and not conf[1:].any()  # no hand: confidence 0 switches the losses off
    with pytest.raises(DetectionsFileError, match=r"expected one entry per sample 0..3"):
        sample_keypoints(back, 4, "d.json")
    data = json.loads(path.read_text())
    data["images"][0]["match"] = 5
    path.write_text(json.dumps(data))
    with pytest.raises(DetectionsFileError, match=r"images\[0\]: match 5 is not an index into its 2 hands"):
        read_detections(path)
    path.write_text(json.dumps([[1, 2], [3]]))
    with pytest.raises(DetectionsFileError, match="expected a 'hifihr-detections/1' detections file"):
        read_detections(path)
    with pytest.raises(DetectionsFileError, match="write it with python scripts/detect_keypoints.py"):
        read_detections(tmp_path / "none.json")


# ----------------------------------------------------------------------------- running it
def test_folder_with_a_bad_file_processes_the_rest(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((40, 60, 3), 90, np.uint8))
    (folder / "b.jpg").write_bytes(b"broken")
    writer = cv2.VideoWriter(str(folder / "c.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for value in range(5):
        writer.write(np.full((24, 32, 3), 40 * value, np.uint8))
    writer.release()
    (folder / "notes.txt").write_text("ignored")
    seen = []
    keypoints = np.tile([[5.0, 6.0]], (21, 1)) + np.arange(21)[:, None]

    def detector(image):
        seen.append(image.shape)
        return [_hand(keypoints)] if image.shape[0] == 40 else []

    entries, seconds = detect_folder(folder, detector, every=2)
    assert [(e.image, e.frame) for e in entries] == [("a.png", None), ("b.jpg", None), ("c.avi", 0), ("c.avi", 2), ("c.avi", 4)]
    assert "b.jpg" in entries[1].error and entries[1].hands == []
    assert entries[0].size == (60, 40) and len(entries[0].hands) == 1 and all(not e.hands for e in entries[2:])
    assert seen == [(40, 60, 3)] + [(24, 32, 3)] * 3 and seconds >= 0
    with pytest.raises(FileNotFoundError, match="no images"):
        detect_folder(_empty(tmp_path), detector)


def _empty(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_keypoint_agreement_by_hand():
    truth = np.zeros((3, 21, 2))
    truth[:, :, 0] = np.linspace(0, 30, 21)  # box 30 x 40: diagonal 50
    truth[:, :, 1] = np.linspace(0, 40, 21)
    shifted = truth[0] + [3.0, 4.0]  # every keypoint 5 px off = 0.1 of the diagonal
    far = truth[1].copy()
    far[:10] += [30.0, 40.0]  # 10 keypoints 50 px off, 11 exact
    result = keypoint_agreement([shifted, far, None], truth)
    assert result["num"] == 3 and result["detected"] == 2 and result["detection_rate"] == pytest.approx(2 / 3)
    errors = np.array([5.0] * 21 + [50.0] * 10 + [0.0] * 11)
    assert result["median_px"] == pytest.approx(np.median(errors)) and result["mean_px"] == pytest.approx(errors.mean())
    assert result["median_box_frac"] == pytest.approx(np.median(errors) / 50)
    assert result["pck_10pct"] == pytest.approx(32 / 42)
    assert np.isnan(keypoint_agreement([None], truth[:1])["median_px"])


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("synth") / "s", num_train=3, num_eval=2, seed=3, show_progress=False)


def test_dataset_detections_feed_openpose_fields(synthetic, tmp_path):
    """A stand-in detector that reports the true keypoints (plus a decoy hand): the matched hand
    becomes openpose2d in crop pixels, equal to the ground-truth joints2d."""
    dataset = build_dataset("synthetic", synthetic, "train", augment=False, openpose=False, verts=False)
    truth = [dataset.record(i).joints2d for i in range(len(dataset))]
    calls = iter(range(len(dataset)))

    def detector(image):
        i = next(calls)
        decoy = _hand(truth[i] * 0.2 + 180.0, "left")
        return [decoy, _hand(truth[i], "right", 0.9)] if i != 1 else [decoy]

    entries, _ = detect_dataset(dataset, detector)
    assert [e.match for e in entries] == [1, None, 1]
    agreement = dataset_agreement(dataset, entries)
    assert agreement["detected"] == 2 and agreement["median_px"] == pytest.approx(0.0)
    write_detections(synthetic / "det.json", DetectionsFile({"kind": "dataset"}, {}, entries))
    labelled = build_dataset("synthetic", synthetic, "train", augment=True, openpose=False, verts=False, keypoints_file="det.json")
    for i in (0, 2):
        sample = labelled[i]
        assert np.allclose(sample["openpose2d"].numpy(), sample["joints2d"].numpy(), atol=1e-3)
        assert np.allclose(sample["openpose_conf"].numpy(), 0.9)
    assert not labelled[1]["openpose_conf"].any()
    with pytest.raises(DetectionsFileError, match="one entry per sample"):
        build_dataset("synthetic", synthetic, "evaluation", openpose=False, verts=False, keypoints_file="det.json")[0]


# ----------------------------------------------------------------------------- MediaPipe
def test_mediapipe_on_real_photos_finds_hands_near_the_ground_truth():
    folder, annotations = real_photos_or_skip()
    with detector_or_skip() as detector:
        found = 0
        for name in ("mmpose_onehand10k/9.jpg", "mmpose_freihand/00000355.jpg", "mmpose_panoptic/ex2_2.flv_000040_l.jpg"):
            image = cv2.cvtColor(cv2.imread(str(folder / name)), cv2.COLOR_BGR2RGB)
            hands = detector(image)
            truth = np.array(annotations[name][0]["uv"])
            diagonal = np.linalg.norm(np.ptp(truth, axis=0))
            best = nearest_detection(hands, truth.mean(0), diagonal)
            assert best is not None, name
            assert np.median(np.linalg.norm(best.keypoints2d - truth, axis=1)) < 0.1 * diagonal, name
            assert best.world_landmarks is not None and np.abs(best.world_landmarks).max() < 0.2  # metres around the hand
            found += 1
        assert found == 3
        assert detector(np.zeros((64, 64, 3), np.uint8)) == []


def test_mediapipe_reports_true_handedness_of_a_mirrored_photo():
    folder, annotations = real_photos_or_skip()
    name = "mmpose_onehand10k/9.jpg"
    image = cv2.cvtColor(cv2.imread(str(folder / name)), cv2.COLOR_BGR2RGB)
    with detector_or_skip() as detector:
        [hand] = detector(image)
        [mirrored] = detector(np.ascontiguousarray(image[:, ::-1]))
        [from_float] = detector(image.astype(np.float32) / 255)  # float images in [0, 1] work too
    assert np.allclose(from_float.keypoints2d, hand.keypoints2d, atol=1e-3)
    assert {hand.handedness, mirrored.handedness} == {"left", "right"}
    flipped = mirrored.keypoints2d.copy()
    flipped[:, 0] = image.shape[1] - flipped[:, 0]
    assert np.median(np.linalg.norm(flipped - hand.keypoints2d, axis=1)) < 6.0


def test_detector_needs_mediapipe_message(monkeypatch):
    import builtins

    from hifihr.detect import DetectorUnavailable, HandDetector

    real_import = builtins.__import__

    def no_mediapipe(name, *args, **kwargs):
        if name.startswith("mediapipe"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mediapipe)
    with pytest.raises(DetectorUnavailable, match="pip install -r requirements-detect.txt"):
        HandDetector()


def test_evaluate_annotated_pairs_hands_one_to_one(tmp_path):
    from hifihr.detect.labels import evaluate_annotated

    cv2.imwrite(str(tmp_path / "two.png"), np.zeros((100, 200, 3), np.uint8))
    rng = np.random.default_rng(4)
    left_truth = rng.uniform(10, 50, (21, 2))
    right_truth = rng.uniform(10, 50, (21, 2)) + [100, 0]
    left_truth[0] = 0.0  # an unannotated keypoint: neither in the error nor in the box
    annotations = {
        "_doc": "comment",
        "two.png": [
            {"uv": left_truth.tolist(), "side": "left", "visible": [0] + [1] * 20},
            {"uv": right_truth.tolist(), "side": "right"},
        ],
    }
    detection = left_truth + [3.0, 4.0]
    # One detection, near the left hand: it must not also count for the right hand.
    summary, rows = evaluate_annotated(tmp_path, annotations, lambda image: [_hand(detection, "left")])
    assert [r["detected"] for r in rows] == [True, False]
    assert rows[0]["median_px"] == pytest.approx(5.0) and summary["median_px"] == pytest.approx(5.0)
    box = box_from_keypoints(left_truth[1:])
    assert rows[0]["median_box_frac"] == pytest.approx(5.0 / np.linalg.norm(box[2:] - box[:2]))
    assert (summary["detected"], summary["num"], summary["images"]) == (1, 2, 1)
    assert (summary["handedness_correct"], summary["handedness_known"]) == (1, 1)


def _script(name):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Stub:
    """A detector that reports the hand ``truth(image)`` returns (or none)."""

    def __init__(self, truth):
        self.truth, self.model_path = truth, "stub.task"

    def __call__(self, image):
        keypoints = self.truth(image)
        return [] if keypoints is None else [_hand(keypoints, "right", 0.9)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def test_detect_keypoints_script_on_a_dataset_and_a_folder(synthetic, tmp_path, monkeypatch, capsys):
    script = _script("detect_keypoints")
    dataset = build_dataset("synthetic", synthetic, "evaluation", openpose=False, verts=False)
    truth = iter([dataset.record(0).joints2d + [3.0, 4.0], None])
    monkeypatch.setattr(script, "HandDetector", lambda *a, **k: _Stub(lambda image: next(truth)))
    assert script.main(["--dataset", "synthetic", "--root", str(synthetic), "--split", "evaluation", "--options", '{"openpose": false, "verts": false}', "--summary", str(tmp_path / "s.json")]) == 0
    out = synthetic / "detections_synthetic_evaluation.json"
    [summary] = json.loads((tmp_path / "s.json").read_text())
    assert summary["file"] == str(out) and summary["agreement"]["detected"] == 1
    assert summary["agreement"]["median_px"] == pytest.approx(5.0, abs=1e-3)
    assert "detected 1/2 (50.0%), median error 5.00 px" in capsys.readouterr().err
    labelled = build_dataset("synthetic", synthetic, "evaluation", openpose=False, verts=False, keypoints_file=out.name)
    assert np.allclose(labelled[0]["openpose2d"].numpy() - labelled[0]["joints2d"].numpy(), 0.0, atol=8) and not labelled[1]["openpose_conf"].any()

    # A split the dataset does not declare is refused before any detection.
    assert script.main(["--dataset", "synthetic", "--root", str(synthetic), "--split", "test"]) == 2
    assert "--split: synthetic has no split 'test'; valid: train, evaluation" in capsys.readouterr().err

    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((50, 60, 3), np.uint8))
    (folder / "b.jpg").write_bytes(b"")
    monkeypatch.setattr(script, "HandDetector", lambda *a, **k: _Stub(lambda image: np.tile([[20.0, 20.0]], (21, 1)) + np.arange(21)[:, None]))
    assert script.main(["--photos", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "2 images, 1 with a hand, 1 hands" in err and "skipped:" in err and "b.jpg" in err
    assert len(build_dataset("photos", folder, "train")) == 1


def test_scripts_report_a_missing_detector(tmp_path, monkeypatch, capsys):
    from hifihr.detect import DetectorUnavailable

    def unavailable(*args, **kwargs):
        raise DetectorUnavailable("the hand detector needs mediapipe, which is not installed; install it with: make install")

    script = _script("detect_keypoints")
    monkeypatch.setattr(script, "HandDetector", unavailable)
    assert script.main(["--photos", str(tmp_path)]) == 2
    assert "needs mediapipe" in capsys.readouterr().err


def test_detections_of_mirrored_left_hands(tmp_path):
    """RHD mirrors left hands: detections stay in source pixels, the annotated hand is matched
    against the crop in source pixels, and openpose2d ends up where joints2d is."""
    from fixtures.datasets import write_rhd

    write_rhd(tmp_path / "rhd")
    dataset = build_dataset("rhd", tmp_path / "rhd", "train", augment=False)
    records = [dataset.record(i) for i in range(len(dataset))]
    assert any(r.mirror for r in records) and not all(r.mirror for r in records)
    calls = iter(records)

    def detector(image):
        record = next(calls)
        truth = record.joints2d
        # A decoy at the mirror image of the hand: picked if the crop centre were mirrored.
        decoy = truth.copy()
        decoy[:, 0] = image.shape[1] - decoy[:, 0]
        return [_hand(decoy, "left", 0.5), _hand(truth, "left" if record.mirror else "right", 0.9)]

    entries, _ = detect_dataset(dataset, detector)
    assert [e.match for e in entries] == [1] * len(dataset)
    write_detections(tmp_path / "rhd" / "det.json", DetectionsFile({"kind": "dataset"}, {}, entries))
    labelled = build_dataset("rhd", tmp_path / "rhd", "train", augment=True, keypoints_file="det.json")
    for i in range(len(dataset)):
        sample = labelled[i]
        assert np.allclose(sample["openpose2d"].numpy(), sample["joints2d"].numpy(), atol=1e-3), i
