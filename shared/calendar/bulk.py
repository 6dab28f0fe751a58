"""Deadlines for whole arrays at once (numpy, imported here only: the calendar itself needs
none). Same conventions as ``WorkingCalendar``; instants are numpy ``datetime64`` values in
UTC and results are ``datetime64[m]`` in UTC. Needs a zone with a fixed UTC offset
(Asia/Ho_Chi_Minh has had +07:00 since 1975)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.calendar.schedule import MINUTES_PER_DAY
from shared.calendar.working_calendar import WorkingCalendar

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_UNIX_EPOCH_ORDINAL = 719_163
_MICROSECONDS_PER_MINUTE = 60_000_000
_COARSE_UNITS = {"Y", "M", "W", "D", "h", "m"}


def add_working_minutes_bulk(
    calendar: WorkingCalendar, instants: npt.ArrayLike, minutes: npt.ArrayLike
) -> npt.NDArray[np.datetime64]:
    import numpy as np

    offset = calendar.fixed_utc_offset_minutes()
    if offset is None:
        raise ValueError(f"the bulk path needs a fixed UTC offset; {calendar.tz} has several")
    local = _ceil_minutes(np.asarray(instants))
    count = np.broadcast_to(np.asarray(minutes, dtype=np.int64), local.shape)
    if local.size == 0:
        return np.empty(local.shape, dtype="datetime64[m]")
    local += offset
    day, minute = np.divmod(local, MINUTES_PER_DAY)
    schedule = calendar.schedule
    worked_by = np.asarray(schedule.worked_by, dtype=np.int64)
    clock_at = np.asarray(schedule.clock_at[1:], dtype=np.int64)
    zero = count == 0
    while True:
        index = calendar.index_covering(int(day.min()) + _UNIX_EPOCH_ORDINAL, int(day.max()) + _UNIX_EPOCH_ORDINAL)
        working_days = np.asarray(index.ordinals, dtype=np.int64) - _UNIX_EPOCH_ORDINAL
        first_day = index.first - _UNIX_EPOCH_ORDINAL
        # Per calendar day: working minutes before it, times two, plus one if it is worked.
        is_worked = np.zeros(index.end - index.first, dtype=np.int64)
        is_worked[working_days - first_day] = 1
        day_code = (np.cumsum(is_worked) - is_worked) * (2 * schedule.minutes) + is_worked
        code = day_code[day - first_day]
        # The next working instant (count 0) is one minute before the end of the next working minute.
        target = worked_by[minute]
        target *= code & 1
        target += code >> 1
        target += count
        target += zero
        target -= 1
        nth_day, into_day = np.divmod(target, schedule.minutes)
        if nth_day.min() < 0:
            calendar.extend_back()
        elif nth_day.max() >= working_days.size:
            calendar.extend_forward()
        else:
            result = (working_days * MINUTES_PER_DAY - offset)[nth_day]
            result += clock_at[into_day]
            result -= zero
            return result.astype("datetime64[m]")


def _ceil_minutes(instants: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Whole minutes since 1970 (UTC), rounded up."""
    import numpy as np

    if instants.dtype.kind != "M":
        raise TypeError(f"instants must be numpy datetime64 values, got {instants.dtype}")
    unit, _ = np.datetime_data(instants.dtype)
    if unit in _COARSE_UNITS:
        return instants.astype("datetime64[m]").astype(np.int64)
    seconds = unit == "s"
    ticks = instants.astype("datetime64[s]" if seconds else "datetime64[us]").astype(np.int64)
    per_minute = 60 if seconds else _MICROSECONDS_PER_MINUTE
    return -((-ticks) // per_minute)


def add_working_days_bulk(
    calendar: WorkingCalendar, instants: npt.ArrayLike, days: npt.ArrayLike
) -> npt.NDArray[np.datetime64]:
    """``days`` × hours_per_day working hours after each instant; whole minutes only."""
    import numpy as np

    minutes = np.asarray(days) * calendar.minutes_per_day
    whole = np.rint(minutes).astype(np.int64)
    if not np.allclose(minutes, whole, rtol=0, atol=1e-9):
        raise ValueError("working days must come to whole minutes")
    return add_working_minutes_bulk(calendar, instants, whole)
