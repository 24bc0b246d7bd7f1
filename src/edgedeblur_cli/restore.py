"""Restoring images of any size: batching, overlapping tiles blended with a smooth window.

Only the tiles in flight live on the device; the blended result accumulates on the CPU, so
memory stays bounded for any photo. The networks have no global operations, so a tiled
result equals the whole-image result up to the blending of tile borders (tested to 1e-3).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch import nn

from .models import DEFAULT_MODEL
from .models.common import pad_to_multiple
from .train import pick_device
from .weights import load_named_model


@dataclass(frozen=True)
class RestoreOptions:
    """How to run the network: tile size and overlap in pixels, tiles per batch, fp16 on CUDA."""

    tile: int = 512
    tile_overlap: int = 96
    batch_size: int = 4
    half: bool = False

    def __post_init__(self) -> None:
        if self.tile < 32:
            raise ValueError(f"tile must be at least 32 pixels, got {self.tile}")
        if not 0 <= self.tile_overlap < self.tile // 2:
            raise ValueError(f"tile overlap must be in [0, tile/2), got {self.tile_overlap}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")


def load_model(
    name: str = DEFAULT_MODEL,
    weights: str | None = None,
    device: str | torch.device = "auto",
    hub_repo: str | None = None,
    note: Callable[[str], None] = lambda message: None,
) -> nn.Module:
    """A verified, ready-to-run restorer (eval mode, on ``device``); load once, restore many."""
    device = pick_device(device) if isinstance(device, str) else device
    model = load_named_model(name, weights, hub_repo, note, device)
    # Channels-last lets oneDNN (CPU) and cuDNN pick their fastest convolutions: 1.7x on CPU here.
    return model.to(memory_format=torch.channels_last)


def _model_multiple(model: nn.Module) -> int:
    return int(getattr(model, "size_multiple", 16))


def _window(size: int, overlap: int, at_start: bool, at_end: bool) -> torch.Tensor:
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


def _tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return sorted(set(starts))


@torch.inference_mode()
def _run(model: nn.Module, batch: torch.Tensor, device: torch.device, half: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Model on a (N, 3, h, w) CPU batch -> restored (N, 3, h, w) and edges (N, 1, h, w) on the CPU."""
    x = batch.to(device).contiguous(memory_format=torch.channels_last)
    # fp16 autocast keeps the weights in fp32 and runs reductions that overflow in fp16 in fp32.
    precision = torch.autocast("cuda", dtype=torch.float16) if half and device.type == "cuda" else nullcontext()
    with precision:
        if hasattr(model, "forward_with_edges"):
            restored, edges = model.forward_with_edges(x)
            return restored.float().cpu(), edges.float().cpu()
        return model(x).float().cpu(), None


MIN_TILE = 64


def _is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)) or "out of memory" in str(exc).lower()


