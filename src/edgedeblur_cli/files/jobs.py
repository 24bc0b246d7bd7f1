"""Which files a command reads and where each output goes, decided before anything is decoded.

Collects inputs (files, folders, stdin), names outputs (-o, --suffix, --ext), and settles
what must not run: outputs that clash, that would overwrite an input, or that exist already.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .io import EXTENSIONS, WRITABLE_EXTENSIONS, is_supported

STDIO = "-"


@dataclass(frozen=True)
class Job:
    """One input and where each of its outputs goes (``"-"`` is stdout)."""

    source: Path | None  # None reads stdin
    display: str
    outputs: dict[str, Path | str]  # kind ("main", "edges", "compare") -> destination
    ext: str


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
