"""The seed study's first baseline: a plain 2-D U-Net (figure ``unet-baseline.png``).

Four levels of two 3x3 conv + BatchNorm + ReLU (32, 64, 128, 256 channels), 2x2 max-pool
down, 2x2 transposed conv up, skip concatenations, 1x1 conv to RGB. No edge branch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .common import crop_to, pad_to_multiple


@dataclass(frozen=True)
class UNetConfig:
    base_channels: int = 32
    levels: int = 4


def _double_conv(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_ch, out_ch, 3, padding=1),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """Degraded RGB (N, 3, H, W) -> restored RGB (N, 3, H, W) in [0, 1]; any H, W."""

    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or UNetConfig()
        widths = [config.base_channels * 2**i for i in range(config.levels)]
        self.size_multiple = 2 ** (config.levels - 1)
        self.down = nn.ModuleList()
        ch = 3
        for w in widths:
            self.down.append(_double_conv(ch, w))
            ch = w
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(ch, w, 2, stride=2))
            self.merge.append(_double_conv(2 * w, w))
            ch = w
        self.tail = nn.Conv2d(ch, 3, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, size = pad_to_multiple(x, self.size_multiple)
        skips = []
        y = x
        for i, block in enumerate(self.down):
            y = block(y if i == 0 else self.pool(y))
            skips.append(y)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            y = merge(torch.cat([up(y), skip], 1))
        return crop_to(torch.sigmoid(self.tail(y)), size)
