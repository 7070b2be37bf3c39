"""Tests of hifihr.metrics.texture against hand-worked values and naive implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision
from helpers import assert_close, pytorch_ssim_reference

from hifihr.metrics import texture


def make_batch(seed: int = 0, size: int = 8):
    """Two random images, a render differing from them by 0.1 inside the mask and 0.5 outside."""
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(2, 3, size, size, generator=gen, dtype=torch.float64) * 0.5 + 0.2
    mask = torch.zeros(2, 1, size, size, dtype=torch.float64)
    mask[0, :, 2:4, 2:4] = 1  # 4 pixels
    mask[1, :, 1:5, 3:5] = 1  # 8 pixels
    pred = target + (0.1 * mask + 0.5 * (1 - mask)).expand(-1, 3, -1, -1)
    return pred, target, mask


def naive_ssim_map(img1: np.ndarray, img2: np.ndarray, size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """SSIM map by explicit loops over pixels and window taps, zero padding outside the image."""
    g = np.array([math.exp(-((i - size // 2) ** 2) / (2 * sigma**2)) for i in range(size)])
    w = np.outer(g, g) / g.sum() ** 2
    c1, c2 = 0.01**2, 0.03**2
    b, c, h, wd = img1.shape
    out = np.zeros_like(img1)
    for n in range(b):
        for ch in range(c):
            for y in range(h):
                for x in range(wd):
                    m1 = m2 = s11 = s22 = s12 = 0.0
                    for dy in range(size):
                        for dx in range(size):
                            yy, xx = y + dy - size // 2, x + dx - size // 2
                            if 0 <= yy < h and 0 <= xx < wd:
                                p, q = img1[n, ch, yy, xx], img2[n, ch, yy, xx]
                                m1 += w[dy, dx] * p
                                m2 += w[dy, dx] * q
                                s11 += w[dy, dx] * p * p
                                s22 += w[dy, dx] * q * q
                                s12 += w[dy, dx] * p * q
                    v1, v2, cov = s11 - m1 * m1, s22 - m2 * m2, s12 - m1 * m2
                    out[n, ch, y, x] = ((2 * m1 * m2 + c1) * (2 * cov + c2)) / (
                        (m1 * m1 + m2 * m2 + c1) * (v1 + v2 + c2)
                    )
    return out


def test_gaussian_window_is_a_normalised_gaussian():
    window = texture.gaussian_window(11, 1.5, dtype=torch.float64)
    assert window.shape == (11, 11) and window.sum().item() == pytest.approx(1.0)
    ratio = window[5, 6] / window[5, 5]
    assert ratio.item() == pytest.approx(math.exp(-1 / (2 * 1.5**2)))


def test_ssim_matches_naive_loops():
    gen = torch.Generator().manual_seed(1)
    a = torch.rand(2, 3, 7, 6, generator=gen, dtype=torch.float64)
    b = (a + 0.2 * torch.rand(2, 3, 7, 6, generator=gen, dtype=torch.float64)).clamp(0, 1)
    expected = torch.from_numpy(naive_ssim_map(a.numpy(), b.numpy()))
    assert_close(texture.ssim(a, b, reduction="none"), expected, atol=1e-12)
    assert texture.ssim(a, b).item() == pytest.approx(expected.mean().item(), abs=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ssim_matches_the_reference_pytorch_ssim(dtype):
    """The reference's ``pytorch_ssim.ssim`` (float32 window cast to the images' dtype), on
    images shaped like its renders: a hand region on black against a masked photo."""
    gen = torch.Generator().manual_seed(5)
    photo = torch.rand(2, 3, 40, 48, generator=gen, dtype=dtype)
    mask = torch.zeros(2, 1, 40, 48, dtype=dtype)
    mask[:, :, 8:30, 10:36] = 1
    render = (photo + 0.1 * torch.randn(2, 3, 40, 48, generator=gen, dtype=dtype)).clamp(0, 1) * mask
    expected = pytorch_ssim_reference(render, photo * mask)
    # In float64 the reference's float32 window alone moves SSIM by ~3e-9.
    assert_close(texture.ssim(render, photo * mask), expected, atol=1e-6 if dtype == torch.float32 else 1e-8)


def test_ssim_of_identical_images_is_one_and_differentiable():
    a = torch.rand(2, 3, 9, 9, generator=torch.Generator().manual_seed(2))
    assert_close(texture.ssim(a, a, reduction="none"), torch.ones_like(a), atol=1e-5)
    b = torch.rand(1, 1, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    x = torch.rand(1, 1, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4), requires_grad=True)
    assert torch.autograd.gradcheck(lambda img: texture.ssim(img, b, window_size=3, sigma=1.0), (x,))


def test_psnr_against_the_formula():
    pred, target, mask = make_batch()
    assert_close(texture.psnr(pred, target, mask), torch.full((2,), 20.0, dtype=torch.float64), atol=1e-9)
    inside = mask.sum(dim=(1, 2, 3))
    mse = (inside * 0.01 + (64 - inside) * 0.25) / 64
    assert_close(texture.psnr(pred, target), -10 * torch.log10(mse), atol=1e-9)


def test_reference_batch_psnr_counts_the_zeroed_background():
    pred, target, mask = make_batch()
    # 12 mask pixels x 3 channels of squared error 0.01, averaged over 2 x 3 x 8 x 8 elements.
    expected = -10 * math.log10(0.01 * 12 * 3 / (2 * 3 * 64))
    assert texture.reference_batch_psnr(pred, target, mask).item() == pytest.approx(expected, abs=1e-9)


def test_masked_protocol_ignores_pixels_outside_the_mask():
    pred, target, mask = make_batch()
    noise = torch.rand(pred.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    outside = 1 - mask
    pred2, target2 = pred + outside * noise, target - outside * noise.flip(0)

    def fake_lpips(a, b):
        return ((a - b) ** 2).mean(dim=(1, 2, 3), keepdim=True)

    first = texture.texture_metrics(pred, target, mask, lpips_model=fake_lpips)
    second = texture.texture_metrics(pred2, target2, mask, lpips_model=fake_lpips)
    for name in ("psnr_db", "ssim", "l1", "l2", "lpips"):
        assert getattr(first, name).shape == (2,)
        assert_close(getattr(second, name), getattr(first, name), atol=1e-12, msg=name)
    assert_close(first.l1, torch.full((2,), 0.1, dtype=torch.float64), atol=1e-12)
    assert_close(first.l2, torch.full((2,), 0.01, dtype=torch.float64), atol=1e-12)
    assert_close(first.psnr_db, torch.full((2,), 20.0, dtype=torch.float64), atol=1e-9)
    expected_ssim = [
        texture.ssim(pred * mask, target * mask, reduction="none")[i][:, mask[i, 0].bool()].mean() for i in range(2)
    ]
    assert_close(first.ssim, torch.stack(expected_ssim), atol=1e-12)
    assert torch.isnan(texture.masked_mean(pred, torch.zeros_like(mask))).all()


def test_reference_protocol_is_one_number_per_batch():
    pred, target, mask = make_batch()
    out = texture.texture_metrics(pred, target, mask, protocol="reference")
    assert out.lpips is None and out.psnr_db.shape == (1,)
    assert_close(out.psnr_db, texture.reference_batch_psnr(pred, target, mask).reshape(1))
    assert_close(out.ssim, texture.ssim(pred * mask, target * mask).reshape(1))
    assert out.l1.item() == pytest.approx(0.1 * 12 * 3 / (2 * 3 * 64))
    assert out.l2.item() == pytest.approx(0.01 * 12 * 3 / (2 * 3 * 64))
    with pytest.raises(ValueError, match=r"valid: \['masked', 'reference'\]"):
        texture.texture_metrics(pred, target, mask, protocol="batch")
    with pytest.raises(ValueError, match=r"mask: expected \[2, 1, 8, 8\]"):
        texture.texture_metrics(pred, target, mask[:, :, :4])


def test_lpips_wrapper_masks_and_rescales_inputs():
    pred, target, mask = make_batch()
    seen = []

    def fake_lpips(a, b):
        seen.append((a, b))
        return ((a - b) ** 2).mean(dim=(1, 2, 3), keepdim=True)

    got = texture.lpips_distance(pred, target, fake_lpips, mask)
    expected = (4 * (mask * (pred - target)) ** 2).mean(dim=(1, 2, 3))
    assert_close(got, expected, atol=1e-12)
    a, b = seen[0]
    assert_close(a[:, :, 0, 0], -torch.ones(2, 3, dtype=torch.float64))  # masked-out pixels are black
    assert_close(a, 2 * mask * pred - 1, atol=1e-12)
    assert_close(b, 2 * mask * target - 1, atol=1e-12)
    ref = texture.texture_metrics(pred, target, mask, protocol="reference", lpips_model=fake_lpips)
    assert_close(ref.lpips, expected.mean().reshape(1), atol=1e-12)


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    """A fresh torch hub cache; any attempt to download fails the test."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to download a file")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path


