"""The kernel path of ``restore``: deconvolve a photo by a known or estimated kernel.

- ``deconvolve_pixels``: one (H, W, 3) photo and its kernel -> the deconvolved photo, by
  half-quadratic splitting with the learned prior (``deconvolve.py``).
- ``BlindRule`` / ``route_photo``: whether the default model trusts an estimated kernel
  (``estimate.py``) enough to deconvolve by it instead of running the networks. A
  clean, sharp or merely noisy photo must never go through deconvolution, so the rule asks
  for a kernel of real extent *and* one that explains the photo: its mark on the photo's
  spectrum (``spectrum.py``), a sharper deconvolution (``choose.py``), a re-blur residual
  within the noise.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch
from torch import nn

from .deconvolve import DeconvolutionOptions, deconvolve, schedule_for
from ..models.common import unit_float
from ..restoring.restore import pixels_tensor
from .choose import sharpening, sharpest
from .estimate import Denoiser, EstimationOptions, KernelEstimate, estimate_kernel
from .spectrum import spectral_marks
from .straight import central_cepstrum, straighten

PRIOR_MODEL = "edgedeblur-prior"
MIN_BLIND_SIDE = 96  # smaller photos hold too few edges to estimate a kernel: the networks' route
# An estimated kernel is a little off; deconvolved as if the photo were 1.5x as noisy, it rings
# less (training photos with camera shake, research log 2026-12-05). A given kernel keeps 1.
BLIND_DECONVOLUTION = DeconvolutionOptions(noise_scale=1.5)
# The choice among estimates only ranks deconvolutions of the estimation region by their
# sparsity (``choose.sharpest``): 2 rounds rank them as 5 do, in 0.4x the time (96 shaken
# training photos, 13-27 and 31-75 px: the chosen kernels 0.02-0.10 dB better on each set of 24).
# The sharpening check keeps the 5 its bound was chosen on: at 2 rounds, kernels fitted to sharp
# photos come out sharper (19 of 36 clean training photos over the bound, against 13). Research
# log 2026-12-07, eighth session.
RANKING_DECONVOLUTION = replace(BLIND_DECONVOLUTION, iterations=2)
# The estimator's settings varied: each fails on other photos, and the sharpest deconvolution
# chooses among them (``choose.py``; research log 2026-12-05, second part).
CANDIDATES: tuple[dict, ...] = ({}, {"region": 400}, {"l0_weight": 8e-3})


@dataclass(frozen=True)
class BlindRule:
    """Deconvolve by an estimated kernel only when its second-moment radius is at least
    ``min_radius`` pixels (a delta is 0, a 9 px line 2.6), it is a path rather than a blob
    (``kernel_fill`` at most ``max_fill``: motion and shake are paths, 0.3-1.7 as estimated
    here; Gaussian and defocus blur are blobs, 2.7-3.1, which the networks restore better than
    deconvolution by an estimate of them), its confidence at least
    ``min_confidence``, its deconvolution of the estimation region comes out sharper (sparser
    gradients) than the region denoised alone, by ``min_sharpening`` (``choose.sharpening``; a
    kernel fitted to a sharp photo only adds ringing: 0.92-1.00 on the 4 clean, noisy and
    camera-noise training photos that passed every other check, 1.02-1.36 on the blurred ones
    that did), and the estimation region, deconvolved by it and blurred again, comes
    back between ``min_residual`` and ``max_residual`` times the photo's noise from what it
    was. A wrong kernel cannot explain the photo and leaves a residual several times the noise;
    a kernel fitted to a camera's grain leaves *less* than the noise (0.3-0.5 on our camera-noise
    kinds and real camera noise; 0.6 and more on every blurred training photo the route helped):
    the prior keeps grain as detail, which no blur would have let through. Chosen on training
    photos: ``benchmarks/kernel_rule.py`` (the 12-photo family and 24 more photos of its clean,
    noisy, camera-noise, motion and shake kinds), but for ``max_fill``, whose best value there
    (2.0, +0.036 dB on the family) sent held-out photos of the seed's blur to deconvolution
    (research log 2026-12-05, third part). With the seed's blur + JPEG in the family the search
    rules this rule out (2 of 36 JPEG photos deconvolved) and picks one that failed held out
    the same way; it is kept, and the JPEG false positives stay open (research log 2026-12-06)."""

    min_radius: float = 2.4
    max_fill: float = 1.5
    min_confidence: float = 0.4
    min_residual: float = 0.6
    max_residual: float = 1.0
    min_sharpening: float = 1.0
    # The photo's spectrum must vary with direction as the kernel's does (``spectrum.py``). The
    # training photos that passed every other check, 23, 27, 3 and 7 dB worse deconvolved than
    # by the networks (a clean one of 48, a noisy one of 200, two of the seed's + JPEG 90 of 200),
    # scored 0.70, 0.55, 0.719 and 0.66: the bound sits just over them (set before the JPEG
    # photos were seen, over the first two). On 48 shaken training photos it refuses 10 the rule
    # took, 6 made worse (0.2-2.7 dB) and 4 helped (0.1-2.9): -0.07 dB on the kind; on 40
    # held-out ones 8 of 31, -1.0 dB (research log 2026-12-07, fifth session). A bound of 0.56
    # (with the orientation margin below) kept those 8 but took a fresh held-out clean photo
    # (0.577; 21 dB lost): it stays at 0.72 (research log 2026-12-07, sixth session).
    min_spectral_agreement: float = 0.72
    # ... and better than with the kernel's own mirror image or quarter turn: the same four
    # training photos' kernels look the same mirrored or turned (margins 0.01-0.14; the JPEG
    # photo at 0.719 is refused here by 0.13, not only by 0.001), where the 25 shaken training
    # photos deconvolution helped scored 0.20-1.32 and the 48 fresh held-out shaken photos the
    # route took 0.24-1.06.
    min_orientation_margin: float = 0.17
    # A straight line the cepstrum confirms must carry the spectrum's mark too, to its own bound
    # (a line along a photo axis is its own mirror image): the 72 training lines (9, 15 and 21 px
    # motion) scored 0.567 or more; the one false line met, on a fresh held-out noisy photo, 0.23.
    min_line_agreement: float = 0.5
    # A straight line the photo's cepstrum confirms (``straight.py``: the blur's own spectral
    # zeros) skips the sharpening and residual checks and the orientation margin: on training
    # photos the first two refused 6 of 48 such lines, each 2-5 dB better deconvolved.
    trust_straight: bool = True


def judged_estimate(estimate: KernelEstimate) -> KernelEstimate:
    """The estimate the rule judges: the first setting's (``estimate_for``), on which the rule
    was chosen; the sharpest of the settings only gives a photo it takes a better kernel
    (research log 2026-12-05, second part). An estimate made otherwise is judged itself."""
    return estimate.details.get("first_setting", estimate)


def takes_kernel_path(estimate: KernelEstimate, rule: BlindRule = BlindRule()) -> bool:
    """The cheap half of the rule: a path-like kernel of real extent and a confident fit."""
    return estimate.radius >= rule.min_radius and estimate.fill <= rule.max_fill and estimate.confidence >= rule.min_confidence


def reblur_residual(pixels: np.ndarray, estimate: KernelEstimate, prior: nn.Module, noise: float | None = None, compressed: bool = False) -> float:
    """RMS of (region deconvolved by the kernel, blurred again) - region, over the noise sigma:
    about 1 or below for a kernel that explains the photo, several for a wrong one.
    ``compressed``: the photo came from a JPEG file (see ``deconvolve_pixels``)."""
    from .deconvolve import blur
    from ..models.prior_denoiser import estimate_noise

    top, left, h, w = estimate.region
    region = _as_batch(pixels[top : top + h, left : left + w])
    sigma = float(estimate_noise(region, compressed=compressed)[0]) if noise is None else noise
    # float32 whatever the CPU: the rule's residual bounds were chosen on float32 deconvolutions.
    restored = deconvolve(region, estimate.kernel, prior, sigma, DeconvolutionOptions(precision="float32"))
    reblurred = blur(restored, torch.from_numpy(estimate.kernel).float())
    m = max(estimate.kernel.shape) // 2 + 4  # the frame's own border is not the kernel's fault
    residual = (reblurred - region)[..., m : h - m, m : w - m]
    return float(residual.square().mean().sqrt()) / max(sigma, 1 / 255)


def prior_denoiser(prior: nn.Module) -> Denoiser:
    """The prior as a plain denoiser of (h, w, 3) float arrays, told the noise level it estimates:
    the estimator fits the kernel to denoised regions (``estimate_kernel``)."""

    def denoise(pixels: np.ndarray) -> np.ndarray:
        device = next(prior.parameters()).device
        with torch.inference_mode():
            return prior(_as_batch(pixels).to(device)).clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy()

    return denoise


def region_deconvolver(prior: nn.Module, noise: float | None, options: DeconvolutionOptions, compressed: bool) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``deconvolve_pixels`` with ``options`` as a plain ((h, w, 3) region, (k, k) kernel) ->
    (h, w, 3) deconvolver: what ``choose`` measures the sharpening and ranks estimates by."""
    return lambda crop, kernel: deconvolve_pixels(crop, kernel, prior, noise, options, compressed)


