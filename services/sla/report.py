"""The period report from dossiers' clocks: each dossier counted on the line of the unit that received it.
No I/O.

For a window [from, to) read as of an instant (no later than ``to``), every clock is the dossier's state
at ``end = min(to, as_of)``:
- carried over: accepted before ``from`` and not ended before it;
- received: accepted in the window, by channel;
- resolved early / on time / late, withdrawn, stopped: ended in the window;
- returned: result handed to the citizen in the window;
- in progress at ``end``: paused (waiting for the citizen), else overdue or on time;
- late by responsible level and unit: resolved late in the window or overdue at ``end``;
- apologies issued in the window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from services.sla.attribution import responsible
from services.sla.clock import DossierClock
from services.sla.documents import Report, UnitFigures
from shared.events.clock import Party, PauseKind
from shared.events.dossier import Channel
from shared.events.step import StepResult

WAITING_FOR_CITIZEN = (PauseKind.SUPPLEMENT, PauseKind.FINANCIAL_OBLIGATION)


def _within(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


def count(figures: UnitFigures, clock: DossierClock, start: datetime, end: datetime) -> None:
    """Add one dossier (its clock as of ``end``) to its unit's line."""
    accepted = clock.accepted_at
    if accepted < start and (clock.ended_at is None or clock.ended_at >= start):
        figures.carried_over += 1
    if _within(accepted, start, end):
        channel = clock.accepted.channel
        if channel is Channel.ONLINE:
            figures.received_online += 1
        elif channel is Channel.POSTAL:
            figures.received_postal += 1
        else:
            figures.received_in_person += 1
    late = False
    if _within(clock.ended_at, start, end):
        if clock.ending == "resolved":
            if clock.outcome is StepResult.EARLY:
                figures.resolved_early += 1
            elif clock.outcome is StepResult.LATE:
                figures.resolved_late += 1
                late = True
            else:
                figures.resolved_on_time += 1
        elif clock.ending == "withdrawn":
            figures.withdrawn += 1
        elif clock.ending == "stopped":
            figures.stopped += 1
    if clock.ending is None and accepted < end:
        if clock.open_exclusion in WAITING_FOR_CITIZEN:
            figures.paused += 1
        elif clock.overdue:
            figures.in_progress_overdue += 1
            late = True
        else:
            figures.in_progress_on_time += 1
    if _within(clock.returned_at, start, end):
        figures.returned += 1
    if late and (party := responsible(clock)) is not None:
        level = party.level if party.party is Party.UNIT else party.party.value
        unit = party.unit_code if party.party is Party.UNIT else party.party.value
        figures.late_by_level[level] = figures.late_by_level.get(level, 0) + 1
        figures.late_by_unit[unit] = figures.late_by_unit.get(unit, 0) + 1
    figures.apologies_issued += sum(1 for a in clock.apologies if _within(a.issued_at, start, end))


def _add(total: UnitFigures, line: UnitFigures) -> None:
    for name, value in vars(line).items():
        if isinstance(value, int):
            setattr(total, name, getattr(total, name) + value)
        elif isinstance(value, dict):
            into: dict[str, int] = getattr(total, name)
            for key, n in value.items():
                into[key] = into.get(key, 0) + n


def build_report(
    clocks: Iterable[DossierClock],
    start: datetime,
    to: datetime,
    as_of: datetime,
    *,
    period: str | None,
    window: str,
    outcome_by: str,
    unit_name: Callable[[str], str],
) -> Report:
    end = min(to, as_of)
    lines: dict[str, UnitFigures] = {}
    for clock in clocks:
        code = clock.receiving_unit_code
        line = lines.get(code) or lines.setdefault(code, UnitFigures(code, unit_name(code)))
        count(line, clock, start, end)
    total = UnitFigures("TOTAL", "Tổng cộng")
    for line in lines.values():
        _add(total, line)
    return Report(start, to, end, period, window, outcome_by, sorted(lines.values(), key=lambda f: f.unit_code), total)
