"""The outbound connector: sends due handover deliveries to the external systems and watches for their
acknowledgements. A background worker of routing (ServiceSpec.workers); never called inside a consumer's
transaction.

Each cycle does two scans, each an index range read of what is due, so the work is proportional to it:

- ``next_attempt_at <= now``: claim (in one short transaction), POST each to its system outside any
  transaction, record the answer. 2xx: delivered, and sent again only if still unacknowledged when the
  acknowledgement window has passed (with backoff). 408, 429, 5xx, timeouts, connection errors: retried with
  exponential backoff and jitter. Any other 4xx (or too many failures in a row): a connector dead letter, the
  failure on the slip and ``handover.failed`` reported by the platform.
- ``ack_due_at <= now``: an unacknowledged handover publishes ``handover.unacknowledged`` once, with the
  working minutes waited; the delivery keeps being retried.

A delivery whose step was accepted by its unit or ended is closed when it next comes due, unsent.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import col, select

from services.routing.commands import emit
from services.routing.connector_rules import Answer, DeliveryStatus, backoff_delay, classify
from services.routing.context import Routing
from services.routing.external import handover_ref
from services.routing.settings import RoutingSettings
from services.routing.tables import ConnectorDeadLetter, Handover, HandoverDelivery
from shared.bus.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events.step import HandoverFailed, HandoverUnacknowledged
from shared.web.signing import signed_headers

log = logging.getLogger(__name__)

PLATFORM = "platform"


@dataclass(frozen=True)
class Claimed:
    id: str
    external_system: str
    body: str
    send: int


@dataclass(frozen=True)
class Result:
    answer: Answer
    status_code: int | None
    error: str | None


class ExternalSystems:
    """The HTTP side: one signed POST per delivery. ``transport`` is the seam (httpx's), never patched."""

    def __init__(
        self,
        urls: dict[str, str],
        secret: str,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._urls = dict(urls)
        self._secret = secret
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout)

    async def deliver(self, claimed: Claimed) -> Result:
        url = self._urls.get(claimed.external_system)
        if not url:
            return Result(
                Answer.PERMANENT, None, f"no URL is configured for the external system {claimed.external_system!r}"
            )
        raw = claimed.body.encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": claimed.id,
            "X-Lienthong-Delivery-Attempt": str(claimed.send),
            **signed_headers(self._secret, int(time.time()), raw),
        }
        try:
            response = await self._client.post(url, content=raw, headers=headers)
        except httpx.TimeoutException as exc:
            return Result(Answer.RETRY, None, f"timed out: {exc!r}")
        except httpx.TransportError as exc:
            return Result(Answer.RETRY, None, f"unreachable: {exc!r}")
        answer = classify(response.status_code)
        error = None if answer is Answer.DELIVERED else f"HTTP {response.status_code}: {response.text[:300]}"
        return Result(answer, response.status_code, error)

    async def close(self) -> None:
        await self._client.aclose()


