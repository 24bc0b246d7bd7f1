"""Choose among kernel estimates by how sharp their deconvolutions come out.

The blind estimator (``estimate.py``) fails on different photos with different settings:
the window it fits on, the weight of its L0 prior. Made with a few settings, the estimates
disagree on exactly the photos where one of them went wrong, and the deconvolutions tell
which: a blur left in, or the ringing of a wrong kernel, spreads a photo's gradients, while
the right kernel leaves them sparse. Sparsity is measured as Krishnan et al. (2011) do, the
L1 norm of the gradients over their L2 norm, which does not change with contrast.

On 48 training photos with camera shake, choosing the sparsest of three estimates came within
0.2 dB of choosing the best by the ground truth (research log, 2026-12-05, second part).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .estimate import KernelEstimate, luminance

DELTA = np.pad(np.ones((1, 1)), 1)  # the kernel of no blur (3x3, as the rule was chosen with)
Deconvolver = Callable[[np.ndarray, np.ndarray], np.ndarray]  # ((h, w, 3) pixels, (k, k) kernel) -> (h, w, 3) deconvolved


def normalized_sparsity(image: np.ndarray) -> float:
    """(H, W, 3) or (H, W) float in [0, 1] -> |grad|_1 / (|grad|_2 sqrt(n)) of its luminance, in
    (0, 1]: lower is sparser (sharp edges, flat areas); blur and ringing raise it."""
    gray = luminance(image) if image.ndim == 3 else image.astype(np.float32)
    grads = np.concatenate([np.abs(np.diff(gray, axis=0)).ravel(), np.abs(np.diff(gray, axis=1)).ravel()]).astype(np.float64)
    energy = float(np.sqrt(np.square(grads).sum() * grads.size))
    return float(grads.sum() / energy) if energy > 0 else 1.0


def region_sparsity(pixels: np.ndarray, region: tuple[int, int, int, int], kernels: Sequence[np.ndarray], deconvolve: Deconvolver) -> list[float]:
    """``normalized_sparsity`` of the ``region`` (top, left, height, width) of ``pixels``
    ((H, W, 3) float in [0, 1]) deconvolved by each of ``kernels``."""
    top, left, height, width = region
    crop = np.ascontiguousarray(pixels[top : top + height, left : left + width, :3])
    return [normalized_sparsity(deconvolve(crop, kernel)) for kernel in kernels]


def sharpest(pixels: np.ndarray, estimates: Sequence[KernelEstimate], deconvolve: Deconvolver) -> int:
    """Index of the estimate whose deconvolution of the first estimate's region of ``pixels``
    ((H, W, 3) float in [0, 1]) has the sparsest gradients, the first on a tie. ``deconvolve``
    only ranks them: a short schedule ranks them as a long one (``route.RANKING_DECONVOLUTION``)."""
    return int(np.argmin(region_sparsity(pixels, estimates[0].region, [e.kernel for e in estimates], deconvolve)))


def sharpening(pixels: np.ndarray, estimate: KernelEstimate, deconvolve: Deconvolver) -> float:
    """How much sharper the estimate's region of ``pixels`` comes out deconvolved by its kernel
    than by no blur at all (a delta: denoising alone): the sparsity of the second over the
    first's. Above 1 for a kernel that undoes a blur; below 1 for one fitted to a sharp photo,
    whose deconvolution only adds ringing (research log 2026-12-05, third part)."""
    by_delta, by_kernel = region_sparsity(pixels, estimate.region, [DELTA, estimate.kernel], deconvolve)
    return by_delta / by_kernel

