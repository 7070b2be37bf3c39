"""Multi-view synthetic hands (FMHR's setting): one hand seen by several calibrated cameras.

Each hand draws a shape, pose and texture from the open hand's PCA priors (as
:mod:`hifihr.data.synthetic`), is placed with its root keypoint at the world origin, fingers up
(-y), palm towards -z, and is rendered by ``views`` fitting cameras and ``holdout`` further
cameras (for novel-view evaluation), each with its own SH light (FMHR optimises one light per
view) and a flat background colour. Camera centres lie on a sphere of radius ``distance_m``
around the root: the fitting cameras on a Fibonacci spiral (one view: straight in front of the
palm), the held-out ones on a second spiral shifted by half a step and turned by half the golden
angle, so no held-out camera repeats a fitting one.

Layout written by :func:`generate_multiview` (``scripts/make_synthetic.py --views N``)::

    <out>/README.md
    <out>/hand_%04d/meta.json         image_size, shape/pose/texture coefficients,
                                      joints_world [21, 3], verts_world [V, 3] (metres),
                                      views: [{image, mask, split ("fit" | "holdout"),
                                               K [3, 3] (px), R [3, 3], t [3] (world -> camera,
                                               X_cam = R X + t, metres), light_sh [9, 3]}]
    <out>/hand_%04d/view_%02d.png     RGB, 8 bit, lossless
    <out>/hand_%04d/mask_%02d.png     hand coverage >= 0.5, 0/255
    <out>/hand_%04d/texture.png       the true albedo map (row 0 = top, v = 1)

:func:`load_multiview` reads one hand folder into a :class:`MultiViewCase`.
"""

from __future__ import annotations

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
from ..render import Renderer, SHLight, TexturesUV
from .io import folder_written_atomically
from .synthetic import PALM_TO_CAMERA, sample_background, sample_light

#: Values of a view's ``split``.
VIEW_SPLITS = ("fit", "holdout")


@dataclass(frozen=True)
class MultiViewOptions:
    """Scene parameters of the multi-view hands.

    Attributes:
        image_size: side of each square view, pixels.
        distance_m: camera distance from the hand's root keypoint, metres.
        hand_fraction: the hand's length (about 0.18 m for the mean hand) over the image side,
            which sets the focal length: f = hand_fraction · image_size · distance / 0.18.
        coeff_std: std of the normalised shape / pose / texture coefficients (clipped at
            ``coeff_clip``).
        supersample: anti-aliasing factor of the renders.
        noise_std: Gaussian sensor noise, [0, 1] units (0: clean).
    """

    image_size: int = 128
    distance_m: float = 0.5
    hand_fraction: float = 0.7
    coeff_std: tuple[float, float, float] = (0.8, 0.6, 1.0)
    coeff_clip: float = 2.0
    supersample: int = 3
    noise_std: float = 0.0


def look_at(centre: np.ndarray, target: np.ndarray = np.zeros(3)) -> tuple[np.ndarray, np.ndarray]:
    """World -> OpenCV camera (R [3, 3], t [3]) of a camera at ``centre`` looking at ``target``,
    with image "down" as close as possible to world +y (the hand's fingers point to -y, up)."""
    forward = target - centre
    forward = forward / np.linalg.norm(forward)
    down = np.array([0.0, 1.0, 0.0])
    if abs(forward @ down) > 0.99:
        down = np.array([0.0, 0.0, 1.0])
    right = np.cross(down, forward)
    right /= np.linalg.norm(right)
    R = np.stack([right, np.cross(forward, right), forward])
    return R, -R @ centre


def camera_directions(count: int, offset: float = 0.0, turn: float = 0.0) -> np.ndarray:
    """Unit vectors [count, 3] from the hand towards each camera, a Fibonacci spiral about the
    palm's side (-z): camera i at cos(polar) = 1 - 2 (i + offset) / count from -z, azimuth
    i · golden angle + ``turn``. ``offset`` 0 puts camera 0 straight in front of the palm."""
    golden = math.pi * (3.0 - math.sqrt(5.0))
    index = np.arange(count)
    cos_polar = 1.0 - 2.0 * (index + offset) / count
    sin_polar = np.sqrt(np.clip(1.0 - cos_polar**2, 0.0, None))
    azimuth = golden * index + turn
    return np.stack([sin_polar * np.cos(azimuth), sin_polar * np.sin(azimuth), -cos_polar], axis=1)