class Connector:
    def __init__(
        self,
        units: UnitOfWorkFactory,
        routing: Routing,
        systems: ExternalSystems,
        settings: RoutingSettings,
        *,
        use_skip_locked: bool = False,
    ) -> None:
        self._units = units
        self._routing = routing
        self._systems = systems
        self._s = settings
        self._skip_locked = use_skip_locked
        self._lease = timedelta(seconds=settings.connector_timeout_s + 30)

    async def run(self) -> None:
        while True:
            try:
                busy = await self.cycle()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("connector: cycle failed")
                busy = False
            if not busy:
                await self._routing.deliveries_due.wait(self._s.connector_poll_interval_s)

    async def cycle(self) -> bool:
        """One pass of both scans; True when a batch was full (more may be due at once)."""
        sent = await self.send_due()
        watched = await self.watch_acknowledgements()
        return max(sent, watched) >= self._s.connector_batch_size

    def _delay(self, n: int) -> timedelta:
        return timedelta(seconds=backoff_delay(n, self._s.connector_backoff_initial_s, self._s.connector_backoff_max_s))

    # ---- sending ----------------------------------------------------------------------------------------

    async def claim(self) -> list[Claimed]:
        now = datetime.now(UTC)
        claimed: list[Claimed] = []
        async with self._units() as uow:
            query = (
                select(HandoverDelivery)
                .where(col(HandoverDelivery.next_attempt_at) <= now)
                .order_by(col(HandoverDelivery.next_attempt_at))
                .limit(self._s.connector_batch_size)
            )
            if self._skip_locked:
                query = query.with_for_update(skip_locked=True)
            for d in (await uow.session.exec(query)).all():
                if await self._close_if_settled(uow, d, now):
                    continue
                d.sends += 1
                d.next_attempt_at = now + self._lease  # a crash mid-send: sent again after the lease
                d.updated_at = now
                uow.session.add(d)
                claimed.append(Claimed(d.id, d.external_system, d.body, d.sends))
        return claimed

    async def _close_if_settled(self, uow: UnitOfWork, d: HandoverDelivery, now: datetime) -> bool:
        """Nothing more to send or watch: acknowledged, dead, or its step accepted by the unit or ended."""
        if d.status not in (DeliveryStatus.PENDING, DeliveryStatus.DELIVERED):
            d.next_attempt_at = d.ack_due_at = None
        else:
            handover = await uow.session.get(Handover, d.handover_id)
            if handover is not None and handover.accepted_at is None and handover.finished_at is None:
                return False
            d.status = DeliveryStatus.CLOSED.value
            d.next_attempt_at = d.ack_due_at = None
        d.updated_at = now
        uow.session.add(d)
        return True

    async def send_due(self) -> int:
        claimed = await self.claim()
        if claimed:
            results = await asyncio.gather(*(self._systems.deliver(c) for c in claimed))
            for c, result in zip(claimed, results, strict=True):
                await self._record(c, result)
        return len(claimed)

    async def _record(self, c: Claimed, result: Result) -> None:
        for attempt in range(3):  # the row may change under us (an acknowledgement): read it again
            try:
                async with self._units() as uow:
                    await self._record_in(uow, c, result)
                return
            except StaleDataError:
                if attempt == 2:
                    raise

    async def _record_in(self, uow: UnitOfWork, c: Claimed, result: Result) -> None:
        d = await uow.session.get(HandoverDelivery, c.id)
        if d is None:
            return
        now = datetime.now(UTC)
        d.last_status_code = result.status_code
        d.last_error = result.error[:1000] if result.error else None
        d.updated_at = now
        uow.session.add(d)
        settled = d.status not in (DeliveryStatus.PENDING, DeliveryStatus.DELIVERED)
        if result.answer is Answer.DELIVERED:
            d.failures = 0
            d.delivered_at = d.delivered_at or now
            if settled:
                d.next_attempt_at = None
                return
            d.status = DeliveryStatus.DELIVERED.value
            # Sent again only while still unacknowledged once the window has passed.
            again = now + self._delay(d.sends)
            d.next_attempt_at = max(again, d.ack_due_at) if d.ack_due_at is not None else again
            return
        if settled:
            d.next_attempt_at = None
            return
        d.failures += 1
        if result.answer is Answer.RETRY and d.failures < self._s.connector_max_failures:
            d.next_attempt_at = now + self._delay(d.failures)
            log.warning(
                "connector: %s to %s failed (%d in a row): %s", d.id, d.external_system, d.failures, result.error
            )
            return
        reason = result.error or "refused"
        if result.answer is Answer.RETRY:
            reason = f"gave up after {d.failures} failures in a row; last: {reason}"
        await self._dead_letter(uow, d, result.status_code, reason, now)

    async def _dead_letter(
        self, uow: UnitOfWork, d: HandoverDelivery, status_code: int | None, reason: str, now: datetime
    ) -> None:
        d.status = DeliveryStatus.DEAD.value
        d.next_attempt_at = None
        uow.session.add(
            ConnectorDeadLetter(
                delivery_id=d.id,
                dossier_code=d.dossier_code,
                external_system=d.external_system,
                status_code=status_code,
                reason=reason[:2000],
                sends=d.sends,
                failed_at=now,
            )
        )
        handover = await uow.session.get(Handover, d.handover_id)
        if handover is None:
            return
        if handover.failure_reported_at is None:
            handover.failure_reported_at = now
            handover.failure_reported_by = PLATFORM
            handover.failure_reason = reason[:2000]
        log.error("connector: %s to %s dead-lettered: %s", d.id, d.external_system, reason)
        emit(
            uow,
            d.dossier_code,
            "handover.failed",
            HandoverFailed(
                **handover_ref(handover),
                from_unit_code=handover.from_unit_code,
                from_unit_level=handover.from_unit_level,
                handed_over_at=handover.handed_over_at,
                reported_at=now,
                reason=reason[:2000],
                reported_by=PLATFORM,
                external_system=d.external_system,
                delivery_id=uuid.UUID(d.id),
            ),
            now,
        )

    # ---- acknowledgement watch --------------------------------------------------------------------------

    async def watch_acknowledgements(self) -> int:
        now = datetime.now(UTC)
        async with self._units() as uow:
            query = (
                select(HandoverDelivery)
                .where(col(HandoverDelivery.ack_due_at) <= now)
                .order_by(col(HandoverDelivery.ack_due_at))
                .limit(self._s.connector_batch_size)
            )
            if self._skip_locked:
                query = query.with_for_update(skip_locked=True)
            rows = list((await uow.session.exec(query)).all())
            for d in rows:
                if await self._close_if_settled(uow, d, now):
                    continue
                await self._unacknowledged(uow, d, now)
        return len(rows)

    async def _unacknowledged(self, uow: UnitOfWork, d: HandoverDelivery, now: datetime) -> None:
        handover = await uow.session.get(Handover, d.handover_id)
        assert handover is not None  # _close_if_settled found it
        # The business instant is when the window closed, not when this watcher noticed: a back-dated handover
        # (an import, a replay) is unacknowledged as of its own window.
        at = min(d.ack_due_at or now, now)
        waited = max(0, self._routing.calendar.working_minutes_between(handover.handed_over_at, at))
        d.ack_due_at = None  # once
        d.unacknowledged_at = at
        d.updated_at = now
        uow.session.add(d)
        handover.interconnection_minutes = waited
        emit(
            uow,
            d.dossier_code,
            "handover.unacknowledged",
            HandoverUnacknowledged(
                **handover_ref(handover),
                external_system=d.external_system,
                handed_over_at=handover.handed_over_at,
                waited_minutes=waited,
                delivery_id=uuid.UUID(d.id),
            ),
            at,
        )
