"""The outbox relay: publishes committed outbox rows in order per key, then marks them sent.

On PostgreSQL several relays may run: each locks the outbox slots it works on with
``FOR UPDATE SKIP LOCKED``, so a key (always in one slot) is published by one relay at a time. On SQLite
the service runs in one process with one relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from aiokafka.errors import KafkaError
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from shared.bus import metrics
from shared.bus.kafka import Producer
from shared.bus.tables import OutboxRecord
from shared.bus.tracing import kafka_headers
from shared.db import SessionMaker

log = logging.getLogger(__name__)

LEASE_S = 30.0
_UNSENT = col(OutboxRecord.sent_at).is_(None)


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        sessions: SessionMaker,
        producer: Producer,
        use_slot_locks: bool,
        batch_size: int = 500,
        poll_interval: float = 0.25,
        retention: timedelta = timedelta(days=1),
    ) -> None:
        self.service = service
        metrics.OUTBOX_PUBLISH_ERRORS.labels(service)  # a zero series, so the rate panel reads 0, not "no data"
        self._sessions = sessions
        self._producer = producer
        self._use_slot_locks = use_slot_locks
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._retention = retention
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_housekeeping = 0.0
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease_until = 0.0

    def wake(self) -> None:
        """Called after a commit that staged events, so they leave without waiting for the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            published = 0
            try:
                if loop.time() - self._last_housekeeping > 1.0:
                    await self.housekeeping()
                    self._last_housekeeping = loop.time()
                published = await self.publish_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                metrics.OUTBOX_PUBLISH_ERRORS.labels(self.service).inc()
                delay = min(5.0, 0.2 * 2 ** min(failures, 5)) * random.uniform(0.5, 1.0)
                log.warning("outbox relay: publish failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay)
                if isinstance(exc, KafkaError | OSError | TimeoutError):
                    await self._producer.reset()
                await asyncio.sleep(delay)
                continue
            if published < self._batch_size:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)

    async def publish_once(self) -> int:
        """Publish one batch; returns how many rows were marked sent."""
        if self._use_slot_locks:
            async with self._sessions() as session, session.begin():
                slots = await self._lock_slots(session)
                rows = await self._unsent(session, slots) if slots else []
                sent_ids = await self._publish(rows) if rows else []
                await self._mark_sent(session, sent_ids)
            return len(sent_ids)
        # SQLite: one relay per database, and the write lock is not held while waiting for the broker.
        if not await self._hold_lease():
            return 0
        async with self._sessions() as session, session.begin():
            rows = await self._unsent(session, None)
        if not rows:
            return 0
        sent_ids = await self._publish(rows)
        async with self._sessions() as session, session.begin():
            await self._mark_sent(session, sent_ids)
        return len(sent_ids)

    async def _unsent(self, session: AsyncSession, slots: list[int] | None) -> list[OutboxRecord]:
        query = select(OutboxRecord).where(_UNSENT).order_by(col(OutboxRecord.id)).limit(self._batch_size)
        if slots is not None:
            query = query.where(col(OutboxRecord.slot).in_(slots))
        return list((await session.execute(query)).scalars())

    async def _mark_sent(self, session: AsyncSession, ids: list[int]) -> None:
        if ids:
            await session.execute(
                update(OutboxRecord).where(col(OutboxRecord.id).in_(ids)).values(sent_at=datetime.now(UTC))
            )

    async def _hold_lease(self) -> bool:
        """Take or renew the database's relay lease; another process's relay takes over if this one dies."""
        now = time.time()
        if now < self._lease_until - LEASE_S / 2:
            return True
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                text(
                    "UPDATE relay_lease SET holder = :me, expires_at = :until "
                    "WHERE name = 'outbox' AND (holder = :me OR holder IS NULL OR expires_at < :now)"
                ),
                {"me": self._holder, "until": now + LEASE_S, "now": now},
            )
        held = bool(getattr(result, "rowcount", 0) == 1)
        self._lease_until = now + LEASE_S if held else 0.0
        return held

    async def release_lease(self) -> None:
        if self._lease_until:
            async with self._sessions() as session, session.begin():
                await session.execute(
                    text("UPDATE relay_lease SET holder = NULL, expires_at = 0 WHERE name = 'outbox' AND holder = :me"),
                    {"me": self._holder},
                )
            self._lease_until = 0.0

    async def _lock_slots(self, session: AsyncSession) -> list[int]:
        result = await session.execute(text("SELECT slot FROM outbox_slot ORDER BY slot FOR UPDATE SKIP LOCKED"))
        return [int(s) for s in result.scalars()]

    async def _publish(self, rows: Sequence[OutboxRecord]) -> list[int]:
        producer = await self._producer.ensure_started()
        if self._producer.settings.verify_topics:
            await self._producer.verify_topics({row.topic for row in rows})
        futures: list[tuple[OutboxRecord, asyncio.Future[object]]] = []
        for row in rows:
            try:
                fut = await producer.send(
                    self._producer.settings.physical(row.topic),
                    value=row.value,
                    key=row.key.encode() if row.key is not None else None,
                    headers=kafka_headers(row.headers),
                )
            except KafkaError as exc:
                log.warning("outbox relay: could not enqueue %s: %r", row.event_type, exc)
                break
            futures.append((row, fut))
        results = await asyncio.gather(*(f for _, f in futures), return_exceptions=True)
        failed_keys: set[str | None] = set()
        sent: list[int] = []
        for (row, _), result in zip(futures, results, strict=True):
            if isinstance(result, BaseException):
                failed_keys.add(row.key)
            if row.key in failed_keys:
                # A later row of a key whose earlier row failed is held back (and resent after it),
                # so consumers never see a dossier's events out of order for good.
                continue
            assert row.id is not None
            sent.append(row.id)
            metrics.OUTBOX_PUBLISHED.labels(self.service, row.topic).inc()
        if failed_keys:
            metrics.OUTBOX_PUBLISH_ERRORS.labels(self.service).inc()
        return sent

    async def housekeeping(self) -> None:
        """Refresh backlog gauges and delete sent rows past their retention."""
        async with self._sessions() as session, session.begin():
            count, oldest = (
                await session.execute(select(func.count(), func.min(OutboxRecord.created_at)).where(_UNSENT))
            ).one()
            metrics.OUTBOX_BACKLOG.labels(self.service).set(count)
            age = 0.0
            if oldest is not None:
                oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
                age = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
            metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(age)
            cutoff = datetime.now(UTC) - self._retention
            await session.execute(delete(OutboxRecord).where(col(OutboxRecord.sent_at) < cutoff))

    async def backlog(self) -> int:
        async with self._sessions() as session:
            return int((await session.execute(select(func.count()).where(_UNSENT))).scalar_one())
