"""Request and response bodies of routing's agency API."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from shared.web.strings import NOT_BLANK

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=2000)]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None


class StepOutcome(StrEnum):
    APPROVED = "approved"
    """The step is done: the dossier goes on to the next step (or is resolved if it was the last)."""
    REJECTED = "rejected"
    """The dossier cannot be granted: the route ends here and the dossier is resolved as rejected."""


class OpenStatus(StrEnum):
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    PAUSED = "paused_for_citizen"


class BackDated(BaseModel):
    """``occurred_at`` may be given only with the ``import`` scope (legacy records and replays)."""

    occurred_at: AwareDatetime | None = None


class AcceptIn(BackDated):
    model_config = ConfigDict(extra="forbid")

    note: OptionalText = None


class CompleteIn(BackDated):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"outcome": "approved", "note": "Đủ điều kiện"}]}
    )

    outcome: StepOutcome = StepOutcome.APPROVED
    note: OptionalText = None


class SendBackIn(BackDated):
    """Name the earlier step by its key or its number (one of them)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"to_step_key": "appraise", "reason": "Sai diện tích thửa đất"}]},
    )

    to_step_key: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=60)] | None
    ) = None
    to_seq: int | None = Field(default=None, ge=1, le=1000)
    reason: Text


class SupplementIn(BackDated):
    model_config = ConfigDict(extra="forbid")

    items: list[Text] = Field(min_length=1, max_length=50)
    reason: Text


class FinancialObligationIn(BackDated):
    """The tax notice (thông báo nộp thuế) or fees: what is due and how much."""

    model_config = ConfigDict(extra="forbid")

    items: list[Text] = Field(min_length=1, max_length=50)
    amount_vnd: int | None = Field(default=None, ge=0, le=10**13)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


class FailureIn(BackDated):
    """The handover reached the unit broken (missing files, unreadable data) or late."""

    model_config = ConfigDict(extra="forbid")

    reason: Text


class StepPublic(BaseModel):
    step_id: str
    dossier_code: str
    seq: int
    key: str
    name: str
    unit_code: str
    unit_name: str | None
    unit_level: str
    budget_minutes: int = Field(description="Working minutes (480 = 1 working day).")
    counts: bool = Field(description="Counts toward the dossier's deadline; a step that does not has no deadline.")
    external: bool
    status: str
    attempt: int = Field(description="Assignments so far: more than 1 after a send-back.")
    assigned_at: datetime | None
    accepted_at: datetime | None
    deadline_at: datetime | None
    paused_at: datetime | None
    pause_kind: str | None
    finished_at: datetime | None
    outcome: str | None
    note: str | None
    time_left_minutes: int | None = Field(description="Working minutes to the deadline; negative when overdue.")
    time_left_hours: float | None
    overdue: bool
    allowed_actions: list[str]
    links: dict[str, str]


class InboxItem(StepPublic):
    procedure_code: str
    procedure_name: str


class InboxPage(BaseModel):
    unit_code: str
    items: list[InboxItem]
    next_cursor: str | None


class RoutePublic(BaseModel):
    dossier_code: str
    procedure_code: str
    procedure_name: str
    receiving_unit_code: str
    map: str
    route_version: str
    status: str
    planned_at: datetime
    closed_at: datetime | None
    outcome: str | None
    steps: list[StepPublic]


class FailureReport(BaseModel):
    reported_at: datetime
    reported_by: str | None
    reason: str | None


class HandoverRow(BaseModel):
    """A row of the process control slip: who handed the dossier to whom, when, and how the step ended."""

    n: int = Field(description="Row number on the slip.")
    step_id: str
    seq: int
    step_key: str
    step_name: str
    attempt: int
    kind: str = Field(description="forwarded, or sent_back (handed back by a later step)")
    handing_over_unit_code: str | None
    handing_over_unit_name: str | None
    handing_over_unit_level: str | None
    receiving_unit_code: str
    receiving_unit_name: str | None
    receiving_unit_level: str
    handed_over_at: datetime
    accepted_at: datetime | None
    deadline_at: datetime | None
    finished_at: datetime | None
    ended: str | None = Field(description="completed, sent_back or cancelled; null while the step is open")
    outcome: str | None
    result: str | None = Field(description="early, on_time or late (by minute); null without a deadline")
    result_label: str | None = Field(description="trước hạn, đúng hạn or quá hạn")
    paused_minutes: int = Field(description="Working minutes waiting for the citizen (not the unit's).")
    reason: str | None = Field(description="Why it was sent back to this unit")
    note: str | None
    failure: FailureReport | None
    external_system: str | None = Field(
        default=None, description="The external system the step was handed over to through the connector."
    )
    acknowledged_at: datetime | None = Field(
        default=None, description="When the external system acknowledged the handover (its acceptance)."
    )
    external_reference: str | None = Field(default=None, description="The external system's own reference.")
    interconnection_minutes: int | None = Field(
        default=None,
        description="Working minutes the handover spent in the interconnection (handed over → acknowledged, or "
        "→ now while unacknowledged): the interconnection's time, not the unit's. Null for a handover between "
        "units.",
    )
    unit_minutes: int | None = Field(
        default=None,
        description="Working minutes the unit itself took (handed over → finished, less the citizen's pauses "
        "and the interconnection's time); null while the step is open.",
    )


class HandoverSlip(BaseModel):
    dossier_code: str
    procedure_code: str
    procedure_name: str
    map: str
    route_version: str
    rows: list[HandoverRow]


class DeliveryRef(BaseModel):
    """Which handover a callback is about: the delivery id (the Idempotency-Key it was sent with), or the
    step id and attempt."""

    delivery_id: uuid.UUID | None = None
    step_id: uuid.UUID | None = None
    attempt: int | None = Field(default=None, ge=1)


class AcknowledgementIn(DeliveryRef):
    model_config = ConfigDict(extra="forbid")

    external_reference: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    acknowledged_at: AwareDatetime


class CompletionIn(DeliveryRef):
    model_config = ConfigDict(extra="forbid")

    outcome: StepOutcome = StepOutcome.APPROVED
    note: OptionalText = None
    external_reference: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    finished_at: AwareDatetime


class ExternalCallbackOut(BaseModel):
    delivery_id: str
    dossier_code: str
    step_id: str
    attempt: int
    external_system: str
    delivery_status: str
    acknowledged_at: datetime | None
    completed_at: datetime | None
    step_status: str
