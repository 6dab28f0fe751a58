"""sla's event handlers: every event that moves a clock is kept as a fact of its dossier, and the dossier
is recomputed from its facts. Events of intake and routing arrive on different topics, so a step may be
seen before its dossier's acceptance: its fact waits in the history until the acceptance comes."""

from __future__ import annotations

from pydantic import BaseModel

from services.sla.context import Sla
from services.sla.facts import FACT_TYPES
from services.sla.metrics import HANDOVERS_UNACKNOWLEDGED
from services.sla.projection import refresh, stage_fact
from shared.bus.handlers import Handler, Handlers
from shared.bus.unit_of_work import UnitOfWork
from shared.events import Envelope
from shared.events.registry import event_type
from shared.events.step import HandoverUnacknowledged
from shared.events.topics import SLA_CLOCK


def build_handlers(sla: Sla) -> Handlers:
    handlers = Handlers()

    async def record(uow: UnitOfWork, event: Envelope, payload: BaseModel) -> None:
        stage_fact(uow, event.dossier_code, event.event_id, event.type, event.occurred_at, payload)
        if isinstance(payload, HandoverUnacknowledged):
            HANDOVERS_UNACKNOWLEDGED.labels(payload.unit_code).inc()
        await refresh(uow, sla, event.dossier_code, since=event.occurred_at)

    handler: Handler = record
    for type_ in FACT_TYPES:
        if event_type(type_).topic is not SLA_CLOCK:  # sla's own decisions are recorded where they are made
            handlers.on(type_)(handler)
    return handlers