@dataclass(frozen=True)
class MultiViewCase:
    """One hand seen by several cameras (one split of its views).

    Attributes:
        images: [N, 3, H, W] RGB in [0, 1].
        masks: [N, 1, H, W] hand masks in {0, 1}.
        K: [N, 3, 3] intrinsics, pixels. R: [N, 3, 3], t: [N, 3] world -> camera (metres).
        lights: [N, 9, 3] true SH coefficients of each view (camera frame).
        joints_world: [21, 3] true keypoints, metres, world frame (root keypoint at the origin).
        verts_world: [V, 3] true skin vertices, metres, world frame.
        shape, pose, texture: the true normalised coefficients ([S], [3 + P], [T]).
        texture_map: [Ht, Wt, 3] true albedo map.
        names: the image file names of the views.
    """

    images: torch.Tensor
    masks: torch.Tensor
    K: torch.Tensor
    R: torch.Tensor
    t: torch.Tensor
    lights: torch.Tensor
    joints_world: torch.Tensor
    verts_world: torch.Tensor
    shape: torch.Tensor
    pose: torch.Tensor
    texture: torch.Tensor
    texture_map: torch.Tensor
    names: tuple[str, ...]

    @property
    def num_views(self) -> int:
        return self.images.shape[0]

    def select(self, views: list[int]) -> MultiViewCase:
        """The case restricted to the views at ``views`` (indices into this case)."""
        index = torch.tensor(views, dtype=torch.long)
        return MultiViewCase(
            images=self.images[index], masks=self.masks[index], K=self.K[index], R=self.R[index], t=self.t[index],
            lights=self.lights[index], joints_world=self.joints_world, verts_world=self.verts_world,
            shape=self.shape, pose=self.pose, texture=self.texture, texture_map=self.texture_map,
            names=tuple(self.names[i] for i in views),
        )  # fmt: skip


def _read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def _matrix(view: dict, key: str, shape: tuple[int, ...], path: Path) -> torch.Tensor:
    if key not in view:
        raise KeyError(f"{path}: a view lacks {key!r} (expected keys: image, mask, split, K, R, t, light_sh)")
    value = torch.tensor(view[key], dtype=torch.float32)
    if tuple(value.shape) != shape:
        raise ValueError(f"{path}: view {key!r}: expected shape {list(shape)}, got {list(value.shape)}")
    return value


