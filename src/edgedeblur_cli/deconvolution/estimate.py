"""Blind kernel estimation from predicted sharp edges (Pan et al. 2014; Cho & Lee 2009, Xu & Jia 2010).

Coarse to fine over a pyramid, on the regions of the photo richest in edges, denoised first
when a denoiser is given (the default passes its learned prior). At each scale, a few rounds of:

1. predict the sharp image's edges: by default a latent image with an L0 gradient prior
   (sharp, piecewise flat; ``edges="l0"``); or Cho & Lee's bilateral + shock filter on the
   current latent image, keeping only strong, *useful* gradients (Xu & Jia's r-map), with
   thresholds relaxing each round (``edges="shock"``, measured worse here);
2. solve for the kernel mapping those edges onto the blurred gradients: least squares with a
   Tikhonov term, closed form in the Fourier domain; then clean it (no negatives, entries
   under 5% of the peak and specks cut, centred on its centroid).

The solvers themselves are in ``latent.py``. Pure NumPy/OpenCV on a few hundred pixels: about
a second per region for any photo size (real-input FFTs; the L0 step transforms one array per
inner step).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable

import cv2
import numpy as np

from .kernels import kernel_fill, kernel_radius
from .latent import (
    clean_kernel,
    deconvolve_latent,
    delta_kernel,
    gradients,
    l0_latent,
    latent_spectra,
    otf,
    select_edges,
    shock_filter,
    solve_kernel,
    taper,
    usefulness,
)

SATURATED = 0.97  # pixels this bright (any channel) break the convolution model
SIZES = (35, 59, 95)  # kernel sides tried in turn when none is given: room around the kernel, as it moves while fitted
GROW_MASS = 0.1  # share of the kernel in its window's outer pixels that asks for the next size


@dataclass(frozen=True)
class EstimationOptions:
    """kernel_size: largest kernel side sought, pixels (odd). region: side of the analysed window.
    rounds: rounds per scale. gamma: undo this display gamma before fitting (2.2 for camera
    JPEGs blurred in linear light; 1 fits blur applied to sRGB values)."""

    kernel_size: int | None = None  # None: searched, growing through SIZES while ``fills_window``
    region: int = 320
    regions: int = 2  # regions estimated on; their agreement is the confidence
    rounds: int = 6
    scale_step: float = math.sqrt(2)
    gamma: float = 1.0
    latent_weight: float = 2e-3
    kernel_weight: float = 0.2  # Tikhonov weight of the kernel fit, relative to the edges' mean power
    beta_step: float = 4.0  # growth of the L0 splitting weight per inner step
    edge_share: float = 0.02  # strongest share of gradients kept per orientation at first, x1.1 per round
    useful_min: float = 0.25  # r-map threshold
    bilateral_color: float = 0.1
    shock_steps: int = 3
    edges: str = "l0"  # how sharp edges are predicted: "l0" (L0 gradient latent) or "shock" (bilateral + shock filter)
    l0_weight: float = 4e-3  # L0 gradient weight of the latent image at the coarsest scale
    l0_fine_weight: float = 2e-3  # ... and at the finest (linear in between); lower measured no better: docs/research-log.md


@dataclass
class KernelEstimate:
    """kernel: (k, k) float64 summing to 1. confidence in [0, 1]: how well the kernels of two
    regions agree (or, with room for one region, how much of its blurred edges it explains). radius: its second-moment radius (px). region: (top, left, height, width)."""

    kernel: np.ndarray
    confidence: float
    radius: float
    region: tuple[int, int, int, int]
    details: dict = field(default_factory=dict)

    @property
    def fill(self) -> float:
        """How much of its own second-moment disc the kernel covers (``kernels.kernel_fill``):
        a path (motion, shake) well under 2, a blob (Gaussian, defocus) near 3."""
        return kernel_fill(self.kernel)


def luminance(image: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """(H, W, 3) float in [0, 1] -> (H, W) float32 luminance, in linear light when ``gamma`` > 1."""
    gray = (image[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.float32)
    return np.power(np.clip(gray, 0, 1), gamma) if gamma != 1 else gray


def choose_regions(image: np.ndarray, size: int, count: int = 2) -> list[tuple[int, int, int, int]]:
    """(top, left, height, width) of up to ``count`` ``size`` windows with the most unsaturated
    gradient energy, each overlapping the ones before by at most half its area."""
    h, w = image.shape[:2]
    if h <= size and w <= size:
        return [(0, 0, h, w)]
    gray = luminance(image)
    step = max(1, min(h, w) // 512)
    small = gray[::step, ::step]
    gy, gx = np.gradient(small)
    energy = np.hypot(gx, gy)
    energy[cv2.dilate((image[::step, ::step, :3].max(2) >= SATURATED).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0] = 0
    sh, sw = min(size // step, small.shape[0]), min(size // step, small.shape[1])
    integral = cv2.integral(energy.astype(np.float64))
    sums = integral[sh:, sw:] - integral[:-sh, sw:] - integral[sh:, :-sw] + integral[:-sh, :-sw]
    chosen: list[tuple[int, int]] = []
    for _ in range(count):
        if not np.isfinite(sums).any() or sums.max() == -np.inf:
            break
        top, left = np.unravel_index(int(np.argmax(sums)), sums.shape)
        chosen.append((int(top), int(left)))
        # Windows overlapping this one by more than half their area are out.
        rows = np.abs(np.arange(sums.shape[0]) - top) < sh
        cols = np.abs(np.arange(sums.shape[1]) - left)
        overlap = np.outer(np.clip(sh - np.abs(np.arange(sums.shape[0]) - top), 0, None), np.clip(sw - cols, 0, None))
        sums[(overlap > 0.5 * sh * sw) & rows[:, None]] = -np.inf
    return [(min(t * step, h - min(size, h)), min(l * step, w - min(size, w)), min(size, h), min(size, w)) for t, l in chosen]


def kernel_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two kernels at their best relative shift, in [0, 1]."""
    side = max(a.shape + b.shape) * 2
    fa, fb = (np.fft.fft2(k, (side, side)) for k in (a, b))
    correlation = np.real(np.fft.ifft2(fa * np.conj(fb)))
    return float(np.clip(correlation.max() / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12), 0, 1))


