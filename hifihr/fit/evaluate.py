"""Measures of a refinement against ground truth: geometry and novel views (synthetic), and
3D joints (photos with camera-frame joints)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from hifihr.hand.joints import ROOT_INDEX
from hifihr.metrics.pose import procrustes_align
from hifihr.metrics.surface import point_to_surface
from hifihr.metrics.texture import psnr, ssim
from hifihr.render import Renderer, SHLight, TexturesUV

from .fitter import background_colours, composite, dilate, fit_light
from .views import FitViews


@dataclass(frozen=True)
class GeometryErrors:
    """PA-MPVPE (mm) over the hand layer's vertices, and P2S (mm): mean distance from every
    vertex of the refined mesh to the true surface, in the calibrated world frame (no alignment)."""

    pa_mpvpe_mm: float
    p2s_mm: float


def geometry_errors(verts: Tensor, gt_verts: Tensor, gt_faces: Tensor) -> GeometryErrors:
    """Errors of ``verts`` [V', 3] (the first V in the layer's order; V' >= V after
    subdivision) against the true mesh (``gt_verts`` [V, 3], ``gt_faces``), metres in."""
    count = gt_verts.shape[0]
    pred, gt = verts[None, :count].double(), gt_verts[None].double()
    pa = (procrustes_align(pred, gt) - gt).norm(dim=-1).mean()
    p2s = point_to_surface(verts.double(), gt_verts.double(), gt_faces).mean()
    return GeometryErrors(pa_mpvpe_mm=1000 * float(pa), p2s_mm=1000 * float(p2s))


@dataclass(frozen=True)
class JointErrors:
    """Errors of 21 camera-frame joints against the true ones, mm.

    Attributes:
        mpjpe_mm: mean joint distance after translating the prediction so that its root joint
            (the middle MCP, :data:`hifihr.hand.joints.ROOT_INDEX`) lies on the true root.
        pa_mpjpe_mm: mean joint distance after Procrustes alignment (rotation, translation,
            scale).
        root_mm: distance between the predicted and the true root joint in the camera frame,
            no alignment (the depth a single view has to guess is most of it).
    """

    mpjpe_mm: float
    pa_mpjpe_mm: float
    root_mm: float


def joint_errors(joints: Tensor, gt_joints: Tensor) -> JointErrors:
    """:class:`JointErrors` of ``joints`` [21, 3] against ``gt_joints`` [21, 3], both in the same
    camera frame, metres, FreiHAND order."""
    pred, gt = joints.double(), gt_joints.double()
    root_pred, root_gt = pred[ROOT_INDEX], gt[ROOT_INDEX]
    mpjpe = ((pred - root_pred) - (gt - root_gt)).norm(dim=-1).mean()
    pa = (procrustes_align(pred[None], gt[None])[0] - gt).norm(dim=-1).mean()
    return JointErrors(mpjpe_mm=1000 * float(mpjpe), pa_mpjpe_mm=1000 * float(pa), root_mm=1000 * float((root_pred - root_gt).norm()))


@dataclass(frozen=True)
class NovelViewScores:
    """Per held-out view: PSNR (dB) and SSIM over the compared region (the true mask dilated by
    3 px, or the render's coverage), the render composited over the view's background colour."""

    psnr_db: list[float]
    ssim: list[float]

    @property
    def mean_psnr(self) -> float:
        return sum(self.psnr_db) / len(self.psnr_db)

    @property
    def mean_ssim(self) -> float:
        return sum(self.ssim) / len(self.ssim)


def novel_view_scores(
    verts: Tensor,
    faces: Tensor,
    verts_uvs: Tensor,
    faces_uvs: Tensor,
    texture_map: Tensor,
    views: FitViews,
    supersample: int = 3,
) -> tuple[NovelViewScores, Tensor]:
    """Render a mesh into held-out views and score it. The held-out lights are unknown to the
    fit, so each view's SH light is fitted to that view by least squares with the mesh and
    albedo frozen (:func:`hifihr.fit.fit_light`; 27 numbers per view cannot paint texture or
    geometry in).

    Args:
        verts: [V, 3] world frame. faces, verts_uvs, faces_uvs: the layout. texture_map:
            [Ht, Wt, 3]. views: the held-out views, with masks.

    Returns:
        (scores, the composited renders [N, 3, H, W]).
    """
    if views.masks is None:
        raise ValueError("novel_view_scores needs the held-out views' masks")
    renderer = Renderer(views.image_size, supersample=supersample, shading="sh", background=(0.0, 0.0, 0.0))
    textures = TexturesUV(texture_map[None], verts_uvs, faces_uvs)
    lights = fit_light(renderer, verts[None], faces, textures, views)
    R, t = views.world_to_camera()
    background = background_colours(views.images, views.masks)
    with torch.no_grad():
        out = renderer.render(verts[None].expand(views.num_views, -1, -1), faces, views.K, textures, light=SHLight(lights), R=R, t=t)
        image = composite(out, background)
        region = torch.maximum(dilate(views.masks, 3), out.alpha)
        psnr_db = psnr(image, views.images, region)
        ssim_map = ssim(image, views.images, reduction="none")
        ssim_region = (ssim_map * region).sum((1, 2, 3)) / (3 * region.sum((1, 2, 3)))
    return NovelViewScores(psnr_db.tolist(), ssim_region.tolist()), image
