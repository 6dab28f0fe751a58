"""sla's event handlers. Events of intake and routing arrive on different topics, so a step may be
seen before its dossier: each handler stands on its own."""

from __future__ import annotations

from services.sla.tables import DossierClock, StepClock
from shared.bus.handlers import Handlers
from shared.bus.unit_of_work import UnitOfWork
from shared.events import Envelope, new_envelope
from shared.events.clock import ClockStarted
from shared.events.dossier import DossierAccepted
from shared.events.step import StepAssigned

PRODUCER = "sla"
handlers = Handlers()


@handlers.on("dossier.accepted")
async def start_dossier_clock(uow: UnitOfWork, event: Envelope, accepted: DossierAccepted) -> None:
    if await uow.session.get(DossierClock, event.dossier_code) is not None:
        return
    uow.session.add(
        DossierClock(
            dossier_code=event.dossier_code,
            procedure_code=accepted.procedure_code,
            receiving_unit_code=accepted.receiving_unit_code,
            started_at=accepted.received_at,
            appointment_at=accepted.appointment_at,
            state="running",
        )
    )
    uow.emit(
        new_envelope(
            type="clock.started",
            dossier_code=event.dossier_code,
            producer=PRODUCER,
            occurred_at=accepted.received_at,
            payload=ClockStarted(started_at=accepted.received_at, appointment_at=accepted.appointment_at),
        )
    )


@handlers.on("step.assigned")
async def start_step_clock(uow: UnitOfWork, event: Envelope, assigned: StepAssigned) -> None:
    if await uow.session.get(StepClock, str(assigned.step_id)) is not None:
        return
    uow.session.add(
        StepClock(
            step_id=str(assigned.step_id),
            dossier_code=event.dossier_code,
            seq=assigned.seq,
            unit_code=assigned.to_unit_code,
            started_at=assigned.assigned_at,
            deadline_at=assigned.deadline_at,
        )
    )
