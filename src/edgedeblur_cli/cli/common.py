"""What the commands share: messages on stderr, the file and model options, running a command over files."""

from __future__ import annotations

import functools
import json
import sys
import traceback
from dataclasses import dataclass

import click

from ..names import DEFAULT_MODEL, PUBLISHED
from ..files.sharding import Shard, parse_shard, shard_from_environment
from .help import brief


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


@dataclass(frozen=True)
class FileArgs:
    """What ``file_options`` parsed: the inputs, where outputs go, how results are reported."""

    inputs: tuple[str, ...]
    output: str | None
    recursive: bool
    suffix: str
    ext: str | None
    quality: int
    overwrite: bool
    as_json: bool
    quiet: bool
    debug: bool
    shard: Shard | None
    dry_run: bool

    def context(self) -> "Context":
        return Context(self.quiet, self.debug)


def _shard_option(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_shard(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def file_options(default_suffix: str, default_ext: str | None):
    """The options every command over files shares; the command receives them as ``files: FileArgs``."""

    def decorate(func):
        @functools.wraps(func)
        def command(**kwargs):
            files = FileArgs(**{name: kwargs.pop(name) for name in FileArgs.__dataclass_fields__})
            return func(files=files, **kwargs)

        options = [
            click.argument("inputs", nargs=-1, metavar="INPUT..."),
            click.option("-o", "--output", "output", help="Output file (one input), folder (several), or - for stdout.",
                         **brief("Output file, folder, or - for stdout.")),
            click.option("-r", "--recursive", is_flag=True, help="Descend into sub-folders (mirrored under -o DIR).",
                         **brief("Descend into sub-folders.")),
            click.option("--suffix", default=default_suffix, show_default=True, help="Added to the names of outputs written beside inputs."),
            click.option("--ext", type=click.Choice(["png", "jpg", "webp", "tif", "bmp"]), default=default_ext,
                         help="Output format  [default: the input's; PNG for stdin].", **brief("Output format [default: the input's].")),
            click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True, help="JPEG/WebP quality."),
            click.option("--overwrite", is_flag=True, help="Replace existing outputs (inputs are never replaced).",
                         **brief("Replace existing outputs (never inputs).")),
            click.option("--shard", metavar="K/N", callback=_shard_option,
                         help="Do only the K-th of N shares of the files (job arrays; a stable hash of each output's path). "
                              "Under torchrun each rank takes every WORLD_SIZE-th file.",
                         **brief("Only the K-th of N shares of the files.")),
            click.option("--dry-run", is_flag=True, help="List what would be written or skipped; write nothing.",
                         **brief("List what would be done; write nothing.")),
            click.option("--json", "as_json", is_flag=True, help="Print results as JSON on stdout.", **brief("Results as JSON on stdout.")),
            click.option("-q", "--quiet", is_flag=True, help="Silence notes (errors still print).", **brief("Errors only, no notes.")),
            click.option("--debug", is_flag=True, help="Show tracebacks."),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _device_option(ctx, param, value):
    if shard_from_environment() is None:
        return value  # alone: no torch import while parsing
    from ..restoring.ranks import rank_device

    return rank_device(value)


def model_options(func):
    options = [
        click.option("--model", "model_name", default=DEFAULT_MODEL, show_default=True, help=f"Published weights: {', '.join(PUBLISHED)}.",
                     **brief(f"Published weights [default: {DEFAULT_MODEL}].")),
        click.option("--weights", type=click.Path(), help="A model folder or .safetensors file to use instead of the published weights."),
        click.option("--hub-repo", envvar="EDGEDEBLUR_HUB_REPO", help="Hugging Face repo to fetch weights from [env: EDGEDEBLUR_HUB_REPO]."),
        click.option("--device", default="auto", show_default=True, callback=_device_option,
                     help="auto, cpu, cuda, cuda:N or mps (auto under torchrun: cuda:LOCAL_RANK).", **brief("auto, cpu, cuda, cuda:N or mps.")),
        click.option("--batch-size", type=click.IntRange(1), help="At most this many images (or tiles) per forward pass  [default: small images gathered up to 64K pixels, 4 tiles]."),
        click.option("--tile", type=click.IntRange(32), help="Process larger images in tiles of at most PX pixels  [default: 512 on CPU, 2048 on CUDA]."),
        click.option("--tile-overlap", type=click.IntRange(0), help="Least overlap of neighbouring tiles, PX  [default: what the model needs, 64 for edgedeblur-s]."),
        click.option("--half", is_flag=True, help="fp16 inference on CUDA."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def run_file_command(ctx: Context, verb: str, files: FileArgs, make_process, batch_size, extras=None, report=None):
    """Plan outputs (usage errors exit 2 before any model is loaded), take this process's share,
    then build the processor and run; under torchrun, rank 0 reports the whole job.

    ``report(summary)``, if given, runs before the summary line (per-file details on stderr).
    """
    from ..files.batch import run_jobs
    from ..files.jobs import settle_outputs

    jobs, shard = plan_command(files, extras)
    if files.dry_run:
        _print_plan(settle_outputs(jobs, files.overwrite), verb, shard, files.as_json)
        sys.exit(0)
    process, device_type = make_process()
    try:
        summary = run_jobs(
            jobs,
            process,
            decode_ahead=device_type != "cpu",
            overwrite=files.overwrite,
            quality=files.quality,
            batch_size=batch_size,
            note=ctx.note,
            error=ctx.error,
            debug=ctx.debug,
            progress=sys.stderr.isatty() and len(jobs) > 1 and not ctx.quiet,
        )
    except KeyboardInterrupt:
        ctx.error("interrupted: finished outputs are complete, none is half-written; rerun to do the rest")
        sys.exit(130)
    summary, is_reporter = _whole_job(summary)
    if is_reporter:
        _report(ctx, verb, files, summary, report, many=len(jobs) > 1 or shard is not None)
    sys.exit(1 if summary.failed else 0)


def plan_command(files: FileArgs, extras=None):
    """(jobs of this process's share, its ``Shard`` or None): usage errors raise ``click.UsageError``."""
    from ..files.jobs import OutputPlan, UsageProblem, collect_inputs, plan_jobs
    from ..files.sharding import in_shard

    shard = files.shard
    ranked = shard_from_environment()
    if ranked is not None:
        if shard is not None:
            raise click.UsageError("--shard and torchrun both split the files: use one of them")
        shard = ranked
    try:
        items = collect_inputs(files.inputs, files.recursive, Context(files.quiet or ranked is not None and ranked.index > 1, False).note)
        jobs = plan_jobs(items, OutputPlan(files.output, files.suffix, files.ext, files.recursive), extras)
    except UsageProblem as exc:
        raise click.UsageError(str(exc)) from None
    if files.as_json and any(j.outputs["main"] == "-" for j in jobs):
        raise click.UsageError("--json uses stdout: write images to files with -o")
    if shard is not None:
        if any(j.source is None or j.outputs["main"] == "-" for j in jobs):
            raise click.UsageError("--shard splits files: stdin and stdout cannot be shared out")
        # Planned whole, then shared out: every share names its outputs as one process would.
        if ranked is not None:  # one job over one list: every WORLD_SIZE-th file, an even split
            jobs = jobs[ranked.index - 1 :: ranked.count]
        else:  # separate jobs, perhaps over a growing folder: a stable hash per file
            jobs = [j for j in jobs if in_shard(j.outputs["main"], files.output, shard)]
    return jobs, shard


def _print_plan(settled, verb: str, shard, as_json: bool) -> None:
    """--dry-run: each input and what would happen to it, in input order, on stdout."""
    todo, refused = settled
    rows = [
        (i, job.display, "would fail", ["no such file"]) if job.source is not None and not job.source.exists()
        else (i, job.display, "would be " + verb, [str(d) for d in job.outputs.values()])
        for i, job in todo
    ]
    rows += [(i, job.display, "skipped" if existing is not None else "would fail", [reason]) for i, job, existing, reason in refused]
    rows.sort()
    if as_json:
        click.echo(json.dumps({"shard": str(shard) if shard else None, "plan": [
            {"input": display, "action": action, "details": details} for _, display, action, details in rows]}, indent=2))
        return
    for _, display, action, details in rows:
        click.echo(f"{display}: {action}: {', '.join(details)}")
    click.echo(f"{sum(1 for r in rows if r[2].startswith('would be'))} of {len(rows)} would be {verb}" + (f" (shard {shard})" if shard else ""))


def _whole_job(summary):
    """(the summary of all ranks, whether this process reports it): under torchrun, the ranks'
    summaries are gathered (gloo) and rank 0 reports; alone, this process reports its own."""
    from ..files.batch import Summary
    from ..restoring.ranks import gather_from_ranks

    parts = gather_from_ranks(summary)
    if parts is None:
        return summary, True
    whole = Summary(sum(p.done for p in parts), sum(p.skipped for p in parts), sum(p.failed for p in parts))
    whole.results = [r for p in parts for r in p.results]
    return whole, shard_from_environment().index == 1


def _report(ctx: Context, verb: str, files: FileArgs, summary, report, many: bool) -> None:
    if report is not None:
        report(summary)
    if files.as_json:
        click.echo(json.dumps({"summary": {"done": summary.done, "skipped": summary.skipped, "failed": summary.failed}, "results": summary.results}, indent=2))
    if many or summary.failed or summary.skipped:
        if not ctx.quiet or summary.failed:
            stderr(summary.line(verb))


def restore_options(tile: int, tile_overlap: int | None, batch_size: int, half: bool, strength: float = 1.0):
    from ..restoring.restore import RestoreOptions

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
    from ..restoring.restore import load_model
    from ..weights import WeightsError

    try:
        return load_model(model_name, weights, device, hub_repo, ctx.note)
    except (WeightsError, ValueError, RuntimeError) as exc:
        fatal(ctx, exc)
