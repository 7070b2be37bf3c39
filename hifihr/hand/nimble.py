"""NIMBLE hand layer: reads the official NIMBLE files (or the open hand, which shares their
format) and poses, shapes and textures the skin mesh.

Forward (``shared/reference/hand-models.md`` §2, HiFiHR's variant with a root rotation)::

    beta    = shape * shape_pm_std + shape_pm_mean               normalised PCA -> real
    V_s     = vert + shape_basis^T beta ;  J = jreg_bone @ V_s[bone]       [25 joints]
    theta   = pose[3:] * pose_pm_std + pose_pm_mean
    bones   = [pose[:3] (root axis-angle) | theta @ pose_basis + pose_mean]  [20, 3]
    V_p     = V_s + all_pbs . flatten(R_1..19 - I)
    V       = LBS(V_p, all_sw, 25-joint chain; bone-end joints take the identity)
    metres  = 0.001 * millimetres

Only the skin layer is posed: bone and muscle vertices never reach an output (NIMBLE's
collision handling, the one step that uses them, is off in HiFiHR), and joints depend only
on the shaped bone vertices, so their regression is folded into a precomputed linear map.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from . import joints as joint_orders
from .assets import AssetError, AssetFile, as_tensor, check_asset_dir, get_key, load_pickle
from .lbs import axis_angle_to_matrix, pose_feature, regress_joints, rigid_transforms, skin_vertices
from .mano import ManoData, mano_keypoint_regressor
from .interface import ROOT_POSE_SIZE, TextureKind
from .output import HandOutput

NIMBLE_SOURCE = (
    "https://github.com/reyuwei/NIMBLE_model (free for research; its README links the asset "
    "download after you accept the license)"
)
NIMBLE_CONFIG_KEY = "hand.assets_dir"
NIMBLE_FILES = (
    AssetFile("NIMBLE_DICT_9137.pkl", "the parametric model: template, shape and pose PCA, skinning"),
    AssetFile("NIMBLE_TEX_DICT.pkl", "the texture PCA: diffuse, normal and specular maps"),
    AssetFile("NIMBLE_TEX_FUV.pkl", "the UV layout of the skin mesh (OBJ lines)"),
    AssetFile("NIMBLE_MANO_VREG.pkl", "MANO's 778 vertices registered on the skin", required=False),
)
TEXTURE_MAPS = ("diffuse", "normal", "spec")
NUM_JOINTS = 25
NUM_BONES = 20
MM_TO_M = 1e-3


@dataclass
class TexturePCA:
    """One texture map's PCA: ``map = (alpha * std) @ basis^T + mean``, flattened
    ``(row * size + col) * 3 + channel`` with row 0 at the top and channels in BGR order.

    Attributes:
        basis: [3 * size**2, K]; mean: [3 * size**2]; std: [K]; size: the map's side in texels.
    """

    basis: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    size: int


@dataclass
class NimbleData:
    """The arrays of a NIMBLE-format asset directory, restricted to what the layer uses.
    Float tensors are float64, index tensors int64, positions in millimetres.

    Attributes:
        skin_template: [Ns, 3]; bone_template: [Nb, 3].
        skin_shape_basis: [Ks, Ns, 3]; bone_shape_basis: [Ks, Nb, 3].
        shape_std, shape_mean: [Ks] de-normalisation of shape coefficients.
        pose_basis: [Kp, 57]; pose_mean: [57]; pose_std, pose_pm_mean: [Kp].
        skin_pose_blend: [Ns, 3, 171] pose blend shapes of the skin.
        skin_weights: [Ns, 25] skinning weights of the skin.
        jreg_bone: [25, Nb] joint regressor from shaped bone vertices.
        jreg_mano: [21, Ns] the asset's own keypoint regressor from the skin.
        skin_faces: [Fs, 3] skin triangles (``skin_f``).
        faces: [Fs, 3] the triangles of the UV layout (vertex indices), used for rendering.
        faces_uvs: [Fs, 3] UV index of each corner; verts_uvs: [T, 2] in [0, 1], origin bottom-left.
        textures: the PCA of each map in ``TEXTURE_MAPS``.
        vreg_faces: [R, 778] skin face of each MANO vertex per registration, or None.
        vreg_bary: [R, 778, 3] barycentric weights in that face, or None.
    """

    skin_template: torch.Tensor
    bone_template: torch.Tensor
    skin_shape_basis: torch.Tensor
    bone_shape_basis: torch.Tensor
    shape_std: torch.Tensor
    shape_mean: torch.Tensor
    pose_basis: torch.Tensor
    pose_mean: torch.Tensor
    pose_std: torch.Tensor
    pose_pm_mean: torch.Tensor
    skin_pose_blend: torch.Tensor
    skin_weights: torch.Tensor
    jreg_bone: torch.Tensor
    jreg_mano: torch.Tensor
    skin_faces: torch.Tensor
    faces: torch.Tensor
    faces_uvs: torch.Tensor
    verts_uvs: torch.Tensor
    textures: dict[str, TexturePCA]
    vreg_faces: Optional[torch.Tensor] = None
    vreg_bary: Optional[torch.Tensor] = None


def _expect_shape(path: Path, key: str, tensor: torch.Tensor, shape: tuple) -> None:
    """Raise if ``tensor`` does not have ``shape`` (None entries match any size)."""
    if len(tensor.shape) != len(shape) or any(s is not None and s != t for s, t in zip(shape, tensor.shape)):
        wanted = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise AssetError(f"{path}: '{key}' has shape {list(tensor.shape)}, expected {wanted}")


def _as_int(value: Any, key: str, path: Path) -> int:
    try:
        return int(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError) as err:
        raise AssetError(f"{path}: '{key}' must be an integer, got {value!r}") from err


def parse_uv_layout(lines: Any, path: Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Parse NIMBLE's UV layout (a list of OBJ text lines: ``vt u v`` and ``f v/vt/vn ...``).

    Returns ``(verts_uvs [T, 2] float64, faces_uvs [F, 3] int64, faces [F, 3] int64)``, all
    0-based.
    """
    if isinstance(lines, (str, bytes)):
        lines = lines.splitlines()
    if not isinstance(lines, (list, tuple)):
        raise AssetError(f"{path}: expected a list of OBJ lines, got {type(lines).__name__}")
    uvs, faces, faces_uvs = [], [], []
    for line in lines:
        tokens = (line.decode() if isinstance(line, bytes) else str(line)).split()
        if not tokens:
            continue
        if tokens[0] == "vt":
            uvs.append([float(tokens[1]), float(tokens[2])])
        elif tokens[0] == "f":
            if len(tokens) != 4:
                raise AssetError(f"{path}: only triangles are supported, got the face line {line!r}")
            corners = [token.split("/") for token in tokens[1:]]
            faces.append([int(c[0]) - 1 for c in corners])
            faces_uvs.append([int(c[1]) - 1 for c in corners])
    if not uvs or not faces:
        raise AssetError(f"{path}: no 'vt' or 'f' lines found in the UV layout")
    return (
        torch.tensor(uvs, dtype=torch.float64),
        torch.tensor(faces_uvs, dtype=torch.int64),
        torch.tensor(faces, dtype=torch.int64),
    )


