"""Payloads of the clock events sla publishes on ``sla.clock.v1``."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.step import StepResult


class ClockStarted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    started_at: AwareDatetime
    appointment_at: AwareDatetime | None = None


class AppointmentChange(StrEnum):
    RESUMED = "resumed"
    """The clock resumed after a pause: the appointment moves out by the paused working time."""
    RESET = "reset"
    """A new appointment after an apology (allowed once per dossier)."""


class AppointmentChanged(BaseModel):
    """The dossier's appointment moved; intake shows the new one to the desk and the citizen."""

    model_config = ConfigDict(extra="forbid")

    appointment_at: AwareDatetime
    previous_appointment_at: AwareDatetime
    change: AppointmentChange
    reason: str | None = Field(default=None, max_length=2000)


class PauseKind(StrEnum):
    SUPPLEMENT = "supplement"
    FINANCIAL_OBLIGATION = "financial_obligation"
    STOPPED = "stopped"
    NOT_COUNTED_STEP = "not_counted_step"
    """A step whose time does not count toward the deadline (tax assessment, the citizen's payment)."""


class ClockPaused(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paused_at: AwareDatetime
    kind: PauseKind
    appointment_at: AwareDatetime | None = Field(default=None, description="Before the pause; moves out on resumption.")


class ClockResumed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resumed_at: AwareDatetime
    kind: PauseKind
    paused_minutes: int = Field(ge=0, description="Working minutes of this pause.")
    appointment_at: AwareDatetime | None = None


class Party(StrEnum):
    """Who a delay is charged to."""

    UNIT = "unit"
    CITIZEN = "citizen"
    INTERCONNECTION = "interconnection"


class Overrun(BaseModel):
    """Working minutes past a budget, and who they are charged to."""

    model_config = ConfigDict(extra="forbid")

    party: Party
    unit_code: str = Field(description="The unit whose step overran, or that the failed handover was to.")
    level: str = Field(description="The unit's level; 'interconnection' or 'citizen' for those parties.")
    minutes: int = Field(ge=0)
    step_seq: int | None = None
    attempt: int | None = None
    step_key: str | None = None


class StepTimer(BaseModel):
    """step.due_soon (the unit's legal notice to the desk is due) and step.overdue."""

    model_config = ConfigDict(extra="forbid")

    step_id: str
    seq: int
    attempt: int
    step_key: str | None = None
    step_name: str | None = None
    unit_code: str
    unit_level: str
    deadline_at: AwareDatetime
    receiving_unit_code: str = Field(description="The desk that received the dossier and answers the citizen.")


class DossierTimer(BaseModel):
    """dossier.due_soon (3 working hours before the appointment, no result yet) and dossier.overdue."""

    model_config = ConfigDict(extra="forbid")

    appointment_at: AwareDatetime
    receiving_unit_code: str
    current_unit_code: str | None = None
    current_unit_level: str | None = None
    responsible: Overrun | None = None


class ApologyRequired(BaseModel):
    """The dossier will miss its appointment: the desk owes the citizen an apology and a new appointment."""

    model_config = ConfigDict(extra="forbid")

    appointment_at: AwareDatetime
    proposed_appointment_at: AwareDatetime
    responsible_unit_code: str
    responsible_level: str
    reason: str = Field(max_length=2000)
    receiving_unit_code: str
    reset_allowed: bool = Field(description="False when the appointment was already reset once.")


class DossierClosed(BaseModel):
    """The dossier's clock ended: resolved (with its outcome), withdrawn or stopped."""

    model_config = ConfigDict(extra="forbid")

    closed_at: AwareDatetime
    ending: str = Field(examples=["resolved", "withdrawn", "stopped"])
    outcome: StepResult | None = Field(default=None, description="Early, on time or late, for a resolved dossier.")
    appointment_at: AwareDatetime | None = None
    used_minutes: int
    paused_minutes: int
    responsible: Overrun | None = Field(default=None, description="For a late dossier: the largest overrun.")
    overruns: list[Overrun] = Field(default_factory=list)
    receiving_unit_code: str
