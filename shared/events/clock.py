"""Payloads of the clock events sla publishes on ``sla.clock.v1``."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict


class ClockStarted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    started_at: AwareDatetime
    appointment_at: AwareDatetime | None = None
