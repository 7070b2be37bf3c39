"""Refinement of a hand from calibrated views by inverse rendering, in three switchable stages.

The hand is a NIMBLE-format layer (the open hand by default) placed in the world frame:
``verts = layer(shape, pose, texture).verts - keypoint_9 + translation``, with the global
orientation in ``pose[:, :3]``. Each view renders it with its own K, R, t and SH light.

* **(a) keypoints**: global orientation, translation, pose and shape from the 2D keypoints of
  every view (confidence-weighted squared reprojection error, in percent of the image side),
  with the model's priors (mean squares of the normalised pose and shape coefficients).
* **(b) render**: (a)'s terms plus the soft silhouette against the mask, the photometric L1
  of the hand render against the image, and ``uv_align`` (:mod:`hifihr.losses.uv_align`), with
  the texture coefficients and one SH light per view also free.
* **(c) HAM** (FMHR's Hand Albedo and Mesh optimisation): the parametric mesh of (b) is held;
  free per-vertex offsets (optionally after one midpoint subdivision: topology refined, never
  changed) and a free albedo initialised from (b)'s texture (a per-vertex change written into
  the map, or every texel free: ``HamStage.albedo``), with the lights, minimise
  the photometric L1 + 20 albedo Laplacian + 40 vertex-offset Laplacian + 20 |silhouette -
  parametric silhouette| + 100 edge-length change + 2 displacement (lengths in
  ``length_unit_m``), Adam, 100 iterations.

Each stage records its loss per iteration and its wall time in :class:`StageRecord`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import cv2
import numpy as np
import torch
from torch import Tensor

from hifihr.hand import ROOT_POSE_SIZE, HandModel
from hifihr.losses.uv_align import alignment_error, visible_surface
from hifihr.render import Renderer, SHLight, TexturesUV

from .mesh import (
    displacement_energy,
    edge_length_energy,
    image_laplacian_energy,
    laplacian_energy,
    mesh_edges,
    subdivide_midpoint,
    uv_texels,
    vertex_values_to_map,
)
from .views import FitViews

#: The stage names, in order.
STAGES = ("keypoints", "render", "ham")

#: HAM's free albedo: ``"vertex"``, a per-vertex colour change added to the texture-space map
#: (written into the map through the UV layout), or ``"uv"``, every texel of the map free.
ALBEDO_MODES = ("vertex", "uv")

#: Fingers up (-y), palm towards the camera (-z), thumb right (+x): NIMBLE's fingers point along
#: +z, the palm faces -y and the thumb is on +x (as ``hifihr.data.synthetic.PALM_TO_CAMERA``).
PALM_TO_CAMERA = ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0))


@dataclass(frozen=True)
class KeypointStage:
    """Stage (a). Weights multiply: keypoints (mean over views and joints of conf x squared
    error in percent of the image side), pose_prior and shape_prior (mean squares of the
    normalised coefficients)."""

    enabled: bool = True
    iterations: int = 150
    lr: float = 0.05
    lr_translation_m: float = 0.005
    keypoints: float = 1.0
    pose_prior: float = 0.05
    shape_prior: float = 0.05


@dataclass(frozen=True)
class RenderStage:
    """Stage (b). Terms: keypoints and priors as (a), texture_prior (mean square of the texture
    coefficients), silhouette (mean |soft silhouette - mask|, needs masks), photometric (mean
    |hand render - masked image| over the mask-or-coverage pixels), uv_align. ``lr_texture``
    is ten times ``lr``: the texture coefficients start at the mean texture and reach |2|
    within the stage's iterations (Adam moves each by about its lr per step)."""

    enabled: bool = True
    iterations: int = 80
    lr: float = 0.02
    lr_texture: float = 0.2
    lr_translation_m: float = 0.001
    lr_light: float = 0.05
    keypoints: float = 0.1
    pose_prior: float = 0.05
    shape_prior: float = 0.05
    texture_prior: float = 0.01
    silhouette: float = 1.0
    photometric: float = 1.0
    uv_align: float = 1.0


