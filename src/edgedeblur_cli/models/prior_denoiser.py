"""edgedeblur-prior: a small denoiser told its noise level, the learned prior of the kernel path.

Deconvolution by half-quadratic splitting (see ``deconvolve.py``) alternates a closed-form
FFT step, which undoes the kernel but amplifies noise and rings, with a denoising step at a
noise level that falls from about 50/255 to the photo's own. A denoiser for that job must be
told the level (FFDNet, DRUNet do it with a constant input channel), so one network serves
every step. This one reuses edgedeblur-s's gated blocks in a three-level U-shape:

- RGB and the level map fold into half resolution (pixel unshuffle, no information lost);
- levels at 1/2, 1/4 and 1/8 of the resolution (``width``, 2x, 4x channels) give the reach
  that heavy noise needs at about 40 kFLOP per pixel;
- it predicts a correction added to its input, initialised to zero (an untrained prior is
  the identity).

No layer looks at the whole image, so tiles equal the whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .common import crop_to, pad_to_multiple
from .edgedeblur_s import GatedBlock


def estimate_noise(image: torch.Tensor, block: int = 8, compressed: bool = False) -> torch.Tensor:
    """Noise sigma (N,) of (N, 3, H, W) in [0, 1], from the finest diagonal wavelet band of the
    luminance, which blur barely touches: its mean absolute value per ``block`` x ``block``
    block, and the lower quartile of those, so that texture (which also lives in that band)
    does not pass for noise. Quartile of pure noise blocks: 0.94 sigma, corrected.

    ``compressed``: the photo was saved as JPEG after its noise, which empties the finest band
    first (0.011 read for a true 0.02); the next band down, which JPEG 90 keeps, counts too, at
    0.6 of its reading since blur leaves some signal there.
    """
    gray = image.mean(1)
    sigma = _band_sigma(gray, block)
    if compressed:
        h, w = gray.shape[-2:]
        g = gray[:, : h // 2 * 2, : w // 2 * 2]
        coarser = (g[:, 0::2, 0::2] + g[:, 0::2, 1::2] + g[:, 1::2, 0::2] + g[:, 1::2, 1::2]) / 2  # orthonormal Haar
        sigma = torch.maximum(sigma, 0.6 * _band_sigma(coarser, block))
    return sigma


def _band_sigma(gray: torch.Tensor, block: int) -> torch.Tensor:
    """Noise sigma (N,) of (N, H, W) luminance from its finest diagonal Haar band (see ``estimate_noise``)."""
    h, w = gray.shape[-2:]
    g = gray[:, : h // 2 * 2, : w // 2 * 2]
    diagonal = (g[:, 0::2, 0::2] - g[:, 0::2, 1::2] - g[:, 1::2, 0::2] + g[:, 1::2, 1::2]) / 2
    # The luminance averages three channels: noise independent per channel shrinks by sqrt(3).
    scale = (math.pi / 2) ** 0.5 * 3**0.5
    n, bh, bw = diagonal.shape[0], diagonal.shape[1] // block, diagonal.shape[2] // block
    if bh * bw < 4:
        return diagonal.abs().flatten(1).mean(1) * scale
    blocks = diagonal[:, : bh * block, : bw * block].reshape(n, bh, block, bw, block).abs().mean((2, 4)).flatten(1)
    return torch.quantile(blocks, 0.25, dim=1) * scale / 0.94


@dataclass(frozen=True)
class PriorDenoiserConfig:
    width: int = 32  # channels at half resolution; 2x at quarter, 4x at eighth
    blocks: tuple[int, int, int] = (2, 2, 4)  # gated blocks per level (the first two also on the way up)
    norm: bool = True


class PriorDenoiser(nn.Module):
    """Noisy RGB (N, 3, H, W) ~[0, 1] and noise sigma (N,) in [0, 1] units -> denoised (N, 3, H, W)."""

    size_multiple = 8  # pixel unshuffle (2) x two stride-2 levels
    tile_overlap = 64

    def __init__(self, config: PriorDenoiserConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or PriorDenoiserConfig()
        w, (b1, b2, b3) = config.width, config.blocks
        self.head = nn.Conv2d(4 * 4, w, 3, padding=1)
        self.encoder1 = nn.Sequential(*[GatedBlock(w, config.norm) for _ in range(b1)])
        self.down1 = nn.Conv2d(w, 2 * w, 2, stride=2)
        self.encoder2 = nn.Sequential(*[GatedBlock(2 * w, config.norm) for _ in range(b2)])
        self.down2 = nn.Conv2d(2 * w, 4 * w, 2, stride=2)
        self.middle = nn.Sequential(*[GatedBlock(4 * w, config.norm) for _ in range(b3)])
        self.up2 = nn.Sequential(nn.Conv2d(4 * w, 8 * w, 1), nn.PixelShuffle(2))
        self.decoder2 = nn.Sequential(*[GatedBlock(2 * w, config.norm) for _ in range(b2)])
        self.up1 = nn.Sequential(nn.Conv2d(2 * w, 4 * w, 1), nn.PixelShuffle(2))
        self.decoder1 = nn.Sequential(*[GatedBlock(w, config.norm) for _ in range(b1)])
        self.tail = nn.Conv2d(w, 3 * 4, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def fold_for_inference(self) -> "PriorDenoiser":
        """Fold per-channel scales into convolutions (same outputs, faster); returns self."""
        for module in self.modules():
            if isinstance(module, GatedBlock):
                module.fold_for_inference()
        return self

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float | None = None) -> torch.Tensor:
        """``sigma`` None: estimated per image (so the prior also serves as a plain denoiser)."""
        if sigma is None:
            sigma = estimate_noise(x.float())
        x, size = pad_to_multiple(x, self.size_multiple)
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
        level = sigma.expand(x.shape[0], 1, *x.shape[-2:])
        skip1 = self.encoder1(self.head(F.pixel_unshuffle(torch.cat([x, level], 1), 2)))
        skip2 = self.encoder2(self.down1(skip1))
        y = self.decoder2(self.up2(self.middle(self.down2(skip2))) + skip2)
        y = self.decoder1(self.up1(y) + skip1)
        return crop_to(x + F.pixel_shuffle(self.tail(y), 2), size)
