"""The latent sharp image and the kernel fit: the periodic Fourier solvers ``estimate.py``
iterates, on (H, W) float luminance in [0, 1].

- ``l0_latent``: the sharp image under an L0 gradient prior (Xu et al. 2011), the estimator's
  edge prediction; ``shock_filter``, ``usefulness`` and ``select_edges``: Cho & Lee's and Xu &
  Jia's instead.
- ``solve_kernel`` / ``clean_kernel``: the kernel mapping predicted edges onto blurred ones, and
  its clean-up (no negatives, specks cut, centred).

Every solver assumes a periodic image (``taper`` fades a window's borders first) and works on
half spectra (``rfft2``): every image here is real.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .kernels import centered


def shock_filter(image: np.ndarray, steps: int = 3, dt: float = 0.5) -> np.ndarray:
    """Osher-Rudin shock filter: pushes values apart across edges, restoring steps from ramps."""
    out = image.copy()
    for _ in range(steps):
        gy, gx = np.gradient(out)
        laplacian = cv2.Laplacian(out, cv2.CV_32F)
        out = out - dt * np.sign(laplacian) * np.hypot(gx, gy)
    return out


def gradients(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward differences (x, y), circular: the Fourier solvers assume periodic images.
    (Slices, not ``np.roll``: the same numbers without two rolled copies per call.)"""
    gx, gy = np.empty_like(image), np.empty_like(image)
    np.subtract(image[:, 1:], image[:, :-1], out=gx[:, :-1])
    np.subtract(image[:, :1], image[:, -1:], out=gx[:, -1:])
    np.subtract(image[1:], image[:-1], out=gy[:-1])
    np.subtract(image[:1], image[-1:], out=gy[-1:])
    return gx, gy


