"""Synthetic hands in the FreiHAND v2 layout, rendered from a NIMBLE-format hand (by default
the project's open hand), so that everything runs without licensed data.

Each sample draws a shape, a pose (from the pose-PCA prior, clipped), a texture, a global
orientation (fingers roughly up, palm or back to the camera, then perturbed), an SH light and
a camera (focal length, hand size and position in the crop as in FreiHAND's 224 crops). The
hand is rendered over a background, then blurred a little and given sensor noise.

Two scenes (:data:`SCENES`, ``scripts/make_synthetic.py --scene``):

* ``studio`` (the default): a flat random colour behind a hand within 10 degrees of
  fingers-up, filling most of the crop. A from-scratch encoder starts to learn articulation
  from it within minutes on a CPU (``docs/performance.md``, "Learning on the synthetic data").
* ``clutter``: procedural backgrounds (gradient, smooth noise, stripes, clutter shapes) and
  orientations within 35 degrees, closer to FreiHAND's composited backgrounds, and much
  slower to learn from.

Written files (``<split>`` = ``training`` or ``evaluation``; ``datasets/README.md``)::

    <split>/rgb/%08d.jpg  <split>/mask/%08d.jpg  <split>_K.json  <split>_xyz.json
    <split>_verts.json (the hand's evaluation vertices: the open hand's skin)  <split>_scale.json
    <split>_params.json (every parameter used, and the projected 2D keypoints)
    outputs/freihand-train_openpose_keypoints.json, openpose/evaluation/detect.json
        (OpenPose-style detections: the true keypoints with noise, confidences and misses)

The dataset is built in a temporary folder beside the target and renamed into place at the
end, so a half-written dataset is never mistaken for a complete one.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import torch
from scipy.spatial.transform import Rotation

from ..hand import ROOT_POSE_SIZE, HandModel, load_hand_model
from ..hand.joints import ROOT_INDEX
from ..render import Renderer, SHLight, TexturesUV, project_points
from ..render.lights import sh_basis
from .io import folder_written_atomically
from .transforms import project

#: Model frame -> camera frame for fingers up (-y), palm towards the camera (-z), thumb right:
#: NIMBLE's fingers point along +z, the palm faces -y and the thumb is on +x.
PALM_TO_CAMERA = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
#: Turn about the camera's vertical axis that shows the back of the hand instead.
BACK_TO_CAMERA = Rotation.from_euler("y", 180, degrees=True).as_matrix()
#: Values of :attr:`SceneOptions.background`.
BACKGROUNDS = ("flat", "clutter")


@dataclass(frozen=True)
class SceneOptions:
    """Ranges of the random scene parameters (uniform unless said otherwise).

    Attributes:
        image_size: crop side, pixels.
        focal_px: focal length range, pixels of the crop.
        hand_px: side of the hand's 2D bounding box, pixels.
        center_jitter_px: offset of the box centre from the crop centre (per axis).
        coeff_std: std of the normalised shape / pose / texture coefficients (normal, clipped
            at ``coeff_clip``: the PCA prior within its plausible range).
        tilt_deg: random tilt of the hand away from fingers-up (an axis-angle of this size at
            most, random axis).
        spin_deg: in-plane rotation range (uniform in ±spin_deg); training may rotate more.
        back_probability: chance of showing the back of the hand (0 by default: a regressor
            trained for minutes on a CPU cannot resolve the 180-degree ambiguity of two views).
        noise_std: sensor noise std range, [0, 1] image units.
        blur_sigma_px: Gaussian blur sigma range, pixels.
        background: ``"flat"`` (one random colour) or ``"clutter"`` (:func:`sample_background`).
    """

    image_size: int = 224
    focal_px: tuple[float, float] = (380.0, 700.0)
    hand_px: tuple[float, float] = (150.0, 180.0)
    center_jitter_px: float = 10.0
    coeff_std: tuple[float, float, float] = (0.8, 0.8, 1.0)
    coeff_clip: float = 2.0
    tilt_deg: float = 10.0
    spin_deg: float = 10.0
    back_probability: float = 0.0
    noise_std: tuple[float, float] = (0.0, 0.02)
    blur_sigma_px: tuple[float, float] = (0.0, 0.8)
    background: str = "flat"

    def __post_init__(self) -> None:
        if self.background not in BACKGROUNDS:
            raise ValueError(f"background: expected one of {', '.join(BACKGROUNDS)}, got {self.background!r}")


#: The named scenes of ``scripts/make_synthetic.py --scene`` (see the module docstring).
SCENES: dict[str, SceneOptions] = {
    "studio": SceneOptions(),
    "clutter": SceneOptions(hand_px=(110.0, 180.0), tilt_deg=35.0, spin_deg=30.0, background="clutter"),
}


@functools.lru_cache(maxsize=2)
def _sh_fit(num_coeffs: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed directions [2000, 3] over the sphere and the least-squares map [K, 2000] from a
    function's values there to its SH coefficients."""
    normals = np.random.default_rng(0).normal(size=(2000, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return normals, np.linalg.pinv(sh_basis(torch.from_numpy(normals), num_coeffs).numpy())


def sample_light(rng: np.random.Generator, num_coeffs: int = 9) -> np.ndarray:
    """SH coefficients [num_coeffs, 3] of an ambient + soft directional light, fitted by least
    squares to ``ambient + diffuse * max(0, n . d)`` over the sphere, with a colour tint.
    ``d`` points towards the light, on the camera's side (z < 0 in the OpenCV frame)."""
    direction = rng.normal(size=3)
    direction[2] = -abs(direction[2]) - 0.5
    direction /= np.linalg.norm(direction)
    ambient, diffuse = rng.uniform(0.35, 0.7), rng.uniform(0.3, 0.8)
    normals, fit = _sh_fit(num_coeffs)
    coeffs = fit @ (ambient + diffuse * np.clip(normals @ direction, 0.0, None))
    tint = 1.0 + rng.uniform(-0.12, 0.12, size=3)
    return coeffs[:, None] * tint[None, :]


def sample_background(rng: np.random.Generator, size: int, kind: str = "clutter") -> np.ndarray:
    """A background [size, size, 3] in [0, 1]. ``"flat"``: one colour, each channel uniform in
    [0.2, 0.9]. ``"clutter"``: a gradient, smooth noise or stripes, with clutter shapes drawn
    over it half of the time."""
    if kind not in BACKGROUNDS:
        raise ValueError(f"kind: expected one of {', '.join(BACKGROUNDS)}, got {kind!r}")
    if kind == "flat":
        return np.broadcast_to(rng.uniform(0.2, 0.9, size=3), (size, size, 3)).copy()
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    colours = rng.uniform(0.0, 1.0, size=(2, 3))
    pattern = rng.integers(3)
    if pattern == 0:  # linear gradient
        angle = rng.uniform(0, 2 * math.pi)
        t = np.clip(0.5 + (xx - 0.5) * math.cos(angle) + (yy - 0.5) * math.sin(angle), 0, 1)[..., None]
        image = (1 - t) * colours[0] + t * colours[1]
    elif pattern == 1:  # smooth noise
        cells = int(rng.integers(2, 9))
        image = cv2.resize(rng.uniform(0, 1, size=(cells, cells, 3)), (size, size), interpolation=cv2.INTER_CUBIC)
    else:  # stripes
        angle, frequency = rng.uniform(0, math.pi), rng.uniform(2, 12)
        t = 0.5 + 0.5 * np.sin(2 * math.pi * frequency * (xx * math.cos(angle) + yy * math.sin(angle)))
        image = (1 - t[..., None]) * colours[0] + t[..., None] * colours[1]
    image = np.ascontiguousarray(np.clip(image, 0, 1))
    if rng.uniform() < 0.5:
        for _ in range(int(rng.integers(3, 12))):
            colour = tuple(float(c) for c in rng.uniform(0, 1, size=3))
            centre = tuple(int(c) for c in rng.integers(0, size, size=2))
            extent = int(rng.integers(size // 20, size // 4))
            shape = rng.integers(3)
            if shape == 0:
                cv2.circle(image, centre, extent, colour, -1, lineType=cv2.LINE_AA)
            elif shape == 1:
                corner = (centre[0] + extent, centre[1] + int(rng.integers(size // 20, size // 4)))
                cv2.rectangle(image, centre, corner, colour, -1)
            else:
                end = tuple(int(c) for c in rng.integers(0, size, size=2))
                cv2.line(image, centre, end, colour, int(rng.integers(2, 8)), lineType=cv2.LINE_AA)
    return image


def openpose_detections(joints2d: np.ndarray, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenPose-like detections from true keypoints [N, 21, 2] (crop pixels).

    Each image has its own noise level (1-3 px, heavy-tailed per keypoint); confidences fall with
    the error; about 4% of keypoints are misses (a random location, confidence below 0.1).
    Returns (peaks [N, 21, 2] integer pixel indices as OpenPose writes them, values [N, 21]).
    """
    num = joints2d.shape[0]
    sigma = rng.uniform(1.0, 3.0, size=(num, 1, 1))
    error = rng.standard_t(df=4, size=(num, 21, 2)) * sigma
    detected = joints2d + error
    confidence = np.clip(0.9 - 0.05 * np.linalg.norm(error, axis=-1) + rng.normal(0, 0.05, (num, 21)), 0.15, 1.0)
    missed = rng.uniform(size=(num, 21)) < 0.04
    detected[missed] = rng.uniform(0, size, size=(int(missed.sum()), 2))
    confidence[missed] = rng.uniform(0.0, 0.08, size=int(missed.sum()))
    peaks = np.clip(np.floor(detected), 0, size - 1).astype(np.int64)
    return peaks, confidence


def _place(verts: np.ndarray, K: np.ndarray, hand_px: float, target: np.ndarray) -> np.ndarray:
    """Root position [3] (camera frame, metres) putting the 2D box of a root-relative hand
    (``verts`` [N, 3]) seen through ``K`` [3, 3] at side ``hand_px`` around pixel ``target``.
    Scaling the root keeps its pixel and scales the hand's image by about 1/scale. NumPy: these
    are many tiny operations, which torch runs slower (thread start-up per call)."""
    focal = K[0, 0]
    root = np.array([0.0, 0.0, 0.5])
    for _ in range(3):  # perspective makes the box size only roughly ~ 1/z: iterate
        uv = project(K, verts + root)
        root = root * ((uv.max(0) - uv.min(0)).max() / hand_px)
        uv = project(K, verts + root)
        shift = (target - 0.5 * (uv.max(0) + uv.min(0))) * root[2] / focal
        root = root + np.array([shift[0], shift[1], 0.0])
    return root


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def _write_json(path: Path, value, decimals: int) -> None:
    def rounded(x):
        return np.round(np.asarray(x, dtype=np.float64), decimals).tolist()

    path.write_text(json.dumps(rounded(value) if not isinstance(value, list) else value))


def render_split(
    hand: HandModel,
    renderer: Renderer,
    out: Path,
    prefix: str,
    num: int,
    rng: np.random.Generator,
    options: SceneOptions,
    batch_size: int = 16,
    progress=None,
) -> np.ndarray:
    """Render ``num`` samples of one split into ``out`` (FreiHAND layout); returns the true 2D
    keypoints [num, 21, 2] (crop pixels)."""
    size = options.image_size
    (out / prefix / "rgb").mkdir(parents=True)
    (out / prefix / "mask").mkdir(parents=True)
    all_K, all_xyz, all_verts, all_scale, all_params, all_2d = [], [], [], [], [], []
    task = progress.add_task(f"{prefix:10s}", total=num) if progress is not None else None
    for start in range(0, num, batch_size):
        count = min(batch_size, num - start)
        coeffs = [
            np.clip(rng.normal(0, std, size=(count, n)), -options.coeff_clip, options.coeff_clip)
            for std, n in zip(options.coeff_std, (hand.num_shape, hand.num_pose - ROOT_POSE_SIZE, hand.num_texture))
        ]
        rotations = []
        for _ in range(count):
            base = PALM_TO_CAMERA if rng.uniform() >= options.back_probability else BACK_TO_CAMERA @ PALM_TO_CAMERA
            tilt = Rotation.from_rotvec(rng.normal(size=3) / math.sqrt(3) * math.radians(options.tilt_deg) * rng.uniform())
            spin = Rotation.from_euler("z", rng.uniform(-options.spin_deg, options.spin_deg), degrees=True)
            rotations.append((spin * tilt * Rotation.from_matrix(base)).as_rotvec())
        shape = torch.tensor(coeffs[0], dtype=torch.float32)
        pose = torch.tensor(np.concatenate([np.stack(rotations), coeffs[1]], axis=1), dtype=torch.float32)
        texture = torch.tensor(coeffs[2], dtype=torch.float32)
        with torch.no_grad():
            hand_out = hand(shape, pose, texture)
        focal = rng.uniform(*options.focal_px, size=count)
        centre = size / 2 + rng.uniform(-2, 2, size=(count, 2))
        K = torch.tensor(
            [[[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]] for f, (cx, cy) in zip(focal, centre)], dtype=torch.float32
        )
        verts_rel = hand_out.placed(torch.zeros(count, 3)).verts.double().numpy()
        root = torch.tensor(
            np.stack(
                [
                    _place(
                        verts_rel[i],
                        K[i].double().numpy(),
                        rng.uniform(*options.hand_px),
                        size / 2 + rng.uniform(-options.center_jitter_px, options.center_jitter_px, size=2),
                    )
                    for i in range(count)
                ]
            ),
            dtype=torch.float32,
        )
        in_camera = hand_out.placed(root)
        lights = np.stack([sample_light(rng) for _ in range(count)])
        with torch.no_grad():
            render = renderer.render(
                in_camera.verts,
                hand_out.faces,
                K,
                TexturesUV(hand_out.texture, hand_out.verts_uvs, hand_out.faces_uvs),
                light=SHLight(torch.tensor(lights, dtype=torch.float32)),
            )
            joints = in_camera.joints
            joints2d = project_points(joints, K)[..., :2]
        rgb = render.rgb.permute(0, 2, 3, 1).numpy()
        alpha = render.alpha[:, 0].numpy()
        for i in range(count):
            index = start + i
            background = sample_background(rng, size, options.background)
            image = rgb[i] + (1 - alpha[i])[..., None] * background  # rendered over black
            sigma = rng.uniform(*options.blur_sigma_px)
            if sigma > 0.05:
                image = cv2.GaussianBlur(image, (0, 0), sigma)
            image = image + rng.normal(0, rng.uniform(*options.noise_std), size=image.shape)
            cv2.imwrite(
                str(out / prefix / "rgb" / f"{index:08d}.jpg"),
                cv2.cvtColor(_to_uint8(image), cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 95],
            )
            cv2.imwrite(str(out / prefix / "mask" / f"{index:08d}.jpg"), np.where(alpha[i] >= 0.5, 255, 0).astype(np.uint8))
            all_params.append(
                {
                    "shape": coeffs[0][i].tolist(),
                    "pose": pose[i].tolist(),
                    "texture": coeffs[2][i].tolist(),
                    "light_sh": lights[i].tolist(),
                    "root": root[i].tolist(),
                    "joints2d": joints2d[i].tolist(),
                }
            )
        all_K.append(K.numpy())
        all_xyz.append(joints.numpy())
        all_verts.append(in_camera.eval_verts.numpy())
        all_scale.append(torch.linalg.vector_norm(joints[:, ROOT_INDEX] - joints[:, ROOT_INDEX + 1], dim=-1).numpy())
        all_2d.append(joints2d.numpy())
        if progress is not None:
            progress.advance(task, count)
    _write_json(out / f"{prefix}_K.json", np.concatenate(all_K), 6)
    _write_json(out / f"{prefix}_xyz.json", np.concatenate(all_xyz), 7)
    _write_json(out / f"{prefix}_verts.json", np.concatenate(all_verts), 6)
    _write_json(out / f"{prefix}_scale.json", np.concatenate(all_scale), 7)
    (out / f"{prefix}_params.json").write_text(json.dumps(all_params))
    return np.concatenate(all_2d)


def write_openpose(path: Path, joints2d: np.ndarray, rng: np.random.Generator, size: int) -> None:
    """Write detections in the reference's layout: ``[peaks N×21×2, values N×21×1, names]``."""
    peaks, values = openpose_detections(joints2d, rng, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [f"{i:08d}.jpg" for i in range(len(peaks))]
    path.write_text(json.dumps([peaks.tolist(), np.round(values[..., None], 4).tolist(), names]))


def generate(
    out: str | Path,
    num_train: int = 1000,
    num_eval: int = 200,
    seed: int = 0,
    assets_dir: Optional[str | Path] = None,
    options: SceneOptions = SceneOptions(),
    supersample: int = 2,
    overwrite: bool = False,
    show_progress: bool = True,
) -> Path:
    """Generate the synthetic dataset into ``out`` (see the module docstring); returns ``out``.

    Args:
        out: target folder; must not exist unless ``overwrite``.
        num_train, num_eval: samples in the training and evaluation splits.
        seed: seed of every random choice (the same seed gives the same dataset).
        assets_dir: NIMBLE-format assets to render (default: the open hand).
    """
    from rich.progress import Progress

    out = Path(out)
    if num_train < 1 or num_eval < 1:
        raise ValueError(f"num_train and num_eval: expected at least 1 sample each, got {num_train} and {num_eval}")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; remove it or pass overwrite=True (--overwrite)")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    hand = load_hand_model("open_hand" if assets_dir is None else "nimble", assets_dir)
    if hand.texture_kind != "uv":
        raise TypeError("the synthetic data needs a hand with a UV texture (NIMBLE format)")
    renderer = Renderer(options.image_size, supersample=supersample, shading="sh", background=(0.0, 0.0, 0.0))
    with folder_written_atomically(out) as partial:
        with Progress(disable=not show_progress) as progress:
            train_2d = render_split(hand, renderer, partial, "training", num_train, rng, options, progress=progress)
            eval_2d = render_split(hand, renderer, partial, "evaluation", num_eval, rng, options, progress=progress)
        write_openpose(partial / "outputs" / "freihand-train_openpose_keypoints.json", train_2d, rng, options.image_size)
        write_openpose(partial / "openpose" / "evaluation" / "detect.json", eval_2d, rng, options.image_size)
        (partial / "README.md").write_text(
            f"Synthetic hands in the FreiHAND v2 layout, made by scripts/make_synthetic.py "
            f"(seed {seed}, {num_train} training and {num_eval} evaluation samples, {options.background} backgrounds).\n"
        )
    return out
