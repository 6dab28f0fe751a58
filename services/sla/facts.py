"""A dossier's history as sla keeps it: the events of intake and routing that move its clocks, and sla's
own decisions (the apology, the one reset of the appointment). Every clock is computed from this list
alone, so the live state, an ``as_of`` query and a replay agree.

Events of intake and routing travel on different topics and may arrive in any order between them; the
history is read in business order: occurred_at, then the order in which things happen at one instant
(a step is completed before the next is assigned), then arrival.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from shared.events.registry import event_type

FACT_TYPES: tuple[str, ...] = (
    "dossier.accepted",
    "dossier.supplement_requested",
    "dossier.supplemented",
    "dossier.financial_obligation_set",
    "dossier.paid",
    "dossier.withdrawn",
    "dossier.stopped",
    "dossier.result_returned",
    "route.planned",
    "step.assigned",
    "step.accepted",
    "step.completed",
    "step.sent_back",
    "handover.failed",
    "handover.unacknowledged",
    "handover.acknowledged",
    "dossier.resolved",
    "dossier.apology_required",
    "dossier.appointment_changed",
)
"""What sla records. Step pauses are not among them: a unit's pause comes back from intake as the
dossier's, and the dossier's pauses stop the running step's clock."""

_AT_ONE_INSTANT: dict[str, int] = {
    "dossier.accepted": 0,
    "route.planned": 1,
    "dossier.supplemented": 2,
    "dossier.paid": 2,
    "step.completed": 3,
    "step.sent_back": 3,
    "handover.failed": 3,
    "handover.acknowledged": 3,
    "dossier.resolved": 4,
    "step.assigned": 5,
    "step.accepted": 6,
    "handover.unacknowledged": 6,
    "dossier.supplement_requested": 7,
    "dossier.financial_obligation_set": 7,
    "dossier.withdrawn": 8,
    "dossier.stopped": 8,
    "dossier.result_returned": 9,
    "dossier.apology_required": 10,
    "dossier.appointment_changed": 11,
}


@dataclass(frozen=True)
class Fact:
    type: str
    occurred_at: datetime
    payload: BaseModel
    position: int = 0
    """Arrival order: breaks ties between facts of the same instant and kind."""


def parse_fact(type_: str, occurred_at: datetime, payload: dict[str, Any], position: int = 0) -> Fact:
    model = event_type(type_).payload
    return Fact(type_, occurred_at, model.model_validate(payload), position)


def in_business_order(facts: list[Fact]) -> list[Fact]:
    return sorted(facts, key=lambda f: (f.occurred_at, _AT_ONE_INSTANT.get(f.type, 5), f.position))


def is_fact(type_: str) -> bool:
    return type_ in FACT_TYPES