def estimate_for(
    pixels: np.ndarray,
    prior: nn.Module | None,
    options: EstimationOptions = EstimationOptions(),
    candidates: tuple[dict, ...] = CANDIDATES,
    noise: float | None = None,
    compressed: bool = False,
    min_side: int = MIN_BLIND_SIDE,
    rule: BlindRule | None = None,
    straight: bool = True,
) -> KernelEstimate | None:
    """The kernel estimate of (H, W, 3) float in [0, 1], or None for a photo with a side under
    ``min_side`` (the route's: too few edges to judge; 0 estimates any photo, as ``edgedeblur kernel``).

    Estimated once per setting in ``candidates`` (changes to ``options``), on regions denoised
    by ``prior`` (None: as they are, and only ``options`` itself); with the prior, the estimate
    whose deconvolution of the region is sharpest is returned (``choose.sharpest``; ranked on the
    short schedule ``RANKING_DECONVOLUTION``, ``noise`` and ``compressed`` as in ``deconvolve_pixels``),
    with ``details["first_setting"]``, the first setting's estimate (its ``details["sharpening"]``
    as ``choose.sharpening`` measures it), and ``details["candidate"]``. The settings after the
    first only offer kernels to choose from, so each fits its best region alone (confidence: that
    region's fit): the kernels two regions give, 1-2 s sooner (docs/benchmarks.md).

    The first setting is estimated first. ``rule``: the route's (``route_photo``), which judges
    that estimate alone and deconvolves nothing where it fails the rule's kernel or sharpening
    checks; it is returned as it is, with no other setting estimated, when it fails the kernel
    checks (no deconvolution) or the sharpening check (the check's two deconvolutions of the
    region). Photos the rule may take get the same estimate as without it.

    ``straight``: each estimate that is already a straight line is replaced by the straight
    motion the photo's cepstrum measures (``straight.straighten``), before the rule judges it; a
    first estimate so confirmed is returned without estimating the other settings.
    """
    if min(pixels.shape[:2]) < min_side:
        return None
    cepstrum_of = central_cepstrum(pixels) if straight else None

    def straightened(estimate: KernelEstimate) -> KernelEstimate:
        return estimate if cepstrum_of is None else straighten(pixels, estimate, cepstrum_of)

    if prior is None:
        return straightened(estimate_kernel(pixels, options))
    denoise = prior_denoiser(prior)
    settings = [replace(options, **change) for change in candidates or ({},)]
    settings[1:] = [replace(setting, regions=1) for setting in settings[1:]]
    # The first setting goes first (its two regions side by side): the rule judges it alone, so a
    # photo the rule refuses costs one setting, not three, and a line the cepstrum confirms ends
    # the estimate; any other photo about 0.2-0.5 s more (docs/benchmarks.md, "The route's estimate").
    first = straightened(estimate_kernel(pixels, settings[0], denoise, parallel_regions=True))
    if rule is not None and not takes_kernel_path(first, rule):
        first.details.update(first_setting=first, candidate=0)
        return first

    trusted_line = "straight" in first.details and rule is not None and rule.trust_straight
    if not trusted_line:  # on the schedule the rule's bound was chosen on
        first.details["sharpening"] = sharpening(pixels, first, region_deconvolver(prior, noise, BLIND_DECONVOLUTION, compressed))
    if "straight" in first.details or (rule is not None and first.details["sharpening"] < rule.min_sharpening):
        # A line the cepstrum confirms is trusted over the other settings, whose sparser
        # deconvolutions chose a wrong kernel over it (research log 2026-12-07, fourth session);
        # the rule does not ask it to sharpen (``BlindRule.trust_straight``). A first estimate
        # that does not sharpen the photo, the rule refuses whichever setting would win.
        first.details.update(first_setting=first, candidate=0)
        return first
    estimates = [first] + [straightened(e) for e in _side_by_side(pixels, settings[1:], denoise)]
    index = _chosen(pixels, estimates, region_deconvolver(prior, noise, RANKING_DECONVOLUTION, compressed))
    chosen = estimates[index]
    chosen.details["candidate"] = index
    chosen.details["first_setting"] = first
    return chosen


