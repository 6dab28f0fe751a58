"""What sla's API answers with."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.events.clock import Overrun, PauseKind
from shared.events.step import StepResult


def hours(minutes: int | None) -> float | None:
    return None if minutes is None else round(minutes / 60, 2)


class StepClockPublic(BaseModel):
    step_id: str
    seq: int
    attempt: int
    key: str
    name: str
    unit_code: str
    unit_level: str
    from_unit_code: str | None
    budget_minutes: int
    counts: bool
    assigned_at: datetime
    started_at: datetime = Field(description="The same as assigned_at: the step's clock starts at its handover.")
    accepted_at: datetime | None
    deadline_at: datetime | None = Field(description="None for a step that does not count toward the deadline.")
    ended_at: datetime | None
    ending: str | None = Field(description="completed, sent_back, or closed (the dossier ended first).")
    result: StepResult | None = Field(description="Early, on time or late, by minute, once finished.")
    overdue: bool
    paused: bool
    paused_minutes: int
    interconnection_minutes: int = Field(description="Working minutes lost in a failed or unacknowledged handover.")
    overrun_minutes: int = Field(description="Working minutes past the deadline charged to the unit.")
    interconnection_overrun_minutes: int = Field(description="… charged to the interconnection.")


class ClockPublic(BaseModel):
    dossier_code: str
    as_of: datetime
    state: str = Field(description="running, paused, resolved, withdrawn or stopped.")
    procedure_code: str
    receiving_unit_code: str
    accepted_at: datetime
    started_at: datetime
    original_appointment_at: datetime | None
    appointment_at: datetime | None
    reset_at: datetime | None
    ended_at: datetime | None
    outcome: StepResult | None
    overdue: bool
    used_minutes: int
    left_minutes: int | None = Field(description="Working minutes to the appointment; negative when overdue.")
    left_hours: float | None
    paused_minutes: int = Field(description="Working minutes waiting for the citizen.")
    excluded_minutes: int = Field(description="Paused time and steps that do not count: the appointment's move.")
    paused_for: PauseKind | None
    responsible: Overrun | None = Field(description="For a late or overdue dossier: the largest overrun.")
    overruns: list[Overrun]
    apologies: int
    steps: list[StepClockPublic]


class OverdueStep(BaseModel):
    dossier_code: str
    step_id: str
    seq: int
    attempt: int
    name: str
    unit_code: str
    unit_level: str
    deadline_at: datetime


class OverdueDossier(BaseModel):
    dossier_code: str
    receiving_unit_code: str
    appointment_at: datetime
    current_unit_code: str | None
    current_unit_level: str | None


class OverduePage(BaseModel):
    as_of: datetime
    steps: list[OverdueStep]
    dossiers: list[OverdueDossier]