@dataclass(frozen=True)
class HamStage:
    """Stage (c), FMHR's HAM, with FMHR's weights. ``albedo``: one of :data:`ALBEDO_MODES`
    (``albedo_laplacian`` is then the mean squared umbrella Laplacian of the per-vertex change,
    or the 5-point Laplacian of the map). ``length_unit_m``: unit of the geometric terms (0.01:
    centimetres). ``albedo_size``: side of the albedo map (None: the hand's texture size)."""

    enabled: bool = True
    iterations: int = 100
    lr_offsets_m: float = 5e-5
    lr_albedo: float = 0.01
    lr_light: float = 0.05
    subdivide: bool = False
    photometric: float = 1.0
    albedo_laplacian: float = 20.0
    vertex_laplacian: float = 40.0
    mask: float = 20.0
    edge_length: float = 100.0
    displacement: float = 2.0
    length_unit_m: float = 0.01
    albedo_size: Optional[int] = None
    albedo: str = "vertex"

    def __post_init__(self) -> None:
        if self.albedo not in ALBEDO_MODES:
            raise ValueError(f"ham.albedo: expected one of {', '.join(ALBEDO_MODES)}, got {self.albedo!r}")


@dataclass(frozen=True)
class FitOptions:
    """All stages and the renderer used while fitting."""

    keypoints: KeypointStage = KeypointStage()
    render: RenderStage = RenderStage()
    ham: HamStage = HamStage()
    supersample: int = 2
    blur_radius_px: float = 1.0
    init_depth_m: float = 0.5


@dataclass
class HandState:
    """The fitted hand (world frame, metres).

    Attributes:
        shape [1, S], pose [1, 3 + P] (global orientation axis-angle, then normalised pose
        PCA), texture [1, T], translation [1, 3] (world position of keypoint 9), lights
        [N, 9, 3] (per view, camera frame).
    """

    shape: Tensor
    pose: Tensor
    texture: Tensor
    translation: Tensor
    lights: Tensor

    def detached(self) -> HandState:
        return HandState(*(x.detach().clone() for x in (self.shape, self.pose, self.texture, self.translation, self.lights)))


@dataclass
class StageRecord:
    """Loss per iteration (``total`` and each weighted term), wall time and this process's
    CPU time of one stage (on a shared machine the CPU time is what a free core would take)."""

    name: str
    losses: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def log(self, terms: dict[str, Tensor]) -> None:
        for key, value in terms.items():
            self.losses.setdefault(key, []).append(float(value))


@dataclass
class FitResult:
    """What :func:`fit_hand` returns.

    Attributes:
        state: the parametric hand after the last parametric stage.
        initial_verts, parametric_verts, verts: [V', 3] world-frame skin before fitting, after
            (a)/(b), after (c) (V' > V after subdivision; the first V are the layer's vertices).
        faces: [F', 3] faces of ``verts`` (the layer's faces, or their subdivision).
        verts_uvs, faces_uvs: UV layout of ``verts``.
        texture_map: [Ht, Wt, 3] final albedo map. initial_texture_map: before fitting.
        joints: [21, 3] world keypoints of the parametric hand (the offsets do not move them).
        initial_joints: [21, 3] before fitting.
        stages: a record per stage that ran.
        lights: [N, 9, 3] final SH light of each view (camera frame).
        left: True for a left hand fitted in the mirrored views (:mod:`hifihr.fit.mirror`):
            meshes, keypoints and lights are the left hand's, ``state`` the mirrored hand's.
    """

    state: HandState
    initial_verts: Tensor
    parametric_verts: Tensor
    verts: Tensor
    faces: Tensor
    verts_uvs: Tensor
    faces_uvs: Tensor
    texture_map: Tensor
    initial_texture_map: Tensor
    joints: Tensor
    initial_joints: Tensor
    stages: list[StageRecord]
    lights: Tensor
    left: bool = False


def posed(hand: HandModel, state: HandState):
    """(verts [1, V, 3], joints [1, 21, 3], texture map [1, Ht, Wt, 3]) of ``state``, world frame."""
    out = hand(state.shape, state.pose, state.texture).placed(state.translation)
    return out.verts, out.joints, out.texture


def _rotvec(matrix: np.ndarray) -> np.ndarray:
    vec, _ = cv2.Rodrigues(np.asarray(matrix, dtype=np.float64))
    return vec[:, 0]


