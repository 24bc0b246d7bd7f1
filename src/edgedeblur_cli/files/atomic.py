"""Files complete or absent: every output, weight file, checkpoint and log is written to a
temporary file beside it, synced, then renamed over the destination.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class WriteError(Exception):
    """A file could not be written (or encoded for writing); nothing partial was left behind."""


def write_atomic(path: str | os.PathLike, data: bytes, remove_stale: bool = True) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    A crash or a full disk leaves either the old file (or none) or the complete new one,
    never a partial file; the temporary file is removed on any failure. ``remove_stale``
    first deletes temporary files a killed earlier write of ``path`` left (a listing of the
    folder: a caller writing many files does it once for all with ``remove_stale_parts``).
    """
    path = Path(path)
    folder = path.parent
    if remove_stale:
        remove_stale_parts([path])
    try:
        fd, tmp_name = _create_part_file(path)
    except OSError as exc:
        raise WriteError(f"cannot write in {folder} ({exc.strerror or exc})") from exc
    try:
        replaced_mode = _existing_mode(path)
        if replaced_mode is not None:
            os.fchmod(fd, replaced_mode)  # a replaced output keeps its mode
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise WriteError(f"cannot write {path} ({exc.strerror or exc})") from exc
        raise


def remove_stale_parts(paths: list[Path]) -> None:
    """Delete temporary files killed earlier writes of ``paths`` left (ours by name), one listing per folder."""
    by_folder: dict[Path, set[str]] = {}
    for path in paths:
        by_folder.setdefault(Path(path).parent, set()).add(Path(path).name)
    for folder, names in by_folder.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue  # no folder yet: nothing stale in it
        for entry in entries:
            # ours are named ".NAME.RANDOM.part" (_create_part_file): strip the random part to find NAME.
            if entry.name.startswith(".") and entry.name.endswith(".part") and entry.name[1:-5].rpartition(".")[0] in names:
                try:
                    os.unlink(entry.path)
                except OSError:
                    pass


def _create_part_file(path: Path) -> tuple[int, str]:
    """Create ``.NAME.RANDOM.part`` beside ``path``, exclusively, for writing: (fd, its path).

    Created with mode 0666 less the umask, as a plain ``open()`` would create the output, the
    kernel applying the umask: reading the umask in Python means setting it, for an instant in
    which a folder another writer thread makes would get 0777.
    """
    for _ in range(100):
        name = os.path.join(path.parent, f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def _existing_mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return None
