"""A small HTTP/1.1 load client: keep-alive connections, one request in flight on each, closed loop
(``run_load``: as fast as answers come) or open loop (``paced_posts``: at a fixed arrival rate).

Written on raw asyncio streams so that the client costs far less CPU than the server it measures
(on a 2-core machine a heavyweight client would be the bottleneck). Reports requests per second
and latency percentiles of the requests that completed inside the measured window.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 answer on a keep-alive connection: its status and body (by Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, (await reader.readexactly(length)) if length else b""


async def run_load(
    host: str,
    port: int,
    request_for: Callable[[int], bytes],
    concurrency: int,
    warmup_s: float,
    duration_s: float,
    ok_status: int,
    on_progress: Callable[[int, float], None] | None = None,
) -> LoadResult:
    """Run ``concurrency`` connections for warm-up plus ``duration_s``; measure only the latter."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from, stop_at = start + warmup_s, start + warmup_s + duration_s
    latencies: list[float] = []
    errors = 0
    counter = 0

    async def worker() -> None:
        nonlocal errors, counter
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (now := loop.time()) < stop_at:
                counter += 1
                writer.write(request_for(counter))
                sent = time.perf_counter()
                status, _ = await read_response(reader)
                elapsed = (time.perf_counter() - sent) * 1000
                if now >= measure_from:
                    if status == ok_status:
                        latencies.append(elapsed)
                    else:
                        errors += 1
        finally:
            writer.close()

    async def progress() -> None:
        while loop.time() < stop_at:
            await asyncio.sleep(1)
            if on_progress is not None:
                on_progress(len(latencies), max(0.0, loop.time() - measure_from))

    reporter = asyncio.create_task(progress())
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    reporter.cancel()
    return LoadResult(len(latencies), errors, duration_s, latencies)


@dataclass
class Post:
    sent_at: float  # epoch seconds, to compare with instants other processes record
    status: int
    code: str | None


async def paced_posts(
    host: str, port: int, request_for: Callable[[int], bytes], rate: float, duration_s: float, connections: int = 64
) -> list[Post]:
    """Open loop: the i-th request is due at i / rate whatever the answers so far (a slow server makes
    requests queue, it does not slow the arrivals), on up to ``connections`` keep-alive connections."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    total = int(rate * duration_s)
    next_index = 0
    posts: list[Post] = []

    async def worker() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < total:
                i = next_index
                next_index += 1
                delay = start + i / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent_at = time.time()
                writer.write(request_for(i))
                status, body = await read_response(reader)
                code = json.loads(body).get("code") if status == 201 else None
                posts.append(Post(sent_at, status, code))
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return posts
