"""Whether a photo's pixels were once saved as JPEG, whatever file they come in now.

A PNG made from a JPEG (a conversion, a screenshot of one, an editor's export) carries the
JPEG's compression, which lowers the noise its finest details show: the kernel path reads
such a photo's noise as it reads a JPEG file's (``estimate_noise(compressed=True)``), or the
deconvolution trusts a noise level too low and sharpens the compression's errors
(a blob kernel on a once-JPEG PNG: -5.3 dB, docs/research-log.md).

JPEG stores each 8x8 block's DCT coefficients as multiples of a step (its quantization
table). Decoded and rounded to 8 bits, the luminance's block coefficients still sit within
about 0.35 of those multiples; on the grid shifted by 4 px, or in a photo never saved as
JPEG, they spread evenly (the test of Fan & de Queiroz, "Identification of bitmap
compression history", 2003). Blur, resizing and noise after the JPEG erase the lattice, as
they should: then the compression no longer shows in the noise either.
"""

from __future__ import annotations

import numpy as np

# Most 8x8 blocks looked at per side: a central region of 320x320 px, plenty for the
# statistics and fast on any photo (a 12 MP photo has 190,000 blocks).
MAX_BLOCKS = 40
STEPS = np.arange(2, 41)  # quantization steps tried per coefficient
MIN_COEFFICIENTS = 200  # per coefficient and step: fewer (a flat photo) tells nothing
# Aligned minus shifted lattice score on 24 training photos per kind: once-JPEG PNGs of quality
# 75-90 (blurred or not, with or without noise) +0.47 to +1.06; PNG-born ones (4 blurs x 3 noise
# levels, halved photos) -0.038 to +0.038 (docs/research-log.md, 2026-12-07 second session).
THRESHOLD = 0.3


def _dct_matrix(n: int = 8) -> np.ndarray:
    """The orthonormal DCT-II, which JPEG's forward transform is."""
    k = np.arange(n)
    m = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return m


_DCT = _dct_matrix()


def lattice_score(luma: np.ndarray, offset: int = 0) -> float:
    """How closely the 8x8 block DCT coefficients of ``luma`` (H, W) float, 0-255, on the grid
    starting ``offset`` px from the top left sit on multiples of a step: the mean over the AC
    coefficients of the best step's mean cos(2 pi c / step), over coefficients above half the
    step. 1: a perfect lattice; about 0: none."""
    nh, nw = (luma.shape[0] - offset) // 8, (luma.shape[1] - offset) // 8
    region = luma[offset : offset + nh * 8, offset : offset + nw * 8]
    blocks = region.reshape(nh, 8, nw, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    coefficients = np.einsum("ij,njk,lk->nil", _DCT, blocks, _DCT).reshape(-1, 64)[:, 1:]
    scores = []
    for c in coefficients.T:
        ratio = c[None, :] / STEPS[:, None]  # (steps, blocks)
        counted = np.abs(ratio) > 0.5
        counts = counted.sum(1)
        if counts.max() < MIN_COEFFICIENTS:
            continue
        fit = np.where(counted, np.cos(2 * np.pi * ratio), 0).sum(1) / np.maximum(counts, 1)
        scores.append(fit[counts >= MIN_COEFFICIENTS].max())
    return float(np.mean(scores)) if scores else 0.0


def once_jpeg(pixels: np.ndarray) -> bool:
    """Whether (H, W, 3) or (H, W) uint8 pixels, as decoded, were once saved as JPEG (on
    JPEG's 8x8 grid from the top left: a JPEG cropped off that grid reads as never saved so).
    Floats and 16-bit pixels, which no JPEG decodes to, are not."""
    return jpeg_evidence(pixels) > THRESHOLD


def jpeg_evidence(pixels: np.ndarray) -> float:
    """The lattice score of ``pixels``' luminance on JPEG's grid minus that on the grid shifted
    by 4 px (``lattice_score``), over a central region: about 0 for photos never saved as JPEG,
    0.4-1.1 for decoded JPEGs of quality 98-75. 0 for what cannot be a decoded JPEG."""
    if pixels.dtype != np.uint8 or min(pixels.shape[:2]) < 8 * 8 + 4:
        return 0.0
    # A central region on the grid, 4 px more each way for the shifted grid.
    side_h, side_w = (min(MAX_BLOCKS, (n - 4) // 8) * 8 + 4 for n in pixels.shape[:2])
    top, left = ((n - side) // 16 * 8 for n, side in zip(pixels.shape[:2], (side_h, side_w)))
    luma = pixels[top : top + side_h, left : left + side_w].astype(np.float64)
    if luma.ndim == 3:  # JPEG's own luminance (JFIF): the chroma cancels, whatever its subsampling
        luma = luma[..., :3] @ np.array([0.299, 0.587, 0.114])
    return lattice_score(luma[:-4, :-4], 0) - lattice_score(luma, 4)