def gradients_adjoint(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """The adjoint of ``gradients`` applied to (gx, gy): backward differences, negated."""
    out = np.empty_like(gx)
    np.subtract(gx[:, :-1], gx[:, 1:], out=out[:, 1:])
    np.subtract(gx[:, -1:], gx[:, :1], out=out[:, :1])
    out[1:] += gy[:-1]
    out[:1] += gy[-1:]
    out -= gy
    return out


def otf(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The kernel's transfer function on a periodic ``shape`` grid, half-spectrum (``rfft2``):
    every image here is real, and the half spectrum costs half the full one."""
    padded = np.zeros(shape)
    kh, kw = kernel.shape
    padded[:kh, :kw] = kernel
    return np.fft.rfft2(np.roll(padded, (-(kh // 2), -(kw // 2)), axis=(0, 1)))


def usefulness(gx: np.ndarray, gy: np.ndarray, window: int) -> np.ndarray:
    """Xu & Jia's r-map: |sum of gradients| / (sum of |gradients| + 0.5) over a window; near 1 on
    isolated edges wider than the window, near 0 on fine texture that blur washes out."""
    box = lambda a: cv2.boxFilter(a, -1, (window, window), normalize=False, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    return np.hypot(box(gx), box(gy)) / (box(np.hypot(gx, gy)) + 0.5)


def select_edges(gx: np.ndarray, gy: np.ndarray, useful: np.ndarray, kernel_side: int, share: float, useful_min: float = 0.25) -> np.ndarray:
    """Mask of gradients to fit the kernel on: useful ones, the strongest ``share`` per orientation.

    Cho & Lee's rule keeps at least ~2 sqrt(kernel pixels) per orientation bin, so every
    direction of the kernel is constrained.
    """
    magnitude = np.hypot(gx, gy) * (useful > useful_min)
    angle = (np.arctan2(gy, gx) % math.pi) // (math.pi / 4)
    mask = np.zeros(gx.shape, dtype=bool)
    least = int(2 * kernel_side)
    for b in range(4):
        values = magnitude[(angle == b) & (magnitude > 0)]
        if values.size == 0:
            continue
        keep = max(least, int(share * values.size))
        threshold = np.sort(values)[::-1][min(keep, values.size) - 1]
        mask |= (angle == b) & (magnitude >= threshold) & (magnitude > 0)
    return mask


def solve_kernel(px, py, bx, by, side: int, weight: float, blurred_spectra: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """argmin_k |px (*) k - bx|^2 + |py (*) k - by|^2 + weight |k|^2, cut to side x side (Fourier).
    ``blurred_spectra``: ``rfft2`` of (bx, by), when the caller fits them again and again."""
    mean_power = float(np.square(px).sum() + np.square(py).sum())  # over the full spectrum (Parseval)
    if mean_power <= 0:  # no edge selected: nothing to fit, assume no blur
        return delta_kernel(side)
    fpx, fpy = np.fft.rfft2(px), np.fft.rfft2(py)
    fbx, fby = blurred_spectra if blurred_spectra is not None else (np.fft.rfft2(bx), np.fft.rfft2(by))
    power = np.abs(fpx) ** 2 + np.abs(fpy) ** 2
    spectrum = (np.conj(fpx) * fbx + np.conj(fpy) * fby) / (power + weight * mean_power)
    full = np.fft.irfft2(spectrum, s=px.shape)
    r = side // 2
    return np.roll(full, (r, r), axis=(0, 1))[:side, :side]


def clean_kernel(kernel: np.ndarray, floor: float = 0.05) -> np.ndarray:
    """Non-negative, entries under ``floor`` x peak zeroed, specks under 10% of the mass cut, centred, sum 1."""
    k = np.clip(kernel, 0, None)
    if k.max() <= 0:
        return delta_kernel(k.shape[0])
    k[k < floor * k.max()] = 0
    count, labels = cv2.connectedComponents((k > 0).astype(np.uint8), connectivity=8)
    if count > 2:
        masses = np.array([k[labels == i].sum() for i in range(1, count)])
        for i, mass in enumerate(masses, start=1):
            if mass < 0.1 * masses.sum() and mass < masses.max():
                k[labels == i] = 0
    return centered(k / k.sum())


def deconvolve_latent(blurred: np.ndarray, kernel: np.ndarray, weight: float) -> np.ndarray:
    """argmin_L |L (*) k - B|^2 + weight |grad L|^2, closed form (periodic)."""
    shape = blurred.shape
    fk = otf(kernel, shape)
    blurred_spectrum, grad_power = latent_spectra(blurred)
    spectrum = np.conj(fk) * blurred_spectrum / (np.abs(fk) ** 2 + weight * grad_power)
    return np.fft.irfft2(spectrum, s=shape).astype(np.float32)


def taper(image: np.ndarray, margin: int) -> np.ndarray:
    """Fade the borders into the mean, so periodic solvers see no seam at the wrap."""
    h, w = image.shape
    ramp = lambda n: np.minimum(1, np.minimum(np.arange(n) + 1, np.arange(n)[::-1] + 1) / max(margin, 1))  # noqa: E731
    alpha = np.outer(ramp(h), ramp(w)).astype(np.float32)
    return alpha * image + (1 - alpha) * image.mean()


def l0_latent(
    blurred: np.ndarray, kernel: np.ndarray, weight: float, beta_max: float = 1e5, step: float = 2.0, spectra: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """argmin_L |L (*) k - B|^2 + weight |grad L|_0 by half-quadratic splitting (Xu et al. 2011;
    Pan et al. 2014): sharp, piecewise-flat edges, exactly what the kernel fit needs.
    ``spectra``: ``latent_spectra(blurred)``, when the caller solves for the same image again and again."""
    shape = blurred.shape
    fk = otf(kernel, shape)
    blurred_spectrum, grad_power = latent_spectra(blurred) if spectra is None else spectra
    numerator = np.conj(fk) * blurred_spectrum
    power = np.abs(fk) ** 2
    latent = blurred.astype(np.float64)
    beta = 2 * weight
    while beta < beta_max:
        gx, gy = gradients(latent)
        small = gx**2 + gy**2 < weight / beta
        gx[small] = 0
        gy[small] = 0
        # conj(dx) F(gx) + conj(dy) F(gy), as one transform of the differences' adjoint.
        spectrum = (numerator + beta * np.fft.rfft2(gradients_adjoint(gx, gy))) / (power + beta * grad_power)
        latent = np.fft.irfft2(spectrum, s=shape)
        beta *= step
    return latent.astype(np.float32)


def latent_spectra(blurred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the blurred image's half spectrum, the gradients' power |dx|^2 + |dy|^2): what every
    latent solve of the same image (``l0_latent``, ``deconvolve_latent``) shares, whatever its kernel."""
    dx, dy = _difference_otfs(blurred.shape)
    return np.fft.rfft2(blurred), np.abs(dx) ** 2 + np.abs(dy) ** 2


def _difference_otfs(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Transfer functions of ``gradients``: the forward differences as true convolutions."""
    return otf(np.array([[0, 0, 0], [1, -1, 0], [0, 0, 0]], float), shape), otf(np.array([[0, 1, 0], [0, -1, 0], [0, 0, 0]], float), shape)


def delta_kernel(side: int) -> np.ndarray:
    """(side, side) kernel of no blur."""
    k = np.zeros((side, side))
    k[side // 2, side // 2] = 1
    return k
