"""Per-API-key rate limit (token bucket, per process): 429 with ``Retry-After`` when a key goes too fast."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from shared.web.problems import Problem


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def check(self, key_id: str, now: float | None = None) -> None:
        """Take one token for ``key_id`` or raise a 429 problem saying when to come back."""
        if self.rate <= 0:
            return
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return
        wait = math.ceil((1 - bucket.tokens) / self.rate)
        raise Problem(
            429,
            "Too many requests",
            f"This API key may make {self.rate:g} requests a second.",
            headers={"Retry-After": str(wait)},
        )
