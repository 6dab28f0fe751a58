"""A run of a poll's messages applied in one database transaction, each in a savepoint of its own.

One transaction per message cost a begin, an inbox lookup and a commit each, the most of a handler's time on
SQLite. Here the inbox is read once for the run, each message's inbox row and effect are written inside a
savepoint, and one commit makes them all durable before their offsets are committed: the same exactly-once
effect. The run stops at the first message whose handler raises; the messages before it are committed, and
it and those behind it go back to the one-by-one path with its retries and dead letters, in order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from shared.bus import metrics
from shared.bus.deadletters import FailedMessage
from shared.bus.handlers import Registration
from shared.bus.tables import InboxRecord
from shared.bus.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events.envelope import Envelope
from shared.failpoints import failpoint
from shared.outages import is_outage

log = logging.getLogger(__name__)
RESULT_ATTRIBUTE = "lienthong.result"


@dataclass(frozen=True)
class Work:
    """A decoded message with a handler: what is left to do is its effect."""

    failed: FailedMessage
    envelope: Envelope
    registration: Registration
    payload: Any

    @property
    def event_id(self) -> str:
        return str(self.envelope.event_id)


Traced = Callable[[Work], AbstractContextManager[Any]]


@dataclass(frozen=True)
class RunLimits:
    """How much one transaction may hold. On SQLite it holds the service's only write lock, so an API request
    waits for it: the time bound keeps that wait short whatever the handlers cost."""

    max_messages: int = 64
    max_seconds: float = 0.25


@dataclass(frozen=True)
class RunOutcome:
    applied: int
    """The leading messages that took effect, as handled or as duplicates."""
    stopped_by: Work | None = None
    """The message whose handler raised, or the first one when the transaction could not commit."""
    error: Exception | None = None
    """What its handler raised (its first attempt); None when the transaction as a whole failed."""


async def apply_run(
    consumer: str, units: UnitOfWorkFactory, works: Sequence[Work], traced: Traced, limits: RunLimits
) -> RunOutcome:
    """Apply the leading messages of ``works`` in one transaction, within ``limits``."""
    failed: Work | None = None
    error: Exception | None = None
    results: list[tuple[Work, str, UnitOfWork | None]] = []
    try:
        async with units.sessions() as session, session.begin():
            ids = [w.event_id for w in works[: limits.max_messages]]
            found = await session.execute(
                select(InboxRecord.event_id).where(
                    col(InboxRecord.consumer) == consumer, col(InboxRecord.event_id).in_(ids)
                )
            )
            seen = set(found.scalars())
            deadline = time.monotonic() + limits.max_seconds
            for work in works[: limits.max_messages]:
                if results and time.monotonic() > deadline:
                    break
                if work.event_id in seen:
                    results.append((work, "duplicate", None))
                    continue
                uow = UnitOfWork(session)
                try:
                    with traced(work) as span:
                        async with session.begin_nested():
                            session.add(InboxRecord.of(consumer, work.envelope))
                            await work.registration.handler(uow, work.envelope, work.payload)
                        span.set_attribute(RESULT_ATTRIBUTE, "handled")
                except Exception as exc:
                    log.debug("consumer %s: %s left to the one-by-one path (%r)", consumer, work.envelope.type, exc)
                    failed, error = work, exc
                    break
                seen.add(work.event_id)
                results.append((work, "handled", uow))
    except Exception as exc:
        (log.warning if is_outage(exc) else log.exception)(
            "consumer %s: a run of %d message(s) did not commit (%r); one by one instead", consumer, len(results), exc
        )
        return RunOutcome(0, works[0])
    failpoint("consumer.after_db_commit")
    if results:
        metrics.CONSUMER_RUN_SIZE.labels(consumer).observe(len(results))
    for work, result, handled in results:
        if handled is not None:
            units.committed(handled)
        metrics.EVENTS_PROCESSED.labels(consumer, work.failed.topic, result).inc()
    return RunOutcome(len(results), failed, error)
