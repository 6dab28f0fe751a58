"""Routing's rules. No I/O here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class StepStatus(StrEnum):
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    COMPLETED = "completed"


@dataclass(frozen=True)
class PlannedStep:
    step_id: uuid.UUID
    seq: int
    unit_code: str


def step_id_for(dossier_code: str, seq: int) -> uuid.UUID:
    """Deterministic, so planning the same dossier twice can never create two different steps."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"lienthong:step:{dossier_code}:{seq}")


def plan_one_stop(dossier_code: str, receiving_unit_code: str) -> list[PlannedStep]:
    """A one-stop dossier is decided by the receiving unit itself: a single step."""
    return [PlannedStep(step_id_for(dossier_code, 1), 1, receiving_unit_code)]
