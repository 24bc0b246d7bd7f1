"""Deconvolution with a known kernel and a learned prior: half-quadratic splitting (DPIR-style).

``blurred = sharp (*) kernel + noise`` (see ``kernels.py`` for the convention). Splitting
alternates two easy problems, ``iterations`` times:

- data step, closed form in the Fourier domain:
  ``x = F^-1[(conj(FK) FY + alpha FZ) / (|FK|^2 + alpha)]``;
- prior step: ``z = prior(x, sigma_k)``, a denoiser told the level ``sigma_k``, which falls
  log-spaced from ``start_sigma`` to the photo's noise; ``alpha = weight * noise^2 / sigma_k^2``.

FFTs assume a periodic image; a photo is not, so each window is padded with its reflection
and the padding faded into a circularly blurred copy of itself (edge tapering), which joins
the opposite borders smoothly: no ringing from the frame. Big photos go in overlapping tiles,
each with real neighbours as context, so memory depends on the tile, not the photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .kernels import KernelError, gaussian_kernel, kernel_fill
from ..device import native_bfloat16
from ..models.common import unit_float
from ..models.prior_denoiser import estimate_noise
from ..restoring.allocator import release_free_memory
from ..restoring.tiling import blend_windows, coverage, tile_grid


PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class DeconvolutionOptions:
    """iterations / start_sigma / weight: the splitting schedule (DPIR: 8, 49/255, 0.23; 5 and
    25/255 measured better here for motion and shake, in 5/8 of the time; a kernel given
    exactly gets its schedule by its shape, ``schedule_for``: docs/research-log.md).
    noise_floor: least noise level assumed (8-bit rounding alone is 0.29/255).
    noise_scale: the noise level assumed is this many times the photo's. 1 for a kernel known
    exactly; the blind route deconvolves by its estimates at 1.5 (``route.BLIND_DECONVOLUTION``):
    the prior's extra smoothing keeps an estimate's small errors from ringing (training photos
    with camera shake: +3.71 -> +4.26 dB, docs/research-log.md).
    tile: largest window side deconvolved at once, pixels (plus the kernel's margins and
    context): 3072 holds a 12 MP photo's height, so it goes in 2 windows, not 9 of 1536, and
    deconvolves 1.2x its pixels rather than 1.9x, within 1.5 GiB (docs/benchmarks.md).
    prior_tile / prior_overlap: the prior runs over a window in tiles of ``prior_tile`` pixels
    overlapping by ``prior_overlap`` (32 px: its seams move the output by 0.002 dB or less;
    docs/research-log.md).
    precision: the prior's arithmetic: ``float32``, ``bfloat16``, or ``auto``: bfloat16 where
    the CPU computes it natively (AMX, AVX512-BF16: half the time, the same photos to a
    fraction of a dB, docs/benchmarks.md), float32 elsewhere. The FFT steps stay float32."""

    iterations: int = 5
    start_sigma: float = 25 / 255
    weight: float = 0.23
    noise_floor: float = 0.5 / 255
    noise_scale: float = 1.0
    tile: int = 3072
    prior_tile: int = 512
    prior_overlap: int = 32
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.noise_scale <= 0:
            raise ValueError(f"noise_scale must be > 0, got {self.noise_scale}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if self.tile < 64:
            raise ValueError(f"tile must be at least 64 pixels, got {self.tile}")


# Kernels are blobs (Gaussian, defocus: ``kernel_fill`` 2.0-3.6) or paths (motion, camera
# shake: 0.1-0.8; a line under 4 px reads as a blob, where either schedule does alike).
BLOB_FILL = 1.5
BLOB_SCHEDULE = {"iterations": 8, "start_sigma": 49 / 255}  # DPIR's own
# JPEG after the noise makes the photo read less noisy than it is, and the longer schedule
# trusts that reading more: from a JPEG file, a blob is deconvolved as if 1.2x as noisy.
JPEG_BLOB_NOISE_SCALE = 1.2


def is_blob(kernel: np.ndarray) -> bool:
    """Whether (k, k) ``kernel`` is a blob (Gaussian, defocus), not a path (motion, shake)."""
    return kernel_fill(np.asarray(kernel, dtype=np.float64)) > BLOB_FILL


def schedule_for(kernel: np.ndarray, options: DeconvolutionOptions = DeconvolutionOptions(), compressed: bool = False) -> DeconvolutionOptions:
    """``options`` with the splitting schedule that suits ``kernel``, known exactly: DPIR's 8
    rounds from 49/255 for a blob, whose lost fine detail the prior rebuilds over more rounds
    (at ``JPEG_BLOB_NOISE_SCALE`` x the noise when ``compressed``: the photo came from a JPEG
    file); ``options``' own (5 from 25/255) for a path, whose detail survives in the data and
    which more rounds from a higher start only smooth. On 16-24 training photos with true
    kernels, against 5 from 25/255: defocus 3 +0.32-0.50 dB, Gaussian 3 +0.18, linear motion
    -0.80, camera shake -0.50; the seed's blur + JPEG 90 from JPEG files -0.89 at 1x, +0.48 at
    1.2x (docs/research-log.md, 2026-12-07)."""
    if not is_blob(kernel):
        return options
    scale = options.noise_scale * (JPEG_BLOB_NOISE_SCALE if compressed else 1.0)
    return replace(options, noise_scale=scale, **BLOB_SCHEDULE)


def kernel_tensor(kernel: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(kernel), dtype=torch.float32)


def kernel_otf(kernel: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The kernel's transfer function (H, W // 2 + 1), complex: its centre pixel moved to (0, 0)."""
    kh, kw = kernel.shape
    if kh > height or kw > width:
        raise KernelError(f"the kernel ({kh}x{kw}) is larger than the image ({height}x{width})")
    padded = torch.zeros(height, width, dtype=torch.float32, device=kernel.device)
    padded[:kh, :kw] = kernel
    return torch.fft.rfft2(torch.roll(padded, (-(kh // 2), -(kw // 2)), dims=(0, 1)))


def blur_circular(image: torch.Tensor, *kernels: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) convolved with each kernel in turn, wrapping around the borders."""
    h, w = image.shape[-2:]
    spectrum = torch.fft.rfft2(image)
    for kernel in kernels:
        spectrum.mul_(kernel_otf(kernel, h, w))
    return irfft2_by_channel(spectrum, (h, w))


def irfft2_by_channel(spectrum: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``torch.fft.irfft2`` of (N, C, H, W // 2 + 1), a channel at a time: the inverse
    transform holds three copies of its input, and a big window's are its largest arrays."""
    out = torch.empty(spectrum.shape[:-2] + size, device=spectrum.device)
    for channel in range(spectrum.shape[1]):
        out[:, channel] = torch.fft.irfft2(spectrum[:, channel], s=size)
    return out


def blur(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) convolved with the kernel, the frame extended by replication (no wrap)."""
    kh, kw = kernel.shape
    padded = F.pad(image, (kw // 2, kw // 2, kh // 2, kh // 2), mode="replicate")
    weight = kernel.flip(0, 1)[None, None].expand(image.shape[1], 1, kh, kw).to(image)
    return F.conv2d(padded, weight, groups=image.shape[1])


def pad_periodic(image: torch.Tensor, kernel: torch.Tensor, margin: int, extra: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H + 2m + extra_h, W + 2m + extra_w): reflected margins faded into a circular blur.

    The fade (a raised cosine across each margin) ends on a copy blurred with the kernel and
    a wide Gaussian, circularly, so the padded image is smooth across its wrap-around: what
    the FFT sees is close to a periodic photo with the kernel's blur. ``extra`` lengthens the
    bottom and right margins (to reach a size multiple).
    """
    extra_h, extra_w = extra
    pads = (margin, margin + extra_w, margin, margin + extra_h)
    mode = "reflect" if max(pads) < min(image.shape[-2:]) else "replicate"
    padded = F.pad(image, pads, mode=mode)
    h, w = padded.shape[-2:]
    soft = kernel_tensor(gaussian_kernel(max(1.0, margin / 4)))
    if soft.shape[0] <= min(h, w) and kernel.shape[0] <= h and kernel.shape[1] <= w:
        smooth = blur_circular(padded, kernel, soft)
    else:
        smooth = padded.mean((-2, -1), keepdim=True).expand_as(padded).clone()
    fade_h = _fade(h, margin, margin + extra_h).to(image)
    fade_w = _fade(w, margin, margin + extra_w).to(image)
    return smooth.lerp_(padded, fade_h[:, None] * fade_w[None, :])  # in place: alpha * padded + (1 - alpha) * smooth


def _fade(length: int, before: int, after: int) -> torch.Tensor:
    """1-D weights: a raised cosine from 0 up over ``before``, 1 inside, down to 0 over ``after``."""
    def ramp(n: int) -> torch.Tensor:
        return 0.5 - 0.5 * torch.cos(torch.linspace(0, math.pi, n + 2)[1:-1])

    return torch.cat([ramp(before), torch.ones(length - before - after), ramp(after).flip(0)])


def wiener(image: torch.Tensor, kernel: torch.Tensor, nsr: float) -> torch.Tensor:
    """Plain Wiener deconvolution of (N, C, H, W) (periodic borders) with noise-to-signal ``nsr``."""
    h, w = image.shape[-2:]
    otf = kernel_otf(kernel, h, w)
    spectrum = torch.fft.rfft2(image) * otf.conj() / (otf.abs().square() + nsr)
    return torch.fft.irfft2(spectrum, s=(h, w))


def split_schedule(noise: float, options: DeconvolutionOptions) -> list[tuple[float, float]]:
    """(denoiser sigma, data weight alpha) per iteration: sigma log-spaced from start to noise."""
    noise = max(noise * options.noise_scale, options.noise_floor)
    end = min(noise, options.start_sigma)
    sigmas = np.geomspace(options.start_sigma, end, options.iterations) if options.iterations > 1 else np.array([end])
    return [(float(s), options.weight * noise**2 / float(s) ** 2) for s in sigmas]


@torch.inference_mode()
def split_deconvolve(blurred: torch.Tensor, kernel: torch.Tensor, prior: nn.Module, noise: float, options: DeconvolutionOptions) -> torch.Tensor:
    """Half-quadratic splitting on a periodic (N, 3, H, W) window -> the estimate (N, 3, H, W).

    ``blurred`` is consumed: passed as a temporary (no other reference), its memory is freed
    after the first round. A window's copies and spectra are its largest arrays, and memory
    bounds the window size, so each is dropped as soon as it is used."""
    h, w = blurred.shape[-2:]
    device = next(prior.parameters()).device
    otf = kernel_otf(kernel.to(device), h, w)
    z = blurred.to(device)
    del blurred
    numerator = torch.fft.rfft2(z).mul_(otf.conj())
    power = otf.abs().square()
    del otf
    for sigma, alpha in split_schedule(noise, options):
        release_free_memory()  # the padding's and each round's freed buffers would otherwise pile up in the heap
        spectrum = torch.fft.rfft2(z).mul_(alpha).add_(numerator).div_(power + alpha)
        del z
        x = irfft2_by_channel(spectrum, (h, w))
        del spectrum
        with prior_autocast(device, options.precision):
            z = denoise_in_tiles(prior, x, sigma, options.prior_tile, options.prior_overlap).float()
        del x
    return z.cpu()


def prior_autocast(device: torch.device, precision: str) -> torch.autocast:
    """The context the prior runs in: bfloat16 autocast when asked, or when ``auto`` and the CPU has it natively."""
    wanted = precision == "bfloat16" or (precision == "auto" and native_bfloat16(device))
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=wanted)


class _AtLevel(nn.Module):
    """The prior at one noise level, as a plain (N, 3, H, W) -> (N, 3, H, W) restorer for the tiler."""

    def __init__(self, prior: nn.Module, sigma: float) -> None:
        super().__init__()
        self.prior, self.sigma = prior, sigma
        self.size_multiple = int(getattr(prior, "size_multiple", 8))
        self.tile_overlap = int(getattr(prior, "tile_overlap", 64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prior(x, torch.full((x.shape[0],), self.sigma, device=x.device)).float()


def denoise_in_tiles(prior: nn.Module, image: torch.Tensor, sigma: float, tile: int, overlap: int | None = None) -> torch.Tensor:
    """``prior(image, sigma)`` on (N, 3, H, W), in tiles of ``tile`` px overlapping by ``overlap``
    (None: the prior's own ``tile_overlap``): the prior's activations (about 750 bytes per pixel)
    then depend on the tile, not the window."""
    from ..restoring.restore import RestoreOptions, restore_tensor

    if max(image.shape[-2:]) <= tile:
        return prior(image, torch.full((image.shape[0],), sigma, device=image.device))
    restored, _ = restore_tensor(_AtLevel(prior, sigma), image.cpu(), RestoreOptions(tile=tile, tile_overlap=overlap, batch_size=1), with_edges=False)
    return restored.to(image.device)


@torch.inference_mode()
def deconvolve(
    image: torch.Tensor,
    kernel: np.ndarray,
    prior: nn.Module,
    noise: float | None = None,
    options: DeconvolutionOptions = DeconvolutionOptions(),
    progress: Callable[[int, int], None] = lambda done, total: None,
    compressed: bool = False,
) -> torch.Tensor:
    """Deconvolve (N, 3, H, W) (CPU) by ``kernel`` -> (N, 3, H, W) float in [0, 1].

    ``image``: float in [0, 1], or uint8 / uint16 as decoded (0 to the dtype's maximum), which
    a big photo's windows are converted from one at a time: a 12 MP photo's float copy is
    144 MB, a tenth of the memory ``--kernel`` is allowed.

    ``noise``: the noise sigma in [0, 1] units; None estimates it from the image (the first's
    for a batch), allowing for JPEG compression after the noise when ``compressed`` (the image
    came from a JPEG file). Windows of ``options.tile`` pixels overlap by more than the kernel's extent.
    """
    n, _, h, w = image.shape
    kh, kw = kernel.shape
    if kh > h or kw > w:
        raise KernelError(f"the kernel ({kh}x{kw} px) is larger than the photo ({h}x{w} px)")
    k = kernel_tensor(kernel)
    noise = float(estimate_noise(unit_float(image[:1]), compressed=compressed)[0]) if noise is None else noise
    extent = max(kh, kw)
    margin = extent + 16  # reflected context: the blur reaches one kernel extent into the frame
    overlap = extent + 48  # tiles: deconvolution's reach is about a kernel, the prior's 48 px more
    context = window_context(extent)
    size = max(options.tile, 2 * overlap + 32)
    tile_h, tops = tile_grid(h, size, overlap, 1)
    tile_w, lefts = tile_grid(w, size, overlap, 1)
    if len(tops) == 1 and len(lefts) == 1:
        return _window(image, k, prior, noise, options, margin).clamp_(0, 1)
    result = torch.zeros(n, 3, h, w)
    release_free_memory()  # the noise estimate's freed buffers
    rows, cols = blend_windows(tile_h, overlap, tops), blend_windows(tile_w, overlap, lefts)
    total, done = len(tops) * len(lefts), 0
    for t in tops:
        for l in lefts:
            # Real neighbours as context on every inner side; the window's own borders are padded.
            t0, l0 = max(0, t - context), max(0, l - context)
            t1, l1 = min(h, t + tile_h + context), min(w, l + tile_w + context)
            out = _window(image[:, :, t0:t1, l0:l1], k, prior, noise, options, margin)
            piece = out[:, :, t - t0 : t - t0 + tile_h, l - l0 : l - l0 + tile_w]
            result[:, :, t : t + tile_h, l : l + tile_w].addcmul_(piece, rows[t][:, None] * cols[l][None, :])
            del out, piece
            release_free_memory()  # windows' freed buffers would otherwise pile up in the heap
            done += 1
            progress(done, total)
    # The blend weights are a row window times a column window on a grid, so their sum is too:
    # no whole-photo weight map.
    weight_rows, weight_cols = coverage(rows, h), coverage(cols, w)
    return result.div_(weight_rows[:, None]).div_(weight_cols[None, :]).clamp_(0, 1)


def window_context(extent: int) -> int:
    """Real neighbours kept around each tile, pixels: a window's own (padded) border rings inwards."""
    return 2 * extent + 64


def _window(image: torch.Tensor, kernel: torch.Tensor, prior: nn.Module, noise: float, options: DeconvolutionOptions, margin: int) -> torch.Tensor:
    h, w = image.shape[-2:]
    multiple = int(getattr(prior, "size_multiple", 8))
    # The bottom/right margins grow to the prior's size multiple: the whole padded window stays periodic.
    extra = ((-(h + 2 * margin)) % multiple, (-(w + 2 * margin)) % multiple)
    # Converted and padded as temporaries: the float window is freed once padded, the padded one
    # by ``split_deconvolve`` after its first round.
    out = split_deconvolve(pad_periodic(unit_float(image), kernel, margin, extra), kernel, prior, noise, options)
    return out[:, :, margin : margin + h, margin : margin + w]
