"""What every provider shares: the message handed over, what a provider answers, its errors, the one
metrics helper every ``send`` goes through, and the mapping of transport failures to errors.

A provider either accepts a message (``Accepted``: the operator's message id and which provider took it)
or raises ``ProviderError``. ``permanent`` says whether retrying can help; ``ambiguous`` says the operator
may have taken the message although we have no answer (a timeout after the request went out, a connection
dropped mid-answer): the caller asks ``lookup`` before sending again instead of resending blindly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import httpx
from prometheus_client import Counter, Histogram

from services.notify.domain import Channel

T = TypeVar("T")


@dataclass(frozen=True)
class OutgoingMessage:
    id: str
    """Our notification id: every operator gets it as the message's reference."""
    channel: Channel
    recipient: str
    subject: str | None
    body: str
    html: str | None = None
    zalo_template_id: str | None = None
    zalo_params: Mapping[str, str] = field(default_factory=dict)


class ProviderError(Exception):
    """A provider refused or failed. ``permanent``: retrying cannot help (the address is bad, not the
    operator). ``ambiguous``: the operator may have accepted it anyway; reconcile with ``lookup``."""

    def __init__(self, message: str, *, permanent: bool, provider: str = "", ambiguous: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.provider = provider
        self.ambiguous = ambiguous

    def __str__(self) -> str:
        return f"{self.provider}: {self.message}" if self.provider else self.message


class LookupOutcome(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Lookup:
    outcome: LookupOutcome
    reference: str | None = None
    """The operator's message id when found."""
    provider: str | None = None


@dataclass(frozen=True)
class Accepted:
    reference: str
    """The operator's message id."""
    provider: str
    """Which provider took it (with failover, not necessarily the preferred one)."""


class Provider(Protocol):
    channel: Channel
    name: str

    async def send(self, message: OutgoingMessage) -> Accepted:
        """Hand the message over. Raises ProviderError."""
        ...

    async def lookup(self, notification_id: str) -> Lookup:
        """Does the operator already hold a message with this reference? Never raises for operator trouble:
        an operator that cannot be asked, or does not answer, gives UNKNOWN."""
        ...

    async def close(self) -> None: ...


# ---- metrics -------------------------------------------------------------------------------------------

PROVIDER_SECONDS = Histogram(
    "lienthong_notify_provider_seconds",
    "Time a provider took to accept or refuse a message (outcome: accepted, transient, permanent, cancelled, error).",
    ["provider", "channel", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PROVIDER_ERRORS = Counter(
    "lienthong_notify_provider_errors_total",
    "Messages a provider refused or failed, by kind (transient: retrying can help; permanent: it cannot).",
    ["provider", "channel", "kind"],
)


async def observed(provider: str, channel: str, call: Awaitable[T]) -> T:
    """Await one call to an operator, observing its duration and outcome. Every provider's send uses it;
    wrappers (failover, throttle) do not, so each attempt is counted once, against the operator it went to."""
    started = time.perf_counter()
    outcome = "error"
    try:
        result = await call
    except ProviderError as exc:
        outcome = "permanent" if exc.permanent else "transient"
        PROVIDER_ERRORS.labels(provider, channel, outcome).inc()
        raise
    except asyncio.CancelledError:
        outcome = "cancelled"
        raise
    else:
        outcome = "accepted"
        return result
    finally:
        PROVIDER_SECONDS.labels(provider, channel, outcome).observe(time.perf_counter() - started)


# ---- HTTP ----------------------------------------------------------------------------------------------


def http_client(
    base_url: str, transport: httpx.AsyncBaseTransport | None, timeout: float, headers: Mapping[str, str]
) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url.rstrip("/"), transport=transport, timeout=timeout, headers=headers)


def transport_failure(provider: str, exc: httpx.HTTPError) -> ProviderError:
    """A request that got no usable answer: always transient. Ambiguous unless the request certainly never
    reached the operator (no connection, or no connection from the pool)."""
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "unreachable"
    return ProviderError(f"{kind}: {exc!r}", permanent=False, provider=provider, ambiguous=not never_sent)


def status_failure(provider: str, response: httpx.Response) -> ProviderError:
    """An HTTP error answer: 429 and 5xx are transient, and so are 401 and 403 (our token expired or was
    revoked: the operator's fault or ours, not the citizen's, and it trips the failover); any other 4xx is
    permanent."""
    status = response.status_code
    transient = status in (401, 403, 429) or status >= 500
    return ProviderError(f"HTTP {status}: {response.text[:200]}", permanent=not transient, provider=provider)


def json_object(provider: str, response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; a malformed answer is a transient, ambiguous failure (the operator may
    have taken the message before its answer went wrong)."""
    try:
        data = response.json()
    except ValueError as exc:
        raise ProviderError(
            f"HTTP {response.status_code} with a body that is not JSON: {response.text[:200]!r}",
            permanent=False,
            provider=provider,
            ambiguous=True,
        ) from exc
    if not isinstance(data, dict):
        raise ProviderError(
            f"HTTP {response.status_code} with a JSON body that is not an object",
            permanent=False,
            provider=provider,
            ambiguous=True,
        )
    return data
