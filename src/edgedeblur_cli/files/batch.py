"""Running an image-to-image command over planned jobs (``jobs.py``), the way scripts need it.

Decodes (ahead, in threads, when a GPU runs the network), batches same-size images, writes
atomically, keeps going past failures and counts them for the exit status; memory stays
bounded by how many images may wait on each side of the network.
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
from .io import ImageData, ImageReadError, encode_image, read_image
from .jobs import STDIO, Job, settle_outputs


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    results: list[dict] = field(default_factory=list)

    def line(self, verb: str) -> str:
        return f"{self.done} {verb}, {self.skipped} skipped, {self.failed} failed"


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
    decoded ahead and results waiting to be written are bounded by ``_Pace.room``, which
    bounds memory. ``io_threads=0`` does everything in the calling thread. Results and
    messages keep the order of ``jobs``.
    """
    ledger = _Ledger(len(jobs), progress, note, error)
    todo, refused = settle_outputs(jobs, overwrite)
    for index, job, existing, reason in refused:
        ledger.refuse(index, job, existing, reason)
    # One folder listing for all outputs, not one per file (which made writing a folder quadratic).
    remove_stale_parts([Path(d) for _, job in todo for d in job.outputs.values() if d != STDIO])
    pace = _Pace(io_threads, batch_size)
    readers = ThreadPoolExecutor(io_threads, thread_name_prefix="edgedeblur-read") if io_threads and decode_ahead else None
    writer = _Writer(ledger, pace, quality, stdout, io_threads, decode_ahead, debug)
    batches = _Batches(process, writer, ledger, pace, batch_size, debug)
    try:
        for index, job, image in _decoded(todo, readers, pace.room):
            if isinstance(image, ImageReadError):
                if debug:
                    traceback.print_exception(type(image), image, image.__traceback__)
                ledger.fail(index, job, str(image))
                continue
            batches.add(index, job, image)
        batches.flush()
        writer.drain()
    finally:
        # Ctrl-C: reads not started are dropped; writes under way finish (atomically).
        if readers is not None:
            readers.shutdown(wait=True, cancel_futures=True)
        writer.shutdown()
        ledger.close()
    return ledger.summary()


class _Ledger:
    """Counts and per-input results (kept in input order), messages, and the progress bar."""

    def __init__(self, total: int, progress: bool, note: Callable[[str], None], error: Callable[[str], None]) -> None:
        self.counts = Summary()
        self.results: dict[int, dict] = {}
        self.note, self.error = note, error
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="img", file=sys.stderr, dynamic_ncols=True)

    def _finish(self, index: int, result: dict) -> None:
        self.results[index] = result
        if self.bar:
            self.bar.update(1)

    def done(self, index: int, job: Job, written: list[str], details: dict) -> None:
        self.counts.done += 1
        self._finish(index, {"input": job.display, "status": "done", "outputs": written, **details})

    def fail(self, index: int, job: Job, reason: str) -> None:
        self.counts.failed += 1
        self.error(f"{job.display}: {reason}")
        self._finish(index, {"input": job.display, "status": "failed", "reason": reason})

    def refuse(self, index: int, job: Job, existing: Path | None, reason: str) -> None:
        """A job settled before decoding: an existing output (skipped), or a clash (failed)."""
        if existing is None:
            self.fail(index, job, reason)
            return
        self.counts.skipped += 1
        self.note(f"{job.display}: {reason}")
        self._finish(index, {"input": job.display, "status": "skipped", "output": str(existing)})

    def close(self) -> None:
        if self.bar:
            self.bar.close()

    def summary(self) -> Summary:
        self.counts.results = [self.results[i] for i in sorted(self.results)]
        return self.counts


