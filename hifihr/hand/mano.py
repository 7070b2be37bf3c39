"""MANO hand layer, reading the official ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl`` without chumpy.

Forward (as manopth and smplx; see ``shared/reference/hand-models.md`` §4.2)::

    hand45 = coeffs[:, :n] @ hands_components[:n]   (PCA)  |  given axis-angle (15 x 3)
    full   = [global_orient, hands_mean * (not flat_hand_mean) + hand45]      [B, 16, 3]
    V_s    = v_template + shapedirs . betas;  J = J_regressor @ V_s
    V_p    = V_s + posedirs . flatten(R_1..15 - I);  LBS about J, global rotation about J_0

Outputs are in metres, in MANO's model frame (wrist near +x, fingers toward -x).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from . import joints as joint_orders
from .assets import AssetError, AssetFile, as_tensor, check_asset_dir, get_key, load_pickle
from .lbs import axis_angle_to_matrix, pose_feature, regress_joints, rigid_transforms, skin_vertices
from .interface import ROOT_POSE_SIZE, TextureKind
from .output import HandOutput

MANO_SOURCE = "https://mano.is.tue.mpg.de (free for research after registration; download 'Models & Code')"
MANO_CONFIG_KEY = "hand.mano_dir"
MANO_FILES = {"right": "MANO_RIGHT.pkl", "left": "MANO_LEFT.pkl"}


@dataclass
class ManoData:
    """The arrays of an official MANO file, as float64/int64 tensors on the CPU.

    Attributes:
        v_template: [778, 3] rest vertices, metres.
        shapedirs: [778, 3, 10] shape blend shapes.
        posedirs: [778, 3, 135] pose blend shapes over the 15 non-root joints.
        j_regressor: [16, 778] joint regressor (dense).
        weights: [778, 16] skinning weights.
        parents: 16 parent indices (root -1).
        faces: [1538, 3] int64.
        hands_components: [45, 45] PCA rows (not unit norm: the variance is folded in).
        hands_mean: [45] mean relaxed pose, axis-angle of the 15 joints.
    """

    v_template: torch.Tensor
    shapedirs: torch.Tensor
    posedirs: torch.Tensor
    j_regressor: torch.Tensor
    weights: torch.Tensor
    parents: tuple[int, ...]
    faces: torch.Tensor
    hands_components: torch.Tensor
    hands_mean: torch.Tensor


def mano_file(mano_dir: str | Path, side: str = "right") -> Path:
    """Path of the official MANO file for ``side`` in ``mano_dir``; a clear error when missing."""
    if side not in MANO_FILES:
        raise ValueError(f"side: expected 'right' or 'left', got {side!r}")
    files = [AssetFile(MANO_FILES[side], f"the MANO {side}-hand model")]
    return check_asset_dir(mano_dir, files, model="MANO", source=MANO_SOURCE, config_key=MANO_CONFIG_KEY)[
        MANO_FILES[side]
    ]


def load_mano_data(path: str | Path) -> ManoData:
    """Read an official MANO pickle (chumpy inside) through the restricted unpickler."""
    path = Path(path)
    data = load_pickle(path)

    def get(key: str, integer: bool = False) -> torch.Tensor:
        return as_tensor(get_key(data, key, path), key, integer=integer)

    kintree = get("kintree_table", integer=True)
    parents = kintree[0].clone()
    parents[0] = -1  # stored as uint32 max for the root
    shapedirs = get("shapedirs")
    if shapedirs.shape[-1] > 10:  # some files keep the 20-component array behind a Select
        shapedirs = shapedirs[..., :10]
    mano = ManoData(
        v_template=get("v_template"),
        shapedirs=shapedirs,
        posedirs=get("posedirs"),
        j_regressor=get("J_regressor"),
        weights=get("weights"),
        parents=tuple(int(p) for p in parents),
        faces=get("f", integer=True),
        hands_components=get("hands_components"),
        hands_mean=get("hands_mean"),
    )
    expected = {
        "v_template": (778, 3), "shapedirs": (778, 3, 10), "posedirs": (778, 3, 135), "j_regressor": (16, 778),
        "weights": (778, 16), "hands_components": (45, 45), "hands_mean": (45,),
    }  # fmt: skip
    for name, shape in expected.items():
        got = tuple(getattr(mano, name).shape)
        if got != shape:
            raise AssetError(f"{path}: '{name}' has shape {got}, expected {shape}")
    if mano.faces.ndim != 2 or mano.faces.shape[1] != 3 or int(mano.faces.max()) >= 778:
        raise AssetError(f"{path}: 'f' must be [F, 3] indices into 778 vertices, got {tuple(mano.faces.shape)}")
    return mano


class ManoLayer(nn.Module):
    """Differentiable MANO layer (a :class:`~hifihr.hand.interface.HandModel` with a
    per-vertex texture: sigmoid of the texture parameters, 3 per vertex).

    Args:
        data: the model arrays (:func:`load_mano_data`).
        num_pca_comps: number of pose PCA components the ``pose`` input carries (1..45).
        flat_hand_mean: if True, zero pose coefficients give a flat hand; if False (FreiHAND's
            and HiFiHR's convention) they give the mean relaxed pose ``hands_mean``.
        fingertips: which fingertip vertex set makes the 5 tip keypoints: ``"freihand"``
            (744/320/443/555/672, default), ``"ho3d"`` or ``"manopth"``.
        dtype: dtype of the buffers and of the expected inputs.
    """

    def __init__(
        self,
        data: ManoData,
        num_pca_comps: int = 45,
        flat_hand_mean: bool = False,
        fingertips: str = "freihand",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if not 1 <= num_pca_comps <= 45:
            raise ValueError(f"num_pca_comps: expected 1..45, got {num_pca_comps}")
        if fingertips not in joint_orders.FINGERTIP_VERTICES:
            raise ValueError(
                f"fingertips: expected one of {sorted(joint_orders.FINGERTIP_VERTICES)}, got {fingertips!r}"
            )
        self.num_pca_comps = num_pca_comps
        self.flat_hand_mean = flat_hand_mean
        self.fingertips = fingertips
        self.parents = data.parents

        def buffer(name: str, value: torch.Tensor) -> None:
            self.register_buffer(name, value if not value.is_floating_point() else value.to(dtype), persistent=False)

        buffer("v_template", data.v_template)
        buffer("shapedirs", data.shapedirs)
        buffer("posedirs", data.posedirs)
        buffer("j_regressor", data.j_regressor)
        buffer("weights", data.weights)
        buffer("faces", data.faces)
        buffer("hands_components", data.hands_components[:num_pca_comps])
        buffer("hands_mean", torch.zeros_like(data.hands_mean) if flat_hand_mean else data.hands_mean)
        buffer("tip_vertices", torch.tensor(joint_orders.FINGERTIP_VERTICES[fingertips]))
        buffer("to_freihand", torch.tensor(joint_orders.permutation("mano", "freihand")))

    def extra_repr(self) -> str:
        return (
            f"num_pca_comps={self.num_pca_comps}, flat_hand_mean={self.flat_hand_mean}, "
            f"fingertips={self.fingertips!r}"
        )

    @property
    def num_shape(self) -> int:
        """Shape coefficients (betas)."""
        return self.shapedirs.shape[-1]

    @property
    def num_pose(self) -> int:
        """Root axis-angle values plus the pose PCA coefficients."""
        return ROOT_POSE_SIZE + self.num_pca_comps

    @property
    def num_texture(self) -> int:
        """One RGB logit triple per vertex."""
        return 3 * self.v_template.shape[0]

    @property
    def texture_kind(self) -> TextureKind:
        return "vertex"

    def diffuse_map(self, texture: torch.Tensor) -> None:
        """None: MANO's texture is per vertex, not a map."""
        return None

    def full_pose_from_pca(self, pose: torch.Tensor) -> torch.Tensor:
        """Axis-angle pose [B, 16, 3] from ``pose`` [B, 3 + num_pca_comps] = root | PCA coeffs."""
        expected = 3 + self.num_pca_comps
        if pose.ndim != 2 or pose.shape[1] != expected:
            raise ValueError(f"pose: expected [B, {expected}] (root axis-angle | PCA), got {tuple(pose.shape)}")
        hand = pose[:, 3:] @ self.hands_components + self.hands_mean
        return torch.cat([pose[:, :3], hand], dim=1).reshape(-1, 16, 3)

    def forward(
        self,
        shape: Optional[torch.Tensor] = None,
        pose: Optional[torch.Tensor] = None,
        texture: Optional[torch.Tensor] = None,
        *,
        full_pose: Optional[torch.Tensor] = None,
    ) -> HandOutput:
        """Pose and shape the hand, and colour its vertices.

        Args:
            shape: [B, 10] shape coefficients, betas (None: zeros).
            pose: [B, 3 + num_pca_comps]: root axis-angle then PCA coefficients. Or:
            full_pose: [B, 16, 3] axis-angle of all joints (root first), added to
                ``hands_mean`` for the 15 finger joints unless ``flat_hand_mean``, as in smplx.
            texture: [B, 3 * 778] per-vertex RGB logits, vertex-major (None: no colours).

        Returns:
            :class:`HandOutput` with ``verts`` [B, 778, 3] (metres), ``joints`` [B, 21, 3]
            (FreiHAND order), ``model_joints`` [B, 16, 3], ``full_pose`` [B, 16, 3],
            ``vertex_colors`` [B, 778, 3] = sigmoid(texture) in [0, 1] when given; no UV map.
        """
        if (pose is None) == (full_pose is None):
            raise ValueError("give exactly one of pose (PCA) or full_pose (axis-angle)")
        if full_pose is not None:
            if full_pose.ndim != 3 or full_pose.shape[1:] != (16, 3):
                raise ValueError(f"full_pose: expected [B, 16, 3], got {tuple(full_pose.shape)}")
            offset = torch.cat([self.hands_mean.new_zeros(3), self.hands_mean]).reshape(16, 3)
            full_pose = full_pose + offset
        else:
            full_pose = self.full_pose_from_pca(pose)
        batch = full_pose.shape[0]
        if shape is None:
            shape = full_pose.new_zeros(batch, self.num_shape)
        if shape.shape != (batch, self.num_shape):
            raise ValueError(f"shape: expected [{batch}, {self.num_shape}], got {tuple(shape.shape)}")
        if texture is not None and texture.shape != (batch, self.num_texture):
            raise ValueError(f"texture: expected [{batch}, {self.num_texture}], got {tuple(texture.shape)}")

        rotations = axis_angle_to_matrix(full_pose)
        v_shaped = self.v_template + torch.einsum("vcs,bs->bvc", self.shapedirs, shape)
        rest_joints = regress_joints(self.j_regressor, v_shaped)
        v_posed = v_shaped + torch.einsum("vck,bk->bvc", self.posedirs, pose_feature(rotations[:, 1:]))
        model_joints, skinning = rigid_transforms(rotations, rest_joints, self.parents)
        verts = skin_vertices(v_posed, self.weights, skinning)
        joints = torch.cat([model_joints, verts[:, self.tip_vertices]], dim=1)[:, self.to_freihand]
        return HandOutput(
            verts=verts,
            faces=self.faces,
            joints=joints,
            eval_verts=verts,
            eval_faces=self.faces,
            model_joints=model_joints,
            full_pose=full_pose,
            vertex_colors=torch.sigmoid(texture).reshape(batch, -1, 3) if texture is not None else None,
        )


def mano_keypoint_regressor(data: ManoData, fingertips: str = "freihand") -> torch.Tensor:
    """[21, 778] linear map from MANO-topology vertices to the 21 FreiHAND-order keypoints:
    the 16 rows of ``J_regressor`` then one-hot rows for the fingertip vertices."""
    tips = torch.zeros(5, 778, dtype=data.j_regressor.dtype)
    tips[torch.arange(5), torch.tensor(joint_orders.FINGERTIP_VERTICES[fingertips])] = 1.0
    regressor = torch.cat([data.j_regressor, tips], dim=0)
    return regressor[list(joint_orders.permutation("mano", "freihand"))]