def _chosen(pixels: np.ndarray, estimates: list[KernelEstimate], rank_region: Callable) -> int:
    """The index of the estimate to deconvolve by: the first straight line (``straight.py``), else
    the sharpest deconvolution (``choose.sharpest``, ranked by ``rank_region``)."""
    lines = [i for i, e in enumerate(estimates) if "straight" in e.details]
    return lines[0] if lines else sharpest(pixels, estimates, rank_region)


def _side_by_side(pixels: np.ndarray, settings: list[EstimationOptions], denoise: Denoiser) -> list[KernelEstimate]:
    """One estimate per setting, one thread each: the estimator's FFTs and OpenCV calls release the GIL."""
    with ThreadPoolExecutor(max_workers=max(len(settings), 1)) as pool:
        return list(pool.map(lambda setting: estimate_kernel(pixels, setting, denoise), settings))


def deconvolve_pixels(
    pixels: np.ndarray,
    kernel: np.ndarray,
    prior: nn.Module,
    noise: float | None = None,
    options: DeconvolutionOptions | None = None,
    compressed: bool = False,
) -> np.ndarray:
    """(H, W, 3) blurred by ``kernel`` -> (H, W, 3) float32 in [0, 1]. ``pixels``: float in
    [0, 1], or uint8 / uint16 as decoded, which ``deconvolve`` converts a window at a time.

    ``noise``: sigma in [0, 1] units; None estimates it from the photo, allowing for JPEG
    compression after the noise when ``compressed`` (the photo came from a JPEG file).
    ``options``: None for a kernel known exactly (``--kernel`` and its shorthands): the
    schedule suited to its shape and the file (``schedule_for``).
    """
    options = schedule_for(kernel, compressed=compressed) if options is None else options
    return deconvolve(_as_batch(pixels, keep_integers=True), kernel, prior, noise, options, compressed=compressed)[0].permute(1, 2, 0).numpy()


