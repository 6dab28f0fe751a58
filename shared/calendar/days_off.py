"""Which dates are days off: weekends and public holidays, then the yearly overrides, which win."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import date

SATURDAY_SUNDAY = frozenset({5, 6})


@dataclass(frozen=True)
class DaysOff:
    """``holidays`` is anything that answers ``in`` for a date — a set, or a ``holidays``
    package calendar, which computes each year (lunar dates included) on first use.
    ``working_days`` (swapped Saturdays) are worked whatever the other rules say;
    ``extra_days_off`` are off whatever the weekday.
    """

    holidays: Container[date] = frozenset()
    extra_days_off: frozenset[date] = frozenset()
    working_days: frozenset[date] = frozenset()
    weekend: frozenset[int] = SATURDAY_SUNDAY

    def __post_init__(self) -> None:
        both = self.extra_days_off & self.working_days
        if both:
            raise ValueError(f"dates both off and worked: {sorted(both)}")

    def is_working_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        if day in self.extra_days_off:
            return False
        return day.weekday() not in self.weekend and day not in self.holidays
