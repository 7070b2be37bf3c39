"""Export: the OBJ and GLB load back in trimesh with their geometry and texture."""

from __future__ import annotations

import numpy as np
import torch
import trimesh
from PIL import Image

from fixtures.hand_assets import write_nimble_assets
from hifihr.hand import load_hand_model
from hifihr.hand.export import export_hand, export_textured_mesh, split_seams


def test_split_seams_keeps_each_corner():
    faces = np.array([[0, 1, 2], [2, 1, 3]])
    faces_uvs = np.array([[0, 1, 2], [4, 1, 3]])  # vertex 2 has two UVs (a seam)
    vertex_index, uv_index, new_faces = split_seams(faces, faces_uvs)
    assert len(vertex_index) == 5
    assert np.array_equal(vertex_index[new_faces], faces) and np.array_equal(uv_index[new_faces], faces_uvs)


def test_exported_hand_loads_with_texture(tmp_path):
    write_nimble_assets(tmp_path / "assets", tex_size=16)
    layer = load_hand_model("nimble", tmp_path / "assets")
    out = layer(pose=0.3 * torch.randn(2, 30), texture=torch.randn(2, 10), export_maps=True)
    files = export_hand(out, tmp_path / "out" / "hand", index=1)
    assert {"obj", "mtl", "glb", "diffuse", "normal", "spec"} <= set(files)
    mtl = files["mtl"].read_text()
    assert "map_Kd hand_diffuse.png" in mtl and "norm hand_normal.png" in mtl

    expected_png = np.round(out.texture[1].numpy() * 255).astype(np.uint8)
    assert np.array_equal(np.asarray(Image.open(files["diffuse"])), expected_png)

    verts = out.verts[1].numpy()
    obj = trimesh.load(files["obj"], process=False)
    assert obj.visual.kind == "texture" and obj.visual.material.image is not None
    assert np.array_equal(np.asarray(obj.visual.material.image.convert("RGB")), expected_png)
    # trimesh splits seam vertices; every loaded vertex is one of ours and all of ours are used.
    used = np.unique(out.faces.numpy())
    dist = np.abs(obj.vertices[:, None] - verts[None]).max(-1)
    assert dist.min(1).max() < 1e-6 and set(dist.argmin(1)) == set(used)

    glb = trimesh.load(files["glb"], force="mesh", process=False)
    assert glb.visual.kind == "texture"
    assert np.array_equal(np.asarray(glb.visual.material.baseColorTexture.convert("RGB")), expected_png)
    assert len(glb.faces) == len(out.faces)
    # UVs survive the glTF v-flip round trip: compare per-corner UVs.
    corner_uv = out.verts_uvs.numpy()[out.faces_uvs.numpy()]
    assert np.allclose(glb.visual.uv[glb.faces], corner_uv, atol=1e-6)


def test_untextured_export(tmp_path):
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=float)
    files = export_textured_mesh(tmp_path / "tri", verts, np.array([[0, 1, 2]]))
    assert set(files) == {"obj", "glb"}
    mesh = trimesh.load(files["obj"], process=False)
    assert np.allclose(mesh.vertices, verts) and mesh.faces.tolist() == [[0, 1, 2]]


def test_stem_with_dots_keeps_its_whole_name(tmp_path):
    # Video frame names such as "clip.flv_000040" carry dots: they are not suffixes.
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=float)
    files = export_textured_mesh(tmp_path / "clip.flv_000040", verts, np.array([[0, 1, 2]]))
    assert sorted(p.name for p in files.values()) == ["clip.flv_000040.glb", "clip.flv_000040.obj"]
