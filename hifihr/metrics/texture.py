"""Texture metrics: PSNR, SSIM, LPIPS (AlexNet), L1 and L2 between a render and the input image.

Images are float RGB in [0, 1], ``[B, 3, H, W]``; masks are ``[B, 1, H, W]`` in {0, 1} (a
soft mask acts as per-pixel weights). Two protocols, chosen by name in :func:`texture_metrics`:

``"masked"`` (ours, per image): every metric is computed per image and, except LPIPS,
    restricted to the mask: PSNR from the MSE over mask pixels x channels, L1/L2 over mask
    pixels x channels, SSIM map of the two masked images (both multiplied by the mask, so
    windows at the border see no outside pixel) averaged over mask pixels and channels.
    LPIPS is the network's spatial average over the whole masked crop (a perceptual distance
    has no per-pixel support of its own; pixels outside the mask are zero in both images and
    change nothing, but the value is not normalised by the mask area). The split's figure is
    the mean over images. An image with an empty mask gives NaN.
``"reference"`` (HiFiHR's ``train_hrnet.py``, for comparison with the paper): both images are
    multiplied by the mask and every metric is one number per batch over the whole crop, zeros
    included: PSNR = -10 log10(MSE over B x 3 x H x W), SSIM = mean of the SSIM map over
    pixels, channels and batch, LPIPS = batch mean, L1/L2 = full means. The split's figure is
    the mean over batches, so it depends on the batch size (5 for FreiHAND, 8 for HO-3D in the
    reference configs) and is inflated by the background zeros. The reference masked FreiHAND
    with the ground-truth hand mask and HO-3D with the rendered silhouette ``(sil > 0)``.

SSIM (:func:`ssim`) is the reference's: 11x11 Gaussian window with sigma 1.5, per channel, zero
"same" padding, C1 = 0.01^2, C2 = 0.03^2 (data range 1, no rescaling).

LPIPS runs through the ``lpips`` package with ``net='alex'`` (v0.1, calibrated linear layers,
shipped inside the package). Its AlexNet trunk loads torchvision's ImageNet weights from the
torch hub cache; :func:`load_lpips_alex` builds it on request and raises
:class:`MissingWeightsError` when the file is absent, without touching the network unless
asked to download.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import torch
import torch.nn.functional as F

#: SSIM constants for data range 1.
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2


def _check_images(name: str, image: torch.Tensor, channels: int | None = None) -> None:
    if image.ndim != 4 or (channels is not None and image.shape[1] != channels):
        c = "C" if channels is None else str(channels)
        raise ValueError(f"{name}: expected [B, {c}, H, W], got {tuple(image.shape)}")


def _check_pair(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> None:
    _check_images("pred", pred)
    _check_images("target", target)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target: shapes differ, {tuple(pred.shape)} and {tuple(target.shape)}")
    if mask is not None:
        _check_images("mask", mask, channels=1)
        if mask.shape[0] != pred.shape[0] or mask.shape[2:] != pred.shape[2:]:
            raise ValueError(
                f"mask: expected [{pred.shape[0]}, 1, {pred.shape[2]}, {pred.shape[3]}], got {tuple(mask.shape)}"
            )


def gaussian_window(window_size: int, sigma: float, dtype=None, device=None) -> torch.Tensor:
    """Normalised 2D Gaussian window: the outer product of a sum-1 1D Gaussian with itself.

    The 1D weights are ``exp(-(i - window_size // 2)^2 / (2 sigma^2))``, i = 0..window_size-1,
    divided by their sum.

    Returns:
        [window_size, window_size], summing to 1.
    """
    x = torch.arange(window_size, dtype=dtype, device=device) - window_size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(
    img1: torch.Tensor,
    img2: torch.Tensor,
    window_size: int = 11,
    sigma: float = 1.5,
    c1: float = SSIM_C1,
    c2: float = SSIM_C2,
    reduction: str = "mean",
) -> torch.Tensor:
    """Structural similarity as the reference computes it (for metrics and for the SSIM loss).

    Local statistics come from a Gaussian window applied per channel with zero padding of
    ``window_size // 2`` (output the size of the input): mu = w * x, sigma^2 = w * x^2 - mu^2,
    sigma_12 = w * (x y) - mu_1 mu_2, and
    ``SSIM = (2 mu_1 mu_2 + C1)(2 sigma_12 + C2) / ((mu_1^2 + mu_2^2 + C1)(sigma_1^2 + sigma_2^2 + C2))``.
    The images are not rescaled: C1, C2 assume a data range of 1. Differentiable.

    Args:
        img1, img2: [B, C, H, W] images in [0, 1].
        window_size, sigma: the Gaussian window (odd size, pixels).
        c1, c2: stabilising constants.
        reduction: ``"mean"`` for the mean over pixels, channels and batch (a scalar, the
            reference's value), ``"none"`` for the SSIM map [B, C, H, W].

    Returns:
        A scalar tensor or the map [B, C, H, W]; 1 where the images agree.
    """
    _check_pair(img1, img2, None)
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction: expected 'mean' or 'none', got {reduction!r}")
    channels = img1.shape[1]
    window = gaussian_window(window_size, sigma, dtype=img1.dtype, device=img1.device)
    weight = window.expand(channels, 1, window_size, window_size)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, weight, padding=window_size // 2, groups=channels)

    mu1, mu2 = blur(img1), blur(img2)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    var1 = blur(img1 * img1) - mu1_sq
    var2 = blur(img2 * img2) - mu2_sq
    cov = blur(img1 * img2) - mu12
    ssim_map = ((2 * mu12 + c1) * (2 * cov + c2)) / ((mu1_sq + mu2_sq + c1) * (var1 + var2 + c2))
    return ssim_map.mean() if reduction == "mean" else ssim_map


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image mean of ``values`` over the mask's pixels and all channels.

    ``sum(mask * values) / (C * sum(mask))`` per image; a soft mask weights the pixels.

    Args:
        values: [B, C, H, W]. mask: [B, 1, H, W] in [0, 1].

    Returns:
        [B]; NaN for an image whose mask is empty.
    """
    weighted = (values * mask).sum(dim=(1, 2, 3))
    return weighted / (values.shape[1] * mask.sum(dim=(1, 2, 3)))


def psnr(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-image PSNR in dB with peak 1: ``-10 log10(MSE)``.

    The MSE runs over the mask's pixels x 3 channels (:func:`masked_mean`), or over the whole
    image when ``mask`` is None.

    Args:
        pred, target: [B, 3, H, W] in [0, 1]. mask: [B, 1, H, W] or None.

    Returns:
        [B] PSNR in dB; +inf for identical images, NaN for an empty mask.
    """
    _check_pair(pred, target, mask)
    sq = (pred - target) ** 2
    mse = sq.mean(dim=(1, 2, 3)) if mask is None else masked_mean(sq, mask)
    return -10 * torch.log10(mse)


def reference_batch_psnr(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The reference's PSNR of one batch: ``-10 log10(mean((M pred - M target)^2))``.

    The mean runs over all B x 3 x H x W elements, background zeros included, so the value
    grows as the mask shrinks and depends on the batch's composition. Average it over batches.

    Args:
        pred, target: [B, 3, H, W] in [0, 1]. mask: [B, 1, H, W].

    Returns:
        A scalar tensor, dB.
    """
    _check_pair(pred, target, mask)
    return -10 * torch.log10(((mask * pred - mask * target) ** 2).mean())


class MissingWeightsError(FileNotFoundError):
    """Pretrained weights a metric needs are not on disk and could not be fetched.

    Attributes: ``path`` (where the file must be placed) and ``url`` (where it comes from).
    """

    def __init__(self, message: str, path: Path, url: str):
        super().__init__(message)
        self.path = path
        self.url = url


def alexnet_weights_url() -> str:
    """URL of torchvision's ImageNet AlexNet weights, the file ``lpips.LPIPS(net='alex')`` loads."""
    from torchvision.models import AlexNet_Weights

    return AlexNet_Weights.IMAGENET1K_V1.url


def alexnet_weights_path() -> Path:
    """Where torchvision looks for the AlexNet weights: ``torch.hub.get_dir()/checkpoints/<file>``.

    ``torch.hub.get_dir()`` is ``$TORCH_HOME/hub`` (default ``~/.cache/torch/hub``); the file
    name is the URL's, ``alexnet-owt-7be5be79.pth`` with torchvision 0.26.
    """
    filename = os.path.basename(urlparse(alexnet_weights_url()).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _missing_message(path: Path, url: str, reason: str) -> str:
    return (
        f"LPIPS (AlexNet) needs torchvision's ImageNet AlexNet weights '{path.name}' at '{path}' "
        f"(torch.hub.get_dir()/checkpoints; set TORCH_HOME to change the cache), but {reason}. "
        f"Download {url} where there is internet (or run `python -c \"import torchvision; "
        f"torchvision.models.alexnet(weights='IMAGENET1K_V1')\"` there, which fills that "
        f"machine's cache), copy the file to that path, or call load_lpips_alex(download=True). "
        "The LPIPS linear layers ship inside the lpips package; nothing else is needed."
    )


def load_lpips_alex(download: bool = False) -> torch.nn.Module:
    """Build ``lpips.LPIPS(net='alex')`` (v0.1, calibrated), in eval mode, on the CPU.

    The AlexNet trunk weights must be in the torch hub cache (:func:`alexnet_weights_path`).
    Their presence is checked before anything is built, so nothing is downloaded unless
    ``download`` is True, in which case the file is fetched from :func:`alexnet_weights_url`
    with its hash checked.

    Raises:
        MissingWeightsError: the file is absent (and ``download`` is False), or the download
            failed. Catch it to carry on with the other metrics.
    """
    path = alexnet_weights_path()
    url = alexnet_weights_url()
    if not path.is_file():
        if not download:
            raise MissingWeightsError(_missing_message(path, url, "the file is absent"), path, url)
        path.parent.mkdir(parents=True, exist_ok=True)
        hash_match = torch.hub.HASH_REGEX.search(path.name)
        hash_prefix = hash_match.group(1) if hash_match else None
        try:
            torch.hub.download_url_to_file(url, str(path), hash_prefix=hash_prefix)
        except Exception as err:  # any failure to fetch (network, HTTP, hash) means the same to the caller
            message = _missing_message(path, url, f"the download failed ({err})")
            raise MissingWeightsError(message, path, url) from err

    import lpips

    with warnings.catch_warnings():
        # lpips 0.1.4 asks torchvision for `alexnet(pretrained=True)`, a deprecated spelling.
        warnings.simplefilter("ignore", UserWarning)
        return lpips.LPIPS(net="alex", verbose=False).eval()


def lpips_distance(
    pred: torch.Tensor,
    target: torch.Tensor,
    model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-image LPIPS: both images masked (if a mask is given), mapped [0, 1] -> [-1, 1].

    Args:
        pred, target: [B, 3, H, W] in [0, 1].
        model: an LPIPS network taking two [B, 3, H, W] images in [-1, 1] and returning
            [B, 1, 1, 1] (e.g. :func:`load_lpips_alex`'s module), on the images' device.
        mask: [B, 1, H, W] or None.

    Returns:
        [B] distances (unitless, >= 0; 0 for identical images).
    """
    _check_pair(pred, target, mask)
    if mask is not None:
        pred, target = pred * mask, target * mask
    return model(2 * pred - 1, 2 * target - 1).reshape(pred.shape[0])


@dataclass(frozen=True)
class TextureMetrics:
    """Texture metrics of one batch, as :func:`texture_metrics` returns them.

    Every field is a 1-D tensor of *averaging units*: [B] (one per image) for the ``"masked"``
    protocol, [1] (one per batch) for ``"reference"``. Concatenate over the split and take the
    mean to get the protocol's figure.
    """

    #: PSNR, dB (peak 1).
    psnr_db: torch.Tensor
    #: SSIM in [-1, 1] (1 = identical).
    ssim: torch.Tensor
    #: Mean absolute difference and mean squared difference, [0, 1] image units.
    l1: torch.Tensor
    l2: torch.Tensor
    #: LPIPS-alex distance; None when no LPIPS model was given.
    lpips: torch.Tensor | None = None


def _masked_protocol(pred, target, mask, lpips_model) -> TextureMetrics:
    diff = pred - target
    return TextureMetrics(
        psnr_db=psnr(pred, target, mask),
        ssim=masked_mean(ssim(pred * mask, target * mask, reduction="none"), mask),
        l1=masked_mean(diff.abs(), mask),
        l2=masked_mean(diff**2, mask),
        lpips=None if lpips_model is None else lpips_distance(pred, target, lpips_model, mask),
    )


def _reference_protocol(pred, target, mask, lpips_model) -> TextureMetrics:
    pred_m, target_m = pred * mask, target * mask
    diff = pred_m - target_m
    return TextureMetrics(
        psnr_db=reference_batch_psnr(pred, target, mask).reshape(1),
        ssim=ssim(pred_m, target_m).reshape(1),
        l1=diff.abs().mean().reshape(1),
        l2=(diff**2).mean().reshape(1),
        lpips=None if lpips_model is None else lpips_distance(pred, target, lpips_model, mask).mean().reshape(1),
    )


#: Texture-metric protocols by name (see the module docstring).
TEXTURE_PROTOCOLS: dict[str, Callable[..., TextureMetrics]] = {
    "masked": _masked_protocol,
    "reference": _reference_protocol,
}


def texture_metrics(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    protocol: str = "masked",
    lpips_model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> TextureMetrics:
    """PSNR, SSIM, L1, L2 and (optionally) LPIPS of a rendered batch against the input images.

    Args:
        pred: rendered images [B, 3, H, W] in [0, 1].
        target: input images [B, 3, H, W] in [0, 1], RGB.
        mask: [B, 1, H, W] in {0, 1}: the ground-truth hand mask where there is one, else the
            rendered silhouette.
        protocol: ``"masked"`` (per image, inside the mask) or ``"reference"`` (per batch, full
            crop, as HiFiHR); see the module docstring.
        lpips_model: an LPIPS network as :func:`lpips_distance` takes, or None to skip LPIPS.

    Returns:
        A :class:`TextureMetrics` of [B] tensors (``"masked"``) or [1] tensors (``"reference"``).
    """
    if protocol not in TEXTURE_PROTOCOLS:
        raise ValueError(f"protocol: unknown {protocol!r}; valid: {sorted(TEXTURE_PROTOCOLS)}")
    _check_pair(pred, target, mask)
    return TEXTURE_PROTOCOLS[protocol](pred, target, mask, lpips_model)
