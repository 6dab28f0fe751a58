"""The C allocator of a service process: glibc's malloc with at most two arenas.

glibc gives a thread that allocates while the others hold their arenas an arena of its own, up to eight per
core, and each arena keeps what its threads freed for them to reuse. A service has many threads: aiosqlite
runs each SQLite connection in a thread of its own (a pool of 8, and up to 8 more under load, closed again
when returned), besides the event loop's. The 30-minute soak (bench/soak.py) measured routing and notify
growing 12 and 22 MB an hour over the second half; sampled from inside (mallinfo2, Python's allocated
blocks, SQLite's own memory counter, gc counts, tracemalloc), the memory in use stayed flat and the growth
was free memory held in 16 arenas (glibc's limit on a 2-core machine): 1.4 → 20 MB of it in routing after
8 minutes, 3.6 → 15 MB in notify.
With two arenas the freed memory is reused across threads instead of each thread's arena growing its own
reserve. The cost is some contention between threads on an arena's lock, which these processes (one event
loop and connection threads mostly waiting on SQLite) do not notice.

An operator's MALLOC_ARENA_MAX wins: glibc has read it at start, and it is left alone.
"""

from __future__ import annotations

import ctypes
import os

ARENAS = 2
M_ARENA_MAX = -8  # glibc's malloc.h


def limit_arenas(count: int = ARENAS) -> bool:
    """Limit glibc's malloc to ``count`` arenas from now on; call it before the process starts threads.
    False, and nothing done, on another C library or when MALLOC_ARENA_MAX is set in the environment."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: musl's mallopt does nothing, macOS has none
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, count))
