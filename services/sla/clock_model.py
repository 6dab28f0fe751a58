"""The shapes of a dossier's clock and its steps' clocks (filled by clock.py and clock_time.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from shared.events.clock import ApologyRequired, AppointmentChanged, PauseKind
from shared.events.dossier import DossierAccepted
from shared.events.step import StepResult

OutcomeBy = Literal["date", "minute"]
Ending = Literal["resolved", "withdrawn", "stopped"]


@dataclass
class Pause:
    kind: PauseKind
    started_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True)
class PlannedStepInfo:
    seq: int
    key: str
    name: str
    unit_code: str
    unit_level: str
    budget_minutes: int
    counts: bool


@dataclass
class StepAttempt:
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
    accepted_at: datetime | None = None
    ended_at: datetime | None = None
    end: str | None = None
    """'completed', 'sent_back' or 'closed' (the dossier ended while the step was open)."""
    failure_reported: tuple[datetime, datetime] | None = None
    unacknowledged_since: datetime | None = None
    acknowledged_at: datetime | None = None
    # computed by the projection:
    deadline_at: datetime | None = None
    paused_minutes: int = 0
    paused_now: bool = False
    interconnection_minutes: int = 0
    result: StepResult | None = None
    overdue: bool = False
    overrun_minutes: int = 0
    """Past the deadline, charged to the unit."""
    interconnection_overrun_minutes: int = 0
    """Past the deadline, charged to a failed or unacknowledged handover to it."""

    @property
    def open(self) -> bool:
        return self.ended_at is None

    @property
    def ref(self) -> str:
        return f"{self.step_id}:{self.attempt}"


@dataclass(frozen=True)
class HandoverGap:
    """Working time between one step's end and the next one's handover: the platform's or a system's delay."""

    to: StepAttempt
    minutes: int


@dataclass
class Apology:
    issued_at: datetime
    payload: ApologyRequired


@dataclass
class DossierClock:
    code: str
    accepted: DossierAccepted
    accepted_at: datetime
    started_at: datetime
    original_appointment_at: datetime | None
    as_of: datetime
    route: dict[str, PlannedStepInfo] = field(default_factory=dict)
    pauses: list[Pause] = field(default_factory=list)
    attempts: list[StepAttempt] = field(default_factory=list)
    apologies: list[Apology] = field(default_factory=list)
    reset: AppointmentChanged | None = None
    reset_at: datetime | None = None
    ending: Ending | None = None
    ended_at: datetime | None = None
    returned_at: datetime | None = None
    # computed:
    appointment_at: datetime | None = None
    excluded_minutes: int = 0
    paused_minutes: int = 0
    used_minutes: int = 0
    left_minutes: int | None = None
    outcome: StepResult | None = None
    overdue: bool = False
    open_exclusion: PauseKind | None = None
    gaps: list[HandoverGap] = field(default_factory=list)

    @property
    def receiving_unit_code(self) -> str:
        return self.accepted.receiving_unit_code

    @property
    def procedure_code(self) -> str:
        return self.accepted.procedure_code

    @property
    def state(self) -> str:
        """running, paused (an exclusion is open), or how it ended."""
        if self.ending is not None:
            return self.ending
        return "paused" if self.open_exclusion is not None else "running"

    @property
    def current(self) -> StepAttempt | None:
        running = [a for a in self.attempts if a.open]
        return running[-1] if running else None
