"""Restoring images of any size: batching, overlapping tiles blended with a smooth window.

Only the tiles in flight live on the device; the blended result accumulates on the CPU, so
memory stays bounded for any photo. The networks have no global operations, so a tiled
result equals the whole-image result up to the blending of tile borders (tested to 1e-3).
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..device import pick_device
from ..names import DEFAULT_MODEL
from ..models.common import unit_float
from .tiling import blend_windows, coverage, round_up, tile_grid, tile_input
from ..weights import load_named_model


# On the CPU, 512-pixel tiles keep a 12 MP photo's peak RSS at 1.24 GiB (768: 1.44 GiB, 1024:
# 1.57 GiB, over the 1.5 GiB we allow) for ~5-10% more time; with glibc's malloc defaults big
# tiles were slower still (page faults, see allocator.py). On an H100, per-call overheads dominate
# small tiles: 2048-pixel tiles ran 1.6x (1080p) and 1.2x (4K) faster than 512. See benchmarks/speed.py.
CPU_TILE = 512
GPU_TILE = 2048


@dataclass(frozen=True)
class RestoreOptions:
    """How to run the network.

    tile / tile_overlap: largest tile side and least overlap of neighbouring tiles, pixels;
    the overlap must cover the network's reach, or tile seams show.
    batch_size: most images (or tiles) per network call; batch_pixels caps the pixels of
    one call, so big tiles go one at a time and memory stays bounded. half: fp16 on CUDA.
    None means the device's default: tiles of ``CPU_TILE`` / ``GPU_TILE`` pixels, and
    calls of that many pixels squared. strength: the share of the network's correction
    applied, in [0, 1]: 1 is the restored image, 0 the input unchanged.
    """

    tile: int | None = None
    tile_overlap: int | None = None  # None: what the model needs (its ``tile_overlap``, else 96)
    batch_size: int = 4
    batch_pixels: int | None = None
    half: bool = False
    strength: float = 1.0

    def __post_init__(self) -> None:
        if self.tile is not None and self.tile < 32:
            raise ValueError(f"tile must be at least 32 pixels, got {self.tile}")
        if self.tile_overlap is not None and not 0 <= self.tile_overlap < (self.tile or CPU_TILE) // 2:
            raise ValueError(f"tile overlap must be in [0, tile/2), got {self.tile_overlap}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {self.strength}")


def for_device(options: RestoreOptions, device: torch.device) -> RestoreOptions:
    """``options`` with the device's defaults filled in where they were left as None."""
    default = GPU_TILE if device.type == "cuda" else CPU_TILE
    return replace(options, tile=options.tile or default, batch_pixels=options.batch_pixels or default * default)


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
    if hasattr(model, "fold_for_inference"):
        model.fold_for_inference()
    # Channels-last lets oneDNN (CPU) and cuDNN pick their fastest convolutions: 1.7x on CPU here.
    return model.to(memory_format=torch.channels_last)


def _model_multiple(model: nn.Module) -> int:
    return int(getattr(model, "size_multiple", 16))


