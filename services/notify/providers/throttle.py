"""Keep within an operator's contract: at most ``concurrency`` calls in flight and ``rate_per_s`` calls a
second (a token bucket holding ``burst`` tokens). Calls over the limits wait; they never fail for it.

Wrap the channel's provider once, outside any failover (``Throttled(FailoverProvider([...]))``): a
throttle inside a failover would count the wait in the queue as the operator being slow.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from services.notify.providers.base import Accepted, Lookup, OutgoingMessage, Provider


class TokenBucket:
    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")
        self._rate, self._burst = rate_per_s, burst
        self._monotonic, self._sleep = monotonic, sleep
        self._tokens = float(burst)
        self._updated = monotonic()
        self._lock = asyncio.Lock()  # first come, first served

    async def take(self) -> None:
        async with self._lock:
            while True:
                now = self._monotonic()
                self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await self._sleep((1 - self._tokens) / self._rate)


class Throttled:
    def __init__(
        self,
        provider: Provider,
        *,
        concurrency: int,
        rate_per_s: float,
        burst: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.channel = provider.channel
        self.name = provider.name
        self._provider = provider
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._bucket = TokenBucket(
            rate_per_s, burst if burst is not None else max(1, math.ceil(rate_per_s)), monotonic=monotonic, sleep=sleep
        )
        self._in_flight = 0
        self._waiting = 0

    async def send(self, message: OutgoingMessage) -> Accepted:
        async with self._slot():
            return await self._provider.send(message)

    async def lookup(self, notification_id: str) -> Lookup:
        async with self._slot():
            return await self._provider.lookup(notification_id)

    def status(self) -> list[dict[str, Any]]:
        """The wrapped provider's status (a failover's per-provider health), with this throttle's queue."""
        inner = getattr(self._provider, "status", None)
        rows: list[dict[str, Any]] = list(inner()) if callable(inner) else [{"provider": self.name}]
        queue = {"in_flight": self._in_flight, "waiting": self._waiting, "concurrency": self._concurrency}
        return [{**row, "throttle": queue} for row in rows]

    async def close(self) -> None:
        await self._provider.close()

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        """One call's turn: a free slot first, then a token, so calls leave at the rate and not in bunches."""
        self._waiting += 1
        try:
            await self._slots.acquire()
            try:
                await self._bucket.take()
            except BaseException:
                self._slots.release()
                raise
        finally:
            self._waiting -= 1
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._slots.release()
