"""Splitting a command's files into N deterministic shares: for job arrays and torchrun.

A file's share is a stable hash of its output's path (relative to ``-o DIR`` when there is
one), so every machine computes the same split from the same command, adding files moves no
other file, and outputs that would collide (``a.gif`` and ``a.webp`` both to ``a.png``) meet in
one share, where the clash is reported exactly as one process would report it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping


@dataclass(frozen=True)
class Shard:
    """The ``index``-th (1-based) of ``count`` shares."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise ValueError(f"{self.index}/{self.count} is not a share: K/N needs 1 <= K <= N")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"K/N"`` -> ``Shard(K, N)``; ``ValueError`` with a reason for anything else."""
    index, slash, count = text.strip().partition("/")
    if not slash or not index.strip().isdigit() or not count.strip().isdigit():
        raise ValueError(f"{text!r} is not K/N (e.g. 1/4: the first of four shares)")
    return Shard(int(index), int(count))


def shard_from_environment(environ: Mapping[str, str] = os.environ) -> Shard | None:
    """This process's share in a torchrun job (RANK of WORLD_SIZE), or None when run alone."""
    world_size = int(environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return None
    return Shard(int(environ["RANK"]) + 1, world_size)


def share_of(key: str, count: int) -> int:
    """The share (1..count) of a path key: blake2b, not Python's ``hash``, which changes per process."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return 1 + int.from_bytes(digest, "big") % count


def output_key(destination: Path | str, out_folder: str | None) -> str:
    """A main output's path as the hash sees it: relative to ``out_folder`` when inside it, POSIX style."""
    path = Path(destination)
    if out_folder is not None:
        try:
            path = path.relative_to(out_folder)
        except ValueError:
            pass
    return path.as_posix()


def in_shard(destination: Path | str, out_folder: str | None, shard: Shard) -> bool:
    return share_of(output_key(destination, out_folder), shard.count) == shard.index
