"""A small closed-loop HTTP/1.1 load client: keep-alive connections, one request in flight on each.

Written on raw asyncio streams so that the client costs far less CPU than the server it measures
(on a 2-core machine a heavyweight client would be the bottleneck). Reports requests per second
and latency percentiles of the requests that completed inside the measured window.
"""

from __future__ import annotations

import asyncio
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


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


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
                status = await _read_response(reader)
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
