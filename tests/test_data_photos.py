"""The ``photos`` dataset: a folder of plain images (here synthetic renders saved as PNG, some
mirrored into left hands), hands from a detections file, the demo's crop and camera, and a
self-supervised training run on it."""

from __future__ import annotations

import dataclasses
import inspect
import json

import cv2
import numpy as np
import pytest

from hifihr.data import DATASETS, DatasetLayoutError, build_dataset
from hifihr.data.photos import Photos
from hifihr.data.transforms import project
from hifihr.detect import KEYPOINT_BOX_SCALE, DetectionsFile, HandDetection, box_from_keypoints, write_detections
from hifihr.detect.labels import detect_folder
from hifihr.engine import DistContext, Evaluator, Trainer, build_network, read_metrics
from test_engine_setup import SIZE, tiny_config, tiny_root  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def photos(tiny_root, tmp_path_factory):
    """A folder: the 4 synthetic training renders as PNG, and image 0 mirrored (a left hand);
    detections that report the true keypoints (what a perfect detector would)."""
    source = tiny_root / "synthetic"
    K = np.array(json.loads((source / "training_K.json").read_text()))
    xyz = np.array(json.loads((source / "training_xyz.json").read_text()))
    folder = tmp_path_factory.mktemp("photos")
    truth = {}
    for i in range(4):
        image = cv2.imread(str(source / "training" / "rgb" / f"{i:08d}.jpg"))
        cv2.imwrite(str(folder / f"hand{i}.png"), image)
        truth[f"hand{i}.png"] = (project(K[i], xyz[i]), "right")
    width = image.shape[1]
    cv2.imwrite(str(folder / "mirrored0.png"), cv2.imread(str(folder / "hand0.png"))[:, ::-1])
    mirrored = truth["hand0.png"][0].copy()
    mirrored[:, 0] = width - mirrored[:, 0]
    truth["mirrored0.png"] = (mirrored, "left")
    (folder / "broken.jpg").write_bytes(b"not an image")
    names = iter(sorted(p.name for p in folder.iterdir() if p.name != "broken.jpg"))

    def detector(image):
        keypoints, side = truth[next(names)]
        return [HandDetection(box_from_keypoints(keypoints), side, 0.9, keypoints, np.full(21, 0.9))]

    entries, _ = detect_folder(folder, detector)
    write_detections(folder / "detections.json", DetectionsFile({"kind": "folder", "root": str(folder)}, {}, entries))
    return folder, truth


def test_every_hand_is_a_sample_cropped_like_the_demo(photos):
    folder, truth = photos
    dataset = build_dataset("photos", folder, "evaluation", image_size=SIZE)
    assert len(dataset) == 5  # the broken file is listed with its error and left out
    by_name = {dataset.hands[i].image.name: dataset[i] for i in range(len(dataset))}
    for name, sample in by_name.items():
        points = sample["openpose2d"].numpy()
        box = box_from_keypoints(points)
        # The crop is centred on the keypoints' box, KEYPOINT_BOX_SCALE times its longer side.
        assert np.allclose((box[:2] + box[2:]) / 2, SIZE / 2, atol=1e-3), name
        assert (box[2:] - box[:2]).max() == pytest.approx(SIZE / KEYPOINT_BOX_SCALE, rel=1e-4), name
        # The estimated camera: f = max(W, H) of the source image, scaled by the crop.
        width = cv2.imread(str(folder / name)).shape[1]
        zoom = SIZE / (KEYPOINT_BOX_SCALE * (box_from_keypoints(truth[name][0])[2:] - box_from_keypoints(truth[name][0])[:2]).max())
        assert sample["K"][0, 0].item() == pytest.approx(width * zoom, rel=1e-4), name
        assert sample["mirrored"].item() == (truth[name][1] == "left")
    # A left hand is mirrored into the right hand it came from: the same crop, pixel for pixel.
    assert np.allclose(by_name["mirrored0.png"]["image"].numpy(), by_name["hand0.png"]["image"].numpy(), atol=2 / 255)
    assert np.allclose(by_name["mirrored0.png"]["openpose2d"].numpy(), by_name["hand0.png"]["openpose2d"].numpy(), atol=1e-3)
    assert set(by_name["hand0.png"]) == {"image", "K", "openpose2d", "openpose_conf", "bbox", "root_index", "mirrored", "index", "dataset"}


def test_missing_detections_and_no_hands_say_what_to_run(tmp_path, photos):
    with pytest.raises(DatasetLayoutError, match="python scripts/detect_keypoints.py --photos"):
        build_dataset("photos", tmp_path, "train")
    folder, _ = photos
    with pytest.raises(DatasetLayoutError, match="lists no hand with a score of at least 0.95"):
        build_dataset("photos", folder, "train", min_score=0.95)