def initial_state(hand: HandModel, views: FitViews, options: FitOptions) -> HandState:
    """The mean hand placed by the keypoints of the first view that has at least 6 confident
    ones (PnP on the mean hand's keypoints, palm to the camera as the starting guess), else
    fingers up and palm to view 0 at ``init_depth_m`` on its optical axis. White lights."""
    num = views.num_views
    canonical = np.asarray(PALM_TO_CAMERA)
    zeros = lambda n: torch.zeros(1, n)  # noqa: E731
    base = HandState(
        shape=zeros(hand.num_shape), pose=torch.cat([torch.from_numpy(_rotvec(canonical)).float()[None], zeros(hand.num_pose - ROOT_POSE_SIZE)], 1),
        texture=zeros(hand.num_texture), translation=zeros(3), lights=SHLight.white(num).coeffs,
    )  # fmt: skip
    R_all, t_all = views.world_to_camera()
    with torch.no_grad():
        _, joints, _ = posed(hand, base)
    joints_rel = joints[0].double().numpy()
    for view in range(num):
        if views.keypoints2d is None:
            break
        good = (views.keypoint_conf[view] > 0.3).numpy()
        if good.sum() < 6:
            continue
        ok, rvec, tvec = cv2.solvePnP(
            joints_rel[good], views.keypoints2d[view][good].double().numpy(), views.K[view].double().numpy(), None,
            flags=cv2.SOLVEPNP_EPNP,
        )  # fmt: skip
        if not ok:
            continue
        ok, rvec, tvec = cv2.solvePnP(
            joints_rel[good], views.keypoints2d[view][good].double().numpy(), views.K[view].double().numpy(), None,
            rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE,
        )  # fmt: skip
        if not ok or tvec[2, 0] <= 0:
            continue
        rot_cam = cv2.Rodrigues(rvec)[0]
        R0, t0 = R_all[view].double().numpy(), t_all[view].double().numpy()
        rot_world = R0.T @ rot_cam
        trans_world = R0.T @ (tvec[:, 0] - t0)
        pose = base.pose.clone()
        pose[0, :3] = torch.from_numpy(_rotvec(rot_world @ canonical)).float()
        return HandState(base.shape, pose, base.texture, torch.from_numpy(trans_world).float()[None], base.lights)
    R0, t0 = R_all[0].double().numpy(), t_all[0].double().numpy()
    pose = base.pose.clone()
    pose[0, :3] = torch.from_numpy(_rotvec(R0.T @ canonical)).float()
    trans = R0.T @ (np.array([0.0, 0.0, options.init_depth_m]) - t0)
    return HandState(base.shape, pose, base.texture, torch.from_numpy(trans).float()[None], base.lights)


def keypoint_error(views: FitViews, joints_world: Tensor) -> Tensor:
    """Mean over views and joints of conf x |projection - keypoint|^2, in percent of the image
    side (max(H, W)); 0 without keypoints. joints_world: [21, 3]."""
    if views.keypoints2d is None:
        return joints_world.new_zeros(())
    uv = views.project(joints_world)
    scale = 100.0 / max(views.image_size)
    sq = ((uv - views.keypoints2d.to(uv)) * scale).pow(2).sum(-1)
    conf = views.keypoint_conf.to(uv)
    return (conf * sq).sum() / conf.sum().clamp_min(1e-6)


def dilate(masks: Tensor, radius_px: int) -> Tensor:
    """Binary dilation of masks [N, 1, H, W] by a (2r + 1)^2 square."""
    if radius_px <= 0:
        return masks
    return torch.nn.functional.max_pool2d(masks, 2 * radius_px + 1, stride=1, padding=radius_px)


def background_colours(images: Tensor, masks: Tensor, margin_px: int = 3) -> Tensor:
    """Mean colour [N, 3] of each image outside its mask dilated by ``margin_px``: the flat
    background the hand's edge pixels blend with (an estimate on cluttered photos)."""
    outside = 1.0 - dilate(masks, margin_px)
    return (images * outside).sum((2, 3)) / outside.sum((2, 3)).clamp_min(1.0)


def composite(render, background: Optional[Tensor]) -> Tensor:
    """The render [N, 3, H, W] over a background colour [N, 3] (the renderer draws on black:
    ``rgb + (1 - alpha) background``), or on black when ``background`` is None; clipped to
    [0, 1] as a camera saturates."""
    if background is None:
        return render.rgb.clamp(0.0, 1.0)
    return (render.rgb + (1.0 - render.alpha) * background[:, :, None, None].to(render.rgb)).clamp(0.0, 1.0)


