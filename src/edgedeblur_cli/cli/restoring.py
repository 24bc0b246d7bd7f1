"""``edgedeblur restore`` and ``edgedeblur edges``: the network over files, folders and stdin."""

from __future__ import annotations

import functools

import click

from .app import main
from .help import brief
from .common import Context, device_type, fatal, file_options, load_or_exit, model_options, restore_options, run_file_command
from .kernels import KERNEL_HELP, auto_batch, deconvolve_batch, given_kernel, kernel_options, load_prior_or_exit

RESTORE_EXAMPLES = """
\b
Examples:
  edgedeblur restore photo.jpg              # writes photo_restored.jpg
  edgedeblur restore shots/ -r -o fixed/    # a folder tree, mirrored
  cat a.png | edgedeblur restore - > b.png  # a pipe
  edgedeblur restore noisy.jpg --strength 0.75     # three quarters of it
  edgedeblur restore iso6400.jpg --model edgedeblur-denoise  # noise only
  edgedeblur restore shaky.jpg --kernel psf.png    # a known blur kernel
  edgedeblur restore walk.jpg --motion 15,30       # 15 px at 30 degrees
  edgedeblur restore archive/ -r -o out/ --shard 2/8   # a job array's task
"""


@main.command(epilog=RESTORE_EXAMPLES, details=KERNEL_HELP)
@file_options("_restored", None)
@model_options
@click.option("--save-edges", type=click.Path(file_okay=False), help="Also write each edge map into this folder.")
@click.option("--compare", is_flag=True, help="Also write <name>_compare.png: input | edges | restored.",
              **brief("Also write input | edges | restored."))
@click.option("--strength", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="Share of the correction to apply: 1 the full restoration, 0 the input as it was; "
                   "lower is gentler (the default model overshoots a little on real camera noise).",
              **brief("Share of the correction, 0 to 1 [default: 1]."))
@kernel_options
def restore(files, model_name, weights, hub_repo, device, batch_size, tile, tile_overlap, half, save_edges, compare, strength,
            kernel_file, motion, gaussian, defocus, noise, estimate_kernel):
    """Restore blurred, noisy photos (files, folders, or - for stdin)."""
    from ..names import DEFAULT_MODEL

    ctx = files.context()
    options = restore_options(tile, tile_overlap, batch_size, half, strength)
    kernel, kernel_source = given_kernel(ctx, kernel_file, motion, gaussian, defocus)

    def make_process():
        if kernel is not None:  # the one kernel given: deconvolution only, no network route
            prior = load_prior_or_exit(ctx, device)
            return functools.partial(deconvolve_batch, prior, kernel, kernel_source, noise, compare), device_type(prior)
        model = load_or_exit(ctx, model_name, weights, hub_repo, device)
        network = functools.partial(restore_batch, model, options, bool(save_edges), compare)
        if estimate_kernel and model_name == DEFAULT_MODEL and weights is None:
            return functools.partial(auto_batch, network, load_prior_or_exit(ctx, device), noise, compare), device_type(model)
        return network, device_type(model)

    extras = {}
    if save_edges:
        extras["edges"] = (save_edges, "_edges")
    if compare:
        extras["compare"] = (None, "_compare")
    run_file_command(ctx, "restored", files, make_process, batch_size, extras)


def restore_batch(model, options, save_edges: bool, compare: bool, images):
    """Same-size ``ImageData`` -> per image {"main": restored, and "edges" / "compare" when asked} (``run_jobs``'s process)."""
    from ..restoring.restore import restore_arrays

    # Edge maps and comparisons cost whole-image buffers: only made when asked for.
    results = restore_arrays(model, [im.pixels for im in images], options, with_edges=save_edges or compare)
    outputs = []
    for image, (restored, edges) in zip(images, results):
        out = {"main": image.with_pixels(restored)}
        if edges is not None and save_edges:
            out["edges"] = _edge_image(edges)
        if edges is not None and compare:
            out["compare"] = _compare_image(image.float_pixels(), edges, restored)
        outputs.append(out)
    return outputs


def _edge_image(edges):
    """An (H, W) edge map (float in [0, 1], or uint8 / uint16) -> a grayscale ``ImageData``."""
    import numpy as np

    from ..files.io import ImageData

    return ImageData(np.repeat(edges[..., None], 3, axis=2), grayscale=True)


def _compare_image(degraded, edges, restored):
    """input | edges | restored, side by side: (H, W, 3) float in [0, 1] | (H, W) | (H, W, 3), each
    float or uint8 / uint16 -> one ImageData."""
    import numpy as np

    from ..files.io import ImageData, to_float

    edges, restored = to_float(edges), to_float(restored)
    gap = np.ones((degraded.shape[0], 4, 3), dtype=np.float32)
    edge_rgb = np.repeat(edges[..., None], 3, axis=2)
    return ImageData(np.concatenate([np.clip(degraded, 0, 1), gap, edge_rgb, gap, restored], axis=1).astype(np.float32))


# ---------------------------------------------------------------- edges


@main.command()
@file_options("_edges", "png")
@model_options
def edges(files, model_name, weights, hub_repo, device, batch_size, tile, tile_overlap, half):
    """Write the edge map the model's edge branch predicts for each image.

    \b
    Examples:
      edgedeblur edges photo.png            # writes photo_edges.png
      edgedeblur edges shots/ -o edges/
    """
    from ..restoring.restore import restore_arrays

    ctx = files.context()
    options = restore_options(tile, tile_overlap, batch_size, half)

    def make_process():
        model = load_or_exit(ctx, model_name, weights, hub_repo, device)
        if not hasattr(model, "forward_with_edges"):
            fatal(ctx, ValueError(f"model {model_name} has no edge branch"))

        def process(images):
            results = restore_arrays(model, [im.pixels for im in images], options)
            return [{"main": _edge_image(edge_map)} for _, edge_map in results]

        return process, device_type(model)

    run_file_command(ctx, "written", files, make_process, batch_size)
