"""Events that arrive before the dossier's contact: parked in the transaction that consumed them, applied
in the one that brings the contact. Exactly once either way: the inbox holds the parked event's id, and the
parked row is deleted as it is applied."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlmodel import col, select

from services.notify.tables import ParkedEvent
from shared.bus.handlers import Handlers
from shared.bus.unit_of_work import UnitOfWork
from shared.events import Envelope

log = logging.getLogger(__name__)


async def park(uow: UnitOfWork, event: Envelope) -> None:
    existing = await uow.session.exec(select(ParkedEvent).where(col(ParkedEvent.event_id) == str(event.event_id)))
    if existing.first() is not None:
        return
    log.info("dossier %s: %s arrived before its contact; parked", event.dossier_code, event.type)
    uow.session.add(
        ParkedEvent(
            event_id=str(event.event_id),
            dossier_code=event.dossier_code,
            event_type=event.type,
            envelope=event.model_dump_json(),
            parked_at=datetime.now(UTC),
        )
    )


async def unpark(uow: UnitOfWork, dossier_code: str, handlers: Handlers) -> int:
    """Apply the dossier's parked events, oldest first, now that its contact is known."""
    rows = (
        await uow.session.exec(
            select(ParkedEvent).where(col(ParkedEvent.dossier_code) == dossier_code).order_by(col(ParkedEvent.id))
        )
    ).all()
    for row in rows:
        await uow.session.delete(row)
        event = Envelope.model_validate_json(row.envelope)
        registration = handlers.get(event.type)
        if registration is None:
            continue
        log.info("dossier %s: applying the parked %s", dossier_code, event.type)
        await registration.handler(uow, event, registration.payload.model_validate(event.payload))
    return len(rows)
