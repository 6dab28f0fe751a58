"""A deployment's calendar from its settings: working periods and cutoff as text, or round the clock."""

from __future__ import annotations

from datetime import datetime, time

import pytest
from pydantic import ValidationError

from shared.calendar import VIETNAM_TZ
from shared.calendar.configured import configured_calendar, parse_periods
from shared.settings import ServiceSettings


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VIETNAM_TZ)


def test_the_default_periods_are_the_provinces() -> None:
    assert parse_periods("07:00-11:30,13:30-17:00") == ((time(7), time(11, 30)), (time(13, 30), time(17)))
    calendar = ServiceSettings().working_calendar(None)
    assert calendar.schedule.minutes == 480
    # Friday 16:00 plus two working hours: Monday 08:00.
    assert calendar.add_working_minutes(vn(2026, 12, 4, 16), 120) == vn(2026, 12, 7, 8)


def test_a_province_with_other_hours_and_cutoff() -> None:
    calendar = ServiceSettings(working_periods="07:30-11:30,13:00-17:00", intake_cutoff="16:00").working_calendar(None)
    assert calendar.schedule.minutes == 480
    assert calendar.clock_start(vn(2026, 12, 3, 15, 30)) == vn(2026, 12, 3, 15, 30)
    assert calendar.clock_start(vn(2026, 12, 3, 16, 30)) == vn(2026, 12, 4, 7, 30)


def test_round_the_clock_works_on_a_sunday_night() -> None:
    calendar = configured_calendar(None, round_the_clock=True)
    sunday_night = vn(2026, 12, 6, 23, 0)
    assert calendar.is_working_instant(sunday_night)
    assert calendar.clock_start(sunday_night) == sunday_night
    assert calendar.add_working_minutes(sunday_night, 30) == vn(2026, 12, 6, 23, 30)
    # Tết is worked too: a drill, not a deadline.
    assert calendar.is_working_day(datetime(2026, 2, 17).date())


@pytest.mark.parametrize(
    "field, value",
    [
        ("working_periods", "7-11"),
        ("working_periods", "13:30-17:00,07:00-11:30"),
        ("working_periods", "07:00-07:00"),
        ("intake_cutoff", "3pm"),
    ],
)
def test_bad_periods_or_cutoff_stop_the_service(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        ServiceSettings.model_validate({field: value})
