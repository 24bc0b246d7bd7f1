"""Straight motion: a blur estimate that looks like a line, measured again from the photo's cepstrum.

A straight, uniform motion of L pixels multiplies the photo's spectrum by a sinc whose zeros
repeat every 1/L cycles along the motion; in the cepstrum (the Fourier transform of the log
amplitude spectrum) that period shows as a negative peak at distance L in the motion's
direction (Cannon 1976; Rekleitis 1996; Oliveira et al. 2007). The peak comes from the blur's
zeros, not from the photo's edges, so it finds the length where the edge-based estimator
(``estimate.py``) ends short: on training photos with a 9 px motion, the estimator gave a line
of 4-7 px on 4 of 24, the cepstrum 9-10.25 px on all 24 (research log 2026-12-07, fourth
session). It knows nothing of curved paths, so it only replaces an estimate that is already a
straight line at the cepstrum's angle (``straighten``), and not bowed (``Line.sagitta``): a
path bent by a pixel keeps nearly periodic zeros, yet drawn straight it loses what its
estimate had (research log 2026-12-07, fifth session).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from .estimate import KernelEstimate, kernel_agreement, luminance
from .kernels import kernel_radius, motion_kernel

CEPSTRUM_SIDE = 512  # the central window analysed: a 60 px blur shows many periods in it, and any photo size costs the same


@dataclass(frozen=True)
class Line:
    """A straight motion: ``length`` pixels at ``angle`` degrees (counter-clockwise from the x
    axis, in [0, 180)), as ``kernels.motion_kernel`` draws it. ``depth``: the cepstrum's value at
    the peak (negative). ``prominence``: how far below the cepstrum's median at those lengths, all
    directions, the peak lies, in robust standard deviations (1.4826 x the median absolute
    deviation): 7.4 or more for every straight motion of the training photos, at most 2.1 for
    the short lines estimated on their clean and noisy photos, up to 4.8 on a sharp photo
    searched along any of 8 lines (research log 2026-12-07, fourth session). ``agreement``:
    normalised cross-correlation of the line drawn with the kernel it is compared with, in [0, 1].
    ``sagitta``: how far that kernel bows off the line, in pixels."""

    length: float
    angle: float
    depth: float = 0.0
    prominence: float = 0.0
    agreement: float = 0.0
    sagitta: float = 0.0


def straighten(pixels: np.ndarray, estimate: KernelEstimate, cepstrum_of: np.ndarray | None = None) -> KernelEstimate:
    """``estimate`` of the blur of ``pixels`` ((H, W, 3) float in [0, 1]), its kernel replaced
    by the straight motion the cepstrum measures when it is already a line there
    (``straightened``), with ``details["straight"]``, the ``Line``; else ``estimate`` itself.
    ``cepstrum_of``: the photo's ``central_cepstrum``, when the caller straightens several
    estimates of one photo."""
    kernel, line = straightened(pixels, estimate.kernel, cepstrum_of=cepstrum_of)
    if line is None:
        return estimate
    return replace(estimate, kernel=kernel, radius=kernel_radius(kernel), details={**estimate.details, "straight": line})


def straightened(
    pixels: np.ndarray,
    kernel: np.ndarray,
    min_agreement: float = 0.8,
    within: float = 6.0,
    min_prominence: float = 6.0,
    max_sagitta: float = 0.9,
    cepstrum_of: np.ndarray | None = None,
) -> tuple[np.ndarray, Line | None]:
    """(kernel, the line drawn or None): ``kernel``, an estimate of the blur of ``pixels``
    ((H, W, 3) float in [0, 1]), replaced by the straight motion the cepstrum measures when the
    estimate is already a line (``line_fit`` agreement at least ``min_agreement``, bowed by at
    most ``max_sagitta`` pixels: straight motions of 9, 15 and 21 px were estimated on training
    photos bowed by at most 0.63, 0.86 and 0.28, and 7 of the 12 bent paths whose estimates lost
    0.6-5.5 dB drawn straight by 1.07-1.56) and the cepstrum has a clear peak
    (``Line.prominence`` at least ``min_prominence``) within ``within`` degrees of it, at half
    to two and a half times its length; else ``kernel`` itself and None. A sharp photo's
    estimate is often a short line too, but its cepstrum has no such peak: the blur's zeros
    are what the peak shows."""
    fit = line_fit(kernel)
    if fit.agreement < min_agreement or fit.sagitta > max_sagitta:
        return kernel, None
    line = cepstral_line(pixels, max(3.0, 0.5 * fit.length), 2.5 * fit.length, near=fit.angle, within=within, cepstrum_of=cepstrum_of)
    if line.length <= 0 or line.prominence < min_prominence:
        return kernel, None
    line = replace(line, agreement=fit.agreement, sagitta=fit.sagitta)
    return motion_kernel(line.length, line.angle), line


def central_cepstrum(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) float in [0, 1] -> the ``cepstrum`` of its ``central_luminance``: any photo
    size costs the same."""
    return cepstrum(central_luminance(pixels))


def central_luminance(pixels: np.ndarray, side: int = CEPSTRUM_SIDE) -> np.ndarray:
    """(H, W, 3) float in [0, 1] -> (h, w) float32 luminance of its central square of ``side``
    pixels (the whole photo along a shorter side), where the photo's spectrum is analysed."""
    h, w = pixels.shape[:2]
    side_h, side_w = min(h, side), min(w, side)
    top, left = (h - side_h) // 2, (w - side_w) // 2
    return luminance(pixels[top : top + side_h, left : left + side_w])


