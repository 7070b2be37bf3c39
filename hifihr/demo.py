"""Image in, textured 3D hand out: the logic behind ``scripts/demo.py``.

For each image (or video frame) and hand:

1. The hand's box comes from the hand detector (:mod:`hifihr.detect`: every hand, left and
   right, the tight box of its 21 keypoints) or is given. The crop is a square around it
   (:func:`hifihr.detect.crop.square_crop`: side = ``box_scale`` x the box's longer side,
   1.7 for detected keypoints and 1.3 for a given box, the framing of the training crops),
   resized to the model's input size. The camera of the whole image is
   K = [[f, 0, W/2], [0, f, H/2], [0, 0, 1]] with ``f = focal_factor * max(W, H)`` unless
   intrinsics are given (:func:`hifihr.detect.crop.estimated_camera`); the crop's K follows from
   it exactly.
2. A left hand is mirrored into a right hand first (the hand models are right hands) and the
   results are mirrored back: 3D ``X -> -X``, faces re-wound, light mirrored.
3. The network (a checkpoint trained with ``model.root = "predicted"``) regresses the hand and
   places it in the camera: 3D keypoints in metres and their 2D projections in image pixels.
4. Outputs per hand: ``<name>.obj`` + ``.mtl`` + ``_diffuse.png`` (and normal/specular maps for
   NIMBLE-format hands), ``<name>.glb``, ``<name>_overlay.png`` (render over the photo),
   ``<name>_side.png`` (the mesh seen from the side), ``<name>_texture.png`` (the recovered
   texture map), and ``<name>.json`` (parameters, joints 3D in the camera frame of K and 2D,
   the camera and where it came from, box, the detection).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Union

import cv2
import numpy as np
import torch

from .config import Config
from .data.io import ImageReadError, iter_video_frames
from .data.io import read_image as decode_image
from .data.transforms import View, crop, mirror, warp_image
from .detect.crop import CropError, mirror_box, square_crop
from .engine.setup import network_from_checkpoint
from .files import write_atomic
from .hand import HandOutput
from .hand.export import export_textured_mesh
from .losses.prediction import Prediction
from .models import HiFiHR
from .render import DirectionalLight, Renderer, SHLight, TexturesUV, TexturesVertex, project_points
from .viz.grid import save_png
from .viz.overlay import draw_keypoints, overlay, to_uint8

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


class DemoError(RuntimeError):
    """Bad demo input: a checkpoint, an image, a box; the message says what and where."""


@dataclass(frozen=True)
class Frame:
    """One image to process: ``image`` [H, W, 3] RGB float in [0, 1] and its output name."""

    name: str
    image: np.ndarray


#: The light a hand is rendered with.
Light = Union[SHLight, DirectionalLight]


@dataclass(frozen=True)
class HandCrop:
    """One hand cut out of its image for the network.

    Attributes:
        image: [S, S, 3] RGB crop in [0, 1] (mirrored for a left hand).
        view: the image-to-crop map (:class:`~hifihr.data.transforms.View`, the mirror included).
        centre: [2] centre of the square in the image as the network sees it (mirrored for a
            left hand), pixels. side: the square's side, pixels.
        left: a left hand (mirrored into a right one).
    """

    image: np.ndarray
    view: View
    centre: np.ndarray
    side: float
    left: bool


@dataclass(frozen=True)
class HandParams:
    """The regressed parameters of one hand (lists of floats, for the JSON and the fitter).

    Attributes:
        shape: [num_shape]. pose: [num_pose], root axis-angle first. texture: [num_texture] or
        None (no texture head). light: the light head's output for the hand (nested lists) or None.
        light_type: ``model.light`` of the network.
    """

    shape: list[float]
    pose: list[float]
    texture: Optional[list[float]]
    light: Optional[list]
    light_type: str

    def to_json(self) -> dict[str, Any]:
        """The fields as a JSON object."""
        return dataclasses.asdict(self)


@dataclass
class HandResult:
    """What the demo found for one hand, in the whole image's camera (OpenCV frame).

    Attributes:
        verts: [V, 3] mesh vertices, metres. faces: [F, 3] (winding fixed for left hands).
        joints3d: [21, 3] FreiHAND-order keypoints, metres. joints2d: [21, 2] image pixels.
        K: [3, 3] camera of the whole image. box: (x0, y0, x1, y1) the square crop, pixels.
        texture: [H, W, 3] albedo map (UV hands) or None; verts_uvs, faces_uvs: the UV layout.
        vertex_colors: [V, 3] per-vertex albedo (MANO hands) or None.
        params: the regressed parameters.
        light: the light to render with (mirrored back for left hands) or None.
    """

    verts: np.ndarray
    faces: np.ndarray
    joints3d: np.ndarray
    joints2d: np.ndarray
    K: np.ndarray
    box: tuple[float, float, float, float]
    left: bool
    texture: Optional[np.ndarray]
    verts_uvs: Optional[np.ndarray]
    faces_uvs: Optional[np.ndarray]
    vertex_colors: Optional[np.ndarray]
    params: HandParams
    light: Optional[Light]


def load_demo_model(checkpoint: str | Path, device: torch.device) -> tuple[HiFiHR, Config]:
    """The network of a checkpoint (with the config stored in it), in eval mode on ``device``.

    Raises:
        DemoError: the checkpoint places hands at a ground-truth root (``model.root = "gt"``),
            which a photo does not have, or does not fit the model its config describes.
    """
    model, cfg = network_from_checkpoint(checkpoint)
    if cfg.model.root != "predicted":
        raise DemoError(
            f"{checkpoint} was trained with model.root = 'gt': it needs the ground-truth 3D root of each hand, "
            "which a photo does not have. Train with --set model.root=predicted (the camera head) for the demo."
        )
    return model.to(device), cfg


def crop_hand(frame: Frame, box: Optional[Sequence[float]], left: bool, K: np.ndarray, box_scale: float, size: int) -> HandCrop:
    """The square crop of side ``size`` around ``box`` (x0, y0, x1, y1 pixels, or None: the
    central square) at ``box_scale``, mirrored first for a left hand, seen by ``K`` [3, 3].

    Raises:
        DemoError: the box is empty or outside the image.
    """
    height, width = frame.image.shape[:2]
    view = View.identity(K)
    if left:  # the view mirrors the image (warp_image applies it), and the box with it
        view = mirror(view, width)
        if box is not None:
            box = mirror_box(box, width)
    try:
        centre, side = square_crop(box, width, height, box_scale)
    except CropError as err:
        raise DemoError(str(err)) from err
    view = crop(view, centre, side, size)
    image = warp_image(np.ascontiguousarray(frame.image, dtype=np.float32), view.affine, size)
    return HandCrop(image=image, view=view, centre=centre, side=side, left=left)


def run_network(model: HiFiHR, crops: Sequence[HandCrop]) -> tuple[Prediction, HandOutput]:
    """The network's prediction for the crops (one batch, no render) and its posed hand placed
    at the predicted roots, in the crops' camera frame."""
    device = next(model.parameters()).device
    images = torch.from_numpy(np.stack([c.image for c in crops])).permute(0, 3, 1, 2).to(device)
    K_crop = torch.from_numpy(np.stack([c.view.K for c in crops])).float().to(device)
    pred = model(images, K_crop, render=False)
    return pred, model.posed_hand(pred).placed(pred.root)


