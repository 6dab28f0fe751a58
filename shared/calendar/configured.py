"""The calendar a deployment configures: its working periods and intake cutoff as text from settings,
or round the clock for drills and load runs."""

from __future__ import annotations

from datetime import time
from pathlib import Path

from shared.calendar.days_off import DaysOff
from shared.calendar.schedule import Period
from shared.calendar.vietnam import vietnam_calendar
from shared.calendar.working_calendar import WorkingCalendar

DEFAULT_WORKING_PERIODS = "07:00-11:30,13:30-17:00"
DEFAULT_INTAKE_CUTOFF = "15:00"
# A period cannot end at 24:00 (datetime.time has no such value): the last minute of each day is left out.
ROUND_THE_CLOCK: tuple[Period, ...] = ((time(0, 0), time(23, 59)),)


def parse_clock(text: str, what: str = "time") -> time:
    hours, sep, minutes = text.strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"{what}: expected HH:MM, got {text!r}")
    return time(int(hours), int(minutes))


def parse_periods(text: str) -> tuple[Period, ...]:
    """``07:00-11:30,13:30-17:00`` → the periods (order and overlap are checked by the schedule)."""
    periods: list[Period] = []
    for part in text.split(","):
        start, sep, end = part.partition("-")
        if not sep:
            raise ValueError(f"working periods: expected HH:MM-HH:MM, got {part!r}")
        periods.append((parse_clock(start, "working periods"), parse_clock(end, "working periods")))
    return tuple(periods)


def configured_calendar(
    overrides: Path | None,
    *,
    working_periods: str = DEFAULT_WORKING_PERIODS,
    intake_cutoff: str = DEFAULT_INTAKE_CUTOFF,
    round_the_clock: bool = False,
) -> WorkingCalendar:
    if round_the_clock:
        return WorkingCalendar(DaysOff(weekend=frozenset()), periods=ROUND_THE_CLOCK, intake_cutoff=time(23, 59))
    return vietnam_calendar(
        overrides, periods=parse_periods(working_periods), intake_cutoff=parse_clock(intake_cutoff, "intake cutoff")
    )