def test_self_supervised_training_on_the_folder(tiny_root, photos):
    folder, _ = photos
    spec = {"name": "photos", "root": str(folder), "split": "train", "options": {"augmentation": {"rotation_deg": 10.0}}}
    cfg = tiny_config(
        tiny_root,
        name="photos_self",
        dataset="synthetic",
        model={"root": "predicted"},
        data={"train": [spec], "val": []},
        loss={"supervision": "self", "drop": ["perceptual"]},
        train={"epochs": 2, "eval_interval": 10},
    )
    Trainer(cfg, device="cpu", tensorboard=False).fit()
    records = read_metrics(tiny_root / "outputs" / "photos_self" / "metrics.jsonl", "train")
    assert len(records) == 2  # 5 hands, full batches of 4: one step per epoch
    for record in records:
        assert np.isfinite(record["loss"])
        assert record["terms"]["open_2dj"] > 0 and record["terms"]["texture_self"] > 0
    assert (tiny_root / "outputs" / "photos_self" / "checkpoints" / "last.pt").is_file()


def test_evaluating_photos_needs_the_predicted_root(tiny_root, photos):
    """Photos have no 3D root: an evaluation at the ground-truth root is refused before any
    sample runs; at the predicted root the numbers are labelled so."""
    folder, _ = photos
    spec = {"name": "photos", "root": str(folder), "split": "evaluation", "options": {}}
    cfg = tiny_config(tiny_root, name="photos_eval", dataset="synthetic", data={"train": [], "val": [spec]}, eval={"figure_samples": 0})
    with pytest.raises(ValueError, match="photos: the samples have no 3D root; evaluate with model.root = 'predicted'"):
        Evaluator(cfg, DistContext())
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, root="predicted"))
    split = Evaluator(cfg, DistContext()).evaluate(build_network(cfg), 0, 0, tiny_root / "outputs" / "photos_eval")["photos_evaluation"]
    assert split["unaligned_root"] == "predicted"
    assert split["files"] == ["pred.json"]


def test_video_frames_are_samples(tiny_root, tmp_path):
    """Every 2nd frame of a video: samples read the frame they name (the hand moves right)."""
    image = cv2.imread(str(tiny_root / "synthetic" / "training" / "rgb" / "00000000.jpg"))
    height, width = image.shape[:2]
    writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    frames = [np.roll(image, 4 * k, axis=1) for k in range(5)]
    for frame in frames:
        writer.write(frame)
    writer.release()
    keypoints = np.array([[width / 2 - 8, height / 2 - 8], [width / 2 + 8, height / 2 + 8]] * 10 + [[width / 2, height / 2]])
    hand = HandDetection(box_from_keypoints(keypoints), "right", 0.9, keypoints, np.full(21, 0.9))
    entries, _ = detect_folder(tmp_path, lambda image: [hand], every=2)
    assert [e.frame for e in entries] == [0, 2, 4]
    write_detections(tmp_path / "detections.json", DetectionsFile({"kind": "folder"}, {}, entries))
    dataset = build_dataset("photos", tmp_path, "evaluation", image_size=SIZE, box_scale=width / 16)  # the crop = the frame
    assert len(dataset) == 3
    for sample, k in zip((dataset[i] for i in range(3)), (0, 2, 4)):
        expected = cv2.cvtColor(frames[k], cv2.COLOR_BGR2RGB).astype(np.float32) / 255
        expected = cv2.resize(expected, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        others = [abs(sample["image"].numpy().transpose(1, 2, 0) - cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2RGB).astype(np.float32) / 255, (SIZE, SIZE), interpolation=cv2.INTER_AREA)).mean() for f in frames]
        assert int(np.argmin(others)) == k


def test_crop_centre_is_in_source_pixels_for_mirrored_hands(photos):
    from hifihr.detect.labels import crop_centre

    folder, truth = photos
    dataset = build_dataset("photos", folder, "evaluation", image_size=SIZE)
    for i, hand in enumerate(dataset.hands):
        record, image, _ = dataset.read(i)
        centre, side = crop_centre(dataset, record, image.shape[:2])
        box = hand.detection.box
        assert np.allclose(centre, (box[:2] + box[2:]) / 2, atol=1e-6), hand.image.name
        assert side == pytest.approx(KEYPOINT_BOX_SCALE * (box[2:] - box[:2]).max()), hand.image.name
    # The left hand sits off the vertical midline, so a centre mirrored by mistake would fail above.
    [left] = [h for h in dataset.hands if h.detection.left]
    assert abs((left.detection.box[0] + left.detection.box[2]) / 2 - left.size[0] / 2) > 1.0


def test_the_detections_option_is_the_constructor_option_and_its_default():
    option, default = Photos.detections_option
    assert inspect.signature(Photos.__init__).parameters[option].default == default


def test_datasets_with_labels_name_no_detections_option():
    labelled = [name for name in DATASETS.names() if name != "photos"]
    assert all(DATASETS.get(name).cls.detections_option is None for name in labelled)
