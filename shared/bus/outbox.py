"""Writing events into the outbox inside the caller's own database transaction."""

from __future__ import annotations

import uuid
import zlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.bus.tables import OUTBOX_SLOTS, OutboxRecord
from shared.bus.tracing import current_trace_headers, encode_headers
from shared.events.envelope import Envelope
from shared.events.registry import event_type

_OUTBOX = inspect(OutboxRecord).local_table
"""The table, not the mapped class, for a batch: the ORM's bulk path would go over each row again in Python."""


def slot_for(key: str | None) -> int:
    """A stable slot per key (Python's ``hash`` differs between processes)."""
    return zlib.crc32((key or "").encode()) % OUTBOX_SLOTS


def stage_event(session: AsyncSession, envelope: Envelope) -> OutboxRecord:
    """Add the event to the session; it is published only if the transaction commits."""
    topic = event_type(envelope.type).topic.name
    return stage_raw(
        session,
        topic=topic,
        key=envelope.dossier_code,
        value=envelope.to_bytes(),
        event_type=envelope.type,
        event_id=str(envelope.event_id),
        headers=current_trace_headers(),
    )


async def stage_events(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """Stage many events in one statement (a batch of timers firing): the same rows as ``stage_event``, in
    order, without building an ORM object for each. An event the outbox already holds (its id) is left as it
    is: an event made again under the same id (a timer fired again after a rebuild) is staged once."""
    if not envelopes:
        return
    headers = encode_headers(current_trace_headers())  # one context for the whole batch
    rows = [
        _row(event_type(e.type).topic.name, e.dossier_code, e.to_bytes(), e.type, headers, str(e.event_id))
        for e in envelopes
    ]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    await session.execute(dialect.insert(_OUTBOX).on_conflict_do_nothing(index_elements=["event_id"]), rows)


def stage_raw(
    session: AsyncSession,
    *,
    topic: str,
    key: str | None,
    value: bytes,
    event_type: str,
    headers: dict[str, str],
    event_id: str | None = None,
) -> OutboxRecord:
    """Stage any message (dead letters and replays carry someone else's bytes)."""
    row = OutboxRecord(**_row(topic, key, value, event_type, encode_headers(headers), event_id))
    session.add(row)
    return row


def _row(
    topic: str, key: str | None, value: bytes, event_type: str, encoded_headers: str, event_id: str | None
) -> dict[str, Any]:
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "topic": topic,
        "key": key,
        "event_type": event_type,
        "value": value,
        "headers": encoded_headers,
        "slot": slot_for(key),
        "created_at": datetime.now(UTC),
    }
