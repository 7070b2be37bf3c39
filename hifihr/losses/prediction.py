"""What the network hands to the losses: :class:`Prediction`.

Frames and units: 3D in metres, relative to the root keypoint (the middle MCP, FreiHAND index 9,
unless the batch's ``root_index`` says otherwise), axes of the OpenCV camera frame; 2D in crop
pixels with pixel ``(i, j)``'s centre at ``(i + 0.5, j + 0.5)``. Keypoints in FreiHAND order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Protocol

from torch import Tensor


@dataclass(frozen=True)
class FieldSource:
    """What leaves a :class:`Prediction` field None, and the config change that produces it.

    Attributes:
        cause: why the field can be None, in words.
        key: the dotted config key whose value ``off`` leaves the field None; None when no
            config key decides it.
        off: that value of ``key``.
        fix: what to set ``key`` to, in words.
    """

    cause: str
    key: Optional[str] = None
    off: Any = None
    fix: str = ""

    def hint(self) -> str:
        """One sentence for an error message: the cause, and the config change when there is one."""
        return f"{self.cause}: set config {self.key} to {self.fix}" if self.key else self.cause


#: Prediction field (``"render.rgb"`` = a field of ``Prediction.render``) -> what produces it.
#: The config checks an active loss's fields against it at load time, the loss term at run time.
PREDICTION_SOURCES: dict[str, FieldSource] = {
    "texture_params": FieldSource("the texture head is off", "model.texture", False, "true"),
    "light": FieldSource("there is no light head", "model.light", "none", "'sh', 'sh16' or 'directional'"),
    "render": FieldSource("the model did not render; rendering happens when an active loss needs it"),
    "render.rgb": FieldSource(
        "the model rendered no colour (it renders when an active loss needs it)", "model.texture", False, "true (the render's colour comes from the texture head)"
    ),
    "render.alpha": FieldSource("the renderer returned no coverage"),
    "render.soft_alpha": FieldSource("the soft silhouette is off", "render.soft_silhouette", False, "true"),
    "background": FieldSource("the model must pass the render's background colour in Prediction.background"),
    "eval_faces": FieldSource("the hand model gives no faces for its evaluation vertices"),
}


def missing_field_hint(field_name: str) -> str:
    """What to change when the prediction field ``field_name`` is None (:data:`PREDICTION_SOURCES`)."""
    source = PREDICTION_SOURCES.get(field_name)
    return source.hint() if source is not None else "the model did not produce them"


class RenderLike(Protocol):
    """The three tensors of a render the losses read (``hifihr.render``'s ``RenderOutput``)."""

    rgb: Tensor  # [B, 3, H, W] in [0, 1], composited over the background colour
    alpha: Tensor  # [B, 1, H, W] fraction of each pixel the mesh covers, in [0, 1], no gradient
    soft_alpha: Optional[Tensor]  # [B, 1, H, W] differentiable silhouette, or None


@dataclass(frozen=True, eq=False)
class Prediction:
    """The network's outputs for one batch, as every loss reads them.

    A field the network did not produce is None; a loss that needs it raises an error naming
    itself and the field (see ``hifihr.losses.LossTerm.prediction_fields``).

    Attributes:
        joints3d: [B, 21, 3] keypoints, metres, relative to the predicted root keypoint (9, the
            middle MCP; the batch's ``root_index`` where it differs), FreiHAND order.
        verts3d: [B, Ve, 3] evaluation vertices (MANO topology, Ve = 778, when the hand model
            has a MANO registration; else the skin), metres, relative to the same root.
        joints2d: [B, 21, 2] predicted keypoints projected into the crop, pixels.
        pose_params: [B, 3 + P] root axis-angle (3, radians) then P normalised pose PCA
            coefficients (27 for NIMBLE).
        shape_params: [B, S] normalised shape coefficients (20 for NIMBLE).
        texture_params: [B, T] normalised texture coefficients (10), or None without a texture
            head.
        light: the light head's output, or None without one: [B, 9, 3] / [B, 16, 3] SH
            coefficients (``light_type`` "sh" / "sh16") or [B, 6] directional light, colour
            then direction (``"directional"``).
        light_type: "sh", "sh16", "directional" or "none"; says how to read ``light``.
        render: the render of the predicted hand (``rgb``, ``alpha``, ``soft_alpha``, see
            :class:`RenderLike`), or None when nothing was rendered.
        background: [3] the colour ``render.rgb`` was composited over (white in the reference).
        eval_faces: [F, 3] int64 triangles of ``verts3d`` (MANO's 1538 faces), or None.
        root: [B, 3] where the root keypoint was placed, metres, camera frame (the ground-truth
            root, or the camera head's prediction); ``joints3d + root[:, None]`` are the
            keypoints in the camera frame. None when not given.
    """

    joints3d: Tensor
    verts3d: Tensor
    joints2d: Tensor
    pose_params: Tensor
    shape_params: Tensor
    texture_params: Optional[Tensor] = None
    light: Optional[Tensor] = None
    light_type: str = "none"
    render: Optional[Any] = None
    background: Optional[Tensor] = None
    eval_faces: Optional[Tensor] = None
    root: Optional[Tensor] = None

    def __post_init__(self) -> None:
        batch = self.joints3d.shape[0] if self.joints3d.ndim == 3 else "B"
        expected = {
            "joints3d": (self.joints3d, (batch, 21, 3)),
            "joints2d": (self.joints2d, (batch, 21, 2)),
            "verts3d": (self.verts3d, (batch, "V", 3)),
            "pose_params": (self.pose_params, (batch, "P")),
            "shape_params": (self.shape_params, (batch, "S")),
        }
        if self.texture_params is not None:
            expected["texture_params"] = (self.texture_params, (batch, "T"))
        if self.background is not None:
            expected["background"] = (self.background, (3,))
        if self.eval_faces is not None:
            expected["eval_faces"] = (self.eval_faces, ("F", 3))
        if self.root is not None:
            expected["root"] = (self.root, (batch, 3))
        for name, (tensor, shape) in expected.items():
            ok = tensor.ndim == len(shape) and all(
                isinstance(want, str) or got == want for got, want in zip(tensor.shape, shape)
            )
            if not ok:
                pretty = ", ".join(str(d) for d in shape)
                raise ValueError(f"Prediction.{name}: expected [{pretty}], got {tuple(tensor.shape)}")
        if self.light is not None and self.light.shape[0] != batch:
            raise ValueError(f"Prediction.light: expected batch size {batch}, got {tuple(self.light.shape)}")

    @property
    def batch_size(self) -> int:
        """B."""
        return self.joints3d.shape[0]