def cepstrum(gray: np.ndarray) -> np.ndarray:
    """(H, W) float -> (H, W) float32 real cepstrum of the Hann-windowed image, centred: the
    zero quefrency at (H // 2, W // 2)."""
    h, w = gray.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    spectrum = np.abs(np.fft.rfft2((gray - gray.mean()) * window))
    floor = 1e-3 * float(np.median(spectrum)) + 1e-12  # the log of a zero of the blur stays finite
    return np.fft.fftshift(np.fft.irfft2(np.log(spectrum + floor), s=(h, w))).astype(np.float32)


def cepstral_line(
    pixels: np.ndarray, shortest: float = 3.0, longest: float = 60.0, near: float | None = None, within: float = 90.0, cepstrum_of: np.ndarray | None = None
) -> Line:
    """The straight motion whose cepstral peak is deepest in ``pixels`` ((H, W, 3) float in
    [0, 1]; or its ``central_cepstrum`` given as ``cepstrum_of``), among lengths from
    ``shortest`` to ``longest`` pixels (quarter-pixel steps) and angles in half-degree steps,
    those ``within`` degrees of ``near`` when it is given."""
    cep = central_cepstrum(pixels) if cepstrum_of is None else cepstrum_of
    side_h, side_w = cep.shape
    longest = min(longest, min(side_h, side_w) / 2 - 2)
    if longest <= shortest:
        return Line(0.0, 0.0)  # too small a photo to show a period
    angles = np.arange(0, 180, 0.5)
    lengths = np.arange(shortest, longest, 0.25)
    theta = np.radians(angles)[:, None]
    # Image rows grow downwards: an angle counter-clockwise on screen moves up, to smaller rows.
    map_x = (side_w // 2 + lengths[None, :] * np.cos(theta)).astype(np.float32)
    map_y = (side_h // 2 - lengths[None, :] * np.sin(theta)).astype(np.float32)
    polar = cv2.remap(cep, map_x, map_y, cv2.INTER_LINEAR)
    median = float(np.median(polar))
    spread = 1.4826 * float(np.median(np.abs(polar - median))) + 1e-12
    if near is not None:
        polar = np.where(np.array([angle_difference(a, near) <= within for a in angles])[:, None], polar, np.inf)
    row, column = np.unravel_index(int(np.argmin(polar)), polar.shape)
    depth = float(polar[row, column])
    return Line(float(lengths[column]), float(angles[row]), depth, (median - depth) / spread)


def line_fit(kernel: np.ndarray) -> Line:
    """The straight line most like ``kernel`` ((k, k), summing to 1): the direction of its
    second moments, the length that best matches it (``agreement``), and how far the kernel
    bows off it (``sagitta``)."""
    weights, along, across, angle = _principal_axes(kernel)
    moment_length = math.sqrt(max(12 * float((weights * along * along).sum()), 1.0))  # a uniform segment of length L: variance L^2 / 12
    best = Line(0.0, angle)
    for length in np.arange(max(1.0, 0.7 * moment_length), 1.4 * moment_length + 0.5, 0.5):
        agreement = kernel_agreement(kernel, motion_kernel(float(length), angle))
        if agreement > best.agreement:
            best = Line(float(length), angle, agreement=agreement)
    return replace(best, sagitta=_bow(weights, along, across))


def _principal_axes(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(weights, along, across, angle): ``kernel`` normalised, each pixel's offset from its
    centroid along and across the direction of its largest second moment, and that direction
    in degrees (counter-clockwise from the x axis, in [0, 180))."""
    h, w = kernel.shape
    y, x = np.mgrid[:h, :w]
    k = kernel / kernel.sum()
    dx, dy = x - (k * x).sum(), -(y - (k * y).sum())
    covariance = np.array([[(k * dx * dx).sum(), (k * dx * dy).sum()], [(k * dx * dy).sum(), (k * dy * dy).sum()]])
    vectors = np.linalg.eigh(covariance)[1]
    cos, sin = vectors[0, 1], vectors[1, 1]
    angle = math.degrees(math.atan2(sin, cos)) % 180
    return k, dx * cos + dy * sin, dy * cos - dx * sin, angle


def _bow(weights: np.ndarray, along: np.ndarray, across: np.ndarray) -> float:
    """Pixels by which a path bows off its chord: the weighted least-squares parabola of
    ``across`` on ``along``, evaluated at the ends of a uniform segment of the same spread."""
    w = np.sqrt(weights.ravel())
    design = np.stack([along.ravel() ** 2, along.ravel(), np.ones(along.size)], axis=1)
    curvature = np.linalg.lstsq(design * w[:, None], across.ravel() * w, rcond=None)[0][0]
    half_length_squared = 3 * float((weights * along * along).sum())  # of a uniform segment: variance (L/2)^2 / 3
    return float(abs(curvature) * half_length_squared)


def angle_difference(a: float, b: float) -> float:
    """Degrees between two undirected lines at angles ``a`` and ``b``, in [0, 90]."""
    d = abs(a - b) % 180
    return min(d, 180 - d)
