"""Assembly of the open hand: every step run in order, from one seed, into NIMBLE's objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from ..nimble import TEXTURE_MAPS
from .files import FILE_NAMES, uv_layout_lines
from .interior import make_bones, make_muscles
from .keypoints import keypoint_regressor
from .meshing import graph_geodesics, make_skin, vertex_normals
from .pca import pose_pca, shape_pca, texture_pca
from .pose_space import sample_pose
from .shape_space import sample_shape_params, shape_displacement
from .skeleton import NUM_BONES, default_hand, design_to_nimble, make_skeleton, unit
from .skin_field import hand_sdf
from .skinning import bone_labels, bone_to_joint_weights, diffuse_labels
from .textures import bake_attribute, texture_features, texture_sample
from .uv_layout import make_uv_layout, rasterize_uv


@dataclass(frozen=True)
class BuildConfig:
    """Every knob of the build. ``FULL`` makes the shipped asset; tests use a tiny one.

    Attributes:
        seed: seed of every random draw.
        grid_mm: spacing of the grid the signed distance field is meshed on (mm).
        skin_verts: target number of skin vertices after decimation.
        texture_size: side of the square texture maps (texels).
        shape_comps / pose_comps / tex_comps: numbers of PCA components kept.
        shape_samples / pose_samples / tex_samples: sizes of the seeded training samples.
    """

    seed: int = 0
    grid_mm: float = 1.6
    skin_verts: int = 1800
    texture_size: int = 240
    shape_comps: int = 20
    pose_comps: int = 30
    tex_comps: int = 10
    shape_samples: int = 400
    pose_samples: int = 4000
    tex_samples: int = 64


FULL = BuildConfig()


def build(config: BuildConfig = FULL, log: Callable[[str], None] = print) -> dict[str, object]:
    """Build the three NIMBLE-format objects of the open hand; ``log`` receives a line per stage.

    Returns:
        ``{file name: object}``: the parametric model dict (torch tensors), the texture dict
        (numpy arrays) and the UV layout (list of OBJ lines).
    """
    shape_rng, pose_rng, tex_rng, noise_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(4))
    rest = make_skeleton(default_hand())
    skin_v, skin_f = make_skin(rest, config.grid_mm, config.skin_verts)
    log(f"skin: {len(skin_v)} vertices, {len(skin_f)} faces")
    bone_v, bone_f, bone_owner, jreg_bone = make_bones(rest)
    muscle_v, muscle_f = make_muscles(rest)
    for name, pts in (("bone", bone_v), ("muscle", muscle_v)):
        if hand_sdf(pts, rest).max() > -0.5:
            raise RuntimeError(f"a {name} vertex is not inside the skin")

    skin_labels = bone_labels(skin_v, rest)
    skin_bw = diffuse_labels(skin_labels, skin_f, iterations=12)
    warp_bw = diffuse_labels(skin_labels, skin_f, iterations=60)
    _, nearest = cKDTree(skin_v).query(muscle_v)
    bone_bw = np.eye(NUM_BONES)[bone_owner]
    all_bw = np.concatenate([bone_bw, skin_bw[nearest], skin_bw])
    warp_w = np.concatenate([bone_bw, warp_bw[nearest], warp_bw])
    verts = np.concatenate([bone_v, muscle_v, skin_v])
    num_bone, num_muscle, num_skin = len(bone_v), len(muscle_v), len(skin_v)
    is_skin = np.arange(len(verts)) >= num_bone + num_muscle
    skin_normals = vertex_normals(skin_v, skin_f)
    normals = np.concatenate([np.zeros((num_bone + num_muscle, 3)), skin_normals])

    displacements = np.stack(
        [
            shape_displacement(rest, sample_shape_params(shape_rng), verts, normals, warp_w, is_skin).reshape(-1)
            for _ in range(config.shape_samples)
        ]
    )
    shape_basis, shape_mean, shape_std = shape_pca(displacements, config.shape_comps)
    poses = np.stack(
        [Rotation.from_matrix(sample_pose(pose_rng, rest)[1:]).as_rotvec().reshape(-1) for _ in range(config.pose_samples)]
    )
    log(f"shape and pose samples: {config.shape_samples}, {config.pose_samples}")

    dorsal_dirs = unit(warp_bw @ rest.frames[:, :, 1])
    verts_uvs, faces_uvs, uv_scale = make_uv_layout(skin_v, skin_f, dorsal_dirs, rest)
    size = config.texture_size
    face, bary = rasterize_uv(verts_uvs, faces_uvs, size)
    pos = bake_attribute(skin_v, skin_f, face, bary).reshape(-1, 3)
    nrm = unit(bake_attribute(skin_normals, skin_f, face, bary).reshape(-1, 3))
    dors = unit(bake_attribute(dorsal_dirs, skin_f, face, bary).reshape(-1, 3))
    mm_per_texel = 1.0 / (uv_scale * (size - 1))
    features = texture_features(pos, nrm, dors, rest, mm_per_texel, noise_rng)
    samples = np.stack([texture_sample(features, size, mm_per_texel, tex_rng) for _ in range(config.tex_samples)])
    tex_basis, tex_mean, tex_std = texture_pca(samples, config.tex_comps)
    log(f"textures: {config.tex_samples} samples of {size}x{size}, {mm_per_texel:.2f} mm per texel")

    # Into NIMBLE's rest frame: rotate positions, displacements and rotation vectors.
    rot, trans = design_to_nimble()
    verts_n = verts @ rot.T + trans
    shape_basis_n = (shape_basis.reshape(len(shape_basis), -1, 3) @ rot.T).reshape(len(shape_basis), -1)
    poses_n = (poses.reshape(len(poses), -1, 3) @ rot.T).reshape(len(poses), -1)
    pose_basis, pose_mean, pose_pm_mean, pose_pm_std = pose_pca(poses_n, config.pose_comps)

    offsets = (0, num_bone, num_bone + num_muscle)
    face_all = np.concatenate([bone_f + offsets[0], muscle_f + offsets[1], skin_f + offsets[2]])
    f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    i64 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))  # noqa: E731
    model = {
        "vert": f32(verts_n),
        "bone_v_sep": int(num_bone),
        "skin_v_sep": -int(num_skin),
        "face": i64(face_all),
        "bone_f": i64(bone_f),
        "muscle_f": i64(muscle_f),
        "skin_f": i64(skin_f),
        "all_sw": f32(bone_to_joint_weights(all_bw)),
        # No pose correctives: an all-zero tensor whose storage holds a single element.
        "all_pbs": torch.zeros(1, dtype=torch.float32).expand(len(verts), 3, 9 * (NUM_BONES - 1)),
        "jreg_bone": f32(jreg_bone),
        "jreg_mano": f32(keypoint_regressor(skin_v, rest)),
        "shape_basis": f32(shape_basis_n),
        "shape_pm_std": f32(shape_std),
        "shape_pm_mean": f32(shape_mean),
        "pose_basis": f32(pose_basis),
        "pose_mean": f32(pose_mean),
        "pose_pm_std": f32(pose_pm_std),
        "pose_pm_mean": f32(pose_pm_mean),
        "skin_v_surface_mask": torch.ones(num_skin, dtype=torch.bool),
        "skin_v_gd": torch.from_numpy(graph_geodesics(skin_v, skin_f).astype(np.float16)),
    }
    span = 3 * size * size
    textures = {
        name: {
            "basis": np.ascontiguousarray(tex_basis[k * span : (k + 1) * span], dtype=np.float16),
            "mean": np.ascontiguousarray(tex_mean[k * span : (k + 1) * span], dtype=np.float16),
            "std": tex_std.astype(np.float32),
        }
        for k, name in enumerate(TEXTURE_MAPS)
    }
    return dict(zip(FILE_NAMES, (model, textures, uv_layout_lines(skin_f, verts_uvs, faces_uvs))))
