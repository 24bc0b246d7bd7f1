"""agreement-pair: two trained restorers and a rule for which one a photo gets.

A blind deblurrer cannot tell a camera's native softness from blur, so it sharpens photos
that were only noisy; a denoiser trained without blur leaves sharpness alone but cannot
deblur. Where their outputs agree (to within ``threshold_db``, PSNR of one against the
other), the photo holds little blur that the deblurrer would take out, and the gentle
network's output is the one to trust; where they disagree, the strong one's.

The choice is made once per photo, on a few probe crops (``choose``), before a big photo is
cut into tiles, so every tile of a photo comes from the same network. ``forward`` applies the
same rule to whatever it is given whole (a small image is its own probe).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .common import unit_float
from .edgedeblur_s import EdgeDeblurS, EdgeDeblurSConfig


@dataclass(frozen=True)
class AgreementPairConfig:
    gentle: EdgeDeblurSConfig = field(default_factory=EdgeDeblurSConfig)  # used where the two agree
    strong: EdgeDeblurSConfig = field(default_factory=EdgeDeblurSConfig)  # used where they do not
    threshold_db: float = 40.0  # agreement: PSNR of the two outputs (8-bit) above this
    probe: int = 256  # side of the probe crops a photo is judged on


def probe_starts(length: int, probe: int) -> list[int]:
    """Where probe crops start along a side: the centre, or a third and two thirds of the way on long sides."""
    if length <= probe:
        return [0]
    centres = [length // 2] if length < 3 * probe else [length // 3, 2 * length // 3]
    return [min(max(0, c - probe // 2), length - probe) for c in centres]


class AgreementPair(nn.Module):
    """Degraded RGB (N, 3, H, W) ~[0, 1] -> the gentle or the strong network's output, per image."""

    def __init__(self, config: AgreementPairConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or AgreementPairConfig()
        self.gentle = EdgeDeblurS(config.gentle)
        self.strong = EdgeDeblurS(config.strong)
        self.size_multiple = max(self.gentle.size_multiple, self.strong.size_multiple)
        self.tile_overlap = max(self.gentle.tile_overlap, self.strong.tile_overlap)

    @property
    def experts(self) -> tuple[EdgeDeblurS, EdgeDeblurS]:
        """(gentle, strong); ``choose`` returns indices into this."""
        return self.gentle, self.strong

    def fold_for_inference(self) -> "AgreementPair":
        self.gentle.fold_for_inference()
        self.strong.fold_for_inference()
        return self

    @staticmethod
    def squared_difference(gentle: torch.Tensor, strong: torch.Tensor) -> torch.Tensor:
        """Mean squared difference (N,) of two (N, 3, H, W) outputs, on the 8-bit values a file would hold."""
        a, b = (torch.round(t.float().clamp(0, 1) * 255) for t in (gentle, strong))
        return (a - b).square().flatten(1).mean(1)

    @staticmethod
    def _db(squared: torch.Tensor) -> torch.Tensor:
        return 10 * torch.log10(255.0**2 / squared.clamp_min(1e-10))

    def agreement_db(self, gentle: torch.Tensor, strong: torch.Tensor) -> torch.Tensor:
        """PSNR (N,) of two (N, 3, H, W) outputs against each other, 8-bit."""
        return self._db(self.squared_difference(gentle, strong))

    def _picks_strong(self, agreement_db: torch.Tensor) -> torch.Tensor:
        return agreement_db <= self.config.threshold_db

    def probe_agreement_db(self, images: torch.Tensor) -> torch.Tensor:
        """Agreement (N,) of the two networks on each image's probe crops, in dB (8-bit PSNR).

        ``images``: (N, 3, H, W), float in [0, 1] or uint8 / uint16 (a big photo as decoded).
        """
        p = self.config.probe
        h, w = images.shape[-2:]
        device = next(self.parameters()).device
        crops = [unit_float(images[:, :, t : t + p, l : l + p]).to(device) for t in probe_starts(h, p) for l in probe_starts(w, p)]
        with torch.inference_mode():
            # The mean squared difference over all of an image's probes, then in dB.
            squared = torch.stack([self.squared_difference(self.gentle(c), self.strong(c)) for c in crops]).mean(0)
        return self._db(squared).cpu()

    def choose(self, images: torch.Tensor) -> torch.Tensor:
        """Index (N,) into ``experts`` for each (3, H, W) image of the batch, judged on its probe crops."""
        return self._picks_strong(self.probe_agreement_db(images)).long()

    def forward_with_edges(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Restored (N, 3, H, W) and edges (N, 1, H, W) of the network the rule picks for each whole image."""
        gentle, gentle_edges = self.gentle.forward_with_edges(x)
        strong, strong_edges = self.strong.forward_with_edges(x)
        use_strong = self._picks_strong(self.agreement_db(gentle, strong)).view(-1, 1, 1, 1)
        return torch.where(use_strong, strong, gentle), torch.where(use_strong, strong_edges, gentle_edges)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_edges(x)[0]
