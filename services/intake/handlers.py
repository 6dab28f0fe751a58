"""Intake's event handlers: what routing (and later sla) tell it, so its view of a dossier stays current."""

from __future__ import annotations

import json

from services.intake.commands import change_status
from services.intake.domain import DossierStatus
from services.intake.lifecycle import Action
from services.intake.tables import Dossier, TimelineEntry
from shared.bus.handlers import Handlers, PermanentError
from shared.bus.unit_of_work import UnitOfWork
from shared.events import Envelope
from shared.events.step import RoutePlanned

handlers = Handlers()


async def _dossier(uow: UnitOfWork, code: str) -> Dossier:
    dossier = await uow.session.get(Dossier, code)
    if dossier is None:
        raise PermanentError(f"intake has no dossier {code!r}")
    return dossier


@handlers.on("route.planned")
async def processing_started(uow: UnitOfWork, event: Envelope, planned: RoutePlanned) -> None:
    dossier = await _dossier(uow, event.dossier_code)
    if DossierStatus(dossier.status) is DossierStatus.ACCEPTED:
        change_status(dossier, None, Action.START_PROCESSING, event.occurred_at)
    uow.session.add(
        TimelineEntry(
            dossier_code=dossier.code,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            type=event.type,
            status=dossier.status,
            actor="routing",
            detail=json.dumps({"steps": len(planned.steps)}),
        )
    )
