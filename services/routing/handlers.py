"""Routing's event handlers."""

from __future__ import annotations

from services.routing.domain import StepStatus, plan_one_stop
from services.routing.tables import Step
from shared.bus.handlers import Handlers
from shared.bus.unit_of_work import UnitOfWork
from shared.events import Envelope, new_envelope
from shared.events.dossier import DossierAccepted
from shared.events.step import PlannedStep, RoutePlanned, StepAssigned

PRODUCER = "routing"
handlers = Handlers()


@handlers.on("dossier.accepted")
async def plan_route(uow: UnitOfWork, event: Envelope, accepted: DossierAccepted) -> None:
    steps = plan_one_stop(event.dossier_code, accepted.receiving_unit_code)
    uow.emit(
        new_envelope(
            type="route.planned",
            dossier_code=event.dossier_code,
            producer=PRODUCER,
            occurred_at=event.occurred_at,
            payload=RoutePlanned(
                procedure_code=accepted.procedure_code,
                steps=[PlannedStep(step_id=s.step_id, seq=s.seq, unit_code=s.unit_code) for s in steps],
            ),
        )
    )
    first = steps[0]
    uow.session.add(
        Step(
            id=str(first.step_id),
            dossier_code=event.dossier_code,
            seq=first.seq,
            unit_code=first.unit_code,
            status=StepStatus.ASSIGNED.value,
            assigned_at=accepted.received_at,
        )
    )
    for step in steps[1:]:
        uow.session.add(
            Step(
                id=str(step.step_id),
                dossier_code=event.dossier_code,
                seq=step.seq,
                unit_code=step.unit_code,
                status="planned",
            )
        )
    uow.emit(
        new_envelope(
            type="step.assigned",
            dossier_code=event.dossier_code,
            producer=PRODUCER,
            occurred_at=accepted.received_at,
            payload=StepAssigned(
                step_id=first.step_id,
                seq=first.seq,
                from_unit_code=None,
                to_unit_code=first.unit_code,
                assigned_at=accepted.received_at,
            ),
        )
    )
