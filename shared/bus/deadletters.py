"""Dead letters: recorded in the consumer's database, published to its dead-letter topic through the
outbox, listed, and replayed to that consumer group alone once their cause is fixed."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from shared.bus import metrics
from shared.bus.outbox import stage_raw
from shared.bus.tables import DeadLetter
from shared.bus.tracing import headers_dict
from shared.bus.unit_of_work import UnitOfWorkFactory
from shared.db import SessionMaker
from shared.events.envelope import Envelope
from shared.events.topics import dead_letter_topic, replay_topic

log = logging.getLogger(__name__)

MAX_ERROR_TEXT = 2000
# What the dead-letter topic can carry: the producer refuses a request over 1 MiB, and an outbox row it can
# never publish would hold the outbox forever. A bigger value is kept whole in the table; the topic gets its
# first bytes and the original size in a header.
MAX_PUBLISHED_VALUE = 512 * 1024
PREVIEW_BYTES = 4096
MAX_KEY = 200  # dead_letter.key's column

# Headers added to a dead-lettered message; the original headers (traceparent…) are kept.
H_ORIGIN_TOPIC = "dlq.origin.topic"
H_ORIGIN_PARTITION = "dlq.origin.partition"
H_ORIGIN_OFFSET = "dlq.origin.offset"
H_ERROR_CLASS = "dlq.error.class"
H_ERROR_MESSAGE = "dlq.error.message"
H_ATTEMPTS = "dlq.attempts"
H_CONSUMER = "dlq.consumer"
H_FAILED_AT = "dlq.failed_at"
H_REPLAY_OF = "dlq.replay_of"
H_VALUE_TRUNCATED = "dlq.value.truncated"
H_KEY_TRUNCATED = "dlq.key.truncated"


def decoded_key(raw: bytes | None) -> str | None:
    """A message's key as text (keys are dossier codes; bytes that are not UTF-8 are replaced, not refused)."""
    return raw.decode("utf-8", "replace") if raw is not None else None


@dataclass(frozen=True)
class FailedMessage:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: dict[str, str]

    @classmethod
    def from_record(cls, record: Any, topic: str) -> FailedMessage:
        """``topic`` is the logical name (without the deployment's namespace)."""
        return cls(
            topic=topic,
            partition=record.partition,
            offset=record.offset,
            key=decoded_key(record.key),
            value=record.value if record.value is not None else b"",
            headers=headers_dict(record.headers),
        )


class DeadLetterWriter:
    def __init__(self, consumer: str, units: UnitOfWorkFactory) -> None:
        self._consumer = consumer
        self._units = units

    async def write(
        self, failed: FailedMessage, exc: BaseException, *, attempts: int, envelope: Envelope | None
    ) -> None:
        error = f"{exc}"[:MAX_ERROR_TEXT] or type(exc).__name__
        now = datetime.now(UTC)
        origin = failed.headers.get(H_ORIGIN_TOPIC, failed.topic)
        headers = {
            **failed.headers,
            H_ORIGIN_TOPIC: origin,
            H_ORIGIN_PARTITION: str(failed.partition),
            H_ORIGIN_OFFSET: str(failed.offset),
            H_ERROR_CLASS: type(exc).__name__,
            H_ERROR_MESSAGE: error[:500],
            H_ATTEMPTS: str(attempts),
            H_CONSUMER: self._consumer,
            H_FAILED_AT: now.isoformat(),
        }
        key = failed.key
        if key is not None and len(key) > MAX_KEY:
            headers[H_KEY_TRUNCATED] = str(len(key))
            key = key[:MAX_KEY]
        published = failed.value
        if len(published) > MAX_PUBLISHED_VALUE:
            headers[H_VALUE_TRUNCATED] = str(len(published))
            published = published[:PREVIEW_BYTES]
        async with self._units.sessions() as session, session.begin():
            session.add(
                DeadLetter(
                    consumer=self._consumer,
                    topic=failed.topic,
                    partition=failed.partition,
                    offset=failed.offset,
                    key=key,
                    value=failed.value,
                    headers=json.dumps(failed.headers, sort_keys=True),
                    event_id=str(envelope.event_id) if envelope else None,
                    event_type=envelope.type if envelope else None,
                    error_class=type(exc).__name__,
                    error=error,
                    attempts=attempts,
                    failed_at=now,
                )
            )
            stage_raw(
                session,
                topic=dead_letter_topic(self._consumer),
                key=key,
                value=published,
                event_type="dead_letter",
                headers=headers,
            )
        self._units.wake_relay()


async def list_dead_letters(
    sessions: SessionMaker, consumer: str | None = None, *, include_replayed: bool = False, limit: int = 100
) -> list[DeadLetter]:
    query = select(DeadLetter).order_by(col(DeadLetter.id)).limit(limit)
    if consumer:
        query = query.where(col(DeadLetter.consumer) == consumer)
    if not include_replayed:
        query = query.where(col(DeadLetter.replayed_at).is_(None))
    async with sessions() as session:
        return list((await session.execute(query)).scalars())


async def replay_dead_letters(sessions: SessionMaker, consumer: str, ids: list[int] | None = None) -> list[int]:
    """Re-publish dead letters to the consumer's replay topic (through the outbox) and mark them replayed.

    Only that consumer group reads its replay topic, so other consumers never see the message twice.
    If it fails again it comes back as a new dead letter.
    """
    now = datetime.now(UTC)
    replayed: list[int] = []
    async with sessions() as session, session.begin():
        query = (
            select(DeadLetter)
            .where(col(DeadLetter.consumer) == consumer, col(DeadLetter.replayed_at).is_(None))
            .order_by(col(DeadLetter.id))
        )
        if ids:
            query = query.where(col(DeadLetter.id).in_(ids))
        for letter in (await session.execute(query)).scalars():
            if len(letter.value) > MAX_PUBLISHED_VALUE:
                size = len(letter.value)
                log.warning("dead letter %d is %d bytes: too big for the bus, left pending", letter.id, size)
                continue
            headers = {
                **json.loads(letter.headers),
                H_REPLAY_OF: str(letter.id),
                H_ORIGIN_TOPIC: letter.topic,
            }
            stage_raw(
                session,
                topic=replay_topic(consumer),
                key=letter.key,
                value=letter.value,
                event_type=letter.event_type or "replay",
                headers=headers,
            )
            letter.replayed_at = now
            replayed.append(letter.id)
    return replayed


async def refresh_pending_gauge(sessions: SessionMaker, consumer: str) -> int:
    async with sessions() as session:
        count = (
            await session.execute(
                select(func.count()).where(
                    col(DeadLetter.consumer) == consumer,
                    col(DeadLetter.replayed_at).is_(None),
                )
            )
        ).scalar_one()
    metrics.DEAD_LETTERS_PENDING.labels(consumer).set(count)
    return int(count)