def _resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA if shape[0] < image.shape[0] else cv2.INTER_LINEAR)


def _odd(value: float) -> int:
    return max(3, int(round(value)) // 2 * 2 + 1)


def _largest_prime_factor(n: int) -> int:
    factor = 2
    while factor * factor <= n:
        while n % factor == 0 and n > factor:
            n //= factor
        factor += 1
    return n


def fft_friendly(n: int, least: int = 16) -> int:
    """The size nearest ``n`` (>= ``least``) whose prime factors are all <= 7, the smaller on a tie.

    NumPy's FFTs take a prime size by Bluestein's algorithm, several times slower (226 px, a
    pyramid's second scale, costs 5x what 224 does). The nearest size, not the next larger one
    (as ``cv2.getOptimalDFTSize`` gives), keeps the pyramid's steps even."""
    for distance in range(n):
        for m in (n - distance, n + distance):
            if m >= least and _largest_prime_factor(m) <= 7:
                return m
    return max(n, least)


Denoiser = Callable[[np.ndarray], np.ndarray]  # (h, w, 3) float in [0, 1] -> the same, denoised


def estimate_kernel(
    image: np.ndarray, options: EstimationOptions = EstimationOptions(), denoise: Denoiser | None = None, parallel_regions: bool = False
) -> KernelEstimate:
    """Estimate the blur kernel of (H, W, 3) float RGB in [0, 1]; see the module docstring.

    ``denoise``: applied to each analysed region first. Noise in the blurred gradients is
    fitted as kernel specks; a learned denoiser (the deconvolution's prior) removes it and
    keeps the blurred edges, which is all the fit needs (docs/research-log.md).

    The kernel is estimated on the photo's most edge-rich region; where a second region fits,
    on that one too, and the confidence is how well the two kernels agree (camera shake blurs
    the whole frame alike; a kernel fitted to noise or texture differs from place to place).
    On a photo with room for one region only, the confidence is the re-blur fit alone.
    ``parallel_regions``: fit the regions in threads (the same kernels; for a caller with cores
    to spare).
    """
    sizes = [options.kernel_size] if options.kernel_size else [s for s in SIZES if s <= min(image.shape[:2]) // 2] or [SIZES[0]]
    regions = choose_regions(image, options.region, options.regions)
    crops = [_crop(image, region, denoise) for region in regions]
    for size in sizes:
        sized = replace(options, kernel_size=size)
        if parallel_regions and len(crops) > 1:  # NumPy's FFTs and OpenCV release the GIL
            with ThreadPoolExecutor(max_workers=len(crops)) as pool:
                fits = list(pool.map(lambda pair: _estimate_region(pair[0], pair[1], sized), crops))
        else:
            fits = [_estimate_region(crop, clipped, sized) for crop, clipped in crops]
        if not fills_window(fits[0][0]):
            break
    kernel, fit, residual = fits[0]
    if len(fits) > 1:
        confidence = min(kernel_agreement(kernel, other) for other, _, _ in fits[1:])
    else:
        confidence = fit
    details = {"residual": residual, "fit": fit, "regions": regions}
    return KernelEstimate(kernel, confidence, kernel_radius(kernel), regions[0], details)


def _crop(image: np.ndarray, region: tuple[int, int, int, int], denoise: Denoiser | None) -> tuple[np.ndarray, np.ndarray]:
    """(the region's pixels to fit, denoised if asked; its clipped pixels, judged before denoising)."""
    top, left, height, width = region
    crop = image[top : top + height, left : left + width, :3]
    clipped = crop.max(2) >= SATURATED
    return (crop if denoise is None else np.clip(denoise(crop), 0, 1).astype(np.float32)), clipped


def _estimate_region(crop: np.ndarray, clipped: np.ndarray, options: EstimationOptions) -> tuple[np.ndarray, float, float]:
    """(kernel, fit confidence, re-blur residual) from one (h, w, 3) region and its (h, w)
    clipped pixels, coarse to fine."""
    rh, rw = crop.shape[:2]
    blurred_full = luminance(crop, options.gamma)
    saturated = cv2.dilate(clipped.astype(np.uint8), np.ones((options.kernel_size,) * 2, np.uint8)) > 0
    side = _odd(min(options.kernel_size, (min(rh, rw) // 2) | 1))
    scales = max(1, int(math.ceil(math.log(side / 5) / math.log(options.scale_step))) + 1)
    kernel = None
    latent = None
    for s in reversed(range(scales)):
        factor = options.scale_step ** (-s)
        shape = (max(16, int(round(rh * factor))), max(16, int(round(rw * factor))))
        if s > 0:  # the coarser scales only: the region itself stays as cut, pixel for pixel
            shape = (fft_friendly(shape[0]), fft_friendly(shape[1]))
        k_side = _odd(side * factor)
        blurred = _resize(blurred_full, shape)
        keep = _resize((~saturated).astype(np.float32), shape) > 0.99
        if keep.mean() < 0.25:  # mostly clipped: masking would leave nothing to fit
            keep[:] = True
        kernel = delta_kernel(k_side) if kernel is None else _rescale_kernel(kernel, k_side)
        latent = blurred.copy() if latent is None else _resize(latent, shape)
        if options.edges == "l0":
            kernel, latent = _l0_rounds(blurred, kernel, k_side, keep, options, s / max(scales - 1, 1))
        else:
            kernel, latent = _shock_rounds(blurred, latent, kernel, k_side, keep, options)
    fit, residual = _fit_quality(blurred_full, latent, kernel, saturated)
    return kernel, fit, residual


def fills_window(kernel: np.ndarray, border: int = 2) -> bool:
    """Whether a real share of the kernel lies in the outer ``border`` pixels of its window: the
    blur may be larger. A few specks of fitted noise there are not enough (GROW_MASS): grown on
    them, the search reached windows several times the blur and fitted noise."""
    inner = kernel[border:-border, border:-border].sum()
    return bool(kernel.sum() - inner > GROW_MASS)


def _shock_rounds(blurred, latent, kernel, side: int, keep: np.ndarray, options: EstimationOptions):
    """The rounds of one scale with Cho & Lee's predicted edges (bilateral + shock filter, r-map)."""
    bx, by = gradients(taper(blurred, side))
    share = options.edge_share
    useful = usefulness(bx, by, max(5, side))
    for _ in range(options.rounds):
        sharp = shock_filter(cv2.bilateralFilter(latent, 5, options.bilateral_color, 2.0), options.shock_steps)
        gx, gy = gradients(taper(sharp, side))
        mask = select_edges(gx, gy, useful, side, share, options.useful_min) & keep
        grown = _grow(mask, side)
        kernel = clean_kernel(solve_kernel(gx * mask, gy * mask, bx * grown, by * grown, side, options.kernel_weight))
        latent = deconvolve_latent(taper(blurred, side), kernel, options.latent_weight)
        share *= 1.1
    return kernel, latent


def _l0_rounds(blurred, kernel, side: int, keep: np.ndarray, options: EstimationOptions, coarseness: float):
    """The rounds of one scale with an L0-gradient latent image; the weight relaxes towards the fine scales."""
    tapered = taper(blurred, side)
    bx, by = gradients(tapered)
    weight = options.l0_fine_weight + (options.l0_weight - options.l0_fine_weight) * coarseness
    latent = tapered
    # Every round fits the same blurred image: its transforms are made once per scale.
    bx, by = bx * keep, by * keep
    spectra, blurred_spectra = latent_spectra(tapered), (np.fft.rfft2(bx), np.fft.rfft2(by))
    for _ in range(options.rounds):
        latent = l0_latent(tapered, kernel, weight, step=options.beta_step, spectra=spectra)
        gx, gy = gradients(latent)
        kernel = clean_kernel(solve_kernel(gx * keep, gy * keep, bx, by, side, options.kernel_weight, blurred_spectra))
        weight = max(weight * 0.9, 1e-4)
    return kernel, latent


def _grow(mask: np.ndarray, side: int) -> np.ndarray:
    """The blurred gradients the kept edges can reach: the mask dilated by the kernel."""
    return cv2.dilate(mask.astype(np.uint8), np.ones((side, side), np.uint8)) > 0


def _rescale_kernel(kernel: np.ndarray, side: int) -> np.ndarray:
    k = cv2.resize(kernel.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR).astype(np.float64)
    return clean_kernel(k / max(k.sum(), 1e-12))


def _fit_quality(blurred: np.ndarray, latent: np.ndarray, kernel: np.ndarray, saturated: np.ndarray) -> tuple[float, float]:
    """(confidence in [0, 1], relative re-blur residual): how much of the blurred image's
    gradient energy the latent image, blurred by the kernel, explains (unsaturated, inner part)."""
    m = kernel.shape[0]
    reblurred = np.fft.irfft2(np.fft.rfft2(latent) * otf(kernel, latent.shape), s=latent.shape).astype(np.float32)
    inner = (slice(m, -m), slice(m, -m)) if min(blurred.shape) > 4 * m else (slice(None), slice(None))
    ok = ~saturated[inner]
    bx, by = gradients(blurred)
    rx, ry = gradients(reblurred)
    energy = float((bx[inner][ok] ** 2 + by[inner][ok] ** 2).sum()) + 1e-12
    residual = float(((bx - rx)[inner][ok] ** 2 + (by - ry)[inner][ok] ** 2).sum()) / energy
    return float(np.clip(1 - residual, 0, 1)), residual
