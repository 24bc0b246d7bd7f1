"""``edgedeblur train`` and ``edgedeblur evaluate``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..names import ARCHITECTURES, DEFAULT_ARCHITECTURE, DEFAULT_MODEL, DEGRADATIONS
from .app import main
from .common import Context, fatal, load_or_exit, stderr
from .help import brief


def _dataset_options(func):
    options = [
        click.option("--dataset", required=True, help="'cifar10' or a folder of photos (searched recursively).",
                     **brief("'cifar10' or a folder of photos.")),
        click.option("--crop", type=click.IntRange(8), help="Train/evaluate on random square crops of PX pixels.",
                     **brief("Random square crops of this many pixels.")),
        click.option("--downscale", default="1", show_default=True, help="Shrink crops first by a factor, or LOW:HIGH drawn per crop; below 1 enlarges them (soft, like a photo at a camera's native resolution).",
                     **brief("Shrink crops by a factor, or LOW:HIGH.")),
        click.option("--data-root", envvar="EDGEDEBLUR_DATA", help="Where CIFAR-10 lives or is downloaded [env: EDGEDEBLUR_DATA]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _dataset_spec(dataset, crop, downscale, data_root):
    from ..training.data import DatasetSpec, parse_downscale

    try:
        return DatasetSpec(dataset, crop, parse_downscale(downscale), data_root)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@main.command()
@_dataset_options
@click.option("--model", "model_name", default=DEFAULT_ARCHITECTURE, show_default=True, help=f"Architecture, one of: {', '.join(ARCHITECTURES)}.",
              **brief(f"Architecture [default: {DEFAULT_ARCHITECTURE}]."))
@click.option("--stage", type=click.Choice(["auto", "edges", "deblur", "all", "joint"]), default="auto", show_default=True,
              help="edges: EdgeNet on Canny targets; deblur: restorer with the EdgeNet frozen; all: edges then deblur; "
                   "joint: both at once; auto: all for seed, joint for edgedeblur-s.")
@click.option("--epochs", type=click.IntRange(1), default=100, show_default=True, **brief("Epochs at most [default: 100]."))
@click.option("--epoch-size", type=click.IntRange(1), help="Samples per epoch (default: 3x the images for cifar10, 10000 crops otherwise).")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam learning rate; with --resume it replaces the saved one (to fine-tune at a lower rate).")
@click.option("--lr-schedule", type=click.Choice(["constant", "cosine"]), default="constant", show_default=True, help="cosine: decay --lr to 0 at --epochs, from the epoch this run starts (a resumed cosine run keeps its start).")
@click.option("--patience", type=click.IntRange(1), default=7, show_default=True, help="Early-stopping patience, epochs.")
@click.option("--min-delta", type=click.FloatRange(0), default=1e-4, show_default=True, help="Smallest validation-loss drop that counts as better (the seed's).")
@click.option("--max-minutes", type=click.FloatRange(0, min_open=True), help="Stop after this much training time; the best model so far is kept.",
              **brief("Stop after this long; keep the best so far."))
@click.option("--out", type=click.Path(file_okay=False), default="runs/model", show_default=True, help="Output model folder.", **brief("Output model folder [default: runs/model]."))
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt exactly (optimizer, epoch, RNG).",
              **brief("Continue a stopped run exactly."))
@click.option("--init", "init_from", metavar="MODEL", help="Fine-tune: start from these weights (a model folder or a published name such as edgedeblur-s) with a fresh optimizer and epoch count; the network takes their size (say, one grown by tools/grow_model.py).",
              **brief("Fine-tune from these weights."))
@click.option("--device", default="auto", show_default=True)
@click.option("--edge-loss", type=click.Choice(["bce", "gan"]), default="bce", show_default=True)
@click.option("--degradation", type=click.Choice(DEGRADATIONS), default="seed", show_default=True,
              help="seed: the study's 5x5 blur + noise 0.02; real: blur, noise and JPEG as real photos carry them, or none; "
                   "real-noise: the same noise and JPEG without blur (for a denoiser).",
              **brief("seed, real or real-noise [default: seed]."))
@click.option("--loss", type=click.Choice(["mse", "psnr"]), default="mse", show_default=True,
              help="psnr: the mean per-sample log MSE, so clean and lightly degraded crops count as much as the hard ones.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def train(dataset, crop, downscale, data_root, model_name, stage, epochs, epoch_size, batch_size, lr, lr_schedule, patience, min_delta, max_minutes, out, resume, init_from, device, edge_loss, degradation, loss, seed, debug):
    """Train a model; OUT becomes a loadable model folder (config.json + model.safetensors).

    \b
    Examples:
      edgedeblur train --dataset cifar10 --model seed
      edgedeblur train --dataset train/ --crop 32 --downscale 2:8 --out runs/s
      edgedeblur train --dataset train/ --crop 32 --out runs/s --resume
      edgedeblur train --dataset mine/ --crop 64 --init edgedeblur-s --lr 1e-4
      edgedeblur train --dataset train/ --crop 96 --degradation real --loss psnr
    """
    from ..training.data import DatasetError
    from ..training.train import TrainConfig
    from ..training.train import train as run_training
    from ..weights import WeightsError

    ctx = Context(False, debug)
    spec = _dataset_spec(dataset, crop, downscale, data_root)
    config = TrainConfig(
        dataset=spec, out=Path(out), model=model_name, stage=stage, epochs=epochs, batch_size=batch_size, lr=lr, lr_schedule=lr_schedule,
        patience=patience, min_delta=min_delta, max_minutes=max_minutes, resume=resume, init=init_from, device=device, edge_loss=edge_loss,
        epoch_size=epoch_size, seed=seed, degradation=degradation, loss=loss,
    )
    try:
        result = run_training(config, log=stderr)
    except (DatasetError, ValueError, OSError, WeightsError) as exc:
        fatal(ctx, exc)
    except KeyboardInterrupt:
        ctx.error(f"interrupted; continue with --resume (checkpoint in {out})")
        sys.exit(130)
    stderr(f"model written to {result}")


@main.command()
@_dataset_options
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True, help="CIFAR-10 split (folders are used as given).")
@click.option("--model", "models", multiple=True, default=[DEFAULT_MODEL], show_default=True, help="A model folder or a published model name; repeatable.",
              **brief("A model folder or published name; repeatable."))
@click.option("--degradation", type=click.Choice(DEGRADATIONS), default="seed", show_default=True,
              help="seed: the study's blur + noise; real, real-noise: the realistic family, without blur for real-noise (no Wiener row).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fixed test degradation.")
@click.option("--limit", type=click.IntRange(1), help="Number of test images or crops (default: all images, 10000 crops).",
              **brief("Test images or crops [default: all, 10000 crops]."))
@click.option("--device", default="auto", show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.", **brief("JSON instead of a table."))
@click.option("--debug", is_flag=True)
def evaluate(dataset, crop, downscale, data_root, split, models, degradation, seed, limit, device, batch_size, as_json, debug):
    """Score the degraded input, Wiener deconvolution (true sigma) and models: MSE, PSNR, SSIM.

    \b
    Examples:
      edgedeblur evaluate --dataset test/ --crop 32 --downscale 2:8 --model runs/m
      edgedeblur evaluate --dataset test/ --model edgedeblur-s --model seed --json
    """
    from ..training.data import DatasetError, fixed_pairs, load_images
    from ..training.evaluate import evaluate_all, format_table
    from ..restoring.restore import RestoreOptions

    ctx = Context(False, debug)
    spec = _dataset_spec(dataset, crop, downscale, data_root)
    try:
        images = load_images(spec, split)
    except DatasetError as exc:
        fatal(ctx, exc)
    pairs = fixed_pairs(images, spec.crop, spec.downscale, limit, seed, degradation=degradation)
    loaded = []
    for name in models:
        is_dir = Path(name).is_dir()
        model = load_or_exit(ctx, name if not is_dir else DEFAULT_MODEL, name if is_dir else None, None, device)
        loaded.append((name, model))
    rows = evaluate_all(pairs, loaded, RestoreOptions(batch_size=batch_size), batch_size, progress=sys.stderr.isatty())
    if as_json:
        click.echo(json.dumps({"dataset": dataset, "crop": crop, "downscale": list(spec.downscale), "seed": seed, "rows": [r.as_dict() for r in rows]}, indent=2))
    else:
        click.echo(format_table(rows))