def _item_light(light: Optional[Light], index: int) -> Optional[Light]:
    """Sample ``index`` of a batched light."""
    if light is None:
        return None
    return type(light)(**{k: (v[index : index + 1] if isinstance(v, torch.Tensor) else v) for k, v in light.__dict__.items()})


def unmirror_hand(
    hand_crop: HandCrop, pred: Prediction, hand: HandOutput, index: int, light: Optional[Light], K: np.ndarray, image_width: int
) -> HandResult:
    """Sample ``index`` of the network's output (``hand`` placed in the crops' camera, as
    :func:`run_network` gives it) in the whole image's camera ``K`` [3, 3]: a left hand's mesh,
    keypoints, triangles' winding, box and light mirrored back."""
    unmirror = hand_crop.view.rotation.T  # crops do not rotate 3D; only the mirror does
    verts = hand.verts[index].cpu().numpy() @ unmirror.T
    joints = hand.joints[index].cpu().numpy() @ unmirror.T
    faces = hand.faces.cpu().numpy()
    faces_uvs = hand.faces_uvs.cpu().numpy() if hand.faces_uvs is not None else None
    left = hand_crop.left
    if left:  # mirroring turns the surface inside out: re-wind the triangles
        faces = faces[:, ::-1].copy()
        faces_uvs = faces_uvs[:, ::-1].copy() if faces_uvs is not None else None
    K = np.asarray(K)
    joints2d = project_points(torch.from_numpy(joints)[None], torch.from_numpy(K)[None])[0, :, :2].numpy()
    centre, side = hand_crop.centre, hand_crop.side
    if left:
        centre = np.array([image_width - centre[0], centre[1]])
    item_light = _item_light(light, index)
    if item_light is not None and left:
        item_light = item_light.mirrored_x()
    return HandResult(
        verts=verts,
        faces=faces,
        joints3d=joints,
        joints2d=joints2d,
        K=K,
        box=(centre[0] - side / 2, centre[1] - side / 2, centre[0] + side / 2, centre[1] + side / 2),
        left=left,
        texture=hand.texture[index].cpu().numpy() if hand.texture is not None else None,
        verts_uvs=hand.verts_uvs.cpu().numpy() if hand.verts_uvs is not None else None,
        faces_uvs=faces_uvs,
        vertex_colors=hand.vertex_colors[index].cpu().numpy() if hand.vertex_colors is not None else None,
        params=HandParams(
            shape=pred.shape_params[index].tolist(),
            pose=pred.pose_params[index].tolist(),
            texture=pred.texture_params[index].tolist() if pred.texture_params is not None else None,
            light=pred.light[index].tolist() if pred.light is not None else None,
            light_type=pred.light_type,
        ),
        light=item_light,
    )


