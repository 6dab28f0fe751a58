"""Routing's time rules: step ids, deadlines, pauses and timeliness. No I/O here.

Working time comes from the calendar (pure computation); statuses and transitions are in lifecycle.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from shared.calendar import WorkingCalendar
from shared.calendar.deadlines import due_after, is_past, minute_of
from shared.events.step import StepResult

RESULT_LABELS_VI = {StepResult.EARLY: "trước hạn", StepResult.ON_TIME: "đúng hạn", StepResult.LATE: "quá hạn"}


@dataclass(frozen=True)
class PlannedStep:
    step_id: uuid.UUID
    seq: int
    unit_code: str


def step_id_for(dossier_code: str, seq: int) -> uuid.UUID:
    """Deterministic, so planning the same dossier twice can never create two different steps."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"lienthong:step:{dossier_code}:{seq}")


def handover_id_for(step_id: uuid.UUID | str, attempt: int) -> uuid.UUID:
    """One handover (a row of the process control slip) per assignment of a step."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"lienthong:handover:{step_id}:{attempt}")


def plan_one_stop(dossier_code: str, receiving_unit_code: str) -> list[PlannedStep]:
    """A one-stop dossier is decided by the receiving unit itself: a single step."""
    return [PlannedStep(step_id_for(dossier_code, 1), 1, receiving_unit_code)]


def first_handover_at(calendar: WorkingCalendar, accepted_at: datetime) -> datetime:
    """A dossier accepted after 15:00 is forwarded at the next working day's start."""
    return calendar.clock_start(accepted_at)


def step_deadline(
    calendar: WorkingCalendar, assigned_at: datetime, budget_minutes: int, counts: bool
) -> datetime | None:
    """A counting step is due its budget of working minutes after its handover (a step with no budget when
    its working day closes); others have no deadline."""
    return due_after(calendar, assigned_at, budget_minutes) if counts else None


def is_overdue(at: datetime, deadline_at: datetime | None) -> bool:
    """Whether a step still running at ``at`` is past its deadline (by minute)."""
    return deadline_at is not None and is_past(at, deadline_at)


@dataclass(frozen=True)
class Resumption:
    paused_minutes: int
    deadline_at: datetime | None


def resume(
    calendar: WorkingCalendar, paused_at: datetime, resumed_at: datetime, deadline_at: datetime | None
) -> Resumption:
    """Time waiting for the citizen is not the unit's: the deadline moves out by the paused working time."""
    paused = max(0, calendar.working_minutes_between(paused_at, resumed_at))
    if deadline_at is None or paused == 0:
        return Resumption(paused, deadline_at)
    return Resumption(paused, calendar.add_working_minutes(deadline_at, paused))


@dataclass(frozen=True)
class TimeLeft:
    minutes: int
    overdue: bool

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 2)


def time_left(
    calendar: WorkingCalendar, now: datetime, deadline_at: datetime | None, paused_at: datetime | None = None
) -> TimeLeft | None:
    """Working minutes until the deadline, negative when overdue; frozen while the step is paused."""
    if deadline_at is None:
        return None
    at = minute_of(paused_at or now)
    return TimeLeft(calendar.working_minutes_between(at, deadline_at), is_overdue(at, deadline_at))


def interconnection_minutes(
    calendar: WorkingCalendar,
    handed_over_at: datetime,
    now: datetime,
    *,
    acknowledged_at: datetime | None = None,
    accepted_at: datetime | None = None,
    finished_at: datetime | None = None,
) -> int:
    """Working minutes an external handover spent in the interconnection: from the handover until it was
    acknowledged (or the unit accepted it, or it ended), or until ``now`` while nobody has. This time is the
    interconnection's, not the unit's."""
    ends = [t for t in (acknowledged_at, accepted_at, finished_at) if t is not None]
    return max(0, calendar.working_minutes_between(handed_over_at, min(ends) if ends else now))
