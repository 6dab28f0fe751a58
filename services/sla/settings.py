from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from shared.settings import ServiceSettings


class SlaSettings(ServiceSettings):
    service_name: ClassVar[str] = "sla"
    default_port: ClassVar[int] = 8003

    outcome_by: Literal["date", "minute"] = Field(
        default="date",
        description="How a finished dossier's outcome is decided: by the appointment's date (the national "
        "index) or by minute. Steps are always compared by minute.",
    )
    step_notice_working_minutes: int = Field(
        default=480, ge=0, le=4800, description="step.due_soon this long before a step's deadline (1 working day)."
    )
    dossier_notice_working_minutes: int = Field(
        default=180, ge=0, le=4800, description="dossier.due_soon this long before the appointment (3 hours)."
    )
    sweep_interval_s: float = Field(
        default=15.0, gt=0, le=3600, description="How often due timers are looked for (warnings fire within it)."
    )
    gauge_interval_s: float = Field(default=30.0, gt=0, le=3600, description="How often the gauges are recounted.")
    sweep_batch_size: int = Field(default=500, ge=1, le=10_000)
    quarter_window: Literal["calendar", "15th"] = Field(
        default="calendar",
        description="Report periods: calendar quarters, or from the 15th of the previous quarter's last month "
        "to the 14th of this quarter's last month.",
    )
