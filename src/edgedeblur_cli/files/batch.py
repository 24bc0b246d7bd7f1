"""Running an image-to-image command over files, folders and stdin, the way scripts need it.

Collects inputs, names outputs, skips existing outputs unless asked, never writes over an
input, writes atomically, batches same-size images, keeps going past failures and counts
them for the exit status.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..restoring.allocator import release_free_memory
from .atomic import WriteError, remove_stale_parts, write_atomic
from .io import EXTENSIONS, WRITABLE_EXTENSIONS, ImageData, ImageReadError, encode_image, is_supported, read_image

STDIO = "-"


@dataclass(frozen=True)
class Job:
    """One input and where each of its outputs goes (``"-"`` is stdout)."""

    source: Path | None  # None reads stdin
    display: str
    outputs: dict[str, Path | str]  # kind ("main", "edges", "compare") -> destination
    ext: str


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    results: list[dict] = field(default_factory=list)

    def line(self, verb: str) -> str:
        return f"{self.done} {verb}, {self.skipped} skipped, {self.failed} failed"


@dataclass(frozen=True)
class OutputPlan:
    """What the user asked for with -o, --suffix, --ext."""

    out: str | None
    suffix: str
    ext: str | None
    recursive: bool
    default_stdin_ext: str = "png"


class UsageProblem(Exception):
    """Bad command-line use (exit status 2)."""


def real_paths(paths: list[str | os.PathLike]) -> list[str]:
    """``os.path.realpath`` of each path, resolving each folder once (a folder of 1,000 files: one
    folder resolution and 1,000 ``lstat``s instead of 1,000 walks up the tree); same results."""
    folders: dict[str, str] = {}
    keys = []
    for path in paths:
        path = os.path.abspath(path)
        if os.path.islink(path):
            keys.append(os.path.realpath(path))
            continue
        head, tail = os.path.split(path)
        if head not in folders:
            folders[head] = os.path.realpath(head)
        keys.append(os.path.join(folders[head], tail))
    return keys


def collect_inputs(inputs: tuple[str, ...], recursive: bool, note: Callable[[str], None]) -> list[tuple[Path | None, Path | None]]:
    """Expand INPUT... into (file, folder it came from) pairs; ``(None, None)`` is stdin.

    Folders contribute their supported images (descending with ``recursive``), others are
    noted and skipped; a path that does not exist is kept so it fails with its own line.
    """
    items: list[tuple[Path | None, Path | None]] = []
    seen: set[str] = set()
    for raw in inputs:
        if raw == STDIO:
            if any(p is None for p, _ in items):
                raise UsageProblem("stdin ('-') can be given only once")
            items.append((None, None))
            continue
        path = Path(raw)
        if path.is_dir():
            files = _walk(path, recursive, note)
            for file, key in zip(files, real_paths(files)):
                if key not in seen:
                    seen.add(key)
                    items.append((file, path))
            continue
        key = os.path.realpath(path)
        if key in seen:
            note(f"{raw}: given more than once, processed once")
            continue
        seen.add(key)
        items.append((path, None))
    return items


def _walk(folder: Path, recursive: bool, note: Callable[[str], None]) -> list[Path]:
    found: list[Path] = []
    visited: set[str] = set()

    def visit(current: Path) -> None:
        real = os.path.realpath(current)
        if real in visited:
            note(f"{current}: folder already visited (symlink loop?), skipped")
            return
        visited.add(real)
        try:
            entries = sorted(current.iterdir(), key=lambda p: p.name)
        except OSError as exc:
            note(f"{current}: cannot list folder ({exc.strerror or exc}), skipped")
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                if recursive:
                    visit(entry)
            elif is_supported(entry):
                found.append(entry)
            else:
                note(f"{entry}: not a supported image type, skipped")

    visit(folder)
    return found


def plan_jobs(
    items: list[tuple[Path | None, Path | None]], plan: OutputPlan, extras: dict[str, tuple[str | None, str]] | None = None
) -> list[Job]:
    """Decide every output path. ``extras`` maps an extra output kind to (folder or None for beside the main output, suffix)."""
    if not items:
        raise UsageProblem("no input images")
    out = plan.out
    single = len(items) == 1
    to_stdout = out == STDIO or (out is None and single and items[0][0] is None)
    if to_stdout and not single:
        raise UsageProblem("-o - writes one image to stdout: give exactly one input")
    if out is None and not single and any(src is None for src, _ in items):
        raise UsageProblem("reading stdin together with files needs -o DIR")
    out_is_dir = (
        out not in (None, STDIO) and (Path(out).is_dir() or not single or Path(out).suffix.lower() not in EXTENSIONS)
    )
    jobs = []
    for index, (source, base) in enumerate(items):
        ext = (plan.ext or (source.suffix.lstrip(".") if source is not None else plan.default_stdin_ext)).lower()
        if ext not in WRITABLE_EXTENSIONS:
            ext = "png"  # e.g. a GIF input: its restored first frame is written as PNG
        stem = source.stem if source is not None else "stdin"
        if to_stdout:
            main: Path | str = STDIO
        elif out is None:
            main = source.with_name(f"{stem}{plan.suffix}.{ext}")
        elif out_is_dir:
            sub = source.parent.relative_to(base) if (plan.recursive and base is not None and source is not None) else Path()
            main = Path(out) / sub / f"{stem}{'' if source is not None else f'-{index}'}.{ext}"
        else:
            main = Path(out)
            ext = plan.ext or main.suffix.lstrip(".").lower()
        outputs: dict[str, Path | str] = {"main": main}
        for kind, (folder, suffix) in (extras or {}).items():
            if folder is not None:
                outputs[kind] = Path(folder) / f"{stem}{suffix}.png"
            elif main == STDIO:
                outputs[kind] = Path(f"{stem}{suffix}.png")
            else:
                outputs[kind] = Path(main).with_name(f"{Path(main).stem}{suffix}.png")
        jobs.append(Job(source, str(source) if source is not None else "<stdin>", outputs, ext))
    return jobs


def settle_outputs(jobs: list[Job], overwrite: bool) -> tuple[list[tuple[int, Job]], list[tuple[int, Job, Path | None, str]]]:
    """The jobs to run, as (index, job), and those settled before anything is decoded, as
    (index, job, existing output or None, reason): an output claimed by an earlier input (say
    a.gif and a.webp with --ext png) or that would overwrite an input fails (None); one that
    exists without ``overwrite`` is skipped (its path). Both lists keep the order of ``jobs``."""
    input_keys = set(real_paths([j.source for j in jobs if j.source is not None]))
    destinations = [d for j in jobs for d in j.outputs.values() if d != STDIO]
    output_key = dict(zip(destinations, real_paths(destinations)))
    todo: list[tuple[int, Job]] = []
    refused: list[tuple[int, Job, Path | None, str]] = []
    claimed: dict[str, str] = {}
    for index, job in enumerate(jobs):
        files = [output_key[d] for d in job.outputs.values() if d != STDIO]
        clash = next((f for f in files if f in claimed), None)
        if clash is not None:
            refused.append((index, job, None, f"output {clash} is also the output of {claimed[clash]}; rename one of them or use --suffix/--ext"))
            continue
        claimed.update((f, job.display) for f in files)
        main = job.outputs["main"]
        if main != STDIO:
            main_path = Path(main)
            if output_key[main] in input_keys:
                refused.append((index, job, None, f"output {main_path} would overwrite an input; choose another -o or --suffix"))
                continue
            if main_path.exists() and not overwrite:
                refused.append((index, job, main_path, f"{main_path} exists, skipped (use --overwrite)"))
                continue
        todo.append((index, job))
    return todo, refused


MAX_PENDING_PIXELS = 1 << 22  # images read ahead or waiting to be written hold at most ~4 MP
MAX_PENDING_IMAGES = 256  # ... and number at most this many on each side
# Small images are gathered into batches of this many pixels (64 images of 32x32): the CPU ran a
# folder of 1,000 thumbnails 1.7x faster in batches of 64 than of 4 (see benchmarks/speed.py).
BATCH_PIXELS = 64 * 32 * 32
IO_THREADS = min(4, os.cpu_count() or 1)  # decoders and encoders: Pillow and OpenCV release the GIL


def run_jobs(
    jobs: list[Job],
    process: Callable[[list[ImageData]], list[dict[str, ImageData]]],
    *,
    overwrite: bool,
    quality: int,
    batch_size: int | None,
    note: Callable[[str], None],
    error: Callable[[str], None],
    debug: bool = False,
    progress: bool = False,
    stdout=None,
    io_threads: int = IO_THREADS,
    decode_ahead: bool = True,
) -> Summary:
    """Read, process (same-size images batched) and write every job; returns the counts.

    Images are gathered until they hold ``BATCH_PIXELS`` pixels, so a folder of thumbnails
    goes through the network in large batches; a ``batch_size`` caps them at that many
    images instead (and ~4 MP).

    With ``decode_ahead``, decoding and encoding run in ``io_threads`` threads each, overlapped
    with ``process``: the next images are decoded and the last results encoded while the
    network runs, so a GPU does not wait for files. Without it (a network on the CPU, whose
    threads the decoders would slow down) they run in the calling thread between calls, and
    only the writes, which mostly wait on the disk, go to the ``io_threads`` threads. Images
    decoded ahead and results waiting to be written are bounded by ``room()`` below, which
    bounds memory. ``io_threads=0`` does everything in the calling thread. Results and
    messages keep the order of ``jobs``.
    """
    summary = Summary()
    results: dict[int, dict] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="img", file=sys.stderr, dynamic_ncols=True)

    def finish(index: int, result: dict) -> None:
        results[index] = result
        if bar:
            bar.update(1)

    def fail(index: int, job: Job, reason: str) -> None:
        summary.failed += 1
        error(f"{job.display}: {reason}")
        finish(index, {"input": job.display, "status": "failed", "reason": reason})

    todo, refused = settle_outputs(jobs, overwrite)
    for index, job, existing, reason in refused:
        if existing is None:
            fail(index, job, reason)
            continue
        summary.skipped += 1
        note(f"{job.display}: {reason}")
        finish(index, {"input": job.display, "status": "skipped", "output": str(existing)})

    # One folder listing for all outputs, not one per file (which made writing a folder quadratic).
    remove_stale_parts([Path(d) for _, job in todo for d in job.outputs.values() if d != STDIO])
    last_pixels = 0

    def room() -> int:
        """How many images may wait on each side of the network: ~4 MP of them, at least
        one, and at least ``io_threads`` below that; a whole next batch of thumbnails is
        decoded (and the last one encoded) while the network runs."""
        if last_pixels >= MAX_PENDING_PIXELS:
            return 1
        if batch_size:  # batches the user sized: a few images on each side, as before
            return io_threads
        return max(io_threads, min(MAX_PENDING_IMAGES, MAX_PENDING_PIXELS // max(last_pixels, 1)))

    readers = ThreadPoolExecutor(io_threads, thread_name_prefix="edgedeblur-read") if io_threads and decode_ahead else None
    writers = ThreadPoolExecutor(io_threads, thread_name_prefix="edgedeblur-write") if io_threads else None
    writing: deque[tuple[int, Job, Future | list[str] | Exception]] = deque()

    details: dict[int, dict] = {}  # what a process reports beside its images (e.g. the kernel it used)

    def settle_write(index: int, job: Job, outcome: Future | list[str] | Exception) -> None:
        if isinstance(outcome, Future):
            outcome = outcome.result()
        if isinstance(outcome, Exception):
            if debug:
                traceback.print_exception(type(outcome), outcome, outcome.__traceback__)
            fail(index, job, f"cannot write output ({outcome})")
            return
        summary.done += 1
        finish(index, {"input": job.display, "status": "done", "outputs": outcome, **details.pop(index, {})})

    def write(index: int, job: Job, outputs: dict[str, ImageData]) -> None:
        outputs = dict(outputs)
        details[index] = outputs.pop("details", {})
        if writers is None:
            settle_write(index, job, _write_outputs(job, outputs, quality, stdout))
            return
        if decode_ahead:
            task: Future | list[str] | Exception = writers.submit(_write_outputs, job, outputs, quality, stdout)
        else:
            encoded = _encode_outputs(job, outputs, quality)
            task = encoded if isinstance(encoded, Exception) else writers.submit(_store_outputs, encoded, stdout)
        writing.append((index, job, task))
        while len(writing) > room():  # bounded: each waiting result holds a whole image (or its file's bytes)
            settle_write(*writing.popleft())

    pending: list[tuple[int, Job, ImageData]] = []
    pixel_cap = MAX_PENDING_PIXELS if batch_size else BATCH_PIXELS

    def flush() -> None:
        groups: dict[tuple[int, int], list[tuple[int, Job, ImageData]]] = {}
        for item in pending:
            groups.setdefault(item[2].size, []).append(item)
        pending.clear()
        for group in groups.values():
            try:
                produced = process([image for _, _, image in group])
            except Exception as exc:  # a model failure on one batch must not stop the others
                if debug:
                    traceback.print_exc()
                for index, job, _ in group:
                    fail(index, job, f"processing failed ({type(exc).__name__}: {exc})")
                continue
            for (index, job, _), outputs in zip(group, produced):
                write(index, job, outputs)
            if last_pixels >= MAX_PENDING_PIXELS:
                release_free_memory()  # between big photos: see allocator.py

    pending_pixels = 0
    try:
        for index, job, image in _decoded(todo, readers, room):
            if isinstance(image, ImageReadError):
                if debug:
                    traceback.print_exception(type(image), image, image.__traceback__)
                fail(index, job, str(image))
                continue
            pending.append((index, job, image))
            last_pixels = image.size[0] * image.size[1]
            pending_pixels += last_pixels
            # Big photos are tiled anyway: batching them only multiplies memory.
            if (batch_size and len(pending) >= batch_size) or pending_pixels >= pixel_cap:
                flush()
                pending_pixels = 0
        flush()
        while writing:
            settle_write(*writing.popleft())
    finally:
        for pool in (readers, writers):
            if pool is not None:
                # Ctrl-C: reads not started are dropped; writes under way finish (atomically).
                pool.shutdown(wait=True, cancel_futures=True)
        if bar:
            bar.close()
    summary.results = [results[i] for i in sorted(results)]
    return summary


def _read(job: Job) -> ImageData | ImageReadError:
    try:
        return read_image(sys.stdin.buffer.read() if job.source is None else job.source)
    except ImageReadError as exc:
        return exc


def _decoded(todo: list[tuple[int, Job]], readers: ThreadPoolExecutor | None, ahead: Callable[[], int]):
    """Yield (index, job, ImageData or ImageReadError) in order, decoding up to ``ahead()`` images in advance."""
    if readers is None:
        for index, job in todo:
            yield index, job, _read(job)
        return
    queue: deque[tuple[int, Job, Future]] = deque()
    upcoming = iter(todo)
    while True:
        while len(queue) < ahead():
            following = next(upcoming, None)
            if following is None:
                break
            queue.append((*following, readers.submit(_read, following[1])))
        if not queue:
            return
        index, job, future = queue.popleft()
        yield index, job, future.result()


def _write_outputs(job: Job, outputs: dict[str, ImageData], quality: int, stdout=None) -> list[str] | WriteError | OSError:
    """Encode and atomically write each output of a job; returns where they went, or why not."""
    return _store_outputs(_encode_outputs(job, outputs, quality), stdout)


def _encode_outputs(job: Job, outputs: dict[str, ImageData], quality: int) -> list[tuple[Path | str, bytes]] | WriteError:
    """Each output of a job that was produced, encoded: (destination, file bytes) pairs, or why one could not be."""
    encoded = []
    try:
        for kind, destination in job.outputs.items():
            if kind in outputs:
                encoded.append((destination, encode_image(outputs[kind], job.ext if kind == "main" else "png", quality)))
    except WriteError as exc:
        return exc
    return encoded


def _store_outputs(encoded: list[tuple[Path | str, bytes]] | WriteError, stdout=None) -> list[str] | WriteError | OSError:
    """Write encoded outputs, atomically (files) or flushed (stdout); returns where they went, or why not."""
    if isinstance(encoded, Exception):
        return encoded
    written = []
    try:
        for destination, data in encoded:
            if destination == STDIO:
                (stdout or sys.stdout.buffer).write(data)
                (stdout or sys.stdout.buffer).flush()
            else:
                destination = Path(destination)
                destination.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(destination, data, remove_stale=False)
            written.append(str(destination))
    except (WriteError, OSError) as exc:
        return exc
    return written
