"""Export a posed, textured hand as OBJ + MTL + PNG maps and as a binary glTF (GLB).

Both open with their texture in Blender, MeshLab and trimesh. OBJ keeps the UV layout's seams
(``f v/vt``); GLB needs one UV per vertex, so vertices are split where a seam runs.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image

from ..files import write_atomic
from .output import HandOutput


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)



def _png_bytes(image: np.ndarray) -> bytes:
    """PNG bytes of an RGB image [H, W, 3] in [0, 1] (rounded to 8 bits)."""
    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def split_seams(faces: np.ndarray, faces_uvs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One vertex per distinct (vertex, uv) corner pair.

    Returns ``(vertex_index [V'], uv_index [V'], new_faces [F, 3])``: new vertex k is the old
    vertex ``vertex_index[k]`` with UV ``uv_index[k]``.
    """
    pairs = np.stack([faces.reshape(-1), faces_uvs.reshape(-1)], axis=1)
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    return unique[:, 0], unique[:, 1], inverse.reshape(faces.shape)


def export_textured_mesh(
    out_stem: str | Path,
    verts,
    faces,
    verts_uvs=None,
    faces_uvs=None,
    texture=None,
    normal_map=None,
    specular_map=None,
) -> dict[str, Path]:
    """Write ``<stem>.obj`` (+ ``.mtl`` and ``_diffuse.png``/``_normal.png``/``_spec.png`` when
    textured) and ``<stem>.glb``.

    Args:
        verts: [V, 3] positions (metres). faces: [F, 3] vertex indices.
        verts_uvs: [T, 2] UVs in [0, 1], origin bottom-left; faces_uvs: [F, 3]. Optional.
        texture: [H, W, 3] diffuse RGB in [0, 1], row 0 at the top. Optional.
        normal_map, specular_map: [H, W, 3] in [0, 1], written and referenced in the MTL.

    Returns:
        {kind: path} of every file written (``obj``, ``glb``, and ``mtl``, ``diffuse``, ...).
    """
    import trimesh

    stem = Path(out_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    verts, faces = _numpy(verts).astype(np.float64), _numpy(faces).astype(np.int64)
    textured = texture is not None and verts_uvs is not None and faces_uvs is not None
    written: dict[str, Path] = {}

    lines = []
    if textured:
        uvs, faces_uvs = _numpy(verts_uvs), _numpy(faces_uvs).astype(np.int64)
        maps = {"diffuse": texture, "normal": normal_map, "spec": specular_map}
        mtl = ["newmtl hand", "Ka 1 1 1", "Kd 1 1 1", "Ks 0 0 0", "d 1", "illum 1"]
        keys = {"diffuse": "map_Kd", "spec": "map_Ks", "normal": "norm"}
        for kind, image in maps.items():
            if image is None:
                continue
            path = stem.with_name(f"{stem.name}_{kind}.png")
            write_atomic(path, _png_bytes(_numpy(image)))
            written[kind] = path
            mtl.append(f"{keys[kind]} {path.name}")
        written["mtl"] = stem.with_name(stem.name + ".mtl")
        write_atomic(written["mtl"], ("\n".join(mtl) + "\n").encode())
        lines += [f"mtllib {written['mtl'].name}", "usemtl hand"]
    lines += [f"v {x:.7f} {y:.7f} {z:.7f}" for x, y, z in verts]
    if textured:
        lines += [f"vt {u:.7f} {v:.7f}" for u, v in uvs]
        lines += [
            "f " + " ".join(f"{v + 1}/{t + 1}" for v, t in zip(face, face_uv))
            for face, face_uv in zip(faces, faces_uvs)
        ]
    else:
        lines += ["f " + " ".join(str(v + 1) for v in face) for face in faces]
    written["obj"] = stem.with_name(stem.name + ".obj")
    write_atomic(written["obj"], ("\n".join(lines) + "\n").encode())

    if textured:
        vertex_index, uv_index, split_faces = split_seams(faces, faces_uvs)
        image = Image.open(written["diffuse"])
        visual = trimesh.visual.TextureVisuals(uv=uvs[uv_index], image=image)
        mesh = trimesh.Trimesh(verts[vertex_index], split_faces, visual=visual, process=False)
    else:
        mesh = trimesh.Trimesh(verts, faces, process=False)
    written["glb"] = stem.with_name(stem.name + ".glb")
    write_atomic(written["glb"], mesh.export(file_type="glb"))
    return written


def export_hand(output: HandOutput, out_stem: str | Path, index: int = 0) -> dict[str, Path]:
    """Export sample ``index`` of a hand layer's output (see :func:`export_textured_mesh`)."""

    def pick(field: Optional[torch.Tensor]):
        return None if field is None else field[index]

    return export_textured_mesh(
        out_stem,
        output.verts[index],
        output.faces,
        verts_uvs=output.verts_uvs,
        faces_uvs=output.faces_uvs,
        texture=pick(output.texture),
        normal_map=pick(output.normal_map),
        specular_map=pick(output.specular_map),
    )