@torch.inference_mode()
def _run(
    model: nn.Module, batch: torch.Tensor, device: torch.device, half: bool, with_edges: bool, clamp: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Model on a (N, 3, h, w) CPU batch (float in [0, 1] or uint8 / uint16) -> restored (N, 3, h, w)
    and edges (N, 1, h, w) or None, float, on the CPU.

    ``clamp`` clips to [0, 1] on the device, before the copy back (tiles are clipped after blending).
    """
    x = unit_float(batch.to(device)).contiguous(memory_format=torch.channels_last)
    # fp16 autocast keeps the weights in fp32 and runs reductions that overflow in fp16 in fp32.
    precision = torch.autocast("cuda", dtype=torch.float16) if half and device.type == "cuda" else nullcontext()
    with precision:
        if hasattr(model, "forward_with_edges"):
            restored, edges = model.forward_with_edges(x)
        else:
            restored, edges = model(x), None
    restored = restored.float()
    edges = edges.float() if (with_edges and edges is not None) else None  # unwanted edges never leave a GPU
    if clamp:
        restored = restored.clamp_(0, 1)
        edges = edges.clamp_(0, 1) if edges is not None else None
    return restored.cpu(), (edges.cpu() if edges is not None else None)


MIN_TILE = 64
DEFAULT_OVERLAP = 96  # for networks that do not state their reach


def _overlap(model: nn.Module, options: RestoreOptions) -> int:
    if options.tile_overlap is not None:
        return options.tile_overlap
    return int(getattr(model, "tile_overlap", DEFAULT_OVERLAP))


def _is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)) or "out of memory" in str(exc).lower()


def restore_tensor(
    model: nn.Module,
    images: torch.Tensor,
    options: RestoreOptions = RestoreOptions(),
    note: Callable[[str], None] = lambda message: None,
    with_edges: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Restore (N, 3, H, W) images (CPU) -> restored (N, 3, H, W) and edges (N, 1, H, W) or None.

    Images are float in [0, 1], or uint8 / uint16 (0 to the dtype's maximum: a big photo as
    decoded, a quarter / half of float's memory); results come in the images' dtype.

    Edges are None for a model without an edge branch, or when ``with_edges`` is False
    (which saves a whole-image buffer on big photos).

    Out of memory, it retries with smaller tiles (and one image at a time) down to 64 pixels,
    then, on a GPU, moves the model to the CPU and goes on there.
    """
    options = for_device(options, next(model.parameters()).device)
    if hasattr(model, "choose") and max(images.shape[-2:]) > model.config.probe:
        return _restore_by_choice(model, images, options, note, with_edges)
    while True:
        try:
            return _restore_tensor(model, images, options, with_edges)
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
            smaller = replace(
                options, tile=side // 2, tile_overlap=min(_overlap(model, options), side // 4 - 1), batch_size=1, batch_pixels=(side // 2) ** 2
            )
            note(f"out of memory with {side}-pixel tiles; retrying with {smaller.tile}-pixel tiles")
            options = smaller


def _restore_by_choice(model, images: torch.Tensor, options: RestoreOptions, note, with_edges: bool):
    """Restore each image with the expert ``model.choose`` picks for it, judged on the whole image
    before any tiling, so a photo's tiles all come from one network."""
    choice = model.choose(images)
    if bool((choice == choice[0]).all()):  # one photo, or all alike: no copies of whole images
        return restore_tensor(model.experts[int(choice[0])], images, options, note, with_edges)
    restored = torch.empty_like(images)
    edges = torch.empty_like(images[:, :1]) if with_edges else None
    for index, expert in enumerate(model.experts):
        chosen = (choice == index).nonzero()[:, 0]
        if len(chosen) == 0:
            continue
        out, edge = restore_tensor(expert, images[chosen], options, note, with_edges)
        restored[chosen] = out
        if edges is not None:
            edges[chosen] = edge
    return restored, edges


@torch.inference_mode()  # results are inference tensors, as _run's are, whichever path made them
def _restore_tensor(
    model: nn.Module, images: torch.Tensor, options: RestoreOptions, with_edges: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    device = next(model.parameters()).device
    multiple = _model_multiple(model)
    with_edges = with_edges and hasattr(model, "forward_with_edges")
    n, _, h, w = images.shape
    tile = max(multiple, options.tile // multiple * multiple)
    if round_up(h, multiple) > tile or round_up(w, multiple) > tile:
        return _tiled(model, images, tile, multiple, options, device, with_edges)
    restored, edges = _run(model, images, device, options.half, with_edges, clamp=True)  # the model pads and crops itself
    restored = _finished(restored, images, options.strength)
    return restored, (None if edges is None else _finished(edges, None, 1.0, images.dtype))


def _finished(values: torch.Tensor, inputs: torch.Tensor | None, strength: float, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Clipped (N, C, h, w) network output, with ``strength`` of the correction over ``inputs``
    applied, in ``dtype`` (default the inputs'): float32 in [0, 1], or uint8 / uint16 rounded."""
    dtype = dtype or inputs.dtype
    if strength != 1.0:
        before = unit_float(inputs)
        values = values.sub_(before).mul_(strength).add_(before)  # in place: no second buffer for a big photo
    if dtype.is_floating_point:
        return values
    scale = 255.0 if dtype == torch.uint8 else 65535.0
    return values.mul_(scale).round_().to(dtype)


def _empty_like_photo(images: torch.Tensor, channels: int) -> torch.Tensor:
    """An (N, channels, H, W) result in ``images``' dtype, laid out (N, H, W, C) as files hold
    pixels, so ``restore_arrays`` hands the encoder a contiguous array without a copy."""
    n, _, h, w = images.shape
    return torch.empty(n, h, w, channels, dtype=images.dtype).permute(0, 3, 1, 2)


def _tiled(model, images: torch.Tensor, tile: int, multiple: int, options: RestoreOptions, device, with_edges: bool):
    """Restore (N, 3, H, W) ``images`` (float or uint8 / uint16) in overlapping tiles, row by row.

    Each row of tiles is added into a strip one tile tall; the rows above the next row of tiles
    are then final (no later tile reaches them), so they are normalised, clipped, given the
    ``strength`` and stored in the input's dtype. The blend weights are separable (row window
    times column window), so no whole-image weight map is kept either: the only whole-image
    buffers are the input and the result, and memory grows with the tile, not the photo.
    """
    n, _, h, w = images.shape
    overlap = min(_overlap(model, options), tile // 2 - 1)
    tile_h, tops = tile_grid(round_up(h, multiple), tile, overlap, multiple)
    tile_w, lefts = tile_grid(round_up(w, multiple), tile, overlap, multiple)
    rows, cols = blend_windows(tile_h, overlap, tops), blend_windows(tile_w, overlap, lefts)
    weight_rows, weight_cols = coverage(rows, h), coverage(cols, w)
    restored = _empty_like_photo(images, 3)
    edges = _empty_like_photo(images, 1) if with_edges else None
    strips = [torch.zeros(n, 3, tile_h, w)] + ([torch.zeros(n, 1, tile_h, w)] if with_edges else [])
    per_batch = max(1, min(options.batch_size, options.batch_pixels // (tile_h * tile_w)))

    def finish(first: int, last: int) -> None:
        """Store rows [first, last) of the image, held in the strips' first ``last - first`` rows."""
        last = min(last, h)
        if last <= first:
            return
        weight = weight_rows[first:last, None] * weight_cols[None, :]
        values = strips[0][:, :, : last - first].div(weight).clamp_(0, 1)
        restored[:, :, first:last] = _finished(values, images[:, :, first:last], options.strength)
        if edges is not None:
            edges[:, :, first:last] = _finished(strips[1][:, :, : last - first].div(weight).clamp_(0, 1), None, 1.0, images.dtype)

    done = tops[0]
    for t in tops:
        finish(done, t)
        shift = min(t - done, tile_h)
        for strip in strips:  # the unfinished rows move up to the strip's top
            strip[:, :, : tile_h - shift] = strip[:, :, shift:].clone()
            strip[:, :, tile_h - shift :] = 0
        done = t
        jobs = [(i, l) for i in range(n) for l in lefts]
        for start in range(0, len(jobs), per_batch):
            group = jobs[start : start + per_batch]
            batch = torch.stack([tile_input(images[i], t, l, tile_h, tile_w) for i, l in group])
            out, edge = _run(model, batch, device, options.half, with_edges)
            for k, (i, l) in enumerate(group):
                win = (rows[t][:, None] * cols[l][None, :])[: h - t, : w - l]
                vh, vw = win.shape
                strips[0][i, :, :vh, l : l + vw].addcmul_(out[k, :, :vh, :vw], win)
                if edges is not None:
                    strips[1][i, :, :vh, l : l + vw].addcmul_(edge[k, :, :vh, :vw], win)
    finish(done, done + tile_h)
    return restored, edges


def pixels_tensor(pixels: np.ndarray) -> torch.Tensor:
    """A tensor viewing ``pixels`` (any shape): uint8 / uint16 kept as decoded, anything else as
    float32 (a copy only if it was not float32)."""
    if pixels.dtype not in (np.uint8, np.uint16):
        pixels = np.asarray(pixels, dtype=np.float32)
    with warnings.catch_warnings():  # a decoded photo's array is read-only; it is only ever read
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(pixels)


def restore_arrays(
    model: nn.Module, images: list[np.ndarray], options: RestoreOptions = RestoreOptions(), with_edges: bool = True
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Restore same-size (H, W, 3) arrays together, float32 in [0, 1] or uint8 / uint16; returns
    (restored, edges (H, W) or None) per image, in the arrays' dtype."""
    # One image is viewed, not copied: NHWC memory is what channels-last convolutions want anyway.
    batch = pixels_tensor(images[0][None] if len(images) == 1 else np.stack(images)).permute(0, 3, 1, 2)
    restored, edges = restore_tensor(model, batch, options, with_edges=with_edges)
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
