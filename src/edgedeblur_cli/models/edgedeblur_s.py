"""edgedeblur-s: our default restorer, an edge branch feeding a small NAFNet-style U-Net.

Keeps the seed's idea (a predicted edge map is a fourth input channel of the restorer) at a
small fraction of its cost (0.08 vs 1.32 GFLOP per 32x32 image):

- the edge branch runs at full resolution: three plain 3x3 convs, 8 channels;
- the restorer folds RGB + edges into half resolution with a pixel unshuffle (2x2 pixels ->
  16 channels, no information lost), runs NAFNet's gated depthwise blocks (Chen et al.,
  "Simple Baselines for Image Restoration", 2022) in a two-level U-shape, and unfolds back
  with a pixel shuffle;
- it predicts a correction added to its input (residual learning, no sigmoid on the output),
  initialised to zero so an untrained model is the identity.

No layer looks at the whole image (no global pooling, no normalisation over the image), so
a photo restored in tiles equals the same photo restored whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .common import crop_to, pad_to_multiple


class GatedBlock(nn.Module):
    """NAFNet's block without its norms and global channel attention; (N, C, H, W) -> same.

    Dropped on purpose: the channel attention pools over the whole image (tiles would differ
    from the whole), and the per-pixel LayerNorms cost more CPU time than the convolutions in
    a network this shallow, which trains stably without them thanks to the zero-initialised
    residual scales.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        c, c2 = channels, channels * 2
        self.expand = nn.Conv2d(c, c2, 1)
        self.depthwise = nn.Conv2d(c2, c2, 3, padding=1, groups=c2)
        self.project = nn.Conv2d(c, c, 1)
        self.ffn_expand = nn.Conv2d(c, c2, 1)
        self.ffn_project = nn.Conv2d(c, c, 1)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    @staticmethod
    def _gate(x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.project(self._gate(self.depthwise(self.expand(x)))) * self.beta
        return x + self.ffn_project(self._gate(self.ffn_expand(x))) * self.gamma


@dataclass(frozen=True)
class EdgeBranchConfig:
    channels: int = 8
    layers: int = 3


class EdgeBranch(nn.Module):
    """Full-resolution edge predictor: RGB (N, 3, H, W) -> edge probability (N, 1, H, W)."""

    def __init__(self, config: EdgeBranchConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or EdgeBranchConfig()
        layers: list[nn.Module] = []
        channels = 3
        for _ in range(config.layers - 1):
            layers += [nn.Conv2d(channels, config.channels, 3, padding=1), nn.GELU()]
            channels = config.channels
        layers.append(nn.Conv2d(channels, 1, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid edge logits (N, 1, H, W)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))


@dataclass(frozen=True)
class EdgeDeblurSConfig:
    width: int = 48  # channels at half resolution; twice that at quarter resolution
    encoder_blocks: int = 2
    middle_blocks: int = 6
    decoder_blocks: int = 2
    edge: EdgeBranchConfig = field(default_factory=EdgeBranchConfig)
    use_edges: bool = True  # False gives the ablation without the edge channel


class EdgeDeblurS(nn.Module):
    """Degraded RGB (N, 3, H, W) ~[0, 1] -> restored RGB (N, 3, H, W) (unclamped); any H, W."""

    size_multiple = 4  # pixel unshuffle (2) x one stride-2 level (2)

    def __init__(self, config: EdgeDeblurSConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or EdgeDeblurSConfig()
        w = config.width
        self.edgenet = EdgeBranch(config.edge)
        in_channels = 4 if config.use_edges else 3
        self.head = nn.Conv2d(in_channels * 4, w, 3, padding=1)
        self.encoder = nn.Sequential(*[GatedBlock(w) for _ in range(config.encoder_blocks)])
        self.down = nn.Conv2d(w, 2 * w, 2, stride=2)
        self.middle = nn.Sequential(*[GatedBlock(2 * w) for _ in range(config.middle_blocks)])
        self.up = nn.Sequential(nn.Conv2d(2 * w, 4 * w, 1), nn.PixelShuffle(2))
        self.decoder = nn.Sequential(*[GatedBlock(w) for _ in range(config.decoder_blocks)])
        self.tail = nn.Conv2d(w, 3 * 4, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_edges(x)[0]

    def forward_with_edges(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Restored (N, 3, H, W) and the edge map (N, 1, H, W) in [0, 1] it used."""
        x, size = pad_to_multiple(x, self.size_multiple)
        edges = self.edgenet(x)
        features = torch.cat([x, edges], 1) if self.config.use_edges else x
        skip = self.encoder(self.head(F.pixel_unshuffle(features, 2)))
        y = self.decoder(self.up(self.middle(self.down(skip))) + skip)
        restored = x + F.pixel_shuffle(self.tail(y), 2)
        return crop_to(restored, size), crop_to(edges, size)
