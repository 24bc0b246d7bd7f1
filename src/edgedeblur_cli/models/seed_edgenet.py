"""The seed study's HED-style EdgeNet (notebook cell 21): 3,509,633 parameters.

Two parallel strided convs per scale, 512-channel 1x1 side outputs at four scales, transposed
convs back to full size, fused by a 3x3 conv into one sigmoid edge map.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .common import crop_to, pad_to_multiple, same_conv, upsample_conv


@dataclass(frozen=True)
class SeedEdgeNetConfig:
    in_channels: int = 3
    side_channels: int = 512


class SeedEdgeNet(nn.Module):
    """RGB (N, 3, H, W) in [0, 1] -> edge probability (N, 1, H, W) in [0, 1]; any H, W."""

    size_multiple = 16

    def __init__(self, config: SeedEdgeNetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or SeedEdgeNetConfig()
        c, s = config.in_channels, config.side_channels
        self.act = nn.SiLU()  # Keras "swish"
        self.scale1_a = same_conv(c, 32, 5, 2)
        self.scale1_b = same_conv(c, 32, 3, 2)
        self.scale2_a = same_conv(64, 64, 3, 2)
        self.scale2_b = same_conv(64, 64, 5, 2)
        self.scale3 = same_conv(128, 128, 3, 2)
        self.scale4 = same_conv(128, 256, 2, 2)
        self.side1 = nn.Conv2d(64, s, 1)
        self.side2 = nn.Conv2d(128, s, 1)
        self.side3 = nn.Conv2d(128, s, 1)
        self.side4 = nn.Conv2d(256, s, 1)
        self.up1_a = upsample_conv(s, 32, 3, 2)
        self.up1_b = upsample_conv(s, 32, 5, 2)
        self.up2_a = upsample_conv(s, 64, 3, 4)
        self.up2_b = upsample_conv(s, 64, 5, 4)
        self.up3 = upsample_conv(s, 128, 3, 8)
        self.up4 = upsample_conv(s, 256, 2, 16)
        self.fuse = nn.Conv2d(32 + 32 + 64 + 64 + 128 + 256, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid edge logits (N, 1, H, W); the BCE loss works on these for stability."""
        x, size = pad_to_multiple(x, self.size_multiple)
        a = self.act
        x1 = torch.cat([a(self.scale1_a(x)), a(self.scale1_b(x))], 1)
        x2 = torch.cat([a(self.scale2_a(x1)), a(self.scale2_b(x1))], 1)
        x3 = a(self.scale3(x2))
        x4 = a(self.scale4(x3))
        s1, s2, s3, s4 = (a(self.side1(x1)), a(self.side2(x2)), a(self.side3(x3)), a(self.side4(x4)))
        fused = torch.cat(
            [
                a(self.up1_a(s1)),
                a(self.up1_b(s1)),
                a(self.up2_a(s2)),
                a(self.up2_b(s2)),
                a(self.up3(s3)),
                a(self.up4(s4)),
            ],
            1,
        )
        return crop_to(self.fuse(fused), size)