@torch.no_grad()
def reconstruct(
    model: HiFiHR,
    frames: Sequence[Frame],
    boxes: Sequence[Optional[Sequence[float]]],
    lefts: Sequence[bool],
    K_full: Sequence[np.ndarray],
    box_scales: Sequence[float],
) -> list[HandResult]:
    """Reconstruct one hand per entry (one batch through the network): ``frames[i]`` holds the
    hand in ``boxes[i]`` (x0, y0, x1, y1 pixels, or None: the central square), a left hand
    when ``lefts[i]``, seen by ``K_full[i]`` [3, 3] and cropped at ``box_scales[i]``.
    Crop (:func:`crop_hand`), run (:func:`run_network`), un-mirror (:func:`unmirror_hand`).

    Raises:
        DemoError: a box is empty or outside its image.
    """
    size = model.renderer.image_size[0] if model.renderer is not None else 224
    crops = [crop_hand(*entry, size) for entry in zip(frames, boxes, lefts, K_full, box_scales)]
    pred, hand = run_network(model, crops)
    light = model.light_from_params(pred.light)
    return [
        unmirror_hand(hand_crop, pred, hand, i, light, K_full[i], frame.image.shape[1])
        for i, (hand_crop, frame) in enumerate(zip(crops, frames))
    ]


def _render(result: HandResult, verts: np.ndarray, K: np.ndarray, size: tuple[int, int], shading: str, light):
    """Render ``verts`` of ``result``'s mesh with its albedo into an image of ``size`` (H, W)."""
    verts_t = torch.from_numpy(verts).float()[None]
    faces = torch.from_numpy(np.ascontiguousarray(result.faces))
    if result.texture is not None:
        textures = TexturesUV(
            torch.from_numpy(result.texture)[None].float(),
            torch.from_numpy(result.verts_uvs).float(),
            torch.from_numpy(np.ascontiguousarray(result.faces_uvs)),
        )
    else:
        colors = result.vertex_colors if result.vertex_colors is not None else np.full_like(verts, 0.5)
        textures = TexturesVertex(torch.from_numpy(colors).float()[None])
    renderer = Renderer(size, supersample=2, shading=shading if light is not None else "albedo")
    return renderer.render(verts_t, faces, torch.from_numpy(K).float()[None], textures, light=light)


