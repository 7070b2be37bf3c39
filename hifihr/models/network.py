"""The HiFiHR network: image -> hand parameters and light -> posed, textured hand -> render.

Data flow of :meth:`HiFiHR.forward`::

    image [B,3,H,W] -> Encoder -> global feature -> Trunk -> pose / shape / texture heads
                               -> low feature    -> LightHead (SH or directional)
    hand layer (NIMBLE / open hand / MANO) -> keypoints, skin, texture map (model frame, metres)
    root placement: ground-truth root (the reference) or the CameraHead's prediction
    Renderer: skin placed in the camera -> RenderOutput (rgb, alpha, soft_alpha)

One root keypoint places both the projected keypoints and the rendered mesh.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import torch
from torch import nn

from ..hand import HandModel, HandOutput, load_hand_model
from ..hand.joints import ROOT_INDEX
from ..hand.lbs import axis_angle_to_matrix
from ..losses.prediction import Prediction
from ..render import DirectionalLight, Renderer, SHLight, TexturesUV, TexturesVertex, project_points
from .encoders import Encoder
from .heads import CameraHead, LightHead, ParamHead, Trunk


class HiFiHR(nn.Module):
    """Single-image hand reconstruction with texture.

    Args:
        hand: a hand layer (:func:`hifihr.hand.load_hand_model`, a
            :class:`~hifihr.hand.HandModel`); its sizes size the heads, and its texture (a UV
            map, or per-vertex colours as for MANO) is rendered as it comes.
        encoder: the image encoder.
        renderer: the differentiable renderer, or None to never render.
        light: ``"sh"``, ``"sh16"``, ``"directional"`` or ``"none"`` (no light head).
        root: ``"gt"`` places the hand at the given root; ``"predicted"`` adds a camera head.
        texture: regress texture (the texture head).
        use_mean_shape: fix the shape coefficients to zero (the PCA mean shape).
        soft_silhouette: also render the differentiable silhouette (the ``sil`` loss reads it).
        mean_orientation: axis-angle [3] (radians, camera frame): the predicted root rotation is
            relative to it, ``R = R_mean R_pred``. Zeros (the reference) make the head learn the
            typical orientation from scratch; "fingers up, palm to the camera" is
            ``(pi/2, 0, 0)`` for NIMBLE-format hands (fingers +z, palm -y in the model frame).

    Submodules (the groups ``init.freeze`` can name): ``encoder``, ``trunk``, ``pose_head``,
    ``shape_head``, ``texture_head``, ``light_head``, ``camera_head``.
    """

    def __init__(
        self,
        hand: HandModel,
        encoder: Encoder,
        renderer: Optional[Renderer] = None,
        light: str = "sh",
        root: str = "gt",
        texture: bool = True,
        use_mean_shape: bool = False,
        soft_silhouette: bool = True,
        mean_orientation: tuple[float, float, float] = (0.0, 0.0, 0.0),
    ) -> None:
        super().__init__()
        if root not in ("gt", "predicted"):
            raise ValueError(f"root: expected 'gt' or 'predicted', got {root!r}")
        self.hand = hand
        self.encoder = encoder
        self.renderer = renderer
        self.light_type = light
        self.root_mode = root
        self.use_mean_shape = use_mean_shape
        self.soft_silhouette = soft_silhouette
        self.trunk = Trunk(encoder.num_features)
        self.pose_head = ParamHead(hand.num_pose)
        self.shape_head = ParamHead(hand.num_shape)
        self.texture_head = ParamHead(hand.num_texture) if texture else None
        self.light_head = None if light == "none" else LightHead(light, encoder.low_channels, encoder.low_reduction)
        self.camera_head = CameraHead() if root == "predicted" else None
        self.register_buffer(
            "mean_rotation", axis_angle_to_matrix(torch.tensor(mean_orientation, dtype=torch.float32)), persistent=False
        )
        self.register_buffer(
            "background",
            torch.tensor(renderer.background if renderer is not None else (1.0, 1.0, 1.0)),
            persistent=False,
        )

    def light_from_params(self, params: Optional[torch.Tensor]):
        """The light head output [B, ...] as a renderer light (SHLight or DirectionalLight), or None."""
        if params is None:
            return None
        if self.light_type == "directional":
            return DirectionalLight(color=params[:, :3], direction=params[:, 3:])
        return SHLight(params)

    @staticmethod
    def _textures(hand_out: HandOutput):
        """The renderer texture of the hand: its UV map, else its vertex colours, else (a vertex
        texture without a texture head) flat mid-grey albedo."""
        if hand_out.texture is not None:
            return TexturesUV(hand_out.texture, hand_out.verts_uvs, hand_out.faces_uvs)
        if hand_out.vertex_colors is not None:
            return TexturesVertex(hand_out.vertex_colors)
        return TexturesVertex(torch.full_like(hand_out.verts, 0.5))

    def _orient(self, hand_out):
        """Apply the mean orientation to every position of the hand (about the model origin:
        a translation, which re-rooting removes, is all that differs from rotating about the
        root joint)."""
        if torch.equal(self.mean_rotation, torch.eye(3, device=self.mean_rotation.device)):
            return hand_out
        rotation = self.mean_rotation.T.to(hand_out.verts.dtype)
        return dataclasses.replace(
            hand_out,
            verts=hand_out.verts @ rotation,
            joints=hand_out.joints @ rotation,
            eval_verts=hand_out.eval_verts @ rotation,
            model_joints=hand_out.model_joints @ rotation,
        )

    def posed_hand(self, pred: Prediction):
        """The hand layer's output for a prediction's parameters, oriented as the network places
        it (before placement in the camera): the skin mesh, UVs and texture for export."""
        return self._orient(self.hand(pred.shape_params, pred.pose_params, pred.texture_params))

    def forward(
        self,
        image: torch.Tensor,
        K: torch.Tensor,
        root: Optional[torch.Tensor] = None,
        root_index: int = ROOT_INDEX,
        render: bool = True,
    ) -> Prediction:
        """Reconstruct the hand in each crop.

        Args:
            image: [B, 3, H, W] RGB crops in [0, 1].
            K: [B, 3, 3] crop intrinsics, pixels.
            root: [B, 3] position of keypoint ``root_index`` in the camera frame, metres; needed
                with ``root="gt"``, ignored with ``root="predicted"``.
            root_index: the keypoint 3D outputs are made relative to (9, or 0 on HO-3D's
                evaluation split).
            render: render the hand (when the model has a renderer).

        Returns:
            :class:`hifihr.losses.Prediction`.
        """
        features = self.encoder(image)
        trunk = self.trunk(features.global_feature)
        pose = self.pose_head(trunk)
        shape = self.shape_head(trunk)
        if self.use_mean_shape:
            shape = torch.zeros_like(shape)
        texture = self.texture_head(trunk) if self.texture_head is not None else None
        light = self.light_head(features.low_feature) if self.light_head is not None else None

        hand_out = self._orient(self.hand(shape, pose, texture))
        if self.camera_head is not None:
            root = self.camera_head(trunk, K, tuple(image.shape[2:]))
        elif root is None:
            raise ValueError("root: the model places the hand at the ground-truth root (root='gt'); pass root [B, 3]")
        # One root slice serves the placement and the root-relative outputs.
        model_root = hand_out.joints[:, root_index : root_index + 1]
        in_camera = hand_out.translated(root[:, None] - model_root)
        joints2d = project_points(in_camera.joints, K)[..., :2]

        render_out = None
        if render and self.renderer is not None:
            render_out = self.renderer.render(
                in_camera.verts,
                hand_out.faces,
                K,
                self._textures(hand_out),
                light=self.light_from_params(light),
                soft_silhouette=self.soft_silhouette,
            )
        return Prediction(
            joints3d=hand_out.joints - model_root,
            verts3d=hand_out.eval_verts - model_root,
            joints2d=joints2d,
            pose_params=pose,
            shape_params=shape,
            texture_params=texture,
            light=light,
            light_type=self.light_type,
            render=render_out,
            background=self.background,
            eval_faces=hand_out.eval_faces,
            root=root,
        )


def build_model(hand_cfg, model_cfg, render_cfg) -> HiFiHR:
    """Build the network from the ``hand``, ``model`` and ``render`` config sections
    (:mod:`hifihr.config`). ``model.texture`` or any photometric term needs a renderer; a
    model built with ``render.image_size`` renders crops of that size."""
    hand = load_hand_model(
        hand_cfg.model,
        hand_cfg.assets_dir,
        mano_dir=hand_cfg.mano_dir,
        shape_ncomp=hand_cfg.shape_ncomp,
        pose_ncomp=hand_cfg.pose_ncomp,
        tex_ncomp=hand_cfg.tex_ncomp,
    )
    encoder = Encoder(
        model_cfg.backbone, pretrained=model_cfg.pretrained, input_norm=model_cfg.input_norm, pretrained_file=model_cfg.pretrained_file
    )
    renderer = Renderer(
        render_cfg.image_size,
        supersample=render_cfg.supersample,
        backend=render_cfg.backend,
        shading=render_cfg.shading,
        background=tuple(render_cfg.background),
        blur_radius_px=render_cfg.blur_radius_px,
    )
    return HiFiHR(
        hand,
        encoder,
        renderer,
        light=model_cfg.light,
        root=model_cfg.root,
        texture=model_cfg.texture,
        use_mean_shape=model_cfg.use_mean_shape,
        soft_silhouette=render_cfg.soft_silhouette,
        mean_orientation=tuple(model_cfg.mean_orientation),
    )
