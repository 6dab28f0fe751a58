"""Payloads of the route, step and handover events routing publishes on ``routing.step.v1``.

Every step event names the unit that holds the step and its level (``unit_code``, ``unit_level``), so a
consumer can attribute time to a unit and level without a catalogue; ``attempt`` counts the step's
assignments (a step sent back to is assigned again). The envelope's ``occurred_at`` is the time of the
business action, back-dated on imports.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class StepResult(StrEnum):
    """How a finish compares with its deadline (trước hạn / đúng hạn / quá hạn): a step's by minute, a
    dossier's by date or by minute as configured."""

    EARLY = "early"
    ON_TIME = "on_time"
    LATE = "late"


class PlannedStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step_id: uuid.UUID
    seq: int
    unit_code: str
    key: str | None = Field(default=None, description="Stable id of the step within its route.")
    name: str | None = Field(default=None, description="Vietnamese name, e.g. 'Thẩm định hồ sơ'.")
    unit_level: str | None = Field(default=None, examples=["land_office", "tax", "commune"])
    budget_minutes: int | None = Field(default=None, ge=0, description="Working minutes (480 = 1 working day).")
    counts: bool | None = Field(default=None, description="Counts toward the dossier's deadline (has a deadline).")
    external: bool | None = Field(default=None, description="Handled in an external system (e.g. the land software).")
    external_system: str | None = Field(
        default=None, description="Which external system.", examples=["land_registry", "tax"]
    )


class RoutePlanned(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procedure_code: str
    steps: list[PlannedStep]
    map: str | None = Field(default=None, description="Map of local government the units were resolved in.")
    route_version: str | None = Field(default=None, description="Version of the catalogue's route, pinned.")


class StepAssigned(BaseModel):
    """A step was handed over (forwarded, or sent back to) to the unit responsible for it."""

    model_config = ConfigDict(extra="forbid")

    step_id: uuid.UUID
    seq: int
    from_unit_code: str | None
    to_unit_code: str
    assigned_at: AwareDatetime
    deadline_at: AwareDatetime | None = None
    from_unit_level: str | None = None
    to_unit_level: str | None = None
    attempt: int = Field(default=1, ge=1, description="1 for the first assignment; more after a send-back.")
    step_key: str | None = None
    sent_back: bool = Field(default=False, description="Handed back by a later step, not forwarded.")


class StepEvent(BaseModel):
    """What every step event carries: the step and the unit (with its level) that holds it."""

    model_config = ConfigDict(extra="forbid")

    step_id: uuid.UUID
    seq: int
    attempt: int = Field(default=1, ge=1)
    step_key: str | None = None
    unit_code: str
    unit_level: str


class StepAccepted(StepEvent):
    """The unit acknowledged receipt of the step."""

    accepted_at: AwareDatetime


class StepCompleted(StepEvent):
    outcome: str = Field(max_length=40, examples=["approved", "rejected"])
    note: str | None = Field(default=None, max_length=2000)
    assigned_at: AwareDatetime
    finished_at: AwareDatetime
    deadline_at: AwareDatetime | None = None
    result: StepResult | None = Field(default=None, description="None for a step without a deadline.")
    paused_minutes: int = Field(default=0, ge=0, description="Working minutes the step waited for the citizen.")


class StepSentBack(StepEvent):
    """The unit handed the dossier back to an earlier step (which is assigned again)."""

    reason: str = Field(max_length=2000)
    to_step_id: uuid.UUID
    to_seq: int
    to_step_key: str | None = None
    to_unit_code: str
    to_unit_level: str
    sent_back_at: AwareDatetime


class StepSupplementRequested(StepEvent):
    """The unit needs more from the citizen: the step pauses until intake records the supplement."""

    items: list[str]
    reason: str = Field(max_length=2000)


class StepFinancialObligationSet(StepEvent):
    """Tax notice or fees: the step pauses until intake records the payment."""

    items: list[str]
    amount_vnd: int | None = Field(default=None, ge=0)
    reason: str = Field(default="", max_length=2000)


class StepResumed(StepEvent):
    """The citizen supplied or paid: the step runs again, its deadline moved by the paused working time."""

    resumed_at: AwareDatetime
    paused_minutes: int = Field(ge=0, description="Working minutes of this pause.")
    deadline_at: AwareDatetime | None = None


class HandoverFailed(StepEvent):
    """The handover to the receiving unit (``unit_code``) failed: reported by the unit (it reached it broken
    or late), or by the platform when the unit's external system refused the delivery for good."""

    from_unit_code: str | None = None
    from_unit_level: str | None = None
    handed_over_at: AwareDatetime
    reported_at: AwareDatetime
    reason: str = Field(max_length=2000)
    reported_by: str | None = Field(
        default=None, description="'unit' (the receiving unit) or 'platform' (the outbound connector)."
    )
    external_system: str | None = None
    delivery_id: uuid.UUID | None = Field(default=None, description="The connector's delivery, if any.")


class HandoverUnacknowledged(StepEvent):
    """An external system has not acknowledged a handover in time (published by the connector)."""

    external_system: str | None = None
    handed_over_at: AwareDatetime
    waited_minutes: int = Field(ge=0, description="Working minutes since the handover.")
    delivery_id: uuid.UUID | None = Field(default=None, description="The connector's delivery (Idempotency-Key).")


class HandoverAcknowledged(StepEvent):
    """An external system acknowledged a handover (published by the connector)."""

    external_system: str | None = None
    handed_over_at: AwareDatetime
    acknowledged_at: AwareDatetime
    external_reference: str | None = Field(default=None, max_length=200)
    delivery_id: uuid.UUID | None = Field(default=None, description="The connector's delivery (Idempotency-Key).")
    interconnection_minutes: int | None = Field(
        default=None, ge=0, description="Working minutes from the handover to the acknowledgement."
    )


class DossierResolved(BaseModel):
    """The last processing step finished: the result is ready for the citizen (status 9)."""

    model_config = ConfigDict(extra="forbid")

    resolved_at: AwareDatetime
    resolving_unit_code: str
    outcome: str = Field(default="approved", max_length=40, examples=["approved", "rejected"])
    note: str | None = Field(default=None, max_length=2000)
    resolving_unit_level: str | None = None
