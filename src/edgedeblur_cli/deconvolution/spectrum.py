"""Does a photo's spectrum carry the estimated kernel's mark?

A photo blurred by a kernel k has the power spectrum |K(f)|^2 S(f) (+ noise), where S, a natural
photo's, falls off with frequency about evenly in every direction. So at each frequency radius
the photo's log power rises and falls with direction as log |K|^2 does: deeply for motion and
shake, whose |K| has valleys across the path. A kernel fitted to a sharp photo (to its grain,
its texture, or a few strong edges) has no such mark in the photo's spectrum. The estimator
cannot see this (it fits gradients in small regions); the whole spectrum can. Cost: one FFT of
at most 512 x 512 for the photo and one per kernel asked, any photo size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .straight import central_luminance


@dataclass(frozen=True)
class RingSpectrum:
    """The photo's log power spectrum on the rings the check compares: ``masks`` (each
    (h, w) bool, centred frequencies) and, on each, the photo's log power less its ring mean."""

    shape: tuple[int, int]
    masks: tuple[np.ndarray, ...]
    photo_parts: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class SpectralMarks:
    """What the photo's spectrum says of a kernel: ``agreement`` (``spectral_agreement``) and
    ``orientation_margin``, how much better it agrees with the kernel than with the kernel's
    mirror image or its quarter turn, whichever agrees better (``spectral_marks``)."""

    agreement: float
    orientation_margin: float


def ring_spectrum(pixels: np.ndarray, band: tuple[float, float] = (0.04, 0.3), rings: int = 12, min_signal: float = 10.0) -> RingSpectrum:
    """The rings of ``pixels``'s ((H, W, 3) float in [0, 1]; its luminance on the central
    square) log power spectrum that ``spectral_agreement`` compares: ``rings`` of frequency
    radius within ``band`` (cycles per pixel: above the lowest frequencies, which the photo's
    layout fills, and below the highest, which noise fills), those whose median power is at
    least ``min_signal`` times the noise's (the median past 0.42 cycles per pixel, which any
    blur of a few pixels leaves to noise): a ring that noise fills has no direction, and the
    noisier the photo, the fewer rings are left. Each ring's mean is taken out, so only the
    direction counts, not how fast a photo's spectrum falls."""
    gray = central_luminance(pixels)
    side_h, side_w = gray.shape
    window = np.outer(np.hanning(side_h), np.hanning(side_w))
    power = np.abs(np.fft.fft2((gray - gray.mean()) * window)) ** 2
    # Averaged over 5 x 5 neighbours: a single frequency's power scatters like noise.
    log_photo = np.log(cv2.blur(np.fft.fftshift(power), (5, 5)) + 1e-12)
    fy = np.fft.fftshift(np.fft.fftfreq(side_h))[:, None]
    fx = np.fft.fftshift(np.fft.fftfreq(side_w))[None, :]
    radius = np.hypot(fy, fx)
    noise = float(np.median(log_photo[radius > 0.42]))  # log power of the highest frequencies
    floor = noise + np.log(min_signal) if min_signal > 0 else -np.inf
    masks, photo_parts = [], []
    edges = np.linspace(band[0], band[1], rings + 1)
    for inner, outer in zip(edges[:-1], edges[1:]):
        ring = (radius >= inner) & (radius < outer)
        if np.median(log_photo[ring]) < floor:
            continue
        masks.append(ring)
        photo_parts.append(log_photo[ring] - log_photo[ring].mean())
    return RingSpectrum((side_h, side_w), tuple(masks), tuple(photo_parts))


def kernel_agreement(spectrum: RingSpectrum, kernel: np.ndarray) -> float:
    """Correlation, in [-1, 1], between the photo's rings (``ring_spectrum``) and the log
    |K|^2 of ``kernel`` ((k, k), non-negative) on the same rings, each less its ring mean.
    0 if no ring is left."""
    if not spectrum.masks:
        return 0.0
    transfer = np.abs(np.fft.fftshift(np.fft.fft2(kernel / kernel.sum(), spectrum.shape))) ** 2
    log_kernel = np.log(transfer + 1e-4)  # valleys deeper than 40 dB are lost in any photo's noise
    kernel_parts = [log_kernel[ring] - log_kernel[ring].mean() for ring in spectrum.masks]
    a, b = np.concatenate(spectrum.photo_parts), np.concatenate(kernel_parts)
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-12))


def spectral_agreement(
    pixels: np.ndarray, kernel: np.ndarray, band: tuple[float, float] = (0.04, 0.3), rings: int = 12, min_signal: float = 10.0
) -> float:
    """Correlation, in [-1, 1], between how the log power spectrum of ``pixels`` ((H, W, 3)
    float in [0, 1]) and that of ``kernel`` ((k, k), non-negative) vary with direction, on the
    rings ``ring_spectrum`` keeps. 0 if no ring is left.

    A right kernel scores high, but not always: on training photos with camera shake (+ noise
    0.01), the first estimates deconvolution made better scored 0.62-0.92 (median 0.79), those
    it made worse mostly under 0.7, and the kernels fitted to the training photos that passed
    every other check of the rule (clean, noisy, JPEG) 0.55-0.72. The true kernels of 24 shaken
    training photos: median 0.74 at noise 0.01, 0.73 at 0.02, 0.75 at 0.03 (without the noise
    test on rings, 0.73 / 0.65 / 0.56). Research log 2026-12-07, fifth session."""
    return kernel_agreement(ring_spectrum(pixels, band, rings, min_signal), kernel)


def spectral_marks(pixels: np.ndarray, kernel: np.ndarray) -> SpectralMarks:
    """The photo's agreement with ``kernel`` and its ``orientation_margin``: the agreement less
    the larger of the agreements with the kernel mirrored left-right and turned by 90 degrees.

    The spectrum's |K|^2 cannot tell a kernel from its half turn, but it can from its mirror
    image and its quarter turn, unless the kernel looks the same so turned. The kernels fitted
    to sharp training photos that passed every other check of the rule were such: a blob, or a
    line through a bright centre along a photo axis (margin 0.01-0.14), where a shake path is
    not (0.20-1.32 on the 25 shaken training photos deconvolution helped). A straight motion
    along an axis is its own mirror image too (margin 0): the cepstrum's confirmation
    (``straight.py``), with an agreement bound of its own, is what the rule asks of lines.
    Research log 2026-12-07, sixth session."""
    spectrum = ring_spectrum(pixels)
    agreement = kernel_agreement(spectrum, kernel)
    mirrored = kernel_agreement(spectrum, np.fliplr(kernel))
    turned = kernel_agreement(spectrum, np.rot90(kernel))
    return SpectralMarks(agreement, agreement - max(mirrored, turned))
