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

from datetime import datetime

from services.sla.clock_model import (
    Apology,
    DossierClock,
    Ending,
    OutcomeBy,
    Pause,
    PlannedStepInfo,
    StepAttempt,
)
from services.sla.clock_time import compute
from services.sla.facts import Fact, in_business_order
from shared.calendar import WorkingCalendar
from shared.events.clock import ApologyRequired, AppointmentChange, AppointmentChanged, PauseKind
from shared.events.dossier import DossierAccepted, FinancialObligationSet, SupplementRequested
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

__all__ = ["DossierClock", "OutcomeBy", "StepAttempt", "project"]


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
    compute(clock, calendar, outcome_by)
    return clock


def _opened(code: str, fact: Fact, calendar: WorkingCalendar, as_of: datetime) -> DossierClock:
    accepted = fact.payload
    assert isinstance(accepted, DossierAccepted)
    # Intake issues the appointment; without one (a procedure of unknown time) nothing is ever overdue.
    return DossierClock(
        code=code,
        accepted=accepted,
        accepted_at=accepted.received_at,
        started_at=accepted.clock_starts_at or calendar.clock_start(accepted.received_at),
        original_appointment_at=accepted.appointment_at,
        as_of=as_of,
    )


def _attempt(clock: DossierClock, step_id: str, attempt: int) -> StepAttempt | None:
    for a in reversed(clock.attempts):
        if a.step_id == step_id and a.attempt == attempt:
            return a
    return None


def _open_pause(clock: DossierClock, kind: PauseKind) -> Pause | None:
    for pause in reversed(clock.pauses):
        if pause.ended_at is None and pause.kind is kind:
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
                budget_minutes=info.budget_minutes if info else 0,
                counts=info.counts if info else p.deadline_at is not None,
                assigned_at=p.assigned_at,
            )
        )
    elif isinstance(p, StepAccepted):
        if (a := _attempt(clock, str(p.step_id), p.attempt)) is not None:
            a.accepted_at = a.accepted_at or p.accepted_at
    elif isinstance(p, StepCompleted):
        if (a := _attempt(clock, str(p.step_id), p.attempt)) is not None and (a.open or a.end == "closed"):
            a.ended_at, a.end = p.finished_at, "completed"
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
        if not p.before_acceptance and _open_pause(clock, PauseKind.SUPPLEMENT) is None:
            clock.pauses.append(Pause(PauseKind.SUPPLEMENT, at))
    elif isinstance(p, FinancialObligationSet):
        if _open_pause(clock, PauseKind.FINANCIAL_OBLIGATION) is None:
            clock.pauses.append(Pause(PauseKind.FINANCIAL_OBLIGATION, at))
    elif fact.type in ("dossier.supplemented", "dossier.paid"):
        kind = PauseKind.SUPPLEMENT if fact.type == "dossier.supplemented" else PauseKind.FINANCIAL_OBLIGATION
        if (pause := _open_pause(clock, kind)) is not None:
            pause.ended_at = max(at, pause.started_at)
    elif isinstance(p, DossierResolved):
        if clock.ending is None:
            _end(clock, "resolved", p.resolved_at)
    elif fact.type in ("dossier.withdrawn", "dossier.stopped"):
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