def load_nimble_data(assets_dir: str | Path) -> NimbleData:
    """Read and check a NIMBLE-format asset directory (official files or the open hand)."""
    present = check_asset_dir(
        assets_dir, NIMBLE_FILES, model="NIMBLE", source=NIMBLE_SOURCE, config_key=NIMBLE_CONFIG_KEY
    )
    path = present["NIMBLE_DICT_9137.pkl"]
    pm = load_pickle(path)

    def get(key: str, integer: bool = False) -> torch.Tensor:
        return as_tensor(get_key(pm, key, path), key, integer=integer)

    vert = get("vert").reshape(-1, 3)
    num_all = vert.shape[0]
    num_bone = _as_int(get_key(pm, "bone_v_sep", path), "bone_v_sep", path)
    # Python slice semantics: the official files may store the separator as -Ns.
    skin = slice(_as_int(get_key(pm, "skin_v_sep", path), "skin_v_sep", path), None)
    skin_ids = torch.arange(num_all)[skin]
    if not 0 < num_bone < num_all or len(skin_ids) == 0 or int(skin_ids[0]) < num_bone:
        raise AssetError(f"{path}: inconsistent 'bone_v_sep'/'skin_v_sep' for {num_all} vertices")
    num_skin = len(skin_ids)

    shape_basis = get("shape_basis")
    _expect_shape(path, "shape_basis", shape_basis, (None, 3 * num_all))
    shape_basis = shape_basis.reshape(shape_basis.shape[0], num_all, 3)  # vertex-major: 3 * v + c
    pose_basis = get("pose_basis")
    _expect_shape(path, "pose_basis", pose_basis, (None, 3 * (NUM_BONES - 1)))
    all_sw, all_pbs = get("all_sw"), get("all_pbs")
    _expect_shape(path, "all_sw", all_sw, (num_all, NUM_JOINTS))
    _expect_shape(path, "all_pbs", all_pbs, (num_all, 3, 9 * (NUM_BONES - 1)))
    jreg_bone, jreg_mano = get("jreg_bone"), get("jreg_mano")
    _expect_shape(path, "jreg_bone", jreg_bone, (NUM_JOINTS, num_bone))
    _expect_shape(path, "jreg_mano", jreg_mano, (21, num_skin))
    skin_faces = get("skin_f", integer=True)
    _expect_shape(path, "skin_f", skin_faces, (None, 3))
    if int(skin_faces.min()) < 0 or int(skin_faces.max()) >= num_skin:
        raise AssetError(f"{path}: 'skin_f' indices must lie in [0, {num_skin})")
    shape_std, shape_mean = get("shape_pm_std"), get("shape_pm_mean")
    pose_std, pose_pm_mean, pose_mean = get("pose_pm_std"), get("pose_pm_mean"), get("pose_mean")
    for key, tensor, size in (
        ("shape_pm_std", shape_std, shape_basis.shape[0]),
        ("shape_pm_mean", shape_mean, shape_basis.shape[0]),
        ("pose_pm_std", pose_std, pose_basis.shape[0]),
        ("pose_pm_mean", pose_pm_mean, pose_basis.shape[0]),
        ("pose_mean", pose_mean, 3 * (NUM_BONES - 1)),
    ):
        _expect_shape(path, key, tensor.reshape(-1), (size,))

    tex_path = present["NIMBLE_TEX_DICT.pkl"]
    tex_dict = load_pickle(tex_path)
    textures = {}
    for name in TEXTURE_MAPS:
        entry = get_key(tex_dict, name, tex_path)
        basis = as_tensor(get_key(entry, "basis", tex_path), f"{name}.basis")
        mean = as_tensor(get_key(entry, "mean", tex_path), f"{name}.mean").reshape(-1)
        std = as_tensor(get_key(entry, "std", tex_path), f"{name}.std").reshape(-1)
        size = int(round((basis.shape[0] / 3) ** 0.5))
        if basis.ndim != 2 or 3 * size * size != basis.shape[0]:
            raise AssetError(f"{tex_path}: '{name}.basis' must be [3 * size**2, K], got {list(basis.shape)}")
        _expect_shape(tex_path, f"{name}.mean", mean, (basis.shape[0],))
        _expect_shape(tex_path, f"{name}.std", std, (basis.shape[1],))
        textures[name] = TexturePCA(basis=basis, mean=mean, std=std, size=size)

    uv_path = present["NIMBLE_TEX_FUV.pkl"]
    verts_uvs, faces_uvs, faces = parse_uv_layout(load_pickle(uv_path), uv_path)
    if int(faces.max()) >= num_skin or int(faces_uvs.max()) >= len(verts_uvs):
        raise AssetError(f"{uv_path}: face indices out of range of the skin vertices or UVs")
    if faces.shape != skin_faces.shape or not torch.equal(faces, skin_faces):
        warnings.warn(
            f"{uv_path}: the UV layout's faces differ from 'skin_f'; rendering with the UV layout's faces",
            stacklevel=2,
        )

    vreg_faces = vreg_bary = None
    if "NIMBLE_MANO_VREG.pkl" in present:
        vreg_path = present["NIMBLE_MANO_VREG.pkl"]
        vreg = load_pickle(vreg_path)
        vreg_faces = as_tensor(get_key(vreg, "lmk_faces_idx", vreg_path), "lmk_faces_idx", integer=True)
        vreg_bary = as_tensor(get_key(vreg, "lmk_bary_coords", vreg_path), "lmk_bary_coords")
        _expect_shape(vreg_path, "lmk_faces_idx", vreg_faces, (None, 778))
        _expect_shape(vreg_path, "lmk_bary_coords", vreg_bary, (vreg_faces.shape[0], 778, 3))
        if int(vreg_faces.min()) < 0 or int(vreg_faces.max()) >= len(skin_faces):
            raise AssetError(f"{vreg_path}: 'lmk_faces_idx' must index the {len(skin_faces)} skin faces")

    return NimbleData(
        skin_template=vert[skin],
        bone_template=vert[:num_bone],
        skin_shape_basis=shape_basis[:, skin],
        bone_shape_basis=shape_basis[:, :num_bone],
        shape_std=shape_std.reshape(-1),
        shape_mean=shape_mean.reshape(-1),
        pose_basis=pose_basis,
        pose_mean=pose_mean.reshape(-1),
        pose_std=pose_std.reshape(-1),
        pose_pm_mean=pose_pm_mean.reshape(-1),
        skin_pose_blend=all_pbs[skin],
        skin_weights=all_sw[skin],
        jreg_bone=jreg_bone,
        jreg_mano=jreg_mano,
        skin_faces=skin_faces,
        faces=faces,
        faces_uvs=faces_uvs,
        verts_uvs=verts_uvs,
        textures=textures,
        vreg_faces=vreg_faces,
        vreg_bary=vreg_bary,
    )


