"""The ``uv_align`` term: image sampling, gradients, and its pull on a misplaced mesh."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import assert_close

from hifihr.data.synthetic import PALM_TO_CAMERA
from hifihr.hand import load_hand_model
from hifihr.hand.joints import ROOT_INDEX
from hifihr.losses import LOSSES, Prediction
from hifihr.losses.uv_align import alignment_error, sample_image, visible_surface
from hifihr.render import Renderer, TexturesVertex

SKIN = (0.8, 0.6, 0.5)
BACKGROUND = (0.1, 0.2, 0.3)


def test_sample_image_hand_values():
    image = torch.arange(12.0).view(1, 1, 3, 4)  # rows [0..3], [4..7], [8..11]
    uv = torch.tensor([[[0.5, 0.5], [1.5, 0.5], [1.0, 0.5], [2.0, 1.0], [3.5, 2.5], [9.0, 0.5]]])
    # pixel centres, the midpoint of two columns, the centre of four pixels, border repeat
    expected = torch.tensor([0.0, 1.0, 0.5, (1 + 2 + 5 + 6) / 4, 11.0, 3.0])
    assert_close(sample_image(image, uv)[0, :, 0], expected, atol=1e-6)


def test_alignment_error_hand_value_and_gradcheck():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 8, 8, generator=g, dtype=torch.float64)
    K = torch.tensor([[20.0, 0.0, 4.0], [0.0, 20.0, 4.0], [0.0, 0.0, 1.0]], dtype=torch.float64).expand(2, 3, 3)
    points = torch.cat([0.04 * torch.rand(2, 5, 2, generator=g, dtype=torch.float64) - 0.02, torch.full((2, 5, 1), 0.5, dtype=torch.float64)], -1)
    predicted = torch.rand(2, 5, 3, generator=g, dtype=torch.float64)
    weights = torch.rand(2, 5, generator=g, dtype=torch.float64)
    # independent value: project each point by hand, sample with the bilinear formula
    expected = []
    for b in range(2):
        total = 0.0
        for n in range(5):
            x, y, z = points[b, n].tolist()
            u, v = 20 * x / z + 4 - 0.5, 20 * y / z + 4 - 0.5  # continuous index of pixel centres
            i0, j0 = math.floor(u), math.floor(v)
            fu, fv = u - i0, v - j0
            colour = sum(
                wt * image[b, :, min(max(j, 0), 7), min(max(i, 0), 7)]
                for i, j, wt in [(i0, j0, (1 - fu) * (1 - fv)), (i0 + 1, j0, fu * (1 - fv)), (i0, j0 + 1, (1 - fu) * fv), (i0 + 1, j0 + 1, fu * fv)]
            )
            total += weights[b, n] * (predicted[b, n] - colour).abs().mean()
        expected.append(total / weights[b].sum())
    assert_close(alignment_error(image, points, predicted, weights, K), torch.stack(expected), atol=1e-12)
    points.requires_grad_(True)
    predicted.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda p, c: alignment_error(image, p, c, weights, K), (points, predicted), eps=1e-7, atol=1e-5
    )


def hand_scene(image_size: int = 64, supersample: int = 1):
    """The open hand's mean pose, palm to the camera, 40 px tall, flat skin colour, 'albedo' shading."""
    hand = load_hand_model("open_hand", dtype=torch.float64)
    out = hand(None, torch.zeros(1, 30, dtype=torch.float64))
    rotation = torch.tensor(PALM_TO_CAMERA, dtype=torch.float64)
    verts = (out.verts - out.joints[:, ROOT_INDEX : ROOT_INDEX + 1]) @ rotation.T
    verts = verts + torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64)
    focal = 40 * 0.5 / float(verts[0, :, 1].max() - verts[0, :, 1].min())
    K = torch.tensor([[[focal, 0, image_size / 2], [0, focal, image_size / 2], [0, 0, 1]]], dtype=torch.float64)
    renderer = Renderer(image_size, supersample=supersample, shading="albedo", background=BACKGROUND)
    textures = TexturesVertex(torch.tensor(SKIN, dtype=torch.float64).expand(1, verts.shape[1], 3))
    return renderer, verts, out.faces, K, textures, focal


def prediction_for(render) -> Prediction:
    zeros = render.rgb.new_zeros
    return Prediction(
        joints3d=zeros(1, 21, 3), verts3d=zeros(1, 5, 3), joints2d=zeros(1, 21, 2), pose_params=zeros(1, 30),
        shape_params=zeros(1, 20), render=render, background=render.rgb.new_tensor(BACKGROUND),
    )  # fmt: skip


def test_visible_points_project_to_their_supersample_centres():
    renderer, verts, faces, K, textures, _ = hand_scene(supersample=2)
    render = renderer.render(verts, faces, K, textures)
    points, predicted, weights = visible_surface(render.fragments, render.colors, render.verts_cam, render.faces)
    covered = (render.fragments.pix_to_face[0] >= 0).nonzero()
    uv = (points[0] @ (K[0] * torch.tensor([2.0, 2.0, 1.0], dtype=K.dtype)[:, None]).T)
    uv = uv[:, :2] / uv[:, 2:]
    assert_close(uv[weights[0] > 0], covered.flip(-1).to(uv) + 0.5, atol=1e-6)
    assert_close(predicted[0][weights[0] > 0], torch.tensor(SKIN, dtype=uv.dtype).expand(len(covered), 3), atol=1e-12)
    assert (weights[0, : len(covered)] > 0).all()
    assert (weights <= 1).all()


def test_uv_align_is_zero_on_its_own_render_and_registered():
    renderer, verts, faces, K, textures, _ = hand_scene()
    render = renderer.render(verts, faces, K, textures)
    term = LOSSES.get("uv_align")
    assert term.required_fields == ("image",)
    assert term.needs_render
    value = term.fn(prediction_for(render), {"image": render.rgb})
    assert float(value) < 1e-9


def fit_translation(name: str, steps: int = 40) -> tuple[float, float]:
    """Start the hand 3 px right and 2 px down of where the image shows it and descend ``name``
    on its translation in the image plane (depth held: the term only sees the rendered surface,
    so alone it also likes a smaller hand); returns the (initial, final) placement error, px."""
    renderer, verts, faces, K, textures, focal = hand_scene()
    target = renderer.render(verts, faces, K, textures).rgb.detach()
    batch = {"image": target, "openpose_conf": torch.ones(1, 21), "dataset": ["synthetic"]}
    metres_per_px = 0.5 / focal
    start = torch.tensor([3.0, 2.0], dtype=torch.float64) * metres_per_px
    shift = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([shift], lr=0.2 * metres_per_px)
    for _ in range(steps):
        render = renderer.render(verts + torch.cat([shift, shift.new_zeros(1)]), faces, K, textures)
        loss = LOSSES.get(name).fn(prediction_for(render), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    pixels = lambda s: float(torch.linalg.vector_norm(s) / metres_per_px)  # noqa: E731
    return pixels(start), pixels(shift.detach())


def test_uv_align_moves_a_misplaced_flat_hand_where_the_photometric_loss_stalls():
    initial, aligned = fit_translation("uv_align")
    _, photometric = fit_translation("texture_self")
    assert initial == pytest.approx(math.sqrt(13.0))
    assert aligned < 0.3 * initial  # pulled most of the way onto the hand in the image
    assert photometric == pytest.approx(initial, abs=1e-9)  # no gradient through hard coverage