def _as_batch(pixels: np.ndarray, keep_integers: bool = False) -> torch.Tensor:
    """(H, W, 3) float, or uint8 / uint16 (0 to the dtype's maximum), array -> (1, 3, H, W)
    tensor, a view where the array allows: float32 in [0, 1], or the integers as they are
    when ``keep_integers``."""
    batch = pixels_tensor(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]
    return batch if keep_integers else unit_float(batch)


def route_photo(
    pixels: np.ndarray,
    prior: nn.Module,
    noise: float | None = None,
    rule: BlindRule = BlindRule(),
    estimate: KernelEstimate | None = None,
    compressed: bool = False,
) -> tuple[np.ndarray | None, KernelEstimate | None]:
    """The default's kernel route for one (H, W, 3) float photo in [0, 1].

    Returns (deconvolved photo, estimate) when the estimated kernel is trusted, else
    (None, estimate or None): the caller runs the networks as before. ``estimate``: one
    already made (else the photo's is estimated here). ``compressed``: the photo came from a
    JPEG file, whose noise is read allowing for that (``deconvolve_pixels``).
    """
    estimate = estimate or estimate_for(pixels, prior, noise=noise, compressed=compressed, rule=rule)
    if estimate is None:
        return None, None
    judged = judged_estimate(estimate)
    if not takes_kernel_path(judged, rule):
        return None, estimate
    trusted = rule.trust_straight and "straight" in judged.details  # a line the cepstrum confirms
    if not _spectrum_carries(pixels, estimate, rule, line=trusted):
        return None, estimate
    if not trusted and not _sharpens_and_explains(pixels, estimate, prior, noise, rule, compressed):
        return None, estimate
    return deconvolve_pixels(pixels, estimate.kernel, prior, noise, BLIND_DECONVOLUTION, compressed), estimate


