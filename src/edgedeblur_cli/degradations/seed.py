"""The seed's degradation: Gaussian blur then additive Gaussian noise, unclipped.

``degrade_image`` is the reference (OpenCV ``GaussianBlur`` with its default border,
``BORDER_REFLECT_101``) used by ``edgedeblur degrade`` and the fixed test sets;
``degrade_batch`` is the same operation on (N, C, H, W) tensors for training on the fly,
on the CPU or a GPU, matching the reference within 1e-5 for the same sigma and noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import kornia
import numpy as np
import torch


@dataclass(frozen=True)
class DegradeConfig:
    """How images are degraded. ``sigma_max == sigma_min`` gives a fixed sigma."""

    sigma_min: float = 1.0
    sigma_max: float = 4.0
    kernel_size: int = 5
    noise: float = 0.02

    def __post_init__(self) -> None:
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel size must be odd and positive, got {self.kernel_size}")
        if not 0 < self.sigma_min <= self.sigma_max:
            raise ValueError(f"sigma range must satisfy 0 < min <= max, got {self.sigma_min}:{self.sigma_max}")
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")


def parse_sigma(text: str) -> tuple[float, float]:
    """``"2.5"`` -> (2.5, 2.5); ``"1:4"`` -> (1.0, 4.0)."""
    parts = text.split(":")
    if len(parts) not in (1, 2):
        raise ValueError(f"sigma must be a number or a range LOW:HIGH, got {text!r}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"sigma must be a number or a range LOW:HIGH, got {text!r}") from None
    return (values[0], values[-1])


def draw_sigma(config: DegradeConfig, rng: np.random.Generator) -> float:
    """One sigma, uniform in [sigma_min, sigma_max] (the seed's ``1 + 3 * U(0, 1)``)."""
    return config.sigma_min + (config.sigma_max - config.sigma_min) * rng.random()


def degrade_image(
    image: np.ndarray, sigma: float, noise: np.ndarray | None, config: DegradeConfig = DegradeConfig()
) -> np.ndarray:
    """Blur (H, W, C) float in [0, 1] with ``sigma`` and add ``config.noise * noise``.

    ``noise`` is a standard-normal draw of the image's shape (None for no noise). The
    result is float32 and not clipped, as in the seed study.
    """
    image = np.asarray(image, dtype=np.float32)
    k = config.kernel_size
    blurred = cv2.GaussianBlur(image, (k, k), sigmaX=sigma, sigmaY=sigma)
    if blurred.ndim < image.ndim:  # OpenCV drops a trailing channel axis of size 1
        blurred = blurred[..., None]
    if noise is not None:
        blurred = blurred + np.float32(config.noise) * noise.astype(np.float32)
    return blurred


def degrade_random(image: np.ndarray, rng: np.random.Generator, config: DegradeConfig = DegradeConfig()) -> tuple[np.ndarray, float]:
    """Degrade one (H, W, C) image with a sigma and noise drawn from ``rng``; returns (image, sigma)."""
    sigma = draw_sigma(config, rng)
    noise = rng.standard_normal(np.shape(image)).astype(np.float32)
    return degrade_image(image, sigma, noise, config), sigma


def blur_batch(images: torch.Tensor, sigmas: torch.Tensor, kernel_size: int = 5) -> torch.Tensor:
    """Gaussian blur of (N, C, H, W) with one sigma per image, (N,), reflect-101 border."""
    sigma_xy = sigmas.to(images).reshape(-1, 1).expand(-1, 2)
    # kornia's "reflect" is OpenCV's BORDER_REFLECT_101, the border the seed used.
    return kornia.filters.gaussian_blur2d(images, (kernel_size, kernel_size), sigma_xy, border_type="reflect")


def degrade_batch(
    images: torch.Tensor,
    config: DegradeConfig = DegradeConfig(),
    generator: torch.Generator | None = None,
    sigmas: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Degrade sharp (N, C, H, W) float in [0, 1] on its own device.

    Sigmas (N,) and standard-normal noise (N, C, H, W) are drawn from ``generator`` (which
    must live on the images' device) unless given. Returns (degraded unclipped, sigmas).
    """
    n = images.shape[0]
    device = images.device
    if sigmas is None:
        u = torch.rand(n, generator=generator, device=device, dtype=images.dtype)
        sigmas = config.sigma_min + (config.sigma_max - config.sigma_min) * u
    if noise is None:
        noise = torch.randn(images.shape, generator=generator, device=device, dtype=images.dtype)
    blurred = blur_batch(images, sigmas, config.kernel_size)
    return blurred + config.noise * noise.to(images), sigmas
