"""The ``edgedeblur`` command line: thin click commands over the library modules.

stdout carries only image data or ``--json`` results; notes, errors and progress go to stderr.
Exit status: 0 all done, 1 some input failed (the rest are still done), 2 usage error.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from pathlib import Path

import click

from . import __version__
from .names import ARCHITECTURES, DEFAULT_ARCHITECTURE, DEFAULT_MODEL, PUBLISHED

# Nothing here imports torch or numpy at module level: `--help`, `--version` and usage errors
# answer in a fraction of a second; each command imports what it needs when it runs.

RESTORE_EXAMPLES = """
\b
Examples:
  edgedeblur restore photo.jpg                 # writes photo_restored.jpg
  edgedeblur restore shots/ -r -o fixed/       # a folder tree, mirrored into fixed/
  cat a.png | edgedeblur restore - > b.png     # a pipe
  edgedeblur restore big.tif --device cuda --half --compare
"""


def _stderr(message: str) -> None:
    click.echo(message, err=True)


class _Context:
    def __init__(self, quiet: bool, debug: bool) -> None:
        self.quiet = quiet
        self.debug = debug

    def note(self, message: str) -> None:
        if not self.quiet:
            _stderr(f"note: {message}")

    def error(self, message: str) -> None:
        _stderr(f"error: {message}")


def _fatal(ctx: _Context, exc: BaseException, code: int = 1) -> None:
    if ctx.debug:
        traceback.print_exc()
    ctx.error(str(exc))
    sys.exit(code)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""
\b
Examples:
  edgedeblur restore photo.jpg
  edgedeblur restore shots/ -r -o fixed/
  edgedeblur degrade sharp.png --seed 1
  edgedeblur train --dataset photos/ --crop 32 --downscale 2:8 --max-minutes 10 --out runs/m
  edgedeblur evaluate --dataset test-photos/ --crop 32 --downscale 2:8 --model runs/m
""",
)
@click.version_option(__version__, prog_name="edgedeblur")
def main() -> None:
    """Remove Gaussian blur and noise from photos with an edge-aware network."""
    from .allocator import keep_freed_memory

    keep_freed_memory()  # 1.3-1.8x faster CPU restores of big photos here; see allocator.py


def run() -> None:
    """The console entry point: ``main``, then an exit that skips unloading torch once all is done.

    Python's teardown of torch's libraries takes 0.8-1.3 s on this machine, longer than
    restoring a small image. When a command has loaded torch and returned, every output is
    complete, synced and closed and the worker pools are joined; if no other thread or child
    process is left, the streams are flushed and the process ends at once with the same code.
    """
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    if "torch" not in sys.modules or not _nothing_else_running() or not isinstance(code, (int, type(None))):
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: let Python report it the usual way
        sys.exit(code)
    os._exit(code or 0)


def _nothing_else_running() -> bool:
    import threading

    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        return False
    multiprocessing = sys.modules.get("multiprocessing")
    return multiprocessing is None or not multiprocessing.active_children()


# ---------------------------------------------------------------- shared file options