def photometric_error(render, views: FitViews, background: Optional[Tensor] = None, margin_px: int = 3) -> Tensor:
    """Mean |render - image| per channel over the compared pixels.

    With masks: the render composited over ``background`` [N, 3] against the image, over the
    masks dilated by ``margin_px`` or the rendered coverage (edge pixels blend hand and
    background in both). Without masks: the hand render on black against the image masked by
    the rendered coverage, over that coverage (the self-supervised comparison).
    """
    if views.masks is None:
        region = render.alpha.detach()
        target, predicted = views.images * region, composite(render, None)
    else:
        region = torch.maximum(dilate(views.masks, margin_px), render.alpha.detach())
        target, predicted = views.images, composite(render, background)
    diff = (predicted - target).abs() * region
    return diff.sum() / (3.0 * region.sum().clamp_min(1.0))


def uv_align_error(render, views: FitViews) -> Tensor:
    """``uv_align`` over the views (:func:`hifihr.losses.uv_align.alignment_error`), mean."""
    points, predicted, weights = visible_surface(render.fragments, render.colors, render.verts_cam, render.faces)
    return alignment_error(views.images, points, predicted, weights, render.K).mean()


class Fitter:
    """Runs the stages on one set of views (see the module docstring).

    Args:
        hand: a NIMBLE-format layer (UV texture), float32.
        views: the views to fit.
        options: the stages' settings.
        progress: a ``rich.progress.Progress`` to show a bar per stage, or None.
    """

    def __init__(self, hand: HandModel, views: FitViews, options: FitOptions = FitOptions(), progress=None) -> None:
        if hand.texture_kind != "uv":
            raise TypeError("fitting needs a hand layer with a UV texture (open_hand or nimble): it refines a UV map")
        self.hand = hand
        self.views = views
        self.options = options
        self.progress = progress
        self.renderer = Renderer(
            views.image_size, supersample=options.supersample, shading="sh", background=(0.0, 0.0, 0.0),
            blur_radius_px=options.blur_radius_px,
        )  # fmt: skip
        self.R, self.t = views.world_to_camera()
        self.background = None if views.masks is None else background_colours(views.images, views.masks)

    def render(self, verts: Tensor, faces: Tensor, textures: TexturesUV, lights: Tensor, soft: bool = False):
        """Render world-frame ``verts`` [1, V, 3] into every view."""
        num = self.views.num_views
        return self.renderer.render(
            verts.expand(num, -1, -1), faces, self.views.K, textures, light=SHLight(lights), R=self.R, t=self.t,
            soft_silhouette=soft,
        )  # fmt: skip

    def _loop(self, name: str, iterations: int, optimizer: torch.optim.Optimizer, step: Callable[[], dict[str, Tensor]]) -> StageRecord:
        record = StageRecord(name)
        task = self.progress.add_task(f"stage {name:9s}", total=iterations) if self.progress is not None else None
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(iterations):
            terms = step()
            optimizer.zero_grad()
            terms["total"].backward()
            optimizer.step()
            record.log({k: v.detach() for k, v in terms.items()})
            if task is not None:
                self.progress.update(task, advance=1, description=f"stage {name:9s} loss {float(terms['total'].detach()):.4f}")
        record.seconds = time.perf_counter() - start
        record.cpu_seconds = time.process_time() - cpu_start
        return record

    def _priors(self, state: HandState, stage) -> dict[str, Tensor]:
        return {
            "keypoints": stage.keypoints * keypoint_error(self.views, posed(self.hand, state)[1][0]),
            "pose_prior": stage.pose_prior * state.pose[:, 3:].pow(2).mean(),
            "shape_prior": stage.shape_prior * state.shape.pow(2).mean(),
        }

    def fit_keypoints(self, state: HandState) -> tuple[HandState, StageRecord]:
        """Stage (a)."""
        stage = self.options.keypoints
        state = state.detached()
        for x in (state.shape, state.pose, state.translation):
            x.requires_grad_(True)
        optimizer = torch.optim.Adam(
            [{"params": [state.shape, state.pose], "lr": stage.lr}, {"params": [state.translation], "lr": stage.lr_translation_m}]
        )

        def step() -> dict[str, Tensor]:
            terms = self._priors(state, stage)
            terms["total"] = sum(terms.values())
            return terms

        record = self._loop("keypoints", stage.iterations, optimizer, step)
        return state.detached(), record

    def fit_render(self, state: HandState) -> tuple[HandState, StageRecord]:
        """Stage (b)."""
        stage = self.options.render
        state = state.detached()
        for x in (state.shape, state.pose, state.texture, state.translation, state.lights):
            x.requires_grad_(True)
        optimizer = torch.optim.Adam(
            [
                {"params": [state.shape, state.pose], "lr": stage.lr},
                {"params": [state.texture], "lr": stage.lr_texture},
                {"params": [state.translation], "lr": stage.lr_translation_m},
                {"params": [state.lights], "lr": stage.lr_light},
            ]
        )
        use_sil = stage.silhouette > 0 and self.views.masks is not None

        def step() -> dict[str, Tensor]:
            terms = self._priors(state, stage)
            verts, _, texture_map = posed(self.hand, state)
            textures = TexturesUV(texture_map, self.hand.verts_uvs, self.hand.faces_uvs)
            render = self.render(verts, self.hand.faces, textures, state.lights, soft=use_sil)
            terms["texture_prior"] = stage.texture_prior * state.texture.pow(2).mean()
            if use_sil:
                terms["silhouette"] = stage.silhouette * (render.soft_alpha - self.views.masks).abs().mean()
            terms["photometric"] = stage.photometric * photometric_error(render, self.views, self.background)
            if stage.uv_align > 0:
                terms["uv_align"] = stage.uv_align * uv_align_error(render, self.views)
            terms["total"] = sum(terms.values())
            return terms

        record = self._loop("render", stage.iterations, optimizer, step)
        return state.detached(), record

    def fit_ham(self, state: HandState, lights: Tensor):
        """Stage (c): returns (verts [1, V', 3], faces, verts_uvs, faces_uvs, albedo map [1, Ht, Wt, 3],
        lights [N, 9, 3], record)."""
        stage = self.options.ham
        with torch.no_grad():
            base_verts, _, texture_map = posed(self.hand, state)
        faces, verts_uvs, faces_uvs = self.hand.faces, self.hand.verts_uvs, self.hand.faces_uvs
        if stage.subdivide:
            base_verts, faces, verts_uvs, faces_uvs = subdivide_midpoint(base_verts, faces, verts_uvs, faces_uvs)
        if stage.albedo_size is not None and stage.albedo_size != texture_map.shape[1]:
            texture_map = torch.nn.functional.interpolate(
                texture_map.permute(0, 3, 1, 2), size=(stage.albedo_size,) * 2, mode="bilinear", align_corners=True
            ).permute(0, 2, 3, 1)
        with torch.no_grad():
            flat = TexturesUV(texture_map, verts_uvs, faces_uvs)
            parametric_sil = self.render(base_verts, faces, flat, lights, soft=True).soft_alpha
        edges = mesh_edges(faces)
        unit = stage.length_unit_m
        offsets = torch.zeros_like(base_verts, requires_grad=True)
        lights = lights.detach().clone().requires_grad_(True)
        base_map = texture_map.detach()
        if stage.albedo == "uv":
            free = base_map.clone().requires_grad_(True)
            albedo_map = lambda: free  # noqa: E731
            albedo_smoothness = lambda: image_laplacian_energy(free)  # noqa: E731
        else:
            free = torch.zeros(base_verts.shape[1], 3, requires_grad=True)
            texels = uv_texels(verts_uvs, faces_uvs, base_map.shape[1])
            albedo_map = lambda: base_map + vertex_values_to_map(free, faces, texels)  # noqa: E731
            albedo_smoothness = lambda: laplacian_energy(free[None], edges)  # noqa: E731
        optimizer = torch.optim.Adam(
            [
                {"params": [offsets], "lr": stage.lr_offsets_m},
                {"params": [free], "lr": stage.lr_albedo},
                {"params": [lights], "lr": stage.lr_light},
            ]
        )

        def step() -> dict[str, Tensor]:
            verts = base_verts + offsets
            render = self.render(verts, faces, TexturesUV(albedo_map(), verts_uvs, faces_uvs), lights, soft=stage.mask > 0)
            scaled = offsets / unit
            terms = {
                "photometric": stage.photometric * photometric_error(render, self.views, self.background),
                "albedo_laplacian": stage.albedo_laplacian * albedo_smoothness(),
                "vertex_laplacian": stage.vertex_laplacian * laplacian_energy(scaled, edges),
                "edge_length": stage.edge_length * edge_length_energy(verts / unit, base_verts / unit, edges),
                "displacement": stage.displacement * displacement_energy(scaled),
            }
            if stage.mask > 0:
                terms["mask"] = stage.mask * (render.soft_alpha - parametric_sil).abs().mean()
            terms["total"] = sum(terms.values())
            return terms

        record = self._loop("ham", stage.iterations, optimizer, step)
        with torch.no_grad():
            albedo = albedo_map().clamp(0.0, 1.0)
        return (base_verts + offsets).detach(), faces, verts_uvs, faces_uvs, albedo, lights.detach(), record

    def run(self, state: Optional[HandState] = None) -> FitResult:
        """Run the enabled stages from ``state`` (default: :func:`initial_state`)."""
        state = initial_state(self.hand, self.views, self.options) if state is None else state
        with torch.no_grad():
            initial_verts, initial_joints, initial_map = posed(self.hand, state)
        records = []
        if self.options.keypoints.enabled and self.views.keypoints2d is not None:
            state, record = self.fit_keypoints(state)
            records.append(record)
        if self.options.render.enabled:
            state, record = self.fit_render(state)
            records.append(record)
        with torch.no_grad():
            verts, joints, texture_map = posed(self.hand, state)
        parametric = verts
        faces, verts_uvs, faces_uvs, lights = self.hand.faces, self.hand.verts_uvs, self.hand.faces_uvs, state.lights
        if self.options.ham.enabled:
            verts, faces, verts_uvs, faces_uvs, texture_map, lights, record = self.fit_ham(state, state.lights)
            records.append(record)
        return FitResult(
            state=state, initial_verts=initial_verts[0], parametric_verts=parametric[0], verts=verts[0], faces=faces,
            verts_uvs=verts_uvs, faces_uvs=faces_uvs, texture_map=texture_map[0].clamp(0, 1),
            initial_texture_map=initial_map[0], joints=joints[0], initial_joints=initial_joints[0], stages=records,
            lights=lights,
        )  # fmt: skip


