"""Working time on a dossier's clock: what is excluded, the appointment, step deadlines, overruns, gaps
between handovers, and early / on time / late. No I/O."""

from __future__ import annotations

from datetime import datetime

from services.sla.clock_model import DossierClock, HandoverGap, OutcomeBy, StepAttempt
from shared.calendar import WorkingCalendar
from shared.calendar.deadlines import due_after, is_past, timeliness
from shared.events.clock import PauseKind


def merged_intervals(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def working_minutes_within(
    calendar: WorkingCalendar, intervals: list[tuple[datetime, datetime]], start: datetime, end: datetime
) -> int:
    """Working minutes of the union of ``intervals`` that lie in [start, end]."""
    total = 0
    for a, b in merged_intervals(intervals):
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            total += calendar.working_minutes_between(lo, hi)
    return total


def _citizen_intervals(clock: DossierClock, end: datetime) -> list[tuple[datetime, datetime]]:
    return [(p.started_at, p.ended_at or end) for p in clock.pauses]


def exclusions(clock: DossierClock, end: datetime) -> list[tuple[datetime, datetime]]:
    spans = _citizen_intervals(clock, end)
    spans += [(a.assigned_at, a.ended_at or end) for a in clock.attempts if not a.counts]
    return spans


def compute(clock: DossierClock, calendar: WorkingCalendar, outcome_by: OutcomeBy) -> None:
    end = clock.ended_at if clock.ended_at is not None else clock.as_of
    end = max(end, clock.started_at)
    excluded = exclusions(clock, end)
    clock.excluded_minutes = working_minutes_within(calendar, excluded, clock.started_at, end)
    clock.paused_minutes = working_minutes_within(calendar, _citizen_intervals(clock, end), clock.started_at, end)
    clock.used_minutes = max(0, calendar.working_minutes_between(clock.started_at, end) - clock.excluded_minutes)
    if clock.ending is None:
        open_pause = next((p for p in reversed(clock.pauses) if p.ended_at is None), None)
        current = clock.current
        if open_pause is not None:
            clock.open_exclusion = open_pause.kind
        elif current is not None and not current.counts:
            clock.open_exclusion = PauseKind.NOT_COUNTED_STEP
    # While an exclusion is open its length is unknown: the appointment stands where it was when it opened.
    frozen_at = _open_block_start(excluded, end) if clock.open_exclusion is not None else end
    clock.appointment_at = appointment_at(clock, calendar, frozen_at, excluded)
    if clock.appointment_at is not None:
        clock.left_minutes = calendar.working_minutes_between(frozen_at, clock.appointment_at)
        if clock.ending == "resolved":
            clock.outcome = timeliness(end, clock.appointment_at, outcome_by, calendar)
        elif clock.ending is None:
            clock.overdue = is_past(frozen_at, clock.appointment_at)
    for a in clock.attempts:
        _compute_attempt(clock, a, calendar, end)
    _handover_gaps(clock, calendar)


def _open_block_start(spans: list[tuple[datetime, datetime]], end: datetime) -> datetime:
    """The start of the run of exclusions that reaches ``end`` (still open)."""
    blocks = merged_intervals(spans)
    return blocks[-1][0] if blocks and blocks[-1][1] >= end else end


def appointment_at(
    clock: DossierClock, calendar: WorkingCalendar, end: datetime, exclusions: list[tuple[datetime, datetime]]
) -> datetime | None:
    if clock.reset is not None and clock.reset_at is not None:
        base, since = clock.reset.appointment_at, clock.reset_at
    elif clock.original_appointment_at is not None:
        base, since = clock.original_appointment_at, clock.started_at
    else:
        return None
    moved = working_minutes_within(calendar, exclusions, since, end)
    return calendar.add_working_minutes(base, moved) if moved else base


def _compute_attempt(clock: DossierClock, a: StepAttempt, calendar: WorkingCalendar, end: datetime) -> None:
    a_end = a.ended_at or end
    citizen = _citizen_intervals(clock, a_end)
    a.paused_minutes = working_minutes_within(calendar, citizen, a.assigned_at, a_end)
    a.paused_now = a.open and any(p.ended_at is None for p in clock.pauses)
    lost: list[tuple[datetime, datetime]] = []
    if a.failure_reported is not None:
        lost.append(a.failure_reported)
    if a.unacknowledged_since is not None:
        # Lost until the system acknowledged it or the unit took the step in hand, whichever came first.
        settled = min(t for t in (a.acknowledged_at, a.accepted_at, a_end) if t is not None)
        lost.append((a.unacknowledged_since, max(settled, a.unacknowledged_since)))
    a.interconnection_minutes = working_minutes_within(calendar, lost, a.assigned_at, a_end)
    if not a.counts:
        return
    base = due_after(calendar, a.assigned_at, a.budget_minutes)
    a.deadline_at = calendar.add_working_minutes(base, a.paused_minutes) if a.paused_minutes else base
    if a.end in ("completed", "sent_back"):
        a.result = timeliness(a_end, a.deadline_at)
    elif a.open and not a.paused_now:
        a.overdue = is_past(a_end, a.deadline_at)
    past = is_past(a_end, a.deadline_at) and (a.end != "closed" or clock.ending == "resolved")
    if past:
        overrun = calendar.working_minutes_between(a.deadline_at, a_end)
        a.interconnection_overrun_minutes = min(overrun, a.interconnection_minutes)
        a.overrun_minutes = overrun - a.interconnection_overrun_minutes


def _handover_gaps(clock: DossierClock, calendar: WorkingCalendar) -> None:
    ordered = sorted(clock.attempts, key=lambda a: (a.assigned_at, a.seq, a.attempt))
    previous_end: datetime | None = clock.started_at
    for a in ordered:
        if previous_end is not None and a.assigned_at > previous_end:
            minutes = calendar.working_minutes_between(previous_end, a.assigned_at)
            if minutes > 0:
                clock.gaps.append(HandoverGap(a, minutes))
        previous_end = a.ended_at if a.end in ("completed", "sent_back") else None
