"""Left hands: the hand models are right hands, so a left hand is fitted in the left-right
mirrored scene (where it is a right hand) and the result is mirrored back, as the demo does.

Mirroring is ``M = diag(-1, 1, 1)`` in every camera frame and in the world frame: an image is
flipped left-right (``u' = W - u``, ``cx' = W - cx``: :func:`hifihr.data.transforms.mirror`),
extrinsics become ``R' = M R M`` and ``t' = M t`` (then ``X'_cam = M X_cam`` for ``X' = M X``),
a mesh's vertices ``X -> M X`` with its triangles re-wound (mirroring turns the surface inside
out), and an SH light in a camera frame changes the sign of its coefficients odd in x.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from hifihr.data.transforms import View, mirror
from hifihr.render import SHLight

from .fitter import FitOptions, FitResult, Fitter
from .views import FitViews

_M = torch.tensor([-1.0, 1.0, 1.0])


def mirror_points(points: Tensor) -> Tensor:
    """``X -> (-X, Y, Z)`` of points [..., 3]."""
    return points * _M.to(points)


def rewind(faces: Tensor) -> Tensor:
    """Faces [F, 3] with their winding reversed (corners 1 and 2 swapped)."""
    return faces[:, [0, 2, 1]]


def mirror_sh(lights: Tensor) -> Tensor:
    """SH coefficients [N, 9, 3] of the mirrored lights (the demo's light mirroring)."""
    return SHLight(lights).mirrored_x().coeffs


def mirror_views(views: FitViews) -> FitViews:
    """The views of the left-right mirrored scene: images and masks flipped, K and 2D keypoints
    mirrored as the demo mirrors a left hand's view, extrinsics ``M R M`` and ``M t``."""
    width = views.images.shape[-1]
    Ks, keypoints = [], []
    for i in range(views.num_views):
        view = mirror(View.identity(views.K[i].double().numpy()), width)
        Ks.append(torch.from_numpy(view.K))
        if views.keypoints2d is not None:
            keypoints.append(torch.from_numpy(view.points2d(views.keypoints2d[i].double().numpy())))
    R = t = None
    if views.R is not None:
        sign = _M.to(views.R)
        R = views.R * sign[None, :, None] * sign[None, None, :]
        t = views.t * sign
    return FitViews(
        images=views.images.flip(-1),
        K=torch.stack(Ks).to(views.K.dtype),
        R=R,
        t=t,
        masks=None if views.masks is None else views.masks.flip(-1),
        keypoints2d=torch.stack(keypoints).to(views.keypoints2d.dtype) if keypoints else None,
        keypoint_conf=views.keypoint_conf,
    )


def unmirror_result(result: FitResult) -> FitResult:
    """A fit made in the mirrored scene, as the left hand of the original scene: meshes and
    keypoints mirrored, faces re-wound (the UV faces with them), lights mirrored. The parameters
    in ``state`` stay those of the fitted (mirrored, right) hand; ``state.lights`` is mirrored."""
    state = result.state
    lights = mirror_sh(result.lights)
    return dataclasses.replace(
        result,
        state=dataclasses.replace(state, lights=mirror_sh(state.lights)),
        initial_verts=mirror_points(result.initial_verts),
        parametric_verts=mirror_points(result.parametric_verts),
        verts=mirror_points(result.verts),
        faces=rewind(result.faces),
        faces_uvs=rewind(result.faces_uvs),
        joints=mirror_points(result.joints),
        initial_joints=mirror_points(result.initial_joints),
        lights=lights,
        left=True,
    )


def initial_faces(hand, result: FitResult) -> tuple[Tensor, Tensor]:
    """(faces [F, 3], UV faces [F, 3]) of ``result.initial_verts``: the hand layer's, re-wound for
    a left hand, whose initial mesh is mirrored back like the final one."""
    if result.left:
        return rewind(hand.faces), rewind(hand.faces_uvs)
    return hand.faces, hand.faces_uvs


def fit_left_hand(hand, views: FitViews, options: FitOptions = FitOptions(), state=None, progress=None) -> FitResult:
    """Fit the left hand seen in ``views``: :class:`Fitter` on :func:`mirror_views` (from
    ``state``, a state of the mirrored scene, or the default start), mirrored back by
    :func:`unmirror_result`."""
    return unmirror_result(Fitter(hand, mirror_views(views), options, progress=progress).run(state))


__all__ = ["fit_left_hand", "initial_faces", "mirror_points", "mirror_sh", "mirror_views", "rewind", "unmirror_result"]
