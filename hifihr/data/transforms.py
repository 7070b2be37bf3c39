"""Crops, mirroring, in-plane rotation and colour jitter, as pure functions.

Conventions: pixel coordinates are continuous with pixel ``(i, j)`` covering ``[i, i+1) ×
[j, j+1)`` and its centre at ``(i + 0.5, j + 0.5)``; cameras are OpenCV pinhole cameras
``K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` (no skew), 3D points in metres in the camera frame
(x right, y down, z forward), and ``u = (K X)_x / (K X)_z``.

A :class:`View` describes how an output crop sees the source image and camera. It holds three
things that always agree:

* ``rotation`` ``R`` [3, 3]: 3D points of the output are ``X' = R X`` (a rotation about the
  camera's z axis, possibly combined with the mirror ``diag(-1, 1, 1)``);
* ``K`` [3, 3]: the output intrinsics, a proper pinhole matrix;
* ``affine`` ``A`` [3, 3] (last row ``[0, 0, 1]``): output pixels ``p' = A p`` of source pixels,
  with ``A = K' R K⁻¹``.

Because ``A = K' R K⁻¹``, ``project(K', R X) = A · project(K, X)`` exactly: warping the image
and the stored 2D keypoints with ``A`` and moving the 3D annotations with ``R`` keep every
annotation consistent. How each step changes K:

* crop and scale (:func:`crop`): ``K' = S K`` with ``S = [[z, 0, tx], [0, z, ty], [0, 0, 1]]``,
  the same affine map as the pixels (focal lengths times z, principal point mapped by S);
* rotation by θ about a pixel ``c`` (:func:`rotate`): the 3D rotates about the optical axis,
  ``R = Rz(θ)``; fx and fy stay, and the principal point moves so that ``c`` is a fixed point
  of ``A``. For a rotation about the principal point with fx = fy, K does not change and only
  the 3D rotates (the FreiHAND case);
* mirror (:func:`mirror`): ``u' = W − u``, ``X' = −X``, ``cx' = W − cx`` (fx stays positive).

Worked example: a 224² FreiHAND image with ``K = [[500, 0, 112], [0, 500, 112], [0, 0, 1]]``
rotated by 90° about (112, 112): ``R = Rz(90°)`` maps ``X = (0.01, 0, 0.5)`` to
``(0, 0.01, 0.5)``; K is unchanged; the pixel ``(122, 112)`` moves to ``(112, 122)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

# ITU-R 601 luma weights, as torchvision's rgb_to_grayscale.
_GRAY = np.array([0.2989, 0.587, 0.114])
# RGB -> YIQ (FCC 1953); hue is a rotation of the (I, Q) chroma plane.
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def project(K: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pinhole projection of points [N, 3] (camera frame, z > 0) with K [3, 3] -> pixels [N, 2]."""
    homogeneous = points @ K.T
    return homogeneous[:, :2] / homogeneous[:, 2:3]