def mano_registration_matrix(data: NimbleData) -> torch.Tensor:
    """[778, Ns] linear map from skin vertices to MANO-topology vertices: the mean over the
    registrations of the barycentric interpolation ``sum_k bary[s, l, k] * skin[skin_f[face[s, l], k]]``."""
    if data.vreg_faces is None or data.vreg_bary is None:
        raise AssetError("the NIMBLE asset has no MANO registration (NIMBLE_MANO_VREG.pkl)")
    num_reg = data.vreg_faces.shape[0]
    corners = data.skin_faces[data.vreg_faces]  # [R, 778, 3] skin vertex ids
    rows = torch.arange(778).expand(num_reg, 778).unsqueeze(-1).expand_as(corners)
    matrix = torch.zeros(778, data.skin_template.shape[0], dtype=data.vreg_bary.dtype)
    matrix.index_put_((rows.reshape(-1), corners.reshape(-1)), data.vreg_bary.reshape(-1) / num_reg, accumulate=True)
    return matrix


class NimbleLayer(nn.Module):
    """Differentiable NIMBLE layer (skin mesh, 21 keypoints, diffuse texture); a
    :class:`~hifihr.hand.interface.HandModel` with a UV texture.

    Args:
        data: the asset arrays (:func:`load_nimble_data`).
        mano: the MANO model arrays; with the asset's MANO registration they give the
            keypoints as HiFiHR does (MANO ``J_regressor`` + fingertip vertices on the
            MANO-topology vertices) and the MANO faces. Without it, the asset's own
            ``jreg_mano`` (taken to be in FreiHAND order) regresses the keypoints.
        shape_ncomp, pose_ncomp, tex_ncomp: numbers of normalised PCA coefficients in the
            inputs (HiFiHR: 20, 27 (plus the 3 root values), 10).
        dtype: dtype of the buffers and of the expected inputs.
    """

    def __init__(
        self,
        data: NimbleData,
        mano: Optional[ManoData] = None,
        shape_ncomp: int = 20,
        pose_ncomp: int = 27,
        tex_ncomp: int = 10,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        limits = {
            "shape_ncomp": (shape_ncomp, data.shape_std.shape[0]),
            "pose_ncomp": (pose_ncomp, data.pose_std.shape[0]),
            "tex_ncomp": (tex_ncomp, min(t.std.shape[0] for t in data.textures.values())),
        }
        for name, (value, available) in limits.items():
            if not 1 <= value <= available:
                raise ValueError(f"{name}: expected 1..{available} (what the asset holds), got {value}")
        self.shape_ncomp, self.pose_ncomp, self.tex_ncomp = shape_ncomp, pose_ncomp, tex_ncomp

        def buffer(name: str, value: torch.Tensor) -> None:
            # Asset arrays are rebuilt from the files, never saved in checkpoints.
            self.register_buffer(name, value if not value.is_floating_point() else value.to(dtype), persistent=False)

        shape_dirs_skin = data.skin_shape_basis[:shape_ncomp].permute(1, 2, 0)  # [Ns, 3, S]
        bone_joints = regress_joints(data.jreg_bone, data.bone_template[None])[0]
        joint_dirs = torch.einsum("jn,snc->jcs", data.jreg_bone, data.bone_shape_basis[:shape_ncomp])
        buffer("skin_template", data.skin_template)
        buffer("skin_shapedirs", shape_dirs_skin)
        buffer("joint_template", bone_joints)
        buffer("joint_shapedirs", joint_dirs)
        buffer("shape_std", data.shape_std[:shape_ncomp])
        buffer("shape_mean", data.shape_mean[:shape_ncomp])
        buffer("pose_basis", data.pose_basis[:pose_ncomp])
        buffer("pose_mean", data.pose_mean)
        buffer("pose_std", data.pose_std[:pose_ncomp])
        buffer("pose_pm_mean", data.pose_pm_mean[:pose_ncomp])
        buffer("skin_pose_blend", data.skin_pose_blend)
        buffer("skin_weights", data.skin_weights)
        buffer("faces", data.faces)
        buffer("faces_uvs", data.faces_uvs)
        buffer("verts_uvs", data.verts_uvs)
        buffer("bone_joint_index", torch.tensor(joint_orders.NIMBLE_BONE_JOINTS))

        diffuse = data.textures["diffuse"]
        self.texture_size = diffuse.size
        buffer("diffuse_basis_t", diffuse.basis[:, :tex_ncomp].T.contiguous())  # [T, 3 * size**2]
        buffer("diffuse_mean", diffuse.mean)
        buffer("diffuse_std", diffuse.std[:tex_ncomp])
        # Normal and specular maps are for export only: keep them on the CPU, out of .to().
        self._export_maps = {
            name: TexturePCA(pca.basis[:, :tex_ncomp].T.contiguous(), pca.mean, pca.std[:tex_ncomp], pca.size)
            for name, pca in data.textures.items()
            if name != "diffuse"
        }

        self.has_mano_topology = data.vreg_faces is not None
        if self.has_mano_topology:
            registration = mano_registration_matrix(data)
            buffer("mano_registration", registration)
            if mano is not None:
                buffer("keypoint_regressor", mano_keypoint_regressor(mano) @ registration)
                buffer("eval_faces", mano.faces)
        if mano is not None and not self.has_mano_topology:
            raise AssetError(
                "a MANO model was given but the NIMBLE assets lack NIMBLE_MANO_VREG.pkl, which maps the "
                f"skin to MANO's topology; get it from {NIMBLE_SOURCE}"
            )
        if mano is None:
            buffer("keypoint_regressor", data.jreg_mano)
            if not self.has_mano_topology:
                buffer("eval_faces", data.faces)

    def extra_repr(self) -> str:
        return (
            f"skin_verts={self.skin_template.shape[0]}, faces={self.faces.shape[0]}, "
            f"shape_ncomp={self.shape_ncomp}, pose_ncomp={self.pose_ncomp}, tex_ncomp={self.tex_ncomp}, "
            f"texture_size={self.texture_size}, mano_topology={self.has_mano_topology}"
        )

    @property
    def num_shape(self) -> int:
        """Normalised shape PCA coefficients."""
        return self.shape_ncomp

    @property
    def num_pose(self) -> int:
        """Root axis-angle values plus the normalised pose PCA coefficients."""
        return ROOT_POSE_SIZE + self.pose_ncomp

    @property
    def num_texture(self) -> int:
        """Normalised texture PCA coefficients."""
        return self.tex_ncomp

    @property
    def texture_kind(self) -> TextureKind:
        return "uv"

    def full_pose_from_pca(self, pose: torch.Tensor) -> torch.Tensor:
        """Axis-angle bone rotations [B, 20, 3] from ``pose`` [B, 3 + pose_ncomp]: the root
        axis-angle (raw radians) then normalised PCA coefficients."""
        expected = 3 + self.pose_ncomp
        if pose.ndim != 2 or pose.shape[1] != expected:
            raise ValueError(f"pose: expected [B, {expected}] (root axis-angle | PCA), got {tuple(pose.shape)}")
        theta = pose[:, 3:] * self.pose_std + self.pose_pm_mean
        bones = theta @ self.pose_basis + self.pose_mean
        return torch.cat([pose[:, :3], bones], dim=1).reshape(-1, NUM_BONES, 3)

    def diffuse_map(self, texture: torch.Tensor) -> torch.Tensor:
        """Diffuse map [B, size, size, 3], RGB in [0, 1], from normalised coefficients [B, tex_ncomp]."""
        return self._map(texture, self.diffuse_basis_t, self.diffuse_mean, self.diffuse_std, self.texture_size)

    def export_map(self, texture: torch.Tensor, name: str) -> torch.Tensor:
        """Normal (``"normal"``) or specular (``"spec"``) map [B, size, size, 3] in [0, 1], RGB,
        computed on the CPU from the same coefficients as the diffuse map, without gradient
        (they are for export); returned on ``texture``'s device."""
        if name not in self._export_maps:
            raise ValueError(f"map: expected one of {sorted(self._export_maps)}, got {name!r}")
        pca = self._export_maps[name]
        coeffs = texture.detach().to("cpu", pca.basis.dtype)
        return self._map(coeffs, pca.basis, pca.mean, pca.std, pca.size).to(texture.device, texture.dtype)

    @staticmethod
    def _map(coeffs: torch.Tensor, basis_t: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, size: int):
        flat = (coeffs * std) @ basis_t + mean
        # Stored BGR (OpenCV order): flip to RGB.
        return flat.reshape(-1, size, size, 3).flip(-1).clamp(0.0, 1.0)

    def forward(
        self,
        shape: Optional[torch.Tensor] = None,
        pose: Optional[torch.Tensor] = None,
        texture: Optional[torch.Tensor] = None,
        *,
        full_pose: Optional[torch.Tensor] = None,
        export_maps: bool = False,
    ) -> HandOutput:
        """Shape, pose and texture the hand.

        Args:
            shape: [B, shape_ncomp] normalised shape PCA (None: zeros, the PCA mean shape).
            pose: [B, 3 + pose_ncomp]: root axis-angle (radians) then normalised pose PCA. Or:
            full_pose: [B, 20, 3] axis-angle of every bone (root first), radians.
            texture: [B, tex_ncomp] normalised texture PCA (None: zeros, the mean maps).
            export_maps: also compute the normal and specular maps (for export).

        Returns:
            :class:`HandOutput` in metres, model frame: ``verts`` [B, Ns, 3] skin, ``joints``
            [B, 21, 3] FreiHAND order, ``eval_verts`` [B, 778, 3] with the MANO registration
            (else the skin), ``model_joints`` [B, 25, 3], ``full_pose`` [B, 20, 3],
            ``texture`` [B, size, size, 3].
        """
        if (pose is None) == (full_pose is None):
            raise ValueError("give exactly one of pose (root + PCA) or full_pose (axis-angle)")
        if full_pose is None:
            full_pose = self.full_pose_from_pca(pose)
        elif full_pose.ndim != 3 or full_pose.shape[1:] != (NUM_BONES, 3):
            raise ValueError(f"full_pose: expected [B, {NUM_BONES}, 3], got {tuple(full_pose.shape)}")
        batch = full_pose.shape[0]
        if shape is None:
            shape = full_pose.new_zeros(batch, self.shape_ncomp)
        if shape.shape != (batch, self.shape_ncomp):
            raise ValueError(f"shape: expected [{batch}, {self.shape_ncomp}], got {tuple(shape.shape)}")
        if texture is None:
            texture = full_pose.new_zeros(batch, self.tex_ncomp)
        if texture.shape != (batch, self.tex_ncomp):
            raise ValueError(f"texture: expected [{batch}, {self.tex_ncomp}], got {tuple(texture.shape)}")

        beta = shape * self.shape_std + self.shape_mean
        v_shaped = self.skin_template + torch.einsum("vcs,bs->bvc", self.skin_shapedirs, beta)
        rest_joints = self.joint_template + torch.einsum("jcs,bs->bjc", self.joint_shapedirs, beta)

        bone_rotations = axis_angle_to_matrix(full_pose)  # [B, 20, 3, 3]
        joint_rotations = torch.eye(3, dtype=full_pose.dtype, device=full_pose.device).repeat(batch, NUM_JOINTS, 1, 1)
        joint_rotations = joint_rotations.index_copy(1, self.bone_joint_index, bone_rotations)
        v_posed = v_shaped + torch.einsum("vck,bk->bvc", self.skin_pose_blend, pose_feature(bone_rotations[:, 1:]))
        model_joints, skinning = rigid_transforms(joint_rotations, rest_joints, joint_orders.NIMBLE_PARENTS)
        verts = skin_vertices(v_posed, self.skin_weights, skinning) * MM_TO_M
        model_joints = model_joints * MM_TO_M

        if self.has_mano_topology:
            eval_verts = regress_joints(self.mano_registration, verts)
        else:
            eval_verts = verts
        return HandOutput(
            verts=verts,
            faces=self.faces,
            joints=regress_joints(self.keypoint_regressor, verts),
            eval_verts=eval_verts,
            eval_faces=getattr(self, "eval_faces", None),
            model_joints=model_joints,
            full_pose=full_pose,
            verts_uvs=self.verts_uvs,
            faces_uvs=self.faces_uvs,
            texture=self.diffuse_map(texture),
            normal_map=self.export_map(texture, "normal") if export_maps else None,
            specular_map=self.export_map(texture, "spec") if export_maps else None,
        )
