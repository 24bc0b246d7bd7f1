"""What the commands share: messages on stderr, the file and model options, running a command over files."""

from __future__ import annotations

import json
import sys
import traceback

import click

from ..names import DEFAULT_MODEL, PUBLISHED


def stderr(message: str) -> None:
    click.echo(message, err=True)


class Context:
    def __init__(self, quiet: bool, debug: bool) -> None:
        self.quiet = quiet
        self.debug = debug

    def note(self, message: str) -> None:
        if not self.quiet:
            stderr(f"note: {message}")

    def error(self, message: str) -> None:
        stderr(f"error: {message}")


def fatal(ctx: Context, exc: BaseException, code: int = 1) -> None:
    if ctx.debug:
        traceback.print_exc()
    ctx.error(str(exc))
    sys.exit(code)


def file_options(default_suffix: str, default_ext: str | None):
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


def model_options(func):
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


def run_file_command(ctx: Context, verb: str, inputs, output, recursive, suffix, ext, quality, overwrite, as_json, make_process, batch_size, extras=None, report=None):
    """Plan outputs (usage errors exit 2 before any model is loaded), then build the processor and run.

    ``report(summary)``, if given, runs before the summary line (per-file details on stderr).
    """
    from ..batch import OutputPlan, UsageProblem, collect_inputs, plan_jobs, run_jobs

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
    if report is not None:
        report(summary)
    if as_json:
        click.echo(json.dumps({"summary": {"done": summary.done, "skipped": summary.skipped, "failed": summary.failed}, "results": summary.results}, indent=2))
    if len(jobs) > 1 or summary.failed or summary.skipped:
        if not ctx.quiet or summary.failed:
            stderr(summary.line(verb))
    sys.exit(1 if summary.failed else 0)


def restore_options(tile: int, tile_overlap: int | None, batch_size: int, half: bool, strength: float = 1.0):
    from ..restore import RestoreOptions

    try:
        return RestoreOptions(
            tile=tile, tile_overlap=tile_overlap, batch_size=batch_size or RestoreOptions.batch_size, half=half, strength=strength
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def device_type(model) -> str:
    """"cpu", "cuda", "mps": where the model runs (on the CPU, files are decoded between its calls)."""
    return next(model.parameters()).device.type


def load_or_exit(ctx: Context, model_name, weights, hub_repo, device):
    from ..restore import load_model
    from ..weights import WeightsError

    try:
        return load_model(model_name, weights, device, hub_repo, ctx.note)
    except (WeightsError, ValueError, RuntimeError) as exc:
        fatal(ctx, exc)
