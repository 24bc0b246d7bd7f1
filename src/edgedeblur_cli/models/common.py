"""Building blocks shared by the networks: padding to a size multiple, same-size transposed convs."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def unit_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 / uint16 values (0 to the dtype's maximum) -> float32 in [0, 1]; float tensors as they are.

    Big photos stay in their decoded integers until a tile of them is cut, which bounds memory.
    """
    if x.is_floating_point():
        return x
    return x.float().div_(255.0 if x.dtype == torch.uint8 else 65535.0)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``x`` (N, C, H, W) on the bottom/right so H and W are multiples of ``multiple``.

    Reflection keeps the padded border looking like image content (zeros would read as an
    edge); it needs the pad to be smaller than the side, so tiny images fall back to
    replication. Returns the padded tensor and the original (H, W) to crop back to.
    """
    h, w = x.shape[-2:]
    pad_h = (-h) % multiple
    pad_w = (-w) % multiple
    if pad_h == 0 and pad_w == 0:
        return x, (h, w)
    return F.pad(x, (0, pad_w, 0, pad_h), mode=border_pad_mode(pad_h, pad_w, h, w)), (h, w)


def border_pad_mode(pad_h: int, pad_w: int, height: int, width: int) -> str:
    """The F.pad mode ``pad_to_multiple`` uses for an image of ``height`` x ``width``.

    Shared with the tiler, which must pad edge tiles exactly as the whole image is padded.
    """
    return "reflect" if pad_h < height and pad_w < width else "replicate"


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop (N, C, H', W') back to the top-left ``size`` = (H, W)."""
    return x[..., : size[0], : size[1]]


def upsample_conv(in_ch: int, out_ch: int, kernel: int, stride: int) -> nn.ConvTranspose2d:
    """A transposed conv whose output is exactly ``stride`` times its input (Keras ``padding='same'``)."""
    padding = max(0, math.ceil((kernel - stride) / 2))
    output_padding = stride - kernel + 2 * padding
    return nn.ConvTranspose2d(in_ch, out_ch, kernel, stride=stride, padding=padding, output_padding=output_padding)


def same_conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    """A conv that keeps the size (stride 1) or divides it exactly by ``stride`` when it divides the input."""
    if kernel % 2 == 1:
        return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2)
    if kernel != stride:
        raise ValueError("even kernels are only supported with kernel == stride")
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride)


def count_parameters(model: nn.Module) -> int:
    """Number of parameters, trainable or not."""
    return sum(p.numel() for p in model.parameters())
