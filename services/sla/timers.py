"""The instants at which sla must act on a dossier, from its clock. No I/O.

Each timer has a stable key; the store keeps one row per key with its due instant, so a sweep reads only
what is due (an index on the due instant), fires each once, and a timer whose instant moved (a pause, a
reset) is moved while it has not fired.

- step due soon: one working day before the step's deadline (the unit's legal notice to the desk), or
  halfway through a step shorter than two days;
- step overdue: the minute after the deadline;
- dossier due soon: three working hours before the appointment, while there is no result;
- dossier overdue: the minute after the appointment;
- apology: the instant from which the remaining steps' budgets no longer fit before the appointment
  (at once when they already do not), once per appointment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from services.sla.clock import DossierClock, StepAttempt
from shared.calendar import WorkingCalendar
from shared.events.clock import DossierTimer, Overrun, StepTimer

STEP_DUE_SOON = "step.due_soon"
STEP_OVERDUE = "step.overdue"
DOSSIER_DUE_SOON = "dossier.due_soon"
DOSSIER_OVERDUE = "dossier.overdue"
APOLOGY = "dossier.apology_required"
KINDS = (STEP_DUE_SOON, STEP_OVERDUE, DOSSIER_DUE_SOON, DOSSIER_OVERDUE, APOLOGY)
_FIRINGS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:lienthong:sla:timer-fired")


def fired_event_id(dossier_code: str, key: str, due_at: datetime) -> uuid.UUID:
    """The id of the event a timer publishes when it fires: the same each time that timer fires at that
    instant. A rebuild brings fired timers back pending, and the sweep fires them again; with the same id,
    the outbox and every consumer's inbox take the event once, so no citizen is warned twice."""
    return uuid.uuid5(_FIRINGS, f"{dossier_code}|{key}|{due_at.astimezone(UTC).isoformat()}")


@dataclass(frozen=True)
class TimerPolicy:
    step_notice_minutes: int = 480
    dossier_notice_minutes: int = 180


@dataclass(frozen=True)
class Timer:
    kind: str
    subject: str
    """The step attempt (``step_id:attempt``), or the appointment's generation ('0', 'reset')."""
    due_at: datetime
    payload: BaseModel | None = None
    """The event to publish when it fires, as the history stands; None when it can only be written then
    (the dossier's responsible party and the apology's proposal depend on the instant)."""

    @property
    def key(self) -> str:
        return f"{self.kind}|{self.subject}"


def _after(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0) + timedelta(minutes=1)


def generation(clock: DossierClock) -> str:
    return "reset" if clock.reset is not None else "0"


def remaining_budget(clock: DossierClock, current: StepAttempt) -> int:
    """Working minutes the counting steps after the current one are planned to take."""
    return sum(s.budget_minutes for s in clock.route.values() if s.seq > current.seq and s.counts)


def apology_issued(clock: DossierClock) -> bool:
    """Whether the apology of the current appointment was issued (once before the reset, once after)."""
    if clock.reset_at is None:
        return bool(clock.apologies)
    return any(a.issued_at >= clock.reset_at for a in clock.apologies)


def apology_instant(clock: DossierClock, calendar: WorkingCalendar) -> datetime | None:
    """When the dossier is bound to miss its appointment, given the current step's deadline and the
    remaining budgets; None while it cannot be known (paused, no appointment) or once apologised."""
    current = clock.current
    if (
        clock.ending is not None
        or clock.open_exclusion is not None
        or clock.appointment_at is None
        or current is None
        or current.deadline_at is None
        or apology_issued(clock)
    ):
        return None
    rest = remaining_budget(clock, current)
    if calendar.add_working_minutes(current.deadline_at, rest) > clock.appointment_at:
        return current.assigned_at
    latest_start = calendar.add_working_minutes(clock.appointment_at, -rest) if rest else clock.appointment_at
    return _after(latest_start)


def proposed_appointment(clock: DossierClock, calendar: WorkingCalendar, at: datetime) -> datetime:
    """A new appointment from the remaining budgets: the current step's deadline (or now, when it has
    passed) plus the counting steps after it."""
    current = clock.current
    if current is None or current.deadline_at is None:
        return calendar.add_working_minutes(at, 0)
    return calendar.add_working_minutes(max(at, current.deadline_at), remaining_budget(clock, current))


def step_timer(clock: DossierClock, a: StepAttempt) -> StepTimer:
    assert a.deadline_at is not None
    return StepTimer(
        step_id=a.step_id,
        seq=a.seq,
        attempt=a.attempt,
        step_key=a.key or None,
        step_name=a.name or None,
        unit_code=a.unit_code,
        unit_level=a.unit_level,
        deadline_at=a.deadline_at,
        receiving_unit_code=clock.receiving_unit_code,
    )


def dossier_timer(clock: DossierClock, party: Overrun | None) -> DossierTimer:
    assert clock.appointment_at is not None
    current = clock.current
    return DossierTimer(
        appointment_at=clock.appointment_at,
        receiving_unit_code=clock.receiving_unit_code,
        current_unit_code=current.unit_code if current else None,
        current_unit_level=current.unit_level if current else None,
        responsible=party,
    )


def timers(clock: DossierClock, calendar: WorkingCalendar, policy: TimerPolicy) -> list[Timer]:
    """Every timer the dossier should have now; the ones it should not (a finished step, a paused clock)
    are absent."""
    if clock.ending is not None:
        return []
    found: list[Timer] = []
    for a in clock.attempts:
        if not a.open or a.deadline_at is None or a.paused_now:
            continue
        # A step shorter than the notice is warned halfway through, not the moment it is handed over.
        lead = min(policy.step_notice_minutes, a.budget_minutes // 2)
        notice = calendar.add_working_minutes(a.deadline_at, -lead)
        payload = step_timer(clock, a)
        found.append(Timer(STEP_DUE_SOON, a.ref, max(notice, a.assigned_at), payload))
        found.append(Timer(STEP_OVERDUE, a.ref, _after(a.deadline_at), payload))
    if clock.appointment_at is not None and clock.open_exclusion is None:
        gen = generation(clock)
        notice = calendar.add_working_minutes(clock.appointment_at, -policy.dossier_notice_minutes)
        found.append(Timer(DOSSIER_DUE_SOON, gen, max(notice, clock.started_at), dossier_timer(clock, None)))
        found.append(Timer(DOSSIER_OVERDUE, gen, _after(clock.appointment_at)))
        if (instant := apology_instant(clock, calendar)) is not None:
            found.append(Timer(APOLOGY, gen, instant))
    return found
