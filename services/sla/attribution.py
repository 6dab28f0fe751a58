"""Whose time made a dossier late. No I/O.

Every step that finished (or is still running) past its deadline is charged to its unit and level, except
the part of it lost in a failed or unacknowledged handover, which is the interconnection's; working time
between one step's end and the next handover is the interconnection's too. Time waiting for the citizen is
excluded from every clock, so it never shows as an overrun (it is kept as the dossier's paused time).
A late dossier's responsible party is the one with the largest overrun (ties: the later step); with no
overrun at all (the budgets did not fit, e.g. after a send-back) it is the unit that held the dossier when
its appointment passed.
"""

from __future__ import annotations

from datetime import datetime

from services.sla.clock import DossierClock, StepAttempt
from shared.events.clock import Overrun, Party
from shared.events.step import StepResult

INTERCONNECTION = "interconnection"


def _item(party: Party, a: StepAttempt, minutes: int) -> Overrun:
    return Overrun(
        party=party,
        unit_code=a.unit_code,
        level=a.unit_level if party is Party.UNIT else INTERCONNECTION,
        minutes=minutes,
        step_seq=a.seq,
        attempt=a.attempt,
        step_key=a.key or None,
    )


def overruns(clock: DossierClock) -> list[Overrun]:
    """Every overrun, in the order of the handovers they belong to (a handover's lost time before its
    unit's own overrun)."""
    items: list[tuple[datetime, int, Overrun]] = []
    for a in clock.attempts:
        if a.interconnection_overrun_minutes:
            items.append((a.assigned_at, 0, _item(Party.INTERCONNECTION, a, a.interconnection_overrun_minutes)))
        if a.overrun_minutes:
            items.append((a.assigned_at, 1, _item(Party.UNIT, a, a.overrun_minutes)))
    for gap in clock.gaps:
        items.append((gap.to.assigned_at, 0, _item(Party.INTERCONNECTION, gap.to, gap.minutes)))
    items.sort(key=lambda i: (i[0], i[1]))
    return [item for _, _, item in items]


def is_late(clock: DossierClock) -> bool:
    return clock.outcome is StepResult.LATE or clock.overdue


def responsible(
    clock: DossierClock, items: list[Overrun] | None = None, *, even_if_on_time: bool = False
) -> Overrun | None:
    """The party a late dossier is attributed to; None while it is on time (unless asked for the would-be
    party, as an apology before the appointment needs). ``items``: its overruns, when already at hand."""
    if not (even_if_on_time or is_late(clock)):
        return None
    items = overruns(clock) if items is None else items
    if items:
        return items[max(range(len(items)), key=lambda i: (items[i].minutes, i))]
    holder = _holder_at_appointment(clock)
    if holder is None:
        return None
    return _item(Party.UNIT, holder, 0)


def _holder_at_appointment(clock: DossierClock) -> StepAttempt | None:
    counting = [a for a in clock.attempts if a.counts]
    if not counting:
        return clock.attempts[-1] if clock.attempts else None
    due = clock.appointment_at
    if due is not None:
        for a in reversed(counting):
            if a.assigned_at <= due and (a.ended_at is None or a.ended_at > due):
                return a
    return counting[-1]
