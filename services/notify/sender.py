"""The sender: claims notifications that are due, hands them to providers, records the outcome.

A notification is marked ``sending`` in its own transaction before the provider is called, and the provider
receives the notification id as its reference. A process that dies between the provider's acceptance and
our record leaves the row ``sending``; after the sending timeout the provider is asked whether it has the
reference (recorded as sent if so) instead of being sent the message blindly again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

from opentelemetry.trace import SpanKind
from sqlalchemy import or_
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import col, select

from services.notify.context import Notify
from services.notify.domain import Channel, NotificationStatus, retry_delay
from services.notify.fallback import fall_back
from services.notify.providers import LookupOutcome, OutgoingMessage, Provider, ProviderError
from services.notify.status import transition
from services.notify.tables import Notification
from shared.bus.tracing import context_from_headers, tracer
from shared.bus.unit_of_work import UnitOfWorkFactory
from shared.events import new_envelope
from shared.events.delivery import NotificationSent
from shared.failpoints import failpoint
from shared.observability import DOSSIER_ATTRIBUTE

log = logging.getLogger(__name__)

PRODUCER = "notify"
DUE = [NotificationStatus.CREATED.value, NotificationStatus.TEMPORARY_FAILURE.value]


def outgoing(n: Notification) -> OutgoingMessage:
    return OutgoingMessage(
        id=n.id,
        channel=Channel(n.channel),
        recipient=n.recipient,
        subject=n.subject,
        body=n.body,
        html=n.html,
        zalo_template_id=n.zalo_template_id,
        zalo_params=json.loads(n.zalo_params) if n.zalo_params else {},
    )


class Sender:
    def __init__(
        self,
        units: UnitOfWorkFactory,
        providers: Mapping[Channel, Provider],
        notify: Notify,
        *,
        poll_interval: float,
        sending_timeout: timedelta,
        batch_size: int = 100,
        use_skip_locked: bool = False,
    ) -> None:
        self._units = units
        self._providers = providers
        self._notify = notify
        self._poll_interval = poll_interval
        self._sending_timeout = sending_timeout
        self._batch_size = batch_size
        self._skip_locked = use_skip_locked

    async def run(self) -> None:
        while True:
            try:
                await self.reconcile_stale()
                sent = await self.send_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sender: cycle failed")
                sent = 0
            if sent < self._batch_size:
                await self._notify.due.wait(self._poll_interval)

    async def claim(self) -> list[Notification]:
        now = datetime.now(UTC)
        async with self._units() as uow:
            query = (
                select(Notification)
                .where(
                    col(Notification.status).in_(DUE),
                    or_(col(Notification.next_attempt_at).is_(None), col(Notification.next_attempt_at) <= now),
                )
                .order_by(col(Notification.next_attempt_at))
                .limit(self._batch_size)
            )
            if self._skip_locked:
                query = query.with_for_update(skip_locked=True)
            rows = list((await uow.session.exec(query)).all())
            claimed = []
            for n in rows:
                # Due before quiet hours began (a backlog): a non-urgent SMS or Zalo still waits for the morning.
                if (release := self._notify.quiet.hold(Channel(n.channel), n.urgent, now)) is not None:
                    n.next_attempt_at = release
                    uow.session.add(n)
                    continue
                n.attempts += 1
                transition(uow, n, NotificationStatus.SENDING, detail=f"attempt {n.attempts}")
                claimed.append(n)
        return claimed

    async def send_due(self) -> int:
        claimed = await self.claim()
        if claimed:
            results = await asyncio.gather(*(self._send_one(n) for n in claimed), return_exceptions=True)
            for n, result in zip(claimed, results, strict=True):
                if isinstance(result, BaseException):
                    # Left 'sending': reconciled with the provider after the sending timeout.
                    log.error("sender: %s could not be recorded", n.id, exc_info=result)
        return len(claimed)

    async def _send_one(self, n: Notification) -> None:
        """The provider call, in a span that continues the trace of the event that made the notification."""
        parent = context_from_headers(json.loads(n.trace_headers)) if n.trace_headers else None
        with tracer.start_as_current_span(f"notify send {n.channel}", context=parent, kind=SpanKind.CLIENT) as span:
            span.set_attributes(
                {
                    DOSSIER_ATTRIBUTE: n.dossier_code,
                    "lienthong.notification_id": n.id,
                    "lienthong.channel": n.channel,
                    "lienthong.template": n.template,
                }
            )
            await self._send_in_span(n)

    async def _send_in_span(self, n: Notification) -> None:
        provider = self._providers.get(Channel(n.channel))
        if provider is None:
            await self._record_failure(n.id, ProviderError(f"no provider for {n.channel}", permanent=True))
            return
        try:
            accepted = await provider.send(outgoing(n))
        except ProviderError as exc:
            if exc.ambiguous and not exc.permanent:
                # The operator may have taken it before the line broke: ask before trying again.
                lookup = await provider.lookup(n.id)
                if lookup.outcome is LookupOutcome.FOUND and lookup.reference:
                    await self._record_sent(
                        n.id, lookup.reference, lookup.provider or provider.name, how="found by lookup, not resent"
                    )
                    return
            await self._record_failure(n.id, exc)
            return
        failpoint("notify.after_provider_accepted")
        await self._record_sent(n.id, accepted.reference, accepted.provider)

    async def _record_sent(self, nid: str, reference: str, provider: str, how: str | None = None) -> None:
        """``how``: said in the history when the sending was not seen through (a lookup after a crash)."""
        await _again_if_stale(lambda: self._record_sent_once(nid, reference, provider, how))

    async def _record_sent_once(self, nid: str, reference: str, provider: str, how: str | None) -> None:
        async with self._units() as uow:
            row = await uow.session.get(Notification, nid)
            if row is None or NotificationStatus(row.status) is not NotificationStatus.SENDING:
                # A receipt got here first (delivered) or an operator finished it: nothing to add.
                if row is not None and row.provider_reference is None:
                    row.provider_reference, row.provider = reference, provider
                    uow.session.add(row)
                return
            row.provider_reference, row.provider = reference, provider
            detail = f"{provider}: {reference}" + (f" ({how})" if how else "")
            transition(uow, row, NotificationStatus.SENT, detail=detail)
            uow.emit(
                new_envelope(
                    type="notification.sent",
                    dossier_code=row.dossier_code,
                    producer=PRODUCER,
                    payload=NotificationSent(
                        notification_id=row.id,
                        channel=row.channel,
                        template=row.template,
                        template_version=row.template_version,
                        audience=row.audience,
                        provider=provider,
                        provider_reference=reference,
                        parts=row.parts,
                    ),
                )
            )

    async def _record_failure(self, nid: str, exc: ProviderError) -> None:
        await _again_if_stale(lambda: self._record_failure_once(nid, exc))

    async def _record_failure_once(self, nid: str, exc: ProviderError) -> None:
        now = datetime.now(UTC)
        async with self._units() as uow:
            row = await uow.session.get(Notification, nid)
            if row is None or NotificationStatus(row.status) is not NotificationStatus.SENDING:
                return
            row.last_error = str(exc)[:1000]
            if exc.permanent:
                transition(uow, row, NotificationStatus.PERMANENT_FAILURE, detail=str(exc)[:500])
                await fall_back(uow, self._notify, row, str(exc), now)
                return
            delay = retry_delay(row.attempts)
            if delay is None:
                reason = f"{row.attempts} attempts failed; last: {exc}"
                transition(uow, row, NotificationStatus.TECHNICAL_FAILURE, detail=reason[:500])
                await fall_back(uow, self._notify, row, reason, now)
                return
            row.next_attempt_at = now + delay
            when = f"in {delay}"
            # A retry is held by quiet hours like a new message: no non-urgent SMS or Zalo at night.
            if (release := self._notify.quiet.hold(Channel(row.channel), row.urgent, row.next_attempt_at)) is not None:
                row.next_attempt_at, when = release, f"when quiet hours end, {release.isoformat()}"
            transition(uow, row, NotificationStatus.TEMPORARY_FAILURE, detail=f"{exc}; next attempt {when}"[:500])
            log.warning("sender: %s via %s failed (attempt %d): %s", nid, row.channel, row.attempts, exc)

    async def reconcile_stale(self) -> int:
        """Rows left ``sending`` past the timeout: the process died mid-call. Ask the provider."""
        cutoff = datetime.now(UTC) - self._sending_timeout
        async with self._units() as uow:
            query = (
                select(Notification)
                .where(Notification.status == NotificationStatus.SENDING.value, col(Notification.updated_at) < cutoff)
                .limit(self._batch_size)
            )
            if self._skip_locked:
                query = query.with_for_update(skip_locked=True)
            stale = list((await uow.session.exec(query)).all())
            # Leased: the row's updated_at moves on, so no other instance takes it up while this one asks.
            now = datetime.now(UTC)
            for n in stale:
                n.updated_at = now
                uow.session.add(n)
        for n in stale:
            provider = self._providers.get(Channel(n.channel))
            lookup = await provider.lookup(n.id) if provider is not None else None
            if lookup is not None and lookup.outcome is LookupOutcome.FOUND and lookup.reference:
                log.info("sender: %s was accepted by %s before the crash; recorded, not resent", n.id, lookup.provider)
                how = "sending timed out; the provider had it already: recorded, not resent"
                await self._record_sent(n.id, lookup.reference, lookup.provider or "", how=how)
                continue
            outcome = lookup.outcome.value if lookup is not None else "no provider"
            await self._retry_after_crash(n.id, outcome)
        return len(stale)

    async def _retry_after_crash(self, nid: str, outcome: str) -> None:
        async with self._units() as uow:
            row = await uow.session.get(Notification, nid)
            if row is None or NotificationStatus(row.status) is not NotificationStatus.SENDING:
                return
            now = datetime.now(UTC)
            row.next_attempt_at = self._notify.quiet.hold(Channel(row.channel), row.urgent, now) or now
            transition(uow, row, NotificationStatus.TEMPORARY_FAILURE, detail=f"sending timed out; provider: {outcome}")


async def _again_if_stale(write: Callable[[], Awaitable[None]], attempts: int = 3) -> None:
    """A receipt or an administrator changed the row meanwhile (its version moved on): read it and write again."""
    for _ in range(attempts):
        try:
            await write()
            return
        except StaleDataError:
            continue
