"""The working periods of one working day, as lookup tables over the minutes of a day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import time

MINUTES_PER_DAY = 24 * 60

Period = tuple[time, time]

DEFAULT_PERIODS: tuple[Period, ...] = ((time(7, 0), time(11, 30)), (time(13, 30), time(17, 0)))


def _minute_of_day(t: time) -> int:
    if t.second or t.microsecond:
        raise ValueError(f"working periods are whole minutes, got {t}")
    return t.hour * 60 + t.minute


@dataclass(frozen=True)
class DailySchedule:
    """Working periods of a working day, each half-open: [start, end).

    ``worked_by[m]`` is the working time (minutes) of the day before clock minute ``m``
    (0 ≤ m ≤ 1440); ``clock_at[r]`` is the earliest clock minute by which ``r`` working
    minutes of the day have elapsed (1 ≤ r ≤ ``minutes``), so a count that is used up exactly
    at the end of a period stops at that end (11:30), not at the next start (13:30).
    """

    periods: tuple[tuple[int, int], ...]
    worked_by: tuple[int, ...] = field(repr=False)
    clock_at: tuple[int, ...] = field(repr=False)

    @classmethod
    def of(cls, periods: Sequence[Period] = DEFAULT_PERIODS) -> DailySchedule:
        spans = tuple((_minute_of_day(start), _minute_of_day(end)) for start, end in periods)
        if not spans:
            raise ValueError("a working day needs at least one working period")
        previous_end = 0
        for start, end in spans:
            if not previous_end <= start < end:
                raise ValueError(f"working periods must be ordered, non-empty and disjoint: {periods}")
            previous_end = end
        worked_by = [0] * (MINUTES_PER_DAY + 1)
        clock_at = [0]
        for minute in range(MINUTES_PER_DAY):
            working = any(start <= minute < end for start, end in spans)
            worked_by[minute + 1] = worked_by[minute] + working
            if working:
                clock_at.append(minute + 1)
        return cls(spans, tuple(worked_by), tuple(clock_at))

    @property
    def minutes(self) -> int:
        """Working minutes in one working day's periods (480 for the defaults)."""
        return self.worked_by[MINUTES_PER_DAY]

    @property
    def opening(self) -> int:
        return self.periods[0][0]

    @property
    def closing(self) -> int:
        return self.periods[-1][1]

    def is_working_minute(self, minute: int) -> bool:
        return self.worked_by[minute + 1] > self.worked_by[minute]