def apply_affine(A: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map pixels [N, 2] by the affine matrix A [3, 3] (last row [0, 0, 1]) -> pixels [N, 2]."""
    return points @ A[:2, :2].T + A[:2, 2]


def rotation_z(angle: float) -> np.ndarray:
    """``Rz(θ)`` [3, 3]: rotates the camera frame about its optical (z) axis.

    In the image (x right, y down) a positive angle turns the picture clockwise.
    """
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _check_pinhole(K: np.ndarray) -> None:
    if K.shape != (3, 3):
        raise ValueError(f"K: expected [3, 3], got {K.shape}")
    if abs(K[0, 1]) > 1e-9 or np.abs(K[2] - (0.0, 0.0, 1.0)).max() > 1e-9 or K[1, 0] != 0.0:
        raise ValueError(f"K: expected a pinhole matrix [[fx,0,cx],[0,fy,cy],[0,0,1]], got {K.tolist()}")


@dataclass(frozen=True)
class View:
    """The source-to-output mapping of one sample (see the module docstring).

    Attributes:
        K: [3, 3] float64 output intrinsics (pixels).
        rotation: [3, 3] float64, ``X_out = rotation @ X_src`` (metres, OpenCV camera frame).
        affine: [3, 3] float64, ``p_out = affine @ p_src`` for homogeneous pixels.
    """

    K: np.ndarray
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    affine: np.ndarray = field(default_factory=lambda: np.eye(3))

    @staticmethod
    def identity(K: np.ndarray) -> "View":
        """The view of the source image itself."""
        K = np.asarray(K, dtype=np.float64)
        _check_pinhole(K)
        return View(K=K)

    def points3d(self, points: np.ndarray) -> np.ndarray:
        """Source-frame 3D points [N, 3] -> output frame [N, 3]."""
        return points @ self.rotation.T

    def points2d(self, pixels: np.ndarray) -> np.ndarray:
        """Source pixels [N, 2] -> output pixels [N, 2]."""
        return apply_affine(self.affine, pixels)


def mirror(view: View, width: float) -> View:
    """Mirror the current image left-right: ``u' = width − u``, ``X' = (−X, Y, Z)``, ``cx' = width − cx``."""
    flip = np.array([[-1.0, 0.0, width], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    K = view.K.copy()
    K[0, 2] = width - K[0, 2]
    return View(K=K, rotation=np.diag([-1.0, 1.0, 1.0]) @ view.rotation, affine=flip @ view.affine)


def crop(view: View, center: np.ndarray, side: float, out_size: int) -> View:
    """Crop a square of ``side`` pixels centred on ``center`` [2] and scale it to ``out_size``².

    ``K' = S K`` with ``S`` the pixel map of the crop, so K stays a pinhole matrix.
    """
    if side <= 0:
        raise ValueError(f"crop side must be positive, got {side}")
    zoom = out_size / side
    S = np.array(
        [[zoom, 0.0, out_size / 2 - zoom * center[0]], [0.0, zoom, out_size / 2 - zoom * center[1]], [0.0, 0.0, 1.0]]
    )
    return View(K=S @ view.K, rotation=view.rotation, affine=S @ view.affine)


def rotate(view: View, angle: float, center: np.ndarray) -> View:
    """Rotate the output by ``angle`` radians about the pixel ``center`` [2] (clockwise on screen).

    The 3D annotations rotate about the camera's z axis by ``Rz(angle)``; fx and fy are kept and
    the principal point moves so that ``center`` stays fixed: with ``a = (c_x − cx)/fx`` and
    ``b = (c_y − cy)/fy``, ``cx' = c_x − fx (cos θ a − sin θ b)`` and
    ``cy' = c_y − fy (sin θ a + cos θ b)``. When fx = fy the pixels rotate rigidly about
    ``center``; otherwise the pixel map is the affine ``K' Rz K⁻¹`` (slightly anisotropic).
    """
    K = view.K
    Rz = rotation_z(angle)
    a = (center[0] - K[0, 2]) / K[0, 0]
    b = (center[1] - K[1, 2]) / K[1, 1]
    c, s = math.cos(angle), math.sin(angle)
    K_new = K.copy()
    K_new[0, 2] = center[0] - K[0, 0] * (c * a - s * b)
    K_new[1, 2] = center[1] - K[1, 1] * (s * a + c * b)
    step = K_new @ Rz @ np.linalg.inv(K)
    step[2] = (0.0, 0.0, 1.0)  # exact, removes round-off
    return View(K=K_new, rotation=Rz @ view.rotation, affine=step @ view.affine)


def _opencv_matrix(affine: np.ndarray) -> np.ndarray:
    """Our continuous-pixel affine -> OpenCV's (pixel centres at integers): shift by ∓0.5."""
    linear, offset = affine[:2, :2], affine[:2, 2]
    return np.concatenate([linear, (offset + linear @ (0.5, 0.5) - 0.5)[:, None]], axis=1)


def warp_image(image: np.ndarray, affine: np.ndarray, out_size: int, *, nearest: bool = False) -> np.ndarray:
    """Resample ``image`` [H, W] or [H, W, C] (any dtype OpenCV takes) into an ``out_size``² crop.

    Output pixel centres ``p'`` take the source value at ``affine⁻¹ p'`` (bilinear, or nearest
    with ``nearest``); outside the source the value is 0. When the crop shrinks the image by more
    than 1.5× (|det| of the linear part below 1/1.5²), the source is first reduced with
    ``cv2.INTER_AREA`` (a box filter) to about the output resolution, so the result is not
    aliased; the pre-scale is folded into ``affine`` so geometry is unchanged.
    """
    height, width = image.shape[:2]
    zoom = math.sqrt(abs(np.linalg.det(affine[:2, :2])))
    if not nearest and zoom < 1 / 1.5:
        new_w, new_h = max(1, round(width * zoom)), max(1, round(height * zoom))
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
        # cv2.resize maps continuous coordinates by the exact size ratios.
        affine = affine @ np.diag([width / new_w, height / new_h, 1.0])
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpAffine(
        image, _opencv_matrix(affine), (out_size, out_size), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


@dataclass(frozen=True)
class Augmentation:
    """Random augmentation of a training crop. Every field at its default means "off".

    Attributes:
        rotation_deg: in-plane rotation about the crop centre, uniform in ±rotation_deg degrees.
        scale_range: (low, high): the crop zoom is multiplied by a factor uniform in this range
            (above 1 zooms in).
        translation_std_px: standard deviation of a Gaussian shift of the crop centre, in
            source-image pixels.
        brightness, contrast, saturation: factors uniform in [max(0, 1 − v), 1 + v], as
            torchvision's ``ColorJitter``.
        hue: hue rotation uniform in ±hue turns (at most 0.5), applied as a rotation of the
            YIQ chroma plane (which keeps gray pixels gray and the luma unchanged).
    """

    rotation_deg: float = 0.0
    scale_range: tuple[float, float] = (1.0, 1.0)
    translation_std_px: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0

    def __post_init__(self) -> None:
        low, high = self.scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale_range: expected 0 < low <= high, got {self.scale_range}")
        for name in ("rotation_deg", "translation_std_px", "brightness", "contrast", "saturation", "hue"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected >= 0, got {getattr(self, name)}")
        if self.hue > 0.5:
            raise ValueError(f"hue: expected at most 0.5 turns, got {self.hue}")

    def with_options(self, **changes: object) -> "Augmentation":
        """A copy with some fields changed (``scale_range`` may be given as a list)."""
        if "scale_range" in changes:
            changes["scale_range"] = tuple(changes["scale_range"])  # type: ignore[arg-type]
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class AugmentParams:
    """One draw of :class:`Augmentation`: angle (radians), zoom factor, centre shift [2] (source
    pixels) and colour factors (brightness, contrast, saturation multipliers; hue in turns)."""

    angle: float = 0.0
    zoom: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    hue: float = 0.0

    @property
    def has_color(self) -> bool:
        return (self.brightness, self.contrast, self.saturation, self.hue) != (1.0, 1.0, 1.0, 0.0)


def sample_augmentation(aug: Augmentation, rng: np.random.Generator) -> AugmentParams:
    """Draw the parameters of one augmented crop from ``rng`` (fields that are off draw nothing)."""

    def factor(v: float) -> float:
        return float(rng.uniform(max(0.0, 1.0 - v), 1.0 + v)) if v > 0 else 1.0

    angle = math.radians(float(rng.uniform(-aug.rotation_deg, aug.rotation_deg))) if aug.rotation_deg > 0 else 0.0
    low, high = aug.scale_range
    zoom = float(rng.uniform(low, high)) if high > low else low
    shift = tuple(rng.normal(0.0, aug.translation_std_px, 2).tolist()) if aug.translation_std_px > 0 else (0.0, 0.0)
    return AugmentParams(
        angle=angle,
        zoom=zoom,
        shift=shift,  # type: ignore[arg-type]
        brightness=factor(aug.brightness),
        contrast=factor(aug.contrast),
        saturation=factor(aug.saturation),
        hue=float(rng.uniform(-aug.hue, aug.hue)) if aug.hue > 0 else 0.0,
    )


def color_matrix(params: AugmentParams, mean_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The colour jitter as one affine map per pixel, ``rgb' = M rgb + o``.

    Applied in the order brightness, contrast, saturation, hue (torchvision's ops, fixed order):
    brightness ``x·b``; contrast ``c·x + (1 − c)·m`` with ``m`` the mean gray level of the image
    at that point (computed from ``mean_rgb`` [3], the image's mean colour); saturation
    ``s·x + (1 − s)·gray(x)``; hue a rotation of the YIQ chroma plane by ``2π·hue``.

    Returns:
        M [3, 3], o [3] (float64).
    """
    M, o = np.eye(3), np.zeros(3)
    M, o = params.brightness * M, params.brightness * o
    gray_mean = _GRAY @ (M @ mean_rgb + o)
    M, o = params.contrast * M, params.contrast * o + (1.0 - params.contrast) * gray_mean
    S = params.saturation * np.eye(3) + (1.0 - params.saturation) * np.outer(np.ones(3), _GRAY)
    M, o = S @ M, S @ o
    angle = 2.0 * math.pi * params.hue
    c, s = math.cos(angle), math.sin(angle)
    H = np.linalg.inv(_RGB_TO_YIQ) @ np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]]) @ _RGB_TO_YIQ
    return H @ M, H @ o


def color_jitter(image: np.ndarray, params: AugmentParams) -> np.ndarray:
    """Apply the colour factors of ``params`` to an RGB image [H, W, 3] uint8 -> uint8.

    One OpenCV ``transform`` with the matrix of :func:`color_matrix` (8-bit fixed point: within
    one level of the exact values); values are saturated to [0, 255] once at the end
    (torchvision clamps after each op).
    """
    mean_rgb = np.array(cv2.mean(image)[:3]) / 255.0
    M, o = color_matrix(params, mean_rgb)
    return cv2.transform(image, np.concatenate([M, 255.0 * o[:, None]], axis=1).astype(np.float32))
