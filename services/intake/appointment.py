"""When the clock starts and when the result is due, from the statutory time. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from shared.calendar import WorkingCalendar
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
    if statutory.amount == 0:
        closing = calendar.schedule.closing
        local = start.astimezone(calendar.tz)
        due = datetime.combine(local.date(), time(closing // 60, closing % 60), tzinfo=calendar.tz)
    elif statutory.unit is TimeUnit.WORKING_DAYS:
        due = calendar.add_working_days(start, statutory.amount)
    else:
        due = calendar.add_calendar_days(start, round(statutory.amount))
    return Appointment(clock_starts_at=start, due_at=due)
