"""Deadlines in working time and how a finish compares with one: the rules intake's appointments,
routing's step deadlines and sla's clocks share."""

from __future__ import annotations

from datetime import datetime, time
from typing import Literal

from shared.calendar.working_calendar import WorkingCalendar
from shared.events.step import StepResult

Granularity = Literal["minute", "date"]


def due_after(calendar: WorkingCalendar, start: datetime, minutes: int) -> datetime:
    """``minutes`` working minutes after ``start``; zero means "within the day": due when the working day
    of ``start`` (or the next one, outside working time) closes."""
    if minutes == 0:
        day = calendar.next_working_instant(start).astimezone(calendar.tz).date()
        closing = calendar.schedule.closing
        return datetime.combine(day, time(closing // 60, closing % 60), tzinfo=calendar.tz)
    return calendar.add_working_minutes(start, minutes)


def minute_of(at: datetime) -> datetime:
    """The minute ``at`` falls in (seconds dropped): deadlines and finishes compare by minute."""
    return at.replace(second=0, microsecond=0)


def timeliness(
    finished_at: datetime, due_at: datetime, by: Granularity = "minute", calendar: WorkingCalendar | None = None
) -> StepResult:
    """Early, on time or late: by minute (finishing within the due minute is on time), or by the local date
    (the national index compares dates; ``calendar`` gives the time zone)."""
    if by == "date":
        if calendar is None:
            raise ValueError("comparing by date needs the calendar's time zone")
        finished = finished_at.astimezone(calendar.tz).date().toordinal()
        due = due_at.astimezone(calendar.tz).date().toordinal()
    else:
        finished, due = int(minute_of(finished_at).timestamp()), int(minute_of(due_at).timestamp())
    if finished == due:
        return StepResult.ON_TIME
    return StepResult.EARLY if finished < due else StepResult.LATE


def is_past(at: datetime, due_at: datetime) -> bool:
    """Whether ``at`` is past ``due_at`` by minute (an open step or dossier is then overdue)."""
    return minute_of(at) > minute_of(due_at)
