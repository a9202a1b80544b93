"""Let a big refresh reuse the memory it frees instead of asking the system for fresh pages.

A 1,000,000-order refresh makes and drops hundreds of million-element arrays. By default
glibc hands every block over 128 KB to the system when it is freed (mmap/munmap), and
pyarrow's jemalloc gives pages back within a second, so each new array starts on pages the
kernel must fault in and zero: the same normalization then costs 1.5-2x what it does in a
process that has run it before. Keeping freed memory in the process, and letting Arrow
allocate from the same glibc heap as numpy and calamine, removes most of that
(docs/performance.md has the figures). The price is that the process keeps its peak
resident memory until it exits, which a command-line refresh does right after.

Only glibc (Linux) is tuned; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt() parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
# The main thread's heap and one more for the threads that load sheet parts: memory those
# free is found again by the next part, and fewer heaps hold less memory idle (measured: a
# 1,000,000-order refresh peaks at 0.9 GB instead of 1.1 GB and builds its lists faster).
_ARENAS = 2
# Blocks below this come from the heap and are reused; a million float64 values are 8 MB,
# a million-row Arrow string column a few tens of MB.
_KEEP_BLOCKS_BELOW = 1024**3

_tuned = False


def reuse_freed_memory() -> bool:
    """Tune this process's allocators for big tables, once. True when anything was changed."""
    global _tuned
    if _tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    if not (
        mallopt(_M_MMAP_THRESHOLD, _KEEP_BLOCKS_BELOW)
        and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
        and mallopt(_M_ARENA_MAX, _ARENAS)
    ):
        return False
    import pyarrow

    pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    _tuned = True
    return True


__all__ = ["reuse_freed_memory"]
