"""The seed study's DeblurNet with its EdgeNet (notebook cell 33): 6,661,028 parameters in all.

RGB + EdgeNet map (4 channels) -> 5x5 conv kept as a global skip -> three "residual" blocks
(1x1 -> 3x3 -> 5x5 convs concatenated with the block input, then 2x2 max-pool) -> three
stride-2 transposed convs -> concat with the skip -> 3x3 conv -> sigmoid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .common import crop_to, pad_to_multiple, upsample_conv
from .seed_edgenet import SeedEdgeNet, SeedEdgeNetConfig


@dataclass(frozen=True)
class SeedDeblurNetConfig:
    edgenet: SeedEdgeNetConfig = field(default_factory=SeedEdgeNetConfig)
    use_edges: bool = True  # False gives the ablation without the edge channel


class _ConcatBlock(nn.Module):
    """Convs with ReLU whose output is concatenated to the block input, then a 2x2 max-pool."""

    def __init__(self, in_ch: int, widths: list[tuple[int, int]]) -> None:
        super().__init__()
        layers, ch = [], in_ch
        for width, kernel in widths:
            layers.append(nn.Conv2d(ch, width, kernel, padding=kernel // 2))
            ch = width
        self.convs = nn.ModuleList(layers)
        self.out_channels = in_ch + ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for conv in self.convs:
            y = F.relu(conv(y))
        return F.max_pool2d(torch.cat([x, y], 1), 2)


class SeedDeblurNet(nn.Module):
    """Degraded RGB (N, 3, H, W) ~[0, 1] -> restored RGB (N, 3, H, W) in [0, 1]; any H, W."""

    size_multiple = 16  # the EdgeNet's four stride-2 stages

    def __init__(self, config: SeedDeblurNetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or SeedDeblurNetConfig()
        self.edgenet = SeedEdgeNet(config.edgenet)
        self.head = nn.Conv2d(4 if config.use_edges else 3, 32, 5, padding=2)
        self.block1 = _ConcatBlock(32, [(128, 1), (64, 3), (32, 5)])
        self.block2 = _ConcatBlock(self.block1.out_channels, [(256, 1), (128, 3), (64, 5)])
        self.block3 = _ConcatBlock(self.block2.out_channels, [(512, 1), (256, 3)])
        self.up1 = upsample_conv(self.block3.out_channels, 256, 3, 2)
        self.up2 = upsample_conv(256, 128, 3, 2)
        self.up3 = upsample_conv(128, 64, 3, 2)
        self.tail = nn.Conv2d(32 + 64, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_edges(x)[0]

    def forward_with_edges(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Restored (N, 3, H, W) in [0, 1] and the edge map (N, 1, H, W) in [0, 1] it used."""
        x, size = pad_to_multiple(x, self.size_multiple)
        edges = self.edgenet(x)
        features = torch.cat([x, edges], 1) if self.config.use_edges else x
        skip = F.relu(self.head(features))
        y = self.block3(self.block2(self.block1(skip)))
        y = F.relu(self.up3(F.relu(self.up2(F.relu(self.up1(y))))))
        restored = torch.sigmoid(self.tail(torch.cat([skip, y], 1)))
        return crop_to(restored, size), crop_to(edges, size)