def test_missing_alexnet_weights_raise_a_helpful_error(empty_torch_home, monkeypatch):
    path = empty_torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    assert texture.alexnet_weights_path() == path
    with pytest.raises(texture.MissingWeightsError) as info:
        texture.load_lpips_alex()
    message = str(info.value)
    assert "alexnet-owt-7be5be79.pth" in message and str(path) in message
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in message
    assert info.value.path == path and isinstance(info.value, FileNotFoundError)

    def offline(url, dst, hash_prefix=None, progress=True):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(texture.MissingWeightsError, match="download failed") as info:
        texture.load_lpips_alex(download=True)
    assert isinstance(info.value.__cause__, OSError) and not path.exists()


def test_lpips_builds_from_cached_weights_without_network(empty_torch_home):
    # Small random trunk weights under torchvision's file name; the classifier, which LPIPS does
    # not use, is stored as expanded zeros so the file stays tiny.
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in torchvision.models.alexnet().state_dict().items()}
    gen = torch.Generator().manual_seed(6)
    state = {
        k: (torch.randn(s, generator=gen) * 0.05 if k.startswith("features") else torch.zeros(1).expand(s))
        for k, s in shapes.items()
    }
    path = texture.alexnet_weights_path()
    path.parent.mkdir(parents=True)
    torch.save(state, path)

    model = texture.load_lpips_alex()
    assert not model.training
    assert_close(model.net.slice1[0].weight, state["features.0.weight"])
    assert_close(model.net.slice5[0].weight, state["features.10.weight"])
    pred, target, mask = (t.float() for t in make_batch(size=32))
    with torch.no_grad():
        got = texture.lpips_distance(pred, target, model, mask)
        expected = model(pred * mask, target * mask, normalize=True).reshape(2)  # lpips's own [0,1] mapping
        same = texture.lpips_distance(pred, pred, model, mask)
    assert_close(got, expected, atol=1e-6)
    assert (got > 0).all() and torch.all(same.abs() < 1e-6)
