"""Working time for deadlines: days off, working periods, add and measure working time."""

from shared.calendar.days_off import DaysOff
from shared.calendar.overrides import CalendarOverrides, OverridesError, load_overrides, parse_overrides
from shared.calendar.schedule import DEFAULT_PERIODS, DailySchedule, Period
from shared.calendar.vietnam import shipped_overrides, vietnam_calendar, vietnam_days_off
from shared.calendar.working_calendar import VIETNAM_TZ, DayIndex, WorkingCalendar

__all__ = [
    "DEFAULT_PERIODS",
    "VIETNAM_TZ",
    "CalendarOverrides",
    "DailySchedule",
    "DayIndex",
    "DaysOff",
    "OverridesError",
    "Period",
    "WorkingCalendar",
    "load_overrides",
    "parse_overrides",
    "shipped_overrides",
    "vietnam_calendar",
    "vietnam_days_off",
]
