"""Where the tiles of a big image go and how they are blended: pure geometry on (3, H, W) tensors.

Tiles overlap by at least the network's reach and start on its downsampling grid, so a tiled
result matches a whole-image run; each tile's weight ramps down across the overlaps, away from
the tile's own border, where padding rather than real neighbours still affects its output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..models.common import border_pad_mode, unit_float


def blend_window(size: int, overlap: int, at_start: bool, at_end: bool) -> torch.Tensor:
    """1-D blend weights (size,) for a tile: 1 inside, a raised-cosine ramp across inner overlaps.

    The ramp spans only the middle third of the overlap and is 0 in the outer third, where
    the tile's own border (padding instead of real neighbours) still affects the output;
    the neighbouring tile covers those pixels with weight 1.
    """
    w = torch.ones(size, dtype=torch.float32)
    if overlap > 0:
        margin = overlap // 3
        ramp = torch.zeros(overlap)
        width = overlap - 2 * margin
        ramp[margin : margin + width] = 0.5 - 0.5 * torch.cos(torch.linspace(0, torch.pi, width + 2)[1:-1])
        ramp[margin + width :] = 1.0
        if not at_start:
            w[:overlap] = ramp
        if not at_end:
            w[-overlap:] = ramp.flip(0)
    return w


def tile_grid(length: int, tile: int, overlap: int, multiple: int) -> tuple[int, list[int]]:
    """Equal tiles covering ``length``: (tile size, starts), every start a multiple of ``multiple``.

    The tiles are spread evenly instead of stepping by ``tile - overlap`` and squeezing a
    last tile against the end, which would compute up to a whole extra row of tiles: a
    4000-pixel side takes 5 tiles of 880 rather than 5 of 1024. Neighbours overlap by at
    least ``overlap``; aligned starts keep each tile on the whole image's downsampling grid.
    """
    if length <= tile:
        return length, [0]
    # One extra multiple of slack: rounding the starts to the grid may shrink an overlap by that much.
    need = overlap + multiple
    count = math.ceil((length - need) / (tile - need))
    size = min(tile, round_up(math.ceil((length + (count - 1) * need) / count), multiple))
    span = length - size
    starts = [round(i * span / (count - 1) / multiple) * multiple for i in range(count)]
    starts[-1] = span
    return size, starts


def blend_windows(size: int, overlap: int, starts: list[int]) -> dict[int, torch.Tensor]:
    """{start: ``blend_window``} for tiles of ``size`` at ``starts`` along one axis, the first
    and last ones flat at the photo's edges: a tile's 2-D weights are its row's window times
    its column's."""
    return {start: blend_window(size, overlap, start == starts[0], start == starts[-1]) for start in starts}


def coverage(windows: dict[int, torch.Tensor], length: int) -> torch.Tensor:
    """(length,) sum of the 1-D blend windows placed at their starts, cut to ``length``."""
    total = torch.zeros(length)
    for start, window in windows.items():
        part = window[: length - start]
        total[start : start + len(part)] += part
    return total


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def tile_input(image: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    """The (3, height, width) window of a (3, H, W) image, padded past the bottom/right edge
    exactly as ``pad_to_multiple`` pads the whole image, so tiles match a whole-image run.
    A uint8 / uint16 image gives a float tile in [0, 1]."""
    piece = unit_float(image[:, top : top + height, left : left + width])
    pad_h, pad_w = height - piece.shape[1], width - piece.shape[2]
    if pad_h == 0 and pad_w == 0:
        return piece
    mode = border_pad_mode(pad_h, pad_w, image.shape[1], image.shape[2])
    return F.pad(piece[None], (0, pad_w, 0, pad_h), mode=mode)[0]