class _Pace:
    """How many images may wait on each side of the network, from the size of the last one."""

    def __init__(self, io_threads: int, batch_size: int | None) -> None:
        self.io_threads, self.batch_size = io_threads, batch_size
        self.last_pixels = 0

    @property
    def big(self) -> bool:
        return self.last_pixels >= MAX_PENDING_PIXELS

    def room(self) -> int:
        """~4 MP of images, at least one, and at least ``io_threads`` below that; a whole next
        batch of thumbnails is decoded (and the last one encoded) while the network runs."""
        if self.big:
            return 1
        if self.batch_size:  # batches the user sized: a few images on each side, as before
            return self.io_threads
        return max(self.io_threads, min(MAX_PENDING_IMAGES, MAX_PENDING_PIXELS // max(self.last_pixels, 1)))


class _Writer:
    """Encodes and writes each job's outputs (in threads when there are any), in order, a bounded number waiting."""

    def __init__(self, ledger: _Ledger, pace: _Pace, quality: int, stdout, io_threads: int, decode_ahead: bool, debug: bool) -> None:
        self.ledger, self.pace, self.quality, self.stdout = ledger, pace, quality, stdout
        self.encode_in_threads, self.debug = decode_ahead, debug
        self.pool = ThreadPoolExecutor(io_threads, thread_name_prefix="edgedeblur-write") if io_threads else None
        self.waiting: deque[tuple[int, Job, Future | list[str] | Exception]] = deque()
        self.details: dict[int, dict] = {}  # what a process reports beside its images (e.g. the kernel it used)

    def write(self, index: int, job: Job, outputs: dict[str, ImageData]) -> None:
        outputs = dict(outputs)
        self.details[index] = outputs.pop("details", {})
        if self.pool is None:
            self._settle(index, job, _write_outputs(job, outputs, self.quality, self.stdout))
            return
        if self.encode_in_threads:
            task: Future | list[str] | Exception = self.pool.submit(_write_outputs, job, outputs, self.quality, self.stdout)
        else:
            encoded = _encode_outputs(job, outputs, self.quality)
            task = encoded if isinstance(encoded, Exception) else self.pool.submit(_store_outputs, encoded, self.stdout)
        self.waiting.append((index, job, task))
        while len(self.waiting) > self.pace.room():  # bounded: each waiting result holds a whole image (or its file's bytes)
            self._settle(*self.waiting.popleft())

    def drain(self) -> None:
        while self.waiting:
            self._settle(*self.waiting.popleft())

    def shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _settle(self, index: int, job: Job, outcome: Future | list[str] | Exception) -> None:
        if isinstance(outcome, Future):
            outcome = outcome.result()
        if isinstance(outcome, Exception):
            if self.debug:
                traceback.print_exception(type(outcome), outcome, outcome.__traceback__)
            self.ledger.fail(index, job, f"cannot write output ({outcome})")
            return
        self.ledger.done(index, job, outcome, self.details.pop(index, {}))


class _Batches:
    """Gathers decoded images into same-size batches for ``process`` and hands its results to the writer."""

    def __init__(self, process, writer: _Writer, ledger: _Ledger, pace: _Pace, batch_size: int | None, debug: bool) -> None:
        self.process, self.writer, self.ledger, self.pace = process, writer, ledger, pace
        self.batch_size, self.debug = batch_size, debug
        self.pending: list[tuple[int, Job, ImageData]] = []
        self.pending_pixels = 0
        self.pixel_cap = MAX_PENDING_PIXELS if batch_size else BATCH_PIXELS

    def add(self, index: int, job: Job, image: ImageData) -> None:
        self.pending.append((index, job, image))
        self.pace.last_pixels = image.size[0] * image.size[1]
        self.pending_pixels += self.pace.last_pixels
        # Big photos are tiled anyway: batching them only multiplies memory.
        if (self.batch_size and len(self.pending) >= self.batch_size) or self.pending_pixels >= self.pixel_cap:
            self.flush()

    def flush(self) -> None:
        groups: dict[tuple[int, int], list[tuple[int, Job, ImageData]]] = {}
        for item in self.pending:
            groups.setdefault(item[2].size, []).append(item)
        self.pending.clear()
        self.pending_pixels = 0
        for group in groups.values():
            try:
                produced = self.process([image for _, _, image in group])
            except Exception as exc:  # a model failure on one batch must not stop the others
                if self.debug:
                    traceback.print_exc()
                for index, job, _ in group:
                    self.ledger.fail(index, job, f"processing failed ({type(exc).__name__}: {exc})")
                continue
            for (index, job, _), outputs in zip(group, produced):
                self.writer.write(index, job, outputs)
            if self.pace.big:
                release_free_memory()  # between big photos: see allocator.py


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
