"""The spectral-norm edge-map discriminator of the seed's EdgeNet-GAN option (notebook cell 20).

Keras flattened a 1x1x512 map at 32x32; a global average pool gives the same at 32x32 and
lets any size through.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


@dataclass(frozen=True)
class EdgeDiscriminatorConfig:
    in_channels: int = 1


class EdgeDiscriminator(nn.Module):
    """Edge map (N, 1, H, W) in [0, 1] -> logit (N, 1) that the map is a real Canny map."""

    def __init__(self, config: EdgeDiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or EdgeDiscriminatorConfig()
        self.conv1 = spectral_norm(nn.Conv2d(config.in_channels, 64, 5, padding=2))
        self.conv2 = spectral_norm(nn.Conv2d(64, 128, 3, padding=1))
        self.conv3 = spectral_norm(nn.Conv2d(128, 256, 2, stride=2))
        self.conv4 = spectral_norm(nn.Conv2d(256, 512, 2, stride=2))
        self.dense = nn.Linear(512, 128)
        self.out = nn.Linear(128, 1)

    def forward(self, edges: torch.Tensor) -> torch.Tensor:
        h, w = edges.shape[-2:]
        if h < 32 or w < 32:  # four 2x reductions need 32 pixels; an edge map's background is 0
            edges = F.pad(edges, (0, max(0, 32 - w), 0, max(0, 32 - h)))
        y = F.max_pool2d(F.leaky_relu(self.conv1(edges), 0.2), 2, ceil_mode=True)
        y = F.max_pool2d(F.leaky_relu(self.conv2(y), 0.2), 2, ceil_mode=True)
        y = F.max_pool2d(F.leaky_relu(self.conv3(y), 0.2), 2, ceil_mode=True)
        y = F.leaky_relu(self.conv4(y), 0.2)
        y = F.adaptive_avg_pool2d(y, 1).flatten(1)
        return self.out(F.relu(self.dense(y)))