def _spectrum_carries(pixels: np.ndarray, estimate: KernelEstimate, rule: BlindRule, line: bool) -> bool:
    """The photo's spectrum bears the judged estimate's mark (``spectrum.spectral_marks``): it
    agrees with the kernel (a line the cepstrum confirms to its own bound) and, for any other
    kernel, better than with its mirror image or quarter turn. Records both in ``estimate.details``."""
    marks = spectral_marks(pixels, judged_estimate(estimate).kernel)
    estimate.details["spectral_agreement"] = marks.agreement
    estimate.details["orientation_margin"] = marks.orientation_margin
    if line:
        return marks.agreement >= rule.min_line_agreement
    return marks.agreement >= rule.min_spectral_agreement and marks.orientation_margin >= rule.min_orientation_margin


def _sharpens_and_explains(pixels: np.ndarray, estimate: KernelEstimate, prior: nn.Module, noise: float | None, rule: BlindRule, compressed: bool) -> bool:
    """The rule's costly half, on the judged estimate (``judged_estimate``): the kernel sharpens
    the photo (``choose.sharpening``) and explains it within the noise (``reblur_residual``).
    Records each in ``estimate.details`` as it is measured."""
    judged = judged_estimate(estimate)
    if "sharpening" not in judged.details:  # an estimate not made by ``estimate_for``
        judged.details["sharpening"] = sharpening(pixels, judged, region_deconvolver(prior, noise, BLIND_DECONVOLUTION, compressed))
    estimate.details["sharpening"] = judged.details["sharpening"]
    if judged.details["sharpening"] < rule.min_sharpening:
        return False
    estimate.details["reblur_residual"] = residual = reblur_residual(pixels, judged, prior, noise, compressed)
    return rule.min_residual <= residual <= rule.max_residual


def restore_default(
    pixels: np.ndarray, network: Callable[[np.ndarray], np.ndarray], prior: nn.Module, noise: float | None = None, rule: BlindRule = BlindRule()
) -> tuple[np.ndarray, str]:
    """(H, W, 3) float in [0, 1] -> (restored, "kernel" or "network"): the kernel route when
    trusted, else ``network(pixels)`` (today's route)."""
    deconvolved, _ = route_photo(pixels, prior, noise, rule)
    if deconvolved is not None:
        return deconvolved, "kernel"
    return network(pixels), "network"
