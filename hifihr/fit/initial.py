"""Starting hands for the refinement from a trained network's prediction (``--checkpoint``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np
import torch

from hifihr.demo import Frame, load_demo_model, reconstruct
from hifihr.detect.crop import KEYPOINT_BOX_SCALE
from hifihr.hand.interface import HandModel
from hifihr.hand.joints import ROOT_INDEX
from hifihr.render import SHLight

from .fitter import HandState
from .views import FitViews


def keypoint_box(keypoints2d: torch.Tensor, conf: torch.Tensor) -> Optional[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) of the confident (> 0.3) keypoints [21, 2], or None with fewer than 2."""
    good = keypoints2d[conf > 0.3]
    if good.shape[0] < 2:
        return None
    low, high = good.min(0).values, good.max(0).values
    return float(low[0]), float(low[1]), float(high[0]), float(high[1])


def state_from_checkpoint(checkpoint: str | Path, views: FitViews, view: int = 0) -> tuple[HandState, HandModel]:
    """The hand a checkpoint's network predicts in view ``view`` (a square crop of
    ``KEYPOINT_BOX_SCALE`` x its keypoints' box, as the demo frames detections, or the image
    centre), moved into the world frame; returns (state, the network's own hand layer, which
    the fit must refine: the same model, sizes and keypoint regression).

    The network's root orientation is relative to its ``model.mean_orientation``; the state
    holds the composed world orientation.

    Raises:
        hifihr.demo.DemoError: the checkpoint needs a ground-truth root (``model.root = "gt"``).
    """
    model, _ = load_demo_model(checkpoint, torch.device("cpu"))
    box = None
    if views.keypoints2d is not None:
        box = keypoint_box(views.keypoints2d[view], views.keypoint_conf[view])
    image = views.images[view].permute(1, 2, 0).numpy()
    K = views.K[view].double().numpy()
    (result,) = reconstruct(model, [Frame("view", image)], [box], [False], [K], [KEYPOINT_BOX_SCALE])
    pose = torch.tensor(result.params.pose, dtype=torch.float32)
    R_all, t_all = views.world_to_camera()
    R0, t0 = R_all[view].double().numpy(), t_all[view].double().numpy()
    rot_pred = cv2.Rodrigues(pose[:3].double().numpy())[0]
    rot_world = R0.T @ model.mean_rotation.double().numpy() @ rot_pred
    pose[:3] = torch.from_numpy(cv2.Rodrigues(rot_world)[0][:, 0]).float()
    trans = R0.T @ (np.asarray(result.joints3d[ROOT_INDEX], dtype=np.float64) - t0)
    texture = result.params.texture
    num_tex = model.hand.num_texture
    state = HandState(
        shape=torch.tensor(result.params.shape, dtype=torch.float32)[None],
        pose=pose[None],
        texture=torch.tensor(texture, dtype=torch.float32)[None] if texture is not None else torch.zeros(1, num_tex),
        translation=torch.from_numpy(trans).float()[None],
        lights=SHLight.white(views.num_views).coeffs,
    )
    return state, model.hand


__all__: Sequence[str] = ["keypoint_box", "state_from_checkpoint"]
