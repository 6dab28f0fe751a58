"""When the clock starts and when the result is due, from the statutory time. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.calendar import WorkingCalendar
from shared.calendar.deadlines import due_after
from shared.events.dossier import StatutoryTime, TimeUnit


@dataclass(frozen=True)
class Appointment:
    clock_starts_at: datetime
    due_at: datetime


def appointment_for(calendar: WorkingCalendar, accepted_at: datetime, statutory: StatutoryTime) -> Appointment:
    """Acceptance after 15:00 starts the clock on the next working day. Working-day procedures add
    working time; calendar-day ones add days to the clock's start (so the 15:00 rule applies to them
    too) and move off days off. Zero days means "within the day": due when the clock-start day's last
    working period ends."""
    start = calendar.clock_start(accepted_at)
    if statutory.unit is TimeUnit.WORKING_DAYS or statutory.amount == 0:
        due = due_after(calendar, start, calendar.days_to_minutes(statutory.amount))
    else:
        due = calendar.add_calendar_days(start, round(statutory.amount))
    return Appointment(clock_starts_at=start, due_at=due)
