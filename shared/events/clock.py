"""Payloads of the clock events sla publishes on ``sla.clock.v1``."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


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