def _file_options(default_suffix: str, default_ext: str | None):
    def decorate(func):
        options = [
            click.argument("inputs", nargs=-1, metavar="INPUT..."),
            click.option("-o", "--output", "output", help="Output file (one input), folder (several), or - for stdout."),
            click.option("-r", "--recursive", is_flag=True, help="Descend into sub-folders (mirrored under -o DIR)."),
            click.option("--suffix", default=default_suffix, show_default=True, help="Added to the name of outputs written beside inputs."),
            click.option(
                "--ext",
                type=click.Choice(["png", "jpg", "webp", "tif", "bmp"]),
                default=default_ext,
                help="Output format (default: the input's; PNG for stdin).",
            ),
            click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True, help="JPEG/WebP quality."),
            click.option("--overwrite", is_flag=True, help="Replace existing outputs (inputs are never replaced)."),
            click.option("--json", "as_json", is_flag=True, help="Print results as JSON on stdout."),
            click.option("-q", "--quiet", is_flag=True, help="Silence notes (errors still print)."),
            click.option("--debug", is_flag=True, help="Show tracebacks."),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _model_options(func):
    options = [
        click.option("--model", "model_name", default=DEFAULT_MODEL, show_default=True, help=f"Published weights: {', '.join(PUBLISHED)}."),
        click.option("--weights", type=click.Path(), help="A model folder or .safetensors file to use instead of the published weights."),
        click.option("--hub-repo", envvar="EDGEDEBLUR_HUB_REPO", help="Hugging Face repo to fetch weights from [env: EDGEDEBLUR_HUB_REPO]."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps."),
        click.option("--batch-size", type=click.IntRange(1), help="At most this many images (or tiles) per forward pass  [default: small images gathered up to 64K pixels, 4 tiles]."),
        click.option("--tile", type=click.IntRange(32), help="Process larger images in tiles of at most PX pixels  [default: 512 on CPU, 2048 on CUDA]."),
        click.option("--tile-overlap", type=click.IntRange(0), help="Least overlap of neighbouring tiles, PX  [default: what the model needs, 64 for edgedeblur-s]."),
        click.option("--half", is_flag=True, help="fp16 inference on CUDA."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run_file_command(ctx: _Context, verb: str, inputs, output, recursive, suffix, ext, quality, overwrite, as_json, make_process, batch_size, extras=None):
    """Plan outputs (usage errors exit 2 before any model is loaded), then build the processor and run."""
    from .batch import OutputPlan, UsageProblem, collect_inputs, plan_jobs, run_jobs

    try:
        items = collect_inputs(inputs, recursive, ctx.note)
        jobs = plan_jobs(items, OutputPlan(output, suffix, ext, recursive), extras)
    except UsageProblem as exc:
        raise click.UsageError(str(exc)) from None
    if as_json and any(j.outputs["main"] == "-" for j in jobs):
        raise click.UsageError("--json uses stdout: write images to files with -o")
    process, device_type = make_process()
    try:
        summary = run_jobs(
            jobs,
            process,
            decode_ahead=device_type != "cpu",
            overwrite=overwrite,
            quality=quality,
            batch_size=batch_size,
            note=ctx.note,
            error=ctx.error,
            debug=ctx.debug,
            progress=sys.stderr.isatty() and len(jobs) > 1 and not ctx.quiet,
        )
    except KeyboardInterrupt:
        ctx.error("interrupted: finished outputs are complete, none is half-written; rerun to do the rest")
        sys.exit(130)
    if as_json:
        click.echo(json.dumps({"summary": {"done": summary.done, "skipped": summary.skipped, "failed": summary.failed}, "results": summary.results}, indent=2))
    if len(jobs) > 1 or summary.failed or summary.skipped:
        if not ctx.quiet or summary.failed:
            _stderr(summary.line(verb))
    sys.exit(1 if summary.failed else 0)


def _restore_options(tile: int, tile_overlap: int | None, batch_size: int, half: bool):
    from .restore import RestoreOptions

    try:
        return RestoreOptions(tile=tile, tile_overlap=tile_overlap, batch_size=batch_size or RestoreOptions.batch_size, half=half)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _device_type(model) -> str:
    """"cpu", "cuda", "mps": where the model runs (on the CPU, files are decoded between its calls)."""
    return next(model.parameters()).device.type


def _load(ctx: _Context, model_name, weights, hub_repo, device):
    from .restore import load_model
    from .weights import WeightsError

    try:
        return load_model(model_name, weights, device, hub_repo, ctx.note)
    except (WeightsError, ValueError, RuntimeError) as exc:
        _fatal(ctx, exc)


# ---------------------------------------------------------------- restore


@main.command(epilog=RESTORE_EXAMPLES)
@_file_options("_restored", None)
@_model_options
@click.option("--save-edges", type=click.Path(file_okay=False), help="Also write each edge map into this folder.")
@click.option("--compare", is_flag=True, help="Also write <name>_compare.png: input | edges | restored.")
def restore(inputs, output, recursive, suffix, ext, quality, overwrite, as_json, quiet, debug, model_name, weights, hub_repo, device, batch_size, tile, tile_overlap, half, save_edges, compare):
    """Restore blurred, noisy photos (files, folders, or - for stdin)."""
    ctx = _Context(quiet, debug)
    options = _restore_options(tile, tile_overlap, batch_size, half)

    def make_process():
        model = _load(ctx, model_name, weights, hub_repo, device)
        return functools.partial(_restore_batch, model, options, bool(save_edges), compare), _device_type(model)

    extras = {}
    if save_edges:
        extras["edges"] = (save_edges, "_edges")
    if compare:
        extras["compare"] = (None, "_compare")
    _run_file_command(ctx, "restored", inputs, output, recursive, suffix, ext, quality, overwrite, as_json, make_process, batch_size, extras)


def _restore_batch(model, options, save_edges: bool, compare: bool, images):
    from .restore import restore_arrays

    # Edge maps and comparisons cost whole-image buffers: only made when asked for.
    results = restore_arrays(model, [im.pixels for im in images], options, with_edges=save_edges or compare)
    outputs = []
    for image, (restored, edges) in zip(images, results):
        out = {"main": image.with_pixels(restored)}
        if edges is not None and save_edges:
            out["edges"] = _edge_image(edges)
        if edges is not None and compare:
            out["compare"] = _compare_image(image.pixels, edges, restored)
        outputs.append(out)
    return outputs


def _edge_image(edges):
    import numpy as np

    from .io import ImageData

    return ImageData(np.repeat(edges[..., None], 3, axis=2).astype(np.float32), grayscale=True)


def _compare_image(degraded, edges, restored):
    """input | edges | restored, side by side: (H, W, 3) float arrays -> one ImageData."""
    import numpy as np

    from .io import ImageData

    gap = np.ones((degraded.shape[0], 4, 3), dtype=np.float32)
    edge_rgb = np.repeat(edges[..., None], 3, axis=2)
    return ImageData(np.concatenate([np.clip(degraded, 0, 1), gap, edge_rgb, gap, restored], axis=1).astype(np.float32))


# ---------------------------------------------------------------- edges


@main.command()
@_file_options("_edges", "png")
@_model_options
def edges(inputs, output, recursive, suffix, ext, quality, overwrite, as_json, quiet, debug, model_name, weights, hub_repo, device, batch_size, tile, tile_overlap, half):
    """Write the edge map the model's edge branch predicts for each image.

    \b
    Examples:
      edgedeblur edges photo.png            # writes photo_edges.png
      edgedeblur edges shots/ -o edges/
    """
    from .restore import restore_arrays

    ctx = _Context(quiet, debug)
    options = _restore_options(tile, tile_overlap, batch_size, half)

    def make_process():
        model = _load(ctx, model_name, weights, hub_repo, device)
        if not hasattr(model, "forward_with_edges"):
            _fatal(ctx, ValueError(f"model {model_name} has no edge branch"))

        def process(images):
            results = restore_arrays(model, [im.pixels for im in images], options)
            return [{"main": _edge_image(edge_map)} for _, edge_map in results]

        return process, _device_type(model)

    _run_file_command(ctx, "written", inputs, output, recursive, suffix, ext, quality, overwrite, as_json, make_process, batch_size)


# ---------------------------------------------------------------- degrade


@main.command()
@_file_options("_degraded", None)
@click.option("--sigma", default="1:4", show_default=True, help="Blur sigma: a number, or LOW:HIGH drawn uniformly per image.")
@click.option("--kernel", type=click.IntRange(1), default=5, show_default=True, help="Odd Gaussian kernel size.")
@click.option("--noise", type=click.FloatRange(0), default=0.02, show_default=True, help="Std of the added Gaussian noise, on [0, 1] pixels.")
@click.option("--preset", "--degradation", "preset", type=click.Choice(["seed", "real"]), default="seed", show_default=True,
              help="seed: the study's Gaussian blur + noise (--sigma, --kernel, --noise); real: a random draw of the blur, "
                   "noise and JPEG real photos carry (or none), as `train --degradation real` trains on.")
@click.option("--seed", type=int, help="Seed: the same seed gives the same output bytes.")
def degrade(inputs, output, recursive, suffix, ext, quality, overwrite, as_json, quiet, debug, sigma, kernel, noise, preset, seed):
    """Blur and add noise: exactly as the seed study did, or as real photos are degraded.

    The seed's degradation itself is not clipped; writing an 8-bit (or 16-bit) file clips it
    to [0, 1]. Image i of a call uses its own random stream seeded by (--seed, i).

    \b
    Examples:
      edgedeblur degrade photo.png --seed 1            # writes photo_degraded.png
      edgedeblur degrade sharp/ -o blurred/ --sigma 2.5 --noise 0.01
      edgedeblur degrade sharp/ -o test/ --preset real --seed 0
    """
    from .degrade import DegradeConfig, degrade_random, parse_sigma
    from .degrade_real import degrade_real

    ctx = _Context(quiet, debug)
    try:
        low, high = parse_sigma(sigma)
        config = DegradeConfig(low, high, kernel, noise)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    import numpy as np

    base_seed = seed if seed is not None else int(np.random.SeedSequence().entropy % (2**63))
    counter = iter(range(10**12))

    def process(images):
        outputs = []
        for image in images:
            rng = np.random.default_rng([base_seed, next(counter)])
            if preset == "real":
                degraded = degrade_real(image.pixels, rng)[0]
            else:
                degraded, _ = degrade_random(image.pixels, rng, config)
            outputs.append({"main": image.with_pixels(np.clip(degraded, 0, 1))})
        return outputs

    _run_file_command(ctx, "degraded", inputs, output, recursive, suffix, ext, quality, overwrite, as_json, lambda: (process, "cpu"), 1)


# ---------------------------------------------------------------- train


def _dataset_options(func):
    options = [
        click.option("--dataset", required=True, help="'cifar10' or a folder of photos (searched recursively)."),
        click.option("--crop", type=click.IntRange(8), help="Train/evaluate on random square crops of PX pixels."),
        click.option("--downscale", default="1", show_default=True, help="Shrink crops first by a factor, or LOW:HIGH drawn per crop."),
        click.option("--data-root", envvar="EDGEDEBLUR_DATA", help="Where CIFAR-10 lives or is downloaded [env: EDGEDEBLUR_DATA]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _dataset_spec(dataset, crop, downscale, data_root):
    from .data import DatasetSpec, parse_downscale

    try:
        return DatasetSpec(dataset, crop, parse_downscale(downscale), data_root)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@main.command()
@_dataset_options
@click.option("--model", "model_name", default=DEFAULT_ARCHITECTURE, show_default=True, help=f"Architecture, one of: {', '.join(ARCHITECTURES)}.")
@click.option("--stage", type=click.Choice(["auto", "edges", "deblur", "all", "joint"]), default="auto", show_default=True,
              help="edges: EdgeNet on Canny targets; deblur: restorer with the EdgeNet frozen; all: edges then deblur; "
                   "joint: both at once; auto: all for seed, joint for edgedeblur-s.")
@click.option("--epochs", type=click.IntRange(1), default=100, show_default=True)
@click.option("--epoch-size", type=click.IntRange(1), help="Samples per epoch (default: 3x the images for cifar10, 10000 crops otherwise).")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam learning rate; with --resume it replaces the saved one (to fine-tune at a lower rate).")
@click.option("--lr-schedule", type=click.Choice(["constant", "cosine"]), default="constant", show_default=True, help="cosine: decay --lr to 0 at --epochs, from the epoch this run starts (a resumed cosine run keeps its start).")
@click.option("--patience", type=click.IntRange(1), default=7, show_default=True, help="Early-stopping patience, epochs.")
@click.option("--min-delta", type=click.FloatRange(0), default=1e-4, show_default=True, help="Smallest validation-loss drop that counts as better (the seed's).")
@click.option("--max-minutes", type=click.FloatRange(0, min_open=True), help="Stop after this much training time; the best model so far is kept.")
@click.option("--out", type=click.Path(file_okay=False), default="runs/model", show_default=True, help="Output model folder.")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt exactly (optimizer, epoch, RNG).")
@click.option("--init", "init_from", metavar="MODEL", help="Fine-tune: start from these weights (a model folder or a published name such as edgedeblur-s) with a fresh optimizer and epoch count.")
@click.option("--device", default="auto", show_default=True)
@click.option("--edge-loss", type=click.Choice(["bce", "gan"]), default="bce", show_default=True)
@click.option("--degradation", type=click.Choice(["seed", "real"]), default="seed", show_default=True,
              help="seed: the study's 5x5 blur + noise 0.02; real: blur, noise and JPEG as real photos carry them, or none.")
@click.option("--loss", type=click.Choice(["mse", "psnr"]), default="mse", show_default=True,
              help="psnr: the mean per-sample log MSE, so clean and lightly degraded crops count as much as the hard ones.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def train(dataset, crop, downscale, data_root, model_name, stage, epochs, epoch_size, batch_size, lr, lr_schedule, patience, min_delta, max_minutes, out, resume, init_from, device, edge_loss, degradation, loss, seed, debug):
    """Train a model; OUT becomes a loadable model folder (config.json + model.safetensors).

    \b
    Examples:
      edgedeblur train --dataset cifar10 --model seed
      edgedeblur train --dataset photos/train --crop 32 --downscale 2:8 --max-minutes 30 --out runs/s
      edgedeblur train --dataset photos/train --crop 32 --downscale 2:8 --out runs/s --resume
      edgedeblur train --dataset my-photos/ --crop 64 --init edgedeblur-s --lr 1e-4 --out runs/mine
      edgedeblur train --dataset photos/train --crop 96 --degradation real --loss psnr --out runs/blind
    """
    from .data import DatasetError
    from .train import TrainConfig
    from .train import train as run_training
    from .weights import WeightsError

    ctx = _Context(False, debug)
    spec = _dataset_spec(dataset, crop, downscale, data_root)
    config = TrainConfig(
        dataset=spec, out=Path(out), model=model_name, stage=stage, epochs=epochs, batch_size=batch_size, lr=lr, lr_schedule=lr_schedule,
        patience=patience, min_delta=min_delta, max_minutes=max_minutes, resume=resume, init=init_from, device=device, edge_loss=edge_loss,
        epoch_size=epoch_size, seed=seed, degradation=degradation, loss=loss,
    )
    try:
        result = run_training(config, log=_stderr)
    except (DatasetError, ValueError, OSError, WeightsError) as exc:
        _fatal(ctx, exc)
    except KeyboardInterrupt:
        ctx.error(f"interrupted; continue with --resume (checkpoint in {out})")
        sys.exit(130)
    _stderr(f"model written to {result}")


# ---------------------------------------------------------------- evaluate


@main.command()
@_dataset_options
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True, help="CIFAR-10 split (folders are used as given).")
@click.option("--model", "models", multiple=True, default=[DEFAULT_MODEL], show_default=True, help="A model folder or a published model name; repeatable.")
@click.option("--degradation", type=click.Choice(["seed", "real"]), default="seed", show_default=True,
              help="seed: the study's blur + noise; real: the realistic family (no Wiener row: its kernels vary).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fixed test degradation.")
@click.option("--limit", type=click.IntRange(1), help="Number of test images or crops (default: all images, 10000 crops).")
@click.option("--device", default="auto", show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--debug", is_flag=True)
def evaluate(dataset, crop, downscale, data_root, split, models, degradation, seed, limit, device, batch_size, as_json, debug):
    """Score the degraded input, Wiener deconvolution (true sigma) and models: MSE, PSNR, SSIM.

    \b
    Examples:
      edgedeblur evaluate --dataset photos/test --crop 32 --downscale 2:8 --model runs/m --limit 1000
      edgedeblur evaluate --dataset photos/test --model edgedeblur-s --model seed --json
    """
    from .data import DatasetError, fixed_pairs, load_images
    from .evaluate import evaluate_all, format_table
    from .restore import RestoreOptions

    ctx = _Context(False, debug)
    spec = _dataset_spec(dataset, crop, downscale, data_root)
    try:
        images = load_images(spec, split)
    except DatasetError as exc:
        _fatal(ctx, exc)
    pairs = fixed_pairs(images, spec.crop, spec.downscale, limit, seed, degradation=degradation)
    loaded = []
    for name in models:
        is_dir = Path(name).is_dir()
        model = _load(ctx, name if not is_dir else DEFAULT_MODEL, name if is_dir else None, None, device)
        loaded.append((name, model))
    rows = evaluate_all(pairs, loaded, RestoreOptions(batch_size=batch_size), batch_size, progress=sys.stderr.isatty())
    if as_json:
        click.echo(json.dumps({"dataset": dataset, "crop": crop, "downscale": list(spec.downscale), "seed": seed, "rows": [r.as_dict() for r in rows]}, indent=2))
    else:
        click.echo(format_table(rows))