def write_outputs(
    result: HandResult,
    image: np.ndarray,
    out_stem: Path,
    shading: str,
    extra: Optional[dict] = None,
    timings: Optional[dict[str, float]] = None,
) -> dict[str, Path]:
    """Write every output file of one hand (see the module docstring); returns {kind: path}.

    ``extra`` adds keys to the JSON (the camera's source, the detection); ``timings``, when
    given, accumulates the seconds spent rendering (``"render"``) and writing files
    (``"export"``).
    """
    clock = {"render": 0.0, "export": 0.0}
    start = time.perf_counter()
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    written = export_textured_mesh(
        out_stem, result.verts, result.faces, result.verts_uvs, result.faces_uvs, result.texture
    )
    height, width = image.shape[:2]
    lap = time.perf_counter()
    clock["export"] += lap - start
    render = _render(result, result.verts, result.K, (height, width), shading, result.light)
    photo = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()
    composite = overlay(photo, render.rgb[0], render.alpha[0])
    composite = draw_keypoints(composite, result.joints2d, radius=max(1.5, width / 250), thickness=max(1, width // 300))
    x0, y0, x1, y1 = (int(round(v)) for v in result.box)
    cv2.rectangle(composite, (x0, y0), (x1, y1), (255, 255, 0), max(1, width // 400))
    paths = {"overlay": out_stem.with_name(out_stem.name + "_overlay.png")}
    clock["render"] += time.perf_counter() - lap
    lap = time.perf_counter()
    save_png(paths["overlay"], composite)
    clock["export"] += time.perf_counter() - lap
    lap = time.perf_counter()

    # Side view: the hand turned 90 degrees about the vertical axis through its root keypoint,
    # seen by a 512x512 camera that frames it.
    root = result.joints3d[9]
    turn = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    centred = (result.verts - root) @ turn.T
    extent = float(np.abs(centred[:, :2]).max()) + 1e-6
    side_K = np.array([[512.0, 0.0, 256.0], [0.0, 512.0, 256.0], [0.0, 0.0, 1.0]])
    side = _render(result, centred + np.array([0.0, 0.0, 2.4 * extent]), side_K, (512, 512), "albedo", None)
    white = side.rgb[0] + (1 - side.alpha[0]) * 1.0
    clock["render"] += time.perf_counter() - lap
    lap = time.perf_counter()
    paths["side"] = out_stem.with_name(out_stem.name + "_side.png")
    save_png(paths["side"], to_uint8(white))

    if result.texture is not None:
        paths["texture"] = out_stem.with_name(out_stem.name + "_texture.png")
        save_png(paths["texture"], to_uint8(result.texture))
    paths["json"] = out_stem.with_name(out_stem.name + ".json")
    write_atomic(
        paths["json"],
        json.dumps(
            {
                "left_hand": result.left,
                "box_xyxy_px": [float(v) for v in result.box],
                "camera_K": result.K.tolist(),
                "joints3d_m": result.joints3d.tolist(),
                "joints2d_px": result.joints2d.tolist(),
                "keypoint_order": "FreiHAND (wrist; thumb, index, middle, ring, pinky: base to tip)",
                "frame": "OpenCV camera of the image: x right, y down, z forward; metres",
                "params": result.params.to_json(),
                **(extra or {}),
            },
            indent=1,
        )
    )
    clock["export"] += time.perf_counter() - lap
    if timings is not None:
        for key, seconds in clock.items():
            timings[key] = timings.get(key, 0.0) + seconds
    return {**written, **paths}


def read_float_image(path: Path) -> np.ndarray:
    """RGB float image [H, W, 3] in [0, 1]; DemoError when unreadable."""
    try:
        return decode_image(path).astype(np.float32) / 255.0
    except ImageReadError as err:
        raise DemoError(str(err)) from err


def iter_frames(source: Path, every: int = 1) -> Iterator[Frame | DemoError]:
    """Frames of an image file, a folder of images (sorted) or a video (every ``every``-th
    frame). Unreadable images come out as DemoError items, so the others still go through."""
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DemoError(f"{source}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        for path in files:
            try:
                yield Frame(path.stem, read_float_image(path))
            except DemoError as err:
                yield err
    elif source.suffix.lower() in VIDEO_SUFFIXES:
        try:
            for index, frame in iter_video_frames(source, every):
                yield Frame(f"{source.stem}_{index:06d}", frame.astype(np.float32) / 255.0)
        except ImageReadError as err:
            raise DemoError(str(err)) from err
    elif source.is_file():
        yield Frame(source.stem, read_float_image(source))
    else:
        raise DemoError(f"{source}: no such file or folder")


def count_frames(source: Path, every: int = 1) -> Optional[int]:
    """How many frames :func:`iter_frames` yields, when cheap to know (for the progress bar)."""
    if source.is_dir():
        return sum(p.suffix.lower() in IMAGE_SUFFIXES for p in source.iterdir())
    if source.suffix.lower() in VIDEO_SUFFIXES:
        capture = cv2.VideoCapture(str(source))
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
        return math.ceil(total / every) if total > 0 else None
    return 1
