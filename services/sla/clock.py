"""A dossier's clock and its steps' clocks at an instant, computed from its history alone. No I/O.

- The dossier's clock starts at acceptance (the next working day's start after 15:00); its appointment is
  the one intake issued. Time waiting for the citizen (supplement, payment), a stop, and the time of steps
  that do not count (tax assessment, the citizen's payment) are *excluded*: the appointment moves out by
  their working time. While an exclusion is open the appointment moves with it, so a dossier paused
  before its appointment is never overdue, and one paused after it stays overdue.
- After the one reset the desk may make, the new appointment replaces the old and only later exclusions
  move it.
- Each assignment of a step (an *attempt*; a step sent back to is assigned again) has its own clock: its
  budget of working minutes from the handover, moved out by the dossier's pauses within it. Steps that do
  not count have no deadline.
- Time lost in a handover is the interconnection's: from the handover to the receiving unit's report of
  a failure, from the handover to an external system's late acknowledgement (or until now, or the step's
  end, when it never came), and working time between one step's end and the next one's handover.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Literal

from services.sla.facts import Fact, in_business_order
from shared.calendar import WorkingCalendar
from shared.events.clock import ApologyRequired, AppointmentChange, AppointmentChanged, Outcome, PauseKind
from shared.events.dossier import (
    DossierAccepted,
    FinancialObligationSet,
    SupplementRequested,
    TimeUnit,
)
from shared.events.step import (
    DossierResolved,
    HandoverAcknowledged,
    HandoverFailed,
    HandoverUnacknowledged,
    RoutePlanned,
    StepAccepted,
    StepAssigned,
    StepCompleted,
    StepSentBack,
)

Interval = tuple[datetime, datetime | None]
OutcomeBy = Literal["date", "minute"]
Ending = Literal["resolved", "withdrawn", "stopped"]


@dataclass
class Pause:
    kind: PauseKind
    started_at: datetime
    ended_at: datetime | None = None
    reason: str = ""
    unit_code: str | None = None


@dataclass(frozen=True)
class PlannedStepInfo:
    seq: int
    key: str
    name: str
    unit_code: str
    unit_level: str
    budget_minutes: int
    counts: bool
    external: bool


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
    from_unit_level: str | None
    budget_minutes: int
    counts: bool
    external: bool
    assigned_at: datetime
    accepted_at: datetime | None = None
    ended_at: datetime | None = None
    end: str | None = None
    """'completed', 'sent_back' or 'closed' (the dossier ended while the step was open)."""
    outcome: str | None = None
    failure_reported: tuple[datetime, datetime] | None = None
    unacknowledged_since: datetime | None = None
    acknowledged_at: datetime | None = None
    # computed by the projection:
    deadline_at: datetime | None = None
    paused_minutes: int = 0
    paused_now: bool = False
    interconnection_minutes: int = 0
    result: Outcome | None = None
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
    resolved: DossierResolved | None = None
    returned_at: datetime | None = None
    # computed:
    appointment_at: datetime | None = None
    excluded_minutes: int = 0
    paused_minutes: int = 0
    used_minutes: int = 0
    left_minutes: int | None = None
    outcome: Outcome | None = None
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

    @property
    def statutory_minutes(self) -> int | None:
        statutory = self.accepted.statutory
        if statutory is None or statutory.unit is not TimeUnit.WORKING_DAYS:
            return None
        return round(statutory.amount * 480)


def project(
    code: str, facts: list[Fact], calendar: WorkingCalendar, as_of: datetime, outcome_by: OutcomeBy = "date"
) -> DossierClock | None:
    """The dossier's clock as it stood at ``as_of``, from the facts that had happened by then; None before
    its acceptance."""
    known = [f for f in in_business_order(facts) if f.occurred_at <= as_of]
    clock: DossierClock | None = None
    pending: list[Fact] = []
    for fact in known:
        if isinstance(fact.payload, DossierAccepted):
            if clock is None:
                clock = _opened(code, fact, calendar, as_of)
            continue
        if clock is None:
            pending.append(fact)  # a step event seen before its dossier's acceptance
            continue
        _apply(clock, fact)
    if clock is None:
        return None
    for fact in pending:
        _apply(clock, fact)
    _compute(clock, calendar, outcome_by)
    return clock


def _opened(code: str, fact: Fact, calendar: WorkingCalendar, as_of: datetime) -> DossierClock:
    accepted = fact.payload
    assert isinstance(accepted, DossierAccepted)
    started = accepted.clock_starts_at or calendar.clock_start(accepted.received_at)
    appointment = accepted.appointment_at
    if appointment is None and accepted.statutory is not None:
        if accepted.statutory.unit is TimeUnit.WORKING_DAYS:
            appointment = calendar.add_working_minutes(started, round(accepted.statutory.amount * 480))
        else:
            appointment = calendar.add_calendar_days(started, round(accepted.statutory.amount))
    return DossierClock(
        code=code,
        accepted=accepted,
        accepted_at=accepted.received_at,
        started_at=started,
        original_appointment_at=appointment,
        as_of=as_of,
    )


def _attempt(clock: DossierClock, step_id: str, attempt: int) -> StepAttempt | None:
    for a in reversed(clock.attempts):
        if a.step_id == step_id and a.attempt == attempt:
            return a
    return None


def _open_pause(clock: DossierClock, kinds: tuple[PauseKind, ...]) -> Pause | None:
    for pause in reversed(clock.pauses):
        if pause.ended_at is None and pause.kind in kinds:
            return pause
    return None


_AFTER_THE_END = frozenset({"dossier.result_returned", "step.completed", "handover.failed", "handover.acknowledged"})
"""What still counts once the dossier has ended; a late assignment or a resolution racing a withdrawal not."""


def _apply(clock: DossierClock, fact: Fact) -> None:
    p, at = fact.payload, fact.occurred_at
    if clock.ending is not None and fact.type not in _AFTER_THE_END:
        return
    if isinstance(p, RoutePlanned):
        for s in p.steps:
            clock.route[str(s.step_id)] = PlannedStepInfo(
                s.seq,
                s.key or "",
                s.name or "",
                s.unit_code,
                s.unit_level or "",
                s.budget_minutes or 0,
                True if s.counts is None else s.counts,
                bool(s.external),
            )
    elif isinstance(p, StepAssigned):
        info = clock.route.get(str(p.step_id))
        clock.attempts.append(
            StepAttempt(
                step_id=str(p.step_id),
                seq=p.seq,
                attempt=p.attempt,
                key=p.step_key or (info.key if info else ""),
                name=info.name if info else "",
                unit_code=p.to_unit_code,
                unit_level=p.to_unit_level or (info.unit_level if info else ""),
                from_unit_code=p.from_unit_code,
                from_unit_level=p.from_unit_level,
                budget_minutes=info.budget_minutes if info else 0,
                counts=info.counts if info else p.deadline_at is not None,
                external=info.external if info else False,
                assigned_at=p.assigned_at,
            )
        )
    elif isinstance(p, StepAccepted):
        if (a := _attempt(clock, str(p.step_id), p.attempt)) is not None:
            a.accepted_at = a.accepted_at or p.accepted_at
    elif isinstance(p, StepCompleted):
        if (a := _attempt(clock, str(p.step_id), p.attempt)) is not None and (a.open or a.end == "closed"):
            a.ended_at, a.end, a.outcome = p.finished_at, "completed", p.outcome
    elif isinstance(p, StepSentBack):
        if (a := _attempt(clock, str(p.step_id), p.attempt)) is not None and a.open:
            a.ended_at, a.end = p.sent_back_at, "sent_back"
    elif isinstance(p, HandoverFailed):
        if (a := _attempt(clock, str(p.step_id), p.attempt)) is not None and a.failure_reported is None:
            a.failure_reported = (p.handed_over_at, p.reported_at)
    elif isinstance(p, HandoverUnacknowledged):
        if (a := _attempt(clock, str(p.step_id), p.attempt)) is not None and a.acknowledged_at is None:
            a.unacknowledged_since = a.unacknowledged_since or p.handed_over_at
    elif isinstance(p, HandoverAcknowledged):
        if (a := _attempt(clock, str(p.step_id), p.attempt)) is not None:
            a.acknowledged_at = a.acknowledged_at or p.acknowledged_at
    elif isinstance(p, SupplementRequested):
        if not p.before_acceptance and _open_pause(clock, (PauseKind.SUPPLEMENT,)) is None:
            clock.pauses.append(Pause(PauseKind.SUPPLEMENT, at, reason=p.reason, unit_code=p.requested_by_unit_code))
    elif isinstance(p, FinancialObligationSet):
        if _open_pause(clock, (PauseKind.FINANCIAL_OBLIGATION,)) is None:
            clock.pauses.append(
                Pause(PauseKind.FINANCIAL_OBLIGATION, at, reason=p.reason, unit_code=p.requested_by_unit_code)
            )
    elif fact.type in ("dossier.supplemented", "dossier.paid"):
        kind = PauseKind.SUPPLEMENT if fact.type == "dossier.supplemented" else PauseKind.FINANCIAL_OBLIGATION
        if (pause := _open_pause(clock, (kind,))) is not None:
            pause.ended_at = max(at, pause.started_at)
    elif isinstance(p, DossierResolved):
        if clock.ending is None:
            clock.resolved = p
            _end(clock, "resolved", p.resolved_at)
    elif fact.type in ("dossier.withdrawn", "dossier.stopped"):
        if fact.type == "dossier.stopped":
            clock.pauses.append(Pause(PauseKind.STOPPED, at, at, reason=getattr(p, "reason", "")))
        _end(clock, "withdrawn" if fact.type == "dossier.withdrawn" else "stopped", at)
    elif fact.type == "dossier.result_returned":
        clock.returned_at = clock.returned_at or at
    elif isinstance(p, ApologyRequired):
        clock.apologies.append(Apology(at, p))
    elif isinstance(p, AppointmentChanged) and p.change is AppointmentChange.RESET and clock.reset is None:
        clock.reset, clock.reset_at = p, at


def _end(clock: DossierClock, ending: Ending, at: datetime) -> None:
    clock.ending, clock.ended_at = ending, at
    for pause in clock.pauses:
        if pause.ended_at is None:
            pause.ended_at = max(at, pause.started_at)
    for a in clock.attempts:
        if a.open:
            a.ended_at, a.end = max(at, a.assigned_at), "closed"


# ---- computing the clocks -------------------------------------------------------------------------------


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
    return [(p.started_at, p.ended_at or end) for p in clock.pauses if p.kind is not PauseKind.STOPPED]


def exclusions(clock: DossierClock, end: datetime) -> list[tuple[datetime, datetime]]:
    spans = _citizen_intervals(clock, end)
    spans += [(a.assigned_at, a.ended_at or end) for a in clock.attempts if not a.counts]
    return spans


def _compute(clock: DossierClock, calendar: WorkingCalendar, outcome_by: OutcomeBy) -> None:
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
            clock.outcome = compare(end, clock.appointment_at, calendar, outcome_by)
        elif clock.ending is None:
            clock.overdue = _minute(frozen_at) > _minute(clock.appointment_at)
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


def step_deadline(calendar: WorkingCalendar, assigned_at: datetime, budget_minutes: int) -> datetime:
    """Its budget of working minutes after the handover; a step with no budget is due when its working day
    closes (as routing has it)."""
    if budget_minutes == 0:
        day = calendar.next_working_instant(assigned_at).astimezone(calendar.tz).date()
        closing = calendar.schedule.closing
        return datetime.combine(day, time(closing // 60, closing % 60), tzinfo=calendar.tz)
    return calendar.add_working_minutes(assigned_at, budget_minutes)


def _compute_attempt(clock: DossierClock, a: StepAttempt, calendar: WorkingCalendar, end: datetime) -> None:
    a_end = a.ended_at or end
    citizen = _citizen_intervals(clock, a_end)
    a.paused_minutes = working_minutes_within(calendar, citizen, a.assigned_at, a_end)
    a.paused_now = a.open and any(p.ended_at is None for p in clock.pauses)
    lost: list[tuple[datetime, datetime]] = []
    if a.failure_reported is not None:
        lost.append(a.failure_reported)
    if a.unacknowledged_since is not None:
        lost.append((a.unacknowledged_since, a.acknowledged_at or a_end))
    a.interconnection_minutes = working_minutes_within(calendar, lost, a.assigned_at, a_end)
    if not a.counts:
        return
    base = step_deadline(calendar, a.assigned_at, a.budget_minutes)
    a.deadline_at = calendar.add_working_minutes(base, a.paused_minutes) if a.paused_minutes else base
    if a.end in ("completed", "sent_back"):
        a.result = compare(a_end, a.deadline_at, calendar, "minute")
    elif a.open and not a.paused_now:
        a.overdue = _minute(a_end) > _minute(a.deadline_at)
    past = _minute(a_end) > _minute(a.deadline_at) and (a.end != "closed" or clock.ending == "resolved")
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


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def compare(finished: datetime, due: datetime, calendar: WorkingCalendar, by: OutcomeBy) -> Outcome:
    """Early, on time or late: by minute, or by the local date (the national index compares dates)."""
    if by == "date":
        f, d = finished.astimezone(calendar.tz).date().toordinal(), due.astimezone(calendar.tz).date().toordinal()
    else:
        f, d = int(_minute(finished).timestamp()), int(_minute(due).timestamp())
    if f < d:
        return Outcome.EARLY
    return Outcome.ON_TIME if f == d else Outcome.LATE
