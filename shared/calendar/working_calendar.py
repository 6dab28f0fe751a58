"""Working time: add and measure working minutes, hours and days between aware instants.

Every working day is numbered once, up front, for a range of years (2015–2040 by default,
extended ten years at a time when an instant falls outside it). An instant is then a number
of working minutes since the start of the range — ``bisect`` over the working days plus a
table lookup inside the day — and a deadline is the inverse of that number, so one deadline
costs a few microseconds whatever its length, with no loop over days.

Conventions, the same for every operation:

* Instants must be timezone-aware; results are in the calendar's time zone. Clock times are
  wall-clock times in that zone.
* Time is counted in whole minutes: an instant with seconds counts from the next whole
  minute (09:00:20 counts as 09:01), so a deadline is never earlier than its start.
* Working periods are half-open, [07:00, 11:30): 11:30 itself is not a working instant.
  Counting from an instant that is in a break, outside hours or on a day off starts at the
  next working instant.
* A deadline is the earliest instant by which the working time has elapsed, so a count that
  runs out exactly at the end of a period stays at that end (11:30, not 13:30). A deadline is
  therefore never strictly inside a break nor on a day off, but may equal a period's end.
* One working day is ``hours_per_day`` working hours (default 8): N days = N × 480 working
  minutes, whatever the periods add up to; fractions are allowed when they come to whole
  minutes (0.25 day = 120 minutes).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.calendar.days_off import DaysOff
from shared.calendar.schedule import DEFAULT_PERIODS, MINUTES_PER_DAY, DailySchedule, Period

VIETNAM_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_YEARS = (2015, 2040)
INTAKE_CUTOFF = time(15, 0)
_EXTENSION_YEARS = 10


@dataclass(frozen=True)
class DayIndex:
    """The working days (proleptic ordinals, ascending) among the days [first, end)."""

    first: int
    end: int
    ordinals: Sequence[int]

    def covers(self, ordinal: int) -> bool:
        return self.first <= ordinal < self.end


def _whole_minutes(value: float, what: str) -> int:
    if isinstance(value, int):
        return value
    minutes = round(value)
    if abs(minutes - value) > 1e-9:
        raise ValueError(f"{what} must come to whole minutes, got {value} minutes")
    return minutes


class WorkingCalendar:
    def __init__(
        self,
        days_off: DaysOff | None = None,
        *,
        periods: Sequence[Period] = DEFAULT_PERIODS,
        tz: ZoneInfo = VIETNAM_TZ,
        hours_per_day: float = 8,
        intake_cutoff: time = INTAKE_CUTOFF,
        years: tuple[int, int] = DEFAULT_YEARS,
    ) -> None:
        self.days_off = days_off or DaysOff()
        self.schedule = DailySchedule.of(periods)
        self.tz = tz
        self.minutes_per_day = _whole_minutes(hours_per_day * 60, "hours_per_day")
        if self.minutes_per_day <= 0:
            raise ValueError("hours_per_day must be positive")
        self.intake_cutoff = intake_cutoff
        first, last = years
        self._index = self._numbered(date(first, 1, 1).toordinal(), date(last + 1, 1, 1).toordinal())

    # -- days ---------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        return self.days_off.is_working_day(day)

    def is_working_instant(self, at: datetime) -> bool:
        """Whether the minute that starts at ``at`` (rounded up) is working time."""
        ordinal, minute = self._local_minute(at)
        return self.days_off.is_working_day(date.fromordinal(ordinal)) and self.schedule.is_working_minute(minute)

    def days_to_minutes(self, days: float) -> int:
        """Working minutes in ``days`` working days (N × hours_per_day × 60)."""
        return _whole_minutes(days * self.minutes_per_day, "working days")

    # -- instants -----------------------------------------------------------------------

    def next_working_instant(self, at: datetime) -> datetime:
        """``at`` itself (to the minute) if it is working time, else the next period's start."""
        return self.add_working_minutes(at, 0)

    def clock_start(self, accepted_at: datetime) -> datetime:
        """Where the clock of a dossier accepted at ``accepted_at`` starts: the next working
        instant, or the next working day's opening when accepted after the intake cutoff
        (15:00; 15:00:00 itself is not after it)."""
        local = self._local(accepted_at)
        if local.time() > self.intake_cutoff:
            next_midnight = datetime.combine(local.date() + timedelta(days=1), time(0), self.tz)
            return self.next_working_instant(next_midnight)
        return self.next_working_instant(local)

    def add_working_minutes(self, at: datetime, minutes: int) -> datetime:
        """The earliest instant by which ``minutes`` working minutes have elapsed since ``at``.

        0 gives the next working instant; a negative count goes back in working time (the
        result is still the earliest instant with that much working time before ``at``).
        """
        ordinal, minute = self._local_minute(at)
        # The next working instant is one working minute earlier than the end of the first one.
        lead = 1 if minutes == 0 else 0
        while True:
            index = self._covering(ordinal, ordinal)
            target = self._elapsed(index, ordinal, minute) + minutes + lead
            days, offset = divmod(target - 1, self.schedule.minutes)
            if days < 0:
                self._extend_back()
            elif days >= len(index.ordinals):
                self._extend_forward()
            else:
                return self._instant(index.ordinals[days], self.schedule.clock_at[offset + 1] - lead)

    def add_working_hours(self, at: datetime, hours: float) -> datetime:
        return self.add_working_minutes(at, _whole_minutes(hours * 60, "working hours"))

    def add_working_days(self, at: datetime, days: float) -> datetime:
        """``days`` × hours_per_day working hours after ``at`` (see the module's conventions)."""
        return self.add_working_minutes(at, self.days_to_minutes(days))

    def working_minutes_between(self, start: datetime, end: datetime) -> int:
        """Working minutes from ``start`` to ``end``; negative when ``end`` is earlier."""
        start_ordinal, start_minute = self._local_minute(start)
        end_ordinal, end_minute = self._local_minute(end)
        index = self._covering(min(start_ordinal, end_ordinal), max(start_ordinal, end_ordinal))
        return self._elapsed(index, end_ordinal, end_minute) - self._elapsed(index, start_ordinal, start_minute)

    def add_calendar_days(self, at: datetime, days: int) -> datetime:
        """Deadline of a time limit in calendar days: the local date ``days`` days after
        ``at``'s or, when that date is a day off, the next working day (Civil Code 2015,
        art. 147–148: the first day is not counted; a limit ending on a day off ends with the
        next working day). The time is the close of working hours (17:00) rather than the Civil
        Code's midnight, because the result is handed over at the counter."""
        ordinal = self._local(at).toordinal() + days
        while True:
            index = self._covering(ordinal, ordinal)
            position = bisect_left(index.ordinals, ordinal)
            if position < len(index.ordinals):
                return self._instant(index.ordinals[position], self.schedule.closing)
            self._extend_forward()

    # -- the index ------------------------------------------------------------------------

    def index_covering(self, first_ordinal: int, last_ordinal: int) -> DayIndex:
        """The numbered working days, extended if needed to cover both ordinals."""
        return self._covering(first_ordinal, last_ordinal)

    def extend_forward(self) -> None:
        self._extend_forward()

    def extend_back(self) -> None:
        self._extend_back()

    def fixed_utc_offset_minutes(self) -> int | None:
        """The zone's UTC offset in minutes if it is the same all over the numbered years."""
        first, end = date.fromordinal(self._index.first).year, date.fromordinal(self._index.end).year
        offsets = {
            datetime(year, month, 1, tzinfo=self.tz).utcoffset() for year in range(first, end + 1) for month in (1, 7)
        }
        if len(offsets) != 1:
            return None
        (offset,) = offsets
        return None if offset is None else _whole_minutes(offset.total_seconds() / 60, "the UTC offset")

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"a naive datetime is not an instant: {at!r}; give it a time zone")
        return at.astimezone(self.tz)

    def _local_minute(self, at: datetime) -> tuple[int, int]:
        local = self._local(at)
        ordinal = local.toordinal()
        minute = local.hour * 60 + local.minute
        if local.second or local.microsecond:
            minute += 1
            if minute == MINUTES_PER_DAY:
                return ordinal + 1, 0
        return ordinal, minute

    def _elapsed(self, index: DayIndex, ordinal: int, minute: int) -> int:
        """Working minutes from the start of ``index`` to the given local minute."""
        days = bisect_left(index.ordinals, ordinal)
        elapsed = days * self.schedule.minutes
        if days < len(index.ordinals) and index.ordinals[days] == ordinal:
            elapsed += self.schedule.worked_by[minute]
        return elapsed

    def _instant(self, ordinal: int, minute: int) -> datetime:
        day = date.fromordinal(ordinal)
        return datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.tz)

    def _numbered(self, first: int, end: int) -> DayIndex:
        is_working = self.days_off.is_working_day
        ordinals = [o for o in range(first, end) if is_working(date.fromordinal(o))]
        return DayIndex(first, end, tuple(ordinals))

    def _covering(self, first_ordinal: int, last_ordinal: int) -> DayIndex:
        while not self._index.covers(first_ordinal):
            self._extend_back()
        while not self._index.covers(last_ordinal):
            self._extend_forward()
        return self._index

    def _extend_forward(self) -> None:
        index = self._index
        end = date.fromordinal(index.end)
        added = self._numbered(index.end, end.replace(year=end.year + _EXTENSION_YEARS).toordinal())
        self._index = DayIndex(index.first, added.end, (*index.ordinals, *added.ordinals))

    def _extend_back(self) -> None:
        index = self._index
        first = date.fromordinal(index.first)
        added = self._numbered(first.replace(year=first.year - _EXTENSION_YEARS).toordinal(), index.first)
        self._index = DayIndex(added.first, index.end, (*added.ordinals, *index.ordinals))
