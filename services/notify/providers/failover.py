"""Failover between providers of one channel (two SMS operators), with a circuit breaker per provider.

A send tries the providers in order of preference:

- a transient ``ProviderError``, or a call slower than ``slow_after_s`` (cancelled, and counted as a
  transient failure), moves on to the next provider;
- a permanent error is raised at once: the address is bad, not the operator, and another operator would
  refuse it too;
- a provider that failed ``failures_to_trip`` times in a row is skipped for ``cooldown_s``; after that one
  send is let through to it (half-open): success closes the breaker, failure opens it for another cooldown.
  With every provider open, the send fails at once, transiently, and the caller retries later.

Never a second SMS on purpose: a provider that timed out, or was cancelled for being slow, may have taken
the message anyway, so it is asked (``lookup``) before the next one is tried. It has it: the send is done.
It says it has not: the next provider gets it. It cannot say: the send fails, ambiguously, and the sender
asks again later instead of handing the message to a second operator. The one window left is a message
still in flight at the slow operator when it answers "not found".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.notify.providers.base import Accepted, Lookup, LookupOutcome, OutgoingMessage, Provider, ProviderError


@dataclass
class _Health:
    provider: Provider
    consecutive_failures: int = 0
    open_until: float | None = None
    probing: bool = False
    accepted: int = 0
    failed: int = 0
    last_error: str | None = None

    def state(self, now: float) -> str:
        if self.open_until is None:
            return "closed"
        return "open" if now < self.open_until else "half_open"


class FailoverProvider:
    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        slow_after_s: float,
        cooldown_s: float,
        failures_to_trip: int = 3,
        monotonic: Callable[[], float] = time.monotonic,
        name: str | None = None,
    ) -> None:
        if not providers:
            raise ValueError("failover needs at least one provider")
        channels = {p.channel for p in providers}
        if len(channels) != 1:
            raise ValueError(f"failover is between providers of one channel, not {sorted(channels)}")
        if failures_to_trip < 1:
            raise ValueError("failures_to_trip must be at least 1")
        self.channel = providers[0].channel
        self.name = name or "+".join(p.name for p in providers)
        self._health = [_Health(p) for p in providers]
        self._slow_after_s = slow_after_s
        self._cooldown_s = cooldown_s
        self._trip = failures_to_trip
        self._monotonic = monotonic

    async def send(self, message: OutgoingMessage) -> Accepted:
        errors: list[ProviderError] = []
        for health in self._health:
            if not self._admit(health):
                continue
            try:
                accepted = await self._attempt(health, message)
            except ProviderError as exc:
                if exc.permanent:
                    self._succeeded(health, counted=False)  # it answered: the operator is fine
                    raise
                self._failed(health, exc)
                if exc.ambiguous:
                    asked = await self._ask(health, message.id)
                    if asked.outcome is LookupOutcome.FOUND and asked.reference:
                        return Accepted(reference=asked.reference, provider=health.provider.name)
                    if asked.outcome is LookupOutcome.UNKNOWN:
                        raise  # it may hold the message: no second operator, the sender asks again later
                errors.append(exc)
                continue
            finally:
                health.probing = False
            self._succeeded(health)
            return accepted
        if not errors:
            raise ProviderError(
                "every provider is cooling down after repeated failures", permanent=False, provider=self.name
            )
        raise ProviderError(
            "; ".join(str(e) for e in errors),
            permanent=False,
            provider=self.name,
            ambiguous=any(e.ambiguous for e in errors),
        )

    async def lookup(self, notification_id: str) -> Lookup:
        """The first provider (in order of preference) that has it; NOT_FOUND only when every provider
        says so; otherwise UNKNOWN (one could not be asked, and might have it)."""
        answers = await asyncio.gather(
            *(h.provider.lookup(notification_id) for h in self._health), return_exceptions=True
        )
        lookups = [a if isinstance(a, Lookup) else Lookup(LookupOutcome.UNKNOWN) for a in answers]
        found = next((a for a in lookups if a.outcome is LookupOutcome.FOUND), None)
        if found is not None:
            return found
        if all(a.outcome is LookupOutcome.NOT_FOUND for a in lookups):
            return Lookup(LookupOutcome.NOT_FOUND, provider=self.name)
        return Lookup(LookupOutcome.UNKNOWN, provider=self.name)

    def status(self) -> list[dict[str, Any]]:
        """Each provider's health, for metrics and the admin API."""
        now = self._monotonic()
        return [
            {
                "provider": h.provider.name,
                "state": h.state(now),
                "consecutive_failures": h.consecutive_failures,
                "cooldown_left_s": max(0.0, h.open_until - now) if h.open_until is not None else 0.0,
                "accepted": h.accepted,
                "failed": h.failed,
                "last_error": h.last_error,
            }
            for h in self._health
        ]

    async def close(self) -> None:
        await asyncio.gather(*(h.provider.close() for h in self._health))

    def _admit(self, health: _Health) -> bool:
        state = health.state(self._monotonic())
        if state == "closed":
            return True
        if state == "half_open" and not health.probing:
            health.probing = True  # one trial send; the others keep skipping it until it answers
            return True
        return False

    async def _attempt(self, health: _Health, message: OutgoingMessage) -> Accepted:
        timeout = asyncio.timeout(self._slow_after_s)
        try:
            async with timeout:
                return await health.provider.send(message)
        except TimeoutError as exc:
            if not timeout.expired():
                raise
            raise ProviderError(
                f"slower than {self._slow_after_s:g}s: cancelled (it may have been sent anyway)",
                permanent=False,
                provider=health.provider.name,
                ambiguous=True,
            ) from exc

    async def _ask(self, health: _Health, notification_id: str) -> Lookup:
        """Whether a provider that did not answer in time took the message after all."""
        try:
            async with asyncio.timeout(self._slow_after_s):
                return await health.provider.lookup(notification_id)
        except Exception:
            return Lookup(LookupOutcome.UNKNOWN)

    def _succeeded(self, health: _Health, *, counted: bool = True) -> None:
        health.consecutive_failures = 0
        health.open_until = None
        if counted:
            health.accepted += 1

    def _failed(self, health: _Health, exc: ProviderError) -> None:
        health.consecutive_failures += 1
        health.failed += 1
        health.last_error = str(exc)[:300]
        if health.consecutive_failures >= self._trip:
            health.open_until = self._monotonic() + self._cooldown_s
