"""Keep freed memory in the process, so big feature maps are not page-faulted in on every call.

glibc's malloc hands large freed blocks back to the kernel (by ``munmap``, or by trimming the
top of the heap), and each network call then faults its feature maps back in page by page and
zeroes them. On the 2-core CPU here that cost a third of the restore time: a 2000x1500 photo
ran at 0.39-0.42 MP/s with glibc's defaults and 0.73 MP/s with both thresholds pinned high
(768-pixel tiles), for 8% more peak memory. Both must be pinned: setting either turns off
glibc's adaptation of the other, which then stays at its default. The trim threshold alone
ran at 0.22 MP/s (every block over 128 KiB mmapped); the mmap threshold alone gained nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

# glibc's mallopt parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

# Anything below this is served from the heap, and the heap keeps this much free before
# trimming: far more than one call's largest feature map (96 x 256 x 256 float32, 24 MiB, for
# a 512-pixel CPU tile), so none of them goes back to the kernel between calls.
_THRESHOLD = 1 << 30
# Newer glibc caps the mmap threshold at 32 MiB on 64-bit; mallopt refuses higher values.
_GLIBC_MMAP_THRESHOLD_MAX = 32 << 20

# Environment variables by which a user tunes glibc's malloc: any of them set, theirs win.
MALLOC_ENV_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    """The C library, loaded once (``find_library`` runs ``ldconfig``); None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def keep_freed_memory() -> bool:
    """Pin glibc's mmap and trim thresholds high for this process; True if they were set.

    Does nothing off Linux/glibc, or when the user already tunes malloc through its
    environment variables (theirs win). Safe to call more than once.
    """
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)  # musl and others have no mallopt
    if mallopt is None or any(name in os.environ for name in MALLOC_ENV_SETTINGS):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if not mallopt(_M_MMAP_THRESHOLD, _THRESHOLD) and not mallopt(_M_MMAP_THRESHOLD, _GLIBC_MMAP_THRESHOLD_MAX):
        return False
    return bool(mallopt(_M_TRIM_THRESHOLD, _THRESHOLD))


def release_free_memory() -> None:
    """Hand the heap's free pages back to the kernel (glibc ``malloc_trim``); no-op elsewhere.

    With the thresholds pinned, memory freed after one photo stays in the process; trimming
    between photos keeps a batch's peak near one photo's instead of letting it creep up.
    """
    malloc_trim = getattr(_libc(), "malloc_trim", None)
    if malloc_trim is not None:
        malloc_trim(0)
