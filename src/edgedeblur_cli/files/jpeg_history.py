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
they should: then the compression no longer shows in the noise either. A crop moves JPEG's
grid; where the grid from the top left shows no lattice, the grid is searched for
(``grid_offset``).
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
# The grid search (``grid_offset``): a smaller central region, and the low-frequency AC
# coefficients (row-major in the 8x8 block), which hold a value above half a step in most blocks.
SEARCH_BLOCKS = 20
SEARCH_COEFFICIENTS = [1, 8, 9, 2, 16, 10, 17, 3]
MIN_SEARCH_COEFFICIENTS = 50


def _dct_matrix(n: int = 8) -> np.ndarray:
    """The orthonormal DCT-II, which JPEG's forward transform is."""
    k = np.arange(n)
    m = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return m


_DCT = _dct_matrix()


def _block_dct(region: np.ndarray) -> np.ndarray:
    """(8 m, 8 n) -> (m n, 64): each 8x8 block's DCT coefficients, row by row."""
    nh, nw = region.shape[0] // 8, region.shape[1] // 8
    blocks = region[: nh * 8, : nw * 8].reshape(nh, 8, nw, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    return (_DCT @ blocks @ _DCT.T).reshape(-1, 64)


def lattice_score(luma: np.ndarray) -> float:
    """How closely the 8x8 block DCT coefficients of ``luma`` (H, W) float, 0-255, on the grid
    from its top left sit on multiples of a step: the mean over the AC coefficients of the best
    step's mean cos(2 pi c / step), over coefficients above half the step. 1: a perfect
    lattice; about 0: none."""
    fits = _lattice_fits(_block_dct(luma)[:, 1:], MIN_COEFFICIENTS)
    fits = fits[np.isfinite(fits)]
    return float(fits.mean()) if fits.size else 0.0


def _lattice_fits(coefficients: np.ndarray, least: int) -> np.ndarray:
    """(blocks, c) DCT coefficients -> (c,): each coefficient's best step's mean cos(2 pi c /
    step) over the blocks where it exceeds half the step; NaN where no step has ``least`` such."""
    ratio = coefficients.T.astype(np.float32)[:, None, :] * (1 / STEPS).astype(np.float32)[None, :, None]  # (c, steps, blocks)
    counted = np.abs(ratio) > 0.5
    counts = counted.sum(2)
    waves = np.cos(ratio * np.float32(2 * np.pi))
    waves[~counted] = 0
    fit = waves.sum(2, dtype=np.float64) / np.maximum(counts, 1)
    fit[counts < least] = -np.inf
    best = fit.max(1)
    best[~np.isfinite(best)] = np.nan
    return best


def once_jpeg(pixels: np.ndarray) -> bool:
    """Whether (H, W, 3) or (H, W) uint8 pixels, as decoded, were once saved as JPEG, on JPEG's
    8x8 grid from the top left or, for a JPEG cropped since, on the grid its lattice shows
    (``grid_offset``). Floats and 16-bit pixels, which no JPEG decodes to, are not."""
    return jpeg_evidence(pixels) > THRESHOLD


def jpeg_evidence(pixels: np.ndarray) -> float:
    """The lattice score of ``pixels``' luminance on JPEG's grid minus that on the grid shifted
    by 4 px (``lattice_score``), over a central region: about 0 for photos never saved as JPEG,
    0.4-1.1 for decoded JPEGs of quality 98-75. Where the grid from the top left shows no
    lattice, the grid is searched for (a crop moves it), and the larger of the two is returned.
    0 for what cannot be a decoded JPEG."""
    if pixels.dtype != np.uint8 or min(pixels.shape[:2]) < 8 * 8 + 12:
        return 0.0
    luma = _central_luma(pixels, MAX_BLOCKS)
    aligned = _evidence_at(luma, 0, 0)
    if aligned > THRESHOLD:
        return aligned
    offset = grid_offset(_central_luma(pixels, SEARCH_BLOCKS))
    return aligned if offset == (0, 0) else max(aligned, _evidence_at(luma, *offset))


def grid_offset(luma: np.ndarray) -> tuple[int, int]:
    """(rows, columns) from the top left of (H, W) float luminance, 0-255, at which the 8x8 grid
    whose block DCT coefficients sit closest to a lattice starts: where JPEG's grid is when the
    pixels were once a JPEG, cropped since (the grid of a photo never saved as JPEG is arbitrary).

    Scored on a few low-frequency coefficients, which most blocks hold (``lattice_score`` on
    all 63 at all 64 offsets would cost 30 times more). On 24 training photos saved at quality
    75-95, cropped by 1-7 px each way, the grid found was JPEG's on every one (research log,
    2026-12-07, third session)."""
    blocks = (min(luma.shape) - 7) // 8
    fits = np.empty((8, 8))
    for oy in range(8):
        for ox in range(8):
            coefficients = _block_dct(luma[oy : oy + blocks * 8, ox : ox + blocks * 8])[:, SEARCH_COEFFICIENTS]
            fits[oy, ox] = np.nan_to_num(_lattice_fits(coefficients, MIN_SEARCH_COEFFICIENTS), nan=-1.0).mean()
    oy, ox = np.unravel_index(int(np.argmax(fits)), fits.shape)
    return int(oy), int(ox)


def _central_luma(pixels: np.ndarray, blocks: int) -> np.ndarray:
    """The luminance (float64, 0-255) of a central region of ``pixels`` starting on JPEG's grid
    from the top left: up to ``blocks`` blocks a side and 12 px more, room for any grid offset
    and the 4 px shifted grid."""
    side_h, side_w = (min(blocks, (n - 12) // 8) * 8 + 12 for n in pixels.shape[:2])
    top, left = ((n - side) // 16 * 8 for n, side in zip(pixels.shape[:2], (side_h, side_w)))
    luma = pixels[top : top + side_h, left : left + side_w].astype(np.float64)
    if luma.ndim == 3:  # JPEG's own luminance (JFIF): the chroma cancels, whatever its subsampling
        luma = luma[..., :3] @ np.array([0.299, 0.587, 0.114])
    return luma


def _evidence_at(luma: np.ndarray, oy: int, ox: int) -> float:
    """``lattice_score`` on the grid starting (oy, ox) px into ``luma`` (``_central_luma``) minus
    that on the grid 4 px further each way."""
    n_h, n_w = ((n - 12) // 8 * 8 for n in luma.shape)
    return lattice_score(luma[oy : oy + n_h, ox : ox + n_w]) - lattice_score(luma[oy + 4 : oy + 4 + n_h, ox + 4 : ox + 4 + n_w])
