"""The sender: claims notifications that are due, hands them to providers, records the outcome.

A notification is marked ``sending`` in its own transaction before the provider is called, and the
provider receives the notification id as its reference, so a crash after the provider accepted and
before we recorded it is resolved by the provider's duplicate answer, not by a second message.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_
from sqlmodel import col, select

from services.notify.domain import Channel, NotificationStatus, check_transition
from services.notify.providers import OutgoingMessage, Provider, ProviderError
from services.notify.tables import Notification, NotificationEvent
from shared.bus.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events import new_envelope
from shared.events.delivery import NotificationFailed, NotificationSent
from shared.failpoints import failpoint

log = logging.getLogger(__name__)

PRODUCER = "notify"
RETRY_DELAYS = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1))


def transition(uow: UnitOfWork, n: Notification, new: NotificationStatus, detail: str | None = None) -> None:
    """The one guarded function through which every status change goes."""
    check_transition(NotificationStatus(n.status), new)
    now = datetime.now(UTC)
    n.status = new.value
    n.updated_at = now
    n.version += 1
    uow.session.add(n)
    uow.session.add(NotificationEvent(notification_id=n.id, status=new.value, at=now, detail=detail))


class Sender:
    def __init__(
        self,
        units: UnitOfWorkFactory,
        providers: dict[Channel, Provider],
        *,
        poll_interval: float,
        batch_size: int = 50,
        use_skip_locked: bool = False,
    ) -> None:
        self._units = units
        self._providers = providers
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._skip_locked = use_skip_locked

    async def run(self) -> None:
        while True:
            try:
                sent = await self.send_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sender: cycle failed")
                sent = 0
            if sent < self._batch_size:
                await asyncio.sleep(self._poll_interval)

    async def claim(self) -> list[Notification]:
        now = datetime.now(UTC)
        async with self._units() as uow:
            query = (
                select(Notification)
                .where(
                    col(Notification.status).in_(
                        [NotificationStatus.CREATED.value, NotificationStatus.TEMPORARY_FAILURE.value]
                    ),
                    or_(col(Notification.next_attempt_at).is_(None), col(Notification.next_attempt_at) <= now),
                )
                .order_by(col(Notification.created_at))
                .limit(self._batch_size)
            )
            if self._skip_locked:
                query = query.with_for_update(skip_locked=True)
            rows = list((await uow.session.exec(query)).all())
            for n in rows:
                transition(uow, n, NotificationStatus.SENDING)
                n.attempts += 1
        return rows

    async def send_due(self) -> int:
        claimed = await self.claim()
        if claimed:
            await asyncio.gather(*(self._send_one(n) for n in claimed))
        return len(claimed)

    async def _send_one(self, n: Notification) -> None:
        channel = Channel(n.channel)
        provider = self._providers[channel]
        message = OutgoingMessage(id=n.id, channel=channel, recipient=n.recipient, subject=n.subject, body=n.body)
        try:
            reference = await provider.send(message)
        except ProviderError as exc:
            await self._record_failure(n.id, exc)
            return
        failpoint("notify.after_provider_accepted")
        async with self._units() as uow:
            row = await uow.session.get(Notification, n.id)
            if row is None or NotificationStatus(row.status).final:
                return
            row.provider_reference = reference
            transition(uow, row, NotificationStatus.SENT, detail=f"{provider.name}: {reference}")
            uow.emit(
                new_envelope(
                    type="notification.sent",
                    dossier_code=row.dossier_code,
                    producer=PRODUCER,
                    payload=NotificationSent(
                        notification_id=row.id,
                        channel=row.channel,
                        template=row.template,
                        provider_reference=reference,
                    ),
                )
            )

    async def _record_failure(self, nid: str, exc: ProviderError) -> None:
        async with self._units() as uow:
            row = await uow.session.get(Notification, nid)
            if row is None:
                return
            row.last_error = str(exc)[:1000]
            if exc.permanent or row.attempts > len(RETRY_DELAYS):
                transition(uow, row, NotificationStatus.PERMANENT_FAILURE, detail=str(exc)[:500])
                uow.emit(
                    new_envelope(
                        type="notification.failed",
                        dossier_code=row.dossier_code,
                        producer=PRODUCER,
                        payload=NotificationFailed(
                            notification_id=row.id,
                            channel=row.channel,
                            template=row.template,
                            reason=str(exc)[:500],
                        ),
                    )
                )
                return
            transition(uow, row, NotificationStatus.TEMPORARY_FAILURE, detail=str(exc)[:500])
            row.next_attempt_at = datetime.now(UTC) + RETRY_DELAYS[row.attempts - 1]
            log.warning("sender: %s via %s failed (attempt %d): %s", nid, row.channel, row.attempts, exc)