@torch.no_grad()
def fit_light(renderer: Renderer, verts: Tensor, faces: Tensor, textures: TexturesUV, views: FitViews) -> Tensor:
    """SH lights [N, 9, 3] that best explain ``views`` for a fixed mesh and albedo, in the least
    squares sense: how a held-out view is lit, its light being unknown to the fit.

    The render is linear in the coefficients (albedo x sum_k c_k Y_k(n), then averaged over
    supersamples), so 9 renders with unit coefficients give, per view and channel, the linear
    system over the compared pixels of :func:`photometric_error` (the render over the estimated
    background against the image), solved exactly. Clipping to [0, 1] is ignored.
    """
    R, t = views.world_to_camera()
    num = views.num_views
    basis_images = []
    for k in range(9):
        coeffs = torch.zeros(num, 9, 3, dtype=verts.dtype)
        coeffs[:, k] = 1.0
        out = renderer.render(verts.expand(num, -1, -1), faces, views.K, textures, light=SHLight(coeffs), R=R, t=t)
        basis_images.append(out.rgb)
    alpha = out.alpha
    if views.masks is None:
        region, target = alpha, views.images * alpha
    else:
        background = background_colours(views.images, views.masks)
        region = torch.maximum(dilate(views.masks, 3), alpha)
        target = views.images - (1.0 - alpha) * background[:, :, None, None]
    stacked = torch.stack(basis_images, dim=-1)  # [N, 3, H, W, 9]
    lights = torch.zeros(num, 9, 3, dtype=verts.dtype)
    for n in range(num):
        pixels = region[n, 0] > 0
        for c in range(3):
            A = stacked[n, c][pixels].double()
            b = target[n, c][pixels].double()
            lights[n, :, c] = torch.linalg.lstsq(A, b[:, None]).solution[:, 0].to(lights.dtype)
    return lights


__all__ = [
    "ALBEDO_MODES",
    "FitOptions",
    "FitResult",
    "Fitter",
    "HamStage",
    "HandState",
    "KeypointStage",
    "RenderStage",
    "STAGES",
    "StageRecord",
    "background_colours",
    "composite",
    "dilate",
    "fit_light",
    "initial_state",
    "keypoint_error",
    "photometric_error",
    "posed",
    "uv_align_error",
]

