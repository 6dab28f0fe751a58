"""The load generator's HTTP side: one pooled client for the public APIs, retries that are safe because every
POST carries an Idempotency-Key, and the counts and latencies a run reports."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


class LoadError(RuntimeError):
    """An answer the generator did not expect: the dossier is counted as failed, with this reason."""


@dataclass
class Endpoints:
    intake: str
    routing: str
    admin_key: str
    portal_key: str

    def url(self, service: str) -> str:
        return str(getattr(self, service))


@dataclass
class Stats:
    requests: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    filing_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        if len(self.errors) < 50:
            self.errors.append(message)


class Api:
    def __init__(self, endpoints: Endpoints, stats: Stats, *, connections: int = 64, give_up_s: float = 300) -> None:
        self.endpoints = endpoints
        self.stats = stats
        self.give_up_s = give_up_s
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.client = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0, connect=5.0))
        # Requests wait here rather than in httpx's pool, whose every hand-over scans all queued requests: with
        # thousands queued on a starved machine the generator spent its time there and stalled.
        self._slots = asyncio.Semaphore(connections)

    async def close(self) -> None:
        await self.client.aclose()

    def _headers(self, key: str, idempotency_key: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {key}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        key: str,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        expect: tuple[int, ...] = (200, 201),
    ) -> httpx.Response:
        """One request, retried on transport errors, 429 and 5xx until ``give_up_s`` (a restarted service,
        a broker away); any other unexpected status raises LoadError."""
        url = f"{self.endpoints.url(service)}{path}"
        deadline = time.monotonic() + self.give_up_s
        delay = 0.2
        while True:
            reason: str
            try:
                async with self._slots:
                    response = await self.client.request(
                        method, url, json=body, headers=self._headers(key, idempotency_key)
                    )
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}"
            else:
                self.stats.requests[f"{method} {response.status_code}"] += 1
                if response.status_code in expect:
                    return response
                if response.status_code not in RETRIED_STATUSES:
                    raise LoadError(f"{method} {path}: {response.status_code} {response.text[:300]}")
                reason = str(response.status_code)
            if time.monotonic() > deadline:
                raise LoadError(f"{method} {path}: still failing after {self.give_up_s:.0f}s ({reason})")
            self.stats.retries += 1
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 5.0)

    async def get_json(self, service: str, path: str, *, key: str, missing_ok: bool = False) -> Any:
        expect = (200, 404) if missing_ok else (200,)
        response = await self.call("GET", service, path, key=key, expect=expect)
        return None if response.status_code == 404 else response.json()

    async def post_json(
        self,
        service: str,
        path: str,
        body: dict[str, Any],
        *,
        key: str,
        idempotency_key: str,
        expect: tuple[int, ...] = (200, 201),
    ) -> Any:
        response = await self.call(
            "POST", service, path, key=key, body=body, idempotency_key=idempotency_key, expect=expect
        )
        return response.json() if response.content else None