def load_multiview(folder: str | Path, split: str = "fit") -> MultiViewCase:
    """Read the views of one split of a multi-view hand folder (module docstring's layout).

    Args:
        folder: a ``hand_%04d`` folder holding ``meta.json``.
        split: ``"fit"`` (the views to refine from) or ``"holdout"`` (novel views).

    Raises:
        FileNotFoundError: no ``meta.json`` or a missing image. ValueError: unknown split, a
        malformed field, or no view in the split.
    """
    folder = Path(folder)
    if split not in VIEW_SPLITS:
        raise ValueError(f"split: expected one of {VIEW_SPLITS}, got {split!r}")
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path} not found: expected a hand folder written by scripts/make_synthetic.py --views N")
    meta = json.loads(meta_path.read_text())
    views = [v for v in meta["views"] if v.get("split") == split]
    if not views:
        raise ValueError(f"{meta_path}: no view with split {split!r}")
    images, masks = [], []
    for view in views:
        images.append(_read_rgb(folder / view["image"]))
        mask = cv2.imread(str(folder / view["mask"]), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise FileNotFoundError(f"cannot read mask {folder / view['mask']}")
        masks.append((mask >= 128).astype(np.float32))
    return MultiViewCase(
        images=torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(),
        masks=torch.from_numpy(np.stack(masks))[:, None],
        K=torch.stack([_matrix(v, "K", (3, 3), meta_path) for v in views]),
        R=torch.stack([_matrix(v, "R", (3, 3), meta_path) for v in views]),
        t=torch.stack([_matrix(v, "t", (3,), meta_path) for v in views]),
        lights=torch.stack([_matrix(v, "light_sh", (9, 3), meta_path) for v in views]),
        joints_world=torch.tensor(meta["joints_world"], dtype=torch.float32),
        verts_world=torch.tensor(meta["verts_world"], dtype=torch.float32),
        shape=torch.tensor(meta["shape"], dtype=torch.float32),
        pose=torch.tensor(meta["pose"], dtype=torch.float32),
        texture=torch.tensor(meta["texture"], dtype=torch.float32),
        texture_map=torch.from_numpy(_read_rgb(folder / "texture.png")),
        names=tuple(v["image"] for v in views),
    )


def list_hands(root: str | Path) -> list[Path]:
    """The ``hand_%04d`` folders under a multi-view dataset root, sorted."""
    hands = sorted(p for p in Path(root).glob("hand_*") if (p / "meta.json").is_file())
    if not hands:
        raise FileNotFoundError(f"no hand_*/meta.json under {root}: write one with scripts/make_synthetic.py --views N")
    return hands


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def render_hand(
    hand: HandModel,
    renderer: Renderer,
    folder: Path,
    rng: np.random.Generator,
    views: int,
    holdout: int,
    options: MultiViewOptions,
) -> None:
    """Draw one hand and write its folder (module docstring's layout)."""
    coeffs = [
        np.clip(rng.normal(0, std, size=n), -options.coeff_clip, options.coeff_clip)
        for std, n in zip(options.coeff_std, (hand.num_shape, hand.num_pose - ROOT_POSE_SIZE, hand.num_texture))
    ]
    spin = Rotation.from_euler("z", rng.uniform(-15, 15), degrees=True)
    root_rotation = (spin * Rotation.from_matrix(PALM_TO_CAMERA)).as_rotvec()
    shape = torch.tensor(coeffs[0], dtype=torch.float32)[None]
    pose = torch.tensor(np.concatenate([root_rotation, coeffs[1]]), dtype=torch.float32)[None]
    texture = torch.tensor(coeffs[2], dtype=torch.float32)[None]
    with torch.no_grad():
        out = hand(shape, pose, texture)
    relative = out.placed(torch.zeros(1, 3))
    verts, joints = relative.verts, relative.joints
    size = options.image_size
    focal = options.hand_fraction * size * options.distance_m / 0.18
    golden = math.pi * (3.0 - math.sqrt(5.0))
    directions = np.concatenate([camera_directions(views), camera_directions(holdout, offset=0.5, turn=0.5 * golden)])
    cams = [look_at(options.distance_m * d) for d in directions]
    R = torch.tensor(np.stack([c[0] for c in cams]), dtype=torch.float32)
    t = torch.tensor(np.stack([c[1] for c in cams]), dtype=torch.float32)
    count = len(cams)
    centre = size / 2 + rng.uniform(-3, 3, size=(count, 2))
    K = torch.tensor([[[focal, 0, cx], [0, focal, cy], [0, 0, 1]] for cx, cy in centre], dtype=torch.float32)
    lights = np.stack([sample_light(rng) for _ in range(count)])
    with torch.no_grad():
        render = renderer.render(
            verts.expand(count, -1, -1),
            out.faces,
            K,
            TexturesUV(out.texture, out.verts_uvs, out.faces_uvs),
            light=SHLight(torch.tensor(lights, dtype=torch.float32)),
            R=R,
            t=t,
        )
    rgb = render.rgb.permute(0, 2, 3, 1).numpy()
    alpha = render.alpha[:, 0].numpy()
    folder.mkdir(parents=True)
    meta_views = []
    for i in range(count):
        image = rgb[i] + (1 - alpha[i])[..., None] * sample_background(rng, size, "flat")
        if options.noise_std > 0:
            image = image + rng.normal(0, options.noise_std, size=image.shape)
        name, mask_name = f"view_{i:02d}.png", f"mask_{i:02d}.png"
        cv2.imwrite(str(folder / name), cv2.cvtColor(_to_uint8(image), cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(folder / mask_name), np.where(alpha[i] >= 0.5, 255, 0).astype(np.uint8))
        meta_views.append(
            {
                "image": name,
                "mask": mask_name,
                "split": "fit" if i < views else "holdout",
                "K": K[i].tolist(),
                "R": R[i].tolist(),
                "t": t[i].tolist(),
                "light_sh": lights[i].tolist(),
            }
        )
    cv2.imwrite(str(folder / "texture.png"), cv2.cvtColor(_to_uint8(out.texture[0].numpy()), cv2.COLOR_RGB2BGR))
    meta = {
        "image_size": size,
        "shape": coeffs[0].tolist(),
        "pose": pose[0].tolist(),
        "texture": coeffs[2].tolist(),
        "joints_world": joints[0].tolist(),
        "verts_world": verts[0].tolist(),
        "views": meta_views,
    }
    (folder / "meta.json").write_text(json.dumps(meta))


def generate_multiview(
    out: str | Path,
    num_hands: int = 4,
    views: int = 4,
    holdout: int = 2,
    seed: int = 0,
    assets_dir: Optional[str | Path] = None,
    options: MultiViewOptions = MultiViewOptions(),
    overwrite: bool = False,
) -> Path:
    """Write ``num_hands`` multi-view hands into ``out`` (module docstring's layout), built in a
    temporary folder and renamed into place; returns ``out``.

    Args:
        views: fitting cameras per hand (>= 1). holdout: held-out cameras per hand (>= 0).
        seed: seed of every random choice; hand i draws from ``default_rng([seed, i])``, its
            shape, pose, texture and spin first, so it is the same hand whatever ``views``.
        assets_dir: NIMBLE-format assets (default: the open hand).
    """
    out = Path(out)
    if num_hands < 1 or views < 1 or holdout < 0:
        raise ValueError(f"expected num_hands >= 1, views >= 1, holdout >= 0; got {num_hands}, {views}, {holdout}")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; remove it or pass overwrite=True (--overwrite)")
    hand = load_hand_model("open_hand" if assets_dir is None else "nimble", assets_dir)
    if hand.texture_kind != "uv":
        raise TypeError("the multi-view data needs a hand with a UV texture (NIMBLE format)")
    renderer = Renderer(options.image_size, supersample=options.supersample, shading="sh", background=(0.0, 0.0, 0.0))
    with folder_written_atomically(out) as partial:
        for index in range(num_hands):
            # one generator per hand, drawing the hand first: hand i is the same for every N
            rng = np.random.default_rng([seed, index])
            render_hand(hand, renderer, partial / f"hand_{index:04d}", rng, views, holdout, options)
        (partial / "README.md").write_text(
            f"Multi-view synthetic hands made by scripts/make_synthetic.py --views {views} "
            f"(seed {seed}, {num_hands} hands, {views} fitting and {holdout} held-out views each); "
            "layout in hifihr/data/multiview.py.\n"
        )
    return out
