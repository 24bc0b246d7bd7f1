"""Blur kernels (point-spread functions): made from parameters, read from files, cleaned.

Convention, the same everywhere in the tool: the kernel is the point-spread function, the
image of a point light as the camera recorded it, so ``blurred = sharp (*) kernel`` with
``(*)`` a true convolution (not a correlation). A kernel is an (h, w) float64 NumPy array,
non-negative, summing to 1, with odd sides; its centre pixel is (h // 2, w // 2).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


class KernelError(ValueError):
    """A kernel that cannot be used; the message names the file (or option) and the reason."""


def normalized(kernel: np.ndarray, source: str = "kernel") -> np.ndarray:
    """``kernel`` checked, trimmed of all-zero borders, padded to odd sides, summing to 1."""
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim == 3 and k.shape[2] in (3, 4):
        k = k[..., :3].mean(axis=2)
    if k.ndim != 2 or k.size == 0:
        raise KernelError(f"{source}: a kernel must be a 2-D array, got shape {k.shape}")
    if not np.isfinite(k).all():
        raise KernelError(f"{source}: the kernel holds NaN or infinite values")
    if (k < -1e-6 * max(float(np.abs(k).max()), 1e-12)).any():
        raise KernelError(f"{source}: the kernel has negative values (a point-spread function is light, never negative)")
    k = np.clip(k, 0, None)
    if k.sum() <= 0:
        raise KernelError(f"{source}: the kernel is all zeros")
    rows, cols = np.nonzero(k)
    k = k[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    k = np.pad(k, ((0, 1 - k.shape[0] % 2), (0, 1 - k.shape[1] % 2)))
    return k / k.sum()


def read_kernel(path: str | Path) -> np.ndarray:
    """A kernel from a ``.npy`` array or an image file (grayscale: its brightness), normalised."""
    path = Path(path)
    if not path.is_file():
        raise KernelError(f"{path}: no such kernel file")
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise KernelError(f"{path}: not a NumPy array file ({exc})") from None
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                array = np.asarray(image.convert("I;16") if image.mode.startswith("I;16") else image.convert("L"), dtype=np.float64)
        except (UnidentifiedImageError, OSError) as exc:
            raise KernelError(f"{path}: not an image or .npy kernel ({type(exc).__name__})") from None
    return normalized(array, str(path))


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """A straight motion of ``length`` pixels at ``angle`` degrees (counter-clockwise from the x axis).

    Anti-aliased: the segment is sampled densely and each sample splatted bilinearly.
    """
    if not length >= 1:
        raise KernelError(f"--motion: the length must be at least 1 pixel, got {length}")
    half = length / 2
    radius = int(math.ceil(half)) + 1
    size = 2 * radius + 1
    k = np.zeros((size, size))
    theta = math.radians(angle)
    samples = max(8, int(length * 8))
    for t in np.linspace(-half, half, samples):
        x, y = radius + t * math.cos(theta), radius - t * math.sin(theta)  # image rows grow downwards
        x0, y0 = int(math.floor(x)), int(math.floor(y))
        fx, fy = x - x0, y - y0
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                k[y0 + dy, x0 + dx] += wy * wx
    return normalized(k, "--motion")


def gaussian_kernel(sigma: float) -> np.ndarray:
    """An isotropic Gaussian of standard deviation ``sigma`` pixels, cut at 3 sigma."""
    if not sigma > 0:
        raise KernelError(f"--gaussian: sigma must be positive, got {sigma}")
    radius = max(1, int(math.ceil(3 * sigma)))
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return normalized(np.exp(-(x**2 + y**2) / (2 * sigma**2)), "--gaussian")


def defocus_kernel(radius: float) -> np.ndarray:
    """A uniform disc of ``radius`` pixels (out of focus), its rim anti-aliased by 8x8 supersampling."""
    if not radius > 0:
        raise KernelError(f"--defocus: the radius must be positive, got {radius}")
    r = int(math.ceil(radius))
    offsets = (np.arange(8) + 0.5) / 8 - 0.5
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    cover = np.zeros(y.shape)
    for oy in offsets:
        for ox in offsets:
            cover += (x + ox) ** 2 + (y + oy) ** 2 <= radius**2
    return normalized(cover, "--defocus")


def centered(kernel: np.ndarray) -> np.ndarray:
    """``kernel`` shifted by whole pixels so its centroid sits on its centre pixel (same size)."""
    h, w = kernel.shape
    y, x = np.mgrid[:h, :w]
    total = kernel.sum()
    dy = int(round(h // 2 - (kernel * y).sum() / total))
    dx = int(round(w // 2 - (kernel * x).sum() / total))
    out = np.zeros_like(kernel)
    src = kernel[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    out[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return out / max(out.sum(), 1e-12)


def kernel_radius(kernel: np.ndarray) -> float:
    """Second-moment radius of ``kernel`` in pixels: about 0 for a delta, length/sqrt(12) for a line."""
    h, w = kernel.shape
    y, x = np.mgrid[:h, :w]
    k = kernel / kernel.sum()
    cy, cx = (k * y).sum(), (k * x).sum()
    return float(math.sqrt((k * ((y - cy) ** 2 + (x - cx) ** 2)).sum()))


def kernel_fill(kernel: np.ndarray, floor: float = 0.05) -> float:
    """How much of its own second-moment disc the kernel covers: its entries above ``floor`` x
    peak over pi radius^2. Under 1 for a path (a line of length L: about 12 / (pi L)), 2-3 for
    a blob (a disc, a Gaussian); 0 for a delta."""
    radius = kernel_radius(kernel)
    if radius <= 0:
        return 0.0
    return float((kernel > floor * kernel.max()).sum()) / (math.pi * radius**2)


def kernel_image(kernel: np.ndarray, scale: int = 1) -> np.ndarray:
    """(h*scale, w*scale) float32 in [0, 1] for viewing: the kernel over its peak, enlarged by nearest neighbour."""
    view = (kernel / max(float(kernel.max()), 1e-12)).astype(np.float32)
    return np.kron(view, np.ones((scale, scale), dtype=np.float32)) if scale > 1 else view
