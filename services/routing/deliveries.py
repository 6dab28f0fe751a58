"""Writing a handover's delivery to its external system, in the unit of work of the assignment.

The row is the queue: the connector (connector.py) sends it after the commit and never inside a consumer's
transaction. Its body is fixed here, so every retry sends the same bytes under the same Idempotency-Key.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from services.routing.connector_rules import DeliveryStatus, delivery_id_for
from services.routing.context import Routing
from services.routing.tables import Handover, HandoverDelivery, Route, Step
from shared.bus.unit_of_work import UnitOfWork
from shared.calendar import VIETNAM_TZ


def _local(at: datetime | None) -> str | None:
    return at.astimezone(VIETNAM_TZ).isoformat() if at is not None else None


def delivery_body(routing: Routing, step: Step, handover: Handover, route: Route | None, delivery_id: str) -> str:
    """What the external system receives: the dossier, the step, the procedure, the unit, the deadline, and
    where to acknowledge and complete."""
    return json.dumps(
        {
            "delivery_id": delivery_id,
            "external_system": step.external_system,
            "dossier_code": step.dossier_code,
            "procedure": {
                "code": route.procedure_code if route else None,
                "name": route.procedure_name if route else None,
            },
            "step": {
                "id": step.id,
                "seq": step.seq,
                "attempt": step.attempt,
                "key": step.key,
                "name": step.name,
            },
            "unit_code": step.unit_code,
            "unit_level": step.unit_level,
            "handed_over_at": _local(handover.handed_over_at),
            "deadline_at": _local(step.deadline_at),
            "callbacks": {
                "acknowledgement": routing.external.acknowledgement_url,
                "completion": routing.external.completion_url,
            },
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


async def open_delivery(uow: UnitOfWork, routing: Routing, step: Step, handover: Handover) -> HandoverDelivery:
    """Queue the handover of an external step: due to be sent now, due to be acknowledged the window's
    working minutes after the handover."""
    delivery_id = str(delivery_id_for(step.id, step.attempt))
    route = await uow.session.get(Route, step.dossier_code)
    now = datetime.now(UTC)
    delivery = HandoverDelivery(
        id=delivery_id,
        handover_id=handover.id,
        step_id=step.id,
        attempt=step.attempt,
        dossier_code=step.dossier_code,
        external_system=step.external_system or "",
        body=delivery_body(routing, step, handover, route, delivery_id),
        status=DeliveryStatus.PENDING.value,
        next_attempt_at=now,
        ack_due_at=routing.calendar.add_working_minutes(handover.handed_over_at, routing.external.ack_window_minutes)
        if routing.external.ack_window_minutes
        else handover.handed_over_at,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(delivery)
    uow.after_commit(routing.deliveries_due.ring)
    return delivery
