"""Quality metrics (MSE, PSNR two ways, SSIM via torchmetrics) and the classical Wiener baseline."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torchmetrics.functional.image import structural_similarity_index_measure


@dataclass
class MetricTotals:
    """Running per-image sums; ``summary()`` gives the reported numbers."""

    count: int = 0
    mse_sum: float = 0.0
    psnr_sum: float = 0.0
    ssim_sum: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)

    def add(self, restored: torch.Tensor, sharp: torch.Tensor) -> None:
        """Add a batch: (N, 3, H, W) restored (clamped here to [0, 1]) against sharp in [0, 1]."""
        restored = restored.float().clamp(0, 1)
        sharp = sharp.float()
        mse = (restored - sharp).pow(2).flatten(1).mean(1)
        self.count += mse.numel()
        self.mse_sum += mse.sum().item()
        self.psnr_sum += psnr_from_mse(mse).sum().item()
        self.ssim_sum += ssim(restored, sharp).sum().item()

    def summary(self) -> dict[str, float]:
        n = max(self.count, 1)
        mse = self.mse_sum / n
        return {
            "images": self.count,
            "mse": mse,
            "psnr_of_mean_mse": float(psnr_from_mse(torch.tensor(mse))),
            "mean_psnr": self.psnr_sum / n,
            "ssim": self.ssim_sum / n,
        }


def psnr_from_mse(mse: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """PSNR in dB for MSE values on images with the given data range (capped at 100 dB for exact matches)."""
    return 10 * torch.log10(data_range**2 / mse.clamp_min(1e-10))


def ssim(restored: torch.Tensor, sharp: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (N,) of (N, 3, H, W) in [0, 1], torchmetrics' Gaussian 11x11 window.

    Images smaller than the window use a smaller odd window so tiny inputs still score.
    """
    side = min(restored.shape[-2:])
    kernel = min(11, side if side % 2 else side - 1)
    sigma = 1.5 * kernel / 11
    return structural_similarity_index_measure(
        restored, sharp, data_range=1.0, reduction="none", kernel_size=max(kernel, 1), sigma=max(sigma, 0.1)
    )


def gaussian_kernel2d(sigma: float, size: int) -> torch.Tensor:
    """The (size, size) kernel ``cv2.GaussianBlur`` applies for this sigma (float64)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    k = torch.exp(-(x**2) / (2 * sigma**2))
    k = k / k.sum()
    return k[:, None] * k[None, :]


def wiener_deconvolve(degraded: torch.Tensor, sigmas: torch.Tensor | float, nsr: float, kernel_size: int = 5) -> torch.Tensor:
    """Wiener deconvolution of (N, C, H, W), image ``i`` blurred by a known Gaussian ``sigmas[i]``."""
    n = degraded.shape[0]
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64).reshape(-1).expand(n)
    kernels = torch.stack([gaussian_kernel2d(sigma, kernel_size) for sigma in sigmas.tolist()])
    return wiener_deconvolve_kernels(degraded, kernels, nsr)


def wiener_deconvolve_kernels(degraded: torch.Tensor, kernels: torch.Tensor, nsr: float) -> torch.Tensor:
    """Wiener deconvolution of (N, C, H, W), image ``i`` convolved with the known (K, K) ``kernels[i]``.

    ``kernels`` is (N, K, K) (or (K, K) for all), K odd, centred. The image is reflect-padded
    before the FFT so the circular convolution the FFT assumes does not wrap one border into
    the other. ``nsr`` is the noise-to-signal power ratio.
    """
    n, c, h, w = degraded.shape
    kernels = torch.as_tensor(kernels, dtype=torch.float64).expand(n, -1, -1)
    k = kernels.shape[-1]
    pad = min(k * 2, h - 1, w - 1)
    x = F.pad(degraded.double(), (pad, pad, pad, pad), mode="reflect") if pad > 0 else degraded.double()
    psf = torch.zeros(n, *x.shape[-2:], dtype=torch.float64)
    psf[:, :k, :k] = kernels
    psf = torch.roll(psf, shifts=(-(k // 2), -(k // 2)), dims=(1, 2))
    transfer = torch.fft.rfft2(psf)[:, None]
    gain = transfer.conj() / (transfer.abs() ** 2 + nsr)
    restored = torch.fft.irfft2(torch.fft.rfft2(x) * gain, s=x.shape[-2:])
    return restored[..., pad : pad + h, pad : pad + w].to(degraded.dtype)


NSR_GRID = tuple(10.0**e for e in [-4, -3.5, -3, -2.5, -2, -1.5, -1])


def best_wiener_nsr(batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> float:
    """The NSR of ``NSR_GRID`` with the lowest mean MSE over (degraded, sharp, sigmas) batches.

    An oracle choice on the evaluated images: the classical baseline shown at its best.
    """
    best, best_mse = NSR_GRID[0], math.inf
    for nsr in NSR_GRID:
        total = sum(
            (wiener_deconvolve(d, s, nsr).clamp(0, 1) - t).pow(2).flatten(1).mean(1).sum().item() for d, t, s in batches
        )
        if total < best_mse:
            best, best_mse = nsr, total
    return best
