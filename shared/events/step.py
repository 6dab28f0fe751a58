"""Payloads of the route and step events routing publishes on ``routing.step.v1``."""

from __future__ import annotations

import uuid

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class PlannedStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step_id: uuid.UUID
    seq: int
    unit_code: str


class RoutePlanned(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procedure_code: str
    steps: list[PlannedStep]


class StepAssigned(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step_id: uuid.UUID
    seq: int
    from_unit_code: str | None
    to_unit_code: str
    assigned_at: AwareDatetime
    deadline_at: AwareDatetime | None = None


class DossierResolved(BaseModel):
    """The last processing step finished: the result is ready for the citizen (status 9)."""

    model_config = ConfigDict(extra="forbid")

    resolved_at: AwareDatetime
    resolving_unit_code: str
    outcome: str = Field(default="approved", max_length=40, examples=["approved", "rejected"])
    note: str | None = Field(default=None, max_length=2000)