def restore_tensor(
    model: nn.Module,
    images: torch.Tensor,
    options: RestoreOptions = RestoreOptions(),
    note: Callable[[str], None] = lambda message: None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Restore (N, 3, H, W) float in [0, 1] (CPU) -> restored (N, 3, H, W) in [0, 1] and edges (N, 1, H, W) or None.

    Out of memory, it retries with smaller tiles (and one image at a time) down to 64 pixels,
    then, on a GPU, moves the model to the CPU and goes on there.
    """
    while True:
        try:
            return _restore_tensor(model, images, options)
        except (RuntimeError, MemoryError) as exc:
            if not _is_out_of_memory(exc):
                raise
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            side = min(options.tile, max(images.shape[-2:]))
            if side // 2 < MIN_TILE:
                if next(model.parameters()).device.type == "cpu":
                    raise
                note("out of memory on the GPU even with small tiles; continuing on the CPU")
                model.to("cpu")
                continue
            smaller = replace(options, tile=side // 2, tile_overlap=min(options.tile_overlap, side // 4 - 1), batch_size=1)
            note(f"out of memory with {side}-pixel tiles; retrying with {smaller.tile}-pixel tiles")
            options = smaller


def _restore_tensor(model: nn.Module, images: torch.Tensor, options: RestoreOptions) -> tuple[torch.Tensor, torch.Tensor | None]:
    device = next(model.parameters()).device
    multiple = _model_multiple(model)
    # Pad once to the model's multiple so whole and tiled runs see the same borders.
    padded, (h, w) = pad_to_multiple(images, multiple)
    ph, pw = padded.shape[-2:]
    tile = max(multiple, options.tile // multiple * multiple)
    if ph <= tile and pw <= tile:
        restored, edges = _run(model, padded, device, options.half)
    else:
        restored, edges = _tiled(model, padded, tile, options, device)
    restored = restored[..., :h, :w].clamp(0, 1)
    return restored, (edges[..., :h, :w].clamp(0, 1) if edges is not None else None)


def _tiled(model, padded: torch.Tensor, tile: int, options: RestoreOptions, device):
    n, _, ph, pw = padded.shape
    overlap = min(options.tile_overlap, tile // 2 - 1)
    windows = {}  # (top, left) -> (h, w) blend weights, the same for every image
    for t in _tile_starts(ph, tile, overlap):
        for l in _tile_starts(pw, tile, overlap):
            th, tw = min(tile, ph - t), min(tile, pw - l)
            rows = _window(th, overlap, t == 0, t + th >= ph)
            cols = _window(tw, overlap, l == 0, l + tw >= pw)
            windows[(t, l)] = rows[:, None] * cols[None, :]
    restored = torch.zeros(n, 3, ph, pw)
    edges = torch.zeros(n, 1, ph, pw)
    weight = torch.zeros(ph, pw)
    for (t, l), win in windows.items():
        weight[t : t + win.shape[0], l : l + win.shape[1]] += win
    jobs = [(i, t, l) for i in range(n) for t, l in windows]
    has_edges = True
    while jobs:
        # Tiles of one size go through the network together, at most batch_size at a time.
        shape = windows[jobs[0][1:]].shape
        group = [job for job in jobs if windows[job[1:]].shape == shape][: options.batch_size]
        jobs = [job for job in jobs if job not in group]
        th, tw = shape
        batch = torch.stack([padded[i, :, t : t + th, l : l + tw] for i, t, l in group])
        out, edge = _run(model, batch, device, options.half)
        has_edges = edge is not None
        for k, (i, t, l) in enumerate(group):
            win = windows[(t, l)]
            restored[i, :, t : t + th, l : l + tw] += out[k] * win
            if has_edges:
                edges[i, :, t : t + th, l : l + tw] += edge[k] * win
    restored /= weight
    return restored, (edges / weight if has_edges else None)


def restore_arrays(
    model: nn.Module, images: list[np.ndarray], options: RestoreOptions = RestoreOptions()
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Restore same-size (H, W, 3) float32 arrays in [0, 1] together; returns (restored, edges (H, W)) per image."""
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
    restored, edges = restore_tensor(model, batch, options)
    out = restored.permute(0, 2, 3, 1).numpy()
    edge_maps = edges[:, 0].numpy() if edges is not None else [None] * len(images)
    return [(out[i], edge_maps[i]) for i in range(len(images))]


def restore_image(
    image: np.ndarray | Image.Image,
    model: str | nn.Module = DEFAULT_MODEL,
    options: RestoreOptions = RestoreOptions(),
    device: str = "auto",
) -> np.ndarray | Image.Image:
    """Restore one image; the result has the input's type, shape and value range.

    ``image``: a PIL image, or an (H, W) / (H, W, 3|4) array, uint8 / uint16 or float in
    [0, 1]. Alpha passes through untouched; grayscale is restored via RGB and returned as
    grayscale. ``model`` is a registered name (weights resolved as the CLI does) or a loaded
    network; load once with ``load_model`` when restoring many images.
    """
    net = load_model(model, device=device) if isinstance(model, str) else model
    if isinstance(image, Image.Image):
        mode = image.mode
        converted = image.convert("RGBA" if "A" in mode or "transparency" in image.info else "RGB")
        result = restore_image(np.asarray(converted), net, options)
        out = Image.fromarray(result)
        return out.convert(mode) if mode in ("L", "LA", "RGB", "RGBA") else out
    array = np.asarray(image)
    if array.dtype == np.uint8:
        scale = 255.0
    elif array.dtype == np.uint16:
        scale = 65535.0
    else:
        scale = 1.0
    values = array.astype(np.float32) / scale
    gray = values.ndim == 2
    if gray:
        values = values[..., None]
    color = np.repeat(values, 3, axis=2) if values.shape[2] == 1 else values[..., :3]
    restored, _ = restore_arrays(net, [np.ascontiguousarray(color)], options)[0]
    if gray:
        out = restored.mean(axis=2)
    elif values.shape[2] == 4:
        out = np.concatenate([restored, values[..., 3:]], axis=2)
    else:
        out = restored
    if scale != 1.0:
        return np.round(np.clip(out, 0, 1) * scale).astype(array.dtype)
    return out.astype(array.dtype if array.dtype.kind == "f" else np.float32)
