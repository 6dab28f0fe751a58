"""shared/allocator.py: a service's threads share two malloc arenas instead of taking one each.

Each case runs in a fresh interpreter (the limit only binds arenas not yet made): eight threads allocate
with the C library's malloc and hold the memory while the process's arenas are counted with glibc's
malloc_info (one ``<heap nr=…>`` an arena).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent(
    """
    import ctypes, re, sys, threading

    from shared.allocator import limit_arenas

    limited = limit_arenas() if sys.argv[1] == "limit" else False
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.open_memstream.restype = ctypes.c_void_p
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    THREADS = 8
    together, counted = threading.Barrier(THREADS + 1), threading.Event()

    def work():
        blocks = [libc.malloc(4096) for _ in range(16)]
        together.wait()
        counted.wait()
        for block in blocks:
            libc.free(block)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    together.wait()
    text, size = ctypes.c_char_p(), ctypes.c_size_t()
    stream = libc.open_memstream(ctypes.byref(text), ctypes.byref(size))
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    counted.set()
    for t in threads:
        t.join()
    print(limited, len(re.findall(r"<heap nr=", text.value.decode())))
    """
)


def glibc() -> bool:
    try:
        ctypes.CDLL(None).gnu_get_libc_version  # noqa: B018
    except (OSError, AttributeError):
        return False
    return True


pytestmark = pytest.mark.skipif(not glibc(), reason="the arena limit is glibc's")


def arenas(mode: str, **env: str) -> tuple[bool, int]:
    """Whether the limit was set, and the arenas of a process whose eight threads hold memory at once."""
    base = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    return out[0] == "True", int(out[1])


def test_without_the_limit_each_thread_takes_an_arena_of_its_own() -> None:
    # What a service had: a thread per SQLite connection, an arena (and its reserve of freed memory) each.
    limited, count = arenas("none")
    assert not limited
    assert count > 2


def test_with_the_limit_the_threads_share_two_arenas() -> None:
    assert arenas("limit") == (True, 2)


def test_an_operators_malloc_arena_max_is_left_alone() -> None:
    assert arenas("limit", MALLOC_ARENA_MAX="3") == (False, 3)
