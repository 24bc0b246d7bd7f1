"""edgedeblur-s: our default restorer, an edge branch feeding a small NAFNet-style U-Net.

Keeps the seed's idea (a predicted edge map is a fourth input channel of the restorer) at a
fraction of its cost: the edge branch runs at full resolution with few channels, the
restorer uses NAFNet's gated depthwise blocks (Chen et al., "Simple Baselines for Image
Restoration", 2022) in a shallow U-shape and predicts a correction added to its
input (residual learning, no sigmoid squeezing the output).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .common import crop_to, pad_to_multiple


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of (N, C, H, W), per pixel."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class NAFBlock(nn.Module):
    """NAFNet's gated depthwise block; (N, C, H, W) -> same.

    NAFNet's simplified channel attention is left out on purpose: it pools over the whole
    image, so a photo restored in tiles would differ from the same photo restored whole.
    Without it every output pixel depends only on a bounded neighbourhood.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        c, c2 = channels, channels * 2
        self.norm1 = LayerNorm2d(c)
        self.expand = nn.Conv2d(c, c2, 1)
        self.depthwise = nn.Conv2d(c2, c2, 3, padding=1, groups=c2)
        self.project = nn.Conv2d(c, c, 1)
        self.norm2 = LayerNorm2d(c)
        self.ffn_expand = nn.Conv2d(c, c2, 1)
        self.ffn_project = nn.Conv2d(c, c, 1)
        # Start as the identity: the blocks learn corrections on top of the skip path.
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    @staticmethod
    def _gate(x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self._gate(self.depthwise(self.expand(self.norm1(x))))
        x = x + self.project(y) * self.beta
        y = self.ffn_project(self._gate(self.ffn_expand(self.norm2(x))))
        return x + y * self.gamma


@dataclass(frozen=True)
class EdgeBranchConfig:
    channels: int = 16
    blocks: int = 2


class EdgeBranch(nn.Module):
    """Full-resolution edge predictor: RGB (N, 3, H, W) -> edge probability (N, 1, H, W)."""

    def __init__(self, config: EdgeBranchConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or EdgeBranchConfig()
        self.head = nn.Conv2d(3, config.channels, 3, padding=1)
        self.body = nn.Sequential(*[NAFBlock(config.channels) for _ in range(config.blocks)])
        self.tail = nn.Conv2d(config.channels, 1, 3, padding=1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid edge logits (N, 1, H, W)."""
        return self.tail(self.body(self.head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))


@dataclass(frozen=True)
class EdgeDeblurSConfig:
    width: int = 32
    encoder_blocks: tuple[int, ...] = (1, 2)
    middle_blocks: int = 4
    decoder_blocks: tuple[int, ...] = (2, 1)
    edge: EdgeBranchConfig = field(default_factory=EdgeBranchConfig)
    use_edges: bool = True  # False gives the ablation without the edge channel


class EdgeDeblurS(nn.Module):
    """Degraded RGB (N, 3, H, W) ~[0, 1] -> restored RGB (N, 3, H, W) (unclamped); any H, W."""

    def __init__(self, config: EdgeDeblurSConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or EdgeDeblurSConfig()
        self.size_multiple = 2 ** len(config.encoder_blocks)
        self.edgenet = EdgeBranch(config.edge)
        width = config.width
        self.head = nn.Conv2d(4 if config.use_edges else 3, width, 3, padding=1)
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        for n in config.encoder_blocks:
            self.encoders.append(nn.Sequential(*[NAFBlock(width) for _ in range(n)]))
            self.downs.append(nn.Conv2d(width, 2 * width, 2, stride=2))
            width *= 2
        self.middle = nn.Sequential(*[NAFBlock(width) for _ in range(config.middle_blocks)])
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for n in config.decoder_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(width, width * 2, 1, bias=False), nn.PixelShuffle(2)))
            width //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(width) for _ in range(n)]))
        self.tail = nn.Conv2d(width, 3, 3, padding=1)
        # Zero correction at initialisation: an untrained model returns its input unchanged.
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_edges(x)[0]

    def forward_with_edges(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Restored (N, 3, H, W) and the edge map (N, 1, H, W) in [0, 1] it used."""
        x, size = pad_to_multiple(x, self.size_multiple)
        edges = self.edgenet(x)
        y = self.head(torch.cat([x, edges], 1) if self.config.use_edges else x)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            y = encoder(y)
            skips.append(y)
            y = down(y)
        y = self.middle(y)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips)):
            y = decoder(up(y) + skip)
        restored = x + self.tail(y)
        return crop_to(restored, size), crop_to(edges, size)
